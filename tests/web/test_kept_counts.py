"""Kept counts shared by the web server's processes: a stored cube is the cube counted, one
process counts while the others wait for its copy, and a copy older than its bound is
counted again (so a write shows once the bound has passed), on both backends."""

from __future__ import annotations

import datetime as dt
import gc
import re
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.services.database import Database
from duban.services.scoping import reach_of, scope_for
from duban.services.views.cube import (
    OLDEST,
    Cube,
    co_cells,
    cube_bytes,
    cube_from_bytes,
    ledger_cube,
)
from duban.services.views.kept import kept_copy, shared_count
from duban.web.cache import Aged, SlowResultCache
from models.tables import kept_count
from tests.web.conftest import World, close_one_accept_another


def _same(a: Cube, b: Cube) -> None:
    assert (a.campaign_id, a.today) == (b.campaign_id, b.today)
    assert sorted(a.cells, key=repr) == sorted(b.cells, key=repr)
    assert a.found == b.found and a.closed == b.closed


def _count(world: World, today: dt.date) -> Any:
    return lambda s: ledger_cube(s, world.campaign_id, today)


def _shared(world: World, key: str, today: dt.date, max_age: float,
            count: Any = None) -> tuple[Cube, float | None]:
    with world.db.unit_of_work() as uow:
        got = shared_count(uow, key, count or _count(world, today), max_age=max_age,
                           worth_keeping=0.0, encode=cube_bytes, decode=cube_from_bytes)
        uow.commit()
    return got


@pytest.mark.usefixtures("data_dir")
def test_a_cube_survives_its_bytes(world: World) -> None:
    close_one_accept_another(world)
    world.clock.advance(dt.timedelta(days=40))  # open items past their deadlines: coloured
    today = world.clock.now().date()
    with world.db.transaction() as s:
        cube = ledger_cube(s, world.campaign_id, today)
        scope = scope_for(s, "off_zjj", today)
        co = co_cells(s, world.campaign_id, ["jyj", "zjj"], today)
    assert cube.cells and cube.found and cube.closed
    assert any(c[OLDEST] is not None for c in cube.cells)
    _same(cube_from_bytes(cube_bytes(cube)), cube)
    _same(cube_from_bytes(cube_bytes(co)), co)
    back = cube_from_bytes(cube_bytes(cube))
    assert back.reached(reach_of(scope)) == cube.reached(reach_of(scope))


@pytest.mark.usefixtures("data_dir")
def test_a_cubes_cells_leave_the_collectors_walks(world: World) -> None:
    """A cube's cells, counted or read from the shared copy, are untracked by CPython's
    collector once a young collection has seen them, their groupings once a later one
    has: the tens of thousands of cells of each recounted cube are not walked by every
    middle and full collection of a web worker (a pause holding the GIL; docs/benchmarks.md,
    tenth pass)."""
    close_one_accept_another(world)
    world.clock.advance(dt.timedelta(days=40))
    today = world.clock.now().date()
    with world.db.transaction() as s:
        counted = ledger_cube(s, world.campaign_id, today)
        scope = scope_for(s, "off_zjj", today)
    for cube in (counted, cube_from_bytes(cube_bytes(counted))):
        assert cube.cells
        groups = [*cube.by_town.values(), *cube.by_village.values(),
                  *cube.by_office.values(), cube.reached(reach_of(scope))]
        gc.collect(0)
        assert not any(gc.is_tracked(c) for c in cube.cells)
        gc.collect()  # a tuple of tuples may take a second collection (its items first)
        assert not any(gc.is_tracked(g) for g in groups)


@pytest.mark.usefixtures("data_dir")
def test_the_copy_is_the_count_and_is_counted_again_past_its_age(world: World) -> None:
    today = world.clock.now().date()
    first, age = _shared(world, "cube:t", today, max_age=60)
    assert age is None  # counted by this call, and stored
    kept, age = _shared(world, "cube:t", today, max_age=60,
                        count=lambda s: pytest.fail("counted again while young"))
    assert age is not None and 0 <= age < 60
    _same(kept, first)
    # A write: the young copy stays what was counted; past its age the count is fresh.
    close_one_accept_another(world)
    still, _ = _shared(world, "cube:t", today, max_age=60,
                       count=lambda s: pytest.fail("counted again while young"))
    _same(still, first)
    time.sleep(0.05)
    fresh, age = _shared(world, "cube:t", today, max_age=0.01)
    assert age is None
    with world.db.transaction() as s:
        _same(fresh, ledger_cube(s, world.campaign_id, today))
        assert fresh.cells != first.cells
        assert kept_copy(s, "cube:t", 60) is not None  # the new count replaced the old
        assert s.scalar(select(kept_count.c.key).where(kept_count.c.key == "cube:t"))
    again, age = _shared(world, "cube:t", today, max_age=60,
                         count=lambda s: pytest.fail("counted again while young"))
    assert age is not None
    _same(again, fresh)


def test_a_quick_count_is_not_stored(world: World) -> None:
    today = world.clock.now().date()
    with world.db.unit_of_work() as uow:
        _, age = shared_count(uow, "cube:quick", _count(world, today), max_age=60,
                              worth_keeping=3600.0, encode=cube_bytes, decode=cube_from_bytes)
        uow.commit()
    assert age is None
    with world.db.transaction() as s:
        assert kept_copy(s, "cube:quick", 60) is None


def test_the_cache_keeps_a_shared_copy_as_old_as_it_is() -> None:
    cache = SlowResultCache(ttl=30, slow_after=10)
    value, age = cache.get("k", lambda: Aged("copy", 25.0))
    assert (value, age) == ("copy", 25.0)
    value, age = cache.get("k", lambda: pytest.fail("computed while kept"))
    assert value == "copy" and age is not None and 25.0 <= age < 30
    old = SlowResultCache(ttl=30, slow_after=10, max_stale=60)
    old.get("k", lambda: Aged("copy", 31.0))  # already past the ttl: refreshed on next use
    gate = threading.Event()

    def fresh() -> str:
        gate.set()
        return "fresh"

    value, age = old.get("k", fresh)
    assert value == "copy" and age is not None and age >= 31
    assert gate.wait(5)
    deadline = time.monotonic() + 5
    while old.get("k", fresh)[0] != "fresh" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert old.get("k", fresh)[0] == "fresh"


def test_one_process_counts_while_the_others_wait_for_its_copy(
        committed_db: Database, clock: Any) -> None:
    """Two connections (as two server processes): the second waits for the first's turn to
    end and takes its copy instead of counting (PostgreSQL's advisory lock; SQLite's
    writers take turns at the database)."""
    from tests.web.conftest import build_world

    world = build_world(committed_db, clock)
    today = clock.now().date()
    counted: list[str] = []
    started = threading.Event()

    def slow(name: str) -> Any:
        def count(s: Session) -> Cube:
            counted.append(name)
            started.set()
            time.sleep(0.3)
            return ledger_cube(s, world.campaign_id, today)
        return count

    results: dict[str, tuple[Cube, float | None]] = {}

    def run(name: str) -> None:
        results[name] = _shared(world, "cube:turn", today, 60, count=slow(name))

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert started.wait(10)
    if committed_db.engine.dialect.name == "postgresql":
        run("second")  # waits for the first's turn, then reads its copy
    first.join()
    if committed_db.engine.dialect.name != "postgresql":
        run("second")
    assert counted == ["first"]
    assert results["first"][1] is None and results["second"][1] is not None
    _same(results["second"][0], results["first"][0])


def _kept_app(world: World, tmp_path_factory: pytest.TempPathFactory,
              monkeypatch: pytest.MonkeyPatch) -> Any:
    """The web app with the aggregate cache on and every count worth keeping, as over a
    million problems."""
    from duban.services.root import Root
    from duban.web.app import create_app
    from tests.web.conftest import SECRET

    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    app = create_app(Root(db=world.db, clock=world.clock), secret_key=SECRET,
                     cache_seconds=60)
    app.state.duban.cache.slow_after = 0.0
    return app


def _dashboard(app: Any, username: str) -> str:
    from fastapi.testclient import TestClient

    from tests.web.conftest import login

    with TestClient(app, base_url="http://testserver") as client:
        login(client, username)
        page = client.get("/")
        assert page.status_code == 200
        return page.text


def test_a_second_process_draws_its_dashboard_from_the_first_ones_count(
        world: World, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # gov-huaidian is a co-office of a problem it does not lead: it has co-office cells.
    first = _kept_app(world, tmp_path_factory, monkeypatch)
    fresh = _dashboard(first, "off_gov_hd")
    assert "统计数据缓存于" not in fresh  # counted by this request
    assert "统计数据缓存于" in _dashboard(first, "off_gov_hd")  # kept, the co-office cells too
    with world.db.transaction() as s:
        keys = set(s.scalars(select(kept_count.c.key)))
    assert any(k.startswith("cube:") for k in keys) and any(k.startswith("co:") for k in keys)
    second = _kept_app(world, tmp_path_factory, monkeypatch)
    shared = _dashboard(second, "off_gov_hd")
    assert "统计数据缓存于" in shared  # the first one's copy, with its age
    strip = re.compile(r'<p class="muted small">统计数据缓存于 \d+ 秒前</p>|'
                       r'name="csrf_token" value="[0-9a-f]+"')
    assert strip.sub("", shared) == strip.sub("", fresh)


def test_the_county_office_and_a_supervisor_keep_their_own_moves_of_the_day(
        world: World, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Both see every row (one scope of rows) but not the same moves: 待交办 and 待销号 are
    the county office's. A kept cube once gave the second asker the first one's lines."""
    app = _kept_app(world, tmp_path_factory, monkeypatch)
    for username in ("county", "sup", "county", "sup"):
        page = _dashboard(app, username)
        assert ("待销号" in page) == (username == "county"), username
        assert "待我复核" in page


@pytest.mark.usefixtures("data_dir")
def test_every_office_draws_the_same_dashboard_from_kept_counts_as_from_fresh_ones(
        world: World, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Offices others co-route to (their co-office cells shared) and offices nobody does
    (no co-office count at all): the kept page is the fresh page."""
    from duban.services.root import Root
    from duban.web.app import create_app
    from tests.web.conftest import SECRET, USERS

    close_one_accept_another(world)
    with world.db.transaction() as s:
        from duban.services.scoping import office_shape

        shapes = {u: office_shape(s, world.campaign_id, [office])
                  for u, (_, office, *_) in USERS.items() if u.startswith("off_") and office}
    assert "lead" in shapes.values() and set(shapes.values()) - {"lead"}
    kept = _kept_app(world, tmp_path_factory, monkeypatch)
    fresh = create_app(Root(db=world.db, clock=world.clock), secret_key=SECRET,
                       cache_seconds=0)
    strip = re.compile(r'<p class="muted small">统计数据缓存于 \d+ 秒前</p>|'
                       r'name="csrf_token" value="[0-9a-f]+"')
    for username in shapes:
        _dashboard(kept, username)  # the first counts; the second is drawn from kept counts
        page = _dashboard(kept, username)
        assert "统计数据缓存于" in page, username
        assert strip.sub("", page) == strip.sub("", _dashboard(fresh, username)), username


@pytest.mark.usefixtures("data_dir")
def test_the_dashboards_drawn_parts_go_with_their_cube(
        world: World, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts drawn from a scope's sums (key figures, bands, trend) are kept with the cube
    they were drawn from: a recounted cube draws them again from the new counts, and the old
    cube's parts are dropped with it."""
    from duban.services.root import Root
    from duban.web.app import create_app
    from tests.web.conftest import SECRET

    app = _kept_app(world, tmp_path_factory, monkeypatch)
    cache = app.state.duban.cache
    _dashboard(app, "county")  # counts
    before = _dashboard(app, "county")  # drawn from the kept count, its parts kept
    parts = [k for k in cache._data if k[0] == "board-html"]
    assert parts, "the dashboard's parts are kept with the cube"
    old = parts[0][-1]
    close_one_accept_another(world)  # a close: the key figures and the trend move
    with world.db.transaction() as s:  # the shared copy is past its bound …
        s.execute(kept_count.delete())
    for key, entry in cache._data.items():  # … and so is this process's, beyond serving
        if key[0] == "cube":
            entry.stored -= 10 * cache.max_stale
    after = _dashboard(app, "county")  # recounted: its parts drawn from the new cube
    assert not [k for k in cache._data if k[0] == "board-html" and k[-1] is old]
    fresh = create_app(Root(db=world.db, clock=world.clock), secret_key=SECRET,
                       cache_seconds=0)
    strip = re.compile(r'<p class="muted small">统计数据缓存于 \d+ 秒前</p>|'
                       r'name="csrf_token" value="[0-9a-f]+"')
    assert strip.sub("", after) == strip.sub("", _dashboard(fresh, "county"))
    kpis = re.compile(r'<section class="kpis">.*?</section>', re.S)
    assert kpis.search(before).group(0) != kpis.search(after).group(0)  # type: ignore[union-attr]
    again = _dashboard(app, "county")  # kept again, from the new cube
    assert "统计数据缓存于" in again and strip.sub("", again) == strip.sub("", after)


@pytest.mark.usefixtures("data_dir")
def test_a_co_routed_offices_gather_sizes_go_with_their_cube(
        world: World, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What a gather would read for an office others co-route to, summed from the cube once
    per filter, is kept with that cube and dropped when it is recounted."""
    from fastapi.testclient import TestClient

    from tests.web.conftest import login

    app = _kept_app(world, tmp_path_factory, monkeypatch)
    cache = app.state.duban.cache

    def ledger() -> str:
        with TestClient(app, base_url="http://testserver") as client:
            login(client, "off_gov_hd")
            page = client.get("/ledger?status=")
            assert page.status_code == 200
            return page.text

    ledger()  # counts
    first = ledger()  # a kept cube: the gather's size is summed from it and kept
    kept = [k for k in cache._data if k[0] == "cube-filtered"]
    assert kept
    old = kept[0][-1]
    with world.db.transaction() as s:
        s.execute(kept_count.delete())
    for key, entry in cache._data.items():
        if key[0] == "cube":
            entry.stored -= 10 * cache.max_stale
    ledger()  # recounted
    assert not [k for k in cache._data if k[0] == "cube-filtered" and k[-1] is old]
    assert [k for k in cache._data if k[0] == "cube-filtered"]  # kept with the new one
    token = re.compile(r'name="csrf_token" value="[0-9a-f]+"')
    assert token.sub("", ledger()) == token.sub("", first)


@pytest.mark.usefixtures("data_dir")
def test_a_recount_draws_every_scopes_results_before_it_replaces_the_cube(
        world: World, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the kept cube is recounted in the background, the results drawn from it (each
    scope's sums, board and progress parts, 今天要办, ledger totals, co-office cells) are
    drawn from the new count before it replaces the old: the first requests after a recount
    find them ready (they drew them all at once, a burst of slow pages every ttl), and the
    pages are the pages a fresh count gives."""
    from fastapi.testclient import TestClient

    from duban.services.root import Root
    from duban.web.app import create_app
    from tests.web.conftest import SECRET, login

    app = _kept_app(world, tmp_path_factory, monkeypatch)
    cache = app.state.duban.cache
    users = ("county", "sup", "off_gov_hd", "off_zjj")
    paths = ("/", "/ledger", "/ledger?status=", "/ledger?office=gov_hd&status=")

    def pages(on: Any) -> dict[tuple[str, str], str]:
        out = {}
        for username in users:
            with TestClient(on, base_url="http://testserver") as client:
                login(client, username)
                for path in paths:
                    page = client.get(path)
                    assert page.status_code == 200, (username, path)
                    out[(username, path)] = page.text
        return out

    pages(app)  # counts
    pages(app)  # drawn from the kept cube, kept with it
    pages(app)  # asked for again: worth drawing ahead of the next recount
    old = cache._entry(next(k for k in cache._data if k[0] == "cube")).value

    def drawn_from(cube: Any) -> set[tuple[Any, ...]]:
        return {k[:-1] for k in cache._data if isinstance(k, tuple) and k[-1] is cube}

    before = drawn_from(old)
    kinds = {k[0] for k in before}
    assert {"derived", "board-html", "progress-html", "today", "cube-count", "co-cells",
            "cube-filtered"} <= kinds
    close_one_accept_another(world)  # a close: the figures move
    with world.db.transaction() as s:  # the shared copy is past its bound …
        s.execute(kept_count.delete())
    for key, entry in cache._data.items():  # … and so is this process's, but still served
        if key[0] == "cube":
            entry.stored -= cache.ttl + 1
    drawing = threading.Event()
    computes: list[Any] = []
    get = cache.get

    def watched(key: Any, compute: Any, **kw: Any) -> Any:
        def counted() -> Any:
            computes.append((threading.current_thread().name, key[0]))
            if key[0] == "cube":
                drawing.wait(5)  # the old cube is served meanwhile
            return compute()

        return get(key, counted, **kw)

    monkeypatch.setattr(cache, "get", watched)
    with TestClient(app, base_url="http://testserver") as client:
        login(client, "county")
        assert "统计数据缓存于" in client.get("/").text  # the old cube, its recount begun
    drawing.set()
    deadline = time.monotonic() + 30
    while (entry := cache._entry(("cube", *next(k for k in cache._data
                                                if k[0] == "cube")[1:]))).value is old:
        assert time.monotonic() < deadline, "the recount never landed"
        time.sleep(0.02)
    new = entry.value
    # Published with every result the old cube had, drawn by the recount's thread.
    assert drawn_from(new) == before
    assert {name for name, kind in computes if kind != "cube"} <= {"duban-cache-refresh"}
    computes.clear()
    after = pages(app)
    assert not [kind for _, kind in computes if kind != "count"], computes
    fresh = pages(create_app(Root(db=world.db, clock=world.clock), secret_key=SECRET,
                             cache_seconds=0))
    strip = re.compile(r'<p class="muted small">统计数据缓存于 \d+ 秒前</p>|'
                       r'name="csrf_token" value="[0-9a-f]+"')
    for page in fresh:
        assert strip.sub("", after[page]) == strip.sub("", fresh[page]), page
