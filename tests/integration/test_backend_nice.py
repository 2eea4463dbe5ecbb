"""A process running below the default CPU priority (a worker's flow run) has its PostgreSQL
backends run at its niceness, where the database has the `prioritize` extension."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_ADMIN_URL, ROOT, require, scratch_pg_database

# The child opens duban's engine, prints its backend's process id, and keeps the connection
# until told to go.
CHILD = """
import sys
from sqlalchemy import text
from duban.services.database import make_engine
engine = make_engine(sys.argv[1])
with engine.connect() as conn:
    print(conn.scalar(text("SELECT pg_backend_pid()")), flush=True)
    assert conn.scalar(text("SELECT 41 + 1")) == 42  # the connection works as ever
    sys.stdin.readline()
"""


def _available() -> bool:
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(text(
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'prioritize'")))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def databases() -> Iterator[tuple[str, str]]:
    """One database with the extension, one without."""
    with scratch_pg_database("duban_nice") as plain:
        require(_available(), "PostgreSQL's prioritize extension is not installed "
                "(Debian: postgresql-NN-prioritize; scripts/ci-deps.sh installs it)")
        with scratch_pg_database("duban_nice", "prioritize") as reniced:
            yield reniced, plain


def _backend_nice(url: str, nice: int) -> int:
    """The niceness of the backend a process at `nice` gets from duban's engine."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url], cwd=ROOT, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, preexec_fn=(lambda: os.nice(nice)) if nice else None)
    try:
        assert child.stdout is not None and child.stdin is not None
        pid = int(child.stdout.readline())
        # The server is this machine's (127.0.0.1): its backend is a process here.
        backend = os.getpriority(os.PRIO_PROCESS, pid)
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=60) == 0
        return backend
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_niced_process_runs_its_backends_at_its_niceness(
        databases: tuple[str, str]) -> None:
    reniced, plain = databases
    base = _backend_nice(reniced, 0)
    assert _backend_nice(reniced, 7) == max(base, 7)
    assert _backend_nice(reniced, 0) == base  # the web's backends keep the server's own
    assert _backend_nice(plain, 7) == base  # without the extension nothing changes


def test_a_refused_renice_leaves_the_connection_as_it_was(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # A server that refuses the renice (a role without the right, an older extension) still
    # gives the process its connection, in the mode it had, and the log says why.
    from duban.services import database

    class Refusing:
        autocommit = False

        def execute(self, sql: str, params: object = None) -> Refusing:
            if "set_backend_priority(pg_backend_pid()" in sql:
                raise RuntimeError("permission denied to set priority")
            return self

        def fetchone(self) -> tuple[bool]:
            return (True,)

    monkeypatch.setattr(database.os, "nice", lambda increment: 5)
    connection = Refusing()
    database._pg_backend_nice(connection, None)
    assert connection.autocommit is False
    assert "permission denied to set priority" in caplog.text
