"""Seed 004's 一票否决 reaches the town and the county unit that 包保 it, not only names them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.notices.reading import notice_file, visible_notices
from duban.services.problems import record_problems
from duban.services.reminders import sweep
from duban.services.scoping import scope_for
from models import InboxMessage, Notice, OutboxMessage
from tests.orchestration.helpers import at

SEED_004 = Path(__file__).resolve().parents[2] / "plans" / "seed-004-anhui-2019.yaml"


def test_the_veto_bulletin_reaches_the_town_and_its_liaison(db: Database) -> None:
    clock = FixedClock(at(2019, 2, 11))
    plan = load_plan_file(SEED_004)
    cid = db.run(launch_campaign, clock, plan, SEED_004.read_text("utf-8"), "county")
    # An education problem in 城关镇 is led by 县教育局; 城关镇's 包保 unit is 县住建局 (zjj).
    problem = ReportedProblem(
        source="visit", category="education", town="chengguan", village="cg01",
        household_id="H1", description="适龄儿童失学", found_by="帮扶责任人",
        found_on=dt.date(2019, 2, 12), deadline=dt.date(2019, 2, 13))
    clock = FixedClock(at(2019, 2, 12))
    (pid,) = db.run(record_problems, clock, cid, [problem], recorded_by="cadre").problem_ids
    for code, name in (("zjj", "住建甲"), ("jyj", "教育乙"), ("fgw", "发改丙")):
        db.run(add_user, clock, username=f"{code}1", name=name, role=Role.OFFICE, office=code)
    # Five working days past 2/13 the 一票否决 rung fires.
    clock = FixedClock(at(2019, 2, 20, 10))
    result = db.run(sweep, clock, cid)
    # Only the 通报: the 催办 and 督办 missed since the deadline are skipped, not sent late.
    assert len(result.documents) == 1 and result.skipped == 3
    with db.transaction() as s:
        bulletin = s.scalars(select(Notice).where(Notice.kind == "bulletin")).one()
        inbox = {m.office_code: m for m in s.scalars(select(InboxMessage).where(
            InboxMessage.kind == "bulletin_issued"))}
        outbox = set(s.scalars(select(OutboxMessage.office_code).where(
            OutboxMessage.dedupe_key.like(f"bulletin:{bulletin.id}:%"))))
        number = bulletin.number
    assert bulletin.problem_ids == [pid]
    # The 包保 unit and the town's 扶贫工作站 are told, each in its own words; no other unit.
    assert set(inbox) == {"zjj", "zz-chengguan"} == outbox
    liaison = inbox["zjj"]
    assert liaison.subject.startswith(f"【通报】{number}")
    assert "县住建局：" in liaison.body and "你单位包保的城关镇有1个问题逾期未整改" in liaison.body
    assert "一票否决" in liaison.body and "zjj" not in liaison.body
    assert "你单位（城关镇）有1个问题逾期未整改" in inbox["zz-chengguan"].body
    # Both may read and download it; a unit the 通报 does not concern still may not.
    with db.transaction() as s:
        mine = [n.number for n in visible_notices(s, scope_for(s, "zjj1", clock.now().date()),
                                                   cid)]
        other = [n.number for n in visible_notices(s, scope_for(s, "fgw1", clock.now().date()),
                                                    cid)]
    assert number in mine and number not in other
    assert db.run(notice_file, bulletin.id)[:2] == b"PK"
