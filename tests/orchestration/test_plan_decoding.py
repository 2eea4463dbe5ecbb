"""One advance-campaign run decodes the campaign's stored plan at most once per transaction."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from sqlalchemy.orm import Session

from duban.domain.clock import FixedClock
from duban.domain.plan import DetectionPolicy, DetectionRule
from duban.services.database import Database
from tests.orchestration.helpers import add_problems, at, launch, make_plan, use_database


def test_an_advance_campaign_run_decodes_the_plan_once_per_transaction(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        decodes: list[tuple[Session, int, int]]) -> None:
    from prefect.logging import disable_run_logger

    from tasks.orchestration import (
        arm_task,
        begin_stage_task,
        detect_task,
        due_stages_task,
        finish_stage_task,
        issue_notices_task,
        offices_to_notify_task,
        sweep_task,
    )

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    # Detection rules make the investigate stage record what it finds: two plan reads in one
    # transaction (detection, then recording with routing and deadlines).
    detection = DetectionPolicy(rules=(DetectionRule("unsafe_house", "housing"),), source="visit")
    cid = launch(db, clock, dataclasses.replace(make_plan(), detection=detection))
    add_problems(db, clock, cid, 3)
    decodes.clear()
    now = at(2022, 9, 26, 9, 30).isoformat()  # the rectify stage (9/26 –) has begun
    with disable_run_logger():  # the body of flows.campaign.advance_campaign, stage by stage
        due = due_stages_task.fn(cid, now)
        assert [s["kind"] for s in due] == ["investigate", "rectify"]
        for stage in due:
            seq, kind = int(stage["seq"]), str(stage["kind"])
            attempt = begin_stage_task.fn(cid, seq, kind, now)
            if kind == "investigate":
                detail = {"detected": detect_task.fn(cid, now)}
            else:
                offices = offices_to_notify_task.fn(cid)
                numbers = issue_notices_task.fn(cid, offices, f"k{seq}", now)
                detail = {"notices": numbers, "armed": arm_task.fn(cid)}
            finish_stage_task.fn(cid, seq, {"attempt": attempt, **detail}, now)
        sweep_task.fn(cid, now)
    per_transaction = Counter((session, campaign) for session, campaign, _ in decodes)
    assert len(per_transaction) >= 4  # detection, notices, arming, the sweep read the plan
    assert max(per_transaction.values()) == 1, per_transaction
    assert {campaign for _, campaign, _ in decodes} == {cid}
