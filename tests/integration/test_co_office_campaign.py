"""A co-office row carries its problem's campaign (migration 0027), so an office's co-routed
problems are read one campaign at a time: every writer keeps it, and another campaign's
rows of the same office code change nothing in this one's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from sqlalchemy import func, select, text

from duban.adapters.plan.yaml_file import load_plan_text
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, Payload, Role
from duban.services import moves
from duban.services.actors import add_user
from duban.services.amendments import apply_amendment
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.delegation import reassign_bulk
from duban.services.problems import record_problems
from duban.services.scoping import office_shape
from models import Problem, ProblemCoOffice
from tests.support import alembic_config, insert_old_campaign

BASE = Path(__file__).resolve().parents[1] / "data" / "plans" / "amend-base.yaml"
HOUSING = "  - {categories: [住房安全], office: 乡建环办, co_offices: [各村]}"
TODAY = FixedClock(dt.datetime(2022, 6, 8, 9, 0, tzinfo=CHINA_TZ))


def _plan(housing_co: str = "各村", number: int = 5) -> str:
    plan = BASE.read_text("utf-8")
    assert HOUSING in plan and "测试发〔2022〕5号" in plan
    return plan.replace(HOUSING, f"  - {{categories: [住房安全], office: 乡建环办, "
                                 f"co_offices: [{housing_co}]}}").replace(
        "测试发〔2022〕5号", f"测试发〔2022〕{number}号")


def _campaign(db: Database, number: int, housing_co: str = "各村") -> int:
    """A campaign of the same plan (the same office codes) under its own 文号: housing
    problems in 一村 and 二村 led by 乡建环办, a monitoring problem in 三村 led by 乡扶贫办,
    each co-routed to its village (or housing's to `housing_co`)."""
    plan = _plan(housing_co, number)
    cid = db.run(launch_campaign, TODAY, load_plan_text(plan), plan, "county")
    db.run(record_problems, TODAY, cid, [
        ReportedProblem(source="visit", category=category, town="测试乡", village=village,
                        household_id=key, description=f"{key} 的问题", found_by="王村干",
                        found_on=dt.date(2022, 6, 7))
        for category, village, key in (("housing", "一村", "H1"), ("housing", "二村", "H2"),
                                       ("monitoring", "三村", "H3"))], recorded_by="county")
    return cid


def _mismatched(db: Database) -> int:
    """Co-office rows whose campaign is not their problem's."""
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(ProblemCoOffice)
                            .join(Problem, Problem.id == ProblemCoOffice.problem_id)
                            .where(ProblemCoOffice.campaign_id != Problem.campaign_id)) or 0)


def _co_rows(db: Database, campaign_id: int) -> set[tuple[str, str]]:
    with db.transaction() as s:
        return set(s.execute(select(Problem.code, ProblemCoOffice.office_code)
                             .join(Problem, Problem.id == ProblemCoOffice.problem_id)
                             .where(ProblemCoOffice.campaign_id == campaign_id)).tuples())


def test_every_writer_gives_a_co_office_its_problems_campaign(db: Database) -> None:
    db.run(add_user, TODAY, username="county", name="县级李四", role=Role.COUNTY)
    first, second = _campaign(db, 5), _campaign(db, 6)
    routed = {("W000001", "village:一村"), ("W000002", "village:二村"),
              ("W000003", "village:三村")}
    # Recording routes them (the bulk writer's COPY on PostgreSQL).
    assert _co_rows(db, first) == _co_rows(db, second) == routed
    # A county's 改派 naming co-offices (the move's applier).
    db.run(moves.apply, TODAY, "county", "W000003", Action.REASSIGN,
           Payload(note="改由乡建环办牵头", office="jhb", co_offices=("fpb",)),
           campaign_id=second)
    # A plan amendment that changes the housing problems' co-offices.
    plan = _plan("乡扶贫办", 6)
    db.run(apply_amendment, TODAY, second, load_plan_text(plan), plan, username="county",
           note="住房问题由扶贫办协办", expect_version=1)
    # A co-office replaced everywhere it is open (改派 of a co-office).
    result = db.run(reassign_bulk, TODAY, second, "fpb", "lgo", "county", "机构调整")
    assert result.co_office_moved == 3
    assert _co_rows(db, second) == {("W000001", "lgo"), ("W000002", "lgo"),
                                    ("W000003", "lgo")}
    assert _co_rows(db, first) == routed  # the other campaign's rows, untouched
    assert _mismatched(db) == 0


def test_an_office_co_routed_only_in_another_campaign_is_listed_by_its_lead(
        db: Database) -> None:
    # The first campaign co-routes its housing problems to 乡扶贫办; the second to the
    # villages only. In the second, 乡扶贫办 is nobody's co-office: its ledger is a plain
    # condition on the lead office, whatever the other campaign holds.
    db.run(add_user, TODAY, username="county", name="县级李四", role=Role.COUNTY)
    first, second = _campaign(db, 5, "乡扶贫办"), _campaign(db, 6)
    with db.transaction() as s:
        assert office_shape(s, first, ["fpb"]) == "gather"
        assert office_shape(s, second, ["fpb"]) == "lead"


def test_the_migration_copies_each_co_office_rows_campaign(
        empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), "0026")
    old = Database(empty_url)
    with old.engine.begin() as conn:
        for cid in (3, 4):
            insert_old_campaign(conn, cid)
            conn.execute(text(
                "INSERT INTO problem (id, campaign_id, code, natural_key, source, category, "
                "town_code, description, found_by, found_on, status, reopen_count, created_at, "
                "updated_at, version, deadline_cycle) VALUES (:c * 10, :c, 'W000001', 'k', "
                "'visit', 'housing', 'shaoyun', '问题', '王村干', '2022-05-02', 'routed', 0, "
                "'2022-05-02 01:00:00', '2022-05-02 01:00:00', 1, 0)"), {"c": cid})
            conn.execute(text("INSERT INTO problem_co_office (problem_id, office_code) "
                              "VALUES (:p, 'fpb'), (:p, 'village:一村')"), {"p": cid * 10})
    command.upgrade(alembic_config(empty_url), "0027")
    with old.engine.connect() as conn:
        assert set(conn.execute(text(
            "SELECT problem_id, office_code, campaign_id FROM problem_co_office")).tuples()) == {
            (30, "fpb", 3), (30, "village:一村", 3), (40, "fpb", 4), (40, "village:一村", 4)}
    assert _mismatched(old) == 0
    command.downgrade(alembic_config(empty_url), "0026")
    with old.engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM problem_co_office")).keys()
        assert "campaign_id" not in columns and "office_code" in columns
    old.dispose()
