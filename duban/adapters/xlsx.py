"""duban's .xlsx writer for big tables: the ledger exports (with their small side sheets) and
intake error copies.

It streams rows straight into the zip as XML, with a few fixed styles. It is here because it is
the fastest writer measured for this job: 100,000 rows × 12 columns in 1.9–2.3 s, against
7.7–8.1 s for xlsxwriter in constant_memory mode and ~40 s for openpyxl (docs/benchmarks.md,
"Excel writers"). Small formatted workbooks of several sheets (the daily report) are written
with xlsxwriter; openpyxl only writes the intake templates (data validation) and styled copies
of small files it has loaded.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr


class Style(IntEnum):
    """The cell styles the writer knows (indexes into its cellXfs)."""

    PLAIN = 0
    BAD = 1  # red fill, dark red text: a cell with an error
    HEADER = 2  # bold
    NOTE = 3  # red text: the 错误说明 of a row
    NOTE_HEADER = 4  # bold red on red fill: the 错误说明 header
    TITLE = 5  # bold, larger: a title line above a table
    COLUMN_HEADER = 6  # bold on light blue, bordered, centred and wrapped: a table's header


# Date cells need a number format; each style has a date twin and a date-time twin, and a
# quote-prefixed twin for text that looks like a formula (see `formula_like`).
_DATE_OFFSET = len(Style)
_DATETIME_OFFSET = 2 * len(Style)
_QUOTED_OFFSET = 3 * len(Style)
_EPOCH = dt.datetime(1899, 12, 30)
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NS = "http://schemas.openxmlformats.org"


def column_letter(i: int) -> str:
    """Excel's letters for the 0-based column `i` (0 -> A, 26 -> AA)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


# What makes a spreadsheet program read a typed value as a formula (or, through DDE, a
# command): OWASP's list for CSV/formula injection.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_like(value: object) -> bool:
    """Whether a value is text that Excel or WPS would take for a formula if it were typed.

    Every spreadsheet duban writes stores such text as text: a string cell with Excel's quote
    prefix (the streaming writer here, `openpyxl_text` for openpyxl, `XLSXWRITER_OPTIONS` for
    xlsxwriter), never a formula cell.
    """
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


# xlsxwriter's Workbook options: `write` turns a string starting with "=" into a formula, and
# one looking like a URL or a number into a link or a number, unless told not to.
XLSXWRITER_OPTIONS: dict[str, bool] = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def openpyxl_text(cell: Any, value: Any) -> Any:
    """Put a value into an openpyxl cell, a formula-looking string as a quote-prefixed string
    (openpyxl's own setter makes a formula of any string starting with "=")."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if formula_like(value):
            cell.quotePrefix = True
    return cell


def openpyxl_no_formulas(workbook: Any) -> None:
    """Store every formula cell and formula-looking string of an openpyxl workbook as text
    (`openpyxl_text`): for workbooks built from user text (templates, error copies)."""
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f" or formula_like(cell.value):
                    openpyxl_text(cell, str(cell.value))


# Anything `_text` changes: most cells have none of it and are written as they are.
_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    # A carriage return written raw would be read back as a line feed (XML's end-of-line rule).
    return escape(_ILLEGAL_XML.sub("", value), {"\r": "&#13;"})


def _cell(ref: str, value: Any, style: int) -> str:
    if type(value) is str and value and not value.startswith(FORMULA_STARTS):
        # The common cell first (a list's cells are mostly text): the same XML as below.
        s = f' s="{style}"' if style else ""
        return (f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{_text(value)}'
                "</t></is></c>")
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            value = str(value)
        else:
            if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
                value = int(value)
            return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    if isinstance(value, dt.datetime):
        serial = (value.replace(tzinfo=None) - _EPOCH).total_seconds() / 86400
        return f'<c r="{ref}" s="{style + _DATETIME_OFFSET}"><v>{serial!r}</v></c>'
    if isinstance(value, dt.date):
        serial = (value - _EPOCH.date()).days
        return f'<c r="{ref}" s="{style + _DATE_OFFSET}"><v>{serial}</v></c>'
    if formula_like(value):
        s = f' s="{style + _QUOTED_OFFSET}"'
    text = _text(str(value))
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


@dataclass(frozen=True)
class Sheet:
    """One sheet of a workbook: its name, rows and looks (see `write_sheet`)."""

    name: str
    rows: Iterable[Sequence[Any]]
    marks: Mapping[int, Mapping[int, Style]] | None = None
    widths: Mapping[int, float] | None = None
    freeze_rows: int = 0
    filter_row: int | None = None


def write_sheet(
    path: Path | IO[bytes],
    sheet_name: str,
    rows: Iterable[Sequence[Any]],
    *,
    marks: Mapping[int, Mapping[int, Style]] | None = None,
    widths: Mapping[int, float] | None = None,
    freeze_rows: int = 0,
    filter_row: int | None = None,
) -> Path | IO[bytes]:
    """Write rows to a one-sheet .xlsx (a path or a binary file) and return it.

    `marks` styles cells by 1-based row and 0-based column; `widths` sets column widths by
    0-based column; the first `freeze_rows` rows stay in view when scrolling; `filter_row`
    (1-based) puts a filter on that header row over every row below it.
    """
    return write_book(path, [Sheet(sheet_name, rows, marks, widths, freeze_rows, filter_row)])


def write_book(path: Path | IO[bytes], sheets: Sequence[Sheet]) -> Path | IO[bytes]:
    """Write several sheets, each streamed in turn, to one .xlsx and return it."""
    filters: list[str | None] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for n, sheet in enumerate(sheets, 1):
            with zf.open(_member(f"xl/worksheets/sheet{n}.xml"), "w", force_zip64=True) as raw:
                filters.append(_stream_sheet(raw, sheet))
        zf.writestr(_member("[Content_Types].xml"), _content_types(len(sheets)))
        zf.writestr(_member("_rels/.rels"), _RELS)
        zf.writestr(_member("xl/workbook.xml"), _workbook([s.name for s in sheets], filters))
        zf.writestr(_member("xl/_rels/workbook.xml.rels"), _workbook_rels(len(sheets)))
        zf.writestr(_member("xl/styles.xml"), _STYLES)
    return path


def _member(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date: zipfile would stamp the wall clock, and the same rows
    should make the same bytes (a stored list file is compared by its digest)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info._compresslevel = 1  # type: ignore[attr-defined]  # zipfile's own level for entries
    info.external_attr = 0o600 << 16
    info.create_system = 3  # Unix, whatever the platform
    return info


def _stream_sheet(raw: IO[bytes], sheet: Sheet) -> str | None:
    """Write one worksheet's XML; returns its filter range, if any."""
    marks = sheet.marks or {}
    refs: list[str] = []
    last_row = 0
    head = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{_NS}/spreadsheetml/2006/main">'
    ]
    if sheet.freeze_rows:
        f = sheet.freeze_rows
        head.append(
            '<sheetViews><sheetView workbookViewId="0">'
            f'<pane ySplit="{f}" topLeftCell="A{f + 1}" '
            'activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        )
    if sheet.widths:
        head.append("<cols>")
        for c, w in sorted(sheet.widths.items()):
            head.append(f'<col min="{c + 1}" max="{c + 1}" width="{w}" customWidth="1"/>')
        head.append("</cols>")
    head.append("<sheetData>")
    raw.write("".join(head).encode())
    buf: list[str] = []
    for r, values in enumerate(sheet.rows, 1):
        while len(refs) < len(values):
            refs.append(column_letter(len(refs)))
        styled = marks.get(r)
        if styled:
            cells = "".join(
                _cell(f"{refs[c]}{r}", v, styled.get(c, 0)) for c, v in enumerate(values)
            )
        else:
            cells = "".join(_cell(f"{refs[c]}{r}", v, 0) for c, v in enumerate(values))
        buf.append(f'<row r="{r}">{cells}</row>')
        last_row = r
        if len(buf) >= 2000:
            raw.write("".join(buf).encode())
            buf.clear()
    buf.append("</sheetData>")
    filter_ref = None
    if sheet.filter_row is not None and refs:
        filter_ref = f"A{sheet.filter_row}:{refs[-1]}{max(last_row, sheet.filter_row + 1)}"
        buf.append(f'<autoFilter ref="{filter_ref}"/>')
    buf.append("</worksheet>")
    raw.write("".join(buf).encode())
    return filter_ref


def _workbook(sheet_names: Sequence[str], filters: Sequence[str | None]) -> str:
    sheets, names = [], []
    for i, (name, filter_ref) in enumerate(zip(sheet_names, filters, strict=True)):
        title = _ILLEGAL_XML.sub("", name)[:31] or f"Sheet{i + 1}"
        sheets.append(f'<sheet name={quoteattr(title)} sheetId="{i + 1}" r:id="rId{i + 1}"/>')
        if filter_ref is not None:
            # Excel keeps a filter's range in this hidden name as well as on the sheet.
            start, end = (re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", part)
                          for part in filter_ref.split(":"))
            quoted = "'" + title.replace("'", "''") + "'"
            names.append(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" '
                         f'hidden="1">{escape(quoted)}!{start}:{end}</definedName>')
    defined = f"<definedNames>{''.join(names)}</definedNames>" if names else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_NS}/spreadsheetml/2006/main" '
        f'xmlns:r="{_NS}/officeDocument/2006/relationships">'
        f'<sheets>{"".join(sheets)}</sheets>{defined}'
        "</workbook>"
    )


def _xfs() -> str:
    # (fontId, fillId, borderId, centred) per Style, then the same with the date and date-time
    # formats (164, 165: ISO dates, as county offices write them).
    looks = [(0, 0, 0, False), (1, 2, 0, False), (2, 0, 0, False), (1, 0, 0, False),
             (3, 2, 0, False), (4, 0, 0, False), (2, 3, 1, True)]
    assert len(looks) == len(Style)
    xfs = []
    for fmt, quoted in ((0, False), (164, False), (165, False), (0, True)):
        for font, fill, border, centred in looks:
            applied = (
                (' applyNumberFormat="1"' if fmt else "")
                + (' applyFont="1"' if font else "")
                + (' applyFill="1"' if fill else "")
                + (' applyBorder="1"' if border else "")
                + (' applyAlignment="1"' if centred else "")
                + (' quotePrefix="1"' if quoted else "")
            )
            align = ('<alignment horizontal="center" vertical="center" wrapText="1"/>'
                     if centred else "")
            xfs.append(
                f'<xf numFmtId="{fmt}" fontId="{font}" fillId="{fill}" borderId="{border}" '
                f'xfId="0"{applied}>{align}</xf>'
            )
    return f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_NS}/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="5">'
    '<font><sz val="11"/><name val="宋体"/></font>'
    '<font><sz val="11"/><color rgb="FF9C0006"/><name val="宋体"/></font>'
    '<font><b/><sz val="11"/><name val="宋体"/></font>'
    '<font><b/><sz val="11"/><color rgb="FFC00000"/><name val="宋体"/></font>'
    '<font><b/><sz val="14"/><name val="宋体"/></font>'
    "</fonts>"
    '<fills count="4"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFFF9999"/>'
    '<bgColor indexed="64"/></patternFill></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/>'
    '<bgColor indexed="64"/></patternFill></fill></fills>'
    '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
    '<border><left style="thin"/><right style="thin"/><top style="thin"/>'
    '<bottom style="thin"/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    + _xfs()
    + '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)

def _content_types(sheets: int) -> str:
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, sheets + 1))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{_NS}/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>'
        f"{overrides}"
        '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.styles+xml"/>'
        "</Types>"
    )


_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_NS}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_NS}/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
def _workbook_rels(sheets: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_NS}/officeDocument/2006/relationships/worksheet" '
        f'Target="worksheets/sheet{n}.xml"/>' for n in range(1, sheets + 1))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Relationships xmlns="{_NS}/package/2006/relationships">{rels}'
        f'<Relationship Id="rId{sheets + 1}" '
        f'Type="{_NS}/officeDocument/2006/relationships/styles" '
        'Target="styles.xml"/></Relationships>'
    )
