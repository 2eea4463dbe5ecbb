"""Fault injection: PostgreSQL stopped and restarted in the middle of a `duban tick`.

The system's PostgreSQL is never touched: the test runs a private cluster of its own (initdb,
pg_ctl; as the `postgres` user through runuser when the suite runs as root) listening only on
a Unix socket in a private directory, and really stops and starts it:

1. while the tick is inside a transaction (the first batch of notices rendered and on disk,
   their rows not committed): the server is stopped, the tick goes on and fails cleanly;
   the server comes back after the tick has ended;
2. between two batches (no transaction open): the server is restarted, the tick goes on
   with fresh connections (a pooled connection the server closed is replaced on checkout).

Then clean ticks: everything issued once, nothing left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from duban.domain.clock import FixedClock
from duban.services.database import Database
from tests.conftest import require
from tests.orchestration.faults import (
    MARK_VAR,
    Table,
    Trial,
    duplicates,
    snapshot,
    survivors,
    swept_files,
)
from tests.orchestration.test_faults_kill import LATER, NOW, OFFICES, _prepare

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

DB_NAME = "duban_faults_pg"


def _runuser() -> str:
    """util-linux's runuser; it lives in sbin, which a clean environment's PATH may lack."""
    found = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    assert found, "runuser (util-linux) is needed to run initdb as postgres when root"
    return found


class Cluster:
    """A private PostgreSQL cluster on a Unix socket, started and stopped with pg_ctl."""

    def __init__(self, bindir: Path, folder: Path) -> None:
        self.bindir = bindir
        self.folder = folder
        self.data = folder / "data"
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.as_postgres:
            command = [_runuser(), "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              check=False)
        assert done.returncode == 0, f"{tool}: {done.stdout}{done.stderr}"

    def init(self) -> None:
        """Create the cluster (trust, no TCP)."""
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale", "C")

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
                  "-t", "300", "-o", f"-c listen_addresses='' -k {self.folder} -c fsync=off",
                  "start")

    def stop(self) -> None:
        """Stop it the way a service manager does (fast: sessions are ended)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "300", "stop")

    def url(self, name: str) -> str:
        """A psycopg URL for a database of this cluster."""
        return f"postgresql+psycopg://postgres@/{name}?host={self.folder}"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A private cluster for this test, removed afterwards."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    bindir = Path(found[-1]).parent if found else None
    if bindir is None and shutil.which("initdb"):
        bindir = Path(str(shutil.which("initdb"))).parent
    require(bindir is not None, "PostgreSQL's initdb/pg_ctl are not installed")
    assert bindir is not None
    # A short path: a Unix socket's path is limited to ~107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="duban-pg-"))
    pg = Cluster(bindir, folder)
    pg.init()
    pg.start()
    try:
        admin = create_engine(pg.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
        admin.dispose()
        yield pg
    finally:
        with contextlib.suppress(AssertionError):  # already stopped by a failed test
            pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(path: Path, child: subprocess.Popen[str], within_s: float = 900) -> None:
    deadline = time.monotonic() + within_s
    while not path.exists():
        assert child.poll() is None, f"the tick ended before its pause: {child.returncode}"
        assert time.monotonic() < deadline, "the tick never reached its pause"
        time.sleep(0.1)


def _paused_tick(url: str, data: Path, api: str, folder: Path, target: str,
                 mark: str) -> subprocess.Popen[str]:
    from tests.conftest import ROOT

    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATABASE_URL": url,
           "DUBAN_DATA_DIR": str(data), "PREFECT_API_URL": api, MARK_VAR: mark,
           "DUBAN_TEST_FAULT": f"pause:{target}:after:1:{folder}"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.orchestration.fault_child", "tick",
         "--json", "--now", NOW.isoformat()],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_postgresql_restarted_mid_tick(cluster: Cluster, clock: FixedClock, prefect_api: str,
                                       tmp_path: Path) -> None:
    from tests.orchestration.faults import duban_child

    url = cluster.url(DB_NAME)
    db = Database(url)
    db.migrate()
    _prepare(db, clock)
    data = tmp_path / "data"
    table = Table(tmp_path / "faults-postgres.json")
    scenarios = [
        ("stopped inside a transaction (notices on disk, uncommitted)", "documents-stored",
         True),
        ("restarted between two batches of notices", "issue-notices", False),
    ]
    for label, target, down_while_running in scenarios:
        trial = Trial("PostgreSQL restart", "postgresql", label)
        started = time.monotonic()
        mark = f"pg-{target}"
        folder = tmp_path / target
        child = _paused_tick(url, data, prefect_api, folder, target, mark)
        try:
            _wait_for(folder / "paused", child)
            db.engine.dispose()  # the test's own connections would hold nothing open anyway
            cluster.stop()
            if not down_while_running:
                cluster.start()
            (folder / "go").touch()
            _, err = child.communicate(timeout=900)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        if down_while_running:
            cluster.start()
        last = (err.strip().splitlines() or [""])[-1][:160]
        trial.notes.append(f"tick exit {child.returncode}" + (f" ({last})" if last else ""))
        problems = [f"processes left: {left}" for left in [survivors(mark)] if left]
        problems += duplicates(snapshot(db)) + swept_files(db, data)
        trial.seconds = round(time.monotonic() - started, 1)
        trial.survived = not problems
        trial.notes += problems
        table.add(trial)

    trial = Trial("PostgreSQL restart", "postgresql", "clean ticks afterwards: all of it, once")
    started = time.monotonic()
    problems = []
    for now in (NOW, LATER):
        ran = duban_child(["tick", "--json", "--now", now.isoformat()], url=url, data=data,
                          api=prefect_api)
        trial.cpu += round(ran.cpu, 1)
        if ran.returncode != 0:
            problems.append(f"tick exit {ran.returncode}: {ran.stderr[-300:]}")
    final = snapshot(db)
    problems += duplicates(final) + swept_files(db, data)
    if len(final["seqs"]) != OFFICES or final["daily_reports"] != 1:
        problems.append(f"lost: {len(final['seqs'])} notices, {final['daily_reports']} reports")
    if set(final["outbox_status"]) != {"sent"} or final["problems"] != 3 * OFFICES:
        problems.append(f"outbox {final['outbox_status']}, problems {final['problems']}")
    if len(final["on_notice"]) != 3 * OFFICES or {s for *_, s in final["stages"]} != {"done"}:
        problems.append(f"{len(final['on_notice'])} problems on notices, {final['stages']}")
    trial.seconds = round(time.monotonic() - started, 1)
    trial.survived = not problems
    trial.notes = problems
    table.add(trial)
    db.engine.dispose()
    assert table.failures() == []
