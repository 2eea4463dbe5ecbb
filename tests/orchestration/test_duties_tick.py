"""The tick's duties task: occurrences created once however often it runs, missed ones chased."""

from __future__ import annotations

import dataclasses

import pytest

from duban.domain.clock import FixedClock
from duban.domain.plan import Duty, Recurrence
from duban.services.database import Database
from tests.orchestration.helpers import at, launch, make_plan, use_database
from tests.orchestration.helpers import committed as committed  # this module's db: committed


def test_the_duties_task_creates_each_occurrence_once(db: Database, clock: FixedClock,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.logging import disable_run_logger

    from tasks.orchestration import duties_task

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    plan = make_plan()
    office = plan.offices[-1].code
    weekly = Duty(code="visit", name="每周走访", units=(office,), recurrence=Recurrence.WEEKLY,
                  weekday=5)
    cid = launch(db, clock, dataclasses.replace(plan, duties=(weekly,)))
    with disable_run_logger():
        first = duties_task.fn(cid, at(2022, 9, 26, 9).isoformat())
        again = duties_task.fn(cid, at(2022, 9, 26, 9).isoformat())
        later = duties_task.fn(cid, at(2022, 10, 20, 9).isoformat())
    # Opened by Monday 9/26: the Fridays 9/16, 9/23 and 9/30 (whose week opened on 9/24).
    assert first["created"] == 3 and again["created"] == 0
    # By 10/20 the 10/7, 10/14 and 10/21 visits have opened; the missed ones are chased.
    assert later["created"] == 3 and later["occurrences_fired"] > 0, later
