"""recurring duty occurrences and problem milestones

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:07:25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('duty_occurrence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('duty_code', sa.String(length=80), nullable=False),
    sa.Column('office_code', sa.String(length=80), nullable=False),
    sa.Column('town_code', sa.String(length=50), nullable=False),
    sa.Column('village_code', sa.String(length=50), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=True),
    sa.Column('done_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('done_by', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_duty_occurrence_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_occurrence')),
    sa.UniqueConstraint('campaign_id', 'duty_code', 'office_code', 'village_code', 'day', name=op.f('uq_duty_occurrence_campaign_id_duty_code_office_code_village_code_day'))
    )
    with op.batch_alter_table('duty_occurrence', schema=None) as batch_op:
        batch_op.create_index('ix_duty_occurrence_campaign_office', ['campaign_id', 'office_code', 'status'], unique=False)
        batch_op.create_index('ix_duty_occurrence_campaign_status_due', ['campaign_id', 'status', 'due_on'], unique=False)

    op.create_table('duty_reminder_fired',
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('rung_code', sa.String(length=50), nullable=False),
    sa.Column('fired_on', sa.Date(), nullable=False),
    sa.Column('fired_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['duty_occurrence.id'], name=op.f('fk_duty_reminder_fired_occurrence_id_duty_occurrence'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('occurrence_id', 'rung_code', name=op.f('pk_duty_reminder_fired'))
    )
    op.create_table('milestone_reminder_fired',
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('milestone_code', sa.String(length=80), nullable=False),
    sa.Column('rung_code', sa.String(length=50), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('fired_on', sa.Date(), nullable=False),
    sa.Column('fired_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_milestone_reminder_fired_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['problem_id'], ['problem.id'], name=op.f('fk_milestone_reminder_fired_problem_id_problem'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('problem_id', 'milestone_code', 'rung_code', name=op.f('pk_milestone_reminder_fired'))
    )
    with op.batch_alter_table('milestone_reminder_fired', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_milestone_reminder_fired_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('problem_milestone',
    sa.Column('problem_id', sa.Integer(), nullable=False),
    sa.Column('milestone_code', sa.String(length=80), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('reached_on', sa.Date(), nullable=False),
    sa.Column('reached_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('reached_by', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['problem_id'], ['problem.id'], name=op.f('fk_problem_milestone_problem_id_problem'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('problem_id', 'milestone_code', name=op.f('pk_problem_milestone'))
    )


def downgrade() -> None:
    op.drop_table('problem_milestone')
    with op.batch_alter_table('milestone_reminder_fired', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_milestone_reminder_fired_campaign_id'))

    op.drop_table('milestone_reminder_fired')
    op.drop_table('duty_reminder_fired')
    with op.batch_alter_table('duty_occurrence', schema=None) as batch_op:
        batch_op.drop_index('ix_duty_occurrence_campaign_status_due')
        batch_op.drop_index('ix_duty_occurrence_campaign_office')

    op.drop_table('duty_occurrence')
