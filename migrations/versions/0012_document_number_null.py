"""a plan without a 文号 is stored as NULL, unique by a plain constraint

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:50:00

The partial unique index of 0002 needed a dialect keyword per database, and SQLAlchemy imports
each named dialect to check its keyword when the models are imported (PostgreSQL's on every
start-up). NULLs never collide in a unique constraint on SQLite or PostgreSQL, so storing "no
文号" as NULL keeps the rule with a plain constraint (models.base.EmptyAsNull reads it as "").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("document_number <> ''")


def upgrade() -> None:
    op.drop_index('uq_campaign_document_number_set', table_name='campaign')
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.alter_column('document_number', existing_type=sa.String(length=100),
                              nullable=True)
    op.execute("UPDATE campaign SET document_number = NULL WHERE document_number = ''")
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.create_unique_constraint('uq_campaign_document_number', ['document_number'])


def downgrade() -> None:
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.drop_constraint('uq_campaign_document_number', type_='unique')
    op.execute("UPDATE campaign SET document_number = '' WHERE document_number IS NULL")
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.alter_column('document_number', existing_type=sa.String(length=100),
                              nullable=False)
    op.create_index('uq_campaign_document_number_set', 'campaign', ['document_number'],
                    unique=True, sqlite_where=WHERE, postgresql_where=WHERE)
