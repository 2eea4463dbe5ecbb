"""a spot check may belong to a further household draw with its own purpose (seed 004: 专班排查入户)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('spot_check') as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=100), nullable=False,
                                      server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('spot_check') as batch_op:
        batch_op.drop_column('purpose')
