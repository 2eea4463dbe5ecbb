"""The dashboard summed from the shared ledger cube equals the one queried per scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from duban.services.scoping import reach_of, scope_for
from duban.services.views.cube import co_cells, ledger_cube
from duban.services.views.dashboard import Dashboard, dashboard
from duban.services.views.ledger import LedgerQuery, ledger_rows
from tests.web.conftest import USERS, World, close_one_accept_another


def _progress(d: Dashboard) -> object:
    return (
        [(p.code, p.total, p.closed, p.pending, p.overdue, sorted(p.bands.items()))
         for p in [d.total, *d.towns, *d.offices, *d.villages]],
        sorted(d.by_status.items()),
        [(w.party, w.status, w.count, w.oldest_since) for w in d.waiting],
        [(t.day, t.found, t.closed, t.pending) for t in d.trend],
    )


@pytest.mark.usefixtures("data_dir")
def test_cube_and_direct_queries_agree_for_every_scope(world: World) -> None:
    db, clock = world.db, world.clock
    # Closed at 05:00 next day, China time: a later closed day.
    close_one_accept_another(world, review_to_close=dt.timedelta(hours=20))
    today = clock.now().date()
    with db.transaction() as s:
        cube = ledger_cube(s, world.campaign_id, today)
    for username in USERS:
        with db.transaction() as s:
            scope = scope_for(s, username, today)
            direct = dashboard(s, scope, world.campaign_id, today)
            summed = dashboard(s, scope, world.campaign_id, today, cube=cube)
            co = co_cells(s, world.campaign_id, reach_of(scope).offices, today)
            with_co = dashboard(s, scope, world.campaign_id, today, cube=cube, co_cells=co)
        assert _progress(summed) == _progress(direct), username
        assert _progress(with_co) == _progress(direct), username
        assert direct.total.total == len(world.visible[username]), username
    with db.transaction() as s:
        county = scope_for(s, "county", today)
        board = dashboard(s, county, world.campaign_id, today, cube=cube)
    assert board.total.closed == 1 and board.by_status["已销号"] == 1
    closed_on = {t.day: t.closed for t in board.trend if t.closed}
    assert closed_on == {dt.date(2022, 9, 27): 1}
    assert board.trend[-1].pending == 2


def test_every_office_query_shape_lists_the_same_problems(world: World, monkeypatch) -> None:
    from duban.services import scoping

    today = world.clock.now().date()
    with world.db.transaction() as s:
        scope = scope_for(s, "off_gov_hd", today)  # a co-office only
        assert scoping.office_shape(s, world.campaign_id, scope.offices) == "gather"
    q = LedgerQuery(campaign_id=world.campaign_id)
    expected = {world.problems[n] for n in world.visible["off_gov_hd"]}
    seen = {}
    for limit, shape in ((20_000, "gather"), (0, "or")):
        monkeypatch.setattr(scoping, "GATHER_AT_MOST", limit)
        with world.db.transaction() as s:
            assert scoping.office_shape(s, world.campaign_id, scope.offices) == shape
        for matches in (None, 1):  # walk the sort index, or gather and sort
            with world.db.transaction() as s:
                rows = ledger_rows(s, scope, q, today, matches=matches)
            seen[(shape, matches)] = {r.id for r in rows}
    assert all(ids == expected for ids in seen.values()), seen
    filtered = LedgerQuery(campaign_id=world.campaign_id, office="gov-huaidian")
    with world.db.transaction() as s:
        county = scope_for(s, "county", today)
        assert {r.id for r in ledger_rows(s, county, filtered, today)} == expected


@pytest.mark.usefixtures("data_dir")
def test_a_page_asks_for_the_plan_version_once_and_the_next_page_asks_again(
        world: World, client_for: Callable[[str], tuple[TestClient, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A page needs the campaign's rules several times but asks the database for the plan
    versions in force once (with its sign-in); the next request asks again (a new version
    shows at once)."""
    from duban.web import deps, pages

    asked: list[str] = []
    real_one, real_all = pages.plan_version_of, deps.signing_in

    def one(db: object, campaign_id: int) -> int:
        asked.append(f"one {campaign_id}")
        return real_one(db, campaign_id)  # type: ignore[arg-type]

    def every(*args: Any) -> Any:  # the sign-in, with the plan versions in force
        asked.append("all")
        return real_all(*args)

    monkeypatch.setattr(pages, "plan_version_of", one)
    monkeypatch.setattr(deps, "signing_in", every)
    for username in ("county", "off_gov_hd", "town_hd"):
        client, _ = client_for(username)
        for path in (f"/?campaign={world.campaign_id}",
                     f"/ledger?campaign={world.campaign_id}&status="):
            asked.clear()
            assert client.get(path).status_code == 200, (username, path)
            assert asked == ["all"], (username, path, asked)
    assert pages.PLAN_VERSIONS.get() is None  # nothing is kept outside a request
