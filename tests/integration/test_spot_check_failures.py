"""Issue 11: a failed spot check acts (reopen, or a new problem) and counts in the ranking."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_text
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.lifecycle import Action, Role, Status
from duban.domain.plan import Plan
from duban.domain.scoring import ScoreWeights, TownMonthStats, score_components
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.problems import audit_trail
from duban.services.reviews import (
    SpotCheckError,
    draw_daily_spot_checks,
    list_spot_checks,
    record_spot_check,
)
from duban.services.scoring.monthly import compute_ranking, monthly_snapshot
from models import Problem, SpotCheck
from tests.conftest import PLANS
from tests.support import plain_household, register, with_seed_004_quota

SEED_002 = PLANS / "seed-002-shenqiu.yaml"


pytestmark = pytest.mark.usefixtures("data_dir")


def launch(db: Database, clock: FixedClock, source: str = "",
           **ranking: int) -> tuple[int, Plan]:
    text = with_seed_004_quota(SEED_002.read_text(encoding="utf-8"))
    if source:
        assert "  rectify_days_after_failed_review:" in text
        text = text.replace("  rectify_days_after_failed_review:",
                            f"  spot_check_source: {source}\n  rectify_days_after_failed_review:", 1)
    if ranking:
        assert "  by: town\n" in text
        text = text.replace("  by: town\n", "  by: town\n" + "".join(
            f"  {k}: {v}\n" for k, v in ranking.items()), 1)
    plan = load_plan_text(text, base_dir=SEED_002.parent)
    cid = db.run(launch_campaign, clock, plan, text, "county")
    db.run(add_user, clock, username="county", name="县巩固办李四", role=Role.COUNTY)
    db.run(add_user, clock, username="ducha", name="督导组王五", role=Role.SUPERVISOR)
    town = plan.towns[0]
    with db.transaction() as s:
        register(s, cid, (plain_household(cid, town.code, town.villages[0].code,
                                          f"H-{k:03d}", f"户主{k}") for k in range(3)))
    return cid, plan


def household_check(db: Database, clock: FixedClock, cid: int) -> int:
    ids = db.run(draw_daily_spot_checks, clock, cid)
    return next(c.id for c in db.run(list_spot_checks, cid, ids=ids) if c.kind == "household")


def test_a_failed_household_check_records_a_routed_problem(db: Database,
                                                           clock: FixedClock) -> None:
    cid, _ = launch(db, clock)
    check_id = household_check(db, clock, cid)
    with pytest.raises(SpotCheckError, match="问题类别"):
        db.run(record_spot_check, clock, check_id, "ducha", passed=False, note="房屋漏雨未报")
    with pytest.raises(SpotCheckError, match="未定义"):
        db.run(record_spot_check, clock, check_id, "ducha", passed=False, note="房屋漏雨未报",
                          category="不存在")
    with db.transaction() as s:  # the refusals left nothing behind
        assert s.scalar(select(SpotCheck.result).where(SpotCheck.id == check_id)) == "pending"
        assert s.scalars(select(Problem)).all() == []
    info = db.run(record_spot_check, clock, check_id, "ducha", passed=False,
                             note="房屋漏雨未报", category="住房安全")
    assert info.result == "failed" and info.raised_problem_code
    with db.transaction() as s:
        p = s.scalar(select(Problem).where(Problem.code == info.raised_problem_code))
        assert p is not None
        # 督查巡查 is seed 002's source for supervision findings; the checker signs as finder,
        # by name (姓名（单位）), as every 排查人 is written.
        from duban.services.views.names import person_labels

        finder = person_labels(s, ["ducha"])["ducha"]
        assert finder != "ducha" and "（" in finder
        assert (p.source, p.category, p.household_id, p.found_by) == (
            "supervision", "housing", info.household_id, finder)
        assert "ducha" not in p.description
        assert p.status == Status.ROUTED.value and p.lead_office and p.deadline is not None
        assert "房屋漏雨未报" in p.description
        stored = s.get(SpotCheck, check_id)
        assert stored is not None and stored.raised_problem_id == p.id
    _, events = db.run(audit_trail, info.raised_problem_code, cid)
    assert events[0].actor == "ducha" and events[1].action == Action.ROUTE.value


def test_failed_checks_count_against_the_town_in_the_ranking(db: Database,
                                                              clock: FixedClock) -> None:
    cid, plan = launch(db, clock, failed_check_points=3)
    assert plan.ranking.failed_check_points == 3
    town = plan.towns[0].code
    before = db.run(compute_ranking, clock, cid, "2022-09").stats_of(town).failed_checks
    assert before == 0
    db.run(record_spot_check, clock, household_check(db, clock, cid), "ducha", passed=False,
                      note="帮扶措施未落实", category="housing")
    snap = db.run(compute_ranking, clock, cid, "2022-09")
    assert snap.stats_of(town).failed_checks == 1
    row = next(r for r in snap.ranking.rows if r.town == town)
    term = next(c for c in row.components if c.code == "failed_checks")
    assert str(term.points) == "-3.00" and "抽查不合格" in row.breakdown
    # Frozen, the term and the plan's weight are kept.
    october = FixedClock(dt.datetime(2022, 10, 3, 9, 0, tzinfo=CHINA_TZ))
    frozen = db.run(monthly_snapshot, october, cid, "2022-09", "county")
    assert frozen.stats_of(town).failed_checks == 1 and frozen.weights.failed_check == 3
    assert frozen.policy.failed_check_points == 3


def test_the_failed_check_term_is_capped_and_absent_without_failures() -> None:
    base = dict(town="t", name="镇", month=dt.date(2022, 9, 1), households=100, problems=4,
                closed=4, overdue=0, penalties_yuan=0)
    assert "failed_checks" not in {c.code for c in score_components(TownMonthStats(**base))}
    many = TownMonthStats(**base, failed_checks=9)  # type: ignore[arg-type]
    weights = dataclasses.replace(ScoreWeights(), failed_check=2, failed_check_cap=10)
    (term,) = [c for c in score_components(many, weights) if c.code == "failed_checks"]
    assert str(term.points) == "-10.00"


def test_spotcheck_record_cli_records_the_new_problem(db: Database, clock: FixedClock) -> None:
    from duban.cli import cli

    cid, _ = launch(db, clock)
    check_id = household_check(db, clock, cid)
    result = CliRunner().invoke(cli, obj=db, args=[
        "--now", "2022-09-26T10:00", "spotcheck", "record", str(check_id),
        "--as", "ducha", "--fail", "--note", "饮水不安全", "--category", "housing"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "已登记新问题" in result.output


def test_the_plan_may_name_the_spot_check_source(db: Database, clock: FixedClock) -> None:
    from duban.domain.plan_check import PlanInvalid

    with pytest.raises(PlanInvalid, match="spot_check_source"):
        launch(db, clock, source="没有这个来源")
    cid, plan = launch(db, clock, source="督导组督导")
    assert plan.review.spot_check_source == "guidance"
    info = db.run(record_spot_check, clock, household_check(db, clock, cid), "ducha", passed=False,
                             note="走访记录不实", category="housing")
    with db.transaction() as s:
        assert s.scalar(select(Problem.source).where(
            Problem.code == info.raised_problem_code)) == "guidance"
