"""Issue 11's campaign walls: 文号-less plans, past plans, closing and reopening a campaign."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import CHINA_TZ, FixedClock, SystemClock
from duban.domain.plan import Plan
from duban.services.campaigns import (
    DuplicateCampaign,
    PlanInThePast,
    launch_campaign,
    list_campaigns,
)
from duban.services.database import MIGRATIONS_DIR, Database
from models import Campaign
from tests.conftest import PLANS

SEED_002 = PLANS / "seed-002-shenqiu.yaml"


pytestmark = pytest.mark.usefixtures("data_dir")


def seed_plan(**changes: object) -> Plan:
    return dataclasses.replace(load_plan_file(SEED_002), **changes)  # type: ignore[arg-type]


def launch(db: Database, clock: FixedClock, plan: Plan | None = None, **kw: bool) -> int:
    plan = plan or seed_plan()
    return db.run(launch_campaign, clock, plan, SEED_002.read_text(encoding="utf-8"), "county", **kw)


# ---- 文号 -------------------------------------------------------------------------------


def test_two_plans_without_a_document_number_both_launch(db: Database,
                                                         clock: FixedClock) -> None:
    assert load_plan_file(SEED_002).document_number == ""  # "The seed text carries no 文号"
    first = launch(db, clock)
    second = launch(db, clock, seed_plan(name="第二项行动"))
    assert first != second
    # A real 文号 still identifies one campaign.
    numbered = seed_plan(document_number="沈巩发〔2022〕1号")
    launch(db, clock, numbered)
    with pytest.raises(DuplicateCampaign, match="沈巩发〔2022〕1号"):
        launch(db, clock, numbered)
    rows = {r.id: r for r in db.run(list_campaigns)}
    assert rows[first].document_number == "" and rows[second].document_number == ""


def test_the_database_keeps_one_campaign_per_document_number(db: Database,
                                                             clock: FixedClock) -> None:
    """"No 文号" is stored as NULL, which the unique constraint lets repeat; a real one may not."""
    launch(db, clock)
    launch(db, clock, seed_plan(name="第二项行动"))
    numbered = launch(db, clock, seed_plan(document_number="沈巩发〔2022〕1号"))
    with db.transaction() as s:
        stored = s.execute(text("SELECT document_number FROM campaign ORDER BY id")).scalars()
        assert list(stored) == [None, None, "沈巩发〔2022〕1号"]
    with pytest.raises(IntegrityError), db.transaction() as s:  # behind the service's check
        s.execute(text(
            "INSERT INTO campaign (name, issuer, document_number, notice_prefix, plan_version,"
            " launched_at, launched_by, problem_seq, version, status) SELECT name, issuer,"
            " document_number, notice_prefix, 1, launched_at, launched_by, 0, 1, status"
            " FROM campaign WHERE id = :id"), {"id": numbered})


def test_the_migration_stores_a_missing_document_number_as_null_and_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)  # migrations/env.py connects to it
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0011")
    insert = text("INSERT INTO campaign (name, issuer, document_number, notice_prefix,"
                  " launched_at, launched_by, problem_seq, version) VALUES"
                  " ('行动', '县委', :number, '督', '2022-09-01 01:00:00', 'county', 0, 1)")
    numbers = text("SELECT document_number FROM campaign ORDER BY id")
    old = Database(url)
    with old.engine.begin() as conn:
        for number in ("", "", "沈巩发〔2022〕1号"):
            conn.execute(insert, {"number": number})
    command.upgrade(config, "head")
    with old.engine.connect() as conn:
        assert list(conn.execute(numbers).scalars()) == [None, None, "沈巩发〔2022〕1号"]
    with old.transaction() as s:
        assert list(s.scalars(select(Campaign.document_number).order_by(Campaign.id))) == [
            "", "", "沈巩发〔2022〕1号"]
    command.downgrade(config, "0011")
    with old.engine.connect() as conn:
        assert list(conn.execute(numbers).scalars()) == ["", "", "沈巩发〔2022〕1号"]
    old.dispose()


def test_a_missing_document_number_prints_as_none(db: Database) -> None:
    from duban.cli import cli

    bare = SEED_002  # it has no 文号
    runner = CliRunner()
    outputs = []
    for args in (["plan", "check", str(bare)], ["campaign", "launch", str(bare)],
                 ["campaign", "launch", str(bare)], ["campaign", "list"],
                 ["campaign", "show", "1"]):
        result = runner.invoke(cli, ["--now", "2022-09-10T09:00", *args], obj=db,
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert all("（）" not in out for out in outputs), outputs
    assert "（无文号）" in outputs[0] and "（无文号）" in outputs[1]
    assert "无文号" in outputs[3] and "无文号" in outputs[4]


# ---- a plan in the past -----------------------------------------------------------------


def test_a_plan_wholly_in_the_past_is_refused_on_the_real_clock(db: Database) -> None:
    real = SystemClock()
    assert real.now().date() > dt.date(2022, 12, 31)  # seed 002 ends 2022-12-31
    with pytest.raises(PlanInThePast, match="--backfill") as refused:
        launch(db, real)
    assert "--now" in refused.value.message and "2022-12-31" in refused.value.message
    assert db.run(list_campaigns) == []
    # Simulated time, as the demo launches (the working day before the first stage), is the
    # user's explicit choice and accepted.
    assert launch(db, FixedClock(dt.datetime(2022, 9, 14, 9, 0, tzinfo=CHINA_TZ)))
    # So is an explicit backfill on the real clock.
    assert launch(db, real, seed_plan(name="补录"), backfill=True)
    assert len(db.run(list_campaigns)) == 2


def test_cli_launch_of_a_past_plan_names_the_way_out(db: Database,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from duban.cli import cli

    monkeypatch.delenv("DUBAN_NOW", raising=False)
    runner = CliRunner()
    refused = runner.invoke(cli, ["campaign", "launch", str(SEED_002)], obj=db)
    assert refused.exit_code != 0 and db.run(list_campaigns) == []
    assert "--backfill" in str(refused.exception) and "--now" in str(refused.exception)
    simulated = runner.invoke(cli, ["--now", "2022-09-14T09:00", "campaign",
                                    "launch", str(SEED_002)], obj=db)
    assert simulated.exit_code == 0, simulated.output
    ok = runner.invoke(cli, ["campaign", "launch", str(SEED_002), "--backfill"], obj=db)
    assert ok.exit_code == 0, ok.output
    assert "行动已启动" in ok.output and len(db.run(list_campaigns)) == 2


# ---- the campaign ends ------------------------------------------------------------------


def _seed_campaign(db: Database, clock: FixedClock) -> int:
    from duban.domain.household import ReportedProblem
    from duban.domain.lifecycle import Role
    from duban.services.actors import add_user
    from duban.services.problems import record_problems

    cid = launch(db, clock)
    db.run(add_user, clock, username="county", name="县巩固办李四", role=Role.COUNTY)
    db.run(add_user, clock, username="zjj1", name="住建局张三", role=Role.OFFICE, office="zjj")
    plan = load_plan_file(SEED_002)
    town = plan.towns[0]
    db.run(record_problems, clock, cid, [ReportedProblem(
        source="household", category="housing", town=town.code,
        village=town.villages[0].code, household_id="H-001", description="危房未改造",
        found_by="王村干", found_on=dt.date(2022, 9, 20))], recorded_by="county")
    return cid


def test_the_tick_closes_a_campaign_once_its_plan_has_ended(db: Database,
                                                            clock: FixedClock) -> None:
    from sqlalchemy import func, select

    from duban.services.campaigns import CampaignClosed, summarise_campaign
    from duban.services.closing import campaign_events, close_ended_campaigns
    from duban.services.notices.issuing import issue_notices
    from duban.services.reminders import sweep
    from duban.services.reviews import draw_daily_spot_checks
    from duban.services.scoring.monthly import frozen_months
    from duban.services.stages import daily_report_due, live_campaigns
    from models import ReminderFired

    cid = _seed_campaign(db, clock)  # seed 002 runs 2022-09-15 – 2022-12-31
    last_day = FixedClock(dt.datetime(2022, 12, 31, 18, 0, tzinfo=CHINA_TZ))
    assert db.run(close_ended_campaigns, last_day) == [] and db.run(live_campaigns, last_day) == [cid]
    after = FixedClock(dt.datetime(2023, 1, 3, 9, 0, tzinfo=CHINA_TZ))
    assert db.run(close_ended_campaigns, after) == [cid]
    assert db.run(close_ended_campaigns, after) == []  # once
    # The final ranking: every month of the plan frozen, and a closing report on file.
    assert [m.month for m in db.run(frozen_months, cid)] == [9, 10, 11, 12]
    (event,) = db.run(campaign_events, cid)
    assert event.action == "close" and event.actor == "system" and "结束日期" in event.note
    summary = db.run(summarise_campaign, cid, dt.date(2023, 1, 3))
    assert summary.status == "closed" and summary.status_label == "已总结"
    with db.transaction() as s:
        from models import CampaignEvent

        data = s.scalar(select(CampaignEvent.data))
    assert data is not None and data["open_problems"] == 1
    report = [Path(p) for p in data["report"]]
    assert {p.suffix for p in report} == {".docx", ".xlsx"} and all(p.is_file() for p in report)
    from docx import Document

    text = "\n".join(par.text for par in Document(str(report[0])).paragraphs)
    assert "工作总结报告" in text and "未办结1个" in text
    # The whole campaign's figures in the report's own terms, once; not the day's change.
    assert text.count("待复核") == 1 and "较前一日" not in text
    # Its trend spans the campaign (行动期间), from the first problem found, not the last 30 days.
    from openpyxl import load_workbook

    xlsx = next(p for p in report if p.suffix == ".xlsx")
    days = [r[0].date() for r in load_workbook(xlsx)["趋势"].iter_rows(min_row=2, values_only=True)]
    assert days[0] == dt.date(2022, 9, 20) and days[-1] == dt.date(2023, 1, 3)
    # Nothing fires after that: not the tick, the ladder, spot checks, notices, reports.
    later = FixedClock(dt.datetime(2023, 3, 1, 18, 0, tzinfo=CHINA_TZ))
    assert db.run(live_campaigns, later) == []
    assert db.run(sweep, later, cid).fired == 0
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ReminderFired)) == 0
    with pytest.raises(CampaignClosed, match="已总结关闭"):
        db.run(draw_daily_spot_checks, later, cid)
    with pytest.raises(CampaignClosed, match="reopen"):
        db.run(issue_notices, later, cid, issued_by="county", batch_key="late")
    assert db.run(daily_report_due, FixedClock(dt.datetime(2022, 12, 31, 18, 0, tzinfo=CHINA_TZ)),
                            cid) is None


def test_the_county_office_closes_and_reopens_by_command(db: Database,
                                                          clock: FixedClock) -> None:
    from duban.cli import cli
    from duban.domain.errors import PermissionDenied
    from duban.services.closing import (
        CampaignStateError,
        campaign_events,
        close_campaign,
        close_ended_campaigns,
        reopen_campaign,
    )
    from duban.services.scoring.monthly import frozen_months, ranking
    from duban.services.stages import live_campaigns

    cid = _seed_campaign(db, clock)
    with pytest.raises(PermissionDenied, match="县级办公室"):
        db.run(close_campaign, clock, cid, "zjj1")
    runner = CliRunner()

    def run(now: str, *args: str) -> str:
        result = runner.invoke(cli, obj=db, args=["--now", now, *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    assert "进行中" in run("2022-10-20T09:00", "campaign", "list")
    out = run("2022-10-20T09:00", "campaign", "close", str(cid), "--note", "提前完成")
    assert "已总结关闭" in out and "2022年9月、2022年10月" in out and "总结报告" in out
    # The month it closed in is ranked as of the closing day: the final ranking.
    october = db.run(ranking, cid, "2022-10")
    assert october is not None and october.as_of.date() <= dt.date(2022, 10, 21)
    assert "已总结" in run("2022-10-21T09:00", "campaign", "list")
    assert "状态：已总结" in run("2022-10-21T09:00", "campaign", "show", str(cid))
    with pytest.raises(CampaignStateError, match="无需重复关闭"):
        db.run(close_campaign, clock, cid, "county")
    with pytest.raises(CampaignStateError, match="原因"):
        db.run(reopen_campaign, clock, cid, "county", " ")
    refused = runner.invoke(cli, obj=db, args=["campaign", "reopen", str(cid)])
    assert refused.exit_code != 0  # --reason is required
    out = run("2022-10-22T09:00", "campaign", "reopen", str(cid), "--reason", "省级反馈新问题")
    assert "已重新开启" in out
    assert [(e.action, e.actor, e.note) for e in db.run(campaign_events, cid)] == [
        ("close", "county", "提前完成"), ("reopen", "county", "省级反馈新问题")]
    assert "进行中" in run("2022-10-22T09:00", "campaign", "list")
    # Reopened explicitly, it stays open past its end until closed again by command.
    after = FixedClock(dt.datetime(2023, 1, 3, 9, 0, tzinfo=CHINA_TZ))
    assert db.run(close_ended_campaigns, after) == [] and db.run(live_campaigns, after) == [cid]
    assert db.run(close_campaign, after, cid, "county").ranked_months == [
        dt.date(2022, 11, 1), dt.date(2022, 12, 1)]
    assert len(db.run(frozen_months, cid)) == 4


# ---- plan check warns -------------------------------------------------------------------


def test_plan_check_and_launch_show_lint_remarks_and_calendar_gaps(db: Database,
                                                                   tmp_path: Path) -> None:
    from duban.cli import cli

    text = SEED_002.read_text(encoding="utf-8")
    # A catch-all rule first: every later rule can never fire.
    text = text.replace("routing:\n", "routing:\n  - office: 县巩固办\n", 1)
    # And the raise stage moved into a year no holiday file covers.
    assert "    end: 2022-12-31" in text
    text = text.replace("    end: 2022-12-31", "    end: 2035-12-31", 1)
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(text, encoding="utf-8")
    for extra in PLANS.glob("seed-002-*.csv"):
        (tmp_path / extra.name).write_bytes(extra.read_bytes())
    runner = CliRunner()
    checked = runner.invoke(cli, obj=db, args=["plan", "check", str(plan_file)],
                            catch_exceptions=False)
    assert checked.exit_code == 0, checked.output
    assert "方案有效，有" in checked.output and "条提示" in checked.output
    assert "routing[1]" in checked.output  # lint_plan's remark on the hidden rule
    assert "2035年，工作日历未覆盖" in checked.output and "calendars/README.md" in checked.output
    launched = runner.invoke(cli, obj=db, args=["--now", "2022-09-14T09:00", "campaign",
                                   "launch", str(plan_file)], catch_exceptions=False)
    assert launched.exit_code == 0, launched.output
    assert "行动已启动" in launched.output and "2035年，工作日历未覆盖" in launched.output
    assert "routing[1]" in launched.output
    # The shipped seed plan itself draws no remark.
    clean = runner.invoke(cli, obj=db, args=["plan", "check", str(SEED_002)],
                          catch_exceptions=False)
    assert "提示" not in clean.output and "方案有效：" in clean.output
