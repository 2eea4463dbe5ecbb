"""phone visits (issue 18): the phone's additions to a visit, its photos and signatures, the
problems it revealed, and the history of household facts

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:21:24.857285
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('field_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=50), nullable=False),
    sa.Column('recorded_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('visited_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('received_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('clock_offset_seconds', sa.Integer(), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_field_visit_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_field_visit_visit_id_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_field_visit')),
    sa.UniqueConstraint('campaign_id', 'client_id', name=op.f('uq_field_visit_campaign_id_client_id')),
    sa.UniqueConstraint('visit_id', name=op.f('uq_field_visit_visit_id'))
    )
    op.create_table('field_visit_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('field_visit_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('taken_at', models.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_field_visit_file_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['field_visit_id'], ['field_visit.id'], name=op.f('fk_field_visit_file_field_visit_id_field_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_field_visit_file')),
    sa.UniqueConstraint('campaign_id', 'client_id', name=op.f('uq_field_visit_file_campaign_id_client_id'))
    )
    with op.batch_alter_table('field_visit_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_visit_file_field_visit_id'), ['field_visit_id'], unique=False)

    op.create_table('field_visit_problem',
    sa.Column('field_visit_id', sa.Integer(), nullable=False),
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['field_visit_id'], ['field_visit.id'], name=op.f('fk_field_visit_problem_field_visit_id_field_visit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['problem_id'], ['problem.id'], name=op.f('fk_field_visit_problem_problem_id_problem'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('field_visit_id', 'problem_id', name=op.f('pk_field_visit_problem'))
    )
    with op.batch_alter_table('field_visit_problem', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_visit_problem_problem_id'), ['problem_id'], unique=False)

    op.create_table('household_fact_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.String(length=50), nullable=False),
    sa.Column('fact', sa.String(length=80), nullable=False),
    sa.Column('old_value', sa.JSON(), nullable=True),
    sa.Column('new_value', sa.JSON(), nullable=True),
    sa.Column('changed_by', sa.String(length=50), nullable=False),
    sa.Column('changed_at', models.types.UTCDateTime(), nullable=False),
    sa.Column('field_visit_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_household_fact_change_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['field_visit_id'], ['field_visit.id'], name=op.f('fk_household_fact_change_field_visit_id_field_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_fact_change'))
    )
    with op.batch_alter_table('household_fact_change', schema=None) as batch_op:
        batch_op.create_index('ix_household_fact_change_household', ['campaign_id', 'household_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('household_fact_change', schema=None) as batch_op:
        batch_op.drop_index('ix_household_fact_change_household')

    op.drop_table('household_fact_change')
    with op.batch_alter_table('field_visit_problem', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_field_visit_problem_problem_id'))

    op.drop_table('field_visit_problem')
    with op.batch_alter_table('field_visit_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_field_visit_file_field_visit_id'))

    op.drop_table('field_visit_file')
    op.drop_table('field_visit')
