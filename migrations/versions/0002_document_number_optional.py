"""a 文号 is unique only when a plan has one

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("document_number <> ''")


def upgrade() -> None:
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.drop_constraint('uq_campaign_document_number', type_='unique')
    op.create_index('uq_campaign_document_number_set', 'campaign', ['document_number'],
                    unique=True, sqlite_where=WHERE, postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index('uq_campaign_document_number_set', table_name='campaign')
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.create_unique_constraint('uq_campaign_document_number', ['document_number'])
