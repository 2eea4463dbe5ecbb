"""notice.list_path/list_sha256/list_size: a long 督办通知书's full list as an .xlsx

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('notice') as batch_op:
        batch_op.add_column(sa.Column('list_path', sa.String(500), nullable=True))
        batch_op.add_column(sa.Column('list_sha256', sa.String(64), nullable=True))
        batch_op.add_column(sa.Column('list_size', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notice') as batch_op:
        batch_op.drop_column('list_size')
        batch_op.drop_column('list_sha256')
        batch_op.drop_column('list_path')
