"""the household index by village also holds the town and the household id

The spot-check draw counts a village's households and finds its n-th household from the index
alone, instead of loading the register (issue 17).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_household_campaign_village', table_name='household')
    op.create_index('ix_household_campaign_village_town_id', 'household',
                    ['campaign_id', 'village_code', 'town_code', 'household_id'])


def downgrade() -> None:
    op.drop_index('ix_household_campaign_village_town_id', table_name='household')
    op.create_index('ix_household_campaign_village', 'household', ['campaign_id', 'village_code'])
