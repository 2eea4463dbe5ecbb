"""a stage may have no end (seed 004's 驻点督查, "适时调整"): campaign_stage.end is nullable

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('campaign_stage') as batch_op:
        batch_op.alter_column('end', existing_type=sa.Date(), nullable=True)


def downgrade() -> None:
    # An open-ended stage gets its start as its end: the only date it has.
    op.execute('UPDATE campaign_stage SET "end" = start WHERE "end" IS NULL')
    with op.batch_alter_table('campaign_stage') as batch_op:
        batch_op.alter_column('end', existing_type=sa.Date(), nullable=False)
