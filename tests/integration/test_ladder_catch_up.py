"""After downtime the ladder sends only the highest due rung; a new deadline restarts it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, Payload, Role
from duban.services import moves
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.problems import record_problems
from duban.services.reminders import sweep
from models import Notice, OutboxMessage, Problem, ReminderFired
from tests.orchestration.helpers import at

SEED_004 = Path(__file__).resolve().parents[2] / "plans" / "seed-004-anhui-2019.yaml"


def _recorded(db: Database) -> list[tuple[int, str, str | None]]:
    with db.transaction() as s:
        return [(r.cycle, r.rung_code, r.skipped_reason) for r in s.scalars(
            select(ReminderFired).order_by(ReminderFired.cycle, ReminderFired.due_on))]


def test_a_catch_up_tick_sends_the_highest_rung_and_a_new_deadline_restarts_the_ladder(
        db: Database) -> None:
    clock = FixedClock(at(2019, 2, 11))
    plan = load_plan_file(SEED_004)
    cid = db.run(launch_campaign, clock, plan, SEED_004.read_text("utf-8"), "county")
    problem = ReportedProblem(
        source="visit", category="education", town="chengguan", village="cg01",
        household_id="H1", description="适龄儿童失学", found_by="帮扶责任人",
        found_on=dt.date(2019, 2, 12), deadline=dt.date(2019, 2, 13))
    clock = FixedClock(at(2019, 2, 12))
    (pid,) = db.run(record_problems, clock, cid, [problem], recorded_by="cadre").problem_ids
    db.run(add_user, clock, username="jyj1", name="教育乙", role=Role.OFFICE, office="jyj")
    db.run(add_user, clock, username="county1", name="县办甲", role=Role.COUNTY)

    # Down from 2/13 (the deadline) to 2/20: 到期 2/13, 催办 2/14, 督办 2/15, 一票否决 2/20.
    result = db.run(sweep, FixedClock(at(2019, 2, 20, 10)), cid)
    assert (result.fired, result.skipped) == (1, 3)
    recorded = _recorded(db)
    assert [(c, code, reason is None) for c, code, reason in recorded] == [
        (0, "due", False), (0, "urge", False), (0, "supervise", False), (0, "veto", True)]
    assert recorded[1][2] == "应于2月14日发出，2月20日补发时更高一级的「一票否决」已到期，不再补发"
    with db.transaction() as s:
        kinds = sorted(s.scalars(select(Notice.kind)))
        rungs = [m.payload.get("rungs") for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.like("digest:%")))]
    assert "reminder" not in kinds and "bulletin" in kinds  # no 催办通知 for a skipped 催办
    assert rungs and all(r == ["veto"] for r in rungs)
    # Ticking again the same day or the next one records nothing more in this cycle.
    again = db.run(sweep, FixedClock(at(2019, 2, 21, 10)), cid)
    assert (again.fired, again.skipped) == (0, 0)

    # An approved extension is a new deadline: the ladder starts again from 到期 (cycle 1).
    clock = FixedClock(at(2019, 2, 21, 11))
    with db.transaction() as s:
        code = s.scalars(select(Problem.code).where(Problem.id == pid)).one()
    move = lambda user, action, **kw: db.run(  # noqa: E731
        moves.apply, clock, user, code, action, Payload(**kw), campaign_id=cid)
    move("jyj1", Action.ACCEPT)
    move("jyj1", Action.REQUEST_EXTENSION, note="需协调学校", deadline=dt.date(2019, 2, 26))
    move("county1", Action.APPROVE_EXTENSION)
    with db.transaction() as s:
        assert s.get(Problem, pid).deadline_cycle == 1  # type: ignore[union-attr]
    assert db.run(sweep, FixedClock(at(2019, 2, 25, 10)), cid).fired == 0
    on_time = db.run(sweep, FixedClock(at(2019, 2, 26, 10)), cid)
    assert (on_time.fired, on_time.skipped) == (1, 0)
    assert _recorded(db)[-1][:2] == (1, "due")
    late = db.run(sweep, FixedClock(at(2019, 2, 27, 10)), cid)
    assert (late.fired, late.skipped) == (1, 0)
    assert [(c, code) for c, code, _ in _recorded(db)][-2:] == [(1, "due"), (1, "urge")]
