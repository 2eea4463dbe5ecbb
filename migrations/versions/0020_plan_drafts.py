"""plan drafts the county office writes in the web editor, each save a numbered version

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'plan_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('office', sa.String(length=100), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('origin', sa.String(length=200), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('launched_campaign_id', sa.Integer(), nullable=True),
        sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'],
                                name=op.f('fk_plan_draft_campaign_id_campaign'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['launched_campaign_id'], ['campaign.id'],
                                name=op.f('fk_plan_draft_launched_campaign_id_campaign'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_draft')),
    )
    with op.batch_alter_table('plan_draft') as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_draft_office'), ['office'], unique=False)
    op.create_table(
        'plan_draft_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('draft_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('saved_at', models.base.UTCDateTime(), nullable=False),
        sa.Column('saved_by', sa.String(length=100), nullable=False),
        sa.Column('note', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(['draft_id'], ['plan_draft.id'],
                                name=op.f('fk_plan_draft_version_draft_id_plan_draft'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_draft_version')),
        sa.UniqueConstraint('draft_id', 'version',
                            name=op.f('uq_plan_draft_version_draft_id_version')),
    )


def downgrade() -> None:
    op.drop_table('plan_draft_version')
    with op.batch_alter_table('plan_draft') as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_draft_office'))
    op.drop_table('plan_draft')
