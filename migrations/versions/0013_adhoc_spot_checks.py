"""a spot check made outside the daily draw (不定期抽查) belongs to no draw

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('spot_check') as batch_op:
        batch_op.alter_column('draw_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM spot_check WHERE draw_id IS NULL")
    with op.batch_alter_table('spot_check') as batch_op:
        batch_op.alter_column('draw_id', existing_type=sa.Integer(), nullable=False)
