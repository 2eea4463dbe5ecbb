"""Two `duban serve` processes on one database fire each job once; the other takes over."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from duban.domain.clock import FixedClock
from duban.services.database import Database
from tasks.scheduler import LeaderLease
from tests.conftest import ROOT
from tests.orchestration.helpers import committed as committed  # this module's db: committed
from tests.orchestration.helpers import stop

JOB = "tests.orchestration.worker:record_fire"


def _serve(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_TEST_FIRE_LOG": str(log)}
    return subprocess.Popen(
        [sys.executable, "-c", "from duban.cli import main; main()", "--db", url, "serve",
         "--no-web", "--tick-seconds", "1", "--job", JOB, "--lease-seconds", "3", "--renew-seconds", "0.5"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _fires(log: Path) -> list[tuple[int, float]]:
    if not log.exists():
        return []
    return [(int(p), float(t)) for p, t in (line.split() for line in log.read_text().splitlines())]


def test_two_serve_processes_fire_each_tick_once(db: Database, tmp_path: Path) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    log = tmp_path / "fires.log"
    procs = [_serve(url, log)]
    time.sleep(1.0)
    procs.append(_serve(url, log))
    try:
        deadline = time.monotonic() + 60
        while len(_fires(log)) < 8 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # both processes are up and checking the lease by now
        before = _fires(log)
        assert len(before) >= 8
        assert len({pid for pid, _ in before}) == 1, "only the leader fires"
        gaps = [b - a for (_, a), (_, b) in itertools.pairwise(before)]
        assert min(gaps) > 0.5, "no tick fired twice"
        leader = before[0][0]
        victim = next(p for p in procs if p.pid == leader)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            after = [f for f in _fires(log) if f[1] > before[-1][1]]
            if len([f for f in after if f[0] != leader]) >= 3:
                break
            time.sleep(0.2)
        after = [f for f in _fires(log) if f[1] > before[-1][1]]
        survivors = {pid for pid, _ in after if pid != leader}
        assert len(survivors) == 1, "the other process took over"
        all_fires = sorted(t for _, t in _fires(log))
        gaps = [b - a for a, b in itertools.pairwise(all_fires)]
        assert min(gaps) > 0.5
    finally:
        stop(procs)


def test_lease_excludes_a_second_holder_until_it_expires(db: Database,
                                                        clock: FixedClock) -> None:
    import datetime as dt

    a = LeaderLease(db, clock, seconds=30, holder="a")
    b = LeaderLease(db, clock, seconds=30, holder="b")
    assert a.try_acquire()
    assert not b.try_acquire()
    assert a.try_acquire()  # renewal
    if db.engine.dialect.name == "sqlite":
        clock.advance(dt.timedelta(seconds=31))
        assert b.try_acquire()
        assert not a.try_acquire()
    a.release()
    b.release()
    # Hold other pooled connections so a lock left on a returned connection would show.
    with db.engine.connect(), db.engine.connect():
        assert b.try_acquire()
        assert not a.try_acquire()
        b.release()
        assert a.try_acquire()
    a.release()
