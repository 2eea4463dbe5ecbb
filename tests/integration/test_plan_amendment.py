"""Plan amendments on a running campaign: preview, apply, refusals, a stale version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from duban.adapters.plan.yaml_file import load_plan_file, load_plan_text
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.errors import ConflictError, DubanError, PermissionDenied
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, Payload, Role
from duban.services.actors import add_user
from duban.services.amendments import AmendmentRefused, apply_amendment, preview_amendment
from duban.services.campaigns import launch_campaign, load_plan_of
from duban.services.database import Database
from duban.services.moves import apply
from duban.services.problems import record_problems
from models import AuditEvent, Campaign, CampaignEvent, CampaignStage, Office, PlanVersion, Problem

DATA = Path(__file__).resolve().parents[1] / "data" / "plans"
BASE, NEW = DATA / "amend-base.yaml", DATA / "amend-new.yaml"
NOW = "2022-06-08T09:00"  # a Wednesday in the rectify stage (6/6 – 7/10)


@pytest.fixture
def today() -> FixedClock:
    return FixedClock(dt.datetime(2022, 6, 8, 9, 0, tzinfo=CHINA_TZ))


def _campaign(db: Database, clock: FixedClock) -> int:
    """Four open problems: P1 housing (plan route and date), P2 monitoring, P3 housing with a
    ledger date, P4 housing that the county office re-routed by hand to 乡扶贫办."""
    cid = db.run(launch_campaign, clock, load_plan_file(BASE), BASE.read_text(encoding="utf-8"),
                          "county")
    db.run(add_user, clock, username="county", name="县级李四", role=Role.COUNTY)
    db.run(add_user, clock, username="fpb1", name="扶贫办张三", role=Role.OFFICE, office="fpb")
    found = dt.date(2022, 6, 7)

    def report(category: str, village: str, key: str, **kw: Any) -> ReportedProblem:
        return ReportedProblem(source="visit", category=category, town="测试乡", village=village,
                               household_id=key, description=f"{key} 的问题", found_by="王村干",
                               found_on=found, **kw)

    db.run(record_problems, clock, cid, [
        report("housing", "一村", "H1"), report("monitoring", "二村", "H2"),
        report("housing", "一村", "H3", deadline=dt.date(2022, 7, 5)),
        report("housing", "三村", "H4")], recorded_by="county")
    db.run(apply, clock, "county", "W000004", Action.REASSIGN,
          Payload(note="熟悉情况", office="fpb"), campaign_id=cid)
    return cid


def _counts(db: Database) -> tuple[int, ...]:
    with db.transaction() as s:
        return (s.scalar(select(func.count()).select_from(PlanVersion)) or 0,
                s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                s.scalar(select(func.count()).select_from(CampaignEvent)) or 0,
                s.scalar(select(func.sum(Problem.version))) or 0,
                s.scalar(select(func.sum(Campaign.plan_version))) or 0,
                s.scalar(select(func.count()).select_from(Office)) or 0)


def _problem(db: Database, code: str) -> Problem:
    with db.transaction() as s:
        p = s.scalar(select(Problem).where(Problem.code == code))
        assert p is not None
        s.expunge(p)
        return p


def test_preview_counts_what_changes_for_open_problems(db: Database, today: FixedClock) -> None:
    cid = _campaign(db, today)
    before = _counts(db)
    with db.unit_of_work() as uow:
        preview = preview_amendment(uow, today, cid, load_plan_file(NEW))
    diff = preview.diff
    assert preview.version == 1 and diff.refusals == () and diff.open_problems == 4
    # P1 and P3 were the old plan's 乡建环办's; P4 was re-routed by hand and stays with 乡扶贫办.
    assert [(r.code, r.from_name, r.to_name) for r in diff.reroutes] == [
        ("W000001", "乡建环办", "乡住建办"), ("W000003", "乡建环办", "乡住建办")]
    assert diff.reroutes[0].co_offices == ("village:一村",)
    # The housing date 6/30 -> 7/8 moves P1 and P4 (still the plan's date); P3's ledger date stays.
    assert [(m.code, m.from_date, m.to_date) for m in diff.deadline_moves] == [
        ("W000001", dt.date(2022, 6, 30), dt.date(2022, 7, 8)),
        ("W000004", dt.date(2022, 6, 30), dt.date(2022, 7, 8))]
    assert all(m.basis.startswith("方案修订：") for m in diff.deadline_moves)
    assert [k.code for k in diff.kept] == ["W000004"] and "人工改派" in diff.kept[0].reason
    assert diff.changes == ("阶段“问题整改”结束：2022-07-10 → 2022-07-31",)
    assert diff.offices_added == ("乡住建办",) and diff.offices_removed == ("乡建环办",)
    assert _counts(db) == before  # a preview writes nothing


def test_apply_writes_one_version_moves_and_audits(db: Database, today: FixedClock) -> None:
    cid = _campaign(db, today)
    plan = load_plan_file(NEW)
    with db.unit_of_work() as uow:
        result = apply_amendment(uow, today, cid, plan, NEW.read_text(encoding="utf-8"),
                                 username="county", note="县里调整住房安全牵头单位",
                                 expect_version=1)
        uow.commit()
    assert result.version == 2
    with db.transaction() as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None and campaign.plan_version == 2
        row = s.scalar(select(PlanVersion).where(PlanVersion.version == 2))
        assert row is not None and row.created_by == "county"
        assert row.note == "县里调整住房安全牵头单位" and "乡住建办" in row.source
        assert load_plan_of(s, cid).office("zjb") is not None
        assert s.scalar(select(Office.name).where(Office.code == "zjb")) == "乡住建办"
        assert s.scalar(select(CampaignStage.end).where(CampaignStage.seq == 2)) == dt.date(
            2022, 7, 31)
        reassigned = s.scalars(select(AuditEvent).where(
            AuditEvent.action == Action.REASSIGN.value, AuditEvent.actor == "county",
            AuditEvent.note.like("方案修订（第2版）%"))).all()
        assert len(reassigned) == 2 and {e.data["office"] for e in reassigned} == {"zjb"}
        moved = s.scalars(select(AuditEvent).where(AuditEvent.action == "amend_plan")).all()
        assert sorted((e.data["from_deadline"], e.data["deadline"]) for e in moved) == [
            ("2022-06-30", "2022-07-08")] * 2
        (event,) = s.scalars(select(CampaignEvent)).all()
        assert event.action == "amend" and event.actor == "county"
        assert event.data["rerouted"] == ["W000001", "W000003"]
        assert event.data["deadlines_moved"] == ["W000001", "W000004"]
    p1, p3, p4 = (_problem(db, f"W00000{n}") for n in (1, 3, 4))
    assert (p1.lead_office, p1.status, p1.deadline) == ("zjb", "routed", dt.date(2022, 7, 8))
    assert p1.deadline_basis is not None and p1.deadline_basis.startswith("方案修订：")
    assert (p3.lead_office, p3.deadline) == ("zjb", dt.date(2022, 7, 5))  # ledger date kept
    assert (p4.lead_office, p4.deadline) == ("fpb", dt.date(2022, 7, 8))  # hand routing kept
    # Applied once, the same plan changes nothing more.
    with db.unit_of_work() as uow:
        again = preview_amendment(uow, today, cid, plan).diff
    assert (again.reroutes, again.deadline_moves, again.changes) == ((), (), ())
    # A deadline an amendment moved is still the plan's: the next amendment moves it again.
    third = load_plan_text(NEW.read_text(encoding="utf-8").replace("date: 2022-07-08}",
                                                                   "date: 2022-07-15}"))
    with db.unit_of_work() as uow:
        moved_again = preview_amendment(uow, today, cid, third).diff.deadline_moves
    assert [(m.code, m.from_date, m.to_date) for m in moved_again] == [
        ("W000001", dt.date(2022, 7, 8), dt.date(2022, 7, 15)),
        ("W000004", dt.date(2022, 7, 8), dt.date(2022, 7, 15))]


def test_a_stale_version_is_refused(db: Database, today: FixedClock) -> None:
    cid = _campaign(db, today)
    plan, text = load_plan_file(NEW), NEW.read_text(encoding="utf-8")
    with db.unit_of_work() as uow:
        apply_amendment(uow, today, cid, plan, text, username="county", note="第一次",
                        expect_version=1)
        uow.commit()
    before = _counts(db)
    with db.unit_of_work() as uow, pytest.raises(ConflictError, match="已是第 2 版"):
        apply_amendment(uow, today, cid, plan, text, username="county", note="第二次",
                        expect_version=1)
    assert _counts(db) == before


def test_refusals_name_the_field_and_write_nothing(db: Database, today: FixedClock,
                                                   tmp_path: Path) -> None:
    cid = _campaign(db, today)
    text = NEW.read_text(encoding="utf-8")
    bad = (text.replace("测试发〔2022〕5号", "测试发〔2022〕6号")
           .replace("villages: [一村, 二村, 三村]", "villages: [二村, 三村]")
           .replace("{kind: 排查, name: 走访排查, start: 2022-05-06", "{kind: 排查, name: 走访排查, "
                    "start: 2022-05-09"))
    before = _counts(db)
    with db.unit_of_work() as uow, pytest.raises(AmendmentRefused) as refused:
        apply_amendment(uow, today, cid, load_plan_file_text(bad, tmp_path), bad,
                        username="county", note="改", expect_version=1)
    paths = [e.path for e in refused.value.errors]
    assert paths == ["document_number", "stages[0].start", "towns"]
    message = refused.value.message
    assert "文号不能修改" in message and "测试发〔2022〕5号" in message
    assert "测试乡的村 一村 仍有 2 个未办结问题（W000001、W000003）" in message
    # Not a county user, no reason: refused too, and nothing is written.
    with db.unit_of_work() as uow, pytest.raises(PermissionDenied, match="县级办公室"):
        apply_amendment(uow, today, cid, load_plan_file(NEW), text, username="fpb1",
                        note="改", expect_version=1)
    with db.unit_of_work() as uow, pytest.raises(DubanError, match="修订原因"):
        apply_amendment(uow, today, cid, load_plan_file(NEW), text, username="county",
                        note=" ", expect_version=1)
    assert _counts(db) == before


def load_plan_file_text(text: str, tmp_path: Path) -> Any:
    """A plan from YAML text, through a file as the CLI reads it."""
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return load_plan_file(path)


def test_cli_previews_and_applies_only_with_apply(db: Database, today: FixedClock) -> None:
    from duban.cli import cli

    cid = _campaign(db, today)
    runner = CliRunner()
    before = _counts(db)
    preview = runner.invoke(cli, ["--now", NOW, "campaign", "amend", str(cid), str(NEW)], obj=db)
    assert preview.exit_code == 0, (preview.output, preview.exception)
    out = preview.output
    assert "现行方案第 1 版" in out and "改派 2 个，整改时限调整 2 个" in out
    assert "乡建环办" in out and "乡住建办" in out and "未写入任何数据" in out
    assert "--expect-version 1" in out and "新增办室：乡住建办" in out
    assert _counts(db) == before
    missing = runner.invoke(cli, ["--now", NOW, "campaign", "amend", str(cid), str(NEW),
                                  "--apply", "--as", "county"], obj=db)
    assert missing.exit_code != 0 and "--note" in missing.output and _counts(db) == before
    args = ["--now", NOW, "campaign", "amend", str(cid), str(NEW), "--apply", "--as", "county",
            "--note", "调整牵头单位", "--expect-version", "1"]
    done = runner.invoke(cli, args, obj=db)
    assert done.exit_code == 0, (done.output, done.exception)
    assert "第 2 版方案生效，改派 2 个问题，交办 0 个，调整整改时限 2 个" in done.output
    stale = runner.invoke(cli, args, obj=db)
    assert stale.exit_code != 0 and "重新预览" in str(stale.exception or stale.output)
    shown = runner.invoke(cli, ["--now", NOW, "campaign", "show", str(cid)], obj=db)
    assert "方案修订" in shown.output and "调整牵头单位" in shown.output
    trail = runner.invoke(cli, ["--now", NOW, "audit", "show", "W000001", "--campaign",
                                str(cid)], obj=db)
    assert trail.output.count("方案修订") >= 2  # the 改派 and the deadline, both audited


# PostgreSQL only: it tests the campaign row lock (FOR UPDATE); SQLite has no row locks and
# serialises writers itself (the second waits, then fails with the driver's lock error).
@pytest.mark.parametrize("committed_db", ["postgresql"], indirect=True)
def test_two_amendments_at_once_one_is_refused_as_stale(committed_db: Database,
                                                        today: FixedClock) -> None:
    import threading

    cid = _campaign(committed_db, today)
    plan, text = load_plan_file(NEW), NEW.read_text(encoding="utf-8")
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with committed_db.unit_of_work() as uow:
                apply_amendment(uow, today, cid, plan, text, username="county", note="第二人",
                                expect_version=1)
                uow.commit()
            outcome["done"] = True
        except DubanError as exc:
            outcome["error"] = exc

    with committed_db.unit_of_work() as uow:
        apply_amendment(uow, today, cid, plan, text, username="county", note="第一人",
                        expect_version=1)
        racer = threading.Thread(target=second)
        racer.start()
        racer.join(1.0)
        assert racer.is_alive()  # it waits on the campaign row this amendment holds
        uow.commit()
    racer.join(30)
    error = outcome.get("error")
    # It waited for the row, then read the version the first wrote: refused before writing.
    assert isinstance(error, ConflictError) and "已是第 2 版" in error.message, outcome
    with committed_db.transaction() as s:
        assert s.scalars(select(PlanVersion.note).order_by(PlanVersion.version)).all() == [
            "", "第一人"]


def test_unrouted_problems_the_new_routing_matches_are_routed(db: Database,
                                                              today: FixedClock) -> None:
    base = BASE.read_text(encoding="utf-8")
    catch_all = "  - {office: 乡扶贫办, co_offices: [各村]}\n"
    no_catch_all = base.replace(catch_all, "")
    assert no_catch_all != base
    cid = db.run(launch_campaign, today, load_plan_text(no_catch_all), no_catch_all, "county")
    db.run(add_user, today, username="county", name="县级李四", role=Role.COUNTY)
    db.run(record_problems, today, cid, [ReportedProblem(
        source="visit", category="monitoring", town="测试乡", village="二村", household_id="H9",
        description="未纳入监测", found_by="王村干", found_on=dt.date(2022, 6, 7))],
        recorded_by="county")
    assert _problem(db, "W000001").status == "unrouted"
    with db.unit_of_work() as uow:
        diff = preview_amendment(uow, today, cid, load_plan_text(base)).diff
    assert [(r.code, r.to_name) for r in diff.routed] == [("W000001", "乡扶贫办")]
    assert diff.open_problems == 0 and diff.reroutes == ()
    with db.unit_of_work() as uow:
        apply_amendment(uow, today, cid, load_plan_text(base), base, username="county",
                        note="补充兜底路由", expect_version=1)
        uow.commit()
    p = _problem(db, "W000001")
    assert (p.status, p.lead_office, p.deadline) == ("routed", "fpb", dt.date(2022, 6, 8))
    with db.transaction() as s:
        (event,) = s.scalars(select(AuditEvent).where(
            AuditEvent.action == Action.ROUTE.value, AuditEvent.actor == "county")).all()
    assert event.note == "方案修订（第2版）：补充兜底路由"
