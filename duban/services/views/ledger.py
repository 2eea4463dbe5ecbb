"""The ledger (问题台账): filters, search, sort, pages and exports, with the sort planner.

docs/benchmarks.md explains the planner: a page is found either by walking the sort's index
or by fetching every match through the filters' indexes and sorting them (`walk_sort_index`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select, union_all
from sqlalchemy.orm import Session

from duban.domain.bands import Band, Bands
from duban.domain.labelled import Labelled
from duban.domain.lifecycle import OPEN_STATUSES, STATUS_LABELS, Role, Status
from duban.services.campaigns import load_plan_of
from duban.services.scoping import (
    Scope,
    listing_clause,
    office_condition,
    office_shape,
    reach_kind,
    reach_values,
)
from duban.services.views.common import OPEN, PENDING, band_filter, plan_bands
from duban.services.views.today import Due, due_filter, lead_mine, workdays_left
from models import Household, Problem


class Sort(Labelled):
    """Orders the ledger can be sorted by (each has an index to walk)."""

    DEADLINE = "deadline", "整改时限"
    CODE = "code", "问题编号"
    FOUND_ON = "found_on", "发现日期"
    UPDATED = "updated", "最近办理"


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
    due: Due | None = None  # 今日到期 / 本周到期 / 已逾期 on the day of the request
    lead_mine: bool = False  # only problems the user's own offices lead (待我签收)
    pending: bool = False  # only items still on someone's desk (not closed or voided)
    search: str | None = None
    sort: Sort = Sort.DEADLINE
    descending: bool = False
    page: int = 1
    per_page: int = 50

    def count_key(self) -> tuple[object, ...]:
        """What the total depends on (not the sort or the page), for caching counts."""
        return (self.campaign_id, self.town, self.village, self.office, self.status,
                self.category, self.source, self.band, self.due, self.lead_mine, self.pending,
                self.search)


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
    # Working days from the bands' day to the deadline of an open item (0: due that day,
    # negative: overdue by so many); None when not open, undated or outside the calendar.
    workdays_left: int | None = None


# The columns a ledger row shows: a page reads these, not whole ORM rows (no identity map,
# no facts or audit columns carried for nothing).
ROW_COLUMNS = (Problem.id, Problem.code, Problem.status, Problem.category, Problem.source,
               Problem.town_code, Problem.village_code, Problem.household_id,
               Problem.description, Problem.lead_office, Problem.deadline, Problem.found_on,
               Problem.updated_at, Problem.version)


def ledger_row(p: Any, bands: Bands) -> LedgerRow:
    """A problem (or a row of ROW_COLUMNS) as a ledger row, with its band and working days
    left on the bands' day."""
    status = Status(p.status)
    is_open = status in OPEN_STATUSES
    band = bands.band(p.deadline).value if is_open else ""
    return LedgerRow(
        id=p.id, code=p.code, status=p.status, status_label=STATUS_LABELS[status],
        category=p.category, source=p.source, town_code=p.town_code,
        village_code=p.village_code, household_id=p.household_id, description=p.description,
        lead_office=p.lead_office, deadline=p.deadline, found_on=p.found_on,
        updated_at=p.updated_at, version=p.version, band=band,
        workdays_left=workdays_left(p.deadline, bands.today) if is_open else None,
    )


def ledger_select(session: Session, scope: Scope, q: LedgerQuery, today: dt.date,
                  bands: Bands | None = None, *,
                  shapes: Mapping[frozenset[str], str] | None = None,
                  probe: bool = False, undated: bool = False,
                  bound: bool = False) -> Select[Any]:
    """The scoped SELECT of the ledger's rows (without order or page), shared with exports.

    The scope's clause comes first and every filter is ANDed to it: a filter narrows what
    the scope reaches, it never replaces it. `shapes` may carry office_shape answers (by
    frozenset of office codes) a caller keeps; `probe`: the rows are found by walking a
    sort index, so co-offices are probed row by row (see office_condition); `undated`: only
    the rows without a deadline (their offices' ids gathered from indexes alone); `bound`:
    the filters' values and the scope's reach are named parameters (see filter_values and
    scoping.reach_values), so the statement serves every request of its shape and every
    scope of its kind.
    """
    def value(name: str, given: Any) -> Any:
        return bindparam(name, given) if bound else given

    stmt = select(Problem).where(Problem.campaign_id == q.campaign_id,
                                 listing_clause(session, scope, q.campaign_id, shapes=shapes,
                                                probe=probe, undated=undated, bound=bound))
    if undated:
        stmt = stmt.where(Problem.deadline.is_(None))
    if q.town:
        stmt = stmt.where(Problem.town_code == value("f_town", q.town))
    if q.village:
        stmt = stmt.where(Problem.village_code == value("f_village", q.village))
    if q.office:
        stmt = stmt.where(office_condition(session, q.campaign_id,
                                           [value("f_office", q.office)],
                                           shape=(shapes or {}).get(frozenset({q.office})),
                                           probe=probe, undated=undated))
    if q.status is not None:
        stmt = stmt.where(Problem.status == value("f_status", q.status.value))
    if q.pending:
        stmt = stmt.where(Problem.status.in_(PENDING))
    if q.category:
        stmt = stmt.where(Problem.category == value("f_category", q.category))
    if q.source:
        stmt = stmt.where(Problem.source == value("f_source", q.source))
    if q.band is not None:
        stmt = stmt.where(Problem.status.in_(OPEN))
        stmt = stmt.where(band_filter(q.band, bands or Bands(today, ((Band.OVERDUE, today
                                                                       - dt.timedelta(1)),))))
    if q.due is not None:
        stmt = stmt.where(due_filter(q.due, today))
    if q.lead_mine:
        stmt = stmt.where(lead_mine(scope, bound=bound))
    if q.search:
        term = value("f_term", q.search.strip())
        like = value("f_like", f"%{_escape_like(q.search.strip())}%")
        stmt = stmt.where(or_(Problem.code == term, Problem.household_id == term,
                              Problem.description.like(like, escape="\\")))
    return stmt


def filter_values(q: LedgerQuery) -> dict[str, Any]:
    """The values of a request's filters, by the names ledger_select(bound=True) gives
    them."""
    values: dict[str, Any] = {"f_town": q.town, "f_village": q.village, "f_office": q.office,
                              "f_status": q.status.value if q.status is not None else None,
                              "f_category": q.category, "f_source": q.source}
    if q.search:
        values["f_term"] = q.search.strip()
        values["f_like"] = f"%{_escape_like(q.search.strip())}%"
    return {name: v for name, v in values.items() if v}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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


def _bands(session: Session, q: LedgerQuery, today: dt.date, bands: Bands | None) -> Bands:
    return bands or plan_bands(load_plan_of(session, q.campaign_id), today)


def ledger_count(session: Session, scope: Scope, q: LedgerQuery, today: dt.date, *,
                 bands: Bands | None = None, cap: int | None = None) -> int:
    """How many problems a ledger request matches; with `cap`, counting stops past it.

    A capped count answers cap + 1 when there are more: counting a million rows exactly for
    every filter a clerk tries costs more than the page itself.
    """
    if q.band is not None:
        bands = _bands(session, q, today, bands)
    inner = ledger_select(session, scope, q, today, bands).with_only_columns(Problem.id)
    if cap is not None:
        inner = inner.limit(cap + 1)
    return int(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)


# Fewer matches than this: fetch them all through the filters and sort them (see _order).
SPARSE = 2000


def walk_sort_index(scope: Scope, q: LedgerQuery, matches: int | None,
                    walked: int | None = None, gathered: int | None = None) -> bool:
    """Whether a page is best found by walking the sort's index, or by fetching every match
    through the filters' indexes and sorting them (see _order).

    A walk reads about (offset + page) × walked / matches entries, each a random row; the
    other way reads the matches, or, when the scope is checked row by row (an office others
    co-route to), every row the request's own filters select (`gathered`: a status filter
    reads that status's rows of the whole campaign). With the numbers known (the cube has
    them) the cheaper wins. Without them: walk unless few rows match, or one village's rows
    are wanted in code order (codes follow import order, and a village's codes are one
    stretch of the code index that a walk may reach only at its end).
    """
    if matches is not None and matches <= SPARSE:
        return False
    if matches is not None and walked is not None:
        reach = (max(q.page, 1) - 1) * q.per_page + q.per_page
        return reach * walked / max(matches, 1) <= max(matches, gathered or 0)
    return not (q.sort == Sort.CODE and (q.village or scope.role == Role.VILLAGE))


def ledger_rows(session: Session, scope: Scope, q: LedgerQuery, today: dt.date, *,
                bands: Bands | None = None, matches: int | None = None,
                walked: int | None = None, gathered: int | None = None,
                shapes: Mapping[frozenset[str], str] | None = None) -> list[LedgerRow]:
    """One page of the ledger; `matches` (how many problems match), `walked` (see
    Cube.walked) and `gathered` (see walk_sort_index), when known, choose how the page is
    found."""
    if matches is not None and matches <= (max(q.page, 1) - 1) * q.per_page:
        return []  # past the last page
    dense = walk_sort_index(scope, q, matches, walked, gathered)
    bands = _bands(session, q, today, bands)
    stmt = page_statement(session, scope, q, today, bands, shapes, dense)
    offset = (max(q.page, 1) - 1) * q.per_page
    values = {**filter_values(q), **reach_values(scope), "page_size": q.per_page,
              "page_offset": offset, "page_reach": offset + q.per_page}
    # Plain rows through the session's connection: no ORM result processing per row.
    return [ledger_row(p, bands) for p in session.connection().execute(stmt, values)]


# Page statements kept per process, by shape (see page_statement): the bench's fifty users
# ask about a hundred shapes (their scopes' kinds, not their towns and offices).
PAGE_STATEMENTS_KEPT = 1024
_page_statements: OrderedDict[tuple[Any, ...], Select[Any]] = OrderedDict()
_page_statements_guard = threading.Lock()


def page_statement(session: Session, scope: Scope, q: LedgerQuery, today: dt.date,
                   bands: Bands, shapes: Mapping[frozenset[str], str] | None,
                   dense: bool) -> Select[Any]:
    """The SELECT of a ledger page, its filters' values, the scope's reach, page size and
    offset named parameters (filter_values, reach_values, page_size, page_offset), built
    once per shape — the scope's kind, which filters are given, the order, how the page is
    found, the day's bands — and kept: built anew for every page it was ~2 ms of SQLAlchemy
    a ledger page (its clauses, then the cache key of the whole statement), as the tally's
    statement was (issue 17, item 4). Keyed by the scope's kind, not its towns and offices:
    kept per scope, the bench's fifty users made 400–1,000 of them, a few hundred objects each,
    which the collector's middle collections walked (docs/benchmarks.md, "eleventh pass").
    A request whose offices' shapes are not all known builds its own."""
    office_shape_of = None if q.office is None else (shapes or {}).get(frozenset({q.office}))
    scope_shape = (shapes or {}).get(scope.offices) if scope.role == Role.OFFICE else "-"
    key: tuple[Any, ...] | None = None
    if scope_shape is not None and (q.office is None or office_shape_of is not None):
        # What ledger_select builds from the scope; its values are parameters.
        key = (session.get_bind().dialect.name, reach_kind(scope, q.campaign_id),
               scope_shape, office_shape_of,
               q.campaign_id, bool(q.town), bool(q.village), q.status is not None, q.pending,
               bool(q.category), bool(q.source), q.band, q.due, q.lead_mine, bool(q.search),
               q.sort, q.descending, dense, bands, today)
        with _page_statements_guard:
            kept = _page_statements.get(key)
            if kept is not None:
                _page_statements.move_to_end(key)
                return kept
    stmt: Any
    if dense and _undated_walked_first(session, scope, q, shapes):
        stmt = _undated_apart(session, scope, q, today, bands, shapes)
    else:
        stmt = (ledger_select(session, scope, q, today, bands, shapes=shapes, probe=dense,
                              bound=True)
                .order_by(*_order(q, dense))
                .with_only_columns(*ROW_COLUMNS))
    stmt = stmt.limit(bindparam("page_size", q.per_page)).offset(bindparam("page_offset", 0))
    if key is not None:
        with _page_statements_guard:
            _page_statements[key] = stmt
            while len(_page_statements) > PAGE_STATEMENTS_KEPT:
                _page_statements.popitem(last=False)
    return stmt


def _undated_walked_first(session: Session, scope: Scope, q: LedgerQuery,
                          shapes: Mapping[frozenset[str], str] | None) -> bool:
    """Whether a walk in this order meets the campaign's undated problems first and checks
    each for an office others co-route to: by deadline, descending on PostgreSQL (NULLs sort
    last ascending there) or ascending on SQLite (NULLs first), for an office scope or an
    office filter that is somebody's co-office (the walk is then along the campaign's
    deadline index, not the office's own)."""
    if q.sort != Sort.DEADLINE:
        return False
    if q.descending != (session.get_bind().dialect.name == "postgresql"):
        return False
    groups = []
    if scope.role == Role.OFFICE and scope.offices:
        groups.append(scope.offices)
    if q.office:
        groups.append(frozenset({q.office}))
    known = shapes or {}
    return any((known.get(g) or office_shape(session, q.campaign_id, g)) != "lead"
               for g in groups)


def _undated_apart(session: Session, scope: Scope, q: LedgerQuery, today: dt.date,
                   bands: Bands, shapes: Mapping[frozenset[str], str] | None) -> Select[Any]:
    """A page's rows (without its size and offset) as the undated rows, gathered through indexes
    (few: an office's unrouted problems have no lead), then the dated ones walked along the
    deadline index from their first: the same rows in the same order as one walk over both,
    which read every undated row of the campaign from the table before the first dated one
    (1.0–1.3 s for an office others co-route to at the bench's 50 clients)."""
    undated = ledger_select(session, scope, q, today, bands, shapes=shapes, undated=True,
                            bound=True)
    dated = ledger_select(session, scope, q, today, bands, shapes=shapes, probe=True,
                          bound=True).where(Problem.deadline.is_not(None))
    # Each part stops at the page's last row (page_reach: offset + size), so the dated walk
    # reads no further than one walk would; PostgreSQL does not merge the two parts in order
    # on its own (it sorted every dated row of the office: 7–9 s).
    reach: Any = bindparam("page_reach", q.per_page)
    parts = [part.with_only_columns(*ROW_COLUMNS).order_by(*_order(q)).limit(reach).subquery()
             for part in (undated, dated)]
    rows = union_all(*(select(*part.c) for part in parts)).subquery()
    order = ((rows.c.deadline.desc(), rows.c.id.desc()) if q.descending
             else (rows.c.deadline.asc(), rows.c.id.asc()))
    return select(*rows.c).order_by(*order)


EXPORT_LIMIT = 100_000


def ledger_export_rows(session: Session, scope: Scope, q: LedgerQuery, today: dt.date, *,
                       bands: Bands | None = None) -> Iterator[LedgerRow]:
    """Every row a ledger request matches (up to EXPORT_LIMIT), in the page's order; the
    caller keeps the session open while it reads them."""
    bands = _bands(session, q, today, bands)
    stmt = (ledger_select(session, scope, q, today, bands).order_by(*_order(q))
            .limit(EXPORT_LIMIT).with_only_columns(*ROW_COLUMNS)
            .execution_options(yield_per=2000))
    for p in session.execute(stmt):
        yield ledger_row(p, bands)


def household_facts_of(session: Session, campaign_id: int,
                       household_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The plan-defined facts of these households of a campaign's register, by household id."""
    from duban.services.bulk import where_in

    stmt = select(Household.household_id, Household.facts).where(
        Household.campaign_id == campaign_id)
    return {hid: dict(facts or {}) for hid, facts
            in where_in(session, stmt, Household.household_id, sorted(set(household_ids)))}


def office_shapes(session: Session, campaign_id: int,
                  groups: Iterable[frozenset[str]]) -> dict[frozenset[str], str]:
    """office_shape for groups of offices ("lead": they are nobody's co-office)."""
    return {g: office_shape(session, campaign_id, g) for g in groups if g}
