"""an office's ledger sorted by date found or by last move walks an index of its own

An office (or a filter on one) sorted by 发现日期 or 最近办理 walked the campaign's whole date
index and checked the lead office on each row: for a page deep in the list, thousands of
rows read at random for 50 (issue 17, item 4). Like the deadline order, these two now have a
per-office index (a town's got theirs in 0023).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_problem_campaign_lead_found_on', 'problem',
                    ['campaign_id', 'lead_office', 'found_on', 'id'])
    op.create_index('ix_problem_campaign_lead_updated_at', 'problem',
                    ['campaign_id', 'lead_office', 'updated_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_problem_campaign_lead_updated_at', table_name='problem')
    op.drop_index('ix_problem_campaign_lead_found_on', table_name='problem')
