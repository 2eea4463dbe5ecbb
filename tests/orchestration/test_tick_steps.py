"""The tick's task runs: its own small steps in none (plain calls in its flow run), the due
stages asked once, and one step's failure kept its own."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

import pytest

from duban.domain.clock import FixedClock
from duban.services.database import Database
from models import Notice, ReminderFired
from tests.orchestration.helpers import (
    add_problems,
    at,
    count_rows,
    launch,
    make_plan,
    use_database,
)
from tests.orchestration.helpers import committed as committed  # this module's db: committed


def _count_task_runs(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Task runs started in this process, by task name (a task called inside a flow)."""
    from prefect import Task

    runs: Counter[str] = Counter()
    call = Task.__call__

    def counted(self: Task[Any, Any], *args: Any, **kwargs: Any) -> Any:
        runs[self.name] += 1
        return call(self, *args, **kwargs)

    monkeypatch.setattr(Task, "__call__", counted)
    return runs


def test_a_tick_with_stages_due_runs_only_the_stages_task_runs_and_asks_them_once(
        db: Database, clock: FixedClock, prefect_api: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import duban.services.stages as stages_service
    from flows.tick import run_tick

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan())
    add_problems(db, clock, cid, 4)
    asked: list[int] = []
    due_stages = stages_service.due_stages

    def counted_due(uow: Any, clock: Any, campaign_id: int) -> Any:
        asked.append(campaign_id)
        return due_stages(uow, clock, campaign_id)

    monkeypatch.setattr(stages_service, "due_stages", counted_due)
    runs = _count_task_runs(monkeypatch)
    started = time.monotonic()
    summary = run_tick(at(2022, 9, 26, 9, 30).isoformat())  # 排查 and 整改 both due
    elapsed = time.monotonic() - started
    assert [s["kind"] for s in summary["campaigns"][str(cid)]["stages"]] == [
        "investigate", "rectify"]
    assert asked == [cid]
    # The tick's own steps are no task run (plain calls in its flow run); the task runs are
    # the two stages' own work.
    assert runs == Counter({"begin-stage": 2, "finish-stage": 2, "detect-problems": 1,
                            "offices-to-notify": 1, "issue-notices": 1, "arm-ladder": 1})
    entry = summary["campaigns"][str(cid)]
    # Each stage carries its own run's seconds (the demo's table), not the tick's.
    seconds = [s["seconds"] for s in entry["stages"]]
    assert all(isinstance(x, float) and x > 0 for x in seconds)
    assert sum(seconds) <= elapsed
    assert set(entry) == {"stages", "notice_round", "sweep", "duties", "daily_report"}
    assert entry["sweep"]["campaign_id"] == cid
    assert set(summary) == {"campaigns", "reaped", "closed", "delivery", "files"}
    assert count_rows(db, Notice) == 1


def test_one_steps_failure_among_the_ticks_steps_leaves_the_others_done(
        db: Database, clock: FixedClock, prefect_api: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import duban.services.closing as closing_service
    import duban.services.files as files_service
    import duban.services.stages as stages_service
    from flows.tick import TickFailed, run_tick

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    broken = launch(db, clock, make_plan())
    sound = launch(db, clock, dataclasses.replace(make_plan(), document_number=""))
    add_problems(db, clock, sound, 3)
    runs_of = stages_service.stage_runs

    def failing_runs(uow: Any, campaign_id: int) -> Any:
        if campaign_id == broken:
            raise RuntimeError("stage runs unreadable")
        return runs_of(uow, campaign_id)

    def failing(*_: Any) -> Any:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(stages_service, "stage_runs", failing_runs)
    monkeypatch.setattr(closing_service, "close_ended_campaigns", failing)
    monkeypatch.setattr(files_service, "sweep_files", failing)
    with pytest.raises(TickFailed) as failed:
        run_tick(at(2022, 10, 20, 10).isoformat())
    message = str(failed.value)
    assert "closing: RuntimeError: disk gone" in message
    assert f"campaign {broken}: RuntimeError: stage runs unreadable" in message
    assert "file sweep: RuntimeError: disk gone" in message
    assert f"campaign {sound}:" not in message
    # The sound campaign's stages ran and its overdue problems were chased; the broken one's
    # lookup failed before anything of it ran.
    assert [r.status for r in db.run(runs_of, sound)] == ["done", "done"]
    assert db.run(runs_of, broken) == []
    assert count_rows(db, ReminderFired) > 0
