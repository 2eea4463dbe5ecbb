"""A campaign launched from a plan, its stages, places and offices."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class Campaign(Base):
    """A rectification campaign (专项行动) launched from a validated plan."""

    __table__ = tables.campaign

    id: Mapped[int]
    name: Mapped[str]
    issuer: Mapped[str]
    document_number: Mapped[str]
    notice_prefix: Mapped[str]
    plan_version: Mapped[int]  # version in force
    launched_at: Mapped[dt.datetime]
    launched_by: Mapped[str]
    problem_seq: Mapped[int]  # last problem number issued
    version: Mapped[int]
    status: Mapped[str]
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None]

    __mapper_args__ = {"version_id_col": tables.campaign.c.version}  # noqa: RUF012


class PlanVersion(Base):
    """One validated version of a campaign's plan; the campaign runs on its `plan_version`.

    Version 1 is the plan the campaign was launched with. A row is never changed once written,
    so (campaign, version) names one plan for good and a decoded Plan can be cached by it.
    """

    __table__ = tables.plan_version

    id: Mapped[int]
    campaign_id: Mapped[int]
    version: Mapped[int]
    plan: Mapped[dict[str, Any]]  # the stored form, as duban.adapters.plan.encode_plan gives it
    source: Mapped[str]  # the YAML text as uploaded
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str]
    note: Mapped[str]  # why this version was made


class CampaignEvent(Base):
    """A step in a campaign's own life (closed 总结, reopened), with who and why; never edited."""

    __table__ = tables.campaign_event

    id: Mapped[int]
    campaign_id: Mapped[int]
    action: Mapped[str]  # close / reopen
    actor: Mapped[str]
    at: Mapped[dt.datetime]
    note: Mapped[str]
    data: Mapped[dict[str, Any]]


class CampaignStage(Base):
    """A stage of a campaign and whether its stage run has happened."""

    __table__ = tables.campaign_stage

    id: Mapped[int]
    campaign_id: Mapped[int]
    seq: Mapped[int]
    kind: Mapped[str]
    name: Mapped[str]
    start: Mapped[dt.date]
    end: Mapped[dt.date | None]  # None: runs until the campaign is closed (适时调整)
    started_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]


class Town(Base):
    """A town in a campaign's scope."""

    __table__ = tables.town

    id: Mapped[int]
    campaign_id: Mapped[int]
    code: Mapped[str]
    name: Mapped[str]


class Village(Base):
    """A village in a campaign's scope."""

    __table__ = tables.village

    id: Mapped[int]
    campaign_id: Mapped[int]
    town_code: Mapped[str]
    code: Mapped[str]
    name: Mapped[str]


class Office(Base):
    """A responsible office (责任办室); villages get one each so 各村 can be routed to."""

    __table__ = tables.office

    id: Mapped[int]
    campaign_id: Mapped[int]
    code: Mapped[str]
    name: Mapped[str]
    level: Mapped[str]
    town_code: Mapped[str | None]
    head: Mapped[str]
    contacts: Mapped[list[Any]]
    webhook: Mapped[str]
