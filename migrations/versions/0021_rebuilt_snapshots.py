"""daily_snapshot.rebuilt: days without a report, rebuilt once for the trend chart

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('daily_snapshot') as batch_op:
        batch_op.add_column(sa.Column('rebuilt', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('daily_snapshot') as batch_op:
        batch_op.drop_column('rebuilt')
