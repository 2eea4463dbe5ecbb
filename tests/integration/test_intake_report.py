"""Error tables, error copies, progress callbacks and the cell-value parsers of the intake."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from duban.adapters.intake import (
    ERROR_COLUMN,
    CellError,
    ImportRejected,
    ImportReport,
    format_error_table,
    progress_bar,
    read_rows,
    validate_households,
    write_error_copy,
)
from duban.adapters.intake import report as report_module
from duban.adapters.intake.normalize import (
    CellProblem,
    code_text,
    parse_bool,
    parse_date,
    parse_int,
    parse_money,
)
from duban.adapters.intake.report import text_width
from tests.data import make_malformed as corpus
from tests.support import need_module


def _bad_households() -> list[list[object]]:
    rows = [list(r) for r in corpus.HOUSEHOLDS]
    rows[0][1] = "火星村"
    rows[2][4] = "很多"
    rows[3][8] = "Z"
    return rows


def _rejection(path: Path) -> ImportReport:
    with pytest.raises(ImportRejected) as info:
        validate_households(read_rows(path, "households"), corpus.refs())
    return info.value.report


def test_error_table_aligns_wide_characters() -> None:
    report = ImportReport(
        kind="households",
        message="农户信息导入失败：共2处错误",
        errors=[
            CellError(12, "村", "火星村", "没有这个村", 1),
            CellError(3, "年人均纯收入（元）", "abc", "应为数字", 7),
        ],
    )
    lines = format_error_table(report).splitlines()
    assert lines[0] == report.message
    header, rule, first, second = lines[2:6]
    assert header.split() == ["行", "列", "值", "原因"]
    # The 原因 column starts at the same display position on every line.
    reason_at = [
        text_width(line[: line.index(key)])
        for line, key in ((header, "原因"), (first, "没有这个村"), (second, "应为数字"))
    ]
    assert len(set(reason_at)) == 1
    assert "村（B）" in first and "年人均纯收入（元）（H）" in second
    assert set(rule.replace(" ", "")) == {"-"}


def test_error_table_limit_and_file_level_message() -> None:
    errors = [CellError(r, "户编号", "x", "重复", 2) for r in range(2, 12)]
    report = ImportReport(kind="households", message="失败", errors=errors)
    text = format_error_table(report, limit=3)
    assert "另有7处错误" in text
    assert text.count("重复") == 3
    only = ImportReport(
        kind="households", message="农户信息导入失败：文件已加密，请去除密码后再导入"
    )
    assert format_error_table(only) == only.message


def test_exception_message_lists_first_errors() -> None:
    errors = [CellError(r, "户编号", "x", "重复", 2) for r in range(2, 40)]
    exc = ImportRejected(ImportReport(kind="households", message="失败", errors=errors))
    text = str(exc)
    assert text.startswith("失败\n第2行“户编号”列（值：x）：重复")
    assert "另有18处错误" in text


@pytest.mark.parametrize("styled", [True, False], ids=["styled", "values"])
def test_error_copy_of_xlsx(tmp_path: Path, styled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not styled:
        monkeypatch.setattr(report_module, "STYLED_COPY_LIMIT", 0)
    src = corpus.write_xlsx(
        tmp_path / "h.xlsx", corpus.H, _bad_households(), title_rows=[["2022年农户信息表"]]
    )
    report = _rejection(src)
    out = write_error_copy(src, report, tmp_path / "h_errors.xlsx")
    ws = load_workbook(out).active
    assert ws is not None
    assert ws.cell(row=2, column=15).value == ERROR_COLUMN
    assert ws["A1"].value == "2022年农户信息表"
    for row, col in ((3, "B"), (5, "E"), (6, "I")):
        assert ws[f"{col}{row}"].fill.fgColor.rgb.endswith("FF9999")
    assert "村：" in ws.cell(row=3, column=15).value
    assert "家庭人口：" in ws.cell(row=5, column=15).value
    assert ws.cell(row=4, column=15).value is None
    assert ws["C4"].value == "5001560102001"
    assert ws.max_row == 6


def test_error_copy_of_csv_and_xls_is_xlsx(tmp_path: Path) -> None:
    src = corpus.write_csv(tmp_path / "h.csv", corpus.H, _bad_households(), "gbk")
    out = write_error_copy(src, _rejection(src), tmp_path / "h_errors.csv")
    assert out.suffix == ".xlsx"
    ws = load_workbook(out).active
    assert ws is not None
    assert ws["B2"].value == "火星村" and ws["B2"].fill.fgColor.rgb.endswith("FF9999")
    assert ws.cell(row=1, column=15).value == ERROR_COLUMN
    need_module("xlwt")
    src = corpus.write_xls(tmp_path / "h.xls", corpus.H, _bad_households())
    out = write_error_copy(src, _rejection(src), tmp_path / "h_xls_errors.xlsx")
    ws = load_workbook(out).active
    assert ws is not None
    assert ws["I5"].fill.fgColor.rgb.endswith("FF9999")
    assert "住房安全等级" in ws.cell(row=5, column=15).value


def test_progress_is_reported_up_to_the_total(tmp_path: Path) -> None:
    rows = [list(corpus.HOUSEHOLDS[i % 4]) for i in range(2500)]
    for i, row in enumerate(rows):
        row[2] = f"ID{i:05d}"
    path = corpus.write_xlsx(tmp_path / "big.xlsx", corpus.H, rows)
    calls: list[tuple[int, int]] = []
    result = validate_households(
        read_rows(path, "households"), corpus.refs(), progress=lambda d, t: calls.append((d, t))
    )
    assert len(result.rows) == 2500
    assert calls[-1] == (2500, 2500)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) >= 2


def test_progress_in_a_log_is_plain_lines() -> None:
    buf = io.StringIO()  # not a terminal: a log file or a pipe
    show = progress_bar(buf, label="校验", width=10)
    for done in range(0, 101, 5):
        show(done, 100)
    assert buf.getvalue().splitlines() == [
        "校验：0/100（0%）", "校验：25/100（25%）", "校验：50/100（50%）", "校验：75/100（75%）",
        "校验：100/100（100%）"]
    assert "\r" not in buf.getvalue() and "\x1b" not in buf.getvalue()


def test_progress_on_a_terminal_is_drawn_by_rich() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    buf = Terminal()
    show = progress_bar(buf, label="校验", width=10)
    show(5, 10)
    show(10, 10)
    assert "校验" in buf.getvalue() and "10/10" in buf.getvalue()


def test_html_and_word_files_are_named(tmp_path: Path) -> None:
    html = tmp_path / "export.xls"
    html.write_text("<html><body><table><tr><td>户编号</td></tr></table></body></html>", "utf-8")
    with pytest.raises(ImportRejected, match="网页（HTML）格式"):
        read_rows(html, "households")
    docx = tmp_path / "notice.xlsx"
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(ImportRejected, match="Word文档"):
        read_rows(docx, "households")
    with pytest.raises(ImportRejected, match="找不到文件"):
        read_rows(tmp_path / "missing.xlsx", "households")


def test_header_that_matches_nothing_is_refused(tmp_path: Path) -> None:
    path = corpus.write_xlsx(tmp_path / "other.xlsx", ["姓名", "电话"], [["张三", "123"]])
    with pytest.raises(ImportRejected, match="找不到农户信息表头"):
        read_rows(path, "households")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (dt.date(2022, 5, 6), dt.date(2022, 5, 6)),
        (dt.datetime(2022, 5, 6, 9, 30), dt.date(2022, 5, 6)),
        (44687.0, dt.date(2022, 5, 6)),
        (44687, dt.date(2022, 5, 6)),
        (20220506, dt.date(2022, 5, 6)),
        ("2022-05-06", dt.date(2022, 5, 6)),
        ("2022/5/6", dt.date(2022, 5, 6)),
        ("2022.5.6", dt.date(2022, 5, 6)),
        ("2022年5月6日", dt.date(2022, 5, 6)),
        ("20220506", dt.date(2022, 5, 6)),
        ("２０２２．５．６", dt.date(2022, 5, 6)),
        (" 2022-5-6 10:20:00 ", dt.date(2022, 5, 6)),
        ("44687", dt.date(2022, 5, 6)),
    ],
)
def test_parse_date(raw: object, expected: dt.date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["2022-02-30", "明天", "5/6", 12.5, 3, True, "2022年13月1日"])
def test_parse_date_refuses(raw: object) -> None:
    with pytest.raises(CellProblem):
        parse_date(raw)


def test_numbers_money_and_yes_no() -> None:
    assert parse_int("６") == 6
    assert parse_int(" 4人 ") == 4
    assert parse_int(4.0) == 4
    with pytest.raises(CellProblem, match="整数"):
        parse_int("4.5")
    assert parse_money("6,900") == 6900
    assert parse_money("6900元") == 6900
    assert parse_money("６，９００．５") == 6901  # half up, not banker's rounding
    assert parse_money(6900.49) == 6900
    assert parse_money("0.8万元") == 8000
    assert parse_money("¥7,000") == 7000
    with pytest.raises(CellProblem):
        parse_money("六千九")
    for yes in ("是", "有", "Y", "yes", "√", True, 1, "TRUE", " 是 "):
        assert parse_bool(yes) is True
    for no in ("否", "无", "N", "×", False, 0, "false"):
        assert parse_bool(no) is False
    with pytest.raises(CellProblem):
        parse_bool("不清楚")


def test_code_text_keeps_digits_or_refuses() -> None:
    assert code_text(5001560101001.0) == "5001560101001"
    assert code_text("　５００１５６ ") == "500156"
    with pytest.raises(CellProblem, match="末尾几位已丢失"):
        code_text(5.00156010100100e17)
    with pytest.raises(CellProblem, match="科学计数法"):
        code_text("5.00156E+17")


def test_oversized_workbook_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from duban.adapters.intake import reader

    path = corpus.write_xlsx(tmp_path / "h.xlsx", corpus.H, corpus.HOUSEHOLDS)
    monkeypatch.setattr(reader, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(ImportRejected, match="过大，请拆分"):
        read_rows(path, "households")


def test_corpus_script_writes_every_case(tmp_path: Path) -> None:
    written = corpus.build_all(tmp_path / "malformed")
    assert len(written) >= 15
    assert all(p.exists() for p in written)


def test_fast_writer_keeps_values_and_styles(tmp_path: Path) -> None:
    from duban.adapters.xlsx import Style, write_sheet

    rows = [
        ["名称", "日期", "时间", "数", "是否", "空"],
        ["甲&<乙>\x01", dt.date(2022, 5, 6), dt.datetime(2022, 5, 6, 8, 30), 6900.5, True, None],
        ["丙", dt.date(2022, 7, 31), dt.datetime(2022, 7, 31, 0, 0), 3, False, ""],
    ]
    marks = {1: {0: Style.HEADER}, 2: {1: Style.BAD, 5: Style.BAD}}
    path = write_sheet(tmp_path / "f.xlsx", "错误副本", rows, marks=marks, widths={0: 30})
    ws = load_workbook(path)["错误副本"]
    assert ws["A2"].value == "甲&<乙>"
    assert ws["B2"].value == dt.datetime(2022, 5, 6) and ws["B2"].is_date
    assert ws["C2"].value == dt.datetime(2022, 5, 6, 8, 30)
    assert ws["D2"].value == 6900.5 and ws["E2"].value is True and ws["D3"].value == 3
    assert ws["B2"].fill.fgColor.rgb.endswith("FF9999")
    assert ws["F2"].fill.fgColor.rgb.endswith("FF9999") and ws["F2"].value is None
    assert not ws["B3"].fill.fgColor.rgb.endswith("FF9999")
    assert ws["A1"].font.b
    assert ws.column_dimensions["A"].width == 30
    # And our own reader takes it back.
    from python_calamine import CalamineWorkbook

    back = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert back[2][1] == dt.date(2022, 7, 31)
