"""households per village kept beside the register

The daily spot-check draw counted each village's households from the register's index: an
index scan that grew with the register (0.3 s on SQLite, 0.8 s on PostgreSQL at 3,000,000
households, issue 17 item 5), every working day of the review stage. The intake now
recounts them into this table in the register write's own transaction, and the draw reads
one row per village. Filled here from the registers already imported.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0028'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'village_households',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('town_code', sa.String(length=50), nullable=False),
        sa.Column('village_code', sa.String(length=50), nullable=False),
        sa.Column('households', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'],
                                name=op.f('fk_village_households_campaign_id_campaign'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('campaign_id', 'town_code', 'village_code',
                                name=op.f('pk_village_households')),
    )
    op.execute("INSERT INTO village_households (campaign_id, town_code, village_code, households) "
               "SELECT campaign_id, town_code, village_code, count(*) FROM household "
               "GROUP BY campaign_id, town_code, village_code")


def downgrade() -> None:
    op.drop_table('village_households')
