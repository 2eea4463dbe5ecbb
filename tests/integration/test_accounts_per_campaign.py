"""Issue 11: an office account belongs to a campaign's office, not to an office code."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock, local_today
from duban.domain.errors import DubanError, PermissionDenied
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, GuardFailed, Payload, Role, Status
from duban.services import moves
from duban.services.accounts import list_users
from duban.services.actors import add_user, grant_campaign
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.problems import record_problems
from duban.services.scoping import problem_clause, scope_for
from models import Problem
from tests.conftest import PLANS
from tests.support import record_housing_problem

SEED_002 = PLANS / "seed-002-shenqiu.yaml"


pytestmark = pytest.mark.usefixtures("data_dir")


def two_campaigns(db: Database, clock: FixedClock) -> tuple[int, int, dict[int, str]]:
    """Two campaigns whose plans both have an office coded zjj (as 001 and 004 have wjw)."""
    plan = load_plan_file(SEED_002)
    text = SEED_002.read_text(encoding="utf-8")
    first = db.run(launch_campaign, clock, plan, text, "county")
    second = db.run(launch_campaign, clock, dataclasses.replace(plan, name="另一县专项行动"), text,
                             "county")
    db.run(add_user, clock, username="county", name="县巩固办", role=Role.COUNTY)
    town = plan.towns[0]
    codes = {}
    for cid in (first, second):
        result = db.run(record_problems, clock, cid, [ReportedProblem(
            source="household", category="housing", town=town.code,
            village=town.villages[0].code, household_id="H-1", description="危房未改造",
            found_by="王村干", found_on=dt.date(2022, 9, 20))], recorded_by="county")
        with db.transaction() as s:
            p = s.get(Problem, result.problem_ids[0])
            assert p is not None and p.lead_office == "zjj"
            codes[cid] = p.code
    return first, second, codes


def test_an_office_account_acts_only_in_its_campaign(db: Database, clock: FixedClock) -> None:
    first, second, codes = two_campaigns(db, clock)
    with pytest.raises(DubanError, match="多项行动") as ambiguous:
        db.run(add_user, clock, username="zjj1", name="住建局张三", role=Role.OFFICE, office="zjj")
    assert "--campaign" in ambiguous.value.message
    db.run(add_user, clock, username="zjj1", name="住建局张三", role=Role.OFFICE, office="zjj",
             campaign_id=first)
    # The other campaign's 县住建局 (same code) is another unit: no move, no sight.
    with pytest.raises(GuardFailed, match="不属于该问题所在的行动"):
        db.run(moves.apply, clock, "zjj1", codes[second], Action.ACCEPT, Payload(),
                     campaign_id=second)
    moved = db.run(moves.apply, clock, "zjj1", codes[first], Action.ACCEPT, Payload(),
                         campaign_id=first)
    assert moved.problem.status == Status.RECTIFYING
    with db.transaction() as s:
        scope = scope_for(s, "zjj1", local_today(clock))
        seen = set(s.scalars(select(Problem.campaign_id).where(problem_clause(scope))))
    assert seen == {first}
    # An explicit grant, by the county office, with a reason, lets it act there too.
    with pytest.raises(PermissionDenied, match="县级办公室"):
        db.run(grant_campaign, clock, "zjj1", second, "两县联合督办", granted_by="zjj1")
    with pytest.raises(DubanError, match="原因"):
        db.run(grant_campaign, clock, "zjj1", second, " ", granted_by="county")
    db.run(grant_campaign, clock, "zjj1", second, "两县联合督办", granted_by="county")
    assert db.run(moves.apply, clock, "zjj1", codes[second], Action.ACCEPT, Payload(),
                        campaign_id=second).problem.status == Status.RECTIFYING
    (row,) = [u for u in db.run(list_users) if u.username == "zjj1"]
    assert row.campaigns == f"行动{first}、行动{second}"


def test_a_single_campaign_binds_the_account_and_all_campaigns_is_explicit(
        db: Database, clock: FixedClock) -> None:
    first, second, codes = two_campaigns(db, clock)
    with pytest.raises(DubanError, match="没有代码为 nobody"):
        db.run(add_user, clock, username="x", name="某人", role=Role.OFFICE, office="nobody",
                 campaign_id=first)
    db.run(add_user, clock, username="all", name="跨行动", role=Role.OFFICE, office="zjj",
             all_campaigns=True)
    for cid in (first, second):
        db.run(moves.apply, clock, "all", codes[cid], Action.ACCEPT, Payload(), campaign_id=cid)
    rows = {u.username: u.campaigns for u in db.run(list_users)}
    assert rows["all"] == "全部行动" and rows["county"] == "全部行动"


def test_cli_user_add_and_grant(db: Database, clock: FixedClock) -> None:
    from duban.cli import cli

    first, second, _ = two_campaigns(db, clock)
    runner = CliRunner()
    refused = runner.invoke(cli, obj=db, args=["user", "add", "zjj1", "--name", "张三",
                                               "--role", "office", "--office", "zjj"])
    assert refused.exit_code != 0 and "多项行动" in str(refused.exception)
    ok = runner.invoke(cli, obj=db, args=["user", "add", "zjj1", "--name", "张三", "--role",
                                          "office", "--office", "zjj", "--campaign", str(first)])
    assert ok.exit_code == 0, ok.output
    granted = runner.invoke(cli, obj=db, args=["user", "grant", "zjj1", "--campaign",
                                               str(second), "--reason", "联合督办"])
    assert granted.exit_code == 0 and "已授权" in granted.output, granted.output
    listed = runner.invoke(cli, obj=db, args=["user", "list"])
    assert f"行动{first}、行动{second}" in listed.output


def test_an_account_made_before_its_campaign_acts_there_until_a_second_has_the_code(
        db: Database, clock: FixedClock) -> None:
    db.run(add_user, clock, username="early", name="先建账号", role=Role.OFFICE, office="zjj")
    plan = load_plan_file(SEED_002)
    text = SEED_002.read_text(encoding="utf-8")
    first = db.run(launch_campaign, clock, plan, text, "county")
    code = record_housing_problem(db, clock, first, plan, "H-1", "危房未改造")
    db.run(launch_campaign, clock, dataclasses.replace(plan, name="另一县专项行动"), text, "county")
    # Two campaigns now have a zjj: the unbound account is no longer any one of them.
    with pytest.raises(GuardFailed, match="不属于"):
        db.run(moves.apply, clock, "early", code, Action.ACCEPT, Payload(), campaign_id=first)
    db.run(add_user, clock, username="county", name="县巩固办", role=Role.COUNTY)
    db.run(grant_campaign, clock, "early", first, "本县住建局经办人", granted_by="county")
    assert db.run(moves.apply, clock, "early", code, Action.ACCEPT, Payload(),
                        campaign_id=first).problem.status == Status.RECTIFYING
