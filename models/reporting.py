"""What reports keep: daily snapshots of the ledger's figures and frozen monthly rankings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.problem import AuditEvent


class DailySnapshot(Base):
    """The figures of one scope (the campaign, a town or a lead office) as reported on a day.

    Written once per (campaign, day): a rerun of the day's report inserts nothing, so the
    figures the offices read that day stay on record (the next day's change is taken from them).
    """

    __tablename__ = "daily_snapshot"
    __table_args__ = (UniqueConstraint("campaign_id", "day", "scope_kind", "scope_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    day: Mapped[dt.date]
    scope_kind: Mapped[str] = mapped_column(String(10))  # campaign / town / office
    scope_code: Mapped[str] = mapped_column(String(80))  # "" for the campaign row
    found: Mapped[int]  # on the ledger by then, not voided
    unrouted: Mapped[int]
    routed: Mapped[int]  # with a responsible office: rectifying + awaiting_review + closed
    rectifying: Mapped[int]
    awaiting_review: Mapped[int]
    closed: Mapped[int]
    overdue: Mapped[int]
    voided: Mapped[int]
    taken_at: Mapped[dt.datetime]


class MonthlyRanking(Base):
    """A month's evaluation (月考评), frozen: once written it is shown, never recomputed."""

    __tablename__ = "monthly_ranking"
    __table_args__ = (UniqueConstraint("campaign_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    month: Mapped[dt.date]  # the first day of the month evaluated
    as_of: Mapped[dt.datetime]  # the moment the figures describe: the end of the month
    frozen_at: Mapped[dt.datetime]
    frozen_by: Mapped[str] = mapped_column(String(100))
    by: Mapped[str] = mapped_column(String(10))  # town / office
    policy: Mapped[dict[str, Any]]  # commend_top, name_bottom, by, and the score weights
    rows: Mapped[list[Any]]  # ranked rows: position, score, standing, components, stats
    penalties: Mapped[list[Any]]  # the fines counted in the month, line by line
    penalty_basis: Mapped[str] = mapped_column(String(10))  # accrued / ledger


# "As of a day" figures read the audit trail from a moment onwards; without this index each
# past-day report scans every event of every campaign.
AUDIT_TIME_INDEX = Index("ix_audit_event_campaign_at", AuditEvent.campaign_id, AuditEvent.at)
