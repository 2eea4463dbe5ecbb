"""Reading a campaign's stored plan versions through the Core tables (no ORM needed).

`campaigns.load_plan_of` caches the decoded plan per transaction in the session; a read that
has no session (`duban problem list`'s names) decodes it here through the unit's connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from duban.adapters.plan.codec import decode_plan
from duban.domain.errors import NotFound
from duban.domain.plan import Plan
from models.tables import campaign, plan_version

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def plan_version_of(db: Session | Connection, campaign_id: int) -> int:
    """The number of the plan version a campaign runs on (one small query, nothing decoded)."""
    version = db.scalar(select(campaign.c.plan_version).where(campaign.c.id == campaign_id))
    if version is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    return int(version)


def plan_versions(db: Session | Connection) -> dict[int, int]:
    """The plan version each campaign runs on (one small query over the campaigns)."""
    return {int(cid): int(v) for cid, v in db.execute(
        select(campaign.c.id, campaign.c.plan_version))}


def load_plan_version(db: Session | Connection, campaign_id: int, version: int) -> Plan:
    """Read one stored plan version and decode it; callers cache by (campaign, version)."""
    data = db.scalar(select(plan_version.c.plan).where(
        plan_version.c.campaign_id == campaign_id, plan_version.c.version == version))
    if data is None:
        raise NotFound(f"行动（编号 {campaign_id}）没有第 {version} 版方案")
    return decode_plan(data)


def plan_in_force(db: Session | Connection, campaign_id: int) -> Plan:
    """The plan version a campaign runs on, read and decoded (not cached)."""
    return load_plan_version(db, campaign_id, plan_version_of(db, campaign_id))
