"""`duban problem list`: the rows, their order, the filters and the count line (both databases)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from duban.cli import cli
from duban.domain.clock import FixedClock
from duban.domain.errors import DubanError
from duban.services.database import Database
from models import Problem
from tests.orchestration.helpers import add_problems, launch, make_plan


def _list(db: Database, *args: str) -> list[str]:
    result = CliRunner().invoke(cli, ["problem", "list", *args], obj=db, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_problem_list_shows_a_page_by_deadline_then_code(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    later = add_problems(db, clock, cid, 2, deadline=dt.date(2022, 10, 5), tag="甲")
    sooner = add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 30), tag="乙")
    with db.unit_of_work() as uow:
        problems = {p.id: p for p in uow.session.execute(select(
            Problem.id, Problem.code, Problem.category, Problem.town_code, Problem.village_code,
            Problem.lead_office, Problem.deadline))}
    expected = [problems[i] for i in sooner + sorted(later, key=lambda i: problems[i].code)]

    plan = make_plan()  # the plan launched: names, never codes
    category = {c.code: c.name for c in plan.categories}
    town = {t.code: t.name for t in plan.towns}
    village = {v.code: v.name for t in plan.towns for v in t.villages}
    office = {o.code: o.name for o in plan.offices}

    lines = _list(db, "--campaign", str(cid))
    assert lines[0].split() == ["编号", "状态", "类别", "乡镇", "村", "牵头办室", "时限", "描述"]
    rows = [line.split() for line in lines[2:-1]]
    assert [row[:7] for row in rows] == [
        [p.code, "已交办", category[p.category], town[p.town_code], village[p.village_code],
         office[p.lead_office], str(p.deadline)] for p in expected]
    assert lines[-1] == "共 3 条，显示 3 条"

    assert _list(db, "--campaign", str(cid), "--limit", "2")[-1] == "共 3 条，显示 2 条"
    searched = _list(db, "--campaign", str(cid), "--search", "乙问题")
    assert searched[2].split()[0] == problems[sooner[0]].code and searched[-1] == "共 1 条，显示 1 条"
    lead = problems[sooner[0]].lead_office
    assert lead is not None
    assert _list(db, "--campaign", str(cid), "--office", lead)[-1] == "共 3 条，显示 3 条"
    # --now may follow the command (deploy/README writes `duban tick --now …`).
    assert _list(db, "--campaign", str(cid), "--overdue", "--now", "2022-10-01T09:00")[-1] == \
        "共 1 条，显示 1 条"
    assert _list(db, "--campaign", str(cid), "--overdue", "--now=2022-10-06")[-1] == \
        "共 3 条，显示 3 条"
    # --json gives scripts the codes; what a person reads names them (above).
    listed = json.loads("\n".join(_list(db, "--campaign", str(cid), "--json")))
    assert listed["total"] == 3
    assert [(i["code"], i["category"], i["town_code"], i["deadline"]) for i in listed["items"]] == [
        (p.code, p.category, p.town_code, str(p.deadline)) for p in expected]
    shown = CliRunner().invoke(cli, ["problem", "show", expected[0].code, "--campaign", str(cid),
                                     "--json"], obj=db)
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.output)
    assert (detail["code"], detail["lead_office"], detail["town"]) == (
        expected[0].code, expected[0].lead_office, expected[0].town_code)
    # Filters take names (with or without the place's ending) as well as codes.
    assert _list(db, "--campaign", str(cid), "--office", office[lead])[-1] == "共 3 条，显示 3 条"
    first_town = problems[sooner[0]].town_code
    assert _list(db, "--town", town[first_town])[-1] == _list(db, "--town", first_town)[-1]
    assert _list(db, "--campaign", str(cid), "--unrouted")[-1] == "共 0 条，显示 0 条"
    # An unknown office or campaign is an error, not an empty list.
    refused = _refused(db, "--campaign", str(cid), "--office", office[lead] + "甲")
    assert refused == f"--office：没有名为“{office[lead]}甲”的办室，是否为「{office[lead]}」？"
    assert _refused(db, "--campaign", str(cid + 1)) == f"行动不存在：编号 {cid + 1}"


def _refused(db: Database, *args: str) -> str:
    result = CliRunner().invoke(cli, ["problem", "list", *args], obj=db)
    assert result.exit_code != 0 and isinstance(result.exception, DubanError), result.output
    return result.exception.message


def test_template_export_takes_the_campaign_or_says_which_exist(
        db: Database, clock: FixedClock, tmp_path: Path) -> None:
    first = launch(db, clock)
    out = tmp_path / "台账.xlsx"
    one = CliRunner().invoke(cli, ["template", "export", "problems", "--out", str(out)], obj=db)
    assert one.exit_code == 0 and f"选项取自行动 {first}" in one.output, one.output
    other = dataclasses.replace(make_plan(), name="另一行动", document_number="另发〔2022〕1号")
    second = launch(db, clock, other)
    several = CliRunner().invoke(cli, ["template", "export", "problems", "--out", str(out)],
                                 obj=db)
    assert isinstance(several.exception, DubanError)
    assert several.exception.message.endswith(f"{second} 另一行动；{first} {make_plan().name}")
