"""the reminder ladder restarts per deadline cycle and records rungs skipped after downtime

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing problems are in their first cycle; the rungs recorded so far belong to it.
    with op.batch_alter_table('problem') as batch_op:
        batch_op.add_column(sa.Column('deadline_cycle', sa.Integer(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('reminder_fired') as batch_op:
        batch_op.add_column(sa.Column('cycle', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('skipped_reason', sa.String(length=200), nullable=True))
        batch_op.drop_constraint('uq_reminder_fired_problem_id_rung_code', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_reminder_fired_problem_id_cycle_rung_code'),
            ['problem_id', 'cycle', 'rung_code'])


def downgrade() -> None:
    # Rungs of later cycles would break the old one-per-rung constraint: keep the first cycle.
    op.execute("DELETE FROM reminder_fired WHERE cycle > 0")
    with op.batch_alter_table('reminder_fired') as batch_op:
        batch_op.drop_constraint('uq_reminder_fired_problem_id_cycle_rung_code', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_reminder_fired_problem_id_rung_code'), ['problem_id', 'rung_code'])
        batch_op.drop_column('skipped_reason')
        batch_op.drop_column('cycle')
    with op.batch_alter_table('problem') as batch_op:
        batch_op.drop_column('deadline_cycle')
