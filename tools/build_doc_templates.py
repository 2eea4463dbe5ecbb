"""(Re)build the shipped GB/T 9704-2012 .docx templates in templates/documents/.

Run: `.venv/bin/python tools/build_doc_templates.py [OUT_DIR]`. The templates are ordinary
Word files with docxtpl/Jinja tags; offices may copy one, edit it in Word and drop it in a
campaign's template folder. docs/gbt9704.md lists each rule of the standard and where it is met.
"""

from __future__ import annotations

import copy
import io
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from duban.adapters.documents.schema import place

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "templates" / "documents"

# GB/T 9704-2012 5.2.1: A4, 天头 37 mm, 订口 28 mm, 版心 156 mm x 225 mm.
PAGE_W, PAGE_H = 210, 297
TOP, BOTTOM, LEFT, RIGHT = 37, 35, 28, 26
TEXT_W_MM = PAGE_W - LEFT - RIGHT  # 156
# 5.2.3: 22 lines of 28 characters. Line pitch 225 mm / 22 = 28.95 pt (579 twips).
LINE_PT = 28.95
LINE_TWIPS = 579
# Character pitch 156 mm / 28 = 15.79 pt: 3号 text (16 pt) with -0.25 pt character spacing
# gives 28 characters a line. Word's own way, a linesAndChars grid with charSpace -848, is
# misread by LibreOffice (which makes our PDFs), so the grid sets lines only.
CHAR_SPACING_TWIPS = -5
CHAR_PT = 16.0  # one 字 of 3号 text

FANGSONG = "仿宋_GB2312"
XIAOBIAOSONG = "方正小标宋简体"
HEITI = "黑体"
KAITI = "楷体_GB2312"
SONGTI = "宋体"
RED = "FF0000"

SIZE_2HAO = 22.0
SIZE_3HAO = 16.0
SIZE_4HAO = 14.0
SIZE_XIAO4 = 12.0
SIZE_5HAO = 10.5
SIZE_XIAO5 = 9.0

# 7.2.7: the separator 4 mm under the 文号. The border's space counts from the bottom of the
# 文号's 28.95 pt line, whose glyphs end about 6.1 pt above it in LibreOffice; 5 pt more puts
# the line 11.1 pt (3.9 mm) under the characters (tests/integration/test_documents_layout.py).
SEPARATOR_SPACE_PT = 5
SEAL_MM = 42  # a county-level office seal is 42 mm across
SEAL_NAME = "duban-seal-placeholder.png"


# ---------------------------------------------------------------- low-level XML helpers


def put(parent: Any, el: Any) -> Any:
    """Insert el into parent at its schema position, replacing one of its tag (Word may
    refuse out-of-order children; python-docx keeps its orders only while building classes,
    so this once appended, and the styles' w:snapToGrid, w:ind and w:pBdr came last)."""
    for old in parent.findall(el.tag):
        parent.remove(old)
    return place(parent, el)



def set_fonts(rpr_parent: Any, name: str) -> None:
    """Set ascii, hAnsi, eastAsia and cs fonts on an rPr (east-Asian text needs w:eastAsia)."""
    rpr = rpr_parent.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = put(rpr, OxmlElement("w:rFonts"))
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)
    rfonts.set(qn("w:hint"), "eastAsia")


def style_fonts(style: Any, name: str, size: float, *, bold: bool = False,
                color: str | None = None) -> None:
    """Give a style its font on every script, its size and colour."""
    set_fonts(style.element, name)
    style.font.size = Pt(size)
    style.font.bold = bold
    rpr = style.element.get_or_add_rPr()
    szcs = put(rpr, OxmlElement("w:szCs"))
    szcs.set(qn("w:val"), str(int(size * 2)))
    if color:
        style.font.color.rgb = RGBColor.from_string(color)


def ppr_of(style: Any) -> Any:
    """The pPr element of a paragraph style."""
    return style.element.get_or_add_pPr()


def set_snap_to_grid(style: Any, on: bool) -> None:
    """Turn grid snapping off for display lines (mark, title) so they keep their own leading."""
    ppr = ppr_of(style)
    el = put(ppr, OxmlElement("w:snapToGrid"))
    el.set(qn("w:val"), "1" if on else "0")


def set_char_indent(style: Any, *, first_chars: float = 0, left_chars: float = 0,
                    right_chars: float = 0, size: float = CHAR_PT) -> None:
    """Indent in characters (w:firstLineChars etc.) with twips for programs ignoring chars."""
    ppr = ppr_of(style)
    ind = ppr.find(qn("w:ind"))
    if ind is None:
        ind = put(ppr, OxmlElement("w:ind"))
    if first_chars:
        ind.set(qn("w:firstLine"), str(round(first_chars * size * 20)))
        ind.set(qn("w:firstLineChars"), str(round(first_chars * 100)))
    if left_chars:
        ind.set(qn("w:left"), str(round(left_chars * size * 20)))
        ind.set(qn("w:leftChars"), str(round(left_chars * 100)))
    if right_chars:
        ind.set(qn("w:right"), str(round(right_chars * size * 20)))
        ind.set(qn("w:rightChars"), str(round(right_chars * 100)))


def border_el(tag: str, *, sz: int, color: str = "000000", space: int = 0,
              val: str = "single") -> Any:
    """A w:top / w:bottom / ... border element; sz is in eighths of a point."""
    el = OxmlElement(tag)
    el.set(qn("w:val"), val)
    el.set(qn("w:sz"), str(sz))
    el.set(qn("w:space"), str(space))
    el.set(qn("w:color"), color)
    return el


# ---------------------------------------------------------------- document and styles


def new_document() -> DocumentObject:
    """A blank A4 document with the GB/T 9704 page, grid, defaults and styles."""
    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(PAGE_W), Mm(PAGE_H)
    sec.top_margin, sec.bottom_margin = Mm(TOP), Mm(BOTTOM)
    sec.left_margin, sec.right_margin = Mm(LEFT), Mm(RIGHT)
    sec.header_distance = Mm(15)
    # 7.5: the page number's dash sits 7 mm under the text block; a 14 pt line is 4.9 mm.
    sec.footer_distance = Mm(BOTTOM - 7 - 4.5)
    sec.start_type = WD_SECTION.NEW_PAGE
    sect_pr = sec._sectPr
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sect_pr.append(grid)
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_TWIPS))

    _doc_defaults(doc)
    _styles(doc)
    # Odd pages right, even pages left (7.5) need distinct even-page footers.
    doc.settings.odd_and_even_pages_header_footer = True
    _footers(doc)
    # Drop the default template's empty first paragraph.
    body = doc.element.body
    for p in list(body.iterchildren(qn("w:p"))):
        body.remove(p)
    return doc


def _doc_defaults(doc: DocumentObject) -> None:
    """3号仿宋 as the document default (5.2.2), Chinese language for line breaking."""
    styles_el = doc.styles.element
    rpr_default = styles_el.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    rpr = rpr_default.find(qn("w:rPr"))
    for child in list(rpr):
        rpr.remove(child)
    rpr.append(parse_xml(
        f'<w:rFonts {nsdecls("w")} w:ascii="{FANGSONG}" w:hAnsi="{FANGSONG}" '
        f'w:eastAsia="{FANGSONG}" w:cs="{FANGSONG}" w:hint="eastAsia"/>'
    ))
    rpr.append(parse_xml(f'<w:kern {nsdecls("w")} w:val="2"/>'))
    rpr.append(parse_xml(f'<w:sz {nsdecls("w")} w:val="32"/>'))
    rpr.append(parse_xml(f'<w:szCs {nsdecls("w")} w:val="32"/>'))
    rpr.append(parse_xml(
        f'<w:lang {nsdecls("w")} w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/>'
    ))
    normal = doc.styles["Normal"]
    style_fonts(normal, FANGSONG, SIZE_3HAO)
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), str(CHAR_SPACING_TWIPS))
    put(normal.element.get_or_add_rPr(), spacing)
    pf = normal.paragraph_format
    pf.space_before = Pt(0)
    pf.space_after = Pt(0)
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = Pt(LINE_PT)
    pf.widow_control = False  # 22 full lines a page; no lines pushed over


def _pstyle(doc: DocumentObject, name: str, font: str, size: float, *,
            align: WD_ALIGN_PARAGRAPH | None = None, color: str | None = None,
            line: float | None = LINE_PT, before: float = 0, after: float = 0) -> Any:
    """Add a paragraph style based on Normal."""
    st = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    st.base_style = doc.styles["Normal"]
    st.quick_style = True
    style_fonts(st, font, size, color=color)
    pf = st.paragraph_format
    if align is not None:
        pf.alignment = align
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(line)
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)
    return st


def _styles(doc: DocumentObject) -> None:
    """The paragraph and character styles every template uses (names start with GB)."""
    # 7.2.4 发文机关标志: red 小标宋, centred, top edge 35 mm under the top of the text block.
    # The renderer fits the size and width scale to the name's length.
    mark = _pstyle(doc, "GB Mark", XIAOBIAOSONG, 30, align=WD_ALIGN_PARAGRAPH.CENTER,
                   color=RED, line=None, before=Mm(35).pt - 6)
    set_snap_to_grid(mark, False)
    # 7.2.5 发文字号: two lines under the mark, centred; 7.2.7 the red separator 4 mm under it,
    # as wide as the text block: a bottom border of this paragraph (space is in points).
    num = _pstyle(doc, "GB DocNumber", FANGSONG, SIZE_3HAO, align=WD_ALIGN_PARAGRAPH.CENTER,
                  before=2 * LINE_PT)
    pbdr = OxmlElement("w:pBdr")
    pbdr.append(border_el("w:bottom", sz=12, color=RED, space=SEPARATOR_SPACE_PT))
    put(ppr_of(num), pbdr)
    # 7.3.1 标题: 2号小标宋, two lines under the separator, centred.
    title = _pstyle(doc, "GB Title", XIAOBIAOSONG, SIZE_2HAO, align=WD_ALIGN_PARAGRAPH.CENTER,
                    line=36, before=2 * LINE_PT - 11)
    set_snap_to_grid(title, False)
    # 7.3.2 主送机关: one line under the title, flush left, full-width colon.
    _pstyle(doc, "GB Addressee", FANGSONG, SIZE_3HAO, align=WD_ALIGN_PARAGRAPH.JUSTIFY,
            before=LINE_PT)
    # 7.3.3 正文: 3号仿宋, each paragraph indented two characters.
    body = _pstyle(doc, "GB Body", FANGSONG, SIZE_3HAO, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    set_char_indent(body, first_chars=2)
    # 结构层次序数: 一、 in 黑体, （一） in 楷体, 1. and （1） in 仿宋.
    h1 = _pstyle(doc, "GB Heading 1", HEITI, SIZE_3HAO, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    set_char_indent(h1, first_chars=2)
    h1.paragraph_format.keep_with_next = True
    h2 = _pstyle(doc, "GB Heading 2", KAITI, SIZE_3HAO, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    set_char_indent(h2, first_chars=2)
    h2.paragraph_format.keep_with_next = True
    kai = doc.styles.add_style("GB Kai", WD_STYLE_TYPE.CHARACTER)
    set_fonts(kai.element, KAITI)
    # 7.3.4 附件说明: one line under the body, indented two characters.
    an = _pstyle(doc, "GB Attachment Note", FANGSONG, SIZE_3HAO, before=LINE_PT)
    set_char_indent(an, first_chars=2)
    # 7.3.5 署名 and 成文日期: date 右空四字; the renderer centres the name over the date.
    sig = _pstyle(doc, "GB Signature", FANGSONG, SIZE_3HAO, align=WD_ALIGN_PARAGRAPH.RIGHT,
                  before=2 * LINE_PT)
    sig.paragraph_format.keep_with_next = True
    set_char_indent(sig, right_chars=4)
    date = _pstyle(doc, "GB Date", FANGSONG, SIZE_3HAO, align=WD_ALIGN_PARAGRAPH.RIGHT)
    set_char_indent(date, right_chars=4)
    # 7.3.6 附注: under the date, indented two characters, in parentheses.
    note = _pstyle(doc, "GB Note", FANGSONG, SIZE_3HAO)
    set_char_indent(note, first_chars=2)
    # 7.3.7 附件: another page; 附件 in 黑体 top left; its title centred on line 3.
    label = _pstyle(doc, "GB Attachment Label", HEITI, SIZE_3HAO)
    label.paragraph_format.page_break_before = True
    at = _pstyle(doc, "GB Attachment Title", XIAOBIAOSONG, SIZE_2HAO,
                 align=WD_ALIGN_PARAGRAPH.CENTER, line=36, before=LINE_PT, after=LINE_PT / 2)
    set_snap_to_grid(at, False)
    # Tables (8): smaller text so a row of problems fits the 156 mm block.
    for name, font, align in (
        ("GB Table", FANGSONG, WD_ALIGN_PARAGRAPH.LEFT),
        ("GB Table Center", FANGSONG, WD_ALIGN_PARAGRAPH.CENTER),
        ("GB Table Head", HEITI, WD_ALIGN_PARAGRAPH.CENTER),
    ):
        st = _pstyle(doc, name, font, SIZE_5HAO, align=align, line=15)
        set_snap_to_grid(st, False)
        # The same at 小五, for a table the renderer sets smaller (tables.fit_tables): one
        # style per paragraph rather than a size on every run of a 500-row table.
        small = doc.styles.add_style(f"{name} Small", WD_STYLE_TYPE.PARAGRAPH)
        small.base_style = st
        small.font.size = Pt(SIZE_XIAO5)
        szcs = put(small.element.get_or_add_rPr(), OxmlElement("w:szCs"))
        szcs.set(qn("w:val"), str(int(SIZE_XIAO5 * 2)))
    # 7.4 版记: 4号仿宋, 抄送 indented one character each side; 印发机关 left, 印发日期 right.
    col = _pstyle(doc, "GB Colophon", FANGSONG, SIZE_4HAO, line=LINE_PT)
    set_char_indent(col, left_chars=1, right_chars=1, size=SIZE_4HAO)
    col.paragraph_format.tab_stops.add_tab_stop(
        Mm(TEXT_W_MM) - Pt(SIZE_4HAO), alignment=WD_TAB_ALIGNMENT.RIGHT  # right tab at the right indent
    )
    set_snap_to_grid(col, False)
    line = _pstyle(doc, "GB Colophon Line", FANGSONG, 1, line=1)
    set_snap_to_grid(line, False)
    # 7.5 页码: 4号半角宋体, — 1 —; odd right and even left, one character in.
    pn = _pstyle(doc, "GB Page Number", SONGTI, SIZE_4HAO, line=SIZE_4HAO)
    set_snap_to_grid(pn, False)
    # Chart and image paragraphs: centred, no fixed leading (an image needs its own height).
    _pstyle(doc, "GB Figure", FANGSONG, SIZE_3HAO, align=WD_ALIGN_PARAGRAPH.CENTER, line=None)
    # The empty paragraph Word needs after the floating 版记 table.
    # Off the line grid, or it takes a whole 28.95 pt line and can push the 版记 a page on.
    end = _pstyle(doc, "GB End", FANGSONG, 1, line=1)
    set_snap_to_grid(end, False)


def _page_field(p: Paragraph) -> None:
    """Append — PAGE — as runs with a PAGE field."""
    p.add_run("— ")
    r = p.add_run()
    r._r.append(parse_xml(f'<w:fldChar {nsdecls("w")} w:fldCharType="begin"/>'))
    r = p.add_run()
    instr = parse_xml(f'<w:instrText {nsdecls("w")} xml:space="preserve"> PAGE </w:instrText>')
    r._r.append(instr)
    r = p.add_run()
    r._r.append(parse_xml(f'<w:fldChar {nsdecls("w")} w:fldCharType="separate"/>'))
    p.add_run("1")
    r = p.add_run()
    r._r.append(parse_xml(f'<w:fldChar {nsdecls("w")} w:fldCharType="end"/>'))
    p.add_run(" —")


def _footers(doc: DocumentObject) -> None:
    """Odd footer: right, one character in; even footer: left, one character in."""
    sec = doc.sections[0]
    for footer, align, side in (
        (sec.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right"),
        (sec.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left"),
    ):
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0]
        p.style = doc.styles["GB Page Number"]
        p.alignment = align
        if side == "right":
            p.paragraph_format.right_indent = Pt(SIZE_4HAO)
        else:
            p.paragraph_format.left_indent = Pt(SIZE_4HAO)
        _page_field(p)


# ---------------------------------------------------------------- content helpers


def para(doc: DocumentObject, style: str, text: str = "") -> Paragraph:
    """Add a paragraph of one style with one run of text."""
    return doc.add_paragraph(text, style=doc.styles[style])


def tag(doc: DocumentObject, text: str) -> Paragraph:
    """A paragraph holding only a docxtpl {%p ... %} tag (removed when rendered)."""
    return doc.add_paragraph(text, style=doc.styles["GB Body"])


def requirement_loop(doc: DocumentObject, var: str = "requirements") -> None:
    """（一）heading in 楷体 run-in, then the body text in 仿宋 (the seeds' own style)."""
    tag(doc, f"{{%p for r in {var} %}}")
    p = para(doc, "GB Body")
    # One requirement is not numbered: a lone （一） reads as a missing （二）.
    p.add_run("{% if " + var + "|length > 1 %}（{{ loop.index|cn_numeral }}）{% endif %}"
              "{{ r.heading }}", style=doc.styles["GB Kai"])
    p.add_run("{{ r.text }}")
    tag(doc, "{%p endfor %}")


def requirements_section(doc: DocumentObject, heading: str) -> None:
    """The 要求 section under its numbered heading, left out when there are no requirements."""
    tag(doc, "{%p if requirements %}")
    para(doc, "GB Heading 1", heading)
    requirement_loop(doc)
    tag(doc, "{%p endif %}")


def letterhead(doc: DocumentObject) -> None:
    """版头: the red mark, the 文号 and the red separator under it."""
    para(doc, "GB Mark", "{{ issuer_mark }}")
    para(doc, "GB DocNumber", "{{ number }}")


def signature(doc: DocumentObject, seal: bytes) -> None:
    """署名, 成文日期, a floating seal placeholder over them, and the 附注 contact line."""
    p = para(doc, "GB Signature", "{{ issuer }}")
    _add_floating_seal(p, seal)
    para(doc, "GB Date", "{{ issued_on|cn_date }}")
    tag(doc, "{%p if contact %}")
    para(doc, "GB Note", "（联系人：{{ contact.name }}，联系电话：{{ contact.phone }}）")
    tag(doc, "{%p endif %}")


def _add_floating_seal(p: Paragraph, png: bytes) -> None:
    """A transparent 42 mm picture anchored to the signature, in front of the text.

    python-docx only inserts inline pictures, so the inline is rewritten as a wp:anchor.
    The renderer swaps in the issuer's electronic seal (docxtpl replace_pic) and moves it
    over the name and date; left transparent, it reserves the place for a stamped seal.
    """
    run = p.add_run()
    run.add_picture(io.BytesIO(png), width=Mm(SEAL_MM), height=Mm(SEAL_MM))
    inline = run._r.find(".//" + qn("wp:inline"))
    extent = inline.find(qn("wp:extent"))
    docpr = inline.find(qn("wp:docPr"))
    graphic = inline.find(qn("a:graphic"))
    cnvpr = graphic.find(".//" + qn("pic:cNvPr"))
    cnvpr.set("name", SEAL_NAME)
    cnvpr.set("descr", "{{ seal_text }}")
    docpr.set("name", "seal")
    docpr.set("descr", "{{ seal_text }}")
    anchor = parse_xml(
        f'<wp:anchor {nsdecls("wp", "a", "pic", "r")} distT="0" distB="0" distL="0" distR="0" '
        'simplePos="0" relativeHeight="251659264" behindDoc="0" locked="0" layoutInCell="1" '
        'allowOverlap="1">'
        '<wp:simplePos x="0" y="0"/>'
        '<wp:positionH relativeFrom="margin"><wp:posOffset>0</wp:posOffset></wp:positionH>'
        '<wp:positionV relativeFrom="paragraph"><wp:posOffset>0</wp:posOffset></wp:positionV>'
        '</wp:anchor>'
    )
    anchor.append(copy.deepcopy(extent))
    anchor.append(parse_xml(f'<wp:effectExtent {nsdecls("wp")} l="0" t="0" r="0" b="0"/>'))
    anchor.append(parse_xml(f'<wp:wrapNone {nsdecls("wp")}/>'))
    anchor.append(copy.deepcopy(docpr))
    anchor.append(parse_xml(f'<wp:cNvGraphicFramePr {nsdecls("wp")}/>'))
    anchor.append(copy.deepcopy(graphic))
    drawing = inline.getparent()
    drawing.replace(inline, anchor)
    # Start at the centre of the date's default place; the renderer refines it.
    centre_x = Mm(TEXT_W_MM) - Pt(4 * CHAR_PT) - Pt(3.5 * CHAR_PT)
    anchor.find(qn("wp:positionH")).find(qn("wp:posOffset")).text = str(
        int(centre_x - Mm(SEAL_MM) / 2)
    )
    anchor.find(qn("wp:positionV")).find(qn("wp:posOffset")).text = str(int(-Mm(SEAL_MM) / 2))


def transparent_png(px: int = 64) -> bytes:
    """A fully transparent square PNG (the seal placeholder), without any imaging library."""
    raw = b"".join(b"\x00" + b"\x00\x00\x00\x00" * px for _ in range(px))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", px, px, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def _cell_margins(tbl: Table, left_mm: float = 1.2, right_mm: float = 1.2) -> None:
    """Narrow cell margins so columns hold more characters."""
    tbl_pr = tbl._tbl.tblPr
    mar = OxmlElement("w:tblCellMar")
    for side, mm in (("top", 0.6), ("left", left_mm), ("bottom", 0.6), ("right", right_mm)):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(int(Mm(mm).twips)))
        el.set(qn("w:type"), "dxa")
        mar.append(el)
    put(tbl_pr, mar)


def _grid_borders(tbl: Table) -> None:
    """Thin black grid lines."""
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        borders.append(border_el(f"w:{side}", sz=4))
    put(tbl._tbl.tblPr, borders)


def _fixed_layout(tbl: Table, widths_mm: Sequence[float]) -> None:
    """Fixed layout and column widths summing to the text block."""
    tbl.autofit = False
    tbl.alignment = WD_TABLE_ALIGNMENT.CENTER
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    put(tbl._tbl.tblPr, layout)
    tblw = tbl._tbl.tblPr.find(qn("w:tblW"))
    tblw.set(qn("w:type"), "dxa")
    tblw.set(qn("w:w"), str(int(Mm(sum(widths_mm)).twips)))
    for col, w in zip(tbl.columns, widths_mm, strict=True):
        col.width = Mm(w)
        for cell in col.cells:
            cell.width = Mm(w)


def _set_cell(cell: _Cell, text: str, style: str, doc: DocumentObject) -> None:
    """Put one paragraph of one style in a cell."""
    p = cell.paragraphs[0]
    p.style = doc.styles[style]
    if text:
        p.add_run(text)
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER


def _repeat_header(row: Any) -> None:
    """Repeat the header row on every page the table spans."""
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _cant_split(row: Any) -> None:
    """Keep a row on one page (a problem's cells are read together)."""
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:cantSplit")
    el.set(qn("w:val"), "true")
    trpr.insert(0, el)


def loop_table(doc: DocumentObject, headers: Sequence[str], cells: Sequence[tuple[str, str]],
               widths_mm: Sequence[float], loop: str) -> Table:
    """A table: header row, then one data row repeated by a docxtpl {%tr for %} loop."""
    n = len(headers)
    tbl = doc.add_table(rows=4, cols=n)
    _fixed_layout(tbl, widths_mm)
    _grid_borders(tbl)
    _cell_margins(tbl)
    head, open_row, data, close_row = tbl.rows
    _repeat_header(head)
    _cant_split(head)
    _cant_split(data)
    for c, h in zip(head.cells, headers, strict=True):
        _set_cell(c, h, "GB Table Head", doc)
    _set_cell(open_row.cells[0], f"{{%tr for {loop} %}}", "GB Table", doc)
    for c, (text, style) in zip(data.cells, cells, strict=True):
        _set_cell(c, text, style, doc)
    _set_cell(close_row.cells[0], "{%tr endfor %}", "GB Table", doc)
    return tbl


def add_total_row(tbl: Table, doc: DocumentObject, cells: Sequence[tuple[str, str]]) -> None:
    """Append a fixed (non-looping) row, e.g. 合计."""
    row = tbl.add_row()
    _cant_split(row)
    for c, (text, style) in zip(row.cells, cells, strict=True):
        _set_cell(c, text, style, doc)


WPS_NS = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
COLOPHON_NAME = "colophon"


def _colophon_para(runs_xml: str, ind: str = "") -> str:
    """One 版记 text paragraph (GB Colophon: 左右各空一字)."""
    return f'<w:p><w:pPr><w:pStyle w:val="GBColophon"/>{ind}</w:pPr>{runs_xml}</w:p>'


def _colophon_line(sz: int) -> str:
    """A separator as wide as the text block: an empty 1 pt paragraph with a bottom border."""
    return ('<w:p><w:pPr><w:pStyle w:val="GBColophonLine"/><w:pBdr>'
            f'<w:bottom w:val="single" w:sz="{sz}" w:space="0" w:color="000000"/>'
            '</w:pBdr></w:pPr></w:p>')


def _t(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def colophon(doc: DocumentObject) -> None:
    """版记 (7.4) in a text box anchored to the last paragraph, aligned to the text block's foot.

    7.4.1 puts the last separator on the bottom edge of the text block of the last page.
    A wp:anchor aligned bottom relative to the margin does that in Word and LibreOffice (a
    floating table or a framePr paragraph is laid out inline by LibreOffice). The first and
    last lines are thick (0.35 mm, 1 pt), the line between thin (0.25 mm, 0.75 pt). The
    renderer sets the box height from the number of lines.
    """
    thick, thin = 8, 6  # eighths of a point
    printer = _t("{{ printer_name }}") + "<w:r><w:tab/></w:r>" + _t("{{ printed_date|cn_date }}印发")
    # 抄送 wraps under the first organ after the colon (7.4.2): hanging indent of 3 chars.
    hang = (f'<w:ind w:left="{round(4 * SIZE_4HAO * 20)}" '
            f'w:hanging="{round(3 * SIZE_4HAO * 20)}"/>')
    content = "".join([
        _colophon_line(thick),
        _colophon_para(_t("{%p if copy_to %}")),
        _colophon_para(_t("抄送：{{ copy_to|join('，') }}。"), hang),
        _colophon_line(thin),
        _colophon_para(_t("{%p endif %}")),
        _colophon_para(printer),
        _colophon_line(thick),
    ])
    width = int(Mm(TEXT_W_MM))
    height = int(Pt(2 * LINE_PT + 6))
    run = parse_xml(
        f'<w:r {nsdecls("w", "wp", "a")} xmlns:wps="{WPS_NS}"><w:drawing>'
        '<wp:anchor distT="0" distB="0" distL="0" distR="0" simplePos="0" '
        'relativeHeight="251660288" behindDoc="0" locked="0" layoutInCell="1" allowOverlap="0">'
        '<wp:simplePos x="0" y="0"/>'
        '<wp:positionH relativeFrom="margin"><wp:align>center</wp:align></wp:positionH>'
        '<wp:positionV relativeFrom="margin"><wp:align>bottom</wp:align></wp:positionV>'
        f'<wp:extent cx="{width}" cy="{height}"/>'
        '<wp:effectExtent l="0" t="0" r="0" b="0"/><wp:wrapTopAndBottom/>'
        f'<wp:docPr id="900" name="{COLOPHON_NAME}" descr="版记"/><wp:cNvGraphicFramePr/>'
        f'<a:graphic><a:graphicData uri="{WPS_NS}"><wps:wsp>'
        '<wps:cNvSpPr txBox="1"/><wps:spPr>'
        f'<a:xfrm><a:off x="0" y="0"/><a:ext cx="{width}" cy="{height}"/></a:xfrm>'
        '<a:prstGeom prst="rect"><a:avLst/></a:prstGeom><a:noFill/><a:ln><a:noFill/></a:ln>'
        f'</wps:spPr><wps:txbx><w:txbxContent>{content}</w:txbxContent></wps:txbx>'
        '<wps:bodyPr rot="0" vert="horz" wrap="square" lIns="0" tIns="0" rIns="0" bIns="0" '
        'anchor="b" anchorCtr="0"><a:noAutofit/></wps:bodyPr>'
        '</wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></w:r>'
    )
    end = para(doc, "GB End")
    end._p.append(run)


# ---------------------------------------------------------------- the five documents


def opening(addressee: str | None) -> DocumentObject:
    """A new document: letterhead, title, the addressee line (the field named, if any), intro."""
    doc = new_document()
    letterhead(doc)
    para(doc, "GB Title", "{{ title }}")
    if addressee:
        para(doc, "GB Addressee", f"{{{{ {addressee} }}}}：")
    para(doc, "GB Body", "{{ intro }}")
    return doc


def build_notice(seal: bytes) -> DocumentObject:
    """督办通知书: letterhead, problems summary, requirements, seal, attachment table."""
    doc = opening("addressee")
    para(doc, "GB Heading 1", "一、问题情况")
    para(doc, "GB Body",
         "经汇总核实，{{ summary_text }}，涉及{{ town_count }}个"
         "{{ place_word }}{{ village_count }}个村，最早整改时限为{{ earliest_deadline|cn_date }}。"
         "具体问题见附件。")
    requirements_section(doc, "二、整改要求")
    para(doc, "GB Attachment Note",
         "附件：{{ attachment_title }}{% if list_file %}（电子表格：{{ list_file }}）{% endif %}")
    signature(doc, seal)
    para(doc, "GB Attachment Label", "附件")
    para(doc, "GB Attachment Title", "{{ attachment_title }}")
    # Over DUBAN_NOTICE_INLINE_LIMIT problems the full list is a spreadsheet beside the .docx
    # and this page summarises it per town; at or below it, the page is the full table.
    para(doc, "GB Body", "{%p if list_file %}")
    para(doc, "GB Body",
         "本清单共列问题{{ problems|length }}个（牵头{{ lead_count }}个、配合{{ co_count }}个），"
         "按{{ place_word }}汇总如下。逐项清单（序号、问题编号、乡镇（村）、户主、问题描述、"
         "整改要求、整改时限、配合单位）见随本通知书下发的电子表格《{{ list_file }}》。")
    summary = loop_table(
        doc,
        ["序号", "{{ place_word }}", "问题数", "牵头", "配合", "最早整改时限"],
        [("{{ loop.index }}", "GB Table Center"), ("{{ t.town }}", "GB Table"),
         ("{{ t.problems }}", "GB Table Center"), ("{{ t.leads }}", "GB Table Center"),
         ("{{ t.co }}", "GB Table Center"), ("{{ t.earliest|cn_date }}", "GB Table Center")],
        [14, 50, 20, 20, 20, 32],
        "t in town_summary",
    )
    add_total_row(summary, doc, [
        ("", "GB Table Center"), ("合计", "GB Table Center"),
        ("{{ problems|length }}", "GB Table Center"), ("{{ lead_count }}", "GB Table Center"),
        ("{{ co_count }}", "GB Table Center"),
        ("{{ earliest_deadline|cn_date }}", "GB Table Center")])
    para(doc, "GB Body", "{%p else %}")
    loop_table(
        doc,
        ["序号", "问题编号", "乡镇（村）", "户主", "问题描述", "整改要求", "整改时限", "配合单位"],
        [("{{ p.seq }}", "GB Table Center"), ("{{ p.code }}", "GB Table Center"),
         ("{{ p.location }}", "GB Table"), ("{{ p.household }}", "GB Table Center"),
         ("{{ p.description }}", "GB Table"), ("{{ p.requirement }}", "GB Table"),
         ("{{ p.deadline|cn_date }}", "GB Table Center"),
         ("{{ p.co_offices_text }}", "GB Table")],
        # 整改时限 wide enough for "2022年10月" on a line (15 mm broke a date over 4 lines).
        [9, 18, 21, 13, 33, 22, 25, 15],
        "p in problems",
    )
    para(doc, "GB Body", "{%p endif %}")
    colophon(doc)
    return doc


def build_reminder(seal: bytes) -> DocumentObject:
    """催办通知: the office's items near or past their deadline, with warning lights."""
    doc = opening("office")
    para(doc, "GB Heading 1", "一、临期和逾期问题")
    para(doc, "GB Body",
         "截至{{ as_of|cn_date }}，你单位尚有{{ items|length }}个问题未完成整改，其中已逾期"
         "{{ overdue_count }}个（红色），临近整改时限{{ due_soon_count }}个，具体见附件。"
         "逾期和剩余时间按工作日计算。")
    requirements_section(doc, "二、有关要求")
    para(doc, "GB Attachment Note", "附件：临期和逾期问题清单")
    signature(doc, seal)
    para(doc, "GB Attachment Label", "附件")
    para(doc, "GB Attachment Title", "临期和逾期问题清单")
    loop_table(
        doc,
        ["序号", "问题编号", "乡镇（村）", "问题描述", "整改时限", "状态"],
        [("{{ i.seq }}", "GB Table Center"), ("{{ i.code }}", "GB Table Center"),
         ("{{ i.town }}{{ i.village }}", "GB Table"), ("{{ i.description }}", "GB Table"),
         ("{{ i.deadline|cn_date }}", "GB Table Center"),
         ("{% cellbg i.colour_fill %}{{ i.status_text }}（{{ i.colour_label }}）",
          "GB Table Center")],
        [10, 24, 28, 52, 20, 22],
        "i in items",
    )
    colophon(doc)
    return doc


def build_bulletin(seal: bytes) -> DocumentObject:
    """通报: overdue items by town and by office, details in the attachment."""
    doc = opening("addressee")
    para(doc, "GB Heading 1", "一、总体情况")
    para(doc, "GB Body",
         "截至{{ as_of|cn_date }}，{{ area_word }}共有逾期未整改问题{{ total_overdue }}个，涉及"
         "{{ by_town|length }}个{{ place_word }}、{{ by_office|length }}个责任单位。")
    para(doc, "GB Heading 1", "二、{{ place_word }}逾期情况")
    loop_table(doc, ["序号", "{{ place_word }}", "逾期问题数", "最长逾期（工作日）"],
               [("{{ loop.index }}", "GB Table Center"), ("{{ g.name }}", "GB Table"),
                ("{{ g.count }}", "GB Table Center"),
                ("{{ g.max_days_overdue }}", "GB Table Center")],
               [14, 72, 35, 35], "g in by_town")
    para(doc, "GB Heading 1", "三、责任单位逾期情况")
    loop_table(doc, ["序号", "责任单位", "逾期问题数", "最长逾期（工作日）"],
               [("{{ loop.index }}", "GB Table Center"), ("{{ g.name }}", "GB Table"),
                ("{{ g.count }}", "GB Table Center"),
                ("{{ g.max_days_overdue }}", "GB Table Center")],
               [14, 72, 35, 35], "g in by_office")
    requirements_section(doc, "四、有关要求")
    para(doc, "GB Attachment Note", "附件：逾期问题明细")
    signature(doc, seal)
    para(doc, "GB Attachment Label", "附件")
    para(doc, "GB Attachment Title", "逾期问题明细")
    loop_table(
        doc,
        ["序号", "问题编号", "责任单位", "乡镇（村）", "问题描述", "整改时限", "逾期工作日"],
        [("{{ loop.index }}", "GB Table Center"), ("{{ i.code }}", "GB Table Center"),
         ("{{ i.office }}", "GB Table"), ("{{ i.town }}{{ i.village }}", "GB Table"),
         ("{{ i.description }}", "GB Table"), ("{{ i.deadline|cn_date }}", "GB Table Center"),
         ("{{ i.days_overdue }}", "GB Table Center")],
        [10, 20, 22, 22, 41, 24, 17],
        "i in items",
    )
    colophon(doc)
    return doc


_DAILY_HEADERS = ["名称", "排查发现", "已交办", "整改中", "待复核", "已销号", "逾期",
                  "销号率", "较昨日"]
_DAILY_WIDTHS = [26, 13, 13, 13, 13, 13, 13, 19, 33]  # 销号率 fits "100.0%" on one line


# The closing report (总结报告) has no 较昨日 column: a day's change means nothing in a summary
# of the whole campaign; its width goes to the other columns.
_CLOSING_WIDTHS = [43, 15, 15, 15, 15, 15, 15, 23]


def _daily_cells(v: str, change: bool = True) -> list[tuple[str, str]]:
    """The cells of one daily row whose variable is `v` (without 较昨日 when not `change`)."""
    c = "GB Table Center"
    cells = [(f"{{{{ {v}.name }}}}", "GB Table"), (f"{{{{ {v}.found }}}}", c),
             (f"{{{{ {v}.routed }}}}", c), (f"{{{{ {v}.rectifying }}}}", c),
             (f"{{{{ {v}.awaiting_review }}}}", c), (f"{{{{ {v}.closed }}}}", c),
             (f"{{{{ {v}.overdue }}}}", c), (f"{{{{ {v}.rate_text }}}}", c),
             (f"{{{{ {v}.change_text }}}}", c)]
    return cells if change else cells[:-1]


def build_daily_report(seal: bytes, *, closing: bool = False) -> DocumentObject:
    """整改进度日报: town and office tables with totals, and the trend chart; `closing`: the
    campaign's 总结报告, the same report without the day's change."""
    del seal  # reports carry no seal
    doc = opening(None)
    change = not closing
    heads = _DAILY_HEADERS[1:] if change else _DAILY_HEADERS[1:-1]
    widths = _DAILY_WIDTHS if change else _CLOSING_WIDTHS
    para(doc, "GB Heading 1", "一、{{ place_word }}整改进度")
    t = loop_table(doc, ["{{ place_word }}", *heads], _daily_cells("r", change), widths,
                   "r in towns")
    add_total_row(t, doc, _daily_cells("town_total", change))
    para(doc, "GB Heading 1", "二、责任单位整改进度")
    t = loop_table(doc, ["责任单位", *heads], _daily_cells("r", change), widths, "r in offices")
    add_total_row(t, doc, _daily_cells("office_total", change))
    para(doc, "GB Heading 1", "三、问题来源分布")
    t = loop_table(doc, ["问题来源", *heads], _daily_cells("r", change), widths, "r in sources")
    add_total_row(t, doc, _daily_cells("source_total", change))
    para(doc, "GB Heading 1", "四、{{ period_word }}随机抽查")
    para(doc, "GB Body", "{{ spot_check_text }}")
    tag(doc, "{%p if spot_checks %}")
    c = "GB Table Center"
    loop_table(doc, ["督查组", "抽查", "合格", "不合格", "待检查"],
               [("{{ g.group }}", "GB Table"), ("{{ g.drawn }}", c), ("{{ g.passed }}", c),
                ("{{ g.failed }}", c), ("{{ g.pending }}", c)],
               [60, 24, 24, 24, 24], "g in spot_checks")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if spot_check_failures %}")
    para(doc, "GB Body", "{{ failures_text }}")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if failures_listed %}")
    loop_table(doc, ["序号", "督查组", "抽查对象", "乡镇（村）", "情况说明"],
               [("{{ loop.index }}", c), ("{{ f.group }}", "GB Table"),
                ("{{ f.kind }}：{{ f.item }}", "GB Table"), ("{{ f.place }}", "GB Table"),
                ("{{ f.note }}", "GB Table")],
               [12, 34, 36, 34, 40], "f in failures_listed")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if duty_section %}")
    para(doc, "GB Heading 1", "五、常态化工作与整改节点")
    tag(doc, "{%p if duty_text %}")
    para(doc, "GB Body", "{{ duty_text }}")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if duty_units %}")
    loop_table(doc, ["责任单位", "{{ duty_heads[0] }}", "{{ duty_heads[1] }}",
                     "{{ duty_heads[2] }}", "{{ duty_heads[3] }}"],
               [("{{ u.unit }}", "GB Table"), ("{{ u.due }}", c), ("{{ u.done }}", c),
                ("{{ u.undone }}", c), ("{{ u.missed }}", c)],
               [56, 24, 24, 24, 28], "u in duty_units")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if milestone_text %}")
    para(doc, "GB Body", "{{ milestone_text }}")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if milestones_missed %}")
    loop_table(doc, ["序号", "问题编号", "节点", "应完成日期", "牵头单位", "乡镇（村）"],
               [("{{ loop.index }}", c), ("{{ m.problem }}", c), ("{{ m.name }}", c),
                ("{{ m.date|cn_date }}", c), ("{{ m.office }}", "GB Table"),
                ("{{ m.place }}", "GB Table")],
               [12, 22, 16, 32, 34, 40], "m in milestones_missed")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p endif %}")
    para(doc, "GB Heading 1", "{{ '六' if duty_section else '五' }}、整改趋势")
    para(doc, "GB Figure", "{{ chart }}")
    para(doc, "GB Signature", "{{ issuer }}")
    para(doc, "GB Date", "{{ issued_on|cn_date }}")
    colophon(doc)
    return doc


def build_closing_report(seal: bytes) -> DocumentObject:
    """总结报告: the daily report's sections over the whole campaign, without 较昨日."""
    return build_daily_report(seal, closing=True)


def build_ranking(seal: bytes) -> DocumentObject:
    """月考评通报: ranking table, commendations, the last place, penalties."""
    doc = opening("addressee")
    para(doc, "GB Heading 1", "一、考评结果")
    loop_table(doc, ["名次", "{{ ranked_unit }}", "得分明细", "扣分", "总分", "备注"],
               [("{{ r.rank }}", "GB Table Center"), ("{{ r.town }}", "GB Table"),
                ("{{ r.breakdown }}", "GB Table"), ("{{ r.deduction|score(deduction_places) }}", "GB Table Center"),
                ("{{ r.total|score(total_places) }}", "GB Table Center"), ("{{ r.remark }}", "GB Table")],
               [12, 30, 62, 14, 16, 22], "r in rows")
    para(doc, "GB Heading 1", "二、表彰和检讨")
    para(doc, "GB Body",
         "{% if commend_top or name_last %}根据{{ year }}年{{ month }}月考评结果，"
         "{% else %}{{ year }}年{{ month }}月{% endif %}{% if commended %}{{ commended|join('、') }}位列前"
         "{{ commend_top|cn_numeral }}名，给予通报表扬；{% endif %}{% if named_last %}"
         "{{ named_last|join('、') }}位列后{{ name_last|cn_numeral }}名，在{{ area_word }}推进会上作检讨发言，"
         "限期整改。{% endif %}{% if commend_top and not commended and name_last and not named_last %}"
         "前{{ commend_top|cn_numeral }}名和末位成绩均有并列，本月不作表彰和末位检讨；"
         "{% elif commend_top and not commended %}前{{ commend_top|cn_numeral }}名成绩并列，"
         "本月不作表彰；{% elif name_last and not named_last %}末位成绩并列，本月不作末位检讨；"
         "{% endif %}考评结果计入年底总成绩。")
    tag(doc, "{%p if penalties %}")
    para(doc, "GB Heading 1", "三、处罚情况")
    para(doc, "GB Body", "本月共处罚{{ penalties|length }}项，合计{{ penalty_total }}元，具体如下：")
    loop_table(doc, ["序号", "处罚对象", "事由", "金额（元）"],
               [("{{ loop.index }}", "GB Table Center"), ("{{ x.target }}", "GB Table"),
                ("{{ x.reason }}", "GB Table"), ("{{ x.amount_yuan }}", "GB Table Center")],
               [12, 40, 78, 26], "x in penalties")
    tag(doc, "{%p endif %}")
    requirements_section(doc, "{{ '四' if penalties else '三' }}、有关要求")
    signature(doc, seal)
    colophon(doc)
    return doc


def build_ledger(seal: bytes) -> DocumentObject:
    """整改台账 printed: a 横排 (landscape) A4 table under its title (GB/T 9704 section 8).

    A 台账 is a working record, not a 公文: no 版头 (文号, mark), no 落款 or seal, no 版记.
    The landscape page keeps the 225 × 156 mm text block turned: the 订口 (28 mm) at the head
    of the table, as section 8 puts an odd page's table head on the binding side.
    """
    del seal  # a ledger carries no seal
    doc = new_document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.LANDSCAPE
    sec.page_width, sec.page_height = Mm(PAGE_H), Mm(PAGE_W)
    sec.top_margin, sec.bottom_margin = Mm(LEFT), Mm(RIGHT)
    sec.left_margin, sec.right_margin = Mm(TOP), Mm(BOTTOM)
    sec.footer_distance = Mm(RIGHT - 7 - 4.5)  # 7.5: the dash 7 mm under the text block
    para(doc, "GB Title", "{{ title }}")
    para(doc, "GB Body",
         "截至{{ as_of|cn_date }}，{{ scope }}共有问题{{ total }}个，已销号{{ closed }}个，"
         "逾期未整改{{ overdue_count }}个。")
    para(doc, "GB Addressee", "填报单位：{{ issuer }}")
    loop_table(
        doc,
        ["序号", "问题编号", "乡镇（村）", "问题类别", "问题描述", "牵头责任单位", "整改时限",
         "状态", "销号日期"],
        [("{{ loop.index }}", "GB Table Center"), ("{{ i.code }}", "GB Table Center"),
         ("{{ i.location }}", "GB Table"), ("{{ i.category }}", "GB Table"),
         ("{{ i.description }}", "GB Table"), ("{{ i.office }}", "GB Table"),
         ("{{ i.deadline|cn_date }}", "GB Table Center"), ("{{ i.status }}", "GB Table Center"),
         ("{{ i.closed_on|cn_date }}", "GB Table Center")],
        [10, 22, 28, 18, 61, 24, 25, 12, 25],  # 225 mm; fit_tables sets them from the rows
        "i in items",
    )
    # A body must not end in a table: Word adds a paragraph after it, in Normal's 28.95 pt
    # line, which spills onto a blank page when the table ends near the foot of the page.
    para(doc, "GB End")
    return doc


BUILDERS: dict[str, Callable[[bytes], DocumentObject]] = {
    "notice.docx": build_notice,
    "reminder.docx": build_reminder,
    "bulletin.docx": build_bulletin,
    "daily_report.docx": build_daily_report,
    "closing_report.docx": build_closing_report,
    "ranking.docx": build_ranking,
    "ledger.docx": build_ledger,
}


_KEEP_STYLES = {"Normal", "DefaultParagraphFont", "TableNormal", "NoList"}


def trim_package(doc: DocumentObject) -> None:
    """Drop what python-docx's default template carries and we never use.

    Its styles.xml (360 KB of latent and unused styles), stylesWithEffects.xml (438 KB), the
    thumbnail and customXml would be parsed and written again for every rendered document.
    """
    styles = doc.styles.element
    latent = styles.find(qn("w:latentStyles"))
    if latent is not None:
        styles.remove(latent)
    for st in list(styles.findall(qn("w:style"))):
        sid = st.get(qn("w:styleId"))
        if sid not in _KEEP_STYLES and not sid.startswith("GB"):
            styles.remove(st)
    for st in styles.findall(qn("w:style")):  # links to removed styles
        for tagname in ("w:link", "w:next"):
            el = st.find(qn(tagname))
            if el is not None and el.get(qn("w:val")) not in {
                s.get(qn("w:styleId")) for s in styles.findall(qn("w:style"))
            }:
                st.remove(el)
    part = doc.part
    for rid, rel in list(part.rels.items()):
        if rel.reltype.endswith(("/stylesWithEffects", "/customXml")):
            part.drop_rel(rid)
    pkg_rels = part.package.rels
    for rid, rel in list(pkg_rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del pkg_rels[rid]


def build_all(out_dir: Path = DEFAULT_OUT) -> list[Path]:
    """Write every template into out_dir and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seal = transparent_png()
    written = []
    for name, builder in BUILDERS.items():
        doc = builder(seal)
        trim_package(doc)
        core = doc.core_properties
        core.author = "duban"
        core.title = name.removesuffix(".docx")
        core.comments = "GB/T 9704-2012 template; rebuild with tools/build_doc_templates.py"
        path = out_dir / name
        buf = io.BytesIO()
        doc.save(buf)
        path.write_bytes(reproducible_zip(buf.getvalue()))
        written.append(path)
    return written


def reproducible_zip(data: bytes) -> bytes:
    """The same package with every entry dated 1980-01-01, so a rebuild that changes nothing
    writes the same bytes (git then shows only the templates a change touched)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def main(argv: Sequence[str]) -> int:
    """Entry point: build into argv[1] or templates/documents/."""
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    for path in build_all(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

