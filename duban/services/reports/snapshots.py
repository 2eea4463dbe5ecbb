"""Daily snapshots: what a day reported, kept so the next day's change is measured against it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.services.database import UnitOfWork, insert_new
from duban.services.reports.figures import (
    ZERO,
    Counts,
    ScopedCounts,
    ScopeKind,
    counts_as_of,
)
from duban.services.views.common import campaign_row
from duban.services.views.names import names_in
from models import AuditEvent, Problem
from models.reporting import DailySnapshot

SERIES_DAYS = 30  # the trend chart covers at most this many days up to the report day


@dataclass(frozen=True, slots=True)
class SeriesDay:
    """Campaign totals at the end of one day, for the trend chart."""

    day: dt.date
    counts: Counts


def take_daily_snapshot(uow: UnitOfWork, clock: Clock, campaign_id: int, day: dt.date, *,
                        counts: ScopedCounts | None = None) -> int:
    """Record the day's figures once; returns rows written (0 when the day was recorded already).

    Idempotent and safe to race: the first snapshot of a day stands, later runs insert
    nothing (the unique key turns a concurrent second insert into a no-op). A day rebuilt
    for the trend (`keep_rebuilt`) is replaced by its report's figures. `counts`: the day's
    `counts_as_of` when the caller computed them in this unit (a pass over the ledger).
    """
    session = uow.session
    campaign_row(session, campaign_id)
    rebuilt = session.scalar(
        select(DailySnapshot.rebuilt)
        .where(DailySnapshot.campaign_id == campaign_id, DailySnapshot.day == day)
        .limit(1)
    )
    if rebuilt is False:
        return 0
    if rebuilt:
        session.execute(delete(DailySnapshot).where(DailySnapshot.campaign_id == campaign_id,
                                                    DailySnapshot.day == day))
    return _record(session, clock, campaign_id, day,
                   counts or counts_as_of(session, campaign_id, day, sources=True),
                   rebuilt=False)


def keep_rebuilt(session: Session, clock: Clock, campaign_id: int, day: dt.date,
                 counts: ScopedCounts) -> int:
    """Keep a past day's figures rebuilt from the audit trail (a day without a report), so
    the trend reads them instead of rebuilding them every evening; returns rows written.

    Only a day that has ended by the clock is kept: its ledger can no longer change.
    """
    if day >= local_today(clock):
        return 0
    return _record(session, clock, campaign_id, day, counts, rebuilt=True)


def _record(session: Session, clock: Clock, campaign_id: int, day: dt.date,
            counts: ScopedCounts, *, rebuilt: bool) -> int:
    town_names = names_in(session, campaign_id).towns
    now = clock.now()
    rows: list[dict[str, Any]] = []

    def row(kind: ScopeKind, code: str, c: Counts) -> None:
        rows.append({"campaign_id": campaign_id, "day": day, "scope_kind": kind.value,
                     "scope_code": code, "taken_at": now, "rebuilt": rebuilt, **c.as_dict()})

    row(ScopeKind.CAMPAIGN, "", counts.total)
    for code in dict.fromkeys([*town_names, *counts.towns]):
        row(ScopeKind.TOWN, code, counts.towns.get(code, ZERO))
    for code, c in counts.offices.items():
        row(ScopeKind.OFFICE, code, c)
    for code, c in (counts.sources or {}).items():  # the next report's change by source
        row(ScopeKind.SOURCE, code, c)
    # Another run that recorded the day first wins: its rows stand, these are skipped.
    return insert_new(session, DailySnapshot, rows,
                      ["campaign_id", "day", "scope_kind", "scope_code"])


def _counts_of(row: DailySnapshot) -> Counts:
    return Counts(**{f.name: getattr(row, f.name) for f in fields(Counts)})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A day's recorded counts; `rebuilt`: rebuilt from the audit trail (no report that day)."""

    counts: ScopedCounts
    rebuilt: bool


def snapshot_counts(session: Session, campaign_id: int, day: dt.date) -> Snapshot | None:
    """A day's counts as its snapshot recorded them, or None when the day has none."""
    rows = session.scalars(
        select(DailySnapshot).where(
            DailySnapshot.campaign_id == campaign_id, DailySnapshot.day == day
        )
    ).all()
    if not rows:
        return None
    total = ZERO
    towns: dict[str, Counts] = {}
    offices: dict[str, Counts] = {}
    sources: dict[str, Counts] = {}
    for r in rows:
        c = _counts_of(r)
        if r.scope_kind == ScopeKind.CAMPAIGN:
            total = c
        elif r.scope_kind == ScopeKind.TOWN:
            towns[r.scope_code] = c
        elif r.scope_kind == ScopeKind.SOURCE:
            sources[r.scope_code] = c
        else:
            offices[r.scope_code] = c
    # A snapshot taken before sources were recorded (or with no problem yet) has none.
    return Snapshot(ScopedCounts(total, towns, offices, sources or None), rows[0].rebuilt)


def trend(session: Session, campaign_id: int, day: dt.date,
          days: int = SERIES_DAYS, *, today: Counts | None = None,
          keep: Clock | None = None) -> list[SeriesDay]:
    """Campaign totals for each day up to `day`: from snapshots, else rebuilt from the ledger.

    Starts at the first day anything was recorded (at most `days` days back). `today`: the
    totals of `day` itself when the caller has them (they are always live, never a snapshot).
    `keep`: the clock of a writing caller; a day rebuilt from the audit trail that has ended
    is then kept (`keep_rebuilt`), so each day without a report is rebuilt once, not daily.
    """
    first = session.scalar(
        select(func.min(Problem.found_on)).where(Problem.campaign_id == campaign_id)
    )
    first_event = session.scalar(
        select(func.min(AuditEvent.at)).where(AuditEvent.campaign_id == campaign_id)
    )
    if first is None or first_event is None:
        return []
    start = max(day - dt.timedelta(days=days - 1),
                min(first, first_event.astimezone(CHINA_TZ).date()))
    if start > day:
        return []
    snapped = {
        r.day: _counts_of(r)
        for r in session.scalars(
            select(DailySnapshot).where(
                DailySnapshot.campaign_id == campaign_id,
                DailySnapshot.scope_kind == ScopeKind.CAMPAIGN.value,
                DailySnapshot.day >= start, DailySnapshot.day <= day,
            )
        )
    }
    out = []
    d = start
    while d <= day:
        counts = snapped.get(d) if d < day else today  # the report day is always live
        if counts is None:
            rebuilt = counts_as_of(session, campaign_id, d)
            if keep is not None and d < day:
                keep_rebuilt(session, keep, campaign_id, d, rebuilt)
            counts = rebuilt.total
        out.append(SeriesDay(d, counts))
        d += dt.timedelta(days=1)
    return out
