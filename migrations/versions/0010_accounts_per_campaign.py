"""office, town and village accounts belong to a campaign; explicit grants across campaigns

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 08:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Existing accounts are bound to the one campaign whose unit has their code; an account whose
# code is in several campaigns (or none) stays unbound and acts nowhere until bound or granted.
BIND = {
    'office': ('office', 'office_code'),
    'town': ('town', 'town_code'),
    'village': ('village', 'village_code'),
}


def upgrade() -> None:
    with op.batch_alter_table('app_user') as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('all_campaigns', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.create_foreign_key(op.f('fk_app_user_campaign_id_campaign'), 'campaign',
                                    ['campaign_id'], ['id'], ondelete='SET NULL')
    op.create_table('user_campaign_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('granted_by', sa.String(length=100), nullable=False),
    sa.Column('granted_at', models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_user_campaign_grant_campaign_id_campaign'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_campaign_grant_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_campaign_grant')),
    sa.UniqueConstraint('user_id', 'campaign_id', name=op.f('uq_user_campaign_grant_user_id_campaign_id'))
    )
    for role, (table, column) in BIND.items():
        op.execute(sa.text(
            f"UPDATE app_user SET campaign_id = (SELECT MIN(u.campaign_id) FROM {table} u "
            f"WHERE u.code = app_user.{column}) "
            f"WHERE role = '{role}' AND (SELECT COUNT(DISTINCT u.campaign_id) FROM {table} u "
            f"WHERE u.code = app_user.{column}) = 1"))


def downgrade() -> None:
    op.drop_table('user_campaign_grant')
    with op.batch_alter_table('app_user') as batch_op:
        batch_op.drop_constraint(op.f('fk_app_user_campaign_id_campaign'), type_='foreignkey')
        batch_op.drop_column('all_campaigns')
        batch_op.drop_column('campaign_id')
