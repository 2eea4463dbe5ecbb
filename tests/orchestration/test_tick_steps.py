"""The tick's task and flow runs: its own small steps in none (plain calls in its flow run), the
due stages asked once and run as their own flow runs in the tick's (no `advance-campaign` run
around them), the review stage's daily steps only when they have work, and one step's failure
kept its own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections import Counter
from typing import Any

import pytest

from duban.domain.clock import FixedClock
from duban.services.database import Database
from models import Notice, ReminderFired, SpotCheckDraw
from tests.orchestration.helpers import (
    add_problems,
    at,
    count_rows,
    launch,
    make_plan,
    use_database,
)
from tests.orchestration.helpers import committed as committed  # this module's db: committed


def _count_runs(monkeypatch: pytest.MonkeyPatch, kind: type) -> Counter[str]:
    """Runs of `kind` (prefect's Task or Flow) started in this process, by name (a task
    called inside a flow; top-level flows and subflows)."""
    runs: Counter[str] = Counter()
    call = kind.__call__

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        runs[self.name] += 1
        return call(self, *args, **kwargs)

    monkeypatch.setattr(kind, "__call__", counted)
    return runs


def _count_task_runs(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Task runs started in this process, by task name."""
    from prefect import Task

    return _count_runs(monkeypatch, Task)


def _count_flow_runs(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Flow runs started in this process, by flow name."""
    from prefect import Flow

    return _count_runs(monkeypatch, Flow)


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
    flow_runs = _count_flow_runs(monkeypatch)
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
    # Each stage its own flow run (keyed by campaign) inside the tick's: no `advance-campaign`.
    assert flow_runs == Counter({"duban-tick": 1, "investigate-stage": 1, "rectify-stage": 1})
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


def test_the_review_stages_daily_steps_run_as_task_runs_only_when_they_have_work(
        db: Database, clock: FixedClock, prefect_api: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.logging import disable_run_logger

    from duban.domain.plan import ReviewPolicy, SupervisionGroup
    from duban.services.reports.delivery import monthly_ranking_due
    from duban.services.scoring.monthly import freeze_due_month
    from flows.tick import run_tick
    from tasks.common import clock_at
    from tasks.orchestration import monthly_ranking_task, spot_checks_task

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    plan = dataclasses.replace(  # 复核 2022-11-15 – 12-04, the month closes on the 1st
        make_plan(), review=ReviewPolicy(groups=(SupervisionGroup("g1", "第一督查组"),)))
    cid = launch(db, clock, plan)
    add_problems(db, clock, cid, 6)
    first = run_tick(at(2022, 11, 16, 9, 30).isoformat())  # every stage due, 复核 included
    assert [s["kind"] for s in first["campaigns"][str(cid)]["stages"]] == [
        "investigate", "rectify", "review"]
    runs = _count_task_runs(monkeypatch)

    def review_tick(moment: dt.datetime) -> tuple[dict[str, Any], Counter[str]]:
        runs.clear()
        entry = run_tick(moment.isoformat())["campaigns"][str(cid)]
        ran = Counter({k: v for k, v in runs.items() if k in ("spot-checks", "monthly-ranking")})
        # What the steps say, as they would have said it run again now (idempotent).
        with disable_run_logger():
            again = {"spot_checks": spot_checks_task.fn(cid, moment.isoformat()),
                     "ranking": monthly_ranking_task.fn(cid, moment.isoformat())}
        assert entry["review"] == again
        return entry["review"], ran

    # The same day again: the day's draw made, October frozen and sent by the stage's run.
    review, ran = review_tick(at(2022, 11, 16, 10))
    assert ran == Counter() and review["ranking"] == "2022-10"
    draws = count_rows(db, SpotCheckDraw)
    # A new day: its draw is due, the month's ranking is not (October frozen already).
    review, ran = review_tick(at(2022, 11, 30, 9, 30))
    assert ran == Counter({"spot-checks": 1}) and review["ranking"] == "2022-10"
    assert count_rows(db, SpotCheckDraw) == draws + 1
    # The plan's monthly day: November is to be frozen (and sent) as well.
    review, ran = review_tick(at(2022, 12, 1, 9, 30))
    assert ran == Counter({"spot-checks": 1, "monthly-ranking": 1})
    assert review["ranking"] == "2022-11"
    review, ran = review_tick(at(2022, 12, 1, 11))
    assert ran == Counter()
    # The check answers as the services do on either side of the monthly day.
    for day in (at(2022, 11, 30, 9), at(2022, 12, 1, 9), at(2022, 12, 2, 9)):
        with db.unit_of_work() as uow:
            due, month = monthly_ranking_due(uow, clock_at(day.isoformat()), cid)
            assert month == freeze_due_month(uow, clock_at(day.isoformat()), cid)
        assert not due  # frozen and sent above
