"""Ledger speed-ups that must not change a page: co-offices probed row by row on a walk, the
per-office date indexes the planner counts, and filter drop-downs rendered once."""

from __future__ import annotations

import datetime as dt

import jinja2
import pytest
from sqlalchemy import select

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
    co = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("problem_co_office")}
    assert co == {"ix_problem_co_office_office_problem": ["office_code", "problem_id"]}


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
