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
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docx.oxml.ns import qn
from lxml import etree

from duban.adapters.documents.schema import child, style_value

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


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# A table's rows as one string, libxslt reading the cells (no Python object per cell): each
# row is H (a repeated header row) or D, then each cell after _CELL, its text as _cell_text
# reads it: one paragraph's text, or each paragraph's after _PARA. The separators are
# private-use characters; a table whose text holds a row's or a cell's is read cell by cell
# instead (its rows or cells are miscounted), one holding _PARA is measured a little short.
_ROW, _CELL, _PARA = "\uf8f0", "\uf8f1", "\uf8f2"
_ROWS_XSLT = f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
 xmlns:w="{_W_NS}">
<xsl:output method="text" encoding="utf-8"/>
<xsl:template match="/w:tbl">
 <xsl:for-each select="w:tr">
  <xsl:choose>
   <xsl:when test="w:trPr/w:tblHeader">H</xsl:when>
   <xsl:otherwise>D</xsl:otherwise>
  </xsl:choose>
  <xsl:for-each select="w:tc">
   <xsl:text>{_CELL}</xsl:text>
   <xsl:choose>
    <xsl:when test="count(w:p) = 1">
     <xsl:for-each select="w:p//w:t"><xsl:value-of select="."/></xsl:for-each>
    </xsl:when>
    <xsl:otherwise>
     <xsl:for-each select=".//w:p">
      <xsl:text>{_PARA}</xsl:text>
      <xsl:for-each select=".//w:t"><xsl:value-of select="."/></xsl:for-each>
     </xsl:for-each>
    </xsl:otherwise>
   </xsl:choose>
  </xsl:for-each>
  <xsl:text>{_ROW}</xsl:text>
 </xsl:for-each>
</xsl:template>
</xsl:stylesheet>"""
_ROWS = etree.XPath("count(w:tr)", namespaces={"w": _W_NS})
_CELLS = etree.XPath("count(w:tr/w:tc)", namespaces={"w": _W_NS})
_xslt_of_thread = threading.local()  # an XSLT object is not shared between threads


def _rows_xslt() -> Any:
    xslt = getattr(_xslt_of_thread, "rows", None)
    if xslt is None:
        xslt = _xslt_of_thread.rows = etree.XSLT(etree.XML(_ROWS_XSLT))
    return xslt


def _row_texts(tbl: Any) -> list[tuple[bool, list[str]]]:
    """(is a repeated header row, its cells' texts as _cell_text reads them) of each row.

    One XSLT pass: a 20-row table's 168 cells read cell by cell took a Python object for
    each row, cell, paragraph and text, the largest part of fitting a notice's table."""
    text = str(_rows_xslt()(tbl))
    if text.count(_ROW) != _ROWS(tbl) or text.count(_CELL) != _CELLS(tbl):
        return [(head, [_cell_text(tc) for tc in tr.iterchildren(_TC)])
                for head, tr in _header_flags(tbl)]
    rows = []
    for row in text.split(_ROW)[:-1]:
        cells = row.split(_CELL)
        rows.append((cells[0] == "H", [
            max(cell.split(_PARA)[1:], key=printed_width) if cell.startswith(_PARA) else cell
            for cell in cells[1:]]))
    return rows


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


_PSTYLE = qn("w:pStyle")
_PARAGRAPHS = etree.XPath("count(.//w:p)", namespaces={"w": _W_NS})


def _set_small_styles(tbl: Any, small_styles: Mapping[str, str]) -> bool:
    """Set a table at 小五 by its paragraphs' 小五 styles (`small_styles`: a style's id to
    its 小五 variant's, the shipped templates' GBTable → GBTableSmall …): one attribute a
    paragraph rather than a w:rPr on every run, written and saved. False, changing nothing,
    where some paragraph's style has no variant, a paragraph has no style (fewer w:pStyle
    than paragraphs: a paragraph holds one at most) or a size is set inside the table, which
    a paragraph style's size would not reach."""
    if not small_styles or next(tbl.iter(_SZ, _SZCS), None) is not None:
        return False
    styles = list(tbl.iter(_PSTYLE))
    if len(styles) != _PARAGRAPHS(tbl):
        return False
    small = [small_styles.get(style_value(ps)) for ps in styles]  # type: ignore[arg-type]
    if None in small:
        return False
    for ps, style in zip(styles, small, strict=True):
        ps.set(_VAL, style)
    return True


_TCPR, _TCW, _W, _TYPE = qn("w:tcPr"), qn("w:tcW"), qn("w:w"), qn("w:type")


def _set_width(tc: Any, twips: str) -> None:
    # Plain lxml like _set_font_size: a 500-row table has thousands of cells.
    tcpr = next(tc.iterchildren(_TCPR), None)
    if tcpr is None:  # a cell's first child (what python-docx's get_or_add_tcPr does)
        tcpr = tc.makeelement(_TCPR, {})
        tc.insert(0, tcpr)
    tcw = next(tcpr.iterchildren(_TCW), None)
    if tcw is None:
        tcw = tcpr.makeelement(_TCW, {})
        tcpr.insert(0, tcw)
    tcw.set(_W, twips)
    tcw.set(_TYPE, "dxa")


# Elements under which a row's cells are not its children: with none of them in a table, one
# walk over the table meets its cells' elements in row order.
_NESTING = tuple(qn(f"w:{t}") for t in ("tbl", "txbxContent", "sdt", "customXml"))


def _set_widths_in_order(tbl: Any, rows: int, twips: Sequence[str]) -> bool:
    """Set every cell's w:tcW in one walk over the table's w:tcW elements, where the k-th of
    them is the k-th cell's: nothing nested (_NESTING), the table's every row among the
    `rows` that have as many cells as `twips`, one w:tcW per cell (the schema allows at most
    one). False, changing nothing, where that does not hold.

    One walk libxml2 filters (a proxy per w:tcW) rather than two child searches per cell:
    the shipped templates give every cell its w:tcW (a 500-row notice ~4 % faster)."""
    if (sum(1 for _ in tbl.iter(*_NESTING)) != 1  # the table itself only
            or rows != sum(1 for _ in tbl.iterchildren(_TR))):
        return False
    tcws = list(tbl.iter(_TCW))
    ncols = len(twips)
    if len(tcws) != rows * ncols:
        return False
    for k, tcw in enumerate(tcws):
        tcw.set(_W, twips[k % ncols])
        # The shipped templates' cells are in dxa already: a look is cheaper than a set, and
        # values() cheaper than get() (w:w is a number, never "dxa").
        if "dxa" not in tcw.values():
            tcw.set(_TYPE, "dxa")
    return True


def fit_tables(body: Any, small_styles: Mapping[str, str] | None = None) -> None:
    """Set the column widths of every fixed-layout table in `body` from its content, and its
    font size where 五号 leaves no room (by `small_styles` where they cover the table, see
    _set_small_styles; else run by run)."""
    for tbl in body.iter(qn("w:tbl")):
        layout = tbl.find(qn("w:tblPr") + "/" + qn("w:tblLayout"))
        if layout is None or layout.get(qn("w:type")) != "fixed":
            continue
        grid = _grid(tbl)
        if not grid:
            continue
        texts = _row_texts(tbl)
        kept = [(head, cells) for head, cells in texts if len(cells) == len(grid)]
        heads = [cells for head, cells in kept if head]
        if not heads:
            continue
        header = heads[0]
        data = [cells for head, cells in kept if not head]
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
        if size != TABLE_FONT_PT and not (
                small_styles and _set_small_styles(tbl, small_styles)):
            _set_font_size(tbl, size)
        twips = [str(round(w * 20)) for w in widths]
        for g, tw in zip(grid, twips, strict=True):
            g.set(_W, tw)
        if len(kept) != len(texts) or not _set_widths_in_order(tbl, len(kept), twips):
            for _head, cells in _rows(tbl, len(grid)):
                for tc, tw in zip(cells, twips, strict=True):
                    _set_width(tc, tw)


_KEEP_NEXT, _PPR = qn("w:keepNext"), qn("w:pPr")


def _keep_with_next(p: Any) -> None:
    child(child(p, _PPR), _KEEP_NEXT)  # made in the schema's order where it is missing


_HEADER_ROWS = etree.XPath("w:tr[w:trPr/w:tblHeader]", namespaces={"w": _W_NS})


def keep_headers_with_rows(body: Any) -> None:
    """A data table's heading line and header row never end a page alone: the paragraph
    before each table with a header row, and that row, are kept with what follows."""
    for tbl in body.iter(qn("w:tbl")):
        heads = _HEADER_ROWS(tbl)
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
