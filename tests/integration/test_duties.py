"""Recurring duties and milestones on SQLite and PostgreSQL: created once, done with evidence,
missed ones and milestones chased by the ladder, the CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from duban.adapters.plan.wire import parse_plan
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.errors import DubanError
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.calendars import working_calendar
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.duties import (
    create_occurrences,
    list_occurrences,
    milestones_of,
    reach_milestone,
    report_done,
    sweep_duties,
    tally,
)
from duban.services.evidence import UploadedFile
from duban.services.problems import record_problems
from duban.simulation import evidence_png
from models import (
    DutyOccurrence,
    DutyReminderFired,
    InboxMessage,
    MilestoneReminderFired,
    Problem,
)
from tests.support import compiled_inserts
from tests.unit.test_duties import with_duties

CAL = working_calendar()


def at(day: dt.date, hour: int = 9) -> FixedClock:
    return FixedClock(dt.datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ))


def plan_data() -> dict[str, Any]:
    data = with_duties(
        {"name": "帮扶责任人走访", "units": ["各村"], "every": "每周", "weekday": "周五"},
        {"name": "综合报告", "units": ["乡扶贫办"], "every": "一次", "date": "2020-07-10"},
    )
    data["deadlines"]["rules"].insert(0, {
        "categories": ["基本医疗"],
        "milestones": [{"name": "开工", "date": "2020-06-19"},
                       {"name": "完工", "date": "2020-07-10"}]})
    return data


@pytest.fixture
def campaign(db: Database) -> int:
    clock = at(dt.date(2020, 6, 15))
    cid = db.run(launch_campaign, clock, parse_plan(plan_data()), "方案", "county")
    db.run(add_user, clock, username="fpb1", name="甲乡扶贫办干部", role=Role.OFFICE, office="fpb")
    db.run(add_user, clock, username="yfp1", name="乙乡扶贫办干部", role=Role.OFFICE, office="yfp")
    return cid


def occurrences_in(db: Database, cid: int) -> list[DutyOccurrence]:
    with db.unit_of_work() as uow:
        rows = list(uow.session.scalars(select(DutyOccurrence).where(
            DutyOccurrence.campaign_id == cid).order_by(DutyOccurrence.id)))
        uow.session.expunge_all()  # read-only: keep the rows loaded after the rollback
        return rows


def create(db: Database, day: dt.date, cid: int) -> int:
    with db.unit_of_work() as uow:
        n = create_occurrences(uow, at(day), cid, CAL)
        uow.commit()
    return n


def test_the_tick_creates_each_occurrence_exactly_once(db: Database, campaign: int) -> None:
    # By Monday 6/22: the 6/19 and 6/26 Friday visits of each of 3 villages have opened, and
    # the one 综合报告 (open from the campaign's start).
    with compiled_inserts(db, "duty_occurrence") as compiled:
        assert create(db, dt.date(2020, 6, 22), campaign) == 7
        assert create(db, dt.date(2020, 6, 22), campaign) == 0
        assert create(db, dt.date(2020, 6, 27), campaign) == 3  # the 7/3 visits open on 6/27
    # One statement for every tick's rows, compiled once (built with each tick's rows as
    # its values, it was compiled again for every count of rows).
    assert len(compiled) == 2 and sum(compiled) <= 1
    rows = occurrences_in(db, campaign)
    assert len(rows) == 10
    visits = [r for r in rows if r.duty_code == "帮扶责任人走访"]
    assert {(r.office_code, r.village_code) for r in visits} == {
        ("fpb", "v1"), ("fpb", "二村"), ("yfp", "三村")}
    assert sorted({r.day for r in visits}) == [dt.date(2020, 6, 19), dt.date(2020, 6, 26),
                                               dt.date(2020, 7, 3)]


def test_done_with_evidence_missed_ones_chased_once(db: Database, campaign: int,
                                                    tmp_path: Path) -> None:
    create(db, dt.date(2020, 6, 19), campaign)
    with db.unit_of_work() as uow:
        rows = list_occurrences(uow, at(dt.date(2020, 6, 19)), campaign, office="乡扶贫办")
    assert [(r.duty, r.place, r.state) for r in rows] == [
        ("帮扶责任人走访", "甲乡一村", "待完成"), ("帮扶责任人走访", "甲乡二村", "待完成"),
        ("综合报告", "", "待完成")]
    first = rows[0].id
    photo = UploadedFile("走访照片.png", evidence_png("一村"))
    with db.unit_of_work() as uow, pytest.raises(DubanError, match="由乡扶贫办负责，不能代为报告完成"):
        report_done(uow, at(dt.date(2020, 6, 19)), campaign, first, by="yfp1",
                    files=[photo], root=tmp_path)
    with db.unit_of_work() as uow:
        done = report_done(uow, at(dt.date(2020, 6, 19)), campaign, first, by="fpb1",
                           files=[photo], root=tmp_path)
        uow.commit()
    assert done.state == "已完成" and done.files == 1
    with db.unit_of_work() as uow, pytest.raises(DubanError, match="已于2020-06-19报告完成"):
        report_done(uow, at(dt.date(2020, 6, 19)), campaign, first, by="fpb1",
                    note="再报一次")
    # The 督办 rung (+3 working days) fires for the two visits missed on 6/19, on 6/24.
    for day in (dt.date(2020, 6, 23), dt.date(2020, 6, 24), dt.date(2020, 6, 24)):
        with db.unit_of_work() as uow:
            swept = sweep_duties(uow, at(day), campaign, CAL)
            uow.commit()
        if day == dt.date(2020, 6, 23):
            assert swept.occurrences_fired == 0
    with db.unit_of_work() as uow:
        fired = uow.session.execute(select(DutyOccurrence.village_code, DutyReminderFired.rung_code)
                                    .join(DutyOccurrence)).all()
        inbox = uow.session.scalars(select(InboxMessage).where(
            InboxMessage.kind == "duty_reminder")).all()
        uow.session.expunge_all()
    assert sorted(fired) == [("三村", "r3"), ("二村", "r3")]
    assert sorted(m.office_code for m in inbox) == ["fpb", "yfp"]
    fpb = next(m for m in inbox if m.office_code == "fpb")
    assert fpb.subject.startswith("督办：乡扶贫办有1项") and "甲乡二村帮扶责任人走访（2020-06-19）" \
        in fpb.body
    with db.unit_of_work() as uow:
        figures = tally(uow, at(dt.date(2020, 6, 24)), campaign)
    assert (figures.done, figures.missed, figures.late) == (1, 2, 0)


def test_a_problem_carries_milestones_each_chased_and_reached(db: Database,
                                                              campaign: int) -> None:
    clock = at(dt.date(2020, 6, 16))
    db.run(record_problems, clock, campaign, [ReportedProblem(
        source="visit", category="medical", town="t1", village="v1", household_id=None,
        description="村卫生室改建项目未开工", found_by="fpb1", found_on=dt.date(2020, 6, 16))],
        recorded_by="fpb1")
    with db.unit_of_work() as uow:
        problem = uow.session.scalars(select(Problem)).one()
        from duban.services.campaigns import load_plan_of

        plan = load_plan_of(uow.session, campaign)
        stones = milestones_of(uow.session, plan, problem, dt.date(2020, 6, 16))
        uow.session.expunge_all()
    assert problem.deadline == dt.date(2020, 7, 10)
    assert [(m.name, m.date, m.state) for m in stones] == [
        ("开工", dt.date(2020, 6, 19), "未到期"), ("完工", dt.date(2020, 7, 10), "未到期")]
    # 开工 is chased by its own ladder: due 6/19 (到期提醒), 督办 3 working days later.
    counts = []
    for day in (dt.date(2020, 6, 19), dt.date(2020, 6, 19), dt.date(2020, 6, 24)):
        with db.unit_of_work() as uow:
            counts.append(sweep_duties(uow, at(day), campaign, CAL).milestones_fired)
            uow.commit()
    assert counts[1] == 0 and counts[2] >= 1
    with db.unit_of_work() as uow:
        fired = uow.session.execute(select(MilestoneReminderFired.milestone_code,
                                           MilestoneReminderFired.rung_code)).all()
    assert ("开工", "r3") in fired and all(code == "开工" for code, _ in fired)
    with db.unit_of_work() as uow:
        with pytest.raises(DubanError, match="由牵头办室报告"):
            reach_milestone(uow, at(dt.date(2020, 6, 24)), campaign, problem.code, "开工",
                            by="yfp1", note="已开工")
        with pytest.raises(DubanError, match="没有节点“验收”（它的节点：开工、完工）"):
            reach_milestone(uow, at(dt.date(2020, 6, 24)), campaign, problem.code, "验收",
                            by="fpb1", note="已开工")
    with db.unit_of_work() as uow:
        row = reach_milestone(uow, at(dt.date(2020, 6, 24)), campaign, problem.code, "开工",
                              by="fpb1", note="6月24日开工")
        uow.commit()
    assert (row.state, row.reached_on) == ("逾期完成", dt.date(2020, 6, 24))
    before = len(fired)
    with db.unit_of_work() as uow:
        sweep_duties(uow, at(dt.date(2020, 7, 1)), campaign, CAL)
        uow.commit()
        after = uow.session.scalar(select(func.count()).select_from(MilestoneReminderFired))
    assert after == before  # reached: 开工 is chased no more; 完工 is the problem's deadline


def test_the_cli_lists_and_reports_duties_and_milestones(db: Database, campaign: int,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from duban.cli import cli

    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    create(db, dt.date(2020, 6, 22), campaign)
    photo = tmp_path / "走访.png"
    photo.write_bytes(evidence_png("cli"))
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--now", "2020-06-22T10:00", *args], obj=db,
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    listed = run("duty", "list", "--office", "乙乡扶贫办")
    assert "帮扶责任人走访" in listed and "乙乡三村" in listed and "每周五" in listed
    assert "逾期未完成" in listed and "待完成" in listed
    first = occurrences_in(db, campaign)[0].id
    out = run("duty", "done", str(first), "--as", "fpb1", "--file", str(photo))
    assert "已报告完成" in out and "逾期完成" in out and "佐证 1 个" in out
    assert "逾期完成" in run("duty", "list", "--state", "逾期完成")
    refused = runner.invoke(cli, ["--now", "2020-06-22T10:00", "duty", "done", str(first),
                                  "--as", "fpb1", "--note", "x"], obj=db)
    assert refused.exit_code != 0 and "已于2020-06-22报告完成" in str(refused.exception)
