"""a campaign closes (总结) and may be reopened: its status and its events

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 08:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False,
                                      server_default='running'))
        batch_op.add_column(sa.Column('closed_at', models.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('closed_by', sa.String(length=100), nullable=True))
    op.create_table('campaign_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', models.base.UTCDateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_event_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_event'))
    )
    op.create_index(op.f('ix_campaign_event_campaign_id'), 'campaign_event', ['campaign_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_campaign_event_campaign_id'), table_name='campaign_event')
    op.drop_table('campaign_event')
    with op.batch_alter_table('campaign') as batch_op:
        batch_op.drop_column('closed_by')
        batch_op.drop_column('closed_at')
        batch_op.drop_column('status')
