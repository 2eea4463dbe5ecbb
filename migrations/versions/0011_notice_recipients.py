"""notices to co-offices (own notices and 抄送) and rolling rounds for late problems

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows written before co-offices had notices were all listed for the notice's addressee.
    with op.batch_alter_table('notice_problem') as batch_op:
        batch_op.add_column(sa.Column('office_code', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('co_office', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute(
        "UPDATE notice_problem SET office_code = "
        "(SELECT notice.office_code FROM notice WHERE notice.id = notice_problem.notice_id)"
    )
    with op.batch_alter_table('notice_problem') as batch_op:
        batch_op.alter_column('office_code', existing_type=sa.String(length=80), nullable=False)
        batch_op.alter_column('co_office', server_default=None)
        batch_op.drop_constraint('uq_notice_problem_problem_id_kind', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_notice_problem_problem_id_kind_office_code'),
            ['problem_id', 'kind', 'office_code'])
    op.create_table(
        'notice_copy',
        sa.Column('notice_id', sa.Integer(), nullable=False),
        sa.Column('office_code', sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(['notice_id'], ['notice.id'],
                                name=op.f('fk_notice_copy_notice_id_notice'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('notice_id', 'office_code', name=op.f('pk_notice_copy')),
    )
    with op.batch_alter_table('notice_copy') as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_copy_office_code'), ['office_code'],
                              unique=False)
    op.create_table(
        'notice_round',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('round_key', sa.String(length=30), nullable=False),
        sa.Column('ran_at', models.base.UTCDateTime(), nullable=False),
        sa.Column('notices', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'],
                                name=op.f('fk_notice_round_campaign_id_campaign'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_round')),
        sa.UniqueConstraint('campaign_id', 'round_key',
                            name=op.f('uq_notice_round_campaign_id_round_key')),
    )


def downgrade() -> None:
    op.drop_table('notice_round')
    with op.batch_alter_table('notice_copy') as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_copy_office_code'))
    op.drop_table('notice_copy')
    op.execute("DELETE FROM notice_problem WHERE co_office")
    with op.batch_alter_table('notice_problem') as batch_op:
        batch_op.drop_constraint('uq_notice_problem_problem_id_kind_office_code', type_='unique')
        batch_op.create_unique_constraint('uq_notice_problem_problem_id_kind',
                                          ['problem_id', 'kind'])
        batch_op.drop_column('co_office')
        batch_op.drop_column('office_code')
