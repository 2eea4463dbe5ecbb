"""duban's streaming .xlsx writer: the same rows make the same bytes, whatever the time."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import load_workbook

from duban.adapters.xlsx import write_sheet

ROWS = [["序号", "问题描述", "整改时限"], [1, "住房存在安全隐患", "2022年10月1日"], [2, "饮水不安全", ""]]


def _book() -> bytes:
    out = io.BytesIO()
    write_sheet(out, "督办问题清单", ROWS, freeze_rows=1, filter_row=1)
    return out.getvalue()


def test_the_same_rows_make_the_same_bytes_at_another_time(monkeypatch: pytest.MonkeyPatch) -> None:
    first = _book()
    # zipfile dates an entry named by a string with time.localtime(time.time()).
    monkeypatch.setattr("time.time", lambda: 2_000_000_000.0)
    assert _book() == first
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    sheet = load_workbook(io.BytesIO(first)).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["序号", "问题描述", "整改时限"], [1, "住房存在安全隐患", "2022年10月1日"], [2, "饮水不安全", None]]
    assert sheet.freeze_panes == "A2"
