"""A tick's 排查 runs at the deployment's pace (DUBAN_STAGE_DUTY): it pauses between batches."""

from __future__ import annotations

import types

import pytest

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.intake import import_records
from duban.synth import generate_for_plan
from tests.conftest import PLANS
from tests.orchestration.helpers import use_database
from tests.unit.test_pacing import FakeTime


def _county(db: Database, clock: FixedClock) -> int:
    path = next(PLANS.glob("seed-002*.yaml"))
    plan = load_plan_file(path)
    cid = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "county")
    county = generate_for_plan(plan, "township", seed=5)
    db.run(import_records, clock, cid, households=county.households, imported_by="clerk")
    return cid


@pytest.mark.parametrize(("duty", "pausing"), [(None, True), ("0.25", True), ("1", False)])
def test_the_detect_task_pauses_at_the_deployments_duty(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, duty: str | None,
        pausing: bool) -> None:
    from prefect.logging import disable_run_logger

    from tasks.orchestration import detect_task

    use_database(db, monkeypatch)
    cid = _county(db, clock)
    if duty is None:
        monkeypatch.delenv("DUBAN_STAGE_DUTY", raising=False)  # the default, 0.5
    else:
        monkeypatch.setenv("DUBAN_STAGE_DUTY", duty)
    fake = FakeTime(step=0.04)
    monkeypatch.setattr("duban.adapters.pacing.time",
                        types.SimpleNamespace(monotonic=fake.stopwatch, sleep=fake.sleep))
    with disable_run_logger():
        detected = detect_task.fn(cid, clock.now().isoformat())
    assert detected["created"] > 0
    if not pausing:
        assert fake.sleeps == []
        return
    share = 0.5 if duty is None else float(duty)
    # SQLite pauses only in the read (its writes hold the database's write lock).
    assert len(fake.sleeps) >= (1 if db.engine.dialect.name == "sqlite" else 4)
    assert all(abs(s - 0.04 * (1 - share) / share) < 1e-9 for s in fake.sleeps)
