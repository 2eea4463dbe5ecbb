"""Figures of the ledger as of a day, daily snapshots, and the daily report and ledger as files.

"As of a day" means at the end of that day, China time. The audit trail holds every status,
office and deadline change with its time, so the ledger of any past day is rebuilt exactly: a
problem's state then is what the first event after the cut-off changed it *from* (or its
current row when nothing has changed it since). Counting is done by the database (GROUP BY),
so a county of ~30,000 problems is counted in one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ, Clock
from duban.domain.errors import NotFound
from duban.domain.lifecycle import OPEN_STATUSES, STATUS_LABELS, Action, Status
from duban.domain.numbering import format_date_cn
from duban.domain.plan import OfficeLevel, Plan
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.templates import template_dir_for
from duban.services.views.names import names_in
from models import AuditEvent, Campaign, Office, Problem, User
from models.reporting import DailySnapshot

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
SERIES_DAYS = 30  # the trend chart covers at most this many days up to the report day


class ScopeKind(StrEnum):
    """What a row of figures counts: the whole campaign, one town, or one lead office."""

    CAMPAIGN = "campaign"
    TOWN = "town"
    OFFICE = "office"


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


@dataclass(frozen=True, slots=True)
class SeriesDay:
    """Campaign totals at the end of one day, for the trend chart."""

    day: dt.date
    counts: Counts


@dataclass(frozen=True, slots=True)
class DailyFigures:
    """The daily report's figures: per town, per lead office, and the campaign total.

    `yesterday_from` says where the day-before figures come from: "snapshot" (what was
    reported that day) or "ledger" (rebuilt from the audit trail).
    """

    campaign_id: int
    day: dt.date
    total: ScopeFigures
    towns: tuple[ScopeFigures, ...]
    offices: tuple[ScopeFigures, ...]
    yesterday_from: str

    def town(self, code: str) -> ScopeFigures:
        """The figures of one town by code."""
        return next(t for t in self.towns if t.code == code)

    def office(self, code: str) -> ScopeFigures:
        """The figures of one lead office by code."""
        return next(o for o in self.offices if o.code == code)


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


def grouped_counts(
    session: Session, campaign_id: int, cutoff: dt.datetime, overdue_before: dt.date
) -> dict[tuple[str, str | None], Counts]:
    """Counts per (town, lead office) of the ledger at `cutoff`; overdue: deadline < the day."""
    state = ledger_state(session, campaign_id, cutoff)
    s = state.c
    is_open = s.status.in_(OPEN_CODES)
    rows = session.execute(
        select(
            s.town,
            s.office,
            _count(s.status != Status.VOIDED.value),
            _count(s.status == Status.UNROUTED.value),
            _count(is_open),
            _count(s.status.in_(AWAITING_CODES)),
            _count(s.status == Status.CLOSED.value),
            _count(is_open & (s.deadline < overdue_before)),
            _count(s.status == Status.VOIDED.value),
        ).group_by(s.town, s.office)
    ).all()
    out: dict[tuple[str, str | None], Counts] = {}
    for town, office, found, unrouted, rectifying, awaiting, closed, overdue, voided in rows:
        rectifying, awaiting, closed = int(rectifying or 0), int(awaiting or 0), int(closed or 0)
        out[(town, office)] = Counts(
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


@dataclass(frozen=True, slots=True)
class ScopedCounts:
    """Counts of one moment, summed per scope."""

    total: Counts
    towns: dict[str, Counts]
    offices: dict[str, Counts]


def counts_as_of(session: Session, campaign_id: int, day: dt.date) -> ScopedCounts:
    """The campaign, town and lead-office counts at the end of `day`, from the ledger."""
    grouped = grouped_counts(session, campaign_id, day_end(day), day)
    total = ZERO
    towns: dict[str, Counts] = {}
    offices: dict[str, Counts] = {}
    for (town, office), c in grouped.items():
        total = total + c
        towns[town] = towns.get(town, ZERO) + c
        if office is not None:
            offices[office] = offices.get(office, ZERO) + c
    return ScopedCounts(total, towns, offices)


def _snapshot_counts(session: Session, campaign_id: int, day: dt.date) -> ScopedCounts | None:
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
    for r in rows:
        c = Counts(found=r.found, unrouted=r.unrouted, routed=r.routed, rectifying=r.rectifying,
                   awaiting_review=r.awaiting_review, closed=r.closed, overdue=r.overdue,
                   voided=r.voided)
        if r.scope_kind == ScopeKind.CAMPAIGN:
            total = c
        elif r.scope_kind == ScopeKind.TOWN:
            towns[r.scope_code] = c
        else:
            offices[r.scope_code] = c
    return ScopedCounts(total, towns, offices)


def _campaign_or_fail(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    return campaign


def _office_order(session: Session, campaign_id: int) -> list[str]:
    """Declared offices first (plan order), then village offices, by id."""
    rows = session.execute(
        select(Office.code, Office.level).where(Office.campaign_id == campaign_id)
        .order_by(Office.id)
    ).all()
    declared = [code for code, level in rows if level != OfficeLevel.VILLAGE.value]
    villages = [code for code, level in rows if level == OfficeLevel.VILLAGE.value]
    return declared + villages


def daily_figures(uow: UnitOfWork, campaign_id: int, day: dt.date) -> DailyFigures:
    """Per town and per lead office at the end of `day`, with the change since the day before.

    The day before comes from its daily snapshot (what was reported) when there is one,
    else from the audit trail as of that day.
    """
    session = uow.session
    _campaign_or_fail(session, campaign_id)
    today = counts_as_of(session, campaign_id, day)
    previous_day = day - dt.timedelta(days=1)
    yesterday = _snapshot_counts(session, campaign_id, previous_day)
    source = "snapshot"
    if yesterday is None:
        yesterday = counts_as_of(session, campaign_id, previous_day)
        source = "ledger"
    names = names_in(session, campaign_id)
    town_names, office_names = names.towns, names.offices
    towns = tuple(
        ScopeFigures(ScopeKind.TOWN, code, name, today.towns.get(code, ZERO),
                     yesterday.towns.get(code, ZERO))
        for code, name in town_names.items()
    )
    # Problems in a town outside the plan's scope still count (listed after the plan's towns).
    extra_towns = sorted((set(today.towns) | set(yesterday.towns)) - set(town_names))
    towns += tuple(
        ScopeFigures(ScopeKind.TOWN, code, code, today.towns.get(code, ZERO),
                     yesterday.towns.get(code, ZERO))
        for code in extra_towns
    )
    active = set(today.offices) | set(yesterday.offices)
    order = [c for c in _office_order(session, campaign_id) if c in active]
    order += sorted(active - set(order))
    offices = tuple(
        ScopeFigures(ScopeKind.OFFICE, code, office_names.get(code, code),
                     today.offices.get(code, ZERO), yesterday.offices.get(code, ZERO))
        for code in order
    )
    total = ScopeFigures(ScopeKind.CAMPAIGN, "", "合计", today.total, yesterday.total)
    return DailyFigures(campaign_id, day, total, towns, offices, source)


# --------------------------------------------------------------------------------------------
# Snapshots


def take_daily_snapshot(uow: UnitOfWork, clock: Clock, campaign_id: int, day: dt.date) -> int:
    """Record the day's figures once; returns rows written (0 when the day was recorded already).

    Idempotent and safe to race: the first snapshot of a day stands, later runs insert
    nothing (the unique key turns a concurrent second insert into a no-op).
    """
    session = uow.session
    _campaign_or_fail(session, campaign_id)
    exists = session.scalar(
        select(DailySnapshot.id)
        .where(DailySnapshot.campaign_id == campaign_id, DailySnapshot.day == day)
        .limit(1)
    )
    if exists is not None:
        return 0
    counts = counts_as_of(session, campaign_id, day)
    town_names = names_in(session, campaign_id).towns
    now = clock.now()
    rows: list[dict[str, Any]] = []

    def row(kind: ScopeKind, code: str, c: Counts) -> None:
        rows.append({"campaign_id": campaign_id, "day": day, "scope_kind": kind.value,
                     "scope_code": code, "taken_at": now, **c.as_dict()})

    row(ScopeKind.CAMPAIGN, "", counts.total)
    for code in dict.fromkeys([*town_names, *counts.towns]):
        row(ScopeKind.TOWN, code, counts.towns.get(code, ZERO))
    for code, c in counts.offices.items():
        row(ScopeKind.OFFICE, code, c)
    table: Any = DailySnapshot.__table__
    base: Any = postgresql.insert(table) \
        if session.get_bind().dialect.name == "postgresql" else sqlite.insert(table)
    # Another run that recorded the day first wins: its rows stand, these are skipped.
    done = session.execute(base.values(rows).on_conflict_do_nothing(
        index_elements=["campaign_id", "day", "scope_kind", "scope_code"]
    ).returning(table.c.id))
    return len(done.all())  # counted from RETURNING: rowcount is -1 on some drivers


def _total_as_of(session: Session, campaign_id: int, day: dt.date) -> Counts:
    total = ZERO
    for c in grouped_counts(session, campaign_id, day_end(day), day).values():
        total = total + c
    return total


def _series(session: Session, campaign_id: int, day: dt.date,
              days: int = SERIES_DAYS) -> list[SeriesDay]:
    """Campaign totals for each day up to `day`: from snapshots, else rebuilt from the ledger.

    Starts at the first day anything was recorded (at most `days` days back).
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
        r.day: Counts(found=r.found, unrouted=r.unrouted, routed=r.routed,
                      rectifying=r.rectifying, awaiting_review=r.awaiting_review,
                      closed=r.closed, overdue=r.overdue, voided=r.voided)
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
        counts = snapped.get(d) if d < day else None  # the report day is always live
        out.append(SeriesDay(d, counts if counts is not None
                             else _total_as_of(session, campaign_id, d)))
        d += dt.timedelta(days=1)
    return out


# --------------------------------------------------------------------------------------------
# The daily report as files


def _issuer(plan: Plan) -> tuple[str, str]:
    return plan.issuer_short or plan.issuer, plan.issuer_short or plan.issuer


def daily_report_context(
    session: Session, campaign_id: int, day: dt.date, figures: DailyFigures
) -> Any:
    """The DailyReportContext of a day's figures (see duban.adapters.documents)."""
    from duban.adapters.documents.context import DailyReportContext, DailyRow, SeriesPoint

    plan = load_plan_of(session, campaign_id)
    issuer, mark = _issuer(plan)

    def daily_row(f: ScopeFigures) -> DailyRow:
        c = f.today
        return DailyRow(
            name=f.name, found=c.found, routed=c.routed, rectifying=c.rectifying,
            awaiting_review=c.awaiting_review, closed=c.closed, overdue=c.overdue,
            closed_change=f.change.closed, rate_change=f.closure_rate_change,
        )

    t = figures.total
    intro = (
        f"截至{format_date_cn(day)}，全{_unit(plan)}累计排查发现问题{t.today.found}个，"
        f"已交办{t.today.routed}个，整改中{t.today.rectifying}个，待复核{t.today.awaiting_review}个，"
        f"已销号{t.today.closed}个，销号率{t.closure_rate * 100:.1f}%；逾期未整改"
        f"{t.today.overdue}个。较前一日新增发现{t.change.found}个，新增销号{t.change.closed}个。"
    )
    series = [
        SeriesPoint(s.day, s.counts.found, s.counts.closed, s.counts.overdue)
        for s in _series(session, campaign_id, day)
    ]
    checks, failures = spot_check_lines(session, plan, campaign_id, day)
    return DailyReportContext(
        issuer=issuer,
        issuer_mark=mark,
        title=f"{plan.name}问题整改进度日报",
        issued_on=day,
        report_date=day,
        intro=intro,
        towns=[daily_row(f) for f in figures.towns],
        offices=[daily_row(f) for f in figures.offices],
        series=series,
        sources=[daily_row(f) for f in source_figures(session, plan, campaign_id, day)],
        spot_checks=checks,
        spot_check_failures=failures,
    )


def _counts_by_source(session: Session, campaign_id: int, day: dt.date) -> dict[str, Counts]:
    """Counts per 问题来源 at the end of `day`, from the ledger."""
    state = ledger_state(session, campaign_id, day_end(day))
    s = state.c
    is_open = s.status.in_(OPEN_CODES)
    out: dict[str, Counts] = {}
    for source, found, unrouted, rectifying, awaiting, closed, overdue, voided in session.execute(
        select(
            s.source,
            _count(s.status != Status.VOIDED.value),
            _count(s.status == Status.UNROUTED.value),
            _count(is_open),
            _count(s.status.in_(AWAITING_CODES)),
            _count(s.status == Status.CLOSED.value),
            _count(is_open & (s.deadline < day)),
            _count(s.status == Status.VOIDED.value),
        ).group_by(s.source)
    ):
        rectifying, awaiting, closed = int(rectifying or 0), int(awaiting or 0), int(closed or 0)
        out[source] = Counts(found=int(found or 0), unrouted=int(unrouted or 0),
                             routed=rectifying + awaiting + closed, rectifying=rectifying,
                             awaiting_review=awaiting, closed=closed,
                             overdue=int(overdue or 0), voided=int(voided or 0))
    return out


def source_figures(session: Session, plan: Plan, campaign_id: int,
                   day: dt.date) -> list[ScopeFigures]:
    """The day's figures per 问题来源 (the plan's order; sources with no problem left out)."""
    today = _counts_by_source(session, campaign_id, day)
    yesterday = _counts_by_source(session, campaign_id, day - dt.timedelta(days=1))
    names = {src.code: src.name for src in plan.sources}
    order = [c for c in names if c in today] + sorted(set(today) - set(names))
    return [ScopeFigures(ScopeKind.CAMPAIGN, code, names.get(code, code), today[code],
                         yesterday.get(code, ZERO)) for code in order]


def spot_check_lines(session: Session, plan: Plan, campaign_id: int,
                     day: dt.date) -> tuple[list[Any], list[Any]]:
    """The report day's spot checks per supervision group, and the failed ones in words."""
    from duban.adapters.documents.context import SpotCheckFailure, SpotCheckRow
    from duban.domain.sampling import SPOT_CHECK_KIND_LABELS, SpotCheckKind
    from models import Household, SpotCheck

    checks = list(session.scalars(
        select(SpotCheck).where(SpotCheck.campaign_id == campaign_id, SpotCheck.day == day)
        .order_by(SpotCheck.group_code, SpotCheck.id)))
    if not checks:
        return [], []
    groups = {g.code: g.name for g in plan.review.groups}
    names = names_in(session, campaign_id, plan)
    failed = [c for c in checks if c.result == "failed"]
    codes: dict[int, str] = {pid: code for pid, code in session.execute(
        select(Problem.id, Problem.code).where(
            Problem.id.in_([c.problem_id for c in failed if c.problem_id])))}
    heads: dict[str, str] = {hid: head for hid, head in session.execute(
        select(Household.household_id, Household.head).where(
            Household.campaign_id == campaign_id,
            Household.household_id.in_([c.household_id for c in failed if c.household_id])))}
    rows: list[Any] = []
    for code in dict.fromkeys(c.group_code for c in checks):
        mine = [c for c in checks if c.group_code == code]
        rows.append(SpotCheckRow(
            group=groups.get(code, code), drawn=len(mine),
            passed=sum(1 for c in mine if c.result == "passed"),
            failed=sum(1 for c in mine if c.result == "failed")))

    def item(c: SpotCheck) -> str:
        if c.kind == SpotCheckKind.CLOSED_PROBLEM.value and c.problem_id:
            return str(codes.get(c.problem_id, c.item_id))
        if c.kind == SpotCheckKind.HOUSEHOLD.value and c.household_id:
            return str(heads.get(c.household_id) or c.household_id)
        return names.villages.get(c.village_code or "", c.item_id)

    failures = [SpotCheckFailure(
        group=groups.get(c.group_code, c.group_code),
        kind=SPOT_CHECK_KIND_LABELS[SpotCheckKind(c.kind)], item=item(c),
        place=names.town(c.town_code) + names.villages.get(c.village_code or "", ""),
        note=c.note or "—") for c in failed]
    return rows, failures


def _unit(plan: Plan) -> str:
    """县 for a county campaign, 乡 / 镇 for a one-town campaign."""
    if len(plan.towns) == 1:
        return plan.towns[0].name[-1:]
    return "县"


def write_daily_report(
    uow: UnitOfWork, clock: Clock, campaign_id: int, day: dt.date, out_dir: Path,
    pdf: bool = False,
) -> list[Path]:
    """Write the day's report (.docx with a trend chart, .xlsx; .pdf on request); snapshot it.

    Returns the written paths. The day's snapshot is taken first (once per day), so the next
    day's change is measured against what this report said.
    """
    from duban.adapters.documents.render import render_daily_report
    from duban.adapters.documents.xlsx import write_daily_report_xlsx

    take_daily_snapshot(uow, clock, campaign_id, day)
    figures = daily_figures(uow, campaign_id, day)
    ctx = daily_report_context(uow.session, campaign_id, day, figures)
    out_dir = Path(out_dir)
    stem = f"日报-{campaign_id}-{day.isoformat()}"
    docx = render_daily_report(ctx, out_dir / f"{stem}.docx",
                               template_dir=template_dir_for(campaign_id))
    xlsx = write_daily_report_xlsx(ctx, out_dir / f"{stem}.xlsx")
    paths = [docx, xlsx]
    if pdf:
        from duban.adapters.documents.pdf import convert_to_pdf

        paths.append(convert_to_pdf(docx, out_dir))
    return paths


# --------------------------------------------------------------------------------------------
# The full ledger (整改台账) as a workbook

LEDGER_HEADERS = (
    "问题编号", "乡镇", "村", "户编号", "问题来源", "问题类别", "类别分组", "问题描述",
    "牵头责任单位", "协办单位", "状态", "整改时限", "时限依据", "是否逾期", "排查人", "发现日期",
    "整改人", "复核人", "销号时间", "重新整改次数",
)


def ledger_rows(session: Session, campaign_id: int, as_of: dt.date) -> Iterator[dict[str, Any]]:
    """The ledger in words, one dict per problem keyed by Chinese header, by problem code."""
    from models import ProblemCoOffice

    plan = load_plan_of(session, campaign_id)
    categories = {c.code: c for c in plan.categories}
    names = names_in(session, campaign_id, plan)
    sources, town_names, office_names, villages = (names.sources, names.towns, names.offices,
                                                    names.villages)
    users = dict(session.execute(select(User.username, User.name)).all())
    co: dict[int, list[str]] = {}
    for pid, office in session.execute(
        select(ProblemCoOffice.problem_id, ProblemCoOffice.office_code)
        .join(Problem, Problem.id == ProblemCoOffice.problem_id)
        .where(Problem.campaign_id == campaign_id)
        .order_by(ProblemCoOffice.problem_id, ProblemCoOffice.office_code)
    ):
        co.setdefault(pid, []).append(office_names.get(office, office))
    open_codes = set(OPEN_CODES)
    stmt = (select(Problem).where(Problem.campaign_id == campaign_id)
            .order_by(Problem.code).execution_options(yield_per=2000))
    for p in session.scalars(stmt):
        category = categories.get(p.category)
        overdue = p.status in open_codes and p.deadline is not None and p.deadline < as_of
        yield {
            "问题编号": p.code,
            "乡镇": town_names.get(p.town_code, p.town_code),
            "村": villages.get(p.village_code, p.village_code) if p.village_code else "",
            "户编号": p.household_id or "",
            "问题来源": sources.get(p.source, p.source),
            "问题类别": category.name if category else p.category,
            "类别分组": category.group if category else "",
            "问题描述": p.description,
            "牵头责任单位": office_names.get(p.lead_office, p.lead_office) if p.lead_office
            else "（待交办）",
            "协办单位": "、".join(co.get(p.id, [])),
            "状态": STATUS_LABELS[Status(p.status)],
            "整改时限": p.deadline,
            "时限依据": p.deadline_basis or (p.unrouted_reason or ""),
            "是否逾期": overdue,
            "排查人": users.get(p.found_by, p.found_by),
            "发现日期": p.found_on,
            "整改人": users.get(p.rectified_by, p.rectified_by) if p.rectified_by else "",
            "复核人": users.get(p.review_passed_by, p.review_passed_by)
            if p.review_passed_by else "",
            "销号时间": p.closed_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
            if p.closed_at else "",
            "重新整改次数": p.reopen_count,
        }


def write_ledger(uow: UnitOfWork, campaign_id: int, out_path: Path,
                 as_of: dt.date | None = None) -> Path:
    """Write the whole 整改台账 (.xlsx): names, not codes; a filter and a frozen header.

    `as_of` is the day the 是否逾期 column is judged on; by default the day of the newest
    move on the ledger (callers with a clock pass local_today(clock)).
    """
    from duban.adapters.documents.xlsx import write_ledger_xlsx

    session = uow.session
    _campaign_or_fail(session, campaign_id)
    if as_of is None:
        newest = session.scalar(
            select(func.max(AuditEvent.at)).where(AuditEvent.campaign_id == campaign_id)
        )
        as_of = newest.astimezone(CHINA_TZ).date() if newest else dt.date.min
    return write_ledger_xlsx(ledger_rows(session, campaign_id, as_of), Path(out_path),
                             headers=LEDGER_HEADERS)
