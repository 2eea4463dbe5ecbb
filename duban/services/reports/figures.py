"""The ledger as of a moment, counted by the database per town, lead office and source.

"As of a day" means at the end of that day, China time. The audit trail holds every status,
office and deadline change with its time, so the ledger of any past day is rebuilt exactly: a
problem's state then is what the first event after the cut-off changed it *from* (or its
current row when nothing has changed it since). Counting is done by the database (GROUP BY),
so a county of ~30,000 problems is counted in one query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Subquery,
    case,
    cast,
    func,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ
from duban.domain.lifecycle import OPEN_STATUSES, Action, Status
from models import AuditEvent, Problem

# Actions whose audit data record the office a problem leaves (`from_office`) and the deadline
# it leaves (`from_deadline`); the as-of reconstruction reads them. A new action that changes
# a problem's office or deadline must record the same keys and be listed here.
OFFICE_CHANGES = (Action.ROUTE.value, Action.REASSIGN.value)
DEADLINE_CHANGES = (
    Action.APPROVE_EXTENSION.value,
    Action.FAIL_REVIEW.value,
    Action.REOPEN.value,
)

OPEN_CODES = tuple(sorted(s.value for s in OPEN_STATUSES))
AWAITING_CODES = (Status.SUBMITTED.value, Status.REVIEWED.value)


class ScopeKind(StrEnum):
    """What a row of figures counts: the whole campaign, one town, or one lead office."""

    CAMPAIGN = "campaign"
    TOWN = "town"
    OFFICE = "office"
    SOURCE = "source"  # a 问题来源 (the daily report's breakdown by source)


@dataclass(frozen=True, slots=True)
class Counts:
    """Problems of one scope by where they stand; `found` excludes voided (核销) items.

    found = unrouted + routed, routed = rectifying + awaiting_review + closed; `overdue` is
    the part of `rectifying` whose deadline is before the day.
    """

    found: int = 0
    unrouted: int = 0
    routed: int = 0
    rectifying: int = 0  # routed / rectifying / disputed / extension requested
    awaiting_review: int = 0  # submitted / reviewed, not yet closed
    closed: int = 0
    overdue: int = 0
    voided: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    @property
    def closure_rate(self) -> float:
        """Closed / found (0 when nothing was found)."""
        return self.closed / self.found if self.found else 0.0

    @property
    def overdue_rate(self) -> float:
        """Overdue / found (0 when nothing was found)."""
        return self.overdue / self.found if self.found else 0.0

    def as_dict(self) -> dict[str, int]:
        """The counts by field name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


ZERO = Counts()


@dataclass(frozen=True, slots=True)
class ScopeFigures:
    """One town's or office's figures on the report day and the day before."""

    kind: ScopeKind
    code: str
    name: str
    today: Counts
    yesterday: Counts

    @property
    def change(self) -> Counts:
        """Each count's change since the day before."""
        return self.today - self.yesterday

    @property
    def closure_rate(self) -> float:
        """销号率 on the report day."""
        return self.today.closure_rate

    @property
    def overdue_rate(self) -> float:
        """逾期率 on the report day."""
        return self.today.overdue_rate

    @property
    def closure_rate_change(self) -> float:
        """Change of the closure rate since the day before (0.05 = 5 points)."""
        return self.today.closure_rate - self.yesterday.closure_rate

    @property
    def overdue_rate_change(self) -> float:
        """Change of the overdue rate since the day before."""
        return self.today.overdue_rate - self.yesterday.overdue_rate


# --------------------------------------------------------------------------------------------
# The ledger as of a moment


def day_end(day: dt.date) -> dt.datetime:
    """The moment a day ends in China: midnight starting the next day (an aware datetime)."""
    nxt = day + dt.timedelta(days=1)
    return dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=CHINA_TZ)


def changed_since(session: Session, campaign_id: int, cutoff: dt.datetime) -> bool:
    """Whether any problem of the campaign moved at or after the cut-off."""
    found = session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.campaign_id == campaign_id, AuditEvent.at >= cutoff)
        .limit(1)
    )
    return found is not None


def ledger_state(session: Session, campaign_id: int, cutoff: dt.datetime) -> Subquery:
    """Every problem recorded before `cutoff`, with its status, office and deadline then.

    Columns: id, code, town, village, category, source, household_id, office, status,
    deadline. When nothing moved since the cut-off this is the problem table itself.
    """
    p = Problem
    base: list[Any] = [
        p.id.label("id"),
        p.code.label("code"),
        p.town_code.label("town"),
        p.village_code.label("village"),
        p.category.label("category"),
        p.source.label("source"),
        p.household_id.label("household_id"),
    ]
    where = [p.campaign_id == campaign_id, p.created_at < cutoff]
    current = select(
        *base,
        p.lead_office.label("office"),
        p.status.label("status"),
        p.deadline.label("deadline"),
    ).where(*where)
    if not changed_since(session, campaign_id, cutoff):
        return current.subquery("state")
    ev = AuditEvent
    office_change = ev.action.in_(OFFICE_CHANGES)
    deadline_change = ev.action.in_(DEADLINE_CHANGES)
    raw_deadline = ev.data["from_deadline"].as_string()
    # SQLite keeps dates as ISO text, so the JSON text compares as it is; PostgreSQL casts.
    from_deadline: ColumnElement[Any] = (
        cast(raw_deadline, Date)
        if session.get_bind().dialect.name == "postgresql"
        else type_coerce(raw_deadline, Date)
    )

    def rank(*partition: ColumnElement[Any]) -> ColumnElement[int]:
        return func.row_number().over(partition_by=(ev.problem_id, *partition),
                                      order_by=(ev.at, ev.id))

    # One pass over the events after the cut-off: each event's rank among all of its problem's
    # later events, and among its later office (deadline) changes.
    later = (
        select(
            ev.problem_id.label("problem_id"),
            ev.from_status.label("from_status"),
            office_change.label("is_office"),
            ev.data["from_office"].as_string().label("from_office"),
            deadline_change.label("is_deadline"),
            from_deadline.label("from_deadline"),
            rank().label("rn"),
            rank(office_change).label("office_rn"),
            rank(deadline_change).label("deadline_rn"),
        )
        .where(ev.campaign_id == campaign_id, ev.at >= cutoff)
        .subquery("later")
    )
    lt = later.c
    first_office = lt.is_office & (lt.office_rn == 1)
    first_deadline = lt.is_deadline & (lt.deadline_rn == 1)
    # Per problem moved since: what its first later event, office change and deadline
    # change changed *from* — its state at the cut-off.
    then = (
        select(
            lt.problem_id,
            func.max(case((lt.rn == 1, lt.from_status))).label("status"),
            func.max(case((first_office, 1), else_=0)).label("office_moved"),
            func.max(case((first_office, lt.from_office))).label("office"),
            func.max(case((first_deadline, 1), else_=0)).label("deadline_moved"),
            func.max(case((first_deadline, lt.from_deadline))).label("deadline"),
        )
        .group_by(lt.problem_id)
        .subquery("then")
    )
    t = then.c
    # Moved problems are driven from `then` and looked up by primary key; the others read
    # their current row. Two plain branches keep both backends off nested-loop scans.
    moved = (
        select(
            *base,
            case((t.office_moved == 1, t.office), else_=p.lead_office).label("office"),
            t.status.label("status"),
            case((t.deadline_moved == 1, t.deadline), else_=p.deadline).label("deadline"),
        )
        .select_from(then)
        .join(p, p.id == t.problem_id)
        .where(*where)
    )
    untouched = current.where(
        ~select(ev.id).where(ev.problem_id == p.id, ev.at >= cutoff).exists()
    )
    return union_all(moved, untouched).subquery("state")


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _grouped(session: Session, campaign_id: int, cutoff: dt.datetime, overdue_before: dt.date,
             *keys: str) -> dict[tuple[Any, ...], Counts]:
    """Counts of the ledger at `cutoff` grouped by some of its columns; overdue: before the day."""
    s = ledger_state(session, campaign_id, cutoff).c
    is_open = s.status.in_(OPEN_CODES)
    rows = session.execute(
        select(
            *(s[k] for k in keys),
            _count(s.status != Status.VOIDED.value),
            _count(s.status == Status.UNROUTED.value),
            _count(is_open),
            _count(s.status.in_(AWAITING_CODES)),
            _count(s.status == Status.CLOSED.value),
            _count(is_open & (s.deadline < overdue_before)),
            _count(s.status == Status.VOIDED.value),
        ).group_by(*(s[k] for k in keys))
    ).all()
    out: dict[tuple[Any, ...], Counts] = {}
    for row in rows:
        found, unrouted, rectifying, awaiting, closed, overdue, voided = row[len(keys):]
        rectifying, awaiting, closed = int(rectifying or 0), int(awaiting or 0), int(closed or 0)
        out[tuple(row[:len(keys)])] = Counts(
            found=int(found or 0),
            unrouted=int(unrouted or 0),
            routed=rectifying + awaiting + closed,
            rectifying=rectifying,
            awaiting_review=awaiting,
            closed=closed,
            overdue=int(overdue or 0),
            voided=int(voided or 0),
        )
    return out


def grouped_counts(
    session: Session, campaign_id: int, cutoff: dt.datetime, overdue_before: dt.date
) -> dict[tuple[str, str | None], Counts]:
    """Counts per (town, lead office) of the ledger at `cutoff`; overdue: deadline < the day."""
    return {(town, office): c for (town, office), c
            in _grouped(session, campaign_id, cutoff, overdue_before, "town", "office").items()}


@dataclass(frozen=True, slots=True)
class ScopedCounts:
    """Counts of one moment, summed per scope; `sources`: per 问题来源 too, when counted."""

    total: Counts
    towns: dict[str, Counts]
    offices: dict[str, Counts]
    sources: dict[str, Counts] | None = None


def counts_as_of(session: Session, campaign_id: int, day: dt.date, *,
                 sources: bool = False) -> ScopedCounts:
    """The campaign, town and lead-office counts at the end of `day`, from the ledger;
    with `sources`, per 问题来源 as well (`counts_by_source`), from the same pass."""
    keys = ("town", "office", "source") if sources else ("town", "office")
    grouped = _grouped(session, campaign_id, day_end(day), day, *keys)
    total = ZERO
    towns: dict[str, Counts] = {}
    offices: dict[str, Counts] = {}
    by_source: dict[str, Counts] = {}
    for key, c in grouped.items():
        town, office = key[0], key[1]
        total = total + c
        towns[town] = towns.get(town, ZERO) + c
        if office is not None:
            offices[office] = offices.get(office, ZERO) + c
        if sources:
            by_source[key[2]] = by_source.get(key[2], ZERO) + c
    return ScopedCounts(total, towns, offices, by_source if sources else None)


def counts_by_source(session: Session, campaign_id: int, day: dt.date) -> dict[str, Counts]:
    """Counts per 问题来源 at the end of `day`, from the ledger."""
    return {source: c for (source,), c
            in _grouped(session, campaign_id, day_end(day), day, "source").items()}
