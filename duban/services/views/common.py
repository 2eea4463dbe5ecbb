"""SQL pieces the views share: status groups, the band of a row, China days, the campaign."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, literal_column, text
from sqlalchemy.orm import Session

from duban.domain.bands import Band, Bands, bands_for
from duban.domain.errors import NotFound
from duban.domain.lifecycle import FINAL_STATUSES, OPEN_STATUSES, Status
from duban.domain.plan import Plan
from duban.services.calendars import working_calendar
from models import Campaign, Problem

OPEN = sorted(s.value for s in OPEN_STATUSES)
# Items still on someone's desk: open, plus unrouted, submitted and reviewed-not-closed.
PENDING = sorted({*OPEN, Status.UNROUTED.value, Status.SUBMITTED.value, Status.REVIEWED.value})
FINAL = sorted(s.value for s in FINAL_STATUSES)


def plan_bands(plan: Plan, today: dt.date) -> Bands:
    """The warning bands of a plan's reminder ladder on a day, on the working calendar."""
    return bands_for(plan.reminders, today, working_calendar())


def campaign_row(session: Session, campaign_id: int) -> Campaign:
    """The campaign, or NotFound in Chinese."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    return campaign


def band_case(bands: Bands) -> ColumnElement[str]:
    """The band of a row in SQL; only open items have one (others get ""), so that grouping
    by it does not multiply the groups of closed items."""
    whens = [(Problem.deadline <= limit, literal(band.value)) for band, limit in bands.thresholds]
    return case((Problem.status.not_in(OPEN), literal("")),
                (Problem.deadline.is_(None), literal(Band.NONE.value)), *whens,
                else_=literal(Band.ON_TIME.value))


def band_filter(band: Band, bands: Bands) -> ColumnElement[bool]:
    """Open items in exactly this band (the caller keeps to open items)."""
    if band is Band.NONE:
        return Problem.deadline.is_(None)
    limits = dict(bands.thresholds)
    order = [b for b, _ in bands.thresholds]  # most severe first
    if band is Band.ON_TIME:
        loosest = bands.thresholds[-1][1] if bands.thresholds else None
        return Problem.deadline > loosest if loosest else Problem.deadline.is_not(None)
    if band not in limits:
        return literal(False)
    conds: list[ColumnElement[bool]] = [Problem.deadline <= limits[band]]
    i = order.index(band)
    if i > 0:
        conds.append(Problem.deadline > limits[order[i - 1]])
    return and_(*conds)


def roomy_sorts(session: Session) -> None:
    """Give PostgreSQL room to hash the dashboard's aggregates in memory."""
    # The aggregates group a million rows into a few thousand groups; PostgreSQL's default
    # 4 MB work_mem makes it sort them on disk instead of hashing them in memory (3x slower).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '64MB'"))


def china_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The China date of a stored timestamp column, in SQL."""
    # Timestamps are stored as naive UTC; the day an office lives in is the China date.
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, "+8 hours")
    return func.date(column + literal_column("interval '8 hours'"))


def as_date(value: object) -> dt.date:
    """A date from what a database returns for one (a date, a datetime or ISO text)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
