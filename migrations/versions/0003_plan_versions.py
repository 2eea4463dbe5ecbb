"""a campaign's plan is kept as numbered versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('plan_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'],
                            name=op.f('fk_plan_version_campaign_id_campaign'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_version')),
    sa.UniqueConstraint('campaign_id', 'version', name=op.f('uq_plan_version_campaign_id'))
    )
    # Every campaign launched so far becomes version 1 of its own plan.
    op.execute(
        "INSERT INTO plan_version (campaign_id, version, plan, source, created_at, created_by, note)"
        " SELECT id, 1, plan, plan_source, launched_at, launched_by, '' FROM campaign"
    )
    # Plain ALTER TABLE, never a batch copy: SQLite would drop and recreate `campaign`, and with
    # foreign keys on, dropping it deletes every stage, town, office and problem by cascade.
    op.add_column('campaign', sa.Column('plan_version', sa.Integer(), nullable=False,
                                        server_default='1'))
    op.drop_column('campaign', 'plan')
    op.drop_column('campaign', 'plan_source')


def downgrade() -> None:
    op.add_column('campaign', sa.Column('plan', sa.JSON(), nullable=False, server_default='{}'))
    op.add_column('campaign', sa.Column('plan_source', sa.Text(), nullable=False,
                                        server_default=''))
    # The version in force goes back into the campaign row.
    op.execute(
        "UPDATE campaign SET"
        " plan = (SELECT p.plan FROM plan_version p WHERE p.campaign_id = campaign.id"
        " AND p.version = campaign.plan_version),"
        " plan_source = (SELECT p.source FROM plan_version p WHERE p.campaign_id = campaign.id"
        " AND p.version = campaign.plan_version)"
    )
    op.drop_column('campaign', 'plan_version')
    op.drop_table('plan_version')
