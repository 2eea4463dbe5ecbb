"""不定期抽查: a supervision group checks a closed problem of its choice, outside the draw."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from duban.adapters.plan.yaml_file import load_plan_text
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.errors import DubanError, PermissionDenied
from duban.domain.lifecycle import Action, Payload, Role, Status
from duban.services import moves
from duban.services.actors import add_user
from duban.services.calendars import working_calendar
from duban.services.campaigns import CampaignClosed, launch_campaign
from duban.services.closing import close_campaign
from duban.services.database import Database
from duban.services.evidence import UploadedFile
from duban.services.problems import audit_trail
from duban.services.reviews import (
    SpotCheckError,
    draw_daily_spot_checks,
    list_spot_checks,
    record_adhoc_spot_check,
)
from duban.services.scoring.monthly import compute_ranking
from models import Problem, SpotCheck
from tests.conftest import PLANS
from tests.support import record_housing_problem

SEED_002 = PLANS / "seed-002-shenqiu.yaml"
PHOTO = UploadedFile("整改后照片.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"after" * 40, "after")


pytestmark = pytest.mark.usefixtures("data_dir")


def closed_problem(db: Database, clock: FixedClock) -> tuple[int, str]:
    """Seed 002 as shipped (its 督导组 work 不定期, no daily quota) with one closed problem."""
    text = SEED_002.read_text(encoding="utf-8")
    plan = load_plan_text(text, base_dir=SEED_002.parent)
    assert plan.review.quota.closed_problems == 0
    cid = db.run(launch_campaign, clock, plan, text, "county")
    db.run(add_user, clock, username="zjj1", name="住建局张三", role=Role.OFFICE, office="zjj")
    db.run(add_user, clock, username="county", name="县巩固办李四", role=Role.COUNTY)
    db.run(add_user, clock, username="dd1", name="第一督导组组长", role=Role.SUPERVISOR)
    code = record_housing_problem(db, clock, cid, plan)
    for user, action, payload, files in (
            ("zjj1", Action.ACCEPT, Payload(), []),
            ("zjj1", Action.SUBMIT, Payload(note="已维修屋面"), [PHOTO]),
            ("dd1", Action.PASS_REVIEW, Payload(note="现场核实"), []),
            ("county", Action.CLOSE, Payload(note="销号"), [])):
        db.run(moves.apply, clock, user, code, action, payload, files=files, campaign_id=cid)
    return cid, code


def test_a_failed_adhoc_check_reopens_the_closed_problem(db: Database,
                                                         clock: FixedClock) -> None:
    cid, code = closed_problem(db, clock)
    assert db.run(draw_daily_spot_checks, clock, cid) == []  # no quota: the draw picks nothing
    info = db.run(record_adhoc_spot_check, clock, cid, code, "dd1", False, "屋面仍漏雨，整改不到位")
    assert (info.group, info.kind, info.result, info.checked_by) == (
        "dd1", "closed_problem", "failed", "dd1")
    assert info.problem_code == code and info.draw_seed == ""
    with db.transaction() as s:
        p = s.scalar(select(Problem).where(Problem.code == code))
        assert p is not None and p.status == Status.RECTIFYING.value
        # The plan's 5 working days after a failed check, from today.
        assert p.deadline == working_calendar().add_workdays(clock.now().date(), 5)
        stored = s.get(SpotCheck, info.id)
        assert stored is not None and stored.draw_id is None
    _, events = db.run(audit_trail, code, cid)
    assert events[-1].action == Action.REOPEN.value and events[-1].actor == "dd1"
    assert "不定期抽查不合格" in (events[-1].note or "")
    assert [c.id for c in db.run(list_spot_checks, cid, result="failed")] == [info.id]
    town = info.town
    assert db.run(compute_ranking, clock, cid, "2022-09").stats_of(town).reopened == 1


def test_a_passed_adhoc_check_keeps_it_closed_and_out_of_the_days_draw(
        db: Database, clock: FixedClock) -> None:
    cid, code = closed_problem(db, clock)
    info = db.run(record_adhoc_spot_check, clock, cid, code, "county", True, "",
                  group="dd2")
    assert (info.group, info.result, info.checked_by) == ("dd2", "passed", "county")
    with db.transaction() as s:
        assert s.scalar(select(Problem.status).where(Problem.code == code)) == "closed"
    with pytest.raises(SpotCheckError, match="今天已抽查过"):
        db.run(record_adhoc_spot_check, clock, cid, code, "county", True, group="dd2")


def test_refused_adhoc_checks_change_nothing(db: Database, clock: FixedClock) -> None:
    cid, code = closed_problem(db, clock)
    db.run(add_user, clock, username="other", name="住建局李六", role=Role.OFFICE, office="zjj")
    refusals: list[tuple[str, type[Exception], str, dict[str, object]]] = [
        ("county", SpotCheckError, "--group", {}),  # the county office names the group
        ("county", SpotCheckError, "督查组未定义", {"group": "dd9"}),
        ("other", PermissionDenied, "无权记录", {"group": "dd1"}),
        ("dd1", SpotCheckError, "须填写原因", {}),
    ]
    for user, error, message, extra in refusals:
        with pytest.raises(error, match=message):
            db.run(record_adhoc_spot_check, clock, cid, code, user, False, "",
                   **extra)  # type: ignore[arg-type]
    with pytest.raises(DubanError, match="不存在"):
        db.run(record_adhoc_spot_check, clock, cid, "NOPE-1", "dd1", False, "x")
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(SpotCheck)) == 0
        assert s.scalar(select(Problem.status).where(Problem.code == code)) == "closed"
    db.run(moves.apply, clock, "dd1", code, Action.REOPEN, Payload(note="复查"), campaign_id=cid)
    with pytest.raises(SpotCheckError, match="只查已销号"):
        db.run(record_adhoc_spot_check, clock, cid, code, "dd1", True)


def test_no_adhoc_check_on_a_closed_campaign(db: Database, clock: FixedClock) -> None:
    cid, code = closed_problem(db, clock)
    db.run(close_campaign, clock, cid, "county")
    with pytest.raises(CampaignClosed, match="已总结关闭"):
        db.run(record_adhoc_spot_check, clock, cid, code, "dd1", False, "反弹")
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(SpotCheck)) == 0


def test_spotcheck_adhoc_cli(db: Database, clock: FixedClock) -> None:
    from duban.cli import cli

    cid, code = closed_problem(db, clock)
    later = dt.datetime(2022, 9, 27, 10, 0, tzinfo=CHINA_TZ)
    clock.set(later)
    result = CliRunner().invoke(cli, obj=db, args=[
        "--now", later.strftime("%Y-%m-%dT%H:%M"), "spotcheck", "adhoc", code,
        "--campaign", str(cid), "--as", "dd1", "--fail", "--note", "饮水不安全",
        "--deadline", "2022-10-10"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"问题 {code} 已重新打开" in result.output and "不合格" in result.output
    assert "（县委巩固衔接第一督导组，销号问题" in result.output  # the group by name
    listed = CliRunner().invoke(cli, obj=db, args=["spotcheck", "list", "--campaign", str(cid)])
    assert "县委巩固衔接第一督导组" in listed.output and " dd1 " not in listed.output
    with db.transaction() as s:
        assert s.scalar(select(Problem.deadline).where(Problem.code == code)) == dt.date(2022, 10, 10)


def test_the_demo_people_reopen_an_item_ad_hoc_and_leave_some_past_the_ladder(
        db: Database, clock: FixedClock) -> None:
    from duban.simulation import People

    cid, code = closed_problem(db, clock)
    db.run(add_user, clock, username="dd3", name="第三督导组组长", role=Role.SUPERVISOR)
    plan = load_plan_text(SEED_002.read_text(encoding="utf-8"), base_dir=SEED_002.parent)
    for group in plan.review.groups:
        if group.code not in ("dd1", "dd3"):
            db.run(add_user, clock, username=group.code, name=group.name, role=Role.SUPERVISOR)
    clock.set(dt.datetime(2022, 9, 27, 10, 0, tzinfo=CHINA_TZ))  # the day after its close
    people = People(db, clock, plan, cid, seed=7)
    people._adhoc_checks()
    assert people.counts["抽查重新打开"] == 1 and people.reopened == 1
    with db.transaction() as s:
        assert s.scalar(select(Problem.status).where(Problem.code == code)) == "rectifying"
        (check,) = s.scalars(select(SpotCheck)).all()
        assert check.draw_id is None and check.result == "failed"
    # Seed 002's ladder ends with 通报 7 working days after the deadline: the first items are
    # finished after it, so 催办, 督办 and 通报 all fire.
    assert people.last_rung == 7
    deadline = dt.date(2022, 10, 14)
    cal = working_calendar()
    for pid in (101, 102):
        assert people._plan_finish(deadline, pid) > cal.add_workdays(deadline, 7)
    assert people.very_late == {101, 102}


def test_the_closing_report_counts_the_whole_campaigns_checks_and_duties(
        db: Database, clock: FixedClock) -> None:
    """A 总结报告's spot checks and recurring duties are the campaign's, not its last day's:
    a check made weeks before the close is counted, and nothing reads 当日."""
    from docx import Document
    from openpyxl import load_workbook

    from duban.services.duties import create_occurrences, report_done
    from models import DutyOccurrence

    cid, code = closed_problem(db, clock)
    db.run(record_adhoc_spot_check, clock, cid, code, "dd1", True, "现场复查合格")
    assert db.run(create_occurrences, clock, cid, working_calendar()) > 0
    with db.transaction() as s:
        first = s.scalar(select(DutyOccurrence.id).where(
            DutyOccurrence.due_on >= dt.date(2022, 9, 26))  # done on time, today
            .order_by(DutyOccurrence.due_on, DutyOccurrence.id).limit(1))
    assert first is not None
    db.run(report_done, clock, cid, first, by="county", note="已走访")
    clock.set(dt.datetime(2022, 10, 20, 10, 0, tzinfo=CHINA_TZ))  # weeks later, no check that day
    with db.transaction() as s:
        due = s.scalar(select(func.count()).select_from(DutyOccurrence).where(
            DutyOccurrence.due_on <= dt.date(2022, 10, 20)))
    result = db.run(close_campaign, clock, cid, "county")
    docx = next(p for p in result.report if p.suffix == ".docx")
    doc = Document(str(docx))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "四、行动期间随机抽查" in text
    assert "行动期间1个督查组共抽查1项，合格1项，不合格0项" in text
    assert "当日" not in text
    # Seed 002 has recurring duties: counted over the campaign, with the period's columns.
    assert (f"行动期间常态化工作应完成{due}项，按时完成1项，未按时完成{due - 1}项；"
            f"至总结时仍未完成{due - 1}项") in text
    heads = [[c.text for c in t.rows[0].cells] for t in doc.tables]
    assert ["责任单位", "应完成", "按时完成", "未按时完成", "仍未完成"] in heads
    # No 较昨日 column: the day's change means nothing in a summary of the campaign.
    assert ["责任单位", "排查发现", "已交办", "整改中", "待复核", "已销号", "逾期", "销号率"] in heads
    assert not any("较昨日" in h for row in heads for h in row)
    book = load_workbook(next(p for p in result.report if p.suffix == ".xlsx"))
    cells = [c for ws in book for row in ws.iter_rows(values_only=True) for c in row
             if isinstance(c, str)]
    assert "应完成" in cells and not any("当日" in c or "较昨日" in c for c in cells)
