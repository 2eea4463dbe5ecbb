"""Excel exports: the daily report table and the full 整改台账 (problem ledger).

The ledger is one big sheet: duban's streaming writer (duban.adapters.xlsx, the fastest
measured for it) writes it. The daily report is a few small formatted sheets: xlsxwriter.
Files are written beside the target and renamed into place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import xlsxwriter

from duban.adapters.documents.context import DailyReportContext, DailyRow, NoticeContext
from duban.adapters.documents.render import atomic_output, text_width_chars
from duban.adapters.xlsx import XLSXWRITER_OPTIONS, Sheet, Style, write_book
from duban.domain.numbering import format_date_cn

_MIN_WIDTH = 6.0
_MAX_WIDTH = 60.0
_WIDTH_SAMPLE_ROWS = 200  # widths are estimated from the header and the first rows


def _width_for(text: str) -> float:
    """Excel column width for a text: about 2 units per Chinese character."""
    return min(_MAX_WIDTH, max(_MIN_WIDTH, text_width_chars(text) * 2.1 + 2))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return format_date_cn(value)
    return str(value)


def write_ledger_xlsx(rows: Iterable[Mapping[str, Any]], path: Path, *,
                      headers: Sequence[str] | None = None,
                      sheet_name: str = "整改台账",
                      more: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]] = (),
                      ) -> Path:
    """Write the 整改台账: one row per problem, Chinese headers, filter, frozen header.

    `rows` are dicts keyed by Chinese header; `headers` fixes the column order (default: the
    keys of the first row). Dates are written as dates, numbers as numbers. `more` adds small
    sheets after it, each (name, headers, rows), such as the recurring duties.
    """
    path = Path(path)
    iterator = iter(rows)
    first = next(iterator, None)
    cols = list(headers) if headers is not None else (list(first) if first else [])
    sample: list[Mapping[str, Any]] = [first] if first is not None else []
    # Sample the first rows for widths; they are written from the same list afterwards.
    for row in iterator:
        sample.append(row)
        if len(sample) >= _WIDTH_SAMPLE_ROWS:
            break
    widths = [_width_for(h) for h in cols]
    for row in sample:
        for j, h in enumerate(cols):
            widths[j] = max(widths[j], _width_for(_cell_text(row.get(h))))
    header_marks = {1: dict.fromkeys(range(len(cols)), Style.COLUMN_HEADER)}

    def lines() -> Iterator[list[Any]]:
        yield cols
        for row in _chain(sample, iterator):
            yield [_ledger_value(row.get(h)) for h in cols]

    sheets = [Sheet(sheet_name, lines(), header_marks, dict(enumerate(widths)), freeze_rows=1,
                    filter_row=1 if cols else None)]
    sheets += [side_sheet(name, heads, side) for name, heads, side in more]
    with atomic_output(path) as tmp:
        write_book(tmp, sheets)
    return path


# The columns of the 督办问题清单, as the notice's Word 附件 table has them.
NOTICE_LIST_HEADERS = ("序号", "问题编号", "乡镇（村）", "户主", "问题描述", "整改要求", "整改时限",
                       "配合单位")


def write_notice_list_xlsx(ctx: NoticeContext, path: Path) -> Path:
    """The full 督办问题清单 of a notice as a spreadsheet: the Word table's columns and words,
    a frozen header with a filter, widths from the header and the first rows."""
    rows = [[p.seq, p.code, p.location, p.household, p.description, p.requirement,
             _cell_text(p.deadline), p.co_offices_text] for p in ctx.problems]
    widths = [_width_for(h) for h in NOTICE_LIST_HEADERS]
    for row in rows[:_WIDTH_SAMPLE_ROWS]:
        for j, v in enumerate(row):
            widths[j] = max(widths[j], _width_for(str(v)))
    sheet = Sheet(ctx.attachment_title, [list(NOTICE_LIST_HEADERS), *rows],
                  {1: dict.fromkeys(range(len(NOTICE_LIST_HEADERS)), Style.COLUMN_HEADER)},
                  dict(enumerate(widths)), freeze_rows=1, filter_row=1)
    with atomic_output(path) as tmp:
        write_book(tmp, [sheet])
    return path


def side_sheet(name: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Sheet:
    """A small sheet of a ledger workbook: header, widths from its content, a filter."""
    widths = [_width_for(h) for h in headers]
    for row in rows:
        for j, v in enumerate(row[:len(widths)]):
            widths[j] = max(widths[j], _width_for(_cell_text(v)))
    return Sheet(name, [list(headers), *([_ledger_value(v) for v in r] for r in rows)],
                 {1: dict.fromkeys(range(len(headers)), Style.COLUMN_HEADER)},
                 dict(enumerate(widths)), freeze_rows=1, filter_row=1)


def _ledger_value(value: Any) -> Any:
    """A cell as the ledger shows it: dates stay dates, yes/no in words, the rest as is."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime | dt.date | int | float) or value is None:
        return value
    return str(value)


def _chain(first: list[Mapping[str, Any]],
           rest: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    yield from first
    yield from rest


def _trend_chart(wb: Any, n: int, title: str) -> Any:
    """A native line chart of the 趋势 sheet: cumulative found and closed, overdue as columns."""
    lines = wb.add_chart({"type": "line"})
    for col, colour in ((1, "#1F4E9C"), (2, "#2E8B57")):
        lines.add_series({"name": ["趋势", 0, col], "categories": ["趋势", 1, 0, n, 0],
                          "values": ["趋势", 1, col, n, col],
                          "line": {"color": colour, "width": 2}, "marker": {"type": "circle"}})
    bars = wb.add_chart({"type": "column"})
    bars.add_series({"name": ["趋势", 0, 3], "categories": ["趋势", 1, 0, n, 0],
                     "values": ["趋势", 1, 3, n, 3], "fill": {"color": "#D62728"}})
    lines.combine(bars)
    lines.set_title({"name": title})
    lines.set_x_axis({"date_axis": True, "num_format": "m/d"})
    lines.set_y_axis({"name": "问题数（个）", "major_gridlines": {"visible": True}})
    lines.set_legend({"position": "top"})  # above the plot: no line runs through it
    lines.set_size({"width": 720, "height": 360})
    return lines


def _rate_chart(wb: Any, sheet: str, n: int) -> Any:
    """A native bar chart of each row's 销号率 on a progress sheet (rows 4 … n + 3)."""
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"name": "销号率", "categories": [sheet, 3, 0, 2 + n, 0],
                      "values": [sheet, 3, 7, 2 + n, 7], "fill": {"color": "#2E8B57"},
                      "data_labels": {"value": True, "num_format": "0.0%"}})
    chart.set_title({"name": f"{sheet.removesuffix('进度')}销号率"})
    chart.set_x_axis({"num_format": "0%", "min": 0, "max": 1})
    chart.set_y_axis({"reverse": True})
    chart.set_legend({"none": True})
    chart.set_size({"width": 560, "height": max(240, 24 * n + 80)})
    return chart


def write_ranking_xlsx(rows: Sequence[Mapping[str, Any]], headers: Sequence[str], path: Path,
                       *, sheet_name: str = "月考评", name_col: str = "名称",
                       score_col: str = "总分", chart_rows: int | None = None) -> Path:
    """Write the 月考评 breakdown: a filtered table and a native bar chart of the totals (of
    the first `chart_rows` rows, the ranked ones, when given)."""
    path = Path(path)
    widths = [_width_for(h) for h in headers]
    for row in rows:
        for j, h in enumerate(headers):
            widths[j] = max(widths[j], _width_for(_cell_text(row.get(h))))
    with atomic_output(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), dict(XLSXWRITER_OPTIONS))
        try:
            head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                  "align": "center", "valign": "vcenter", "text_wrap": True})
            ws = wb.add_worksheet(sheet_name)
            ws.write_row(0, 0, list(headers), head)
            for i, row in enumerate(rows, start=1):
                ws.write_row(i, 0, [_ledger_value(row.get(h)) for h in headers])
            for j, w in enumerate(widths):
                ws.set_column(j, j, w)
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)
            n = len(rows) if chart_rows is None else min(chart_rows, len(rows))
            if n and name_col in headers and score_col in headers:
                x, y = list(headers).index(name_col), list(headers).index(score_col)
                chart = wb.add_chart({"type": "bar"})
                chart.add_series({"name": score_col, "categories": [sheet_name, 1, x, n, x],
                                  "values": [sheet_name, 1, y, n, y],
                                  "fill": {"color": "#1F4E9C"}, "data_labels": {"value": True}})
                chart.set_title({"name": f"{sheet_name}总分"})
                chart.set_y_axis({"reverse": True})  # the first place on top
                chart.set_legend({"none": True})
                chart.set_size({"width": 560, "height": max(240, 24 * n + 80)})
                ws.insert_chart(len(rows) + 2, 0, chart)
        finally:
            wb.close()
    return path


DAILY_HEADERS = ("名称", "排查发现", "已交办", "整改中", "待复核", "已销号", "逾期", "销号率",
                 "较昨日销号", "较昨日销号率（百分点）")


def _daily_values(r: DailyRow) -> list[Any]:
    return [r.name, r.found, r.routed, r.rectifying, r.awaiting_review, r.closed, r.overdue,
            r.rate, r.closed_change, round(r.rate_change * 100, 2)]


def write_daily_report_xlsx(ctx: DailyReportContext, path: Path) -> Path:
    """Write the daily report as a workbook: towns, offices (each with 合计) and the series."""
    path = Path(path)
    with atomic_output(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), dict(XLSXWRITER_OPTIONS))
        try:
            title_fmt = wb.add_format({"bold": True, "font_size": 14})
            head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1,
                                  "align": "center", "valign": "vcenter"})
            cell = wb.add_format({"border": 1})
            pct = wb.add_format({"border": 1, "num_format": "0.0%"})
            total = wb.add_format({"border": 1, "bold": True})
            total_pct = wb.add_format({"border": 1, "bold": True, "num_format": "0.0%"})
            for sheet, label, rows, total_row in (
                ("乡镇进度", ctx.place_word, ctx.towns, ctx.town_total),
                ("责任单位进度", "责任单位", ctx.offices, ctx.office_total),
                ("来源分布", "问题来源", ctx.sources, ctx.source_total),
            ):
                ws = wb.add_worksheet(sheet)
                ws.write(0, 0, f"{ctx.title}（{format_date_cn(ctx.report_date)}）", title_fmt)
                # The 总结报告 drops the day's change (较昨日…): it sums up the whole campaign.
                columns = len(DAILY_HEADERS) - (2 if ctx.whole_campaign else 0)
                ws.write_row(2, 0, [label, *DAILY_HEADERS[1:columns]], head)
                for i, r in enumerate([*rows, total_row]):
                    is_total = i == len(rows)
                    for j, v in enumerate(_daily_values(r)[:columns]):
                        fmt = (total_pct if j == 7 else total) if is_total else (
                            pct if j == 7 else cell)
                        ws.write(3 + i, j, v, fmt)
                ws.set_column(0, 0, max(16.0, max((_width_for(r.name) for r in rows),
                                                  default=16.0)))
                ws.set_column(1, columns - 1, 11)
                ws.freeze_panes(3, 1)
            ws = wb.add_worksheet("随机抽查")
            ws.write(0, 0, ctx.spot_check_text, title_fmt)
            ws.write_row(2, 0, ["督查组", "抽查", "合格", "不合格", "待检查"], head)
            for i, g in enumerate(ctx.spot_checks, start=3):
                ws.write_row(i, 0, [g.group, g.drawn, g.passed, g.failed, g.pending], cell)
            start = 4 + len(ctx.spot_checks)
            if ctx.spot_check_failures:
                ws.write_row(start, 0, ["督查组", "抽查对象", "乡镇（村）", "情况说明"], head)
                for i, f in enumerate(ctx.spot_check_failures, start=start + 1):
                    ws.write_row(i, 0, [f.group, f"{f.kind}：{f.item}", f.place, f.note], cell)
            ws.set_column(0, 0, 24)
            ws.set_column(1, 4, 14)
            if ctx.duty_section:
                ws = wb.add_worksheet("常态化工作与整改节点")
                ws.write(0, 0, ctx.duty_text or ctx.milestone_text, title_fmt)
                at = 2
                if ctx.duty_units:
                    ws.write_row(at, 0, ["责任单位", *ctx.duty_heads], head)
                    for i, u in enumerate(ctx.duty_units, start=at + 1):
                        ws.write_row(i, 0, [u.unit, u.due, u.done, u.undone, u.missed], cell)
                    at += len(ctx.duty_units) + 2
                if ctx.milestone_text:
                    ws.write(at, 0, ctx.milestone_text)
                    at += 1
                if ctx.milestones_missed:
                    ws.write_row(at, 0, ["问题编号", "节点", "应完成日期", "牵头单位",
                                         "乡镇（村）"], head)
                    for i, m in enumerate(ctx.milestones_missed, start=at + 1):
                        ws.write_row(i, 0, [m.problem, m.name, m.date.isoformat(), m.office,
                                            m.place], cell)
                ws.set_column(0, 0, 24)
                ws.set_column(1, 4, 14)
            ws = wb.add_worksheet("趋势")
            ws.write_row(0, 0, ["日期", "累计发现", "累计销号", "逾期"], head)
            date_fmt = wb.add_format({"num_format": "yyyy-mm-dd", "border": 1})
            for i, p in enumerate(ctx.series, start=1):
                ws.write_datetime(i, 0, dt.datetime(p.day.year, p.day.month, p.day.day),
                                  date_fmt)
                ws.write_row(i, 1, [p.found, p.closed, p.overdue], cell)
            ws.set_column(0, 3, 12)
            if ctx.series:
                ws.insert_chart("F2", _trend_chart(wb, len(ctx.series), ctx.chart_title))
            for sheet_name, n in (("乡镇进度", len(ctx.towns)), ("责任单位进度", len(ctx.offices))):
                if n:
                    wb.get_worksheet_by_name(sheet_name).insert_chart(
                        3, len(DAILY_HEADERS) + 1, _rate_chart(wb, sheet_name, n))
        finally:
            wb.close()
    return path
