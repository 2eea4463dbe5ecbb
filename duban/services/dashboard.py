"""Read-only, scoped queries behind the web pages: dashboard, ledger, waiting-on board, trend,
visit coverage. Nothing here writes; every query goes through `duban.services.scoping`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from duban.domain.errors import NotFound, PermissionDenied
from duban.domain.lifecycle import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    STATUS_LABELS,
    Role,
    Status,
)
from duban.domain.plan import STAGE_KIND_LABELS, Plan, StageKind
from duban.domain.reminders import COLOUR_LABELS, OpenItem, fire_date
from duban.domain.workdays import CalendarNotCovered, WorkCalendar
from duban.services.calendars import working_calendar
from duban.services.campaigns import load_plan_of
from duban.services.database import Database
from duban.services.scoping import (
    Scope,
    household_clause,
    listing_clause,
    office_condition,
    office_shape,
    problem_clause,
    village_clause,
)
from models import (
    Campaign,
    CampaignStage,
    Household,
    Office,
    Problem,
    ProblemCoOffice,
    Town,
    User,
    Village,
    Visit,
)

OPEN = sorted(s.value for s in OPEN_STATUSES)
# Items still on someone's desk: open, plus unrouted, submitted and reviewed-not-closed.
PENDING = sorted({*OPEN, Status.UNROUTED.value, Status.SUBMITTED.value, Status.REVIEWED.value})
FINAL = sorted(s.value for s in FINAL_STATUSES)


# ---- names ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """Display names of a campaign's codes (towns, villages, offices, categories, sources)."""

    towns: dict[str, str]
    villages: dict[str, str]
    offices: dict[str, str]
    categories: dict[str, str]
    sources: dict[str, str]

    def town(self, code: str | None) -> str:
        """A town's name, or its code when unknown."""
        return self.towns.get(code or "", code or "")

    def village(self, code: str | None) -> str:
        """A village's name, or its code when unknown."""
        return self.villages.get(code or "", code or "")

    def office(self, code: str | None) -> str:
        """An office's name, or its code when unknown."""
        return self.offices.get(code or "", code or "")

    def category(self, code: str | None) -> str:
        """A category's name, or its code when unknown."""
        return self.categories.get(code or "", code or "")

    def source(self, code: str | None) -> str:
        """A source's name, or its code when unknown."""
        return self.sources.get(code or "", code or "")


def names_of(db: Database, campaign_id: int) -> Names:
    """The display names of a campaign's codes."""
    with db.transaction() as session:
        plan = load_plan_of(session, campaign_id)
        towns = dict(session.execute(
            select(Town.code, Town.name).where(Town.campaign_id == campaign_id)).all())
        villages = dict(session.execute(
            select(Village.code, Village.name).where(Village.campaign_id == campaign_id)
        ).all())
        offices = dict(session.execute(
            select(Office.code, Office.name).where(Office.campaign_id == campaign_id)
        ).all())
    return Names(towns=towns, villages=villages, offices=offices,
                 categories={c.code: c.name for c in plan.categories},
                 sources={s.code: s.name for s in plan.sources})


# ---- warning colours --------------------------------------------------------------------


class Band(StrEnum):
    """Where an open item stands against its deadline, mildest first."""

    NONE = "none"  # no deadline yet (unrouted)
    ON_TIME = "on_time"  # 正常
    DUE_SOON = "due_soon"  # 临期: a reminder before the deadline has fired
    OVERDUE = "overdue"  # 逾期, no warning colour yet
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"


BAND_LABELS: dict[Band, str] = {
    Band.NONE: "未定时限",
    Band.ON_TIME: "正常",
    Band.DUE_SOON: "临期",
    Band.OVERDUE: "逾期",
    Band.YELLOW: COLOUR_LABELS["yellow"],
    Band.ORANGE: COLOUR_LABELS["orange"],
    Band.RED: COLOUR_LABELS["red"],
}
BAND_ORDER = tuple(Band)


@dataclass(frozen=True)
class Bands:
    """Deadline thresholds that put an open item in a band on a day.

    An item is in the most severe band whose threshold its deadline is on or before. The
    thresholds come from the plan's reminder ladder (rungs with a working-day offset), so the
    dashboard colours agree with the reminders offices receive.
    """

    today: dt.date
    thresholds: tuple[tuple[Band, dt.date], ...]  # most severe first

    def band(self, deadline: dt.date | None) -> Band:
        """The band of an open item with this deadline."""
        if deadline is None:
            return Band.NONE
        for band, limit in self.thresholds:
            if deadline <= limit:
                return band
        return Band.ON_TIME


def _latest_deadline_fired(rung_offset: int, today: dt.date, calendar: WorkCalendar,
                           rung: object) -> dt.date:
    """The latest deadline for which a rung with this offset has fired by `today`."""
    from duban.domain.plan import ReminderRung

    assert isinstance(rung, ReminderRung)
    span = abs(rung_offset) * 3 + 20
    low, high = today - dt.timedelta(days=span), today + dt.timedelta(days=span)
    # fire_date grows with the deadline, so the fired deadlines are a prefix: bisect it.
    while (high - low).days > 1:
        mid = low + (high - low) // 2
        item = OpenItem(problem_id=0, office="", assigned_on=mid, deadline=mid)
        if fire_date(rung, item, calendar) <= today:
            low = mid
        else:
            high = mid
    return low


def bands_for(plan: Plan, today: dt.date, calendar: WorkCalendar | None = None) -> Bands:
    """The colour thresholds of a plan's reminder ladder on a day."""
    calendar = calendar or working_calendar()
    limits: dict[Band, dt.date] = {Band.OVERDUE: today - dt.timedelta(days=1)}
    try:
        for rung in plan.reminders.rungs:
            if rung.offset_working_days is None:
                continue  # share-of-time rungs depend on each item's start; not a band
            limit = _latest_deadline_fired(rung.offset_working_days, today, calendar, rung)
            if rung.colour in {"yellow", "orange", "red"}:
                band = Band(rung.colour)
            elif rung.offset_working_days < 0:
                band = Band.DUE_SOON
            else:
                continue
            limits[band] = max(limits.get(band, limit), limit)
    except CalendarNotCovered:
        pass  # outside the calendar's years: overdue stays, colours cannot be placed
    ordered = sorted(limits.items(), key=lambda kv: -BAND_ORDER.index(kv[0]))
    return Bands(today=today, thresholds=tuple(ordered))


def _band_case(bands: Bands) -> ColumnElement[str]:
    """The band of a row in SQL; only open items have one (others get ""), so that grouping
    by it does not multiply the groups of closed items."""
    whens = [(Problem.deadline <= limit, literal(band.value)) for band, limit in bands.thresholds]
    return case((Problem.status.not_in(OPEN), literal("")),
                (Problem.deadline.is_(None), literal(Band.NONE.value)), *whens,
                else_=literal(Band.ON_TIME.value))


# ---- the dashboard ----------------------------------------------------------------------


@dataclass(frozen=True)
class StageInfo:
    """A campaign stage with where today falls."""

    seq: int
    kind: str
    kind_label: str
    name: str
    start: dt.date
    end: dt.date
    state: str  # done / current / coming

    @property
    def state_label(self) -> str:
        """The state in Chinese."""
        return {"done": "已结束", "current": "进行中", "coming": "未开始"}[self.state]


@dataclass
class Progress:
    """Counts for one town or office (or the whole scope)."""

    code: str
    name: str
    total: int = 0
    closed: int = 0
    voided: int = 0
    pending: int = 0
    submitted: int = 0
    overdue: int = 0
    bands: dict[str, int] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        """Items that count toward progress (voided ones are not problems after all)."""
        return self.total - self.voided

    @property
    def closed_rate(self) -> float:
        """Share of counted items closed (销号率), 0..1."""
        return self.closed / self.counted if self.counted else 0.0

    @property
    def worst(self) -> str:
        """The most severe band with any items, for colouring a row."""
        for band in reversed(BAND_ORDER):
            if self.bands.get(band.value):
                return band.value
        return Band.ON_TIME.value


@dataclass(frozen=True)
class WaitingLine:
    """One line of the waiting-on board: whose move, which step, how many, since when."""

    party: str  # who must move: an office's name or 县级办公室 / 复核人
    party_code: str
    status: str
    step: str  # the move awaited, in Chinese
    count: int
    oldest_since: dt.datetime


# Whose move it is in each pending status: the lead office, or a county role (by label).
WAITING_STEP: dict[Status, tuple[str | None, str]] = {
    Status.UNROUTED: ("县级办公室", "交办"),
    Status.ROUTED: (None, "签收"),
    Status.RECTIFYING: (None, "整改"),
    Status.DISPUTED: ("县级办公室", "裁定改派申请"),
    Status.EXTENSION_REQUESTED: ("县级办公室", "审批延期"),
    Status.SUBMITTED: ("复核人（督查组／县级办公室）", "复核"),
    Status.REVIEWED: ("县级办公室", "销号"),
}


@dataclass(frozen=True)
class TrendPoint:
    """One day of the trend: found and closed that day, and still pending at its end."""

    day: dt.date
    found: int
    closed: int
    pending: int


@dataclass
class Dashboard:
    """Everything the dashboard page shows, for one scope and day."""

    campaign_id: int
    campaign_name: str
    document_number: str
    issuer: str
    today: dt.date
    stages: list[StageInfo]
    total: Progress
    by_status: dict[str, int]
    towns: list[Progress]
    offices: list[Progress]
    waiting: list[WaitingLine]
    trend: list[TrendPoint]

    @property
    def current_stage(self) -> StageInfo | None:
        """The stage today falls in (the latest-starting one if stages overlap)."""
        current = [s for s in self.stages if s.state == "current"]
        return current[-1] if current else None

    @property
    def bands(self) -> list[tuple[str, str, int]]:
        """(band, label, count) of pending items with a deadline, most severe first."""
        return [(b.value, BAND_LABELS[b], self.total.bands.get(b.value, 0))
                for b in reversed(BAND_ORDER) if b is not Band.NONE]


def _stages(session: Session, campaign_id: int, today: dt.date) -> list[StageInfo]:
    rows = session.scalars(select(CampaignStage).where(CampaignStage.campaign_id == campaign_id)
                           .order_by(CampaignStage.seq))
    return [
        StageInfo(seq=s.seq, kind=s.kind, kind_label=STAGE_KIND_LABELS[StageKind(s.kind)],
                  name=s.name, start=s.start, end=s.end,
                  state="done" if s.end < today else "current" if s.start <= today
                  else "coming")
        for s in rows
    ]


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    return campaign


@dataclass(frozen=True)
class Cell:
    """Problems of one village (or town-level place), lead office, status and band."""

    town: str
    village: str | None
    office: str | None
    status: str
    band: str
    count: int
    oldest: dt.datetime | None  # the earliest last move among them (for the waiting board)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a cache key
class Cube:
    """A campaign's whole ledger counted by place, lead office, status and band on a day.

    One pass over the problem table; the dashboards of the county office, the supervision
    groups, every town and every village are sums over its cells (their scopes are places).
    Offices see co-routed problems too, which the cube does not hold; theirs are queried.
    """

    campaign_id: int
    today: dt.date
    cells: tuple[Cell, ...]
    # (town, village, lead office, day) -> problems found that day / closed that China day
    found: dict[tuple[str, str | None, str | None, dt.date], int]
    closed: dict[tuple[str, str | None, str | None, dt.date], int]

    @cached_property
    def by_town(self) -> dict[str, list[Cell]]:
        """The cells of each town."""
        return _group(self.cells, lambda c: c.town)

    @cached_property
    def by_village(self) -> dict[str | None, list[Cell]]:
        """The cells of each village."""
        return _group(self.cells, lambda c: c.village)

    @cached_property
    def by_office(self) -> dict[str | None, list[Cell]]:
        """The cells of each lead office."""
        return _group(self.cells, lambda c: c.office)

    @cached_property
    def sizes(self) -> dict[tuple[str, str | None], int]:
        """Problems in all, per town and per lead office: ("all", None), ("town", code), …"""
        out: dict[tuple[str, str | None], int] = defaultdict(int)
        for c in self.cells:
            out[("all", None)] += c.count
            out[("town", c.town)] += c.count
            out[("office", c.office)] += c.count
        return dict(out)

    def walked(self, scope: Scope, q: LedgerQuery, lead_only: bool) -> int:
        """How many index entries a walk in the request's order covers (its index range):
        the town's or lead office's rows when the order has an index per town or office,
        else every row of the campaign."""
        town = q.town or (scope.town if scope.role == Role.TOWN else None)
        office = q.office or (next(iter(scope.offices)) if scope.role == Role.OFFICE
                              and len(scope.offices) == 1 else None)
        if town and q.sort in (Sort.DEADLINE, Sort.CODE):
            return self.sizes.get(("town", town), 0)
        if office and lead_only and q.sort == Sort.DEADLINE:
            return self.sizes.get(("office", office), 0)
        return self.sizes.get(("all", None), 0)

    def keeps(self, scope: Scope, town: str, village: str | None, office: str | None) -> bool:
        """Whether a cell is in a scope (for offices: the problems they lead)."""
        if scope.sees_all:
            return True
        if scope.role == Role.TOWN:
            return town == scope.town
        if scope.role == Role.VILLAGE:
            return village is not None and village == scope.village
        if scope.role == Role.OFFICE:
            return office is not None and office in scope.offices
        return False


K = TypeVar("K")


def _group(cells: Iterable[Cell], key: Callable[[Cell], K]) -> dict[K, list[Cell]]:
    out: dict[K, list[Cell]] = defaultdict(list)
    for c in cells:
        out[key(c)].append(c)
    return dict(out)


def cube_count(cube: Cube, scope: Scope, q: LedgerQuery) -> int | None:
    """How many problems a ledger request matches, summed from the cube; None when the
    request filters on what the cube does not count (category, source, search text). For an
    office scope or office filter it counts lead offices only: callers check first that the
    offices are nobody's co-office (see `office_leads_only`)."""
    if q.category or q.source or q.search or q.campaign_id != cube.campaign_id:
        return None
    if scope.role not in ALL_PLACES and scope.role != Role.OFFICE:
        return None
    village = q.village or (scope.village if scope.role == Role.VILLAGE else None)
    town = q.town or (scope.town if scope.role == Role.TOWN else None)
    offices = set(scope.offices) if scope.role == Role.OFFICE else None
    if q.office:
        offices = {q.office} if offices is None else offices & {q.office}
    # Start from the narrowest slice of cells the request fixes.
    cells: Iterable[Cell]
    if village is not None:
        cells = cube.by_village.get(village, ())
    elif town is not None:
        cells = cube.by_town.get(town, ())
    elif offices is not None:
        cells = [c for o in offices for c in cube.by_office.get(o, ())]
    else:
        cells = cube.cells
    status = q.status.value if q.status is not None else None
    band = q.band.value if q.band is not None else None
    total = 0
    for c in cells:
        if ((village is not None and c.village != village)
                or (town is not None and c.town != town)
                or (offices is not None and c.office not in offices)
                or (status is not None and c.status != status)
                or (q.pending and c.status in FINAL)
                or (band is not None and (c.status not in OPEN or c.band != band))):
            continue
        total += c.count
    return total


ALL_PLACES = frozenset({Role.COUNTY, Role.SUPERVISOR, Role.TOWN, Role.VILLAGE})


def office_shapes(db: Database, campaign_id: int,
                  groups: Iterable[frozenset[str]]) -> dict[frozenset[str], str]:
    """office_shape for groups of offices ("lead": they are nobody's co-office)."""
    with db.transaction() as session:
        return {g: office_shape(session, campaign_id, g) for g in groups if g}


def ledger_cube(db: Database, campaign_id: int, today: dt.date, *,
                plan: Plan | None = None) -> Cube:
    """Count the whole ledger of a campaign by place, office, status and band (one pass)."""
    with db.transaction() as session:
        _campaign(session, campaign_id)
        plan = plan or load_plan_of(session, campaign_id)
        bands = bands_for(plan, today)
        _roomy_sorts(session)
        band = _band_case(bands).label("band")
        where = Problem.campaign_id == campaign_id
        cells = tuple(
            Cell(town, village, office, status, band_value, int(n), oldest)
            for town, village, office, status, band_value, n, oldest in session.execute(
                select(Problem.town_code, Problem.village_code, Problem.lead_office,
                       Problem.status, band, func.count(), func.min(Problem.updated_at))
                .where(where)
                .group_by(Problem.town_code, Problem.village_code, Problem.lead_office,
                          Problem.status, band))
        )
        place = (Problem.town_code, Problem.village_code, Problem.lead_office)
        found = {(t, v, o, d): int(n) for t, v, o, d, n in session.execute(
            select(*place, Problem.found_on, func.count())
            .where(where).group_by(*place, Problem.found_on))}
        day = _china_day(session, Problem.closed_at)
        closed = {(t, v, o, _as_date(d)): int(n) for t, v, o, d, n in session.execute(
            select(*place, day, func.count())
            .where(where, Problem.status == Status.CLOSED.value, Problem.closed_at.is_not(None))
            .group_by(*place, day))}
    return Cube(campaign_id=campaign_id, today=today, cells=cells, found=found, closed=closed)


def dashboard(db: Database, scope: Scope, campaign_id: int, today: dt.date, *,
              plan: Plan | None = None, names: Names | None = None,
              cube: Cube | None = None) -> Dashboard:
    """Stage, progress per town and office, warning bands, waiting-on board and trend.

    `plan`, `names` and a `cube` of the same day may be handed in by callers that keep them;
    with a cube, scopes that are places are summed from it without touching the ledger.
    """
    names = names or names_of(db, campaign_id)
    with db.transaction() as session:
        campaign = _campaign(session, campaign_id)
        plan = plan or load_plan_of(session, campaign_id)
        stages = _stages(session, campaign_id, today)
        rows: list[tuple[Any, ...]] = []
        if cube is not None and cube.today == today:
            rows = [(c.town, c.office, c.status, c.band, c.count, c.oldest)
                    for c in cube.cells if cube.keeps(scope, c.town, c.village, c.office)]
            found: dict[dt.date, int] = defaultdict(int)
            for (t, v, o, d), n in cube.found.items():
                if cube.keeps(scope, t, v, o):
                    found[d] += n
            closed: dict[dt.date, int] = defaultdict(int)
            for (t, v, o, d), n in cube.closed.items():
                if cube.keeps(scope, t, v, o):
                    closed[d] += n
        if cube is not None and cube.today == today and scope.role == Role.OFFICE:
            # An office also sees what it is only a co-office of: not in the cube (which
            # counts lead offices), few, and found through the co-office index.
            mine = sorted(scope.offices)
            _roomy_sorts(session)
            band = _band_case(bands_for(plan, today)).label("band")
            co = and_(Problem.campaign_id == campaign_id, Problem.id.in_(
                select(ProblemCoOffice.problem_id).where(
                    ProblemCoOffice.office_code.in_(mine))),
                or_(Problem.lead_office.is_(None), Problem.lead_office.not_in(mine)))
            rows += [tuple(r) for r in session.execute(
                select(Problem.town_code, Problem.lead_office, Problem.status, band,
                       func.count(), func.min(Problem.updated_at))
                .where(co)
                .group_by(Problem.town_code, Problem.lead_office, Problem.status, band))]
            for counts, extra in zip((found, closed), _trend_counts(session, co), strict=True):
                for d, n in extra.items():
                    counts[d] = counts.get(d, 0) + n
        elif cube is None or cube.today != today:
            _roomy_sorts(session)
            band = _band_case(bands_for(plan, today)).label("band")
            where = and_(Problem.campaign_id == campaign_id, problem_clause(scope))
            rows = [tuple(r) for r in session.execute(
                select(Problem.town_code, Problem.lead_office, Problem.status, band,
                       func.count(), func.min(Problem.updated_at))
                .where(where)
                .group_by(Problem.town_code, Problem.lead_office, Problem.status, band)
            )]
            found, closed = _trend_counts(session, where)
    voided = sum(r[4] for r in rows if r[2] == Status.VOIDED.value)
    trend = _trend_points(found, closed, voided, plan, today)

    total = Progress(code="", name="合计")
    towns: dict[str, Progress] = {}
    offices: dict[str, Progress] = {}
    by_status: dict[str, int] = defaultdict(int)
    waiting: dict[tuple[str, str], WaitingLine] = {}
    for town, office, status, band_value, count, oldest in rows:
        by_status[status] += count
        lines = [total, towns.setdefault(town, Progress(code=town, name=names.town(town)))]
        if office:
            lines.append(offices.setdefault(office, Progress(code=office,
                                                             name=names.office(office))))
        for p in lines:
            _add(p, status, band_value, count)
        st = Status(status)
        if st in WAITING_STEP:
            who, step = WAITING_STEP[st]
            party_code = "" if who else (office or "")
            key = (party_code or (who or ""), status)
            was = waiting.get(key)
            since = oldest if was is None else min(
                (t for t in (was.oldest_since, oldest) if t is not None), default=None)
            waiting[key] = WaitingLine(
                party=who or names.office(office), party_code=party_code, status=status,
                step=step, count=(was.count if was else 0) + count,
                oldest_since=since)  # type: ignore[arg-type]
    far_past = dt.datetime.min.replace(tzinfo=dt.UTC)
    board = sorted(waiting.values(), key=lambda w: (w.oldest_since or far_past, -w.count))
    return Dashboard(
        campaign_id=campaign.id, campaign_name=campaign.name,
        document_number=campaign.document_number, issuer=campaign.issuer, today=today,
        stages=stages, total=total,
        by_status={STATUS_LABELS[Status(k)]: v for k, v in sorted(
            by_status.items(), key=lambda kv: list(Status).index(Status(kv[0])))},
        towns=sorted(towns.values(), key=lambda p: p.code),
        offices=sorted(offices.values(), key=lambda p: (-p.overdue, -p.pending, p.code)),
        waiting=board, trend=trend,
    )


def _roomy_sorts(session: Session) -> None:
    # The aggregates group a million rows into a few thousand groups; PostgreSQL's default
    # 4 MB work_mem makes it sort them on disk instead of hashing them in memory (3x slower).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '64MB'"))


def _add(p: Progress, status: str, band: str, count: int) -> None:
    p.total += count
    if status == Status.CLOSED.value:
        p.closed += count
    elif status == Status.VOIDED.value:
        p.voided += count
    else:
        p.pending += count
        if status == Status.SUBMITTED.value:
            p.submitted += count
        if status in OPEN:
            p.bands[band] = p.bands.get(band, 0) + count
            if band in {Band.OVERDUE.value, Band.YELLOW.value, Band.ORANGE.value,
                        Band.RED.value}:
                p.overdue += count


def _china_day(session: Session, column: Any) -> ColumnElement[Any]:
    # Timestamps are stored as naive UTC; the day an office lives in is the China date.
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column, "+8 hours")
    return func.date(column + literal_column("interval '8 hours'"))


def _trend_counts(session: Session, where: ColumnElement[bool]
                  ) -> tuple[dict[dt.date, int], dict[dt.date, int]]:
    """Problems found per day and closed per (China) day, within a WHERE clause."""
    found = {d: int(n) for d, n in session.execute(
        select(Problem.found_on, func.count()).where(where).group_by(Problem.found_on))}
    day = _china_day(session, Problem.closed_at)
    closed = {_as_date(d): int(n) for d, n in session.execute(
        select(day, func.count()).where(where, Problem.status == Status.CLOSED.value,
                                        Problem.closed_at.is_not(None)).group_by(day))}
    return found, closed


def _trend_points(found: dict[dt.date, int], closed: dict[dt.date, int], voided: int,
                  plan: Plan, today: dt.date) -> list[TrendPoint]:
    """Daily found, closed and still pending, from the campaign's start (90 days at most)."""
    start = max(plan.start, today - dt.timedelta(days=90))
    if today < start:
        return []
    pending = sum(n for d, n in found.items() if d < start) - sum(
        n for d, n in closed.items() if d < start)
    points = []
    day = start
    while day <= today:
        f, c = found.get(day, 0), closed.get(day, 0)
        pending += f - c
        points.append(TrendPoint(day=day, found=f, closed=c, pending=max(pending, 0)))
        day += dt.timedelta(days=1)
    if points and voided:
        # Voided items never close; take them off the running count at the end only.
        last = points[-1]
        points[-1] = TrendPoint(last.day, last.found, last.closed, max(last.pending - voided, 0))
    return points


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


# ---- the ledger -------------------------------------------------------------------------


class Sort(StrEnum):
    """Orders the ledger can be sorted by (each has an index to walk)."""

    DEADLINE = "deadline"
    CODE = "code"
    FOUND_ON = "found_on"
    UPDATED = "updated"


SORT_LABELS: dict[Sort, str] = {
    Sort.DEADLINE: "整改时限",
    Sort.CODE: "问题编号",
    Sort.FOUND_ON: "发现日期",
    Sort.UPDATED: "最近办理",
}


@dataclass(frozen=True)
class LedgerQuery:
    """A ledger request: filters, search, sort and page."""

    campaign_id: int
    town: str | None = None
    village: str | None = None
    office: str | None = None
    status: Status | None = None
    category: str | None = None
    source: str | None = None
    band: Band | None = None
    pending: bool = False  # only items still on someone's desk (not closed or voided)
    search: str | None = None
    sort: Sort = Sort.DEADLINE
    descending: bool = False
    page: int = 1
    per_page: int = 50

    def count_key(self) -> tuple[object, ...]:
        """What the total depends on (not the sort or the page), for caching counts."""
        return (self.campaign_id, self.town, self.village, self.office, self.status,
                self.category, self.source, self.band, self.pending, self.search)


@dataclass(frozen=True)
class LedgerRow:
    """One row of the ledger page."""

    id: int
    code: str
    status: str
    status_label: str
    category: str
    source: str
    town_code: str
    village_code: str | None
    household_id: str | None
    description: str
    lead_office: str | None
    deadline: dt.date | None
    found_on: dt.date
    updated_at: dt.datetime
    version: int
    band: str


def ledger_select(session: Session, scope: Scope, q: LedgerQuery, today: dt.date,
                  bands: Bands | None = None, *,
                  shapes: Mapping[frozenset[str], str] | None = None) -> Select[Any]:
    """The scoped SELECT of the ledger's rows (without order or page), shared with exports.

    `shapes` may carry office_shape answers (by frozenset of office codes) a caller keeps.
    """
    stmt = select(Problem).where(Problem.campaign_id == q.campaign_id,
                                 listing_clause(session, scope, q.campaign_id, shapes=shapes))
    if q.town:
        stmt = stmt.where(Problem.town_code == q.town)
    if q.village:
        stmt = stmt.where(Problem.village_code == q.village)
    if q.office:
        stmt = stmt.where(office_condition(session, q.campaign_id, [q.office],
                                           shape=(shapes or {}).get(frozenset({q.office}))))
    if q.status is not None:
        stmt = stmt.where(Problem.status == q.status.value)
    if q.pending:
        stmt = stmt.where(Problem.status.in_(PENDING))
    if q.category:
        stmt = stmt.where(Problem.category == q.category)
    if q.source:
        stmt = stmt.where(Problem.source == q.source)
    if q.band is not None:
        stmt = stmt.where(Problem.status.in_(OPEN))
        stmt = stmt.where(_band_filter(q.band, bands or Bands(today, ((Band.OVERDUE, today
                                                                        - dt.timedelta(1)),))))
    if q.search:
        term = q.search.strip()
        like = f"%{_escape_like(term)}%"
        stmt = stmt.where(or_(Problem.code == term, Problem.household_id == term,
                              Problem.description.like(like, escape="\\")))
    return stmt


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _band_filter(band: Band, bands: Bands) -> ColumnElement[bool]:
    """Open items in exactly this band."""
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


def _order(q: LedgerQuery, dense: bool = True) -> list[Any]:
    """ORDER BY of a ledger request.

    When few rows match (`dense` False), the sort column is wrapped so that no index can
    serve the order: the planner then fetches the matches through the filters' indexes and
    sorts them, instead of walking the whole sort index in the hope of meeting matches early
    (which, for a filter that matches nothing, means reading all of it).
    """
    column: Any = {Sort.DEADLINE: Problem.deadline, Sort.CODE: Problem.code,
                   Sort.FOUND_ON: Problem.found_on, Sort.UPDATED: Problem.updated_at}[q.sort]
    if not dense:
        column = func.coalesce(column, column)
    if q.descending:
        return [column.desc(), Problem.id.desc()]
    return [column.asc(), Problem.id.asc()]


def ledger_count(db: Database, scope: Scope, q: LedgerQuery, today: dt.date, *,
                 bands: Bands | None = None, cap: int | None = None) -> int:
    """How many problems a ledger request matches; with `cap`, counting stops past it.

    A capped count answers cap + 1 when there are more: counting a million rows exactly for
    every filter a clerk tries costs more than the page itself.
    """
    with db.transaction() as session:
        bands = bands or _bands_if(session, q, today)
        inner = ledger_select(session, scope, q, today, bands).with_only_columns(Problem.id)
        if cap is not None:
            inner = inner.limit(cap + 1)
        return int(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)


def _bands_if(session: Session, q: LedgerQuery, today: dt.date) -> Bands | None:
    return bands_for(load_plan_of(session, q.campaign_id), today) if q.band else None


# Fewer matches than this: fetch them all through the filters and sort them (see _order).
SPARSE = 2000


def walk_sort_index(scope: Scope, q: LedgerQuery, matches: int | None,
                    walked: int | None = None) -> bool:
    """Whether a page is best found by walking the sort's index, or by fetching every match
    through the filters' indexes and sorting them (see _order).

    A walk reads about (offset + page) × walked / matches entries, each a random row; the
    other way reads the matches. With both numbers known (the cube has them) the cheaper
    wins. Without them: walk unless few rows match, or one village's rows are wanted in code
    order (codes follow import order, and a village's codes are one stretch of the code
    index that a walk may reach only at its end).
    """
    if matches is not None and matches <= SPARSE:
        return False
    if matches is not None and walked is not None:
        reach = (max(q.page, 1) - 1) * q.per_page + q.per_page
        return reach * walked / max(matches, 1) <= matches
    return not (q.sort == Sort.CODE and (q.village or scope.role == Role.VILLAGE))


def ledger_rows(db: Database, scope: Scope, q: LedgerQuery, today: dt.date, *,
                bands: Bands | None = None, matches: int | None = None,
                walked: int | None = None,
                shapes: Mapping[frozenset[str], str] | None = None) -> list[LedgerRow]:
    """One page of the ledger; `matches` (how many problems match) and `walked` (see
    Cube.walked), when known, choose how the page is found."""
    if matches is not None and matches <= (max(q.page, 1) - 1) * q.per_page:
        return []  # past the last page
    dense = walk_sort_index(scope, q, matches, walked)
    with db.transaction() as session:
        bands = bands or bands_for(load_plan_of(session, q.campaign_id), today)
        stmt = (ledger_select(session, scope, q, today, bands, shapes=shapes)
                .order_by(*_order(q, dense))
                .limit(q.per_page).offset((max(q.page, 1) - 1) * q.per_page))
        return [_row(p, bands) for p in session.scalars(stmt)]


def _row(p: Problem, bands: Bands) -> LedgerRow:
    status = Status(p.status)
    band = bands.band(p.deadline).value if status in OPEN_STATUSES else ""
    return LedgerRow(
        id=p.id, code=p.code, status=p.status, status_label=STATUS_LABELS[status],
        category=p.category, source=p.source, town_code=p.town_code,
        village_code=p.village_code, household_id=p.household_id, description=p.description,
        lead_office=p.lead_office, deadline=p.deadline, found_on=p.found_on,
        updated_at=p.updated_at, version=p.version, band=band,
    )


EXPORT_LIMIT = 100_000


def ledger_export_rows(db: Database, scope: Scope, q: LedgerQuery, today: dt.date, *,
                       bands: Bands | None = None) -> Iterator[LedgerRow]:
    """Every row a ledger request matches (up to EXPORT_LIMIT), in the page's order."""
    with db.transaction() as session:
        bands = bands or bands_for(load_plan_of(session, q.campaign_id), today)
        stmt = (ledger_select(session, scope, q, today, bands).order_by(*_order(q))
                .limit(EXPORT_LIMIT).execution_options(yield_per=2000))
        for p in session.scalars(stmt):
            yield _row(p, bands)


# ---- the waiting list -------------------------------------------------------------------


@dataclass(frozen=True)
class WaitingItem:
    """An item on someone's desk, with whose move it is and since when."""

    row: LedgerRow
    party: str
    step: str
    since: dt.datetime


def waiting_items(db: Database, scope: Scope, campaign_id: int, today: dt.date, *,
                  office: str | None = None, status: Status | None = None,
                  page: int = 1, per_page: int = 50, bands: Bands | None = None,
                  names: Names | None = None) -> tuple[int, list[WaitingItem]]:
    """Pending items, longest-waiting first, with whose move it is."""
    names = names or names_of(db, campaign_id)
    with db.transaction() as session:
        bands = bands or bands_for(load_plan_of(session, campaign_id), today)
        stmt = select(Problem).where(Problem.campaign_id == campaign_id, problem_clause(scope),
                                     Problem.status.in_(PENDING))
        if office:
            stmt = stmt.where(Problem.lead_office == office)
        if status is not None:
            stmt = stmt.where(Problem.status == status.value)
        total = int(session.scalar(select(func.count()).select_from(
            stmt.with_only_columns(Problem.id).subquery())) or 0)
        rows = session.scalars(stmt.order_by(Problem.updated_at, Problem.id)
                               .limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
        items = []
        for p in rows:
            who, step = WAITING_STEP[Status(p.status)]
            items.append(WaitingItem(row=_row(p, bands), party=who or names.office(p.lead_office),
                                     step=step, since=p.updated_at))
        return total, items


# ---- visit coverage ---------------------------------------------------------------------


@dataclass
class CoverageLine:
    """Households and visits of one village."""

    town_code: str
    town: str
    village_code: str
    village: str
    households: int = 0
    visited: int = 0
    visits: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Share of households visited at least once, 0..1."""
        return self.visited / self.households if self.households else 0.0


@dataclass
class Coverage:
    """Visit coverage (走访覆盖) of a scope."""

    lines: list[CoverageLine]
    modes: list[str]

    @property
    def households(self) -> int:
        """Households in scope."""
        return sum(line.households for line in self.lines)

    @property
    def visited(self) -> int:
        """Households visited at least once."""
        return sum(line.visited for line in self.lines)

    @property
    def rate(self) -> float:
        """Share of households visited, 0..1."""
        return self.visited / self.households if self.households else 0.0


def coverage(db: Database, scope: Scope, campaign_id: int) -> Coverage:
    """Per village: households, households visited, visits by mode (面访 / 电访 / 代答)."""
    if scope.role == Role.OFFICE:
        raise PermissionDenied("责任办室不查看走访覆盖情况")
    names = names_of(db, campaign_id)
    with db.transaction() as session:
        villages = session.execute(
            select(Village.town_code, Village.code).where(Village.campaign_id == campaign_id,
                                                          village_clause(scope))
            .order_by(Village.town_code, Village.code)).all()
        lines = {v: CoverageLine(town_code=t, town=names.town(t), village_code=v,
                                 village=names.village(v)) for t, v in villages}
        for village, n in session.execute(
            select(Household.village_code, func.count())
            .where(Household.campaign_id == campaign_id, household_clause(scope))
            .group_by(Household.village_code)
        ):
            if village in lines:
                lines[village].households = n
        visit_village = (select(Visit.household_id, Visit.mode, Household.village_code)
                         .join(Household, and_(Household.campaign_id == Visit.campaign_id,
                                               Household.household_id == Visit.household_id))
                         .where(Visit.campaign_id == campaign_id,
                                household_clause(scope)).subquery())
        for village, n_visited, n_visits in session.execute(
            select(visit_village.c.village_code,
                   func.count(func.distinct(visit_village.c.household_id)), func.count())
            .group_by(visit_village.c.village_code)
        ):
            if village in lines:
                lines[village].visited, lines[village].visits = n_visited, n_visits
        modes: set[str] = set()
        for village, mode, n in session.execute(
            select(visit_village.c.village_code, visit_village.c.mode, func.count())
            .group_by(visit_village.c.village_code, visit_village.c.mode)
        ):
            if village in lines:
                lines[village].by_mode[mode] = n
                modes.add(mode)
    return Coverage(lines=list(lines.values()), modes=sorted(modes))


# ---- small lookups ----------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """A code and its label, for filter drop-downs."""

    code: str
    label: str


def filter_choices(db: Database, scope: Scope, campaign_id: int) -> dict[str, list[Choice]]:
    """The towns, villages, offices, categories and sources a scope may filter by."""
    names = names_of(db, campaign_id)
    with db.transaction() as session:
        villages = session.execute(
            select(Village.code, Village.name).where(Village.campaign_id == campaign_id,
                                                     village_clause(scope))
            .order_by(Village.town_code, Village.code)).all()
        town_codes = session.scalars(
            select(Village.town_code).where(Village.campaign_id == campaign_id,
                                            village_clause(scope)).distinct()).all()
        offices = session.execute(
            select(Office.code, Office.name).where(Office.campaign_id == campaign_id,
                                                   Office.level != "village")
            .order_by(Office.level, Office.code)).all()
    if scope.role == Role.OFFICE:
        offices = [o for o in offices if o[0] in scope.offices]
    return {
        "towns": [Choice(t, names.town(t)) for t in sorted(town_codes)],
        "villages": [Choice(c, n) for c, n in villages],
        "offices": [Choice(c, n) for c, n in offices],
        "categories": [Choice(c, n) for c, n in names.categories.items()],
        "sources": [Choice(c, n) for c, n in names.sources.items()],
        "statuses": [Choice(s.value, STATUS_LABELS[s]) for s in Status],
        "bands": [Choice(b.value, BAND_LABELS[b]) for b in reversed(BAND_ORDER)],
    }


# ---- one problem ------------------------------------------------------------------------


@dataclass(frozen=True)
class EventLine:
    """One step of a problem's timeline, from the audit trail."""

    at: dt.datetime
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_name: str
    actor_role: str
    note: str
    evidence: tuple[str, ...]
    data: dict[str, object]


@dataclass(frozen=True)
class EvidenceLine:
    """A supporting file of a problem."""

    id: int
    sha256: str
    filename: str
    content_type: str
    size: int
    phase: str
    uploaded_by: str
    uploaded_at: dt.datetime

    @property
    def is_image(self) -> bool:
        """Whether browsers can show it inline."""
        return self.content_type in {"image/jpeg", "image/png"}


@dataclass(frozen=True)
class NoticeLine:
    """A notice (督办通知书 etc.) that lists a problem."""

    id: int
    number: str
    kind: str
    title: str
    office_code: str
    issued_on: dt.date
    voided: bool


@dataclass(frozen=True)
class HouseholdLine:
    """The household a problem is about, as far as the scope may see it."""

    household_id: str
    head: str
    members: int
    category: str
    monitoring_type: str | None


@dataclass(frozen=True)
class ProblemDetail:
    """Everything the problem page shows."""

    problem: LedgerRow
    campaign_id: int
    found_by: str
    detection_rule: str | None
    facts: dict[str, object] | None
    tier: str | None
    deadline_basis: str | None
    unrouted_reason: str | None
    submitted_by: str | None
    rectified_by: str | None
    review_passed_by: str | None
    closed_at: dt.datetime | None
    reopen_count: int
    routed_at: dt.datetime | None
    co_offices: list[str]
    events: list[EventLine]
    evidence: list[EvidenceLine]
    notices: list[NoticeLine]
    household: HouseholdLine | None
    requested_deadline: dt.date | None
    people: dict[str, str] = field(default_factory=dict)  # username -> name, for signatures

    def who(self, username: str | None) -> str:
        """A signer's name (their username when unknown, 系统 for duban itself)."""
        if not username:
            return ""
        if username == "system":
            return "系统"
        return self.people.get(username, username)

    @property
    def before(self) -> list[EvidenceLine]:
        """Evidence of the state before rectification."""
        return [e for e in self.evidence if e.phase == "before"]

    @property
    def after(self) -> list[EvidenceLine]:
        """Evidence of the rectification."""
        return [e for e in self.evidence if e.phase != "before"]


def problem_detail(db: Database, scope: Scope, problem_id: int,
                   today: dt.date) -> ProblemDetail:
    """A problem the scope may see, with its routing, timeline, evidence and notices."""
    from duban.services.scoping import visible_problem
    from models import AuditEvent, Evidence

    with db.transaction() as session:
        p = visible_problem(session, scope, problem_id)
        bands = bands_for(load_plan_of(session, p.campaign_id), today)
        co = list(session.scalars(select(ProblemCoOffice.office_code)
                                  .where(ProblemCoOffice.problem_id == p.id)
                                  .order_by(ProblemCoOffice.office_code)))
        events = [
            EventLine(at=e.at, action=e.action, from_status=e.from_status, to_status=e.to_status,
                      actor=e.actor, actor_name=e.actor_name, actor_role=e.actor_role,
                      note=e.note, evidence=tuple(e.evidence or ()), data=dict(e.data or {}))
            for e in session.scalars(select(AuditEvent).where(AuditEvent.problem_id == p.id)
                                     .order_by(AuditEvent.at, AuditEvent.id))
        ]
        evidence = [
            EvidenceLine(id=e.id, sha256=e.sha256, filename=e.filename,
                         content_type=e.content_type, size=e.size, phase=e.phase,
                         uploaded_by=e.uploaded_by, uploaded_at=e.uploaded_at)
            for e in session.scalars(select(Evidence).where(Evidence.problem_id == p.id)
                                     .order_by(Evidence.uploaded_at, Evidence.id))
        ]
        household = None
        if p.household_id:
            h = session.scalar(select(Household).where(
                Household.campaign_id == p.campaign_id, Household.household_id == p.household_id))
            if h is not None:
                household = HouseholdLine(household_id=h.household_id, head=h.head,
                                          members=h.members, category=h.category,
                                          monitoring_type=h.monitoring_type)
        requested = None
        if p.status == Status.EXTENSION_REQUESTED.value:
            for e in reversed(events):
                if e.action == "request_extension" and e.data.get("deadline"):
                    requested = dt.date.fromisoformat(str(e.data["deadline"]))
                    break
        usernames = {e.actor for e in events} | {e.uploaded_by for e in evidence} | {
            u for u in (p.submitted_by, p.rectified_by, p.review_passed_by) if u}
        people = dict(session.execute(
            select(User.username, User.name).where(User.username.in_(sorted(usernames)))).all())
        return ProblemDetail(
            people=people,
            problem=_row(p, bands), campaign_id=p.campaign_id, found_by=p.found_by,
            detection_rule=p.detection_rule, facts=p.facts, tier=p.tier,
            deadline_basis=p.deadline_basis, unrouted_reason=p.unrouted_reason,
            submitted_by=p.submitted_by, rectified_by=p.rectified_by,
            review_passed_by=p.review_passed_by, closed_at=p.closed_at,
            reopen_count=p.reopen_count, routed_at=p.routed_at, co_offices=co, events=events,
            evidence=evidence, notices=_notices_listing(session, p.id), household=household,
            requested_deadline=requested,
        )


def _notices_listing(session: Session, problem_id: int) -> list[NoticeLine]:
    from models import Notice

    rows = session.scalars(
        select(Notice).where(Notice.id.in_(_notice_ids_for(problem_id)))
        .order_by(Notice.issued_at, Notice.id))
    return [NoticeLine(id=n.id, number=n.number, kind=n.kind, title=n.title,
                       office_code=n.office_code, issued_on=n.issued_on, voided=n.voided)
            for n in rows]


def _notice_ids_for(problem_id: int) -> Select[Any]:
    from models import NoticeProblem

    return select(NoticeProblem.notice_id).where(NoticeProblem.problem_id == problem_id)


@dataclass(frozen=True)
class CampaignChoice:
    """A campaign in the selector."""

    id: int
    name: str
    document_number: str


def campaign_choices(db: Database) -> list[CampaignChoice]:
    """All campaigns, newest first (cheap: no counts)."""
    with db.transaction() as session:
        return [CampaignChoice(id=i, name=n, document_number=d) for i, n, d in session.execute(
            select(Campaign.id, Campaign.name, Campaign.document_number)
            .order_by(Campaign.id.desc()))]
