"""a frozen 月考评's 文号 (issue 16): taken from the document number register when it is frozen

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('monthly_ranking') as batch_op:
        batch_op.add_column(sa.Column('number', sa.String(length=50), server_default='',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('monthly_ranking') as batch_op:
        batch_op.drop_column('number')
