"""a town's ledger sorted by date found or by last move walks an index of its own

A town (or a filter on one) sorted by 发现日期 or 最近办理 walked the campaign's whole date
index and checked the town on each row: tens of thousands of rows read for a page of 50
(issue 17, item 4). Like the deadline and code orders, these two now have a per-town index.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_problem_campaign_town_found_on', 'problem',
                    ['campaign_id', 'town_code', 'found_on', 'id'])
    op.create_index('ix_problem_campaign_town_updated_at', 'problem',
                    ['campaign_id', 'town_code', 'updated_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_problem_campaign_town_updated_at', table_name='problem')
    op.drop_index('ix_problem_campaign_town_found_on', table_name='problem')
