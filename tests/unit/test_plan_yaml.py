"""The YAML adapter: syntax errors with lines, YAML 1.1 traps, scope tables (CSV and .xlsx)."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import openpyxl
import pytest

from duban.adapters.plan.yaml_file import load_plan_file, load_plan_text
from duban.domain.plan_check import PlanError, PlanInvalid

PLAN = textwrap.dedent(
    """\
    name: 测试乡整改行动
    issuer: 测试乡人民政府
    notice_prefix: 测试督
    county_office: lgo
    stages:
      - {kind: 排查, start: 2020-06-15, end: 2020-06-28}
      - {kind: 整改, start: 2020-06-29, end: 2020-07-12}
    {towns}
    offices:
      - {code: lgo, name: 领导小组办公室, level: county}
      - {code: fpb, name: 乡扶贫办, level: town, town: 甲乡}
    categories:
      - {code: housing, name: 住房安全}
    sources:
      - {code: visit, name: 入户排查}
    routing:
      - office: 乡扶贫办
        co_offices: [各村]
    reports:
      daily_at: 17:30
    """
)
INLINE_TOWNS = "towns:\n  - {code: t1, name: 甲乡, villages: [一村, 二村]}"


def plan_text(towns: str = INLINE_TOWNS) -> str:
    return PLAN.replace("{towns}", towns)


def invalid(text: str, base_dir: Path | None = None) -> list[PlanError]:
    with pytest.raises(PlanInvalid) as caught:
        load_plan_text(text, base_dir=base_dir)
    return list(caught.value.errors)


def test_valid_text_loads() -> None:
    plan = load_plan_text(plan_text())
    assert plan.towns[0].villages[1].name == "二村"
    assert plan.offices[1].town == "t1"


def test_unquoted_clock_time_is_not_a_base_60_number() -> None:
    # Plain PyYAML reads 17:30 as the integer 1050 (YAML 1.1 sexagesimal).
    assert load_plan_text(plan_text()).reports.daily_at == dt.time(17, 30)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("name: 甲\nstages: [1, 2\nissuer: 乙\n", 3, "方括号"),
        ("name: 甲\n  issuer: 乙: 丙\n", 2, "此处不能出现"),
        ("name: 甲\n\tissuer: 乙\n", 2, "制表符"),
        ("name: '甲\n", 2, "引号没有闭合"),
    ],
)
def test_yaml_syntax_errors_name_the_line_in_chinese(text: str, line: int, words: str) -> None:
    errors = invalid(text)
    assert len(errors) == 1
    assert errors[0].line == line, str(errors[0])
    assert words in errors[0].message
    assert str(errors[0]).startswith(f"第{line}行")


@pytest.mark.parametrize(
    ("text", "words"),
    [("- 甲\n- 乙\n", "实际是列表"), ("仅一行文字\n", "实际是“仅一行文字”"), ("", "空的")],
)
def test_non_mapping_or_empty_file(text: str, words: str) -> None:
    errors = invalid(text)
    assert len(errors) == 1 and errors[0].line == 1
    assert words in errors[0].message


def test_validation_errors_carry_yaml_lines() -> None:
    text = plan_text().replace("office: 乡扶贫办", "office: 乡建环办")
    line = next(n for n, s in enumerate(text.splitlines(), 1) if "乡建环办" in s)
    (error,) = invalid(text)
    assert (error.path, error.line) == ("routing[0].office", line)
    assert str(error) == f"第{line}行 routing[0].office 未定义: 乡建环办"


def test_missing_key_points_at_the_enclosing_item() -> None:
    text = plan_text().replace("  - {code: visit, name: 入户排查}", "  - {code: visit}")
    line = next(n for n, s in enumerate(text.splitlines(), 1) if "{code: visit}" in s)
    (error,) = invalid(text)
    assert (error.path, error.line) == ("sources[0].name", line)


def test_a_key_written_twice_is_reported() -> None:
    text = plan_text() + "name: 另一个名称\n"
    (error,) = invalid(text)
    assert error.path == "name" and "字段重复" in error.message
    assert error.line == len(text.splitlines())


# ---------------------------------------------------------------------------------------------
# Scope tables


def write_csv(path: Path, rows: list[str], encoding: str = "utf-8") -> None:
    path.write_text("\n".join(rows) + "\n", encoding=encoding)


def test_scope_csv_relative_to_the_plan_file(tmp_path: Path) -> None:
    write_csv(tmp_path / "towns.csv", ["乡镇,村", "甲乡,一村", "甲乡,二村", "乙乡,三村"])
    (tmp_path / "plan.yaml").write_text(plan_text("scope: {file: towns.csv}"), encoding="utf-8")
    plan = load_plan_file(tmp_path / "plan.yaml")
    assert [t.name for t in plan.towns] == ["甲乡", "乙乡"]
    assert [v.name for v in plan.towns[0].villages] == ["一村", "二村"]
    assert plan.towns[0].code == "甲乡"  # no code column: the name is the code
    assert plan.offices[1].town == "甲乡"


def test_scope_csv_with_codes_and_gbk_encoding(tmp_path: Path) -> None:
    rows = ["乡镇代码,乡镇,村代码,村,户数", "t1,甲乡,v1,一村,120", "t1,甲乡,v2,二村,80"]
    write_csv(tmp_path / "towns.csv", rows, encoding="gbk")  # Excel's CSV on Chinese Windows
    plan = load_plan_text(plan_text("scope: towns.csv"), base_dir=tmp_path)
    assert plan.towns[0].code == "t1"
    assert [(v.code, v.name) for v in plan.towns[0].villages] == [("v1", "一村"), ("v2", "二村")]


def test_scope_row_errors_name_the_row(tmp_path: Path) -> None:
    rows = [
        "乡镇,乡镇代码,村",
        "甲乡,t1,一村",
        "甲乡,t1,",  # row 3: no village
        ",,四村",  # row 4: no town
        "甲乡,t1,一村",  # row 5: repeated village
        "乙乡,t1,五村",  # row 6: town code already used
        "甲乡,t9,六村",  # row 7: town code differs from row 2
    ]
    write_csv(tmp_path / "towns.csv", rows)
    errors = invalid(plan_text("scope: {file: towns.csv}"), base_dir=tmp_path)
    assert [(e.path, e.message) for e in errors] == [
        ("towns.csv 第3行", "村 为空"),
        ("towns.csv 第4行", "乡镇 为空"),
        ("towns.csv 第5行", "村重复：一村（第2行已有）"),
        ("towns.csv 第6行", "乡镇代码 t1 已用于 甲乡"),
        ("towns.csv 第7行", "乡镇 甲乡 的代码前后不一：t1 与 t9"),
    ]


def test_scope_missing_column_and_missing_file(tmp_path: Path) -> None:
    write_csv(tmp_path / "towns.csv", ["乡镇,行政村", "甲乡,一村"])
    (error,) = [e for e in invalid(plan_text("scope: towns.csv"), tmp_path) if "csv" in e.path]
    assert error.path == "towns.csv 第1行" and "缺少“村”列" in error.message
    errors = invalid(plan_text("scope: nowhere.csv"), tmp_path)
    assert errors[0].path == "scope.file" and "找不到文件" in errors[0].message
    assert errors[0].line is not None  # the scope line in the YAML


def test_scope_and_towns_together_is_an_error(tmp_path: Path) -> None:
    text = plan_text(INLINE_TOWNS + "\nscope: towns.csv")
    errors = invalid(text, tmp_path)
    assert [(e.path, e.message) for e in errors] == [("scope", "scope 与 towns 只能写一个")]


def test_scope_xlsx(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "名单"
    sheet.append(["乡镇", "村", "村代码"])
    sheet.append(["甲乡", "一村", 1])  # a numeric code cell arrives as 1.0
    sheet.append(["甲乡", "二村", 2])
    sheet.append([None, None, None])
    sheet.append(["甲乡", None, 3])  # row 5
    book.save(tmp_path / "towns.xlsx")
    text = plan_text("scope: {file: towns.xlsx, sheet: 名单}")
    errors = invalid(text, tmp_path)
    assert [(e.path, e.message) for e in errors] == [("towns.xlsx 第5行", "村 为空")]
    sheet.delete_rows(5)
    book.save(tmp_path / "towns.xlsx")
    plan = load_plan_text(text, base_dir=tmp_path)
    assert [(v.code, v.name) for v in plan.towns[0].villages] == [("1", "一村"), ("2", "二村")]


def test_plan_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(PlanInvalid) as caught:
        load_plan_file(tmp_path / "missing.yaml")
    assert "找不到方案文件" in caught.value.message
