"""a failed household or village spot check records the problem it found

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('spot_check') as batch_op:
        batch_op.add_column(sa.Column('raised_problem_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_spot_check_raised_problem_id_problem'), 'problem',
                                    ['raised_problem_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('spot_check') as batch_op:
        batch_op.drop_constraint(op.f('fk_spot_check_raised_problem_id_problem'),
                                 type_='foreignkey')
        batch_op.drop_column('raised_problem_id')
