"""Excel exports: the daily report workbook and the 30,000-row ledger."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl

from duban.adapters.documents import write_daily_report_xlsx, write_ledger_xlsx
from tests.integration.test_documents_fixtures import TOWNS, daily_context

HEADERS = ["问题编号", "乡镇", "村", "户主", "问题类别", "问题描述", "责任单位", "整改时限",
           "状态", "逾期天数"]


def _rows(n: int) -> list[dict[str, object]]:
    return [{
        "问题编号": f"SQ2022-{i:05d}",
        "乡镇": TOWNS[i % len(TOWNS)],
        "村": f"第{i % 40 + 1}村",
        "户主": "王秀英",
        "问题类别": "住房安全" if i % 2 else "监测帮扶",
        "问题描述": ("住房安全等级鉴定为C级，房屋后墙裂缝、雨季漏雨，未纳入危房改造" if i % 2
                     else "收入低于监测线未纳入"),
        "责任单位": "县住建局" if i % 2 else "县民政局",
        "整改时限": dt.date(2022, 10, 1) + dt.timedelta(days=i % 20),
        "状态": "整改中",
        "逾期天数": i % 7,
    } for i in range(1, n + 1)]


def test_ledger_30k_rows_with_filter_freeze_and_widths(tmp_path: Path) -> None:
    # Its speed is measured in bench/ (docs/benchmarks.md, Excel writers), not timed here.
    rows = _rows(30_000)
    out = tmp_path / "台账.xlsx"
    write_ledger_xlsx(rows, out, headers=HEADERS)
    wb = openpyxl.load_workbook(out, read_only=False)
    ws = wb["整改台账"]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.max_row == 30_001
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:J30001"
    assert ws["A30001"].value == "SQ2022-30000"
    assert ws["H2"].value == dt.datetime(2022, 10, 2)  # a real date, not text
    assert ws["J2"].value == 1
    # the description column is wider than the code column, both wider than default
    assert ws.column_dimensions["F"].width > ws.column_dimensions["A"].width > 8.43


def test_ledger_accepts_a_generator_and_default_headers(tmp_path: Path) -> None:
    out = write_ledger_xlsx((r for r in _rows(250)), tmp_path / "l.xlsx")
    ws = openpyxl.load_workbook(out)["整改台账"]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.max_row == 251  # rows past the width sample are written too


def test_ledger_empty(tmp_path: Path) -> None:
    out = write_ledger_xlsx([], tmp_path / "e.xlsx", headers=HEADERS)
    ws = openpyxl.load_workbook(out)["整改台账"]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.max_row == 1


def test_daily_report_workbook(tmp_path: Path) -> None:
    ctx = daily_context()
    out = write_daily_report_xlsx(ctx, tmp_path / "日报.xlsx")
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["乡镇进度", "责任单位进度", "来源分布", "随机抽查", "趋势"]
    assert wb["随机抽查"]["A1"].value == "当日未安排随机抽查。"
    ws = wb["乡镇进度"]
    assert ws["A3"].value == "乡镇（办事处）"
    names = [ws.cell(row=4 + i, column=1).value for i in range(len(ctx.towns) + 1)]
    assert names == [r.name for r in ctx.towns] + ["合计"]
    total_row = 4 + len(ctx.towns)
    assert ws.cell(row=total_row, column=2).value == sum(r.found for r in ctx.towns)
    assert ws.cell(row=4, column=8).value == ctx.towns[0].rate
    assert ws.cell(row=4, column=8).number_format == "0.0%"
    trend = wb["趋势"]
    assert trend.max_row == 1 + len(ctx.series)
    assert trend["B2"].value == ctx.series[0].found


def test_daily_report_workbook_has_sources_and_spot_checks(tmp_path: Path) -> None:
    import dataclasses

    from duban.adapters.documents.context import SpotCheckFailure, SpotCheckRow

    base = daily_context()
    ctx = dataclasses.replace(
        base, sources=base.towns[:2],
        spot_checks=[SpotCheckRow("第一督查组", 5, 3, 1)],
        spot_check_failures=[SpotCheckFailure("第一督查组", "农户", "张三", "槐店回族镇东关社区",
                                              "危房仍有人居住")])
    wb = openpyxl.load_workbook(write_daily_report_xlsx(ctx, tmp_path / "日报.xlsx"))
    sources = wb["来源分布"]
    assert sources["A3"].value == "问题来源"
    assert [sources.cell(row=4 + i, column=1).value for i in range(3)] == [
        ctx.sources[0].name, ctx.sources[1].name, "合计"]
    checks = wb["随机抽查"]
    assert checks["A1"].value == "当日1个督查组共抽查5项，合格3项，不合格1项，待检查1项。"
    assert [c.value for c in checks[4]] == ["第一督查组", 5, 3, 1, 1]
    assert [c.value for c in checks[7]][:4] == ["第一督查组", "农户：张三", "槐店回族镇东关社区",
                                                 "危房仍有人居住"]
    # native charts (issue 16): 销号率 bars on the two progress sheets, the trend as lines
    with zipfile.ZipFile(tmp_path / "日报.xlsx") as z:
        charts = sorted(n for n in z.namelist() if n.startswith("xl/charts/chart"))
        xml = "".join(z.read(n).decode() for n in charts)
    assert len(charts) == 3
    # two bar charts, and lines combined with overdue columns (also a c:barChart, barDir col)
    assert xml.count("<c:barChart>") == 3 and xml.count("<c:lineChart>") == 1
    assert "乡镇进度!$H$4:$H$" in xml and "趋势!$B$2:$B$" in xml
