"""Fault injection: `kill -9` of a real `duban tick` at every boundary of the tick and mid-batch.

One chain per backend: a tick killed at the first point, the next run of the tick (which
resumes) killed at the next point, and so on through the tick; then clean runs. After every
kill: no process of the tick is left, the file sweep leaves no file without a row (nor a row
without its file), and nothing is duplicated (each problem on one notice, each rung fired
once, each outbox message once, 文号 contiguous). At the end the database holds exactly what
a tick that was never killed produced (a reference run on a fresh copy of the same campaign).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from duban.domain.clock import FixedClock
from duban.services.database import Database
from tests.conftest import _wipe
from tests.orchestration.faults import (
    Table,
    Trial,
    differences,
    duban_child,
    duplicates,
    snapshot,
    survivors,
    swept_files,
)
from tests.orchestration.helpers import add_problems, at, launch, make_plan
from tests.orchestration.helpers import committed as committed  # this module's db: committed

# A chain of ~20 ticks (each a Python process importing Prefect): minutes on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

OFFICES = 30  # two batches of notices (25 offices a task run)
# After the daily report's hour (17:00), inside the hours messages go out (to 17:30), with rungs
# due: every step of the tick has work.
NOW = at(2022, 9, 30, 17, 10)
# A killed delivery's claim has expired (outbox.CLAIM_SECONDS): the next tick sends its rows.
LATER = NOW + dt.timedelta(minutes=6)

# Along the tick, in order. Each kill lands in the run that resumes after the previous kill,
# so "the N-th call" counts calls in that run (finished stages and batches are not redone).
# The Prefect server: the session's, except at one point where the tick owns its own (the
# county server's way), so that a server left behind would be seen.
POINTS: list[tuple[str, str, bool]] = [
    ("after reaping interrupted stage runs", "kill:reap-stage-runs:after:1", False),
    ("after closing ended campaigns", "kill:close-ended-campaigns:after:1", False),
    ("after the 排查 stage run opened", "kill:begin-stage:after:1", False),
    ("after detection, stage open", "kill:detect-problems:after:1", False),
    ("after the 排查 stage run closed", "kill:finish-stage:after:1", False),
    ("after the 整改 stage run opened", "kill:begin-stage:after:1", True),
    ("after the offices were listed", "kill:offices-to-notify:after:1", False),
    ("mid-batch: 25 notices on disk, uncommitted", "kill:documents-stored:after:1", False),
    ("between the two batches of notices", "kill:issue-notices:after:1", False),
    ("after the last batch of notices", "kill:issue-notices:after:1", False),
    ("after the ladder was armed", "kill:arm-ladder:after:1", False),
    ("after the 整改 stage run closed", "kill:finish-stage:after:1", False),
    ("after the rolling round", "kill:notice-round:after:1", False),
    ("after the rungs fired", "kill:sweep-deadlines:after:1", False),
    ("after the recurring duties", "kill:recurring-duties:after:1", False),
    ("after the daily report", "kill:daily-report:after:1", False),
    ("mid-delivery: claimed, nothing sent", "kill:deliver-send:before:1", False),
    ("after the file sweep", "kill:sweep-files:after:1", False),
]


def _prepare(db: Database, clock: FixedClock) -> None:
    _wipe(db)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan(extra_offices=OFFICES))
    for i in range(OFFICES):
        add_problems(db, clock, cid, 3, category=f"c{i:02d}", tag=f"{i}-")


def _tick(url: str, data: Path, api: str | None, now: dt.datetime,
          fault: str | None = None) -> tuple[int, float, str, str]:
    ran = duban_child(["tick", "--json", "--now", now.isoformat()], url=url, data=data,
                      api=api, fault=fault)
    return ran.returncode, ran.cpu, ran.mark, ran.stderr


def test_kill_minus_nine_at_every_boundary_of_the_tick(
        db: Database, clock: FixedClock, prefect_api: str, tmp_path: Path) -> None:
    backend = db.engine.dialect.name
    url = db.engine.url.render_as_string(hide_password=False)
    table = Table(tmp_path / "faults-kill.json")

    # What a tick that is never killed leaves behind.
    _prepare(db, clock)
    reference_data = tmp_path / "reference"
    for now in (NOW, LATER):
        code, _, _, err = _tick(url, reference_data, prefect_api, now)
        assert code == 0, err[-3000:]
    reference = snapshot(db)
    assert duplicates(reference) == [] and swept_files(db, reference_data) == []
    assert reference["daily_reports"] == 1 and len(reference["seqs"]) == OFFICES
    assert reference["outbox_status"] and set(reference["outbox_status"]) == {"sent"}

    _prepare(db, clock)
    data = tmp_path / "killed"
    for label, fault, own_server in POINTS:
        trial = Trial("kill -9 tick", backend, label)
        started = time.monotonic()
        code, cpu, mark, err = _tick(url, data, None if own_server else prefect_api, NOW,
                                         fault)
        trial.cpu = round(cpu, 1)
        if code != -9:
            trial.notes.append(f"not killed (exit {code}): {err[-300:]}")
        left = survivors(mark)
        if left:
            trial.notes.append(f"processes left: {left}")
        snap = snapshot(db)
        trial.notes += duplicates(snap)
        trial.notes += swept_files(db, data)
        trial.seconds = round(time.monotonic() - started, 1)
        trial.survived = not trial.notes
        table.add(trial)

    # The runs that finish the work: the same moment, then after the claims expired.
    trial = Trial("kill -9 tick", backend, "clean runs afterwards: all of it, once")
    started = time.monotonic()
    for now in (NOW, LATER):
        code, cpu, mark, err = _tick(url, data, prefect_api, now)
        trial.cpu += round(cpu, 1)
        if code != 0:
            trial.notes.append(f"tick at {now:%H:%M} exit {code}: {err[-300:]}")
    final = snapshot(db)
    trial.notes += duplicates(final) + swept_files(db, data) + differences(final, reference)
    trial.seconds = round(time.monotonic() - started, 1)
    trial.survived = not trial.notes
    table.add(trial)
    assert table.failures() == []
