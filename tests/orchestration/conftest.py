"""Fixtures for orchestration tests: a data directory per test, one Prefect server per session."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def data_dir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test stores documents in its own data directory."""
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path / "data"


@pytest.fixture(scope="session", autouse=True)
def prefect_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Prefect writes into a temporary home, never phones home."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def prefect_api(prefect_env: None) -> Iterator[str]:
    """One Prefect test server for the session (~10 s); yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    bound_event_drains()
    # A loaded 2-core CI machine can take well over a minute to bring the test server up.
    with seeded_harness_database(), prefect_test_harness(server_startup_timeout=300):
        yield str(PREFECT_API_URL.value())


@contextmanager
def seeded_harness_database() -> Iterator[None]:
    """Prefect's test harness makes its server's database in a new temporary directory
    (`mkdtemp`, then `prefect-test.db` in it): the directory it makes gets a copy of the
    migrated database kept for this Prefect version (flows.prefect_db), so the test server
    skips its migrations, as duban's own servers do."""
    import prefect.testing.utilities as harness

    from flows.prefect_db import seed

    made = harness.mkdtemp

    def seeded(*args: Any, **kwargs: Any) -> str:
        path = made(*args, **kwargs)
        try:
            seed(Path(path) / "prefect-test.db")
        except Exception as exc:  # the server migrates an empty database itself, as before
            warnings.warn(f"no seeded Prefect test database: {exc}", stacklevel=1)
        return path

    harness.mkdtemp = seeded  # type: ignore[attr-defined]
    try:
        yield
    finally:
        harness.mkdtemp = made  # type: ignore[attr-defined]


# How long a drain of Prefect's event workers may wait in a test process.
DRAIN_S = 30.0


def bound_event_drains() -> None:
    """Prefect's test harness drains its event workers without a timeout when it stops. An
    events worker a test left for its own Prefect server, stopped since, can wait on that
    server's closed connection for ever: a CI run's xdist worker sat idle in the harness's
    teardown for over ten minutes (2026-12-05). In the test processes a drain waits DRAIN_S at
    most; the events are the test servers' own, nothing reads them afterwards."""
    from prefect.events.worker import EventsWorker

    unbounded = EventsWorker.drain_all
    if getattr(unbounded, "_duban_bounded", False):
        return

    def bounded(timeout: float | None = None, at_exit: bool = True) -> object:
        return unbounded(timeout=DRAIN_S if timeout is None else timeout, at_exit=at_exit)

    bounded._duban_bounded = True  # type: ignore[attr-defined]
    EventsWorker.drain_all = bounded  # type: ignore[method-assign,assignment]
