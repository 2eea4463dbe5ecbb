"""A ledger written with clerks' everyday words imports against a plan that lists them as
aliases; an unknown word is refused with the closest choices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from duban.adapters.intake import HEADERS, ImportRejected, ReferenceData, read_and_validate
from duban.adapters.plan.yaml_file import load_plan_file
from tests.support import write_xlsx

SEED_000 = Path(__file__).parents[2] / "plans" / "seed-000-canggou-2020.yaml"
EVERYDAY = ("住房", "饮水", "教育", "医疗保险", "就业", "产业", "兜底保障", "数据质量")


def _ledger(path: Path, categories: tuple[str, ...], town: str = "沧沟", village: str = "关庙",
            source: str = "大走访") -> Path:
    headers = list(HEADERS["problems"])
    rows = [{"问题来源": source, "问题类别": c, "乡镇": town, "村": village, "问题描述": f"{c}问题",
             "排查人": "刘干部", "排查日期": dt.date(2020, 6, 10)} for c in categories]
    return write_xlsx(path, headers, rows)


def test_everyday_names_import_as_the_plan_codes(tmp_path: Path) -> None:
    plan = load_plan_file(SEED_000)
    refs = ReferenceData.from_plan(plan)
    result = read_and_validate(_ledger(tmp_path / "台账.xlsx", EVERYDAY), "problems", refs)
    assert [r.category for r in result.rows] == [
        "housing", "water", "education", "medical", "employment", "industry", "assistance",
        "data"]
    assert {(r.source, r.town, r.village) for r in result.rows} == {
        ("visit", "canggou", "guanmiao")}


def test_an_unknown_word_names_the_closest_choice_and_the_template(tmp_path: Path) -> None:
    plan = load_plan_file(SEED_000)
    refs = ReferenceData.from_plan(plan)
    path = _ledger(tmp_path / "台账.xlsx", ("住房安全保障", "氢能源"), village="关庙组")
    with pytest.raises(ImportRejected) as exc:
        read_and_validate(path, "problems", refs)
    reasons = {(e.value, e.reason) for e in exc.value.report.errors}
    assert ("住房安全保障", "不是方案中的问题类别，是否为「住房安全」？"
            "全部可选值见导入模板的下拉列表和“填写说明”页") in reasons
    other = next(r for v, r in reasons if v == "氢能源")
    assert other.startswith("不是方案中的问题类别（可选：两不愁及收入、")
    assert "导入模板的下拉列表" in other
    village = next(r for v, r in reasons if v == "关庙组")
    assert village == "乡镇“沧沟乡”没有名为“关庙组”的村，是否为「关庙村」？"


def test_a_pasted_page_is_not_echoed_whole(tmp_path: Path) -> None:
    plan = load_plan_file(SEED_000)
    refs = ReferenceData.from_plan(plan)
    path = _ledger(tmp_path / "台账.xlsx", ("住房",), village="村" * 100_000)
    with pytest.raises(ImportRejected) as exc:
        read_and_validate(path, "problems", refs)
    assert len(str(exc.value)) < 400
    assert all(len(e.reason) < 200 for e in exc.value.report.errors)


def test_a_formula_without_a_value_is_named_as_such(tmp_path: Path) -> None:
    from openpyxl import Workbook

    plan = load_plan_file(SEED_000)
    refs = ReferenceData.from_plan(plan)
    headers = list(HEADERS["problems"])
    wb = Workbook()  # openpyxl writes formulas without their computed values, as programs do
    ws = wb.active
    assert ws is not None
    ws.title = "问题台账"  # a Chinese sheet name is written as character references
    ws.append(headers)
    row = {"问题来源": "大走访", "问题类别": "住房", "乡镇": "沧沟乡", "村": "关庙村",
           "问题描述": "=B2&\"问题\"", "排查人": "刘干部", "排查日期": dt.date(2020, 6, 10)}
    ws.append([row.get(h) for h in headers])
    ws.append([{**row, "问题描述": ""}.get(h) for h in headers])
    path = tmp_path / "公式.xlsx"
    wb.save(path)
    with pytest.raises(ImportRejected) as exc:
        read_and_validate(path, "problems", refs)
    reasons = {e.row: e.reason for e in exc.value.report.errors}
    assert reasons[2].startswith("这一格是公式，文件里没有它的计算结果")
    assert reasons[3] == "必填，不能为空"
