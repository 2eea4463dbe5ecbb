"""Messy but valid intake files (as offices really send them) are read into the right records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from duban.adapters.intake import read_and_validate, read_rows
from duban.domain.household import (
    HouseholdCategory,
    HouseholdFacts,
    MonitoringType,
    ReportedProblem,
    VisitMode,
    VisitRecord,
)
from tests.data import make_malformed as corpus
from tests.support import need_module

H, V, P = corpus.H, corpus.V, corpus.P

EXPECTED_HOUSEHOLDS = [
    HouseholdFacts(
        "5001560101001",
        "canggou",
        "guanmiao",
        "张三",
        4,
        HouseholdCategory.LIFTED,
        None,
        8650,
        "A",
        True,
        1,
        0,
        True,
        True,
    ),
    HouseholdFacts(
        "5001560102001",
        "canggou",
        "qinggang",
        "李四",
        3,
        HouseholdCategory.MONITORED,
        MonitoringType.MARGINAL,
        6200,
        "C",
        False,
        2,
        1,
        True,
        False,
    ),
    HouseholdFacts(
        "5001560201001",
        "baima",
        "baimacun",
        "王五",
        2,
        HouseholdCategory.ORDINARY,
        None,
        15000,
        "B",
        True,
        0,
        0,
        True,
        True,
    ),
    HouseholdFacts(
        "5001560202001",
        "baima",
        "shimen",
        "赵六",
        5,
        HouseholdCategory.ORDINARY,
        None,
        12000,
        "A",
        True,
        2,
        0,
        False,
        True,
    ),
]
EXPECTED_VISITS = [
    VisitRecord(
        "5001560101001", "刘干部", dt.date(2022, 5, 6), VisitMode.IN_PERSON, "", "房屋完好"
    ),
    VisitRecord(
        "5001560102001", "刘干部", dt.date(2022, 5, 7), VisitMode.PROXY, "李小四", "户主外出务工"
    ),
    VisitRecord("5001560201001", "陈干部", dt.date(2022, 5, 8), VisitMode.PHONE, "", ""),
]
EXPECTED_PROBLEMS = [
    ReportedProblem(
        "visit",
        "housing",
        "canggou",
        "qinggang",
        "5001560102001",
        "房屋C级未改造",
        "刘干部",
        dt.date(2022, 5, 7),
        "july",
        dt.date(2022, 7, 31),
    ),
    ReportedProblem(
        "sector",
        "water",
        "baima",
        None,
        None,
        "集中供水工程水压不足",
        "陈干部",
        dt.date(2022, 5, 9),
        None,
        None,
    ),
    ReportedProblem(
        "inspection",
        "education",
        "canggou",
        "qinggang",
        "5001560102001",
        "适龄儿童失学",
        "县督查组",
        dt.date(2022, 5, 10),
        "now",
        None,
    ),
]


def _check(path: Path, kind: str, expected: list[Any]) -> Any:
    result = read_and_validate(path, kind, corpus.refs())  # type: ignore[arg-type]
    assert result.rows == expected
    return result


def test_plain_files_give_the_expected_records(tmp_path: Path) -> None:
    for kind, expected in (
        ("households", EXPECTED_HOUSEHOLDS),
        ("visits", EXPECTED_VISITS),
        ("problems", EXPECTED_PROBLEMS),
    ):
        path = corpus.write_xlsx(
            tmp_path / f"{kind}.xlsx", corpus.HEADER_OF[kind], corpus.ROWS_OF[kind]
        )
        _check(path, kind, expected)


def test_title_rows_and_merged_two_row_header(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws["A1"] = "沧沟乡2022年农户信息统计表"
    ws.merge_cells("A1:N1")
    ws["A2"] = "填报单位：沧沟乡人民政府      填报日期：2022年5月6日"
    ws.merge_cells("A2:N2")
    # Row 3-4: a two-row header; the first six names are merged down over both rows and the rest
    # sit under group labels merged across.
    for c, name in enumerate(H[:6], 1):
        ws.cell(row=3, column=c, value=name)
        ws.merge_cells(start_row=3, start_column=c, end_row=4, end_column=c)
    ws.cell(row=3, column=7, value="收入与住房")
    ws.merge_cells(start_row=3, start_column=7, end_row=3, end_column=9)
    ws.cell(row=3, column=10, value="两不愁三保障")
    ws.merge_cells(start_row=3, start_column=10, end_row=3, end_column=14)
    for c, name in enumerate(H[6:], 7):
        ws.cell(row=4, column=c, value=name)
    for row in corpus.HOUSEHOLDS:
        ws.append([None if v == "" else v for v in row])
    path = tmp_path / "merged.xlsx"
    wb.save(path)
    result = _check(path, "households", EXPECTED_HOUSEHOLDS)
    assert result.source_rows == [5, 6, 7, 8]
    # Titles and group labels are not mistaken for unknown columns.
    assert not any("统计表" in w or "两不愁三保障" in w for w in result.warnings)


def test_blank_rows_extra_columns_footer_and_repeated_header(tmp_path: Path) -> None:
    header = ["序号", *H, "备注"]
    rows: list[list[Any]] = []
    for i, r in enumerate(corpus.HOUSEHOLDS, 1):
        rows.append([i, *r, "已核实"])
        rows.append([None] * len(header))  # a blank row between every two
    rows.insert(3, header)  # the header repeated mid-table (two tables pasted together)
    rows.append([None, "填表人：刘干部      审核人：陈主任"])
    path = corpus.write_xlsx(tmp_path / "loose.xlsx", header, rows)
    result = _check(path, "households", EXPECTED_HOUSEHOLDS)
    assert result.source_rows == [2, 4, 7, 9]
    text = "\n".join(result.warnings)
    assert "“备注”" in text and "序号" not in text
    assert "第5行是重复的表头" in text
    assert "表尾说明" in text


def test_full_width_digits_spaces_and_text_numbers(tmp_path: Path) -> None:
    rows = [list(r) for r in corpus.HOUSEHOLDS]
    rows[0][0] = "\u3000沧沟乡 "  # full-width and ordinary spaces
    rows[0][1] = "关庙村\xa0"  # a non-breaking space pasted from a web page
    rows[0][2] = "５００１５６０１０１００１"
    rows[0][3] = "张\u3000三"  # two-character names padded to three
    rows[0][4] = "４"
    rows[0][7] = "８，６５０元"
    rows[1][7] = "6,200"
    rows[1][8] = "c级"
    rows[2][7] = "15000.0"
    rows[2][4] = "2人"
    rows[3][7] = " 12000 "
    rows[3][10] = "２"
    path = corpus.write_xlsx(tmp_path / "fullwidth.xlsx", H, rows)
    _check(path, "households", EXPECTED_HOUSEHOLDS)


def test_yes_no_spellings_and_aliases(tmp_path: Path) -> None:
    rows = [list(r) for r in corpus.HOUSEHOLDS]
    rows[0][9], rows[0][12], rows[0][13] = "有", "√", True
    rows[1][9], rows[1][12], rows[1][13] = "无", 1, "×"
    rows[2][5] = "非贫困户"
    rows[0][5] = "脱贫户"
    rows[1][6] = "边缘户"
    rows[3][12] = False
    rows[2][0] = "白马"  # town without its 镇
    rows[3][1] = "石门"  # village without its 村
    path = corpus.write_xlsx(tmp_path / "spellings.xlsx", H, rows)
    _check(path, "households", EXPECTED_HOUSEHOLDS)


def test_dates_as_serials_datetimes_and_text(tmp_path: Path) -> None:
    rows = [list(r) for r in corpus.VISITS]
    rows[0][2] = 44687  # Excel serial of 2022-05-06 in a General cell
    rows[1][2] = "2022年5月7日"
    rows[2][2] = dt.datetime(2022, 5, 8, 15, 30)
    rows[2][3] = "电话"
    rows[0][3] = ""  # blank mode means in person
    path = corpus.write_xlsx(tmp_path / "dates.xlsx", V, rows)
    _check(path, "visits", EXPECTED_VISITS)
    for text in ("2022/5/7", "2022.5.7", "20220507", "２０２２－０５－０７", "2022-05-07 00:00:00"):
        rows[1][2] = text
        path = corpus.write_xlsx(tmp_path / "dates.xlsx", V, rows)
        _check(path, "visits", EXPECTED_VISITS)
    rows[1][2] = 20220507  # yyyymmdd typed as a number
    path = corpus.write_xlsx(tmp_path / "dates.xlsx", V, rows)
    _check(path, "visits", EXPECTED_VISITS)


def test_alternative_headers(tmp_path: Path) -> None:
    alt_h = [
        "乡镇（街道）",
        "行政村",
        "户号",
        "户主",
        "家庭人口数",
        "农户类型",
        "监测类型",
        "人均纯收入",
        "住房安全鉴定等级",
        "自来水",
        "义务教育阶段适龄儿童数",
        "辍学儿童数",
        "是否参保",
        "卫生厕所",
    ]
    path = corpus.write_xlsx(tmp_path / "alt_h.xlsx", alt_h, corpus.HOUSEHOLDS)
    result = _check(path, "households", EXPECTED_HOUSEHOLDS)
    assert any("“户号”按“户编号”读取" in w for w in result.warnings)
    alt_p = [
        "来源",
        "问题类型",
        "乡镇",
        "村(社区)",
        "农户编号",
        "问题内容",
        "发现人",
        "发现时间",
        "时限类型",
        "整改期限",
    ]
    path = corpus.write_xlsx(tmp_path / "alt_p.xlsx", alt_p, corpus.PROBLEMS)
    _check(path, "problems", EXPECTED_PROBLEMS)
    # Columns in another order, with header texts carrying units and markers.
    order = [2, 0, 1, 5, 4, 3]
    alt_v = [f"*{V[i]}" if i < 3 else f"{V[i]}\n（选填）" for i in order]
    rows = [[r[i] for i in order] for r in corpus.VISITS]
    path = corpus.write_xlsx(tmp_path / "alt_v.xlsx", alt_v, rows)
    _check(path, "visits", EXPECTED_VISITS)


def test_data_on_a_later_sheet(tmp_path: Path) -> None:
    wb = Workbook()
    notes = wb.active
    assert notes is not None
    notes.title = "填表说明"
    for h in H:
        notes.append([h, "按模板填写"])
    summary = wb.create_sheet("汇总")
    summary.append(["乡镇", "户数"])
    summary.append(["沧沟乡", 2])
    data = wb.create_sheet("明细")
    data.append(H)
    for row in corpus.HOUSEHOLDS:
        data.append([None if v == "" else v for v in row])
    path = tmp_path / "sheets.xlsx"
    wb.save(path)
    sheet = read_rows(path, "households")
    assert sheet.sheet == "明细"
    _check(path, "households", EXPECTED_HOUSEHOLDS)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8", "utf-16"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    path = corpus.write_csv(tmp_path / "households.csv", H, corpus.HOUSEHOLDS, encoding)
    _check(path, "households", EXPECTED_HOUSEHOLDS)
    path = corpus.write_csv(tmp_path / "visits.csv", V, corpus.VISITS, encoding)
    _check(path, "visits", EXPECTED_VISITS)


def test_tab_separated_text(tmp_path: Path) -> None:
    path = tmp_path / "households.txt"
    lines = ["\t".join(H)] + ["\t".join(str(v) for v in r) for r in corpus.HOUSEHOLDS]
    path.write_text("\n".join(lines), encoding="gb18030")
    _check(path, "households", EXPECTED_HOUSEHOLDS)


def test_old_xls_format(tmp_path: Path) -> None:
    need_module("xlwt")
    _check(
        corpus.write_xls(tmp_path / "h.xls", H, corpus.HOUSEHOLDS),
        "households",
        EXPECTED_HOUSEHOLDS,
    )
    _check(corpus.write_xls(tmp_path / "v.xls", V, corpus.VISITS), "visits", EXPECTED_VISITS)
    # An .xlsx saved under an .xls name is read by its content, not its name.
    wrong = tmp_path / "really_xlsx.xls"
    wrong.write_bytes(corpus.write_xlsx(tmp_path / "x.xlsx", H, corpus.HOUSEHOLDS).read_bytes())
    _check(wrong, "households", EXPECTED_HOUSEHOLDS)


def test_xlsm_and_long_id_stored_as_number(tmp_path: Path) -> None:
    rows = [list(r) for r in corpus.HOUSEHOLDS]
    rows[0][2] = 5001560101001  # 13 digits survive as a number
    rows[1][2] = 5001560102001.0
    path = corpus.write_xlsx(tmp_path / "h.xlsm", H, rows)
    _check(path, "households", EXPECTED_HOUSEHOLDS)


def test_table_away_from_a1_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for r, row in enumerate([H, *corpus.HOUSEHOLDS], 6):
        for c, v in enumerate(row, 4):
            ws.cell(row=r, column=c, value=None if v == "" else v)
    path = tmp_path / "offset.xlsx"
    wb.save(path)
    sheet = read_rows(path, "households")
    assert sheet.header_row == 6
    assert sheet.columns["乡镇"] == 3
    result = _check(path, "households", EXPECTED_HOUSEHOLDS)
    assert result.source_rows == [7, 8, 9, 10]


def test_visit_in_same_import_is_known(tmp_path: Path) -> None:
    rows = [list(r) for r in corpus.VISITS]
    rows[0][0] = "NEW-001"
    path = corpus.write_xlsx(tmp_path / "v.xlsx", V, rows)
    refs = corpus.refs().with_households(["NEW-001"])
    result = read_and_validate(path, "visits", refs)
    assert result.rows[0].household_id == "NEW-001"


def test_answerer_ignored_when_not_proxy_gives_warning(tmp_path: Path) -> None:
    rows = [list(r) for r in corpus.VISITS]
    rows[0][4] = "某某"
    path = corpus.write_xlsx(tmp_path / "v.xlsx", V, rows)
    result = _check(path, "visits", EXPECTED_VISITS)
    assert any("第2行的走访方式不是代答" in w and "代答人" in w for w in result.warnings)


def test_two_row_header_without_merges(tmp_path: Path) -> None:
    # As a CSV export of a two-row header comes out: names split over two rows, nothing merged.
    upper = [*H[:6], "收入与住房", "", "", "两不愁三保障", "", "", "", ""]
    lower = ["", "", "", "", "", "", *H[6:]]
    path = tmp_path / "two_rows.csv"
    rows = [["沧沟乡农户信息表"], upper, lower, *corpus.HOUSEHOLDS]
    with path.open("w", encoding="gbk", newline="") as fh:
        import csv

        csv.writer(fh).writerows(rows)
    result = _check(path, "households", EXPECTED_HOUSEHOLDS)
    assert result.source_rows == [4, 5, 6, 7]
