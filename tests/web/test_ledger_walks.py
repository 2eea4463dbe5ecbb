"""Ledger speed-ups that must not change a page: co-offices probed row by row on a walk, the
per-office date indexes the planner counts, and filter drop-downs rendered once."""

from __future__ import annotations

import datetime as dt

import jinja2
import pytest
from sqlalchemy import select, update

from duban.services.scoping import Scope, office_condition, scope_for
from duban.services.views.choices import Choice
from duban.services.views.cube import ledger_cube
from duban.services.views.ledger import LedgerQuery, Sort, _order
from duban.web.render import Options
from models import Problem
from tests.web.conftest import World, close_one_accept_another


def _scope(world: World, username: str, today: dt.date) -> Scope:
    with world.db.transaction() as s:
        return scope_for(s, username, today)


@pytest.mark.parametrize("offices", [["gov-huaidian"], ["zjj", "gov-huaidian"], ["jyj"]])
def test_a_probed_co_office_condition_lists_the_same_rows(world: World,
                                                          offices: list[str]) -> None:
    """The OR of lead office and co-office, probed row by row (OFFSET 0 in the EXISTS, so
    PostgreSQL does not hash every co-routed id first), selects the same rows in every order
    and page as the hashed form."""
    cid = world.campaign_id
    with world.db.transaction() as s:
        probed = office_condition(s, cid, offices, shape="or", probe=True)
        hashed = office_condition(s, cid, offices, shape="or")
        sql = str(probed.compile(s.get_bind()))
        assert "OFFSET" in sql.upper() and "OFFSET" not in str(
            hashed.compile(s.get_bind())).upper()
        seen = 0
        for sort in Sort:
            for desc in (False, True):
                q = LedgerQuery(cid, sort=sort, descending=desc)
                for offset in (0, 3, 7):
                    rows = [select(Problem.id).where(Problem.campaign_id == cid, cond)
                            .order_by(*_order(q)).limit(4).offset(offset)
                            for cond in (probed, hashed)]
                    a, b = (s.scalars(r).all() for r in rows)
                    assert a == b, (sort, desc, offset)
                    seen += len(a)
        assert seen > 0


def test_an_offices_date_orders_walk_its_own_index(world: World) -> None:
    """With the per-office found-on and last-move indexes (migration 0024), a walk in those
    orders covers the office's rows, as in the deadline order; the code order still walks
    the campaign's code index."""
    today = world.clock.now().date()
    with world.db.transaction() as s:
        cube = ledger_cube(s, world.campaign_id, today)
    scope = _scope(world, "off_jyj", today)
    mine = cube.sizes[("office", "jyj")]
    everything = cube.sizes[("all", None)]
    assert 0 < mine < everything
    for sort in (Sort.DEADLINE, Sort.FOUND_ON, Sort.UPDATED):
        assert cube.walked(scope, LedgerQuery(world.campaign_id, sort=sort), True) == mine
    assert cube.walked(scope, LedgerQuery(world.campaign_id, sort=Sort.CODE), True) \
        == everything
    # An office someone co-routes to is not walked along its lead index.
    assert cube.walked(scope, LedgerQuery(world.campaign_id, sort=Sort.UPDATED), False) \
        == everything


LOOP = jinja2.Environment(autoescape=True).from_string(
    '{% for c in choices %}<option value="{{ c.code }}"{% if selected == c.code %} selected'
    '{% endif %}>{{ c.label }}</option>{% endfor %}')


@pytest.mark.parametrize("selected", [None, "", "b", "a&<\"'>", "zz", 3, "c"])
def test_options_rendered_once_are_what_the_template_loop_renders(selected: object) -> None:
    choices = [Choice("a&<\"'>", "甲 <b>&"), Choice("b", "乙\"'"), Choice("c", "丙"),
               Choice("bc", "丁")]
    options = Options(choices)
    assert str(options.html(selected)) == LOOP.render(choices=choices, selected=selected)
    assert len(options) == 4
    assert str(Options([]).html("b")) == ""


def test_the_gathers_indexes_carry_what_they_check(world: World) -> None:
    """Migration 0026: a gather by town checks the status and lead office in the town
    index, a gather by office the status in the lead-office index, and an office's
    co-routed ids come from the co-office index alone; each replaced the index it extends."""
    from sqlalchemy import inspect

    inspector = inspect(world.db.engine)
    problem = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("problem")}
    assert problem["ix_problem_campaign_town_status_lead"] == [
        "campaign_id", "town_code", "status", "lead_office"]
    assert problem["ix_problem_campaign_lead_status"] == ["campaign_id", "lead_office", "status"]
    assert "ix_problem_campaign_town" not in problem
    assert "ix_problem_campaign_lead_office" not in problem
    # Migration 0027: the co-office index leads with the campaign (one campaign's stretch).
    co = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("problem_co_office")}
    assert co == {"ix_problem_co_office_campaign_office_problem": [
        "campaign_id", "office_code", "problem_id"]}


def test_what_a_gather_reads_is_the_filters_count_over_the_campaign(world: World) -> None:
    """cube_filtered: how many problems the request's own filters select whatever the scope,
    summed from the cube, is the county office's count of the same request."""
    from duban.domain.bands import Band
    from duban.domain.lifecycle import Status
    from duban.services.views.cube import cube_filtered
    from duban.services.views.ledger import ledger_count

    close_one_accept_another(world)
    world.clock.advance(dt.timedelta(days=40))
    today = world.clock.now().date()
    cid = world.campaign_id
    with world.db.transaction() as s:
        cube = ledger_cube(s, cid, today)
        county = scope_for(s, "county", today)
        queries = [LedgerQuery(cid), LedgerQuery(cid, pending=True),
                   LedgerQuery(cid, town="huaidian"), LedgerQuery(cid, village="huaidian-01"),
                   LedgerQuery(cid, town="liuzhuangdian", pending=True),
                   *(LedgerQuery(cid, status=st) for st in Status),
                   *(LedgerQuery(cid, band=b) for b in Band)]
        for q in queries:
            assert cube_filtered(cube, q) == ledger_count(s, county, q, today), q
        assert sum(cube_filtered(cube, LedgerQuery(cid, status=st)) or 0 for st in Status) == 3
        assert cube_filtered(cube, LedgerQuery(cid, office="zjj")) is None
        assert cube_filtered(cube, LedgerQuery(cid, category="housing")) is None


def test_a_scope_checked_row_by_row_walks_when_its_gather_would_read_more(
        world: World) -> None:
    """A deep page of an office others co-route to: the gather reads every row of the
    request's own filters (a status's rows over the campaign), not just the matches, so a
    walk that reads fewer than that is chosen."""
    from duban.domain.lifecycle import Status
    from duban.services.views.ledger import walk_sort_index

    today = world.clock.now().date()
    scope = _scope(world, "off_gov_hd", today)
    q = LedgerQuery(world.campaign_id, status=Status.ROUTED, sort=Sort.UPDATED, page=20)
    # 1,000 rows reached, 29,829 matches among 1,000,000: a walk reads ~33,500 entries.
    assert not walk_sort_index(scope, q, 29_829, 1_000_000)
    assert walk_sort_index(scope, q, 29_829, 1_000_000, gathered=100_000)
    assert not walk_sort_index(scope, q, 29_829, 1_000_000, gathered=30_000)
    assert not walk_sort_index(scope, q, 1_500, 1_000_000, gathered=100_000)  # sparse


def _undated_world(world: World) -> list[int]:
    """Nine more huaidian problems (gov-huaidian is their co-office), four of them and one
    of the world's without a deadline, the others' deadlines spread with ties."""
    from duban.services.problems import record_problems
    from tests.web.conftest import _reported

    reports = [_reported("huaidian", "huaidian-01", "housing", f"危房{i}") for i in range(9)]
    result = world.db.run(record_problems, world.clock, world.campaign_id, reports,
                          recorded_by="county")
    ids = [*result.problem_ids, world.problems["hd_housing"]]
    deadlines = [None, dt.date(2022, 10, 3), None, dt.date(2022, 10, 3), dt.date(2022, 11, 1),
                 None, dt.date(2022, 9, 30), None, dt.date(2022, 10, 20), None]
    with world.db.transaction() as s:
        for pid, deadline in zip(ids, deadlines, strict=True):
            s.execute(update(Problem).where(Problem.id == pid).values(deadline=deadline))
    return ids


@pytest.mark.parametrize("username,office", [("off_gov_hd", None), ("county", "gov-huaidian"),
                                             ("off_zjj", "gov-huaidian")])
@pytest.mark.parametrize("shape", ["or", "gather"])
def test_the_undated_rows_apart_list_the_same_pages(world: World, username: str,
                                                    office: str | None, shape: str) -> None:
    """An office others co-route to, sorted by deadline with the undated rows first
    (descending on PostgreSQL, ascending on SQLite): its undated rows are gathered through
    the indexes, then the dated ones walked (one statement), instead of one walk reading
    every undated row of the campaign first. Every page is the one walk's, in both
    directions, and the statement run is the split one exactly where the undated rows come
    first."""
    from sqlalchemy import event

    from duban.services.views.ledger import ROW_COLUMNS, ledger_rows, ledger_select

    ids = _undated_world(world)
    today = world.clock.now().date()
    scope = _scope(world, username, today)
    cid = world.campaign_id
    groups = [g for g in (scope.offices if scope.role.value == "office" else None,
                          frozenset({office}) if office else None) if g]
    shapes = {g: shape if "gov-huaidian" in g else "lead" for g in groups}
    seen: list[str] = []

    def statement(conn: object, cursor: object, sql: str, *_: object) -> None:
        seen.append(sql)

    with world.db.transaction() as s:
        first = s.get_bind().dialect.name == "postgresql"  # PostgreSQL: NULLs first descending
        event.listen(s.connection(), "before_cursor_execute", statement)
        listed: set[int] = set()
        for desc in (False, True):
            for page in (1, 2, 3, 4, 5, 6):
                q = LedgerQuery(cid, office=office, sort=Sort.DEADLINE, descending=desc,
                                page=page, per_page=2)
                seen.clear()
                got = [r.id for r in ledger_rows(s, scope, q, today, shapes=shapes)]
                split = any("UNION ALL" in sql and "IS NULL" in sql for sql in seen)
                assert split is (desc == first), (desc, page)
                want = s.execute(ledger_select(s, scope, q, today, shapes=shapes)
                                 .order_by(*_order(q)).limit(2).offset((page - 1) * 2)
                                 .with_only_columns(*ROW_COLUMNS)).all()
                assert got == [r.id for r in want], (desc, page)
                listed.update(got)
        assert set(ids) <= listed  # the undated rows among them
        event.remove(s.connection(), "before_cursor_execute", statement)


def test_a_pages_statement_is_built_once_per_shape(world: World) -> None:
    """page_statement keeps one statement per shape (scope, filters given, order, how the
    page is found), its values bound: requests that differ only in their filters' values
    or page share it, and each lists what a statement built for it alone lists."""
    from dataclasses import replace

    from duban.domain.lifecycle import Status
    from duban.services.campaigns import load_plan_of
    from duban.services.views.common import plan_bands
    from duban.services.views.ledger import (
        ROW_COLUMNS,
        ledger_rows,
        ledger_select,
        page_statement,
    )

    _undated_world(world)
    today = world.clock.now().date()
    cid = world.campaign_id
    for username in ("county", "town_hd", "off_zjj", "off_gov_hd"):
        scope = _scope(world, username, today)
        shapes = {g: "or" for g in (scope.offices, frozenset({"gov-huaidian"}),
                                    frozenset({"zjj"}), frozenset({"jyj"}))}
        families = [
            [LedgerQuery(cid, town=t, sort=Sort.CODE) for t in ("huaidian", "liuzhuangdian")],
            [LedgerQuery(cid, office=o, descending=True) for o in ("gov-huaidian", "zjj", "jyj")],
            [LedgerQuery(cid, status=st, sort=Sort.UPDATED) for st in Status],
            [LedgerQuery(cid, search=t, per_page=3) for t in ("危房", "辍学", "%", "_x\\")],
            [LedgerQuery(cid, category=c, source="household", pending=True)
             for c in ("housing", "education")],
        ]
        with world.db.transaction() as s:
            bands = plan_bands(load_plan_of(s, cid), today)
            for family in families:
                for dense in (True, False):
                    stmts = {id(page_statement(s, scope, replace(q, page=p), today, bands,
                                               shapes, dense))
                             for q in family for p in (1, 2)}
                    assert len(stmts) == 1, (username, family[0])
                for q in family:
                    for page in (1, 2):
                        q = replace(q, page=page, per_page=2)
                        got = [r.id for r in ledger_rows(s, scope, q, today, bands=bands,
                                                         shapes=shapes)]
                        alone = s.execute(ledger_select(s, scope, q, today, bands,
                                                        shapes=shapes)
                                          .order_by(*_order(q)).limit(2)
                                          .offset((page - 1) * 2)
                                          .with_only_columns(*ROW_COLUMNS)).all()
                        assert got == [r.id for r in alone], (username, q)


def test_no_move_leads_back_to_unrouted() -> None:
    """undated_ids looks for an office's co-routed undated problems among the routed ones
    only (a guard of that assumption, not of a page): co-offices are written when a problem
    is routed, and no move leads back to 待交办, so a 待交办 problem has none."""
    from duban.domain.lifecycle import TRANSITIONS, Status

    assert all(rule.target is not Status.UNROUTED for rule in TRANSITIONS)
    assert any(rule.source is Status.UNROUTED and rule.target is Status.ROUTED
               for rule in TRANSITIONS)
