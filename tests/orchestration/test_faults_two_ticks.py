"""Fault injection: two embedded `duban tick` processes at once on one database.

A cron line and an operator's manual tick, or two servers wrongly set up without the
scheduler's lease. Both ticks are held just before the stage they both found due, and
released together, so they really overlap however fast or slow the machine is. Every stage
runs once, each problem is on one notice, each rung fires once, each message is written once;
whatever one of the ticks could not do, the next tick does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from duban.domain.clock import FixedClock
from duban.services.database import Database
from tests.conftest import ROOT
from tests.orchestration.faults import (
    MARK_VAR,
    Table,
    Trial,
    duban_child,
    duplicates,
    snapshot,
    survivors,
    swept_files,
)
from tests.orchestration.helpers import committed as committed  # this module's db: committed
from tests.orchestration.test_faults_kill import LATER, NOW, OFFICES, _prepare

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


def _held_tick(url: str, data: Path, api: str, folder: Path, mark: str) -> subprocess.Popen[str]:
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATABASE_URL": url,
           "DUBAN_DATA_DIR": str(data), "PREFECT_API_URL": api, MARK_VAR: mark,
           "DUBAN_TEST_FAULT": f"pause:begin-stage:before:1:{folder}"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.orchestration.fault_child", "tick", "--json", "--now",
         NOW.isoformat()],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_ticks_at_once_fire_once(db: Database, clock: FixedClock, prefect_api: str,
                                     tmp_path: Path) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    _prepare(db, clock)
    data = tmp_path / "data"
    trial = Trial("two ticks", db.engine.dialect.name, "both held before the 排查 stage")
    started = time.monotonic()
    folders = [tmp_path / "a", tmp_path / "b"]
    ticks = [_held_tick(url, data, prefect_api, f, f"two-{f.name}") for f in folders]
    try:
        deadline = time.monotonic() + 900
        while not all((f / "paused").exists() for f in folders):
            assert all(t.poll() is None for t in ticks), "a tick ended before its hold"
            assert time.monotonic() < deadline, "the ticks never reached their hold"
            time.sleep(0.1)
        for f in folders:
            (f / "go").touch()
        errors = [t.communicate(timeout=900)[1] for t in ticks]
    finally:
        for t in ticks:
            if t.poll() is None:
                t.kill()
                t.wait()
    for t, err in zip(ticks, errors, strict=True):
        last = (err.strip().splitlines() or [""])[-1][:160]
        trial.notes.append(f"tick exit {t.returncode}" + (f" ({last})" if t.returncode else ""))
    problems = [f"processes left: {s}" for f in folders if (s := survivors(f"two-{f.name}"))]
    problems += duplicates(snapshot(db)) + swept_files(db, data)
    # What one of them could not finish, the next ticks do.
    for now in (NOW, LATER):
        ran = duban_child(["tick", "--json", "--now", now.isoformat()], url=url, data=data,
                          api=prefect_api)
        if ran.returncode != 0:
            problems.append(f"tick afterwards exit {ran.returncode}: {ran.stderr[-300:]}")
    final = snapshot(db)
    problems += duplicates(final) + swept_files(db, data)
    if len(final["seqs"]) != OFFICES or final["daily_reports"] != 1:
        problems.append(f"lost: {len(final['seqs'])} notices, {final['daily_reports']} reports")
    if len(final["on_notice"]) != 3 * OFFICES or {s for *_, s in final["stages"]} != {"done"}:
        problems.append(f"{len(final['on_notice'])} problems on notices, {final['stages']}")
    if set(final["outbox_status"]) != {"sent"}:
        problems.append(f"outbox {final['outbox_status']}")
    trial.seconds = round(time.monotonic() - started, 1)
    trial.survived = not problems
    trial.notes += problems
    Table(tmp_path / "faults-two-ticks.json").add(trial)
    assert problems == []
