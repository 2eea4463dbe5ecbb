"""kept counts shared by the web server's processes

Each web worker process counted the campaign's ledger cube (and the co-office cubes of the
offices others co-route to) every `cache_seconds` on its own: with two workers, twice
(issue 17, item 4). One process now counts and stores the copy here; the others read it
while it is young (services/views/kept.py).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'kept_count',
        sa.Column('key', sa.String(length=300), nullable=False),
        sa.Column('counted_at', sa.Float(), nullable=False),
        sa.Column('payload', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_kept_count')),
    )


def downgrade() -> None:
    op.drop_table('kept_count')
