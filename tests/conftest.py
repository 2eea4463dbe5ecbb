"""Shared fixtures: a clock, and a migrated database on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bench.common import scratch_pg
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.plan import Plan
from duban.services.database import Database, make_engine
from duban.services.root import install_root

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "plans"
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("DUBAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# The longest tests, longest first (`--durations` of the suites, docs/benchmarks.md "CI time").
# pytest-xdist's worksteal deals each worker a contiguous share of the collected list and lets
# an idle worker steal from the end of another's share: a long test collected late starts
# late and alone bounds the run. These are dealt round-robin to the head of every worker's
# share, so each starts at the beginning; the rest keep their collected order behind them
# (module-scoped fixtures stay with their tests), and the short tail balances the workers.
LONGEST = (
    "tests/e2e/test_demo.py::test_demo_runs_a_seed_campaign_to_its_close[seed-004]",
    "tests/e2e/test_demo.py::test_demo_runs_a_seed_campaign_to_its_close[seed-001]",
    "tests/orchestration/test_faults_kill.py::",
    "tests/e2e/test_wheel.py::",
    "tests/e2e/test_demo.py::test_demo_runs_a_seed_campaign_to_its_close[seed-003]",
    "tests/orchestration/test_scaled_mode.py::",
    "tests/orchestration/test_faults_smtp.py::",
    "tests/orchestration/test_faults_two_ticks.py::",
    "tests/orchestration/test_faults_postgres.py::",
    "tests/e2e/test_demo.py::test_demo_runs_a_seed_campaign_to_its_close[seed-002]",
    "tests/orchestration/test_kill_rerun.py::",
    "tests/orchestration/test_notice_round_kill.py::",
)


def _rank(nodeid: str) -> int | None:
    return next((i for i, prefix in enumerate(LONGEST) if nodeid.startswith(prefix)), None)


@pytest.hookimpl(trylast=True)  # after -m/-k deselection: the shares are of what runs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, the longest tests first in every worker's share (see LONGEST)."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    ranked = sorted((r, n) for n, item in enumerate(items)
                    if (r := _rank(item.nodeid)) is not None)
    if workers < 2 or not ranked or len(ranked) > len(items) // workers:
        return
    long = [items[n] for _, n in ranked]
    rest = [item for item in items if _rank(item.nodeid) is None]
    # worksteal's first deal: worker i gets len(remaining) // (workers - i) of what is left.
    ordered: list[pytest.Item] = []
    left = len(items)
    for i in range(workers):
        size = left // (workers - i)
        left -= size
        share = long[i::workers]
        take = size - len(share)
        ordered += share + rest[:take]
        del rest[:take]
    assert len(ordered) == len(items) and not rest
    items[:] = ordered


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI nothing may skip: a test skipped for any reason (a backend it does not apply to
    included: such a test names its backend with an indirect parametrization) is a failure."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"CI=true: nothing may skip; skipped: {report.longrepr}"


def require(available: bool, reason: str) -> None:
    """Skip when an outside program is missing; in CI a missing program is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def session_homes(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prefect's home and duban's default data directory belong to this test session.

    Never the developer's (~/.prefect, ./data), and never shared with another session: under
    pytest-xdist each worker is a session of its own, so two workers never start ephemeral
    Prefect servers on one database or write documents into one folder. Tests that need their
    own (a subprocess's env, the orchestration tests' data_dir_tmp) still set theirs.
    """
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    os.environ["DUBAN_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session", autouse=True)
def no_settled_heap() -> None:
    """An app started in this process (TestClient's lifespan, a server in a thread) leaves
    the test process's garbage collector as it is (duban.web.heap.settle_heap freezes the
    heap and spaces collections out: right for a server, wrong for a long test session)."""
    from duban.web import heap

    heap.ENABLED = False


@pytest.fixture(autouse=True)
def no_process_root() -> Iterator[None]:
    """A root a test (or a CLI command it runs) installed for its tasks ends with the test."""
    yield
    install_root(None)


@pytest.fixture(autouse=True)
def no_render_pool() -> Iterator[None]:
    """The render pool a test started ends with the test (the process keeps it otherwise,
    and a later test counting this process's children would find its workers)."""
    yield
    parallel = sys.modules.get("duban.adapters.documents.parallel")
    if parallel is not None:
        parallel.close_pool()


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at 09:00 China time on 2022-09-26 (seed 002's rectification start)."""
    return FixedClock(dt.datetime(2022, 9, 26, 9, 0, tzinfo=CHINA_TZ))


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Session, int, int]]:
    """Every decode of a stored plan, as (the session it ran in, campaign id, plan version)."""
    from duban.services import campaigns

    calls: list[tuple[Session, int, int]] = []  # holds the sessions, so no id is reused
    real = campaigns.load_plan_version

    def counting(session: Session, campaign_id: int, version: int) -> Plan:
        calls.append((session, campaign_id, version))
        return real(session, campaign_id, version)

    monkeypatch.setattr(campaigns, "load_plan_version", counting)
    return calls


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Documents, reports and evidence go to a data directory of this test's own."""
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "no server here"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


@contextmanager
def scratch_pg_database(prefix: str, *extensions: str) -> Iterator[str]:
    """A fresh PostgreSQL database (psycopg URL) with the extensions, dropped afterwards."""
    problem = _pg_reachable()
    require(problem is None, problem or "")
    with scratch_pg(PG_ADMIN_URL, prefix, *extensions) as url:
        yield url


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with scratch_pg_database("duban_test") as url:
        yield url


_migrated: dict[str, Database] = {}
_joinable: dict[str, Database] = {}


def _database(backend: str, request: pytest.FixtureRequest, tmp_root: Path) -> Database:
    if backend not in _migrated:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_root / 'duban-test.sqlite3'}"
        else:
            url = request.getfixturevalue("pg_url")
        database = Database(url)
        database.migrate()
        _migrated[backend] = database
        # The same database through an engine whose connections nest SAVEPOINTs.
        _joinable[backend] = Database(engine=make_engine(
            database.engine.url.render_as_string(hide_password=False), savepoints=True))
    return _migrated[backend]


def _wipe(database: Database) -> None:
    from models import Base

    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The URL of an empty database of each backend, for migrating step by step."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
        monkeypatch.setenv("DUBAN_DATABASE_URL", url)  # migrations/env.py connects to it
        yield url
        return
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # no server here
        require(False, f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    name = f"duban_mig_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated, empty database inside one transaction that is rolled back at the end.

    Every unit of work the test opens joins that transaction through a SAVEPOINT, so what a
    service commits is seen by the rest of the test and gone afterwards. Every test runs once
    per backend. Tests whose data must be committed for other threads or processes (servers,
    workers, Prefect flows, concurrency) use `committed_db` instead.
    """
    _database(request.param, request, tmp_path_factory.getbasetemp())
    engine = _joinable[request.param].engine
    with engine.connect() as connection:
        outer = connection.begin()
        if engine.dialect.name == "postgresql":
            # Sequences ignore rollbacks: start each test's ids at 1, as a wiped database did.
            connection.execute(text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"))
        try:
            yield Database(engine=engine, connection=connection)
        finally:
            if outer.is_active:
                outer.rollback()


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_db(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated, empty database whose commits are real, wiped before and after the test.

    For tests whose data other connections must see: threads or processes working at once,
    a web server in a thread, a killed and re-run worker, Prefect flows.
    """
    database = _database(request.param, request, tmp_path_factory.getbasetemp())
    _wipe(database)
    yield database
    _wipe(database)
