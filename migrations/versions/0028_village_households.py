"""households per village, and marks, kept beside the register

The daily spot-check draw counted each village's households from the register's index, and
found each drawn household by walking its village's index from the first (OFFSET): both grew
with the register (the draw 1.5 s on SQLite, 1.9 s on PostgreSQL at 3,000,000 households,
issue 17 item 5), every working day of the review stage. The intake now counts them, with
every 1,024th household id of a village (a mark to start a walk from), into this table in the
register write's own transaction, and the draw reads one row per village. Filled here from
the registers already imported.

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


MARK_EVERY = 1024  # models.tables.MARK_EVERY when this migration was written


def upgrade() -> None:
    table = op.create_table(
        'village_households',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('town_code', sa.String(length=50), nullable=False),
        sa.Column('village_code', sa.String(length=50), nullable=False),
        sa.Column('households', sa.Integer(), nullable=False),
        sa.Column('marks', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'],
                                name=op.f('fk_village_households_campaign_id_campaign'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('campaign_id', 'town_code', 'village_code',
                                name=op.f('pk_village_households')),
    )
    bind = op.get_bind()
    counts = {(c, t, v): n for c, t, v, n in bind.execute(sa.text(
        "SELECT campaign_id, town_code, village_code, count(*) FROM household "
        "GROUP BY campaign_id, town_code, village_code"))}
    marks: dict[tuple[int, str, str], list[str]] = {key: [] for key in counts}
    for c, t, v, h in bind.execute(sa.text(
            "SELECT campaign_id, town_code, village_code, household_id FROM ("
            " SELECT campaign_id, town_code, village_code, household_id, row_number() OVER ("
            "  PARTITION BY campaign_id, village_code, town_code ORDER BY household_id) - 1 AS rank"
            " FROM household) AS ranked WHERE rank % :every = 0"
            " ORDER BY campaign_id, village_code, town_code, rank"), {"every": MARK_EVERY}):
        marks[c, t, v].append(h)
    if counts:
        op.bulk_insert(table, [
            {"campaign_id": c, "town_code": t, "village_code": v, "households": n,
             "marks": marks[c, t, v]} for (c, t, v), n in counts.items()])


def downgrade() -> None:
    op.drop_table('village_households')
