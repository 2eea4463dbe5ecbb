"""an office's co-routed problems are read one campaign at a time

problem_co_office was keyed by office code alone: an office's ledger, dashboard and counts
read that code's co-routed rows of every campaign on the database, then dropped the other
campaigns' through the problem. On a city's database (ten counties, issue 17 item 6) an
office's gathered ledger page read 46,368 rows to keep 5,859, 282 ms, and grew with every
other county's 排查; a county's later campaigns would do the same to its earlier ones. The
row now carries its problem's campaign, and the index leads with it.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('problem_co_office', sa.Column('campaign_id', sa.Integer(), nullable=True))
    op.execute("UPDATE problem_co_office SET campaign_id = (SELECT problem.campaign_id "
               "FROM problem WHERE problem.id = problem_co_office.problem_id)")
    with op.batch_alter_table('problem_co_office') as batch_op:
        batch_op.alter_column('campaign_id', existing_type=sa.Integer(), nullable=False)
    op.create_index('ix_problem_co_office_campaign_office_problem', 'problem_co_office',
                    ['campaign_id', 'office_code', 'problem_id'])
    op.drop_index('ix_problem_co_office_office_problem', table_name='problem_co_office')


def downgrade() -> None:
    op.create_index('ix_problem_co_office_office_problem', 'problem_co_office',
                    ['office_code', 'problem_id'])
    op.drop_index('ix_problem_co_office_campaign_office_problem',
                  table_name='problem_co_office')
    with op.batch_alter_table('problem_co_office') as batch_op:
        batch_op.drop_column('campaign_id')
