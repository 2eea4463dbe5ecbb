"""The pages: dashboard, ledger and export, waiting board, coverage (a problem: web/problem.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.responses import Response

from duban.domain.bands import Band, Bands
from duban.domain.errors import NotFound
from duban.domain.lifecycle import Role, Status
from duban.domain.plan import Plan
from duban.services.duties import milestone_texts
from duban.services.duty_reports import DUTY_HEADERS, duty_scope, duty_sheet_rows
from duban.services.plan_store import load_plan_version, plan_version_of
from duban.services.scoping import Scope, reach_of
from duban.services.views.choices import CampaignChoice, campaign_choices, filter_choices
from duban.services.views.common import plan_bands
from duban.services.views.coverage import coverage
from duban.services.views.cube import (
    Cube,
    co_cells,
    cube_bytes,
    cube_count,
    cube_counts,
    cube_filtered,
    cube_from_bytes,
    ledger_cube,
    summed_today_work,
)
from duban.services.views.dashboard import Dashboard, TrendPoint, dashboard
from duban.services.views.kept import shared_count
from duban.services.views.ledger import (
    LedgerQuery,
    LedgerRow,
    Sort,
    household_facts_of,
    ledger_count,
    ledger_export_rows,
    ledger_rows,
    office_shapes,
)
from duban.services.views.names import Names, names_in
from duban.services.views.today import Due, TodayWork
from duban.services.views.waiting import waiting_items
from duban.web.cache import Aged, always
from duban.web.deps import (
    PLAN_VERSIONS,
    WebState,
    current,
    page_reads,
    signed_in,
    state,
)
from duban.web.render import Options, ledger_rows_html, render
from duban.web.security import Ctx
from duban.web.xlsx import ledger_workbook

# Every route here is a GET page whose endpoint signs in itself, in the page's worker thread
# (`signed_in`: one hand-off per request instead of two). No CSRF dependency: it passes every
# GET, and solving it cost ~0.15 ms a page; an unsafe route needs one (tests/web/test_routers.py).
router = APIRouter()
CtxDep = Annotated[Ctx, Depends(current)]


# ---- shared helpers ---------------------------------------------------------------------

T = TypeVar("T")


def read(st: WebState, view: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A read-only view (a function of a Session first) in the page's unit of work (its
    sign-in's: one connection and transaction a page), else in one of its own, rolled back
    when it ends (a view writes nothing)."""
    with page_reads(st) as uow:
        return view(uow.session, *args, **kwargs)


def campaign_of(st: WebState, wanted: int | None) -> tuple[list[CampaignChoice],
                                                            CampaignChoice | None]:
    """All campaigns and the one asked for (else the newest)."""
    choices, _ = st.cache.get(("campaigns",), lambda: read(st, campaign_choices), keep=always)
    if not choices:
        return choices, None
    if wanted is not None:
        for c in choices:
            if c.id == wanted:
                return choices, c
    return choices, choices[0]


def _plan_version(st: WebState, campaign_id: int, version: int) -> Plan:
    with page_reads(st) as uow:
        return load_plan_version(uow.session, campaign_id, version)


@dataclass(frozen=True)
class Rules:
    """What a launched campaign's plan fixes for a day: the plan, colour bands, names."""

    plan: Plan
    bands: Bands
    names: Names




def version_in_force(st: WebState, campaign_id: int) -> int:
    """The campaign's plan version in force, asked once per request."""
    seen = PLAN_VERSIONS.get()
    version = seen.get(campaign_id) if seen is not None else None
    if version is None:
        # One small query per request (a page asks for the rules several times), so a new
        # plan version in force is never served stale.
        with page_reads(st) as uow:
            version = plan_version_of(uow.session, campaign_id)
        if seen is not None:
            seen[campaign_id] = version
    return version


def rules_of(st: WebState, campaign_id: int, today: dt.date) -> Rules:
    """The campaign's rules, kept per process for each plan version (a version never changes)."""
    version = version_in_force(st, campaign_id)
    p = st.cache.constant(("plan", campaign_id, version),
                          lambda: _plan_version(st, campaign_id, version))
    bands = st.cache.constant(("bands", campaign_id, version, today),
                              lambda: plan_bands(p, today))
    names = st.cache.constant(("names", campaign_id, version),
                              lambda: read(st, names_in, campaign_id, p))
    return Rules(plan=p, bands=bands, names=names)


def page(st: WebState, ctx: Ctx, template: str, active: str, *,
         campaign: CampaignChoice | None = None,
         campaigns: list[CampaignChoice] | None = None, status_code: int = 200,
         **context: Any) -> Response:
    """Render a signed-in page with the navigation. The campaign picker reloads the page; a
    page drawn again after a refused form (a POST) picks on its section's list instead."""
    request = ctx.request
    pick_path = request.url.path if request.method == "GET" else (
        f"/{active}" if active in PICK_PATHS else "/")
    return render(st.env, st.keys, request, template, ctx=ctx, active=active,
                  campaign=campaign, campaigns=campaigns or [], status_code=status_code,
                  scope_label=scope_label(st, ctx, campaign), pick_path=pick_path, **context)


PICK_PATHS = frozenset({"ledger", "notices", "inbox", "imports", "campaigns", "people",
                        "waiting", "ranking", "spotchecks"})


def scope_label(st: WebState, ctx: Ctx, campaign: CampaignChoice | None) -> str:
    """The signed-in user's offices, village or town by name, for the page's header."""
    s = ctx.scope
    if campaign is None or not (s.role == Role.OFFICE or s.town or s.village):
        return ""
    names = rules_of(st, campaign.id, ctx.today).names
    if s.role == Role.OFFICE:
        return "、".join(sorted(names.office(c) for c in s.offices))
    return names.village(s.village) if s.village else names.town(s.town)


class NoCampaignYet(Exception):
    """No campaign has been launched yet: the app answers with the page this carries."""

    def __init__(self, response: Response) -> None:
        super().__init__("no campaign launched yet")
        self.response = response


def chosen_campaign(request: Request, ctx: Ctx, campaign: str | None,
                    active: str) -> tuple[WebState, list[CampaignChoice], CampaignChoice]:
    """A campaign page's opening: all campaigns and the one asked for, else the empty page."""
    st = state(request)
    campaigns, chosen = campaign_of(st, _int(campaign))
    if chosen is None:
        raise NoCampaignYet(page(st, ctx, "empty.html", active))
    return st, campaigns, chosen


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _enum(kind: type, value: str | None) -> Any:
    try:
        return kind(value) if value else None
    except ValueError:
        return None


# ---- dashboard --------------------------------------------------------------------------


@router.get("/", include_in_schema=False)
@signed_in
def dashboard_page(request: Request, ctx: CtxDep, campaign: str | None = None) -> Response:
    st, campaigns, chosen = chosen_campaign(request, ctx, campaign, "dashboard")
    cells = scope_cells(st, ctx, chosen.id)
    data, age = dashboard_of(st, ctx, chosen.id, cells)
    work = today_of(st, ctx, cells)
    return page(st, ctx, "dashboard.html", "dashboard", campaign=chosen, campaigns=campaigns,
                d=data, age=age, work=work, notices=notices_of(st, ctx, chosen.id),
                board=board_html(st, ctx, data, cells),
                progress_html=progress_html(st, ctx, data, cells))


@dataclass(frozen=True)
class Board:
    """The dashboard's parts drawn from the scope's sums alone (stages and key figures,
    deadline bands, the trend chart), each as its template renders it."""

    top: Markup
    bands: Markup
    trend: Markup


def board_html(st: WebState, ctx: Ctx, data: Dashboard, cells: ScopeCells) -> Board:
    """The dashboard's parts that depend on the scope's sums only, rendered once per scope and
    kept cube, as the sums are (dashboard_of): a good share of a dashboard's rendering, the
    same for every user of the scope while the cube is kept (dropped with it)."""
    cube, age, _ = cells
    if age is None:
        return _draw_board(st, data)
    return kept_board(st, ctx.scope, cube, data)


def _draw_board(st: WebState, data: Dashboard) -> Board:
    def part(name: str, **context: Any) -> Markup:
        return Markup(st.env.get_template(name).render(d=data, **context))

    return Board(top=part("_board_top.html"), bands=part("_board_bands.html"),
                 trend=part("_board_trend.html", chart=trend_chart(data.trend)))


def kept_board(st: WebState, scope: Scope, cube: Cube, data: Dashboard | None = None) -> Board:
    """The scope's board parts drawn from a kept cube's sums (`data`, when the caller has
    them), kept with the cube; the cube's refresh draws them again from its successor."""
    board, _ = st.cache.get(
        ("board-html", scope.key(), cube),
        lambda: _draw_board(st, data if data is not None else kept_sums(st, scope, cube)),
        keep=always, of=cube, redraw=lambda new: kept_board(st, scope, new))
    return board


def progress_html(st: WebState, ctx: Ctx, data: Dashboard, cells: ScopeCells) -> Markup:
    """The dashboard's progress tables (villages or towns, offices), rendered once per scope
    and kept cube, as its sums are (dashboard_of): the same for every user of the scope."""
    cube, age, _ = cells
    if age is None:
        return _draw_progress(st, data)
    return kept_progress(st, ctx.scope, cube, data)


def _draw_progress(st: WebState, data: Dashboard) -> Markup:
    return Markup(st.env.get_template("_progress.html").render(d=data))


def kept_progress(st: WebState, scope: Scope, cube: Cube,
                  data: Dashboard | None = None) -> Markup:
    """The scope's progress tables drawn from a kept cube's sums, kept with the cube (and
    drawn again from its successor by its refresh)."""
    html, _ = st.cache.get(
        ("progress-html", scope.key(), cube),
        lambda: _draw_progress(st, data if data is not None else kept_sums(st, scope, cube)),
        keep=always, of=cube, redraw=lambda new: kept_progress(st, scope, new))
    return html


def notices_of(st: WebState, ctx: Ctx, campaign_id: int) -> Any:
    """The 督办通知书 addressed and copied to the user's offices (None for the county)."""
    from duban.services.notices.reading import notice_tally
    from duban.web.work import inbox_offices

    if ctx.scope.sees_all:
        return None
    with page_reads(st) as uow:  # a town's offices and the tally in one transaction
        offices = inbox_offices(st, ctx, campaign_id, uow.session)
        return notice_tally(uow, campaign_id, offices) if offices else None


ScopeCells = tuple[Cube, float | None, Cube | None]


def scope_cells(st: WebState, ctx: Ctx, campaign_id: int) -> ScopeCells:
    """The day's cube, how old it is (None: just counted) and the user's co-office cells."""
    cube, age = cube_of(st, campaign_id, ctx.today)
    return cube, age, co_cells_of(st, ctx.scope, cube, kept=age is not None)


def co_cells_of(st: WebState, scope: Scope, cube: Cube, *, kept: bool) -> Cube | None:
    """What an office scope reaches only as a co-office, counted as a cube of its own (None
    for other scopes), kept with a kept cube: the dashboard, 今天要办 and ledger totals sum it."""
    reach = reach_of(scope)
    if not reach.offices or not reach.covers(cube.campaign_id):
        return None
    return offices_co_cells(st, cube, reach.offices, kept=kept)


def offices_co_cells(st: WebState, cube: Cube, offices: frozenset[str], *,
                     kept: bool) -> Cube:
    """What these offices are only a co-office of, counted as a cube of its own (an office
    scope's reach beyond its lead cells, or an office filter's), kept with a kept cube."""
    if shape_of(st, cube.campaign_id, offices) == "lead":
        # Nobody co-routes to these offices (most offices): they lead all they reach.
        return Cube(campaign_id=cube.campaign_id, today=cube.today, cells=(), found={},
                    closed={})

    def query() -> Cube:
        return read(st, co_cells, cube.campaign_id, offices, cube.today,
                    plan=rules_of(st, cube.campaign_id, cube.today).plan)

    if not kept:
        return query()

    def shared() -> Cube:
        # Counted by one process for all while the cube is kept (three offices' take
        # 0.3-0.7 s of PostgreSQL); those that count quickly are counted by each.
        return shared_of(st, f"co:{','.join(sorted(offices))}", cube.campaign_id, cube.today,
                         lambda s, plan: co_cells(s, cube.campaign_id, offices,
                                                  cube.today, plan=plan))[0]

    cells, _ = st.cache.get(("co-cells", offices, cube), shared, keep=always, of=cube,
                            redraw=lambda new: offices_co_cells(st, new, offices, kept=True))
    return cells


def both_co_cells(st: WebState, cube: Cube, offices: frozenset[str], office: str, *,
                  kept: bool) -> Cube:
    """What these offices and another office are all co-offices of, led by none of them
    (an office scope's part of an office filter that neither cube holds), kept like the
    co-office cells."""
    def count(s: Session, plan: Plan) -> Cube:
        return co_cells(s, cube.campaign_id, offices, cube.today, plan=plan, and_co=[office])

    plan = rules_of(st, cube.campaign_id, cube.today).plan
    if not kept:
        return read(st, count, plan)
    key = f"co:{','.join(sorted(offices))}&{office}"
    cells, _ = st.cache.get(("co-cells", offices, office, cube),
                            lambda: shared_of(st, key, cube.campaign_id, cube.today, count)[0],
                            keep=always, of=cube,
                            redraw=lambda new: both_co_cells(st, new, offices, office, kept=True))
    return cells


def today_of(st: WebState, ctx: Ctx, cells: ScopeCells) -> TodayWork:
    """今天要办 of the user's scope, summed from the day's cube and co-office cells."""
    cube, age, co = cells
    if age is None:
        return summed_today_work(cube, ctx.scope, co.cells if co is not None else ())
    return kept_today(st, ctx.scope, cube)


def kept_today(st: WebState, scope: Scope, cube: Cube) -> TodayWork:
    """今天要办 of a scope summed from a kept cube, kept with it (and drawn again from its
    successor by its refresh)."""
    def summed() -> TodayWork:
        co = co_cells_of(st, scope, cube, kept=True)
        return summed_today_work(cube, scope, co.cells if co is not None else ())

    # The lines depend on the roles too: the county office and a supervision group share
    # one scope of rows ("all") but not their moves.
    roles = tuple(sorted(r.value for r in scope.actor.roles))
    work, _ = st.cache.get(("today", scope.key(), roles, cube), summed, keep=always, of=cube,
                           redraw=lambda new: kept_today(st, scope, new))
    return work


def dashboard_of(st: WebState, ctx: Ctx, campaign_id: int,
                 cells: ScopeCells | None = None) -> tuple[Dashboard, float | None]:
    """The dashboard of the user's scope and how old its figures are (None: just computed).

    Every scope is summed from one shared count of the whole ledger (the cube); offices add
    the problems they are only a co-office of (their co-office cells, counted apart).
    """
    cube, age, co = cells or scope_cells(st, ctx, campaign_id)
    if age is None:  # a fresh count: derive from it directly
        r = rules_of(st, campaign_id, ctx.today)
        return read(st, dashboard, ctx.scope, campaign_id, ctx.today, plan=r.plan,
                    names=r.names, cube=cube, co_cells=co), None
    return kept_sums(st, ctx.scope, cube), age


def kept_sums(st: WebState, scope: Scope, cube: Cube) -> Dashboard:
    """The dashboard of a scope summed from a kept cube (on its day), kept with it until the
    cube is refreshed, whose refresh draws them again from its successor."""
    def derive() -> Dashboard:
        r = rules_of(st, cube.campaign_id, cube.today)
        return read(st, dashboard, scope, cube.campaign_id, cube.today, plan=r.plan,
                    names=r.names, cube=cube, co_cells=co_cells_of(st, scope, cube, kept=True))

    sums, _ = st.cache.get(("derived", scope.key(), cube), derive, keep=always, of=cube,
                           redraw=lambda new: kept_sums(st, scope, new))
    return sums


def cube_of(st: WebState, campaign_id: int, today: dt.date) -> tuple[Cube, float | None]:
    """The shared ledger cube of a campaign and day, and how old it is (None: just counted)."""
    def count() -> Cube | Aged:
        cube, age = shared_of(st, "cube", campaign_id, today,
                              lambda s, plan: ledger_cube(s, campaign_id, today, plan=plan))
        return cube if age is None else Aged(cube, age)

    return st.cache.get(("cube", campaign_id, today), count)


def shared_of(st: WebState, what: str, campaign_id: int, today: dt.date,
              count: Callable[[Session, Plan], Cube]) -> tuple[Cube, float | None]:
    """A cube counted by one of the server's processes for all, and its age (None: counted
    by this call): a slow count is stored for the others, who take it while younger than
    the cache's ttl (so its age stays bounded as before)."""
    r = rules_of(st, campaign_id, today)
    if st.cache.ttl <= 0:  # nothing is kept: every count is fresh
        return read(st, count, r.plan), None
    key = f"{what}:{campaign_id}:{today.isoformat()}:{version_in_force(st, campaign_id)}"
    # A unit of its own (the page's is read-only), committed: the counting turn ends, the
    # copy is stored. Once a cache period per process, not per page.
    with st.db.unit_of_work() as uow:
        got = shared_count(uow, key, lambda s: count(s, r.plan), max_age=st.cache.ttl,
                           worth_keeping=st.cache.slow_after, encode=cube_bytes,
                           decode=cube_from_bytes)
        uow.commit()
    return got


def trend_chart(points: list[TrendPoint], width: int = 640,
                height: int = 180) -> dict[str, Any]:
    """Coordinates of an SVG line chart of pending items and daily bars of found / closed."""
    if not points:
        return {"empty": True}
    pad_l, pad_r, pad_t, pad_b = 44, 8, 10, 22
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    top = max(max(p.pending for p in points), max(max(p.found, p.closed) for p in points), 1)
    step = w / max(len(points) - 1, 1)

    def y(v: int) -> float:
        return round(pad_t + h - v / top * h, 1)

    line = " ".join(f"{round(pad_l + i * step, 1)},{y(p.pending)}" for i, p in enumerate(points))
    bar = max(min(step / 2.5, 8), 1)
    bars = []
    for i, p in enumerate(points):
        x = pad_l + i * step
        if p.found:
            bars.append({"x": round(x - bar, 1), "y": y(p.found), "w": round(bar, 1),
                         "h": round(pad_t + h - y(p.found), 1), "kind": "found"})
        if p.closed:
            bars.append({"x": round(x, 1), "y": y(p.closed), "w": round(bar, 1),
                         "h": round(pad_t + h - y(p.closed), 1), "kind": "closed"})
    ticks = [{"y": y(v), "label": v} for v in sorted({0, top // 2, top})]
    every = max(len(points) // 6, 1)
    xlabels, year = [], None
    for i, p in enumerate(points):
        if i % every:
            continue
        # The year on the first label and wherever it changes: 2022/9/15, 9/22, …, 2023/1/5.
        label = f"{p.day.month}/{p.day.day}" if p.day.year == year else \
            f"{p.day.year}/{p.day.month}/{p.day.day}"
        year = p.day.year
        xlabels.append({"x": round(pad_l + i * step, 1), "label": label})
    return {"empty": False, "width": width, "height": height, "line": line, "bars": bars,
            "ticks": ticks, "xlabels": xlabels, "left": pad_l, "right": width - pad_r,
            "bottom": pad_t + h, "first": points[0], "last": points[-1]}


# ---- ledger -----------------------------------------------------------------------------

# The ledger opens on the items still on someone's desk; "status=" (empty) shows them all.
PENDING = "pending"
LEDGER_KEYS = ("town", "village", "office", "status", "category", "source", "band", "due",
               "lead", "q", "sort", "desc")


def ledger_query(campaign_id: int, params: dict[str, str], page_no: int = 1,
                 per_page: int = 50) -> LedgerQuery:
    """A LedgerQuery from query-string parameters; unknown values are ignored."""
    return LedgerQuery(
        campaign_id=campaign_id,
        town=params.get("town") or None,
        village=params.get("village") or None,
        office=params.get("office") or None,
        status=_enum(Status, params.get("status")),
        pending=params.get("status") == PENDING,
        category=params.get("category") or None,
        source=params.get("source") or None,
        band=_enum(Band, params.get("band")),
        due=_enum(Due, params.get("due")),
        lead_mine=params.get("lead") == "mine",
        search=(params.get("q") or "").strip()[:100] or None,
        sort=_enum(Sort, params.get("sort")) or Sort.DEADLINE,
        descending=params.get("desc") == "1",
        page=max(page_no, 1),
        per_page=per_page,
    )


def office_shapes_of(st: WebState, scope: Scope, q: LedgerQuery) -> dict[frozenset[str], str]:
    """How the offices of the user's scope and of the office filter are best queried, kept
    a while (whether an office is anyone's co-office changes only with imports)."""
    groups = []
    if scope.role == Role.OFFICE and scope.offices:
        groups.append(scope.offices)
    if q.office:
        groups.append(frozenset({q.office}))
    return {group: shape_of(st, q.campaign_id, group) for group in groups}


def shape_of(st: WebState, campaign_id: int, offices: frozenset[str]) -> str:
    """How a group of offices is best queried ("lead": nobody co-routes to them), kept a
    while (whether an office is anyone's co-office changes only with imports)."""
    shape, _ = st.cache.get(("office-shape", campaign_id, offices),
                            lambda: read(st, office_shapes, campaign_id, [offices])[offices],
                            keep=always)
    return shape


# Counting stops here: past it the ledger says "10000+" and asks for a narrower filter.
COUNT_CAP = 10_000


def ledger_page_rows(st: WebState, ctx: Ctx, q: LedgerQuery, total: int,
                     exact: bool) -> list[LedgerRow]:
    """One page of rows, found the cheaper way (the cube knows the sizes, when it is kept)."""
    r = rules_of(st, q.campaign_id, ctx.today)
    shapes = office_shapes_of(st, ctx.scope, q)
    walked = gathered = None
    cube, age = cube_of(st, q.campaign_id, ctx.today)
    if age is not None:  # a kept cube: a big ledger, where the choice matters
        lead_only = all(v == "lead" for v in shapes.values())
        walked = cube.walked(ctx.scope, q, lead_only)
        gathered = None if lead_only else filtered_of(st, q, cube)
    return read(st, ledger_rows, ctx.scope, q, ctx.today, bands=r.bands,
                matches=total if exact else None, walked=walked, gathered=gathered,
                shapes=shapes)


def filtered_of(st: WebState, q: LedgerQuery, cube: Cube) -> int | None:
    """Scope-free sums over every cell: kept with the cube (an office others co-route to
    asks on every page), drawn again from its successor by its refresh."""
    return st.cache.get(("cube-filtered", q.count_key(), cube), lambda: cube_filtered(cube, q),
                        keep=always, of=cube, redraw=lambda new: filtered_of(st, q, new))[0]


def ledger_total(st: WebState, ctx: Ctx, q: LedgerQuery) -> tuple[int, bool]:
    """How many problems match (capped) and whether that is exact.

    Filters on place, office, status and band are summed from the shared cube of the day
    (no query); others are counted, stopping past COUNT_CAP. Big counts are kept a while even
    when quick; small ones are counted afresh, so a clerk's own move shows at once.
    """
    r = rules_of(st, q.campaign_id, ctx.today)
    if cube_counts(q):
        cube, age = cube_of(st, q.campaign_id, ctx.today)
        summed = cube_total(st, ctx.scope, q, cube, kept=age is not None)
        if summed is not None and (q.office is None or office_shapes_of(st, ctx.scope, q).get(
                frozenset({q.office})) == "lead"):
            return summed, True
        if summed is not None:
            # As the capped count it replaces answers (the same total and pages).
            return min(summed, COUNT_CAP), summed <= COUNT_CAP
    total, _ = st.cache.get(("count", ctx.scope.key(), q.count_key(), ctx.today),
                            lambda: read(st, ledger_count, ctx.scope, q, ctx.today,
                                         bands=r.bands, cap=COUNT_CAP),
                            keep=lambda n, took: took >= st.cache.slow_after or n >= 1000)
    return min(total, COUNT_CAP), total <= COUNT_CAP


def cube_total(st: WebState, scope: Scope, q: LedgerQuery, cube: Cube, *,
               kept: bool) -> int | None:
    """How many problems a ledger request matches, summed from the cube (None: it filters on
    what the cube does not count), kept with the cube and drawn again from its successor."""
    shapes = office_shapes_of(st, scope, q)
    # An office scope adds the cells of what it reaches only as a co-office; an office
    # filter others co-route to adds that office's (see cube_count).
    filter_lead = q.office is None or shapes.get(frozenset({q.office})) == "lead"
    scope_lead = shapes.get(scope.offices, "lead") == "lead"

    def summed_count() -> int | None:
        co = None if scope_lead else co_cells_of(st, scope, cube, kept=kept)
        office_co = None if filter_lead or q.office is None else offices_co_cells(
            st, cube, frozenset({q.office}), kept=kept).cells
        both = None
        if (office_co is not None and co is not None and q.office
                and q.office not in scope.offices):
            both = both_co_cells(st, cube, scope.offices, q.office, kept=kept).cells
        return cube_count(cube, scope, q, co.cells if co is not None else (), office_co, both)

    summed, _ = st.cache.get(("cube-count", scope.key(), q.count_key(), cube), summed_count,
                             keep=always, of=cube,
                             redraw=lambda new: cube_total(st, scope, q, new, kept=True))
    return summed


@router.get("/ledger", include_in_schema=False)
@signed_in
def ledger_page(request: Request, ctx: CtxDep, campaign: str | None = None,
                page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> Response:
    return ledger_of(request, ctx, campaign, request.query_params, page_no)


def ledger_of(request: Request, ctx: Ctx, campaign: str | None, query: Mapping[str, str],
              page_no: int = 1, kept: dict[str, Any] | None = None,
              status_code: int = 200, back: str | None = None) -> Response:
    """The ledger with the filters of `query`; a refused bulk form (kept: the reason, the
    chosen problems, step, office and note) is drawn again as it was sent."""
    st, campaigns, chosen = chosen_campaign(request, ctx, campaign, "ledger")
    params = {k: query.get(k, "") for k in LEDGER_KEYS}
    if "status" not in query:
        params["status"] = PENDING
    q = ledger_query(chosen.id, params, page_no)
    r = rules_of(st, chosen.id, ctx.today)
    total, exact = ledger_total(st, ctx, q)
    rows = ledger_page_rows(st, ctx, q, total, exact)
    names = r.names
    choices = st.cache.constant(("choices", ctx.scope.key(), chosen.id),
                               lambda: read(st, filter_choices, ctx.scope, chosen.id,
                                            names=names))
    options = st.cache.constant(("options", ctx.scope.key(), chosen.id),
                                lambda: filter_options(choices))
    pages = max((total + q.per_page - 1) // q.per_page, 1)
    # "status" stays even when empty: an empty one means 全部, an absent one the default.
    base = {k: v for k, v in params.items() if v or k == "status"}
    base["campaign"] = str(chosen.id)
    stones = read(st, milestone_texts, chosen.id, [r.id for r in rows], ctx.today,
                  plan=r.plan) if rows and any(
        rule.milestones for rule in r.plan.deadlines.rules) else {}
    bulk = ctx.scope.role == Role.COUNTY
    rows_html = ledger_rows_html(st.env, rows, names=names, bulk=bulk, kept=kept or {},
                                 milestones=stones, today=ctx.today)
    return page(st, ctx, "ledger.html", "ledger", campaign=chosen, campaigns=campaigns,
                q=q, params=params, rows=rows, rows_html=rows_html, total=total, exact=exact,
                pages=pages,
                names=names, milestones=stones,
                choices=choices, options=options, base=base, sorts=list(Sort),
                dues=list(Due), bulk=bulk,
                query_string=urlencode(base), kept=kept or {}, status_code=status_code,
                back=back or f"{request.url.path}?{request.url.query}")


def filter_options(choices: Mapping[str, list[Any]]) -> dict[str, Options]:
    """The ledger's filter drop-downs rendered once per scope and campaign (the bands'
    drop-down leaves out "no deadline")."""
    out = {key: Options(values) for key, values in choices.items()}
    out["bands"] = Options([c for c in choices["bands"] if c.code != "none"])
    return out


@router.get("/ledger.xlsx", include_in_schema=False)
@signed_in
def ledger_export(request: Request, ctx: CtxDep, campaign: str | None = None) -> Response:
    st = state(request)
    _, chosen = campaign_of(st, _int(campaign))
    if chosen is None:
        raise NotFound("尚未启动任何行动")
    params = {k: request.query_params.get(k, "") for k in LEDGER_KEYS}
    q = ledger_query(chosen.id, params)
    r = rules_of(st, chosen.id, ctx.today)
    with_stones = any(rule.milestones for rule in r.plan.deadlines.rules)
    with page_reads(st) as uow:
        session = uow.session
        duties = (DUTY_HEADERS, duty_sheet_rows(session, chosen.id, ctx.today,
                                                **duty_scope(ctx.scope))) \
            if r.plan.duties else None
        data = ledger_workbook(ledger_export_rows(session, ctx.scope, q, ctx.today,
                                                  bands=r.bands), r.names,
                               title=f"{chosen.name} 问题台账", exported_at=ctx.now,
                               exported_by=f"{ctx.user.name}（{ctx.user.role_label}）",
                               fields=r.plan.household.fields,
                               facts_of=lambda ids: household_facts_of(session, chosen.id, ids),
                               milestones_of=(lambda ids: milestone_texts(
                                   session, chosen.id, ids, ctx.today)) if with_stones else None,
                               duties=duties)
    filename = f"问题台账-{ctx.today.isoformat()}.xlsx"
    return Response(
        data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": _attachment(filename), "Cache-Control": "no-store"})


def _attachment(filename: str, inline: bool = False) -> str:
    from urllib.parse import quote

    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"download\"; filename*=UTF-8''{quote(filename)}"


# ---- waiting board ----------------------------------------------------------------------


@router.get("/waiting", include_in_schema=False)
@signed_in
def waiting_page(request: Request, ctx: CtxDep, campaign: str | None = None,
                 office: str | None = None, status: str | None = None,
                 page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> Response:
    st, campaigns, chosen = chosen_campaign(request, ctx, campaign, "waiting")
    r = rules_of(st, chosen.id, ctx.today)
    total, items = read(st, waiting_items, ctx.scope, chosen.id, ctx.today,
                        office=office or None, status=_enum(Status, status),
                        page=page_no, bands=r.bands, names=r.names)
    names = r.names
    base = {"campaign": str(chosen.id), "office": office or "", "status": status or ""}
    return page(st, ctx, "waiting.html", "waiting", campaign=chosen, campaigns=campaigns,
                items=items, total=total, page_no=page_no,
                pages=max((total + 49) // 50, 1), names=names,
                base={k: v for k, v in base.items() if v})


# ---- visit coverage ---------------------------------------------------------------------


@router.get("/coverage", include_in_schema=False)
@signed_in
def coverage_page(request: Request, ctx: CtxDep, campaign: str | None = None) -> Response:
    st, campaigns, chosen = chosen_campaign(request, ctx, campaign, "coverage")
    if ctx.scope.role == Role.OFFICE:
        return page(st, ctx, "message.html", "coverage", campaign=chosen, campaigns=campaigns,
                    title="走访覆盖", message="责任办室不查看走访覆盖情况。", status_code=403)
    data, age = st.cache.get(("coverage", ctx.scope.key(), chosen.id),
                             lambda: read(st, coverage, ctx.scope, chosen.id,
                                          names=rules_of(st, chosen.id, ctx.today).names))
    from duban.domain.household import VISIT_MODE_LABELS

    return page(st, ctx, "coverage.html", "coverage", campaign=chosen, campaigns=campaigns,
                cov=data, age=age, mode_labels={m.value: t for m, t in VISIT_MODE_LABELS.items()})
