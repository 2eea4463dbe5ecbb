"""Amendments that only change co-offices (协办单位): previewed by name, applied, and told."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.adapters.plan.yaml_file import load_plan_text
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.amendments import apply_amendment, preview_amendment
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.notices.issuing import issue_notices
from duban.services.notices.reading import list_notices
from duban.services.problems import record_problems
from models import (
    AuditEvent,
    InboxMessage,
    Notice,
    NoticeCopy,
    NoticeProblem,
    Problem,
    ProblemCoOffice,
)

BASE = Path(__file__).resolve().parents[1] / "data" / "plans" / "amend-base.yaml"
HOUSING = "  - {categories: [住房安全], office: 乡建环办, co_offices: [各村]}"
TODAY = FixedClock(dt.datetime(2022, 6, 8, 9, 0, tzinfo=CHINA_TZ))


def _text(housing_co: str, notices: str = "") -> str:
    text = BASE.read_text("utf-8")
    assert HOUSING in text
    text = text.replace(HOUSING, f"  - {{categories: [住房安全], office: 乡建环办, "
                                 f"co_offices: [{housing_co}]}}")
    return text + notices


def _campaign(db: Database, notices: str = "") -> int:
    """Housing W000001 (一村) and W000002 (二村) led by 乡建环办; W000003 monitoring by 乡扶贫办."""
    text = _text("各村", notices)
    cid = db.run(launch_campaign, TODAY, load_plan_text(text), text, "county")
    db.run(add_user, TODAY, username="county", name="县级李四", role=Role.COUNTY)
    found = dt.date(2022, 6, 7)
    db.run(record_problems, TODAY, cid, [
        ReportedProblem(source="visit", category=category, town="测试乡", village=village,
                        household_id=key, description=f"{key} 的问题", found_by="王村干",
                        found_on=found)
        for category, village, key in (("housing", "一村", "H1"), ("housing", "二村", "H2"),
                                       ("monitoring", "三村", "H3"))], recorded_by="county")
    db.run(issue_notices, TODAY, cid, issued_by="county", batch_key="b1")
    return cid


def list_notices_of(s: Session, cid: int) -> list[Notice]:
    return list(s.scalars(select(Notice).where(Notice.campaign_id == cid,
                                               Notice.kind == "notice")))


def _co_offices(db: Database, code: str) -> list[str]:
    with db.transaction() as s:
        return list(s.scalars(select(ProblemCoOffice.office_code).join(
            Problem, Problem.id == ProblemCoOffice.problem_id).where(Problem.code == code)
            .order_by(ProblemCoOffice.office_code)))


def test_preview_names_who_gains_and_loses_and_apply_copies_the_lead_notice(
        db: Database, tmp_path: Path) -> None:
    cid = _campaign(db)
    assert _co_offices(db, "W000001") == ["village:一村"]
    new = _text("乡扶贫办")  # 各村 out, 乡扶贫办 in; the lead stays 乡建环办
    with db.unit_of_work() as uow:
        diff = preview_amendment(uow, TODAY, cid, load_plan_text(new)).diff
    assert not diff.refusals and not diff.reroutes and not diff.deadline_moves
    assert [c.code for c in diff.co_office_changes] == ["W000001", "W000002"]
    assert [t.text for t in diff.co_office_tallies()] == [
        "一村：不再协办 1 个（W000001）", "乡扶贫办：新增协办 2 个（W000001、W000002）",
        "二村：不再协办 1 个（W000002）"]
    # The CLI shows the same, by name.
    from duban.cli import cli
    plan_file = tmp_path / "co.yaml"
    plan_file.write_text(new, "utf-8")
    out = CliRunner().invoke(cli, ["--now", "2022-06-08T09:00", "campaign", "amend", str(cid),
                                   str(plan_file)], obj=db)
    assert out.exit_code == 0, out.output
    assert "协办单位调整 2 个" in out.output and "乡扶贫办：新增协办 2 个" in out.output
    assert "village:一村" not in out.output

    result = db.run(apply_amendment, TODAY, cid, load_plan_text(new), new, username="county",
                    note="住房问题由扶贫办协办", expect_version=1)
    assert len(result.diff.co_office_changes) == 2
    assert _co_offices(db, "W000001") == ["fpb"] and _co_offices(db, "W000002") == ["fpb"]
    assert _co_offices(db, "W000003") == ["village:三村"]  # another rule: untouched
    with db.transaction() as s:
        notes = list(s.scalars(select(AuditEvent.note).where(
            AuditEvent.action == "amend_co_offices").order_by(AuditEvent.id)))
        # Town offices are copied (抄送, the default): 乡扶贫办 is copied on 乡建环办's notice.
        (jhb_notice,) = [n.id for n in list_notices_of(s, cid) if n.office_code == "jhb"]
        copies = set(s.scalars(select(NoticeCopy.office_code).where(
            NoticeCopy.notice_id == jhb_notice)))
        told = s.scalars(select(InboxMessage).where(
            InboxMessage.office_code == "fpb", InboxMessage.kind == "notice_copied")).one()
        dropped = s.scalars(select(InboxMessage).where(
            InboxMessage.kind == "co_office_dropped")).all()
    assert notes == ["方案修订（第2版）：住房问题由扶贫办协办；协办单位增加 乡扶贫办；不再协办 一村",
                     "方案修订（第2版）：住房问题由扶贫办协办；协办单位增加 乡扶贫办；不再协办 二村"]
    assert copies == {"fpb"}
    assert "新增需你单位配合整改的问题2个（W000001、W000002）" in told.body
    assert dropped == []  # villages received nothing (village: none), so nothing to retract


def test_own_notices_follow_and_dropped_offices_are_told(db: Database) -> None:
    own = "\nnotices:\n  co_offices: {county: copy, town: own, village: own}\n"
    cid = _campaign(db, own)
    before = {n.number for n in db.run(list_notices, cid)}
    new = _text("乡扶贫办", own)
    result = db.run(apply_amendment, TODAY, cid, load_plan_text(new), new, username="county",
                    note="住房问题由扶贫办协办", expect_version=1)
    assert len(result.diff.co_office_changes) == 2
    after = db.run(list_notices, cid)
    fresh = [n for n in after if n.number not in before]
    # 乡扶贫办 gets its own notice now, listing both housing problems as co-office.
    assert [n.office_code for n in fresh] == ["fpb"]
    with db.transaction() as s:
        listed = set(s.execute(select(NoticeProblem.office_code, NoticeProblem.co_office).where(
            NoticeProblem.notice_id == fresh[0].id)))
        village_rows = s.scalars(select(NoticeProblem.office_code).where(
            NoticeProblem.office_code.in_(["village:一村", "village:二村"]))).all()
        dropped = {m.office_code: m.body for m in s.scalars(select(InboxMessage).where(
            InboxMessage.kind == "co_office_dropped"))}
    assert listed == {("fpb", True)}
    # The villages had their own notices; they are told, and no longer listed for them.
    assert village_rows == []
    assert set(dropped) == {"village:一村", "village:二村"}
    assert "以下问题不再需要你单位配合整改：W000001" in dropped["village:一村"]
