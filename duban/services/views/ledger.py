"""The ledger (问题台账): filters, search, sort, pages and exports, with the sort planner.

docs/benchmarks.md explains the planner: a page is found either by walking the sort's index
or by fetching every match through the filters' indexes and sorting them (`walk_sort_index`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from duban.domain.bands import Band, Bands
from duban.domain.labelled import Labelled
from duban.domain.lifecycle import OPEN_STATUSES, STATUS_LABELS, Role, Status
from duban.services.campaigns import load_plan_of
from duban.services.scoping import Scope, listing_clause, office_condition, office_shape
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
                  probe: bool = False) -> Select[Any]:
    """The scoped SELECT of the ledger's rows (without order or page), shared with exports.

    The scope's clause comes first and every filter is ANDed to it: a filter narrows what
    the scope reaches, it never replaces it. `shapes` may carry office_shape answers (by
    frozenset of office codes) a caller keeps; `probe`: the rows are found by walking a
    sort index, so co-offices are probed row by row (see office_condition).
    """
    stmt = select(Problem).where(Problem.campaign_id == q.campaign_id,
                                 listing_clause(session, scope, q.campaign_id, shapes=shapes,
                                                probe=probe))
    if q.town:
        stmt = stmt.where(Problem.town_code == q.town)
    if q.village:
        stmt = stmt.where(Problem.village_code == q.village)
    if q.office:
        stmt = stmt.where(office_condition(session, q.campaign_id, [q.office],
                                           shape=(shapes or {}).get(frozenset({q.office})),
                                           probe=probe))
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
        stmt = stmt.where(band_filter(q.band, bands or Bands(today, ((Band.OVERDUE, today
                                                                       - dt.timedelta(1)),))))
    if q.due is not None:
        stmt = stmt.where(due_filter(q.due, today))
    if q.lead_mine:
        stmt = stmt.where(lead_mine(scope))
    if q.search:
        term = q.search.strip()
        like = f"%{_escape_like(term)}%"
        stmt = stmt.where(or_(Problem.code == term, Problem.household_id == term,
                              Problem.description.like(like, escape="\\")))
    return stmt


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
    stmt = (ledger_select(session, scope, q, today, bands, shapes=shapes, probe=dense)
            .order_by(*_order(q, dense))
            .limit(q.per_page).offset((max(q.page, 1) - 1) * q.per_page)
            .with_only_columns(*ROW_COLUMNS))
    # Plain rows through the session's connection: no ORM result processing per row.
    return [ledger_row(p, bands) for p in session.connection().execute(stmt)]


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
