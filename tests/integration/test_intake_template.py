"""Intake templates: they open in openpyxl with notes and drop-downs, and round-trip records."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from duban.adapters.intake import (
    HEADERS,
    ReferenceData,
    export_template,
    read_and_validate,
    read_rows,
)
from duban.adapters.intake.template import INLINE_LIST_LIMIT, NOTES_SHEET, OPTIONS_SHEET
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.columns import HOUSEHOLD_COLUMNS, PROBLEM_COLUMNS, VISIT_COLUMNS
from duban.domain.plan import Plan
from duban.synth import generate_for_plan, iter_household_rows, iter_problem_rows, iter_visit_rows

ROOT = Path(__file__).resolve().parents[2]
SEED_000 = ROOT / "plans" / "seed-000-canggou-2020.yaml"


def _lists(ws: Any) -> dict[str, str]:
    """Header text -> list formula of each drop-down on the data sheet."""
    headers = {c.column_letter: c.value for c in ws[1]}
    out: dict[str, str] = {}
    for dv in ws.data_validations.dataValidation:
        if dv.type != "list":
            continue
        for rng in dv.sqref.ranges:
            out[headers[rng.coord.split(":")[0].rstrip("0123456789")]] = dv.formula1
    return out


def test_template_headers_match_domain_columns() -> None:
    assert HEADERS["households"] == HOUSEHOLD_COLUMNS
    assert HEADERS["visits"] == VISIT_COLUMNS
    assert HEADERS["problems"] == PROBLEM_COLUMNS


def test_household_template_has_styled_header_notes_and_dropdowns(tmp_path: Path) -> None:
    path = export_template(
        "households",
        tmp_path / "农户信息模板.xlsx",
        towns=["沧沟乡", "白马镇"],
        villages={"沧沟乡": ["关庙村", "青杠村"], "白马镇": ["白马村"]},
    )
    wb = load_workbook(path)
    assert wb.sheetnames == ["农户信息", NOTES_SHEET]
    ws = wb["农户信息"]
    assert [c.value for c in ws[1]] == list(HOUSEHOLD_COLUMNS)
    assert ws.max_row == 1  # blank: no example rows that could be imported by mistake
    assert ws.freeze_panes == "A2"
    assert all(c.font.b for c in ws[1])
    assert ws.column_dimensions["C"].number_format == "@"  # 户编号 stays text
    lists = _lists(ws)
    assert lists["乡镇"] == '"沧沟乡,白马镇"'
    assert lists["村"] == '"关庙村,青杠村,白马村"'
    assert lists["农户类别"] == '"建档立卡脱贫户,监测对象,一般农户"'
    assert lists["监测对象类型"] == '"脱贫不稳定户,边缘易致贫户,突发严重困难户"'
    assert lists["住房安全等级"] == '"A,B,C,D"'
    for yes_no in ("是否通自来水", "是否参加基本医疗保险", "是否有卫生厕所"):
        assert lists[yes_no] == '"是,否"'
    notes = wb[NOTES_SHEET]
    described = {row[0]: row for row in notes.iter_rows(min_row=2, values_only=True) if row[0]}
    for header in HOUSEHOLD_COLUMNS:
        _, required, fmt, allowed, example, _ = described[header]
        assert required in ("必填", "选填", "条件必填")
        assert fmt and allowed and example is not None
    assert described["户主姓名"][1] == "必填"
    assert described["监测对象类型"][1] == "条件必填"
    assert "A、B、C、D" in described["住房安全等级"][3]


def test_long_lists_go_to_a_hidden_options_sheet(tmp_path: Path) -> None:
    towns = [f"第{i}号街道" for i in range(60)]
    path = export_template(
        "problems",
        tmp_path / "p.xlsx",
        towns=towns,
        sources=["入户排查", "巡视"],
        categories=["住房安全"],
        tiers=["7月底"],
    )
    wb = load_workbook(path)
    assert wb[OPTIONS_SHEET].sheet_state == "hidden"
    ws = wb["问题台账"]
    lists = _lists(ws)
    assert len('"' + ",".join(towns) + '"') > INLINE_LIST_LIMIT
    assert lists["乡镇"] == f"'{OPTIONS_SHEET}'!$A$2:$A$61"
    assert [c.value for c in wb[OPTIONS_SHEET]["A"]][1:] == towns
    assert lists["问题来源"] == '"入户排查,巡视"'
    assert lists["整改时限类型"] == '"7月底"'
    assert "村" not in lists  # no villages given, no drop-down


def test_visit_template_offers_the_three_modes(tmp_path: Path) -> None:
    path = export_template("visits", tmp_path / "v.xlsx")
    ws = load_workbook(path)["走访记录"]
    assert _lists(ws) == {"走访方式": '"面访,电访,代答"'}
    assert ws.column_dimensions["C"].number_format == "yyyy-mm-dd"


def test_blank_template_reads_as_no_data(tmp_path: Path) -> None:
    from duban.adapters.intake import ImportRejected

    path = export_template("households", tmp_path / "blank.xlsx", towns=["沧沟乡"])
    with pytest.raises(ImportRejected, match="没有数据行"):
        read_rows(path, "households")


def _fill(template: Path, rows: Iterable[dict[str, object]], dest: Path) -> Path:
    wb = load_workbook(template)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    for row in rows:
        ws.append([None if row[h] == "" else row[h] for h in headers])
    wb.save(dest)
    return dest


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load_plan_file(SEED_000)


def test_round_trip_of_a_synthetic_township(plan: Plan, tmp_path: Path) -> None:
    county = generate_for_plan(plan, "township", seed=11)
    towns = [t.name for t in plan.towns]
    villages = {t.name: [v.name for v in t.villages] for t in plan.towns}
    refs = ReferenceData.from_plan(plan, date_range=(county.start, county.end))

    h_tpl = export_template("households", tmp_path / "h_tpl.xlsx", towns=towns, villages=villages)
    h_file = _fill(h_tpl, iter_household_rows(county), tmp_path / "h.xlsx")
    households = read_and_validate(h_file, "households", refs)
    assert households.rows == county.households
    assert households.source_rows == list(range(2, len(county.households) + 2))

    refs = refs.with_households(h.household_id for h in households.rows)
    v_tpl = export_template("visits", tmp_path / "v_tpl.xlsx")
    v_file = _fill(v_tpl, iter_visit_rows(county), tmp_path / "v.xlsx")
    visits = read_and_validate(v_file, "visits", refs)
    assert visits.rows == county.visits

    p_tpl = export_template(
        "problems",
        tmp_path / "p_tpl.xlsx",
        towns=towns,
        villages=villages,
        categories=[c.name for c in plan.categories],
        sources=[s.name for s in plan.sources],
        tiers=[t.name for t in plan.deadlines.tiers],
    )
    p_file = _fill(p_tpl, iter_problem_rows(county), tmp_path / "p.xlsx")
    problems = read_and_validate(p_file, "problems", refs)
    assert problems.rows == county.problems


def test_a_campaign_template_shows_that_campaign_s_examples(tmp_path: Path) -> None:
    from duban.adapters.intake import plan_template_options

    plan = load_plan_file(ROOT / "plans" / "seed-003-shaoyun-2022.yaml")
    path = export_template("problems", tmp_path / "问题台账模板.xlsx",
                           **plan_template_options(plan))
    notes = load_workbook(path)[NOTES_SHEET]
    example = {row[0]: row[4] for row in notes.iter_rows(min_row=2, values_only=True) if row[0]}
    town = plan.towns[0]
    assert example["乡镇"] == town.name and example["村"] == town.villages[0].name
    assert example["问题类别"] == plan.categories[0].name
    assert example["问题来源"] == plan.sources[0].name
    assert "沧沟乡" not in example.values() and "王湾村" not in example.values()
