"""Column widths of a rendered table from its content (GB/T 9704 section 8, tables in the block).

The templates give each table a fixed layout and initial widths; once the rows are filled in,
`fit_tables` sets the widths from what the cells hold, keeping the table's total width:

- a header never wraps, nor does a date (2022年10月10日) or a short word (a three-character
  name, a number, 100.0%);
- codes and other short tokens stay on one line: at 五号 when there is room, else at 小五
  (a problem code or 文号 broken over two lines is misread), wrapped only if even 小五 lacks
  the room;
- what is left goes to the columns of running text (问题描述, 整改要求 …) in proportion to the
  text they hold, so rows are as short as the content allows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from docx.oxml import OxmlElement
from docx.oxml.ns import qn

TABLE_FONT_PT = 10.5  # 五号: the templates' GB Table styles
SMALL_FONT_PT = 9.0  # 小五: a table whose headers, dates and codes do not fit at 五号
_SLACK_PT = 1.0  # rounding and glyph overhang: a cell this much wider never wraps early
_DATE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")
_SHORT_REQUIRED = 4.0  # characters: names and figures
_SHORT_PREFERRED = 7.0  # characters: codes such as SQ2022-0001
# A column of running text keeps at least this many characters a line; a table is set at
# 小五 rather than squeeze its 问题描述 under the comfortable count at 五号 (a 整改台账 of
# nine columns on a landscape page: 8 characters a line at 五号, 13 at 小五, half the rows).
_MIN_TEXT_CHARS = 6.0
_COMFORTABLE_TEXT_CHARS = 10.0
_WIDE_SIGNS = frozenset("%&@")
# The serif's (Times New Roman's metrics) letters wider than the 0.62 em counted for the rest.
_WIDE_LETTERS = {"W": 0.95, "M": 0.9, "m": 0.8, "w": 0.75,
                 **{c: 0.73 for c in "ABCDGHKNOQRUVXY"}}


@functools.lru_cache(maxsize=8192)  # a table repeats its towns, dates and offices
def printed_width(text: str) -> float:
    """Width in em as LibreOffice prints it: CJK and “”‘’… 1, digits and letters about 0.6, the wide
    signs (% & @) about 0.9, other ASCII 0.35, and about 0.2 at each change between CJK and
    Latin (its Asian-Latin spacing)."""
    em = 0.0
    prev_latin: bool | None = None
    for ch in text:
        # The Chinese fonts set the general punctuation (“”‘’…—) a full em wide, as CJK.
        latin = ord(ch) < 0x2E80 and not 0x2010 <= ord(ch) < 0x2060
        if latin:
            # A 销号率 of 100.0% printed as "100.0" over "%" when % was counted narrow, and a
            # problem code W000001 as "W00000" over "1" when W was counted as an average letter.
            em += (0.56 if ch.isdigit() else _WIDE_LETTERS.get(ch, 0.62) if ch.isalpha()
                   else 0.9 if ch in _WIDE_SIGNS else 0.35)
        else:
            em += 1.0
        if prev_latin is not None and latin != prev_latin and not ch.isspace():
            em += 0.2
        prev_latin = latin
    return em


_P, _T, _TR, _TC = qn("w:p"), qn("w:t"), qn("w:tr"), qn("w:tc")
_TRPR, _TBLHEADER = qn("w:trPr"), qn("w:tblHeader")


def _cell_text(tc: Any) -> str:
    """A cell's paragraphs' text; the longest paragraph decides its one-line width."""
    # iterchildren rather than findall: lxml's find goes through ElementPath, a few µs a call,
    # and a 500-row table has 4,000 cells.
    paras = list(tc.iterchildren(_P))
    if len(paras) == 1:  # the usual cell: no nested table, one paragraph
        return "".join([t.text or "" for t in paras[0].iter(_T)])
    texts = ["".join(t.text or "" for t in p.iter(_T)) for p in tc.iter(_P)]
    return max(texts, key=printed_width, default="")


@dataclass
class _Column:
    required: float = 0.0  # header, dates, short words: never wrapped
    preferred: float = 0.0  # codes and short tokens: one line when there is room
    widest: float = 0.0  # the longest cell on one line
    volume: float = 0.0  # all text of the column's data cells
    cells: list[float] = field(default_factory=list)


def _margins_pt(tbl: Any) -> float:
    """Left plus right cell margin of a table, in points (default 0.19 cm each)."""
    total = 0.0
    mar = tbl.find(qn("w:tblPr") + "/" + qn("w:tblCellMar"))
    for side in ("left", "right"):
        el = None if mar is None else mar.find(qn(f"w:{side}"))
        total += (int(el.get(qn("w:w"))) / 20) if el is not None else 5.4
    return total


def _grid(tbl: Any) -> list[Any]:
    grid = tbl.find(qn("w:tblGrid"))
    return [] if grid is None else grid.findall(qn("w:gridCol"))


def _rows(tbl: Any, ncols: int) -> list[tuple[bool, list[Any]]]:
    """(is header, cells) of each row whose cells each span one grid column."""
    out = []
    for head, tr in _header_flags(tbl):
        tcs = list(tr.iterchildren(_TC))
        if len(tcs) == ncols:
            out.append((head, tcs))
    return out


@dataclass
class _Stats:
    """A column's text measured once (in em), whatever the font size tried."""

    header: float = 0.0
    required: float | None = None  # the widest date or short word
    preferred: float | None = None  # the widest code or short token
    widest: float | None = None  # the widest cell
    volume: float = 0.0  # all text of the column's data cells


def _column_stats(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[_Stats]:
    stats = [_Stats(header=printed_width(text)) for text in header]
    for row in rows:
        for c, text in enumerate(row):
            chars = printed_width(text)
            st = stats[c]
            if st.widest is None or chars > st.widest:
                st.widest = chars
            st.volume += chars
            if ((st.required is None or chars > st.required)
                    and (chars <= _SHORT_REQUIRED or _DATE.match(text))):
                st.required = chars
            if ((st.preferred is None or chars > st.preferred)
                    and chars <= _SHORT_PREFERRED and " " not in text):
                st.preferred = chars
    return stats


def column_widths(header: Sequence[str], rows: Sequence[Sequence[str]], total_pt: float,
                  margins_pt: float, font_pt: float = TABLE_FONT_PT, *,
                  codes_whole: bool = False) -> list[float] | None:
    """Widths (pt) of columns holding `header` and `rows`, summing to `total_pt`; None when
    the headers, dates and short words cannot each keep one line at `font_pt` (nor, with
    `codes_whole`, the codes)."""
    return _widths(_column_stats(header, rows), total_pt, margins_pt, font_pt,
                   codes_whole=codes_whole)


def _widths(stats: Sequence[_Stats], total_pt: float, margins_pt: float, font_pt: float, *,
            codes_whole: bool, text_chars: float = _MIN_TEXT_CHARS) -> list[float] | None:
    """column_widths from measured columns (fit_tables tries up to four sizes on one table)."""
    n = len(stats)
    cols = [_Column() for _ in range(n)]

    def width(chars: float) -> float:
        return chars * font_pt + margins_pt + _SLACK_PT

    # The same values as measuring each cell at this size and keeping the largest: width() is
    # increasing, so the widest cell's width is the largest width.
    for col, st in zip(cols, stats, strict=True):
        col.required = col.preferred = width(st.header)
        if st.widest is not None:
            col.widest = max(col.widest, width(st.widest))
        col.volume = st.volume
        if st.required is not None:
            col.required = max(col.required, width(st.required))
        if st.preferred is not None:
            col.preferred = max(col.preferred, width(st.preferred))
    for col in cols:
        col.preferred = max(col.preferred, col.required)
    min_text = text_chars * font_pt + margins_pt

    def floor(col: _Column, key: str) -> float:
        base: float = getattr(col, key)
        if col.widest > base:  # text that wraps: at least min_text a line, or two lines
            base = max(base, min(col.widest / 2 + margins_pt / 2, min_text))
        return base

    base = [floor(col, "preferred") for col in cols]
    if sum(base) > total_pt and not codes_whole:
        base = [floor(col, "required") for col in cols]
    if sum(base) > total_pt:  # even the headers and dates do not fit at this size
        return None
    widths = list(base)
    # Water-fill the rest: running text in proportion to its volume, up to one line each.
    open_cols = [c for c in range(n) if cols[c].widest > widths[c]]
    extra = total_pt - sum(widths)
    while extra > 0.01 and open_cols:
        weight = sum(cols[c].volume or 1.0 for c in open_cols)
        spent = 0.0
        still = []
        for c in open_cols:
            share = extra * (cols[c].volume or 1.0) / weight
            room = cols[c].widest - widths[c]
            add = min(share, room)
            widths[c] += add
            spent += add
            if room > share:
                still.append(c)
        extra -= spent
        if len(still) == len(open_cols):
            break
        open_cols = still
    if extra > 0.01:  # every column holds its text on one line: spread the rest evenly
        widths = [w + extra * w / sum(widths) for w in widths]
    return widths


_R, _RPR, _SZ, _SZCS, _VAL = (qn("w:r"), qn("w:rPr"), qn("w:sz"), qn("w:szCs"), qn("w:val"))
# What follows w:sz and w:szCs in a run's properties (the schema's order).
_AFTER_SZ = frozenset(qn(f"w:{t}") for t in (
    "highlight", "u", "effect", "bdr", "shd", "fitText", "vertAlign", "rtl", "cs", "em", "lang",
    "eastAsianLayout", "specVanish", "oMath", "rPrChange"))


def _set_font_size(tbl: Any, size_pt: float) -> None:
    # Plain lxml rather than python-docx's get_or_add_*: a 500-row table has thousands of runs,
    # and the generic schema-order search made this the slowest step of a notice's render.
    half_points = str(round(size_pt * 2))
    proto = None
    for r in tbl.iter(_R):
        rpr = next(r.iterchildren(_RPR), None)  # not find(): ElementPath costs µs a call
        if rpr is None:  # the usual table run: a copy of one made-up <w:rPr> (C-level copy)
            if proto is None:
                proto = r.makeelement(_RPR, {})
                for tag in (_SZ, _SZCS):
                    proto.append(proto.makeelement(tag, {_VAL: half_points}))
            r.insert(0, proto.__copy__())  # lxml's copy is deep; copy.deepcopy only wraps it
            continue
        sz = rpr.find(_SZ)
        if sz is None:
            sz = rpr.makeelement(_SZ, {})
            successor = next((child for child in rpr if child.tag in _AFTER_SZ
                              or child.tag == _SZCS), None)
            if successor is None:
                rpr.append(sz)
            else:
                successor.addprevious(sz)
        sz.set(_VAL, half_points)
        szcs = rpr.find(_SZCS)
        if szcs is None:
            szcs = rpr.makeelement(_SZCS, {})
        sz.addnext(szcs)  # moves an existing w:szCs right after w:sz
        szcs.set(_VAL, half_points)


_TCPR, _TCW, _W, _TYPE = qn("w:tcPr"), qn("w:tcW"), qn("w:w"), qn("w:type")


def _set_width(tc: Any, twips: str) -> None:
    # Plain lxml like _set_font_size: a 500-row table has thousands of cells.
    tcpr = next(tc.iterchildren(_TCPR), None)
    if tcpr is None:  # a cell's first child (what python-docx's get_or_add_tcPr does)
        tcpr = OxmlElement("w:tcPr")
        tc.insert(0, tcpr)
    tcw = next(tcpr.iterchildren(_TCW), None)
    if tcw is None:
        tcw = OxmlElement("w:tcW")
        tcpr.insert(0, tcw)
    tcw.set(_W, twips)
    tcw.set(_TYPE, "dxa")


# Elements under which a row's cells are not its children: with none of them in a table, one
# walk over the table meets its cells' elements in row order.
_NESTING = tuple(qn(f"w:{t}") for t in ("tbl", "txbxContent", "sdt", "customXml"))


def _set_widths_in_order(tbl: Any, rows: Sequence[tuple[bool, list[Any]]],
                         twips: Sequence[str]) -> bool:
    """Set every cell's w:tcW in one walk over the table's w:tcW elements, where the k-th of
    them is the k-th cell's: nothing nested (_NESTING), every row kept, one w:tcW per cell
    (the schema allows at most one). False, changing nothing, where that does not hold.

    One walk libxml2 filters (a proxy per w:tcW) rather than two child searches per cell:
    the shipped templates give every cell its w:tcW (a 500-row notice ~4 % faster)."""
    if (sum(1 for _ in tbl.iter(*_NESTING)) != 1  # the table itself only
            or len(rows) != sum(1 for _ in tbl.iterchildren(_TR))):
        return False
    tcws = list(tbl.iter(_TCW))
    ncols = len(twips)
    if len(tcws) != len(rows) * ncols:
        return False
    for k, tcw in enumerate(tcws):
        tcw.set(_W, twips[k % ncols])
        tcw.set(_TYPE, "dxa")
    return True


def fit_tables(body: Any) -> None:
    """Set the column widths of every fixed-layout table in `body` from its content."""
    for tbl in body.iter(qn("w:tbl")):
        layout = tbl.find(qn("w:tblPr") + "/" + qn("w:tblLayout"))
        if layout is None or layout.get(qn("w:type")) != "fixed":
            continue
        grid = _grid(tbl)
        rows = _rows(tbl, len(grid))
        heads = [cells for head, cells in rows if head]
        if not grid or not heads:
            continue
        header = [_cell_text(tc) for tc in heads[0]]
        data = [[_cell_text(tc) for tc in cells] for head, cells in rows if not head]
        total = sum(int(g.get(qn("w:w"))) for g in grid) / 20
        margins = _margins_pt(tbl)
        stats = _column_stats(header, data)  # measured once for the sizes tried below
        # 小五 rather than a wrapped header or date, or a code broken over two lines (a
        # wrapped problem code or 文号 is misread); wrapped codes only when even 小五 needs it.
        # Likewise 小五 rather than running text squeezed under a comfortable line.
        for size, whole, text_chars in (
                (TABLE_FONT_PT, True, _COMFORTABLE_TEXT_CHARS),
                (SMALL_FONT_PT, True, _COMFORTABLE_TEXT_CHARS),
                (TABLE_FONT_PT, True, _MIN_TEXT_CHARS), (SMALL_FONT_PT, True, _MIN_TEXT_CHARS),
                (TABLE_FONT_PT, False, _MIN_TEXT_CHARS), (SMALL_FONT_PT, False, _MIN_TEXT_CHARS)):
            widths = _widths(stats, total, margins, size, codes_whole=whole,
                             text_chars=text_chars)
            if widths is not None:
                break
        else:
            continue
        if size != TABLE_FONT_PT:
            _set_font_size(tbl, size)
        twips = [str(round(w * 20)) for w in widths]
        for g, tw in zip(grid, twips, strict=True):
            g.set(_W, tw)
        if not _set_widths_in_order(tbl, rows, twips):
            for _head, cells in rows:
                for tc, tw in zip(cells, twips, strict=True):
                    _set_width(tc, tw)


_KEEP_NEXT, _PPR = qn("w:keepNext"), qn("w:pPr")


def _keep_with_next(p: Any) -> None:
    ppr = p.find(_PPR)
    if ppr is None:
        ppr = OxmlElement("w:pPr")
        p.insert(0, ppr)
    if ppr.find(_KEEP_NEXT) is None:
        keep = OxmlElement("w:keepNext")
        # pPr's children have a schema order; keepNext comes after pStyle and before the rest.
        style = ppr.find(qn("w:pStyle"))
        if style is None:
            ppr.insert(0, keep)
        else:
            style.addnext(keep)


def keep_headers_with_rows(body: Any) -> None:
    """A data table's heading line and header row never end a page alone: the paragraph
    before each table with a header row, and that row, are kept with what follows."""
    for tbl in body.iter(qn("w:tbl")):
        heads = [tr for head, tr in _header_flags(tbl) if head]
        if not heads:
            continue
        before = tbl.getprevious()
        if before is not None and before.tag == _P:
            _keep_with_next(before)
        for tr in heads:
            for p in tr.iter(_P):
                _keep_with_next(p)


def _header_flags(tbl: Any) -> list[tuple[bool, Any]]:
    """(is a repeated header row, row) of each row of a table."""
    out = []
    for tr in tbl.iterchildren(_TR):
        trpr = next(tr.iterchildren(_TRPR), None)
        out.append((trpr is not None and next(trpr.iterchildren(_TBLHEADER), None) is not None,
                    tr))
    return out
