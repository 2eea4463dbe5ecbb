"""Show an intake report: a console table, an annotated copy of the file, a progress bar."""

from __future__ import annotations

import sys
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from duban.adapters.intake.errors import ImportReport
from duban.adapters.intake.reader import cell_grid

ERROR_COLUMN = "错误说明"
# Files larger than this are re-written from their values instead of loaded with their styles:
# openpyxl needs roughly 50x the file size in memory and ~40 s for 100,000 rows.
STYLED_COPY_LIMIT = 2 * 1024 * 1024


def text_width(text: str) -> int:
    """Display width in a terminal: wide and full-width characters take two cells."""
    return sum(
        0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        for ch in text
    )


def _fit(text: str, width: int) -> str:
    """Cut `text` to at most `width` display cells, marking the cut with …."""
    text = text.replace("\n", " ").replace("\r", " ")
    if text_width(text) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - text_width(text))


def format_error_table(report: ImportReport, *, limit: int | None = 100) -> str:
    """A Chinese console table of the report's errors (行, 列, 值, 原因), aligned for wide text."""
    lines = [report.message]
    if not report.errors:
        return "\n".join(lines)
    from duban.adapters.xlsx import column_letter

    shown = report.errors if limit is None else report.errors[:limit]
    table = [("行", "列", "值", "原因")]
    for e in shown:
        column = e.column
        if e.col is not None:
            column = f"{column}（{column_letter(e.col)}）" if column else column_letter(e.col)
        table.append((str(e.row) if e.row else "", column, _fit(e.value, 24), e.reason))
    widths = [max(text_width(r[i]) for r in table) for i in range(3)]
    lines.append("")
    for n, row in enumerate(table):
        lines.append("  ".join(_pad(row[i], widths[i]) for i in range(3)) + "  " + row[3])
        if n == 0:
            lines.append(
                "  ".join("-" * w for w in widths) + "  " + "-" * max(4, text_width(row[3]))
            )
    rest = len(report.errors) - len(shown)
    if rest > 0:
        lines.append(f"……另有{rest}处错误未列出，请查看错误副本")
    return "\n".join(lines)


def _notes_by_row(report: ImportReport) -> dict[int, list[str]]:
    notes: dict[int, list[str]] = defaultdict(list)
    for e in report.errors:
        notes[e.row].append(f"{e.column}：{e.reason}" if e.column else e.reason)
    return notes


def write_error_copy(src: str | Path, report: ImportReport, dest: str | Path) -> Path:
    """Write `src` as .xlsx with bad cells red and a 错误说明 column; returns the path written."""
    # Only a report about a sheet has cells to mark; a file-level rejection raises ValueError.
    # The path written always ends in .xlsx, whatever `dest` says.
    source = Path(src)
    out = Path(dest)
    if out.suffix.lower() != ".xlsx":
        out = out.with_suffix(".xlsx")
    if report.sheet is None or report.header_row is None:
        raise ValueError("the report is about the whole file; there are no cells to mark")
    out.parent.mkdir(parents=True, exist_ok=True)
    styled = (
        source.suffix.lower() in (".xlsx", ".xlsm") and source.stat().st_size <= STYLED_COPY_LIMIT
    )
    if styled:
        try:
            _copy_styled(source, report, out)
            return out
        except Exception:  # openpyxl cannot load every file calamine reads
            pass
    _copy_values(source, report, out)
    return out


def _copy_styled(source: Path, report: ImportReport, out: Path) -> None:
    # openpyxl is imported here: only this path needs it, and it costs ~0.6 s to import.
    from openpyxl import load_workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    from duban.adapters.xlsx import openpyxl_no_formulas

    bad_fill = PatternFill("solid", fgColor="FF9999")
    wb = load_workbook(source, keep_vba=False, keep_links=False)
    ws = wb[report.sheet] if report.sheet else wb.worksheets[0]
    note_col = ws.max_column + 1
    header_row = report.header_row or 1
    for e in report.errors:
        if e.col is not None and e.row:
            cell = ws.cell(row=e.row, column=e.col + 1)
            cell.fill = bad_fill
            cell.font = Font(color="9C0006")
    head = ws.cell(row=header_row, column=note_col, value=ERROR_COLUMN)
    head.font = Font(color="C00000", bold=True)
    head.fill = bad_fill
    for row, notes in _notes_by_row(report).items():
        text = "；".join(notes)
        if row == header_row:
            head.value = f"{ERROR_COLUMN}（{text}）"
            continue
        cell = ws.cell(row=row, column=note_col, value=text)
        cell.font = Font(color="C00000")
    ws.column_dimensions[get_column_letter(note_col)].width = 60
    wb.active = wb.worksheets.index(ws)
    openpyxl_no_formulas(wb)
    wb.save(out)


def _copy_values(source: Path, report: ImportReport, out: Path) -> None:
    # Imported here: xml.sax.saxutils pulls in urllib, http and email (~0.1 s at start-up).
    from duban.adapters.xlsx import Style, write_sheet

    grid = cell_grid(source, report.kind, report.sheet or "")
    width = max((len(r) for r in grid), default=0)
    header_row = report.header_row or 1
    notes = _notes_by_row(report)
    marks: dict[int, dict[int, Style]] = defaultdict(dict)
    marks[header_row] = dict.fromkeys(range(width), Style.HEADER)
    marks[header_row][width] = Style.NOTE_HEADER
    for e in report.errors:
        if e.col is not None and e.row:
            marks[e.row][e.col] = Style.BAD
    for row in notes:
        if row != header_row:
            marks[row][width] = Style.NOTE

    def rows() -> Iterator[list[Any]]:
        for r, values in enumerate(grid, 1):
            line = list(values) + [None] * (width - len(values))
            if r == header_row:
                extra = notes.get(r)
                line.append(f"{ERROR_COLUMN}（{'；'.join(extra)}）" if extra else ERROR_COLUMN)
            elif r in notes:
                line.append("；".join(notes[r]))
            yield line

    write_sheet(out, report.sheet or "Sheet1", rows(), marks=marks, widths={width: 60})


def progress_bar(
    stream: TextIO | None = None, *, label: str = "校验", width: int = 30
) -> Callable[[int, int], None]:
    """A progress callback for the CLI: on a terminal a bar drawn by rich, redrawn in place;
    in a log or a pipe plain lines, one at each quarter and one at the end (no carriage
    returns, no escape codes)."""
    out = stream if stream is not None else sys.stderr
    if out.isatty():
        return _rich_bar(out, label, width)
    shown = [-1]

    def line(done: int, total: int) -> None:
        share = done / total if total else 1.0
        quarter = 4 if done >= total else int(share * 4)
        if quarter > shown[0]:
            shown[0] = quarter
            out.write(f"{label}：{done}/{total}（{share:.0%}）\n")
            out.flush()

    return line


def _rich_bar(out: TextIO, label: str, width: int) -> Callable[[int, int], None]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn

    progress = Progress("{task.description}", BarColumn(bar_width=width), MofNCompleteColumn(),
                        TaskProgressColumn(), console=Console(file=out), transient=False)
    task: list[Any] = []

    def show(done: int, total: int) -> None:
        if not task:
            progress.start()
            task.append(progress.add_task(label, total=total))
        progress.update(task[0], completed=done, total=total)
        if done >= total:
            progress.stop()

    return show
