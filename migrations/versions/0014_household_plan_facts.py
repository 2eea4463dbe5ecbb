"""the household facts a plan defines (household.fields) are kept on each household

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing households get no plan facts: the plans they were imported under defined none.
    with op.batch_alter_table('household') as batch_op:
        batch_op.add_column(sa.Column('facts', sa.JSON(), nullable=False,
                                      server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table('household') as batch_op:
        batch_op.drop_column('facts')
