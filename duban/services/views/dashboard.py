"""The dashboard (总览): stages, progress per town and office, warning bands, the waiting-on
board and the trend, for one scope and day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from duban.domain.bands import BAND_ORDER, OVERDUE_BANDS, Band, worst_band
from duban.domain.clock import CHINA_TZ
from duban.domain.lifecycle import STATUS_LABELS, Status
from duban.domain.plan import STAGE_KIND_LABELS, Plan, StageKind
from duban.services.campaigns import CLOSED, load_plan_of
from duban.services.scoping import Scope, co_routed, problem_clause, reach_of
from duban.services.views.common import (
    OPEN,
    as_date,
    band_case,
    campaign_row,
    china_day,
    plan_bands,
    roomy_sorts,
)
from duban.services.views.cube import Cube
from duban.services.views.names import Names, names_in
from duban.services.views.waiting import WAITING_STEP
from models import CampaignStage, Problem


@dataclass(frozen=True)
class StageInfo:
    """A campaign stage with where today falls."""

    seq: int
    kind: str
    kind_label: str
    name: str
    start: dt.date
    end: dt.date | None  # None: runs until the campaign is closed (适时调整)
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
        return worst_band(self.bands).value

    def add(self, status: str, band: str, count: int) -> None:
        """Count `count` items of a status and band."""
        self.total += count
        if status == Status.CLOSED.value:
            self.closed += count
        elif status == Status.VOIDED.value:
            self.voided += count
        else:
            self.pending += count
            if status == Status.SUBMITTED.value:
                self.submitted += count
            if status in OPEN:
                self.bands[band] = self.bands.get(band, 0) + count
                if band in OVERDUE_BANDS:
                    self.overdue += count


@dataclass(frozen=True)
class WaitingLine:
    """One line of the waiting-on board: whose move, which step, how many, since when."""

    party: str  # who must move: an office's name or 县级办公室 / 复核人
    party_code: str
    status: str
    step: str  # the move awaited, in Chinese
    count: int
    oldest_since: dt.datetime


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
    closed_on: dt.date | None = None  # the day the campaign was closed (总结), if it is
    villages: list[Progress] = field(default_factory=list)  # a town's own villages

    @property
    def current_stage(self) -> StageInfo | None:
        """The stage today falls in (the latest-starting one if stages overlap)."""
        current = [s for s in self.stages if s.state == "current"]
        return current[-1] if current else None

    @property
    def bands(self) -> list[tuple[str, str, int]]:
        """(band, label, count) of pending items with a deadline, most severe first."""
        return [(b.value, b.label, self.total.bands.get(b.value, 0))
                for b in reversed(BAND_ORDER) if b is not Band.NONE]


def _stages(session: Session, campaign_id: int, today: dt.date) -> list[StageInfo]:
    rows = session.scalars(select(CampaignStage).where(CampaignStage.campaign_id == campaign_id)
                           .order_by(CampaignStage.seq))
    return [
        StageInfo(seq=s.seq, kind=s.kind, kind_label=STAGE_KIND_LABELS[StageKind(s.kind)],
                  name=s.name, start=s.start, end=s.end,
                  state="done" if s.end is not None and s.end < today
                  else "current" if s.start <= today
                  else "coming")
        for s in rows
    ]


# (town, lead office, status, band, count, oldest last move, village or None)
Row = tuple[Any, ...]


def _from_cube(cube: Cube, scope: Scope) -> tuple[list[Row], dict[dt.date, int],
                                                  dict[dt.date, int]]:
    """The scope's rows and trend counts summed from the cube (lead offices only)."""
    reach = reach_of(scope)
    rows: list[Row] = [(town, office, status, band, count, oldest, village)
                       for town, village, office, status, band, count, oldest, _
                       in cube.reached(reach)]
    if not reach.covers(cube.campaign_id):
        return rows, {}, {}
    found: dict[dt.date, int] = defaultdict(int)
    closed: dict[dt.date, int] = defaultdict(int)
    for counts, by_place in ((found, cube.found_by_place), (closed, cube.closed_by_place)):
        for (t, v, o), days in by_place.items():
            if reach.admits(t, v, o):
                for d, n in days.items():
                    counts[d] += n
    return rows, found, closed


def _queried(session: Session, where: ColumnElement[bool], plan: Plan, today: dt.date,
             by_village: bool = False
             ) -> tuple[list[Row], dict[dt.date, int], dict[dt.date, int]]:
    """Rows and trend counts of the problems a WHERE clause picks, counted by the database
    (per village too when `by_village`: a town's dashboard lists its villages)."""
    roomy_sorts(session)
    band = band_case(plan_bands(plan, today)).label("band")
    keys: list[Any] = [Problem.town_code, Problem.lead_office, Problem.status, band]
    if by_village:
        keys.append(Problem.village_code)
    rows = [(*r[:6], r[6] if by_village else None) for r in session.execute(
        select(*keys[:4], func.count(), func.min(Problem.updated_at), *keys[4:])
        .where(where)
        .group_by(*keys))]
    found, closed = _trend_counts(session, where)
    return rows, found, closed


def dashboard(session: Session, scope: Scope, campaign_id: int, today: dt.date, *,
              plan: Plan | None = None, names: Names | None = None,
              cube: Cube | None = None, co_cells: Cube | None = None) -> Dashboard:
    """Stage, progress per town and office, warning bands, waiting-on board and trend.

    `plan`, `names` and a `cube` of the same day may be handed in by callers that keep them;
    with a cube, the scope's cells are summed from it without touching the ledger, and an
    office scope's `co_cells` (`cube.co_cells` of its offices), when kept, spare its queries.
    """
    campaign = campaign_row(session, campaign_id)
    plan = plan or load_plan_of(session, campaign_id)
    names = names or names_in(session, campaign_id, plan)
    stages = _stages(session, campaign_id, today)
    if cube is not None and cube.today == today:
        rows, found, closed = _from_cube(cube, scope)
        reach = reach_of(scope)
        if reach.offices and reach.covers(campaign_id):
            # An office also sees what it is only a co-office of: not in the cube (which
            # counts lead offices), few, and found through the co-office index.
            mine = sorted(reach.offices)
            co = and_(Problem.campaign_id == campaign_id,
                      Problem.id.in_(co_routed(mine, campaign_id)),
                      or_(Problem.lead_office.is_(None), Problem.lead_office.not_in(mine)))
            if co_cells is None:
                extra_rows, extra_found, extra_closed = _queried(session, co, plan, today)
            else:  # the caller keeps them with the cube (they also give 今天要办)
                extra_rows = [(town, office, status, band, count, oldest, None)
                              for town, _, office, status, band, count, oldest, _
                              in co_cells.cells]
                extra_found, extra_closed = defaultdict(int), defaultdict(int)
                for (_, _, _, d), n in co_cells.found.items():
                    extra_found[d] += n
                for (_, _, _, d), n in co_cells.closed.items():
                    extra_closed[d] += n
            rows += extra_rows
            for counts, extra in ((found, extra_found), (closed, extra_closed)):
                for d, n in extra.items():
                    counts[d] = counts.get(d, 0) + n
    else:
        rows, found, closed = _queried(
            session, and_(Problem.campaign_id == campaign_id,
                          problem_clause(scope, campaign_id=campaign_id)), plan,
            today, by_village=reach_of(scope).town is not None)
    voided = sum(r[4] for r in rows if r[2] == Status.VOIDED.value)
    closed_on = (campaign.closed_at.astimezone(CHINA_TZ).date()
                 if campaign.status == CLOSED and campaign.closed_at else None)
    trend = _trend_points(found, closed, voided, plan,
                          trend_end(plan, today, closed_on, [*found, *closed]))

    total = Progress(code="", name="合计")
    towns: dict[str, Progress] = {}
    offices: dict[str, Progress] = {}
    villages: dict[str, Progress] = {}
    a_town = reach_of(scope).town is not None
    by_status: dict[str, int] = defaultdict(int)
    waiting: dict[tuple[str, str], WaitingLine] = {}
    for (town, office, status, band_value, village), (count, oldest) in _grouped(
            rows, a_town).items():
        by_status[status] += count
        in_town = towns.get(town)
        if in_town is None:
            in_town = towns[town] = Progress(code=town, name=names.town(town))
        lines = [total, in_town]
        if a_town:
            place = village or ""  # "": the town's own problems, in no village
            in_village = villages.get(place)
            if in_village is None:
                in_village = villages[place] = Progress(
                    code=place, name=names.village(village) if village else "乡镇本级")
            lines.append(in_village)
        if office:
            led = offices.get(office)
            if led is None:
                led = offices[office] = Progress(code=office, name=names.office(office))
            lines.append(led)
        for p in lines:
            p.add(status, band_value, count)
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
        waiting=board, trend=trend, closed_on=closed_on,
        villages=sorted(villages.values(), key=lambda p: (p.code == "", p.code)),
    )


def _grouped(rows: list[Row], by_village: bool
             ) -> dict[tuple[Any, ...], tuple[int, dt.datetime | None]]:
    """The rows summed by town, lead office, status, band (and village, for a town's board),
    with the oldest last move of each group: the cube's cells also split by village and
    今天要办 window, which the board does not show (so each group is added once)."""
    out: dict[tuple[Any, ...], tuple[int, dt.datetime | None]] = {}
    for town, office, status, band_value, count, oldest, village in rows:
        key = (town, office, status, band_value, village if by_village else None)
        was = out.get(key)
        if was is None:
            out[key] = (count, oldest)
        else:
            n, since = was
            out[key] = (n + count, oldest if since is None or (
                oldest is not None and oldest < since) else since)
    return out


def _trend_counts(session: Session, where: ColumnElement[bool]
                  ) -> tuple[dict[dt.date, int], dict[dt.date, int]]:
    """Problems found per day and closed per (China) day, within a WHERE clause."""
    found = {d: int(n) for d, n in session.execute(
        select(Problem.found_on, func.count()).where(where).group_by(Problem.found_on))}
    day = china_day(session, Problem.closed_at)
    closed = {as_date(d): int(n) for d, n in session.execute(
        select(day, func.count()).where(where, Problem.status == Status.CLOSED.value,
                                        Problem.closed_at.is_not(None)).group_by(day))}
    return found, closed


# The trend's longest span: half a year, so that a whole campaign of a few months shows.
TREND_DAYS = 183


def trend_end(plan: Plan, today: dt.date, closed_on: dt.date | None,
              active_days: list[dt.date]) -> dt.date:
    """The last day of the trend: today while the campaign runs; once it is closed, or past
    its last stage, the later of that end and its last day with a find or a 销号 (never past
    today). A campaign that ran in 2022 shows 2022, whenever it is looked at."""
    if closed_on is not None:
        return min(today, closed_on)
    if plan.end is not None and plan.end < today:
        return min(today, max([plan.end, *active_days]))
    return today


def _trend_points(found: dict[dt.date, int], closed: dict[dt.date, int], voided: int,
                  plan: Plan, end: dt.date) -> list[TrendPoint]:
    """Daily found, closed and still pending, from the campaign's start to `end` (the last
    TREND_DAYS of it at most)."""
    start = max(plan.start, end - dt.timedelta(days=TREND_DAYS - 1))
    if end < start:
        return []
    pending = sum(n for d, n in found.items() if d < start) - sum(
        n for d, n in closed.items() if d < start)
    points = []
    day = start
    while day <= end:
        f, c = found.get(day, 0), closed.get(day, 0)
        pending += f - c
        points.append(TrendPoint(day=day, found=f, closed=c, pending=max(pending, 0)))
        day += dt.timedelta(days=1)
    if points and voided:
        # Voided items never close; take them off the running count at the end only.
        last = points[-1]
        points[-1] = TrendPoint(last.day, last.found, last.closed, max(last.pending - voided, 0))
    return points
