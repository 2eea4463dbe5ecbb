"""WordprocessingML as duban reads and writes it: the order of the property elements'
children, and the paragraphs of given styles.

ECMA-376 Part 1 (§17.3.1.26 pPr, §17.3.2.28 rPr, §17.4.60 tblPr) makes each a sequence: Word
may refuse a file whose children are out of order, where LibreOffice reads it. python-docx
keeps these orders only while it builds its classes, so the renderer and the template builder
place what they add by these tables.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from docx.oxml.ns import qn


def _order(*names: str) -> dict[str, int]:
    return {qn(f"w:{name}"): k for k, name in enumerate(names)}


PPR_ORDER = _order(
    "pStyle", "keepNext", "keepLines", "pageBreakBefore", "framePr", "widowControl", "numPr",
    "suppressLineNumbers", "pBdr", "shd", "tabs", "suppressAutoHyphens", "kinsoku",
    "wordWrap", "overflowPunct", "topLinePunct", "autoSpaceDE", "autoSpaceDN", "bidi",
    "adjustRightInd", "snapToGrid", "spacing", "ind", "contextualSpacing", "mirrorIndents",
    "suppressOverlap", "jc", "textDirection", "textAlignment", "textboxTightWrap",
    "outlineLvl", "divId", "cnfStyle", "rPr", "sectPr", "pPrChange")
RPR_ORDER = _order(
    "rStyle", "rFonts", "b", "bCs", "i", "iCs", "caps", "smallCaps", "strike", "dstrike",
    "outline", "shadow", "emboss", "imprint", "noProof", "snapToGrid", "vanish", "webHidden",
    "color", "spacing", "w", "kern", "position", "sz", "szCs", "highlight", "u", "effect",
    "bdr", "shd", "fitText", "vertAlign", "rtl", "cs", "em", "lang", "eastAsianLayout",
    "specVanish", "oMath", "rPrChange")
TBLPR_ORDER = _order(
    "tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize",
    "tblStyleColBandSize", "tblW", "jc", "tblCellSpacing", "tblInd", "tblBorders", "shd",
    "tblLayout", "tblCellMar", "tblLook", "tblCaption", "tblDescription", "tblPrChange")
ORDERS: Mapping[str, Mapping[str, int]] = {
    qn("w:pPr"): PPR_ORDER, qn("w:rPr"): RPR_ORDER, qn("w:tblPr"): TBLPR_ORDER}


def place(parent: Any, el: Any) -> Any:
    """Insert `el` into `parent` at its place in the schema's order (ORDERS by the parent's
    tag; first where the order is unknown to it, last where the parent's is); return it."""
    order = ORDERS.get(parent.tag)
    if order is None:
        parent.append(el)
        return el
    rank = order.get(el.tag, len(order))
    for later in parent:
        if isinstance(later.tag, str) and order.get(later.tag, -1) > rank:
            later.addprevious(el)
            return el
    parent.append(el)
    return el


def child(parent: Any, tag: str) -> Any:
    """`parent`'s `tag` child, made and placed in the schema's order if it has none (a
    paragraph's w:pPr and a run's w:rPr go first)."""
    for el in parent.iterchildren(tag):
        return el
    el = parent.makeelement(tag, {})
    if tag in ORDERS:  # the properties element is its parent's first child
        parent.insert(0, el)
        return el
    return place(parent, el)


_P, _PPR, _PSTYLE, _VAL = qn("w:p"), qn("w:pPr"), qn("w:pStyle"), qn("w:val")


def style_value(ps: Any) -> str | None:
    """A w:pStyle's style id. Its w:val is its one attribute (the schema's), and values()
    reads it without parsing a namespaced name: 2.5× faster than get(), for a walk over
    every paragraph style of a long table."""
    values = ps.values()
    return str(values[0]) if len(values) == 1 else ps.get(_VAL)


def styled_paragraphs(root: Any, style_ids: Collection[str]) -> list[tuple[Any, str]]:
    """(paragraph, style id) of each paragraph under `root` whose style is one of
    `style_ids`, in document order; its style is the first w:pStyle of its first w:pPr.

    Walks the w:pStyle elements only (libxml2 filters the tags): a proxy for every paragraph
    of a 500-row table, or an XPath predicate on each, cost several times as much."""
    out: list[tuple[Any, str]] = []
    for ps in root.iter(_PSTYLE):
        style = style_value(ps)
        if style is None or style not in style_ids:
            continue
        ppr = ps.getparent()
        p = ppr.getparent()
        if (ppr.tag == _PPR and p is not None and p.tag == _P
                and next(p.iterchildren(_PPR)) is ppr and next(ppr.iterchildren(_PSTYLE)) is ps):
            out.append((p, style))
    return out
