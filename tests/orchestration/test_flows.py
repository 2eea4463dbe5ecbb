"""Flows: task bodies with .fn(), one real Prefect run, idempotent stage runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from duban.domain.clock import FixedClock
from duban.services.database import Database
from duban.services.stages import stage_runs
from models import DailyReportRun, Notice, ReminderFired, StageRun
from tests.orchestration.helpers import (
    add_problems,
    at,
    count_rows,
    launch,
    make_plan,
    use_database,
)
from tests.orchestration.helpers import committed as committed  # this module's db: committed


def test_task_bodies_issue_once(db: Database, clock: FixedClock,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.logging import disable_run_logger

    from tasks.orchestration import issue_notices_task, offices_to_notify_task, sweep_task

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 26, 9))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 3)
    add_problems(db, clock, cid, 1, category="water")
    now = clock.now().isoformat()
    with disable_run_logger():
        offices = offices_to_notify_task.fn(cid)
        assert offices == ["jhb", "nyzx"]
        first = issue_notices_task.fn(cid, offices, "k1", now)
        again = issue_notices_task.fn(cid, offices, "k1", now)
        assert first == again and len(first) == 2
        assert offices_to_notify_task.fn(cid) == []
        assert sweep_task.fn(cid, now)["campaign_id"] == cid


def test_tick_runs_stages_once_under_prefect(db: Database, clock: FixedClock, prefect_api: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.tick import run_tick

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan())
    add_problems(db, clock, cid, 4)
    moment = at(2022, 9, 26, 9, 30)  # the rectify stage (9/26 –) has begun
    first = run_tick(moment.isoformat())
    stages = first["campaigns"][str(cid)]["stages"]
    assert [s["kind"] for s in stages] == ["investigate", "rectify"]
    assert count_rows(db, Notice) == 1
    second = run_tick(moment.isoformat())
    assert second["campaigns"][str(cid)]["stages"] == []
    assert count_rows(db, Notice) == 1
    assert [r.status for r in db.run(stage_runs, cid)] == ["done", "done"]
    assert count_rows(db, StageRun) == 2
    late = run_tick(at(2022, 10, 20, 10).isoformat())
    assert late["campaigns"][str(cid)]["sweep"]["fired"] > 0
    assert count_rows(db, ReminderFired) > 0
    # After the plan's report hour (17:00) the day's report is written, once.
    evening = run_tick(at(2022, 10, 20, 17, 5).isoformat())
    report = evening["campaigns"][str(cid)]["daily_report"]
    assert report and Path(report).is_file()
    assert run_tick(at(2022, 10, 20, 17, 35).isoformat())["campaigns"][str(cid)][
        "daily_report"] is None
    assert count_rows(db, DailyReportRun) == 1


def test_the_tick_closes_an_ended_campaign_and_then_leaves_it(
        db: Database, clock: FixedClock, prefect_api: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2022 campaign with overdue items fires nothing once its plan is over (issue 11)."""
    from flows.tick import run_tick
    from models import Campaign, SpotCheckDraw

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan())  # stages 2022-09-15 – 2022-12-04
    add_problems(db, clock, cid, 3)
    assert run_tick(at(2022, 11, 10, 9, 30).isoformat())["campaigns"][str(cid)]["stages"]
    fired = count_rows(db, ReminderFired)
    assert fired > 0  # the items are overdue and chased while the campaign runs
    closing = run_tick(at(2022, 12, 5, 9, 30).isoformat())
    assert closing["closed"] == [cid] and closing["campaigns"] == {}
    draws = count_rows(db, SpotCheckDraw)
    for moment in (at(2022, 12, 6, 9, 30), at(2023, 3, 1, 9, 30), at(2026, 12, 2, 9, 30)):
        later = run_tick(moment.isoformat())
        assert later["closed"] == [] and later["campaigns"] == {}
    assert count_rows(db, ReminderFired) == fired and count_rows(db, SpotCheckDraw) == draws
    with db.transaction() as s:
        assert s.scalar(select(Campaign.status).where(Campaign.id == cid)) == "closed"
