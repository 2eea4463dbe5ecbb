"""The ledger as an .xlsx workbook (openpyxl, write-only so memory stays flat)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill

from duban.domain.bands import BAND_LABELS, Band
from duban.domain.clock import CHINA_TZ
from duban.services.views.ledger import LedgerRow
from duban.services.views.names import Names

HEADERS = ("问题编号", "状态", "预警", "来源", "类别", "乡镇", "村", "户编号", "问题描述",
           "牵头责任办室", "整改时限", "发现日期", "最近办理")
WIDTHS = (11, 10, 10, 10, 12, 12, 12, 14, 50, 18, 12, 12, 17)


def ledger_workbook(rows: Iterable[LedgerRow], names: Names, *, title: str,
                    exported_at: dt.datetime, exported_by: str) -> bytes:
    """A workbook of ledger rows with a title line naming who exported it and when."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("问题台账")
    for i, width in enumerate(WIDTHS):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A3"
    head = WriteOnlyCell(ws, value=title)
    head.font = Font(bold=True, size=14)
    when = exported_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    ws.append([head, None, None, None, None, None, None, None,
               f"导出：{exported_by}，{when}"])
    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="1F4E79")
    header = []
    for text in HEADERS:
        cell = WriteOnlyCell(ws, value=text)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(horizontal="center")
        header.append(cell)
    ws.append(header)
    for r in rows:
        ws.append([
            r.code, r.status_label, BAND_LABELS[Band(r.band)] if r.band else "",
            names.source(r.source), names.category(r.category), names.town(r.town_code),
            names.village(r.village_code), r.household_id or "", r.description,
            names.office(r.lead_office), r.deadline, r.found_on,
            r.updated_at.astimezone(CHINA_TZ).replace(tzinfo=None),
        ])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
