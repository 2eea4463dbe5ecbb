"""What reports keep: daily snapshots of the ledger's figures and frozen monthly rankings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class DailySnapshot(Base):
    """The figures of one scope (the campaign, a town or a lead office) as reported on a day.

    Written once per (campaign, day): a rerun of the day's report inserts nothing, so the
    figures the offices read that day stay on record (the next day's change is taken from them).
    """

    __table__ = tables.daily_snapshot

    id: Mapped[int]
    campaign_id: Mapped[int]
    day: Mapped[dt.date]
    scope_kind: Mapped[str]  # campaign / town / office
    scope_code: Mapped[str]  # "" for the campaign row
    found: Mapped[int]  # on the ledger by then, not voided
    unrouted: Mapped[int]
    routed: Mapped[int]  # with a responsible office: rectifying + awaiting_review + closed
    rectifying: Mapped[int]
    awaiting_review: Mapped[int]
    closed: Mapped[int]
    overdue: Mapped[int]
    voided: Mapped[int]
    taken_at: Mapped[dt.datetime]
    rebuilt: Mapped[bool]  # a day without a report, rebuilt from the audit trail (the trend's)


class MonthlyRanking(Base):
    """A month's evaluation (月考评), frozen: once written it is shown, never recomputed."""

    __table__ = tables.monthly_ranking

    id: Mapped[int]
    campaign_id: Mapped[int]
    month: Mapped[dt.date]  # the first day of the month evaluated
    as_of: Mapped[dt.datetime]  # the moment the figures describe: the end of the month
    frozen_at: Mapped[dt.datetime]
    frozen_by: Mapped[str]
    by: Mapped[str]  # town / office
    policy: Mapped[dict[str, Any]]  # commend_top, name_bottom, by, and the score weights
    number: Mapped[str]  # the 文号 of its 通报, from the register when frozen
    rows: Mapped[list[Any]]  # ranked rows: position, score, standing, components, stats
    penalties: Mapped[list[Any]]  # the fines counted in the month, line by line
    penalty_basis: Mapped[str]  # accrued / ledger
