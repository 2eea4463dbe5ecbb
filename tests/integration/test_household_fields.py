"""Plan-defined household facts end to end: template columns, import checks, storage, detection."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import command
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from duban.adapters.intake import ImportRejected, export_template, plan_template_options
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.domain.columns import HOUSEHOLD_COLUMNS
from duban.domain.plan import Plan
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.intake import detect_problems, import_file
from duban.synth import generate_for_plan, household_headers, iter_household_rows
from models import Household, Problem
from tests.conftest import PLANS
from tests.support import alembic_config, insert_old_campaign, write_xlsx

SEED_003 = PLANS / "seed-003-shaoyun-2022.yaml"
SEED_004 = PLANS / "seed-004-anhui-2019.yaml"
SEED_004_LABELS = ["边缘户类型", "帮扶保障措施", "边缘户佐证资料是否齐全", "残疾证办理情况",
                   "慢性病卡办理情况"]


def launch(db: Database, clock: FixedClock, path: Path) -> tuple[int, Plan]:
    plan = load_plan_file(path)
    return db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "county"), plan


def households(db: Database) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(Household)) or 0)


def test_the_template_has_the_plans_columns_with_their_values(tmp_path: Path) -> None:
    plan = load_plan_file(SEED_004)
    path = export_template("households", tmp_path / "农户信息模板.xlsx",
                           **plan_template_options(plan))
    wb = load_workbook(path)
    ws = wb["农户信息"]
    assert [c.value for c in ws[1]] == [*HOUSEHOLD_COLUMNS, *SEED_004_LABELS]
    lists = {str(dv.sqref).split(":")[0]: dv for dv in ws.data_validations.dataValidation}
    first = len(HOUSEHOLD_COLUMNS)
    letters = [chr(ord("A") + first + i) for i in range(len(SEED_004_LABELS))]
    marginal, evidence, disability = (lists[f"{letters[i]}2"] for i in (0, 2, 3))
    assert marginal.formula1 == '"低保户,危房户,重病户,残疾人户,独居老人户,无劳力户"'
    assert marginal.errorStyle == "warning"  # several values may be written, 重病户、残疾人户
    assert (evidence.formula1, evidence.errorStyle) == ('"是,否"', "stop")
    assert disability.formula1 == '"已办理,未办理,不符合办理条件"'
    assert f"{letters[1]}2" not in lists  # 帮扶保障措施 is free text
    notes = [row for row in wb["填写说明"].iter_rows(values_only=True) if row[0] in SEED_004_LABELS]
    assert [r[0] for r in notes] == SEED_004_LABELS
    assert "可填多个，用“、”分隔" in notes[0][3]
    # Without a plan the template keeps the fixed columns only.
    blank = load_workbook(export_template("households", tmp_path / "blank.xlsx"))
    assert [c.value for c in blank["农户信息"][1]] == list(HOUSEHOLD_COLUMNS)


def test_a_value_the_plan_does_not_allow_names_row_column_and_choices(
        db: Database, clock: FixedClock, tmp_path: Path) -> None:
    campaign_id, plan = launch(db, clock, SEED_004)
    county = generate_for_plan(plan, "small", seed=7)
    rows = list(iter_household_rows(county))
    rows[3] = {**rows[3], "残疾证办理情况": "办了"}
    rows[6] = {**rows[6], "边缘户类型": "重病户、五保户"}
    path = write_xlsx(tmp_path / "农户.xlsx", household_headers(county), rows, sheet="农户信息")
    with pytest.raises(ImportRejected) as caught:
        db.run(import_file, clock, campaign_id, "households", path, imported_by="clerk")
    lines = [e.describe() for e in caught.value.report.errors]
    assert lines == [
        "第5行“残疾证办理情况”列（值：办了）："
        "“办了”不是方案规定的“残疾证办理情况”选项（可选：已办理、未办理、不符合办理条件）",
        "第8行“边缘户类型”列（值：重病户、五保户）："
        "“五保户”不是方案规定的“边缘户类型”选项（可选：低保户、危房户、重病户、残疾人户、独居老人户、无劳力户）",
    ]
    assert "本次没有导入任何数据" in caught.value.report.message
    assert households(db) == 0


def test_plan_facts_are_stored_and_a_rule_on_them_puts_the_household_on_the_ledger(
        db: Database, clock: FixedClock, tmp_path: Path) -> None:
    campaign_id, plan = launch(db, clock, SEED_004)
    county = generate_for_plan(plan, "small", seed=7)
    rows = list(iter_household_rows(county))
    target = rows[0]["户编号"]
    marginal = {"边缘户类型": "重病 、无劳力户", "帮扶保障措施": "", "边缘户佐证资料是否齐全": "是",
                "残疾证办理情况": "", "慢性病卡办理情况": ""}
    rows[0] = {**rows[0], **marginal}
    path = write_xlsx(tmp_path / "农户.xlsx", household_headers(county), rows, sheet="农户信息")
    result = db.run(import_file, clock, campaign_id, "households", path, imported_by="clerk")
    assert result.created == len(rows)
    with db.transaction() as s:
        stored = s.scalars(select(Household.facts).where(Household.household_id == target)).one()
    assert stored == {"marginal": ["重病户", "无劳力户"], "evidence": True}
    db.run(detect_problems, clock, campaign_id)
    with db.transaction() as s:
        found = s.execute(select(Problem.category, Problem.description, Problem.found_by,
                                 Problem.detection_rule, Problem.lead_office)
                          .where(Problem.household_id == target)).all()
    assert [tuple(f) for f in found] == [(
        "social_security",
        "无劳力边缘户未落实帮扶保障措施：边缘户类型含无劳力户，帮扶保障措施未填写",
        "系统比对（无劳力边缘户未落实帮扶保障措施）", "no_labour_unsupported", "mzj")]
    # The demo's summary counts what each rule found, by the rule's name.
    from duban.simulation import outcome_rows

    found_by_rule = {label: n for label, n, _ in outcome_rows(db, campaign_id, [])
                     if label.startswith("比对发现")}
    assert found_by_rule["比对发现：无劳力边缘户未落实帮扶保障措施（个）"] >= 1
    assert all(re.fullmatch(r"比对发现：[^a-z_]+（个）", label) for label in found_by_rule)
    # Re-imported with the support recorded, the household's facts change; nothing new fires.
    rows[0] = {**rows[0], "帮扶保障措施": "纳入农村低保"}
    again = db.run(import_file, clock, campaign_id, "households",
                   write_xlsx(tmp_path / "again.xlsx", household_headers(county), rows,
                              sheet="农户信息"),
                   imported_by="clerk")
    assert (again.updated, again.created) == (1, 0)
    with db.transaction() as s:
        assert s.scalars(select(Household.facts).where(Household.household_id == target)
                         ).one()["support"] == "纳入农村低保"


def test_a_seed_003_rule_on_the_toilet_survey(db: Database, clock: FixedClock,
                                              tmp_path: Path) -> None:
    """改厕意愿为愿意 and no sanitary toilet: a 厕所革命 problem; 不愿意: none."""
    campaign_id, plan = launch(db, clock, SEED_003)
    county = generate_for_plan(plan, "small", seed=7)
    rows = [{**r, "粪污处理方式": "三格式化粪池", "厕所使用状况": "正常使用", "改厕意愿": ""}
            for r in iter_household_rows(county)]
    rows[0] = {**rows[0], "是否有卫生厕所": "否", "改厕意愿": "愿意"}
    rows[1] = {**rows[1], "是否有卫生厕所": "否", "改厕意愿": "不愿意"}
    path = write_xlsx(tmp_path / "农户.xlsx", household_headers(county), rows, sheet="农户信息")
    db.run(import_file, clock, campaign_id, "households", path, imported_by="clerk")
    db.run(detect_problems, clock, campaign_id)
    with db.transaction() as s:
        toilet = s.execute(select(Problem.household_id, Problem.description)
                           .where(Problem.category == "toilet")).all()
    assert [tuple(t) for t in toilet] == [
        (rows[0]["户编号"], "农户有改厕意愿但尚未改厕：是否有卫生厕所为否，改厕意愿为愿意")]


# ---- migration 0014 ---------------------------------------------------------------------------


def test_the_migration_gives_existing_households_no_plan_facts(empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), "0013")
    old = Database(empty_url)
    with old.engine.begin() as conn:
        insert_old_campaign(conn, 3)
        conn.execute(text(
            "INSERT INTO household (campaign_id, household_id, town_code, village_code, head,"
            " members, category, monitoring_type, income_per_person, house_grade, tap_water,"
            " school_age_children, children_out_of_school, medical_insurance, sanitary_toilet)"
            " VALUES (3, 'H1', 'shaoyun', 'sy01', '张三', 3, 'ordinary', NULL, 9000, 'A', :t, 0,"
            " 0, :t, :f)"), {"t": True, "f": False})
    command.upgrade(alembic_config(empty_url), "0014")
    with old.transaction() as s:
        h = s.scalars(select(Household)).one()
        assert (h.household_id, h.facts) == ("H1", {})
        h.facts = {"toilet_wish": "愿意", "marginal": ["重病户", "无劳力户"]}
    with old.transaction() as s:
        assert s.scalars(select(Household.facts)).one() == {
            "toilet_wish": "愿意", "marginal": ["重病户", "无劳力户"]}
    command.downgrade(alembic_config(empty_url), "0013")
    with old.engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM household")).keys()
        assert "facts" not in columns and "head" in columns
    old.dispose()


def test_plan_check_lists_the_plans_household_columns_and_its_own_rules() -> None:
    from click.testing import CliRunner

    from duban.cli import cli

    result = CliRunner().invoke(cli, ["plan", "check", str(SEED_003)])
    assert result.exit_code == 0, result.output
    assert ("农户信息另有 5 列：粪污处理方式（选项）、厕所使用状况（选项）、改厕意愿（选项）、"
            "小额信贷到期日（日期）、是否已还清（是/否）；按条件发现问题的规则 4 条：农户有改厕意愿但尚未"
            "改厕、改造户厕损坏或闲置、粪污未经处理直排、贷款到期无法偿还") in result.output


def test_the_cli_template_of_a_campaign_carries_its_household_columns(
        db: Database, clock: FixedClock, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from duban.cli import cli

    campaign_id, _ = launch(db, clock, SEED_003)
    out = tmp_path / "农户信息模板.xlsx"
    result = CliRunner().invoke(cli, obj=db, args=["template", "export", "households",
                                                   "--campaign", str(campaign_id),
                                                   "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    header = [c.value for c in load_workbook(out)["农户信息"][1]]
    assert header == [*HOUSEHOLD_COLUMNS, "粪污处理方式", "厕所使用状况", "改厕意愿",
                      "小额信贷到期日", "是否已还清"]


def test_a_rule_on_a_date_fires_on_loans_due_before_the_check_day(
        db: Database, tmp_path: Path) -> None:
    """Seed 003's 贷款到期无法偿还: 小额信贷到期日 早于 检查日 (the clock's day) 且 是否已还清 为 否."""
    import datetime as dt

    from duban.domain.clock import CHINA_TZ

    clock = FixedClock(dt.datetime(2022, 5, 20, 9, 0, tzinfo=CHINA_TZ))
    campaign_id, plan = launch(db, clock, SEED_003)
    county = generate_for_plan(plan, "small", seed=7)
    rows = [{**r, "小额信贷到期日": "", "是否已还清": ""} for r in iter_household_rows(county)]
    loans = {0: ("2022-05-19", "否"),  # due the day before: fires
             1: ("2022-05-20", "否"),  # due on the check day: not yet overdue
             2: ("2021-12-31", "是"),  # repaid
             3: ("", "否"),  # no date: neither before nor not before
             4: ("2022年3月1日", "否")}  # written the Chinese way: fires
    for i, (due, repaid) in loans.items():
        rows[i] = {**rows[i], "小额信贷到期日": due, "是否已还清": repaid}
    path = write_xlsx(tmp_path / "农户.xlsx", household_headers(county), rows, sheet="农户信息")
    db.run(import_file, clock, campaign_id, "households", path, imported_by="clerk")
    db.run(detect_problems, clock, campaign_id)
    with db.transaction() as s:
        found = s.execute(select(Problem.household_id, Problem.category, Problem.description,
                                 Problem.found_by, Problem.lead_office, Problem.found_on)
                          .where(Problem.detection_rule == "loan_overdue")
                          .order_by(Problem.household_id)).all()
    assert [tuple(f) for f in found] == [
        (rows[i]["户编号"], "credit",
         "贷款到期无法偿还：小额信贷到期日早于检查日（2022年5月20日），是否已还清为否",
         "系统比对（贷款到期无法偿还）", "jfb", dt.date(2022, 5, 20)) for i in (0, 4)]
