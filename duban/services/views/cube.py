"""The ledger cube: a campaign's whole ledger counted once by place, lead office, status and
band on a day, from which every scope's dashboard and many ledger totals are summed.

Which cells a scope may sum is decided by the one access rule (`scoping.reach_of`); a
request's filters are then ANDed to it, so a filter never widens what a scope reaches.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from duban.domain.lifecycle import Role, Status
from duban.domain.plan import Plan
from duban.services.campaigns import load_plan_of
from duban.services.scoping import Reach, Scope, co_routed, reach_of
from duban.services.views.common import (
    FINAL,
    OPEN,
    as_date,
    band_case,
    campaign_row,
    china_day,
    plan_bands,
    roomy_sorts,
)
from duban.services.views.ledger import LedgerQuery, Sort
from duban.services.views.today import Due, TodayLine, TodayWork, moves, week_end
from models import Problem

# (town, village, lead office, day)
PlaceDay = tuple[str, str | None, str | None, dt.date]


# A cell: the problems of one village (or town-level place), lead office, status, band and
# 今天要办 window — (town, village, lead office, status, band, count, oldest, due), where
# `oldest` is the earliest last move among them (for the waiting board) and `due` the
# 今天要办 window of open items on the cube's day (see `due_case`), "" for the rest.
# A plain tuple of texts, numbers and a datetime: CPython's collector stops tracking such a
# tuple at the first young collection it survives, so the tens of thousands of cells a
# recounted cube brings are not walked by every later middle and full collection of the
# worker (as dataclass instances they were: ~33,000 a recount, a part of each such pause
# holding the GIL; docs/benchmarks.md, "tenth pass"). Read them by unpacking, or by the
# indexes below.
Cell = tuple[str, str | None, str | None, str, str, int, dt.datetime | None, str]
TOWN: Final = 0
VILLAGE: Final = 1
OFFICE: Final = 2
STATUS: Final = 3
BAND: Final = 4
COUNT: Final = 5
OLDEST: Final = 6
DUE: Final = 7


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a cache key
class Cube:
    """A campaign's whole ledger counted by place, lead office, status and band on a day.

    One pass over the problem table; the dashboards of the county office, the supervision
    groups, every town and every village are sums over its cells (their scopes are places).
    The cube holds lead offices only: what an office is merely a co-office of is queried.
    """

    campaign_id: int
    today: dt.date
    cells: tuple[Cell, ...]
    # (town, village, lead office, day) -> problems found that day / closed that China day
    found: dict[PlaceDay, int]
    closed: dict[PlaceDay, int]
    _reached: dict[Reach, tuple[Cell, ...]] = field(default_factory=dict, repr=False)

    @cached_property
    def by_town(self) -> dict[str, tuple[Cell, ...]]:
        """The cells of each town."""
        return _group(self.cells, TOWN)

    @cached_property
    def by_village(self) -> dict[str | None, tuple[Cell, ...]]:
        """The cells of each village."""
        return _group(self.cells, VILLAGE)

    @cached_property
    def by_office(self) -> dict[str | None, tuple[Cell, ...]]:
        """The cells of each lead office."""
        return _group(self.cells, OFFICE)

    @cached_property
    def sizes(self) -> dict[tuple[str, str | None], int]:
        """Problems in all, per town and per lead office: ("all", None), ("town", code), …"""
        out: dict[tuple[str, str | None], int] = defaultdict(int)
        for town, _, office, _, _, count, _, _ in self.cells:
            out[("all", None)] += count
            out[("town", town)] += count
            out[("office", office)] += count
        return dict(out)

    @cached_property
    def found_by_place(self) -> dict[tuple[str, str | None, str | None], dict[dt.date, int]]:
        """Problems found per day, by (town, village, lead office)."""
        return _by_place(self.found)

    @cached_property
    def closed_by_place(self) -> dict[tuple[str, str | None, str | None], dict[dt.date, int]]:
        """Problems closed per China day, by (town, village, lead office)."""
        return _by_place(self.closed)

    def reached(self, reach: Reach) -> tuple[Cell, ...]:
        """The cells a scope's reach admits (by their lead office, for offices), kept with
        the cube: every count of the scope sums over them."""
        if not reach.covers(self.campaign_id):
            return ()
        cells = self._reached.get(reach)
        if cells is None:
            cells = self._reached[reach] = tuple(
                c for c in _slice(self, reach) if reach.admits(c[TOWN], c[VILLAGE], c[OFFICE]))
        return cells

    def walked(self, scope: Scope, q: LedgerQuery, lead_only: bool) -> int:
        """How many index entries a walk in the request's order covers (its index range):
        the town's rows (each order has an index per town), the lead office's rows when the
        order has an index per office (every order but the code's), else every row of the
        campaign."""
        reach = reach_of(scope)
        town = q.town or reach.town
        office = q.office or (next(iter(reach.offices)) if len(reach.offices) == 1 else None)
        if town:  # every order has an index per town
            return self.sizes.get(("town", town), 0)
        if office and lead_only and q.sort != Sort.CODE:
            return self.sizes.get(("office", office), 0)
        return self.sizes.get(("all", None), 0)


def _group(cells: Iterable[Cell], index: int) -> dict[Any, tuple[Cell, ...]]:
    """The cells by one of their fields (tuples of them: untracked by the collector too)."""
    out: dict[Any, list[Cell]] = defaultdict(list)
    for c in cells:
        out[c[index]].append(c)
    return {k: tuple(v) for k, v in out.items()}


def _by_place(counts: dict[PlaceDay, int]
              ) -> dict[tuple[str, str | None, str | None], dict[dt.date, int]]:
    """Day counts grouped by place and lead office: a scope tests each place once, not each
    of its days."""
    out: dict[tuple[str, str | None, str | None], dict[dt.date, int]] = defaultdict(dict)
    for (t, v, o, d), n in counts.items():
        out[(t, v, o)][d] = n
    return dict(out)


def _slice(cube: Cube, reach: Reach, q: LedgerQuery | None = None) -> Iterable[Cell]:
    """The narrowest slice of cells the reach or the request fixes (a superset of the
    answer: callers still test every cell against both)."""
    village = (q.village if q else None) or reach.village
    town = (q.town if q else None) or reach.town
    offices = {q.office} if q and q.office else set(reach.offices)
    if village is not None:
        return cube.by_village.get(village, ())
    if town is not None:
        return cube.by_town.get(town, ())
    if offices:
        return [c for o in sorted(offices) for c in cube.by_office.get(o, ())]
    return cube.cells


def cube_counts(q: LedgerQuery) -> bool:
    """Whether the cube counts everything a ledger request filters on (not a category,
    source, search text, 到期 window or the user's own lead office)."""
    return not (q.category or q.source or q.search or q.due is not None or q.lead_mine)


def cube_count(cube: Cube, scope: Scope, q: LedgerQuery,
               co: Iterable[Cell] = (), office_co: Iterable[Cell] | None = None,
               both: Iterable[Cell] | None = None) -> int | None:
    """How many problems a ledger request matches, summed from the cube; None when the
    request filters on what the cube does not count (see `cube_counts`).

    An office scope that is someone's co-office hands in `co`: the cells of what it reaches
    only as a co-office (`co_cells`). An office filter counts the cube's cells it leads, and,
    when others co-route to it, `office_co`: its own `co_cells` (None: nobody co-routes to
    it, callers check with `office_shapes`). What an office scope others co-route to reaches
    of another office's co-routed problems (both co-offices of one problem led by a third)
    is in neither: `both` (`co_cells` of the scope's offices with `and_co` the filter's
    office) adds it; None without it.
    """
    if not cube_counts(q) or q.campaign_id != cube.campaign_id:
        return None
    reach = reach_of(scope)
    if not reach.covers(cube.campaign_id):
        return 0
    co = tuple(co) if reach.offices else ()
    joint = (office_co is not None and q.office and reach.offices
             and q.office not in reach.offices and co)
    if joint and both is None:
        return None
    status = q.status.value if q.status is not None else None
    band = q.band.value if q.band is not None else None
    village, town, office, pending = q.village, q.town, q.office, q.pending
    cells: Iterable[Cell]
    if village or town or office:  # a small slice: test it against the reach
        cells = [c for c in _slice(cube, reach, q)
                 if reach.admits(c[TOWN], c[VILLAGE], c[OFFICE])]
    else:
        cells = cube.reached(reach)
    cells = [*cells, *co]
    if office and office_co is not None:
        # What the filter's office is only a co-office of (its lead is another office or
        # none): in reach wholly when the scope holds that office, else by its place or lead.
        whole = office in reach.offices
        cells = [c for c in cells if c[OFFICE] == office]
        cells += [c for c in office_co
                  if whole or reach.admits(c[TOWN], c[VILLAGE], c[OFFICE])]
        if joint and both is not None:
            cells += both  # co-routed to both, led by neither
        office = None
    total = 0
    for c_town, c_village, c_office, c_status, c_band, count, _, _ in cells:
        if ((village and c_village != village)
                or (town and c_town != town)
                or (office and c_office != office)
                or (status is not None and c_status != status)
                or (pending and c_status in FINAL)
                or (band is not None and (c_status not in OPEN or c_band != band))):
            continue
        total += count
    return total


def cube_filtered(cube: Cube, q: LedgerQuery) -> int | None:
    """How many of the campaign's problems the request's own filters select, whatever the
    scope: what a gather through the filters' indexes reads when the scope is checked row by
    row (an office others co-route to). None when the cube does not count the filters, or
    for an office filter (its index is not the one a gather reads)."""
    if not cube_counts(q) or q.office or q.campaign_id != cube.campaign_id:
        return None
    status = q.status.value if q.status is not None else None
    band = q.band.value if q.band is not None else None
    cells: Iterable[Cell] = (cube.by_village.get(q.village, ()) if q.village
                             else cube.by_town.get(q.town, ()) if q.town else cube.cells)
    return sum(count for c_town, c_village, _, c_status, c_band, count, _, _ in cells
               if not ((q.village and c_village != q.village)
                       or (q.town and c_town != q.town)
                       or (status is not None and c_status != status)
                       or (q.pending and c_status in FINAL)
                       or (band is not None and (c_status not in OPEN or c_band != band))))


def due_case(today: dt.date) -> ColumnElement[str]:
    """The 今天要办 window of a row in SQL: "overdue", "today", "week" (after today, by the
    week's end) for open items, "" otherwise; `today.due_filter` selects the same rows."""
    is_open = Problem.status.in_(OPEN)
    return case((and_(is_open, Problem.deadline < today), literal(Due.OVERDUE.value)),
                (and_(is_open, Problem.deadline == today), literal(Due.TODAY.value)),
                (and_(is_open, Problem.deadline > today, Problem.deadline <= week_end(today)),
                 literal(Due.WEEK.value)),
                else_=literal(""))


def _counted(session: Session, where: ColumnElement[bool], plan: Plan, today: dt.date
             ) -> tuple[tuple[Cell, ...], dict[PlaceDay, int], dict[PlaceDay, int]]:
    """The problems a WHERE clause picks, counted by place, office, status, band and window
    (the cells), and found per day and closed per China day by place.

    On PostgreSQL the three counts are grouping sets of one pass over the rows; elsewhere
    three queries.
    """
    roomy_sorts(session)
    band = band_case(plan_bands(plan, today)).label("band")
    due = due_case(today).label("due")
    place = (Problem.town_code, Problem.village_code, Problem.lead_office)
    day = china_day(session, Problem.closed_at)
    if session.get_bind().dialect.name == "postgresql":
        closed_day = case((and_(Problem.status == Status.CLOSED.value,
                                Problem.closed_at.is_not(None)), day)).label("closed_day")
        rows = select(*place, Problem.status, band, due, Problem.found_on, closed_day,
                      Problem.updated_at).where(where).subquery()
        r = rows.c
        at = (r.town_code, r.village_code, r.lead_office)
        cells: list[Cell] = []
        found: dict[PlaceDay, int] = {}
        closed: dict[PlaceDay, int] = {}
        # GROUPING(found_on, closed_day): 3 for the cells, 1 for found, 2 for closed.
        for t, v, o, status, band_value, due_value, found_on, closed_on, kind, n, oldest in \
                session.execute(select(*at, r.status, r.band, r.due, r.found_on, r.closed_day,
                                       func.grouping(r.found_on, r.closed_day), func.count(),
                                       func.min(r.updated_at))
                                .group_by(func.grouping_sets(
                                    tuple_(*at, r.status, r.band, r.due),
                                    tuple_(*at, r.found_on), tuple_(*at, r.closed_day)))):
            if kind == 3:
                cells.append((t, v, o, status, band_value, int(n), oldest, due_value))
            elif kind == 1:
                found[(t, v, o, found_on)] = int(n)
            elif closed_on is not None:
                closed[(t, v, o, as_date(closed_on))] = int(n)
        return tuple(cells), found, closed
    counted = tuple(
        (town, village, office, status, band_value, int(n), oldest, due_value)
        for town, village, office, status, band_value, due_value, n, oldest in session.execute(
            select(*place, Problem.status, band, due, func.count(), func.min(Problem.updated_at))
            .where(where)
            .group_by(*place, Problem.status, band, due))
    )
    found = {(t, v, o, d): int(n) for t, v, o, d, n in session.execute(
        select(*place, Problem.found_on, func.count())
        .where(where).group_by(*place, Problem.found_on))}
    closed = {(t, v, o, as_date(d)): int(n) for t, v, o, d, n in session.execute(
        select(*place, day, func.count())
        .where(where, Problem.status == Status.CLOSED.value, Problem.closed_at.is_not(None))
        .group_by(*place, day))}
    return counted, found, closed


def co_cells(session: Session, campaign_id: int, offices: Iterable[str], today: dt.date, *,
             plan: Plan | None = None, and_co: Iterable[str] = ()) -> Cube:
    """The problems some of these offices are a co-office of and none of them leads, counted
    as a cube of their own: what an office scope reaches beyond the cube's lead offices.
    With `and_co`: only those some of `and_co` are a co-office of too and none of them leads
    (what an office scope reaches of an office filter's co-routed problems led by neither)."""
    mine = sorted(set(offices))
    also = sorted(set(and_co))
    if not mine:
        return Cube(campaign_id=campaign_id, today=today, cells=(), found={}, closed={})
    plan = plan or load_plan_of(session, campaign_id)
    led = sorted({*mine, *also})
    where = and_(Problem.campaign_id == campaign_id,
                 Problem.id.in_(co_routed(mine, campaign_id)),
                 or_(Problem.lead_office.is_(None), Problem.lead_office.not_in(led)))
    if also:
        where = and_(where, Problem.id.in_(co_routed(also, campaign_id)))
    cells, found, closed = _counted(session, where, plan, today)
    return Cube(campaign_id=campaign_id, today=today, cells=cells, found=found, closed=closed)


def summed_today_work(cube: Cube, scope: Scope, co: Iterable[Cell] = ()) -> TodayWork:
    """今天要办 of a scope on the cube's day, summed from its cells (and, for an office
    scope, the `co_cells` of its offices): the same lines and counts as `today_work`."""
    reach = reach_of(scope)
    mine = scope.offices if Role.OFFICE in scope.actor.roles else frozenset()
    # One pass over the scope's cells into (status, window, led by the user) groups; the
    # lines are then summed over those few groups.
    groups: dict[tuple[str, str, bool], int] = defaultdict(int)
    for cells in (cube.reached(reach), co if reach.offices else ()):
        for _, _, office, status, _, count, _, due in cells:
            groups[(status, due, office in mine)] += count
    today = cube.today
    windows = ((Due.TODAY, "orange"), (Due.WEEK, "due_soon"), (Due.OVERDUE, "red"))
    specs: list[tuple[str, str, tuple[tuple[str, str], ...], str]] = [
        (d.value, d.label, (("due", d.value),), tone) for d, tone in windows]
    specs += [(key, label, params, tone) for key, label, _, params, tone in moves(scope)]
    lines = []
    for key, label, params, tone in specs:
        wanted = dict(params)
        n = sum(count for group, count in groups.items() if _on_line(group, wanted))
        lines.append(TodayLine(key=key, label=label, count=n, params=params, tone=tone))
    return TodayWork(today=today, week_end=week_end(today), lines=tuple(lines))


def _on_line(group: tuple[str, str, bool], wanted: dict[str, str]) -> bool:
    """Whether a (status, window, led by the user) group is on a 今天要办 line (given by its
    ledger parameters)."""
    status, due, led = group
    if "status" in wanted and status != wanted["status"]:
        return False
    if wanted.get("lead") == "mine" and not led:
        return False
    window = wanted.get("due")
    if window == Due.WEEK.value:  # 本周 includes today
        return due in (Due.TODAY.value, Due.WEEK.value)
    return window is None or due == window


def ledger_cube(session: Session, campaign_id: int, today: dt.date, *,
                plan: Plan | None = None) -> Cube:
    """Count the whole ledger of a campaign by place, office, status and band (one pass)."""
    campaign_row(session, campaign_id)
    plan = plan or load_plan_of(session, campaign_id)
    cells, found, closed = _counted(session, Problem.campaign_id == campaign_id, plan, today)
    return Cube(campaign_id=campaign_id, today=today, cells=cells, found=found, closed=closed)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def cube_bytes(cube: Cube) -> bytes:
    """The cube as compact JSON (each text once, in a table), to share between processes."""
    texts: dict[str | None, int] = {}

    def t(value: str | None) -> int:
        n = texts.get(value)
        if n is None:
            n = texts[value] = len(texts)
        return n

    cells: list[int | None] = []
    for town, village, office, status, band, count, oldest_at, due in cube.cells:
        oldest = None if oldest_at is None else (oldest_at - _EPOCH) // dt.timedelta(
            microseconds=1)
        cells += [t(town), t(village), t(office), t(status), t(band), count, oldest, t(due)]
    days: list[list[int]] = []
    for counts in (cube.found, cube.closed):
        days.append([v for (town, village, office, day), n in counts.items()
                     for v in (t(town), t(village), t(office), day.toordinal(), n)])
    return json.dumps({"campaign": cube.campaign_id, "today": cube.today.toordinal(),
                       "texts": list(texts), "cells": cells, "found": days[0],
                       "closed": days[1]}, separators=(",", ":")).encode()


def cube_from_bytes(data: bytes) -> Cube:
    """A cube from `cube_bytes`: the same cells and day counts."""
    raw = json.loads(data)
    texts: list[Any] = raw["texts"]
    flat = raw["cells"]
    cells = tuple(
        (texts[flat[i]], texts[flat[i + 1]], texts[flat[i + 2]], texts[flat[i + 3]],
         texts[flat[i + 4]], flat[i + 5],
         None if flat[i + 6] is None else _EPOCH + dt.timedelta(microseconds=flat[i + 6]),
         texts[flat[i + 7]])
        for i in range(0, len(flat), 8))
    ordinal = dt.date.fromordinal
    found, closed = (
        {(texts[f[i]], texts[f[i + 1]], texts[f[i + 2]], ordinal(f[i + 3])): f[i + 4]
         for i in range(0, len(f), 5)} for f in (raw["found"], raw["closed"]))
    return Cube(campaign_id=raw["campaign"], today=ordinal(raw["today"]), cells=cells,
                found=found, closed=closed)
