"""The ledger as an .xlsx workbook, streamed by duban's writer so memory stays flat."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from duban.adapters.documents.xlsx import side_sheet
from duban.adapters.xlsx import Sheet, Style, write_book
from duban.domain.bands import Band
from duban.domain.clock import CHINA_TZ
from duban.domain.facts import display, loaded
from duban.domain.plan import HouseholdField
from duban.services.views.ledger import LedgerRow
from duban.services.views.names import Names

HEADERS = ("问题编号", "状态", "预警", "来源", "类别", "乡镇", "村", "户编号", "问题描述",
           "牵头责任办室", "整改时限", "发现日期", "最近办理")
WIDTHS = (11, 10, 10, 10, 12, 12, 12, 14, 50, 18, 12, 12, 17)


FactsOf = Callable[[Sequence[str]], Mapping[str, Mapping[str, Any]]]
BATCH = 2000  # rows whose households' facts are read at once


def _batches(rows: Iterable[LedgerRow]) -> Iterator[list[LedgerRow]]:
    it = iter(rows)
    while batch := list(islice(it, BATCH)):
        yield batch


MilestonesOf = Callable[[Sequence[int]], Mapping[int, str]]


def ledger_workbook(rows: Iterable[LedgerRow], names: Names, *, title: str,
                    exported_at: dt.datetime, exported_by: str,
                    fields: Sequence[HouseholdField] = (), facts_of: FactsOf | None = None,
                    milestones_of: MilestonesOf | None = None,
                    duties: tuple[Sequence[str], Sequence[Sequence[Any]]] | None = None,
                    ) -> bytes:
    """A workbook of ledger rows with a title line naming who exported it and when.

    `fields` are the plan's household fields: a column each after the ledger's, holding the
    facts of the problem's household (`facts_of` reads them for a batch of household ids).
    `milestones_of` (problem ids -> one line each) adds a 整改节点 column; `duties`
    (headers, rows) adds the 常态化工作 sheet.
    """
    when = exported_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    stones = ("整改节点",) if milestones_of is not None else ()
    headers = (*HEADERS, *stones, *(f.label for f in fields))

    def lines() -> Iterator[list[Any]]:
        yield [title, None, None, None, None, None, None, None, f"导出：{exported_by}，{when}"]
        yield list(headers)
        for batch in _batches(rows):
            ids = [r.household_id for r in batch if r.household_id]
            known = facts_of(ids) if fields and facts_of is not None and ids else {}
            texts = milestones_of([r.id for r in batch]) if milestones_of is not None else {}
            for r in batch:
                own = loaded(known.get(r.household_id or "")) if fields else {}
                yield [
                    r.code, r.status_label, Band(r.band).label if r.band else "",
                    names.source(r.source), names.category(r.category), names.town(r.town_code),
                    names.village(r.village_code), r.household_id or "", r.description,
                    names.office(r.lead_office), r.deadline, r.found_on,
                    r.updated_at.astimezone(CHINA_TZ).replace(tzinfo=None),
                    *((texts.get(r.id, ""),) if milestones_of is not None else ()),
                    *(display(own.get(f.key)) for f in fields),
                ]

    out = io.BytesIO()
    sheets = [Sheet("问题台账", lines(),
                    marks={1: {0: Style.TITLE}, 2: dict.fromkeys(range(len(headers)),
                                                               Style.COLUMN_HEADER)},
                    widths=dict(enumerate((*WIDTHS, *(40 for _ in stones),
                                           *(14 for _ in fields)))), freeze_rows=2)]
    if duties is not None:
        sheets.append(side_sheet("常态化工作", *duties))
    write_book(out, sheets)
    return out.getvalue()
