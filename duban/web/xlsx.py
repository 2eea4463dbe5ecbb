"""The ledger as an .xlsx workbook, streamed by duban's writer so memory stays flat."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Iterator
from typing import Any

from duban.adapters.xlsx import Style, write_sheet
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
    when = exported_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")

    def lines() -> Iterator[list[Any]]:
        yield [title, None, None, None, None, None, None, None, f"导出：{exported_by}，{when}"]
        yield list(HEADERS)
        for r in rows:
            yield [
                r.code, r.status_label, BAND_LABELS[Band(r.band)] if r.band else "",
                names.source(r.source), names.category(r.category), names.town(r.town_code),
                names.village(r.village_code), r.household_id or "", r.description,
                names.office(r.lead_office), r.deadline, r.found_on,
                r.updated_at.astimezone(CHINA_TZ).replace(tzinfo=None),
            ]

    out = io.BytesIO()
    write_sheet(out, "问题台账", lines(),
                marks={1: {0: Style.TITLE}, 2: dict.fromkeys(range(len(HEADERS)),
                                                           Style.COLUMN_HEADER)},
                widths=dict(enumerate(WIDTHS)), freeze_rows=2)
    return out.getvalue()
