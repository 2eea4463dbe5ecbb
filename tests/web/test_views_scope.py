"""The one access rule: a filter narrows a scope and never replaces it, and the dashboard's
counts are the counts of the scoped ledger, for every role."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from duban.domain.bands import Band
from duban.domain.lifecycle import STATUS_LABELS, Status
from duban.services.scoping import Scope, office_shape, scope_for
from duban.services.views.cube import Cube, co_cells, cube_count, ledger_cube
from duban.services.views.dashboard import dashboard
from duban.services.views.ledger import LedgerQuery, ledger_count, ledger_export_rows, ledger_rows
from duban.services.views.waiting import waiting_items
from tests.web.conftest import USERS, World, close_one_accept_another

# user -> a town, a village and an office outside what the user may see
OTHERS: dict[str, tuple[str, str, str]] = {
    "town_hd": ("liuzhuangdian", "liuzhuangdian-01", "jyj"),
    "town_lz": ("huaidian", "huaidian-01", "gov-huaidian"),
    "vil_hd1": ("liuzhuangdian", "liuzhuangdian-01", "jyj"),
    "off_jyj": ("huaidian", "huaidian-01", "zjj"),
}


def _scope(world: World, username: str, today: dt.date) -> Scope:
    with world.db.transaction() as s:
        return scope_for(s, username, today)


def _cube(world: World, today: dt.date) -> Cube:
    with world.db.transaction() as s:
        return ledger_cube(s, world.campaign_id, today)


@pytest.mark.parametrize("username", sorted(OTHERS))
def test_a_filter_on_another_place_or_office_finds_nothing(world: World, username: str) -> None:
    today = world.clock.now().date()
    scope = _scope(world, username, today)
    cube = _cube(world, today)
    town, village, office = OTHERS[username]
    for q in (LedgerQuery(world.campaign_id, town=town),
              LedgerQuery(world.campaign_id, village=village),
              LedgerQuery(world.campaign_id, office=office),
              LedgerQuery(world.campaign_id, town=town, status=Status.ROUTED)):
        # The whole campaign has problems there: the county office finds them.
        with world.db.transaction() as s:
            assert ledger_count(s, _scope(world, "county", today), q, today) > 0, q
            assert ledger_count(s, scope, q, today) == 0, q
            assert ledger_rows(s, scope, q, today) == [], q
            assert list(ledger_export_rows(s, scope, q, today)) == [], q
        assert cube_count(cube, scope, q) == 0, q
    with world.db.transaction() as s:
        assert waiting_items(s, scope, world.campaign_id, today, office=office) == (0, [])


def test_a_town_filtering_on_another_town_sees_nothing_on_any_edge(
        world: World, client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    client, _ = client_for("town_hd")
    cid = world.campaign_id
    api = client.get(f"/api/problems?campaign={cid}&town=liuzhuangdian")
    assert api.status_code == 200
    assert api.json()["total"] == 0 and api.json()["items"] == []
    own = client.get(f"/api/problems?campaign={cid}&town=huaidian").json()
    assert own["total"] == 1 and [p["id"] for p in own["items"]] == [world.problems["hd_housing"]]
    page = client.get(f"/ledger?campaign={cid}&town=liuzhuangdian&status=")
    assert page.status_code == 200
    assert "刘庄店村危房" not in page.text and "辍学" not in page.text
    export = client.get(f"/ledger.xlsx?campaign={cid}&town=liuzhuangdian")
    assert export.status_code == 200

    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2  # the title line and the header only


def _move_some(world: World) -> None:
    close_one_accept_another(world)
    world.clock.advance(dt.timedelta(days=40))  # past the deadlines: the open items are coloured


@pytest.mark.parametrize("with_cube", [False, True], ids=["queried", "cube"])
@pytest.mark.usefixtures("data_dir")
def test_dashboard_counts_are_the_scoped_ledger_counts_for_every_role(
        world: World, with_cube: bool) -> None:
    _move_some(world)
    today = world.clock.now().date()
    cube = _cube(world, today) if with_cube else None
    cid = world.campaign_id
    for username in USERS:
        scope = _scope(world, username, today)
        with world.db.transaction() as s:
            board = dashboard(s, scope, cid, today, cube=cube)

            def count(s: Session = s, scope: Scope = scope, **filters: Any) -> int:
                return ledger_count(s, scope, LedgerQuery(cid, **filters), today)

            assert board.total.total == count() == len(world.visible[username]), username
            assert board.total.pending == count(pending=True), username
            assert board.total.closed == count(status=Status.CLOSED), username
            for status in Status:
                label = board.by_status.get(_label(status), 0)
                assert label == count(status=status), (username, status)
            for band in Band:
                assert board.total.bands.get(band.value, 0) == count(band=band), (username, band)
            for town in board.towns:
                assert town.total == count(town=town.code), (username, town.code)
            assert sum(t.total for t in board.towns) == board.total.total
            if username == "county":  # the counts compared include coloured bands
                assert board.total.overdue and board.total.closed, board.total
        waiting = sum(w.count for w in board.waiting)
        with world.db.transaction() as s:
            assert waiting == waiting_items(s, scope, cid, today)[0], username


def _label(status: Status) -> str:
    return STATUS_LABELS[status]


def test_the_rule_in_memory_admits_exactly_what_its_sql_selects(world: World) -> None:
    from sqlalchemy import select

    from duban.services.scoping import problem_clause, reach_of
    from models import Problem, ProblemCoOffice

    today = world.clock.now().date()
    with world.db.transaction() as s:
        problems = s.scalars(select(Problem)).all()
        co: dict[int, list[str]] = {}
        for pid, office in s.execute(select(ProblemCoOffice.problem_id,
                                            ProblemCoOffice.office_code)):
            co.setdefault(pid, []).append(office)
        for username in USERS:
            scope = scope_for(s, username, today)
            selected = set(s.scalars(select(Problem.id).where(problem_clause(scope))))
            reach = reach_of(scope)
            admitted = {p.id for p in problems
                        if reach.admits(p.town_code, p.village_code, p.lead_office,
                                        co.get(p.id, ()))}
            assert admitted == selected, username
            assert {world.problems[n] for n in world.visible[username]} == selected, username


@pytest.mark.parametrize("username", ["off_gov_hd", "off_zjj", "off_jyj"])
@pytest.mark.usefixtures("data_dir")
def test_an_offices_totals_summed_with_its_co_office_cells_are_its_counts(
        world: World, username: str) -> None:
    """An office that is someone's co-office sums its ledger totals from the cube's lead
    cells and its co-office cells: each equals the scoped count, for filters on place,
    a lead office nobody co-routes to, status, band and pending."""
    _move_some(world)
    today = world.clock.now().date()
    cube = _cube(world, today)
    scope = _scope(world, username, today)
    cid = world.campaign_id
    with world.db.transaction() as s:
        co = co_cells(s, cid, scope.offices, today).cells
    queries = [LedgerQuery(cid), LedgerQuery(cid, pending=True),
               LedgerQuery(cid, town="huaidian"), LedgerQuery(cid, town="liuzhuangdian"),
               LedgerQuery(cid, village="huaidian-01"), LedgerQuery(cid, office="zjj"),
               LedgerQuery(cid, office="jyj"), LedgerQuery(cid, status=Status.CLOSED),
               *(LedgerQuery(cid, status=st) for st in Status),
               *(LedgerQuery(cid, band=b) for b in Band)]
    with world.db.transaction() as s:
        # The caller sums an office filter only when nobody co-routes to that office.
        queries = [q for q in queries
                   if q.office is None or office_shape(s, cid, [q.office]) == "lead"]
        assert any(q.office for q in queries)
        for q in queries:
            assert cube_count(cube, scope, q, co) == ledger_count(s, scope, q, today), q
        assert cube_count(cube, scope, LedgerQuery(cid), co) == len(world.visible[username])
    if username == "off_gov_hd":  # a co-office only: without its cells it counts nothing
        assert co and cube_count(cube, scope, LedgerQuery(cid)) == 0


@pytest.mark.usefixtures("data_dir")
def test_a_filter_on_an_office_others_co_route_to_sums_its_co_office_cells(
        world: World) -> None:
    """An office filter others co-route to (a town's government, a village) sums the cube's
    cells it leads and its own co-office cells: for every role, the scoped count, except an
    office scope others co-route to filtering on another such office (not in the cells:
    None, the caller counts in SQL)."""
    _move_some(world)
    today = world.clock.now().date()
    cube = _cube(world, today)
    cid = world.campaign_id
    offices = ["gov-huaidian", "gov-liuzhuangdian", "village:huaidian-01",
               "village:liuzhuangdian-01"]
    summed_from_co = unanswered = joint = 0
    with world.db.transaction() as s:
        office_co = {}
        for office in offices:
            assert office_shape(s, cid, [office]) != "lead", office
            office_co[office] = co_cells(s, cid, [office], today).cells
        for username in USERS:
            scope = scope_for(s, username, today)
            co = co_cells(s, cid, scope.offices, today).cells if scope.offices else ()
            for office in offices:
                for q in (LedgerQuery(cid, office=office),
                          LedgerQuery(cid, office=office, pending=True),
                          LedgerQuery(cid, office=office, town="huaidian"),
                          LedgerQuery(cid, office=office, village="liuzhuangdian-01"),
                          *(LedgerQuery(cid, office=office, status=st) for st in Status),
                          *(LedgerQuery(cid, office=office, band=b) for b in Band)):
                    summed = cube_count(cube, scope, q, co, office_co[office])
                    expected = ledger_count(s, scope, q, today)
                    if summed is None:
                        assert co and office not in scope.offices, (username, q)
                        unanswered += 1
                        # What both are co-offices of, led by neither, completes it.
                        both = co_cells(s, cid, scope.offices, today, and_co=[office]).cells
                        summed = cube_count(cube, scope, q, co, office_co[office], both)
                        joint += summed if summed is not None else 0
                    assert summed == expected, (username, q)
                    summed_from_co += summed - (cube_count(cube, scope, q, co) or 0)
    # The co-office cells counted something (the lead cells alone fall short); an office
    # others co-route to filtering on another needs the cells of what both are co-offices
    # of (gov-huaidian filtering on village:huaidian-01 reaches hd_housing, led by zjj).
    assert summed_from_co > 0
    assert unanswered > 0 and joint > 0
