"""The column-at-a-time paths of validation and the bulk writer give what the cell-by-cell
paths give: the same values, and the same row-and-field message for a bad cell."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from duban.adapters.intake.errors import ImportRejected
from duban.adapters.intake.normalize import code_text, parse_money
from duban.adapters.intake.reader import SheetData
from duban.adapters.intake.spec import SPECS
from duban.adapters.intake.validate import (
    ColumnRows,
    ReferenceData,
    _codes_or_blank,
    _plain_codes,
    _plain_texts,
    _whole_money,
    validate_households,
)
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.household import HouseholdCategory, HouseholdFacts
from duban.services.bulk import _converted
from duban.services.database import Database
from duban.services.intake import REGISTER_KEY_INDEX
from tests.conftest import PLANS

PLAN = next(PLANS.glob("seed-002*.yaml"))


@pytest.mark.parametrize("values", [
    ("610231-0001-0001", "610231-0001-0002"),
    ("A1", "b_2", "x.y"),
])
def test_plain_codes_are_what_code_text_keeps(values: tuple[str, ...]) -> None:
    assert _plain_codes(values)
    assert [code_text(v) for v in values] == list(values)


@pytest.mark.parametrize("values", [
    ("610231-0001-0001", " 610231-0001-0002"),  # an edge space to strip
    ("4.1E+17",),  # scientific notation: refused cell by cell
    ("６１０２３１",),  # full-width digits to fold
    ("a b",),  # an inner space to remove
    ("ok", ""),  # a blank cell: required
    ("ok", 610231.0),  # a number
    ("ok\nx",),  # a line break would pass the joined text's count
    ("x" * 65,),  # too long
])
def test_anything_code_text_would_change_takes_the_cell_path(values: tuple[Any, ...]) -> None:
    assert not _plain_codes(values)


def test_optional_codes_turn_blank_cells_to_none() -> None:
    assert _codes_or_blank(("A-1", None, "", "B-2")) == ["A-1", None, None, "B-2"]
    assert _codes_or_blank((None, "")) == [None, None]
    assert _codes_or_blank(("A-1", " B")) is None


def test_plain_texts() -> None:
    assert _plain_texts(("房屋漏雨", "未通自来水"))
    assert not _plain_texts(("房屋漏雨 ",))
    assert not _plain_texts(("房屋漏雨", ""))
    assert not _plain_texts(("房屋漏雨", 3.0))


@pytest.mark.parametrize("values", [
    (18046.0, 0.0, 6900),
    (10_000_000.0,),
])
def test_whole_money_is_parse_money(values: tuple[Any, ...]) -> None:
    assert _whole_money(values) == [parse_money(v) for v in values]


@pytest.mark.parametrize("values", [
    (6900.5,),  # rounded half up, cell by cell
    (-1.0,),  # refused with its message, cell by cell
    (10_000_001.0,),
    (float("nan"),),
    (True, 1.0),
    ("6900",),
])
def test_whole_money_leaves_other_cells_to_the_cell_path(values: tuple[Any, ...]) -> None:
    assert _whole_money(values) is None


def test_column_rows_build_records_only_when_asked_for() -> None:
    made: list[str] = []

    def make(hid: str, n: int) -> tuple[str, int]:
        made.append(hid)
        return hid, n

    rows = ColumnRows(make, (["a", "b", "c"], [1, 2, 3]))
    assert len(rows) == 3 and made == []
    assert rows[1] == ("b", 2) and rows[-1] == ("c", 3)
    assert rows[:2] == [("a", 1), ("b", 2)]
    assert rows == [("a", 1), ("b", 2), ("c", 3)]
    assert rows != [("a", 1)]
    facts = ColumnRows(HouseholdFacts, [[v] for v in (
        "H1", "t", "v", "张三", 3, HouseholdCategory.ORDINARY, None, 9000, "A", True, 0, 0, True,
        True, {})])
    assert list(facts) == [HouseholdFacts("H1", "t", "v", "张三", 3, HouseholdCategory.ORDINARY,
                                          None, 9000, "A", True, 0, 0, True, True, {})]


def test_converted_columns_match_a_call_per_value() -> None:
    day = dt.date(2022, 9, 20)
    shared: list[str] = []
    for column in [
        (day, day, None, dt.date(2022, 9, 21)),
        ({"rule": "a"}, {"rule": "a"}, shared, shared, None),  # unhashable: by identity
        (1, True, 1.0, 0, False),  # equal keys of different types: a call per value
    ]:
        assert list(_converted(json.dumps if not isinstance(column[0], dt.date) else str,
                               column)) == [
            (json.dumps if not isinstance(column[0], dt.date) else str)(v) for v in column]


def _register(rows: list[tuple[Any, ...]]) -> SheetData:
    specs = SPECS["households"]
    columns = {spec.header: i for i, spec in enumerate(specs)}
    return SheetData(kind="households", source=Path("农户信息.xlsx"), file_format="xlsx",
                     sheet="Sheet1", header_row=1, columns=columns,
                     headers_in_file={h: h for h in columns}, rows=rows,
                     row_numbers=list(range(2, len(rows) + 2)))


def _household(hid: object, income: object) -> tuple[Any, ...]:
    return ("城关镇", "东关村", hid, "张三", 3.0, "一般农户", "", income, "A", "是", 1.0, 0.0,
            "是", "是")


def test_a_register_checked_by_columns_gives_the_cell_paths_records_and_messages() -> None:
    plan = load_plan_file(PLAN)
    refs = ReferenceData.from_plan(plan)
    town = plan.towns[0]
    village = town.villages[0]

    def row(hid: object, income: object) -> tuple[Any, ...]:
        return (town.name, village.name, *_household(hid, income)[2:])

    plain = [row("610231-0001-0001", 18046.0), row("610231-0001-0002", 6900.0)]
    messy = [row(" 610231-0001-0001", 18046.0), row("610231-0001-0002", 6899.5)]
    fast = validate_households(_register(plain), refs).rows
    slow = validate_households(_register(messy), refs).rows
    assert isinstance(fast, ColumnRows)
    assert [(h.household_id, h.income_per_person) for h in fast] == [
        ("610231-0001-0001", 18046), ("610231-0001-0002", 6900)]
    assert list(fast) == list(slow)  # 6899.5 rounds half up to 6900, the space is stripped
    with pytest.raises(ImportRejected) as rejected:
        validate_households(_register([row("610231-0001-0001", 18046.0),
                                       row("610231-0001-0001", -5.0)]), refs)
    errors = {(e.row, e.column, e.reason) for e in rejected.value.report.errors}
    assert (3, "户编号", "户编号重复（与第2行相同）") in errors
    assert (3, "年人均纯收入（元）", "收入不能为负数") in errors


def test_the_sqlite_register_lookup_names_households_unique_key_index(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'register.sqlite3'}")
    db.migrate()
    with db.engine.connect() as conn:
        columns = [r[2] for r in conn.exec_driver_sql(f"PRAGMA index_info({REGISTER_KEY_INDEX})")]
        unique = {r[1]: r[2] for r in conn.exec_driver_sql("PRAGMA index_list(household)")}
    assert columns == ["campaign_id", "household_id"]
    assert unique[REGISTER_KEY_INDEX] == 1


def _one_by_one(rows: list[tuple[Any, ...]], refs: ReferenceData) -> list[object]:
    """Each row validated alone: its record, or its errors' (field, value, reason)."""
    out: list[object] = []
    for one in rows:
        try:
            out.append(list(validate_households(_register([one]), refs).rows))
        except ImportRejected as rejected:
            out.append({(e.column, e.value, e.reason) for e in rejected.report.errors})
    return out


def test_true_beside_one_in_a_cached_column_converts_each_cell_alike() -> None:
    # 1, 1.0 and TRUE are one dict key: with a TRUE/FALSE cell the column goes cell by cell.
    plan = load_plan_file(PLAN)
    refs = ReferenceData.from_plan(plan)
    town, village = plan.towns[0], plan.towns[0].villages[0]
    rows = [(town.name, village.name, *_household(f"610231-0001-000{i}", 6900.0)[2:])
            for i in range(1, 5)]
    rows[1] = (*rows[1][:4], True, *rows[1][5:])  # 家庭人口 TRUE beside 3.0 and 1
    rows[2] = (*rows[2][:4], 1, *rows[2][5:])
    rows[3] = (*rows[3][:9], 1.0, *rows[3][10:])  # 是否通自来水 1.0 beside 是
    alone = _one_by_one(rows, refs)
    try:
        together: object = list(validate_households(_register(rows), refs).rows)
        assert together == [r for rs in alone if isinstance(rs, list) for r in rs]
    except ImportRejected as rejected:
        errors = {(e.row, e.column, e.value, e.reason) for e in rejected.report.errors}
        expected = {(i + 2, *e) for i, rs in enumerate(alone) if isinstance(rs, set) for e in rs}
        assert errors == expected


def test_village_cells_true_and_one_are_resolved_apart() -> None:
    plan = load_plan_file(PLAN)
    refs = ReferenceData.from_plan(plan)
    town = plan.towns[0]

    def row(village: object, hid: str) -> tuple[Any, ...]:
        return (town.name, village, *_household(hid, 6900.0)[2:])

    rows = [row(town.villages[0].name, "610231-0001-0001"), row(1, "610231-0001-0002"),
            row(True, "610231-0001-0003"), row(1.0, "610231-0001-0004")]
    alone = _one_by_one(rows, refs)
    with pytest.raises(ImportRejected) as rejected:
        validate_households(_register(rows), refs)
    errors = {(e.row, e.column, e.value, e.reason) for e in rejected.value.report.errors}
    assert errors == {(i + 2, *e) for i, rs in enumerate(alone) if isinstance(rs, set)
                      for e in rs}
    assert {e[0] for e in errors} == {3, 4, 5}
