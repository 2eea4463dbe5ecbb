"""Where a person sees a household, the facts its plan defines show under their Chinese labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from httpx import Response
from openpyxl import Workbook
from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file
from duban.cli import cli
from duban.domain.clock import FixedClock
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.intake import detect_problems, import_file
from duban.services.root import Root
from duban.synth import generate_for_plan, household_headers, iter_household_rows
from duban.web.app import create_app
from models import Problem
from tests.conftest import PLANS
from tests.web.conftest import SECRET, login, password_hash

SEED_004 = PLANS / "seed-004-anhui-2019.yaml"


@pytest.fixture
def detected(db: Database, clock: FixedClock, tmp_path: Path) -> tuple[int, str]:
    """Seed 004 launched, a register whose first household is a 无劳力 边缘户 with no 帮扶;
    returns the problem detection raised for it, and its household id."""
    plan = load_plan_file(SEED_004)
    cid = db.run(launch_campaign, clock, plan, SEED_004.read_text(encoding="utf-8"), "county")
    db.run(add_user, clock, username="zhb_chief", name="指挥部刘主任", role=Role.COUNTY,
           office="zhb", password_hash=password_hash())
    county = generate_for_plan(plan, "small", seed=7)
    rows = list(iter_household_rows(county))
    rows[0] = {**rows[0], "边缘户类型": "重病户、无劳力户", "帮扶保障措施": "",
               "边缘户佐证资料是否齐全": "是", "残疾证办理情况": "", "慢性病卡办理情况": ""}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("农户信息")
    headers = household_headers(county)
    ws.append(list(headers))
    for row in rows:
        ws.append([row.get(h) for h in headers])
    wb.save(tmp_path / "农户.xlsx")
    db.run(import_file, clock, cid, "households", tmp_path / "农户.xlsx", imported_by="county")
    db.run(detect_problems, clock, cid)
    hid = str(rows[0]["户编号"])
    with db.transaction() as s:
        pid = s.scalars(select(Problem.id).where(Problem.household_id == hid,
                                                 Problem.category == "social_security")).one()
    return pid, hid


def chief_gets(db: Database, clock: FixedClock, url: str) -> Response:
    """The answer to a GET of the 综合办 chief, signed in."""
    app = create_app(Root(db=db, clock=clock), secret_key=SECRET, cache_seconds=0)
    with TestClient(app, base_url="http://testserver") as client:
        login(client, "zhb_chief")
        return client.get(url)


@pytest.mark.usefixtures("data_dir")
def test_the_problem_page_shows_the_households_plan_facts_and_the_rule_in_chinese(
        db: Database, clock: FixedClock, detected: tuple[int, str]) -> None:
    page = chief_gets(db, clock, f"/problems/{detected[0]}").text
    text = re.sub(r"<[^>]+>", " ", page)
    text = re.sub(r"\s+", " ", text)
    assert "边缘户类型 重病户、无劳力户" in text
    assert "边缘户佐证资料是否齐全 是" in text
    assert ("比对规则 无劳力边缘户未落实帮扶保障措施 （边缘户类型：重病户、无劳力户；帮扶保障措施：未填写）"
            in text)
    # The deadline's basis names the source (入户专班排查), as every other line does.
    assert "事不过夜：1个工作日（入户专班排查问题）" in text
    # Keys of the plan's fields, its rule, category and source are never shown.
    for code in ("marginal", "support", "no_labour_unsupported", "social_security", "team"):
        assert not re.search(rf"(?<![\w-]){code}(?![\w-])", text), code


def test_problem_show_lists_the_households_plan_facts(db: Database,
                                                      detected: tuple[int, str]) -> None:
    with db.transaction() as s:
        code = s.scalars(select(Problem.code).where(Problem.id == detected[0])).one()
    result = CliRunner().invoke(cli, obj=db, args=["--now", "2022-09-27T10:00", "problem", "show",
                                                   code])
    assert result.exit_code == 0, (result.output, result.exception)
    lines = [re.sub(r"\s+", " ", line).strip() for line in result.output.splitlines()]
    assert "边缘户类型 重病户、无劳力户" in lines
    assert "边缘户佐证资料是否齐全 是" in lines
    assert any(line.startswith("户主 ") and "户）" in line for line in lines), lines


@pytest.mark.usefixtures("data_dir")
def test_the_ledger_export_carries_the_households_plan_facts(
        db: Database, clock: FixedClock, detected: tuple[int, str]) -> None:
    import io

    from openpyxl import load_workbook

    export = chief_gets(db, clock, "/ledger.xlsx")
    assert export.status_code == 200, export.text[:300]
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    headers = list(rows[1])
    assert headers[-5:] == ["边缘户类型", "帮扶保障措施", "边缘户佐证资料是否齐全", "残疾证办理情况",
                            "慢性病卡办理情况"]
    mine = [r for r in rows[2:] if r[headers.index("户编号")] == detected[1]]
    assert mine and all(r[-5:] == ("重病户、无劳力户", None, "是", None, None) for r in mine), mine


@pytest.mark.usefixtures("data_dir")
def test_the_api_gives_the_households_plan_facts_as_the_page_does(
        db: Database, clock: FixedClock, detected: tuple[int, str]) -> None:
    detail = chief_gets(db, clock, f"/api/problems/{detected[0]}").json()
    household = detail["household"]
    assert household["household_id"] == detected[1]
    assert household["head"] and household["members"] >= 1 and household["category_label"]
    facts = {f["label"]: f["value"] for f in household["facts"]}
    assert facts["边缘户类型"] == "重病户、无劳力户"
    assert facts["边缘户佐证资料是否齐全"] == "是"
