"""Malformed intake files are refused with the right row, column and a Chinese reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from duban.adapters.intake import (
    ERROR_COLUMN,
    ImportRejected,
    format_error_table,
    read_and_validate,
    write_error_copy,
)
from tests.data import make_malformed as corpus
from tests.support import need_module

CASES = corpus.cases()


def _build(case, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    if case.needs:
        need_module(case.needs)
    return case.build(tmp_path / case.filename)


def test_corpus_is_large_enough() -> None:
    assert len({c.name for c in CASES}) == len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_file_is_refused(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _build(case, tmp_path)
    with pytest.raises(ImportRejected) as info:
        read_and_validate(path, case.kind, corpus.refs())
    report = info.value.report
    message = str(info.value)
    assert case.fragment in message
    if case.row is None:
        assert report.errors == []
        return
    hits = [e for e in report.errors if e.row == case.row and e.column == case.column]
    assert hits, f"no error at row {case.row} / {case.column}: {report.errors}"
    assert any(case.fragment in e.reason for e in hits)
    # The message itself names the row and the column.
    assert f"第{case.row}行“{case.column}”列" in message
    # Only the mutated cell is wrong: every other row of the corpus is valid.
    assert {e.row for e in report.errors} == {case.row}


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.row is not None],
    ids=[c.name for c in CASES if c.row is not None],
)
def test_error_copy_marks_the_bad_cell(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _build(case, tmp_path)
    with pytest.raises(ImportRejected) as info:
        read_and_validate(path, case.kind, corpus.refs())
    report = info.value.report
    out = write_error_copy(path, report, tmp_path / "copy")
    assert out.suffix == ".xlsx"
    ws = load_workbook(out)[report.sheet or "Sheet1"]
    header_row = report.header_row
    assert header_row is not None
    header_cells = [c.value for c in ws[header_row]]
    note_col = next(i for i, v in enumerate(header_cells) if v and str(v).startswith(ERROR_COLUMN))
    if case.row == header_row:
        # A missing column has no cell to paint: the note sits in the header.
        assert case.column in str(header_cells[note_col])
        return
    err = next(e for e in report.errors if e.row == case.row and e.column == case.column)
    assert err.col is not None
    bad = ws.cell(row=case.row, column=err.col + 1)
    assert bad.fill.fgColor.rgb.endswith("FF9999")
    note = ws.cell(row=case.row, column=note_col + 1).value
    assert case.column in note and case.fragment in note
    # Good rows carry no note and no fill.
    good_row = next(r for r in range(header_row + 1, ws.max_row + 1) if r != case.row)
    assert ws.cell(row=good_row, column=note_col + 1).value is None
    assert not ws.cell(row=good_row, column=err.col + 1).fill.fgColor.rgb.endswith("FF9999")


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.row is None], ids=[c.name for c in CASES if c.row is None]
)
def test_file_level_rejection_has_no_cells(case, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _build(case, tmp_path)
    with pytest.raises(ImportRejected) as info:
        read_and_validate(path, case.kind, corpus.refs())
    table = format_error_table(info.value.report)
    assert case.fragment in table
    if info.value.report.sheet is None:
        with pytest.raises(ValueError):
            write_error_copy(path, info.value.report, tmp_path / "copy.xlsx")


def test_valid_corpus_base_is_accepted(tmp_path: Path) -> None:
    refs = corpus.refs()
    for kind, rows in corpus.ROWS_OF.items():
        path = corpus.write_xlsx(tmp_path / f"{kind}.xlsx", corpus.HEADER_OF[kind], rows)
        result = read_and_validate(path, kind, refs)
        assert result.source_rows == list(range(2, len(rows) + 2))


def test_every_error_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    rows = [list(r) for r in corpus.HOUSEHOLDS]
    rows[0][1] = "火星村"
    rows[1][4] = "多"
    rows[3][7] = -5
    path = corpus.write_xlsx(tmp_path / "many.xlsx", corpus.H, rows)
    with pytest.raises(ImportRejected) as info:
        read_and_validate(path, "households", corpus.refs())
    where = [(e.row, e.column) for e in info.value.report.errors]
    assert where == [(2, "村"), (3, "家庭人口"), (5, "年人均纯收入（元）")]
    assert info.value.report.bad_rows == [2, 3, 5]
