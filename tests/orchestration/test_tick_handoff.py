"""`duban tick` beside a running `duban serve`: the tick is handed to serve, which runs it after
its own scheduled tick (never beside it: serve's running stage is not reaped as crashed), and
the command prints what a local tick prints; a serve killed mid-hand-off leaves the command
to run the tick itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from duban.adapters.tick_desk import TICK_DESK
from duban.domain.clock import FixedClock
from duban.services.database import Database
from tests.conftest import ROOT
from tests.orchestration.faults import MARK_VAR, duban_child, survivors
from tests.orchestration.helpers import committed as committed  # this module's db: committed
from tests.orchestration.helpers import stop
from tests.orchestration.test_faults_kill import NOW, _prepare

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _env(url: str, data: Path, mark: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATABASE_URL": url,
           "DUBAN_DATA_DIR": str(data), MARK_VAR: mark, **extra}
    for key in ("PREFECT_API_URL", "DUBAN_TEST_FAULT"):
        if key not in extra:
            env.pop(key, None)
    return env


def _serve(url: str, data: Path, mark: str, tick_seconds: float,
           hold: Path) -> subprocess.Popen[str]:
    """serve at NOW, its first stage held open (DUBAN_TEST_FAULT) until hold/go exists."""
    hold.mkdir(parents=True)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.orchestration.fault_child", "--now", NOW.isoformat(),
         "serve", "--no-web", "--tick-seconds", str(tick_seconds)],
        cwd=ROOT, env=_env(url, data, mark,
                           DUBAN_TEST_FAULT=f"pause:begin-stage:after:1:{hold}"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _tick(url: str, data: Path, mark: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.orchestration.fault_child", "--now", NOW.isoformat(),
         "tick", "--json"],
        cwd=ROOT, env=_env(url, data, mark), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _wait(path: Path, proc: subprocess.Popen[str], within_s: float = 600) -> None:
    deadline = time.monotonic() + within_s
    while not path.exists():
        assert proc.poll() is None, f"serve ended ({proc.returncode})"
        assert time.monotonic() < deadline, f"{path.name} never came"
        time.sleep(0.1)


def test_a_tick_beside_serve_waits_for_the_tick_serve_runs_and_answers_as_a_local_one(
        db: Database, clock: FixedClock, tmp_path: Path) -> None:
    # serve's scheduled ticks read the system clock; a handed tick carries --now. Both go
    # through flows.tick.run_tick and its lock: here a handed tick holds the 排查 stage open.
    url = db.engine.url.render_as_string(hide_password=False)
    _prepare(db, clock)
    data, hold, mark = tmp_path / "data", tmp_path / "hold", uuid.uuid4().hex
    serve = _serve(url, data, mark, 86400, hold)
    ticks: list[subprocess.Popen[str]] = []
    try:
        _wait(data / TICK_DESK, serve)
        ticks.append(_tick(url, data, mark))
        _wait(hold / "paused", serve)  # serve runs the first tick, its stage run open
        ticks.append(_tick(url, data, mark))
        time.sleep(8)
        assert ticks[1].poll() is None, "the second tick waits for the first"
        (hold / "go").touch()
        ran = [t.communicate(timeout=600) for t in ticks]
    finally:
        for t in ticks:
            if t.poll() is None:
                t.kill()
                t.wait()
        stop([serve])
    assert [t.returncode for t in ticks] == [0, 0], [err for _, err in ran]
    first, second = (json.loads(out) for out, _ in ran)
    assert "改由本进程运行" not in ran[0][1] + ran[1][1]
    assert [s["kind"] for e in first["campaigns"].values() for s in e.get("stages", [])]
    # A tick run beside the first would have reaped its open stage run as crashed.
    assert first["reaped"] == [] and second["reaped"] == []
    assert not (data / TICK_DESK).exists()
    assert survivors(mark) == []
    # The same tick run here (serve stopped) answers the same, the same way.
    local = duban_child(["--now", NOW.isoformat(), "tick", "--json"], url=url, data=data,
                        api=None)
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout) == second


def test_serve_killed_mid_hand_off_leaves_the_tick_to_the_command(
        db: Database, clock: FixedClock, tmp_path: Path) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    _prepare(db, clock)
    data, hold, mark = tmp_path / "data", tmp_path / "hold", uuid.uuid4().hex
    serve = _serve(url, data, mark, 86400, hold)  # no scheduled tick: only the handed one
    tick = None
    try:
        _wait(data / TICK_DESK, serve)
        deadline = time.monotonic() + 600
        tick = _tick(url, data, mark)
        while not (hold / "paused").exists():  # the handed tick, in serve, holds its stage
            assert tick.poll() is None and time.monotonic() < deadline, tick.stderr
            time.sleep(0.1)
        serve.send_signal(signal.SIGKILL)
        serve.wait(30)
        out, err = tick.communicate(timeout=900)
    finally:
        for p in (tick, serve):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert tick.returncode == 0, err
    assert "改由本进程运行" in err
    summary = json.loads(out)
    # The stage run serve left open was interrupted indeed: reaped, then resumed here.
    assert [r["attempt"] for r in summary["reaped"]] == [1]
    assert survivors(mark) == []


# serve's own process, reporting its collector once its tick desk is published.
SETTLED = """
import gc, json, os, sys, threading, time
from pathlib import Path

desk, report = Path(os.environ["DUBAN_DATA_DIR"], sys.argv[1]), Path(sys.argv[2])

def watch():
    while not desk.exists():
        time.sleep(0.05)
    part = report.with_name(report.name + ".part")
    part.write_text(json.dumps([gc.get_freeze_count(), list(gc.get_threshold())]))
    part.replace(report)

threading.Thread(target=watch, daemon=True).start()
from duban.cli import main
sys.argv = ["duban", "serve", "--no-web", "--tick-seconds", "86400"]
main()
"""


def test_serve_settles_its_heap_before_it_takes_ticks(committed_db: Database,
                                                      tmp_path: Path) -> None:
    """The imports and start-up serve's ticks run beside are frozen out of the collector's
    reach, as in the web workers: a full collection in a county's stage-due tick walked them
    all (~0.1 s of CPU each, once or twice a tick)."""
    from duban.web import heap

    url = committed_db.engine.url.render_as_string(hide_password=False)
    data, report, mark = tmp_path / "data", tmp_path / "heap.json", uuid.uuid4().hex
    serve = subprocess.Popen([sys.executable, "-c", SETTLED, TICK_DESK, str(report)], cwd=ROOT,
                             env=_env(url, data, mark), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait(report, serve)
        frozen, threshold = json.loads(report.read_text())
    finally:
        stop([serve])
    assert threshold == [heap.YOUNG, heap.MIDDLE, heap.OLD]
    assert frozen > 100_000  # serve's imports (duban, Prefect, SQLAlchemy) and its start-up
    assert survivors(mark) == []
