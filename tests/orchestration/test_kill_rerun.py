"""Kill a tick with SIGKILL at several points, run it again: nothing is duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from duban.domain.clock import FixedClock
from duban.services.database import Database
from models import (
    InboxMessage,
    Notice,
    NoticeProblem,
    OutboxMessage,
    Problem,
    ReminderFired,
    StageRun,
)
from tests.conftest import ROOT
from tests.orchestration.helpers import add_problems, at, launch, make_plan, use_database
from tests.orchestration.helpers import committed as committed  # this module's db: committed

OFFICES = 30


def _tick(url: str, api: str, now: str,
          kill_when: Callable[[], bool] | None) -> int | None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": api}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.orchestration.worker", "tick", "--url", url,
         "--campaign", "0", "--now", now],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    if kill_when is None:
        return proc.wait(timeout=600)
    deadline = time.monotonic() + 120
    while proc.poll() is None and not kill_when() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return None


def _snapshot(db: Database) -> dict[str, object]:
    with db.transaction() as s:
        seqs = sorted(s.scalars(select(Notice.seq)))
        pairs = Counter(s.execute(select(ReminderFired.problem_id, ReminderFired.rung_code)).all())
        on_notice = Counter(s.scalars(select(NoticeProblem.problem_id)))
        keys = Counter(s.scalars(select(OutboxMessage.dedupe_key)))
        return {
            "problems": s.scalar(select(func.count()).select_from(Problem)),
            "seqs": seqs,
            "notice_problems": on_notice,
            "fired": pairs,
            "outbox_keys": keys,
            "inbox": s.scalar(select(func.count()).select_from(InboxMessage)),
            "stage_runs": s.scalar(select(func.count()).select_from(StageRun)),
            "sent": s.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.status == "sent")),
        }


def _has(db: Database, model: type) -> Callable[[], bool]:
    def check() -> bool:
        with db.transaction() as s:
            return bool(s.scalar(select(func.count()).select_from(model)))
    return check


def test_sigkill_and_rerun_leaves_no_duplicates(
        db: Database, clock: FixedClock, prefect_api: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan(extra_offices=OFFICES))
    for i in range(OFFICES):
        add_problems(db, clock, cid, 3, category=f"c{i:02d}", tag=f"{i}-")
    # Deadlines are close: the same tick also fires rungs and writes digests.
    now = at(2022, 9, 30, 10).isoformat()
    # Kill right after the stage run opened, after the first notices, after the sweep.
    snapshots = []
    for model in (StageRun, Notice, ReminderFired):
        _tick(url, prefect_api, now, kill_when=_has(db, model))
        snapshots.append(_snapshot(db))
    assert _tick(url, prefect_api, now, kill_when=None) == 0
    final = _snapshot(db)
    assert _tick(url, prefect_api, now, kill_when=None) == 0
    assert _snapshot(db) == final, "a further run must change nothing"
    assert final["problems"] == 3 * OFFICES
    seqs = final["seqs"]
    assert seqs == list(range(1, len(seqs) + 1))  # type: ignore[arg-type]
    assert len(seqs) == OFFICES  # type: ignore[arg-type]
    assert set(final["notice_problems"].values()) == {1}  # type: ignore[attr-defined]
    assert set(final["fired"].values()) == {1}  # type: ignore[attr-defined]
    assert set(final["outbox_keys"].values()) == {1}  # type: ignore[attr-defined]
    assert final["stage_runs"] == 2
    # The stage log keeps what the killed attempts issued, not only the last attempt's share.
    with db.transaction() as s:
        rectify = s.scalars(select(StageRun).where(StageRun.kind == "rectify")).one()
        numbers = list(s.scalars(select(Notice.number).where(Notice.batch_key.like("rectify:%"))
                                 .order_by(Notice.seq)))
    assert len(numbers) == OFFICES and rectify.detail["notices"] == numbers
    # Something was really interrupted: the kills left work for the last run.
    assert snapshots[0] != final
    assert snapshots[0]["stage_runs"] == 1 and snapshots[0]["seqs"] == []
