"""A campaign launched from a plan, its stages, places and offices."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, EmptyAsNull


class Campaign(Base):
    """A rectification campaign (专项行动) launched from a validated plan."""

    __tablename__ = "campaign"
    __table_args__ = (
        # A 文号 identifies one campaign; plans without one ("", stored as NULL) may be
        # launched side by side.
        UniqueConstraint("document_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200))
    document_number: Mapped[str] = mapped_column(EmptyAsNull(100), nullable=True)
    notice_prefix: Mapped[str] = mapped_column(String(50))
    plan_version: Mapped[int] = mapped_column(default=1, server_default="1")  # version in force
    launched_at: Mapped[dt.datetime]
    launched_by: Mapped[str] = mapped_column(String(100))
    problem_seq: Mapped[int] = mapped_column(default=0)  # last problem number issued
    version: Mapped[int] = mapped_column(default=1)
    # running (进行中) or closed (已总结): a closed campaign's ticks, reminders, spot checks
    # and notices stop; campaign_event holds who closed or reopened it and why.
    status: Mapped[str] = mapped_column(String(20), default="running", server_default="running")
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(100))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PlanVersion(Base):
    """One validated version of a campaign's plan; the campaign runs on its `plan_version`.

    Version 1 is the plan the campaign was launched with. A row is never changed once written,
    so (campaign, version) names one plan for good and a decoded Plan can be cached by it.
    """

    __tablename__ = "plan_version"
    __table_args__ = (UniqueConstraint("campaign_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    version: Mapped[int]
    plan: Mapped[dict[str, Any]]  # the stored form, as duban.adapters.plan.encode_plan gives it
    source: Mapped[str] = mapped_column(Text)  # the YAML text as uploaded
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(String(300), default="")  # why this version was made


class CampaignEvent(Base):
    """A step in a campaign's own life (closed 总结, reopened), with who and why; never edited."""

    __tablename__ = "campaign_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"),
                                             index=True)
    action: Mapped[str] = mapped_column(String(20))  # close / reopen
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CampaignStage(Base):
    """A stage of a campaign and whether its stage run has happened."""

    __tablename__ = "campaign_stage"
    __table_args__ = (UniqueConstraint("campaign_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    start: Mapped[dt.date]
    end: Mapped[dt.date | None]  # None: runs until the campaign is closed (适时调整)
    started_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]


class Town(Base):
    """A town in a campaign's scope."""

    __tablename__ = "town"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))


class Village(Base):
    """A village in a campaign's scope."""

    __tablename__ = "village"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    town_code: Mapped[str] = mapped_column(String(50))
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))


class Office(Base):
    """A responsible office (责任办室); villages get one each so 各村 can be routed to."""

    __tablename__ = "office"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    town_code: Mapped[str | None] = mapped_column(String(50))
    head: Mapped[str] = mapped_column(String(50), default="")
    contacts: Mapped[list[Any]] = mapped_column(default=list)
    webhook: Mapped[str] = mapped_column(String(500), default="")
