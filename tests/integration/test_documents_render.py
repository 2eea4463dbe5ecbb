"""Every document kind renders, and each GB/T 9704-2012 rule holds in the .docx."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from duban.adapters.documents import (
    render_bulletin,
    render_daily_report,
    render_notice,
    render_ranking,
    render_reminder,
)
from duban.adapters.documents.charts import CJK_FAMILIES, cjk_font_family
from duban.domain.numbering import parse_document_number
from tests.integration.test_documents_fixtures import (
    ALL_CONTEXTS,
    COPY_TO,
    MARK,
    body_paragraphs,
    daily_context,
    notice_context,
    para_style,
    para_text,
    paragraphs_with_style,
    ppr_prop,
    ranking_context,
    reminder_context,
    require,
    run_prop,
    text_runs,
)

RENDERERS = {
    "notice": render_notice,
    "reminder": render_reminder,
    "bulletin": render_bulletin,
    "daily_report": render_daily_report,
    "ranking": render_ranking,
}
WP_ANCHOR = qn("wp:anchor")


def _render(kind: str, tmp_path: Path) -> tuple[Any, DocumentObject, Path]:
    ctx = ALL_CONTEXTS[kind]()
    out = RENDERERS[kind](ctx, tmp_path / f"{kind}.docx")
    return ctx, Document(str(out)), out


@pytest.fixture(scope="module", params=sorted(RENDERERS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             ) -> tuple[str, Any, DocumentObject, Path]:
    kind = request.param
    ctx, doc, out = _render(kind, tmp_path_factory.mktemp(kind))
    return kind, ctx, doc, out


def _mm(length: int | None) -> float:
    assert length is not None
    return length / Mm(1)


def test_page_is_a4_with_gbt_margins(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    _kind, _ctx, doc, _ = rendered
    sec = doc.sections[0]
    assert _mm(sec.page_width) == pytest.approx(210, abs=0.1)
    assert _mm(sec.page_height) == pytest.approx(297, abs=0.1)
    assert _mm(sec.top_margin) == pytest.approx(37, abs=0.1)
    assert _mm(sec.bottom_margin) == pytest.approx(35, abs=0.1)
    assert _mm(sec.left_margin) == pytest.approx(28, abs=0.1)
    assert _mm(sec.right_margin) == pytest.approx(26, abs=0.1)
    # 版心 156 x 225 mm
    text_w = _mm(sec.page_width) - _mm(sec.left_margin) - _mm(sec.right_margin)
    assert text_w == pytest.approx(156, abs=0.1)


def test_22_lines_of_28_characters(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    _kind, _ctx, doc, _ = rendered
    grid = doc.sections[0]._sectPr.find(qn("w:docGrid"))
    pitch_pt = int(grid.get(qn("w:linePitch"))) / 20
    assert 225 / (pitch_pt * 25.4 / 72) == pytest.approx(22, abs=0.05)
    body = paragraphs_with_style(doc, "GBBody")
    assert body, "no body paragraphs"
    for p in body:
        assert ppr_prop(doc, p, "w:spacing", "w:lineRule") == "exact"
        assert int(ppr_prop(doc, p, "w:spacing", "w:line") or 0) == int(grid.get(qn("w:linePitch")))
        # 3号 16 pt plus character spacing: 28 characters fill the 156 mm line
        size = int(run_prop(doc, p, None, "w:sz", "w:val") or 0) / 2
        spacing = int(run_prop(doc, p, None, "w:spacing", "w:val") or 0) / 20
        per_line = Mm(156).pt / (size + spacing)
        assert int(per_line) == 28, per_line
        assert ppr_prop(doc, p, "w:ind", "w:firstLineChars") == "200"  # 左空二字


def test_body_is_3hao_fangsong_with_east_asian_font(
    rendered: tuple[str, Any, DocumentObject, Path],
) -> None:
    _kind, _ctx, doc, _ = rendered
    for p in paragraphs_with_style(doc, "GBBody"):
        for r in text_runs(p):
            if r.find(qn("w:rPr")) is not None and r.find(qn("w:rPr")).find(qn("w:rStyle")) is not None:
                continue  # the 楷体 run-in heading, checked below
            assert run_prop(doc, p, r, "w:rFonts", "w:eastAsia") == "仿宋_GB2312"
            assert run_prop(doc, p, r, "w:rFonts", "w:ascii") == "仿宋_GB2312"
            assert run_prop(doc, p, r, "w:sz", "w:val") == "32"


def test_mark_is_red_xiaobiaosong_centred(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    _kind, _ctx, doc, _ = rendered
    (mark,) = paragraphs_with_style(doc, "GBMark")
    assert para_text(mark) == MARK
    assert ppr_prop(doc, mark, "w:jc", "w:val") == "center"
    # 7.2.4: top edge 35 mm under the top of the text block (space before, less leading)
    before_mm = int(ppr_prop(doc, mark, "w:spacing", "w:before") or 0) / 20 * 25.4 / 72
    assert 30 <= before_mm <= 35
    # the 22-character name is too long for one legible line: two lines, broken between words
    lines = "".join("\n" if el.tag == qn("w:br") else (el.text or "")
                    for el in mark.iter(qn("w:t"), qn("w:br"))).split("\n")
    assert lines == ["沈丘县巩固拓展脱贫攻坚成果", "工作领导小组办公室"]
    for r in text_runs(mark):
        assert run_prop(doc, mark, r, "w:color", "w:val") == "FF0000"
        assert run_prop(doc, mark, r, "w:rFonts", "w:eastAsia") == "方正小标宋简体"
        size = int(run_prop(doc, mark, r, "w:sz", "w:val") or 0) / 2
        scale = int(run_prop(doc, mark, r, "w:w", "w:val") or 100) / 100
        # each line fits the text block, at a readable size and width
        assert max(len(x) for x in lines) * size * scale <= Mm(156).pt + 0.5
        assert size >= 28 and scale >= 0.85


def test_number_and_red_separator(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    kind, ctx, doc, _ = rendered
    (num,) = paragraphs_with_style(doc, "GBDocNumber")
    text = para_text(num)
    assert text == ctx.number
    if kind != "daily_report":
        parsed = parse_document_number(text)
        assert str(parsed) == text and "〔" in text and not re.search(r"〕0", text)
    assert ppr_prop(doc, num, "w:jc", "w:val") == "center"
    assert ppr_prop(doc, num, "w:spacing", "w:before") == str(round(2 * 28.95 * 20))  # 空二行
    # 7.2.7: a red line as wide as the text block, 4 mm under the number's characters (5 pt
    # under its 28.95 pt line; test_documents_layout measures the PDF)
    assert ppr_prop(doc, num, "w:pBdr/w:bottom", "w:color") == "FF0000"
    assert ppr_prop(doc, num, "w:pBdr/w:bottom", "w:val") == "single"
    assert int(ppr_prop(doc, num, "w:pBdr/w:bottom", "w:space") or 0) == 5
    assert int(ppr_prop(doc, num, "w:pBdr/w:bottom", "w:sz") or 0) >= 8  # >= 0.35 mm
    assert ppr_prop(doc, num, "w:ind", "w:left") is None  # no indent: full width


def test_title_is_2hao_xiaobiaosong(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    _kind, ctx, doc, _ = rendered
    (title,) = paragraphs_with_style(doc, "GBTitle")
    assert para_text(title) == ctx.title
    assert ppr_prop(doc, title, "w:jc", "w:val") == "center"
    for r in text_runs(title):
        assert run_prop(doc, title, r, "w:rFonts", "w:eastAsia") == "方正小标宋简体"
        assert run_prop(doc, title, r, "w:sz", "w:val") == "44"
        assert run_prop(doc, title, r, "w:color", "w:val") in (None, "000000", "auto")


def test_headings_heiti_and_kaiti(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    kind, ctx, doc, _ = rendered
    h1 = paragraphs_with_style(doc, "GBHeading1")
    assert h1
    numerals = "一二三四五六"
    for i, p in enumerate(h1):
        assert para_text(p).startswith(numerals[i] + "、")
        for r in text_runs(p):
            assert run_prop(doc, p, r, "w:rFonts", "w:eastAsia") == "黑体"
    if kind == "daily_report":
        return
    kai = [(p, r) for p in paragraphs_with_style(doc, "GBBody") for r in text_runs(p)
           if run_prop(doc, p, r, "w:rFonts", "w:eastAsia") == "楷体_GB2312"]
    # a lone requirement is not numbered (a （一） without （二）)
    first = next(para_text(p) for p, _r in kai)
    assert first.startswith("（一）") == (len(ctx.requirements) > 1)
    assert len(kai) == len(ctx.requirements)


def test_page_numbers_in_footer(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    _kind, _ctx, doc, _out = rendered
    assert doc.settings.odd_and_even_pages_header_footer
    sec = doc.sections[0]
    for footer, jc, side in ((sec.footer, "right", "w:right"),
                             (sec.even_page_footer, "left", "w:left")):
        (p,) = footer.paragraphs
        el = p._p
        assert ppr_prop(doc, el, "w:jc", "w:val") == jc
        assert int(ppr_prop(doc, el, "w:ind", side) or 0) == 14 * 20  # 空一字 at 4号
        instr = "".join(t.text or "" for t in el.iter(qn("w:instrText")))
        assert instr.strip() == "PAGE"
        assert re.fullmatch(r"— \d+ —", para_text(el))
        for r in text_runs(el):
            assert run_prop(doc, el, r, "w:rFonts", "w:eastAsia") == "宋体"
            assert run_prop(doc, el, r, "w:sz", "w:val") == "28"
    # 7 mm between the text block and the dash: footer sits inside the 35 mm bottom margin
    assert 20 <= _mm(sec.footer_distance) <= 28


def test_colophon_at_foot_with_lines(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    _kind, ctx, doc, _ = rendered
    docpr = [d for d in doc.element.body.iter(qn("wp:docPr")) if d.get("name") == "colophon"]
    assert len(docpr) == 1
    anchor = docpr[0].getparent()
    assert anchor.tag == WP_ANCHOR
    pos_v = anchor.find(qn("wp:positionV"))
    assert pos_v.get("relativeFrom") == "margin"
    assert pos_v.find(qn("wp:align")).text == "bottom"
    assert int(anchor.find(qn("wp:extent")).get("cx")) == pytest.approx(Mm(156), abs=Mm(0.1))
    # the anchor sits in the last body paragraph: the 版记 is on the last page
    assert body_paragraphs(doc)[-1] is anchor.getparent().getparent().getparent() or \
        anchor in list(doc.element.body.findall(qn("w:p"))[-1].iter(WP_ANCHOR))
    paras = list(anchor.iter(qn("w:p")))
    texts = [para_text(p) for p in paras if para_text(p)]
    lines = [int(p.find(qn("w:pPr")).find(qn("w:pBdr")).find(qn("w:bottom")).get(qn("w:sz")))
             for p in paras if para_style(p) == "GBColophonLine"]
    if ctx.copy_to:
        assert texts[0] == "抄送：" + "，".join(ctx.copy_to) + "。"
        assert lines == [8, 6, 8]  # thick, thin, thick (0.35 / 0.25 mm)
    else:
        assert lines == [8, 8]
    printer = texts[-1]
    assert printer.startswith(ctx.printer_name + "\t")
    assert printer.endswith(f"{ctx.printed_date.year}年{ctx.printed_date.month}月"
                            f"{ctx.printed_date.day}日印发")
    for p in paras:
        if para_text(p):
            assert run_prop(doc, p, text_runs(p)[0], "w:sz", "w:val") == "28"  # 4号
            assert run_prop(doc, p, text_runs(p)[0], "w:rFonts", "w:eastAsia") == "仿宋_GB2312"


def test_date_in_arabic_numerals_and_signature(
    rendered: tuple[str, Any, DocumentObject, Path],
) -> None:
    _kind, ctx, doc, _ = rendered
    (date,) = paragraphs_with_style(doc, "GBDate")
    d = ctx.issued_on
    assert para_text(date) == f"{d.year}年{d.month}月{d.day}日"
    assert re.fullmatch(r"\d{4}年[1-9]\d?月[1-9]\d?日", para_text(date))
    (sig,) = paragraphs_with_style(doc, "GBSignature")
    assert para_text(sig) == ctx.issuer
    # the name is centred over the date: equal distance from the right margin to centres
    sig_r = int(ppr_prop(doc, sig, "w:ind", "w:right") or 0) / 20
    date_r = int(ppr_prop(doc, date, "w:ind", "w:right") or 0) / 20
    assert date_r == pytest.approx(64, abs=0.1) or sig_r == pytest.approx(32, abs=0.1)
    ws, wd = len(ctx.issuer) * 16, (len(para_text(date)) - 3) * 16  # digits are half width
    assert sig_r + ws / 2 == pytest.approx(date_r + wd / 2, abs=9)


def test_seal_placeholder_floats_over_signature(
    rendered: tuple[str, Any, DocumentObject, Path],
) -> None:
    kind, ctx, doc, _ = rendered
    (sig,) = paragraphs_with_style(doc, "GBSignature")
    anchors = list(sig.iter(WP_ANCHOR))
    if kind == "daily_report":
        assert anchors == []
        return
    (anchor,) = anchors
    assert anchor.find(qn("wp:wrapNone")) is not None  # floats over the name and date
    assert int(anchor.find(qn("wp:extent")).get("cx")) == pytest.approx(Mm(42), abs=Mm(0.1))
    assert anchor.find(qn("wp:docPr")).get("descr") == ctx.seal_text


def test_no_template_tags_left(rendered: tuple[str, Any, DocumentObject, Path]) -> None:
    _kind, _ctx, _doc, out = rendered
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.endswith(".xml"):
                xml = z.read(name).decode("utf-8")
                assert "{{" not in xml and "{%" not in xml, name


def test_notice_lists_every_problem(tmp_path: Path) -> None:
    ctx = notice_context(23)
    doc = Document(str(render_notice(ctx, tmp_path / "n.docx")))
    table = doc.tables[0]
    assert len(table.rows) == 1 + 23
    assert table.rows[0].cells[0].text == "序号"
    for row, p in zip(table.rows[1:], ctx.problems, strict=True):
        assert row.cells[0].text == str(p.seq)
        assert row.cells[1].text == p.code
        assert row.cells[4].text == p.description
        assert row.cells[6].text == f"{p.deadline.year}年{p.deadline.month}月{p.deadline.day}日"
    text = "\n".join(para_text(p) for p in body_paragraphs(doc))
    assert "需你单位牵头整改的问题共23个" in text
    assert f"（联系人：{ctx.contact.name}，联系电话：{ctx.contact.phone}）" in text
    assert "附件：督办问题清单" in text


def test_notice_escapes_markup_in_data(tmp_path: Path) -> None:
    ctx = notice_context(1, intro="收入<6900元 & 未纳入监测“{{ 1 + 1 }}”")
    doc = Document(str(render_notice(ctx, tmp_path / "n.docx")))
    texts = [para_text(p) for p in body_paragraphs(doc)]
    assert "收入<6900元 & 未纳入监测“{{ 1 + 1 }}”" in texts


def test_title_line_break_chosen_by_author(tmp_path: Path) -> None:
    ctx = notice_context(1, title="关于槐店回族镇等乡镇监测帮扶问题\n整改的督办通知书")
    doc = Document(str(render_notice(ctx, tmp_path / "n.docx")))
    (title,) = paragraphs_with_style(doc, "GBTitle")
    assert title.find(".//" + qn("w:br")) is not None


def test_reminder_shades_cells_by_colour(tmp_path: Path) -> None:
    ctx = reminder_context()
    doc = Document(str(render_reminder(ctx, tmp_path / "r.docx")))
    rows = doc.tables[0].rows[1:]
    assert len(rows) == len(ctx.items)
    for row, item in zip(rows, ctx.items, strict=True):
        shd = row.cells[5]._tc.find(qn("w:tcPr")).find(qn("w:shd"))
        assert shd.get(qn("w:fill")) == item.colour_fill
        assert item.status_text in row.cells[5].text


def test_chart_font_installed_after_matplotlibs_cache_is_found(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib import font_manager

    require(cjk_font_family() is not None, "no Chinese font for matplotlib (fonts-noto-cjk)")
    family = cjk_font_family()
    # A font list cached before the CJK fonts were installed: none of their files are in it.
    cjk_files = {f.fname for f in font_manager.fontManager.ttflist if f.name in CJK_FAMILIES}
    stale = [f for f in font_manager.fontManager.ttflist if f.fname not in cjk_files]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", stale)
    cjk_font_family.cache_clear()
    try:
        assert cjk_font_family() == family
    finally:
        cjk_font_family.cache_clear()


def test_daily_report_has_chart_and_totals(tmp_path: Path) -> None:
    require(cjk_font_family() is not None, "no Chinese font for matplotlib (fonts-noto-cjk)")
    ctx = daily_context()
    doc = Document(str(render_daily_report(ctx, tmp_path / "d.docx")))
    (fig,) = paragraphs_with_style(doc, "GBFigure")
    assert fig.find(".//" + qn("wp:inline")) is not None
    blips = [r for r in doc.part.rels.values() if r.reltype.endswith("/image")]
    assert any(r.target_part.blob[:8] == b"\x89PNG\r\n\x1a\n" for r in blips)
    town_table = doc.tables[0]
    assert len(town_table.rows) == 1 + len(ctx.towns) + 1
    total = town_table.rows[-1].cells
    assert total[0].text == "合计"
    assert int(total[1].text) == sum(r.found for r in ctx.towns)
    assert int(total[5].text) == sum(r.closed for r in ctx.towns)


def test_ranking_names_commended_and_last(tmp_path: Path) -> None:
    ctx = ranking_context()
    doc = Document(str(render_ranking(ctx, tmp_path / "k.docx")))
    text = "\n".join(para_text(p) for p in body_paragraphs(doc))
    assert "、".join(ctx.rows[i].town for i in range(3)) + "位列前三名" in text
    assert f"{ctx.rows[-1].town}位列后一名" in text
    assert f"合计{ctx.penalty_total}元" in text
    table = doc.tables[0]
    for row, r in zip(table.rows[1:], ctx.rows, strict=True):
        assert row.cells[1].text == r.town
        assert float(row.cells[4].text) == pytest.approx(r.total)


def test_seal_image_is_swapped_in(tmp_path: Path) -> None:
    from tools.build_doc_templates import transparent_png

    seal = tmp_path / "seal.png"
    seal.write_bytes(transparent_png(32))
    ctx = notice_context(2, seal_image=seal)
    out = render_notice(ctx, tmp_path / "n.docx")
    doc = Document(str(out))
    blobs = [r.target_part.blob for r in doc.part.rels.values() if r.reltype.endswith("/image")]
    assert seal.read_bytes() in blobs


def test_no_copy_to_drops_the_copy_line(tmp_path: Path) -> None:
    ctx = notice_context(2, copy_to=())
    doc = Document(str(render_notice(ctx, tmp_path / "n.docx")))
    anchor = next(d for d in doc.element.body.iter(qn("wp:docPr"))
                  if d.get("name") == "colophon").getparent()
    texts = [para_text(p) for p in anchor.iter(qn("w:p")) if para_text(p)]
    assert not any(t.startswith("抄送") for t in texts)
    assert COPY_TO[0] not in "".join(texts)
    # one line less: the box is shorter than with 抄送
    assert int(anchor.find(qn("wp:extent")).get("cy")) < Pt(2 * 28.95)


def test_ranking_without_commendation_or_naming_renders(tmp_path: Path) -> None:
    """Seed 000 commends and names nobody: the bulletin then says neither."""
    from dataclasses import replace

    from docx import Document

    from duban.adapters.documents import render_ranking
    from tests.integration.test_documents_fixtures import ranking_context

    ctx = replace(ranking_context(), commend_top=0, name_last=0)
    out = render_ranking(ctx, tmp_path / "ranking.docx")
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "考评结果计入年底总成绩" in text
    assert "位列前" not in text and "位列后" not in text and "并列" not in text
    # Not 根据2022年9月考评结果，考评结果计入年底总成绩 (seed 004's read so).
    assert f"\n{ctx.year}年{ctx.month}月考评结果计入年底总成绩。" in text


def test_a_ranking_tied_across_its_cuts_commends_and_names_nobody(tmp_path: Path) -> None:
    """Towns equal on every measure are split by no cut: the bulletin says so."""
    from dataclasses import replace

    from docx import Document

    from duban.adapters.documents import render_ranking
    from tests.integration.test_documents_fixtures import ranking_context

    ctx = replace(ranking_context(), commended_towns=[], named_towns=[])
    text = "\n".join(p.text for p in Document(str(render_ranking(
        ctx, tmp_path / "ranking.docx"))).paragraphs)
    assert "位列前" not in text and "位列后" not in text
    assert "前三名和末位成绩均有并列，本月不作表彰和末位检讨" in text


@pytest.mark.parametrize("kind", ["notice", "daily_report"])
def test_a_render_repeated_later_is_byte_identical(kind: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Zip entries are dated from the document's day, not the wall clock of the save."""
    import time as time_module

    ctx = ALL_CONTEXTS[kind]()
    first = RENDERERS[kind](ctx, tmp_path / "first.docx").read_bytes()
    later = time_module.time() + 3 * 3600  # a retry hours later (zip times have 2 s steps)
    monkeypatch.setattr(time_module, "time", lambda: later)
    second = RENDERERS[kind](ctx, tmp_path / "second.docx").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "first.docx") as z:
        stamps = {info.date_time for info in z.infolist()}
    day = ctx.issued_on
    assert stamps == {(day.year, day.month, day.day, 0, 0, 0)}


def test_a_newline_in_data_still_breaks_the_line(tmp_path: Path) -> None:
    """The listing pass is skipped only where no text holds a tab, newline, \\a or \\f."""
    ctx = notice_context(1, intro="第一行说明\n第二行说明")
    doc = Document(str(render_notice(ctx, tmp_path / "n.docx")))
    (para,) = [p for p in body_paragraphs(doc) if "第一行说明" in para_text(p)]
    assert para.find(".//" + qn("w:br")) is not None
    assert "第二行说明" in para_text(para)


_TABLE_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _table_xml(grid: int, rows: list[int], span: bool = False) -> str:
    cols = "".join('<w:gridCol w:w="1000"/>' for _ in range(grid))
    tc_pr = '<w:tcPr><w:gridSpan w:val="2"/></w:tcPr>' if span else ""
    body = "".join("<w:tr>" + "".join(f"<w:tc>{tc_pr if i == 0 else ''}<w:p/></w:tc>"
                                      for i in range(n)) + "</w:tr>" for n in rows)
    return (f"<w:body {_TABLE_W}><w:tbl><w:tblGrid>{cols}</w:tblGrid>{body}</w:tbl>"
            "</w:body>")


@pytest.mark.parametrize(("grid", "rows", "span"), [
    (3, [3, 3, 3], False),  # rows match the grid: docxtpl's walk is skipped
    (3, [3, 4, 3], False),  # a {%tc %} loop added a cell
    (4, [3, 3], False),  # … or removed one
    (3, [2, 2], True),  # a colspan
])
def test_table_fix_gives_what_docxtpl_gives(grid: int, rows: list[int], span: bool) -> None:
    from docxtpl import DocxTemplate
    from lxml import etree

    from duban.adapters.documents.render import _Template

    xml = _table_xml(grid, rows, span)
    ours = _Template.__new__(_Template).fix_tables(xml)  # no template needed for the walk
    theirs = DocxTemplate.fix_tables(None, xml)  # type: ignore[arg-type]
    assert etree.tostring(ours) == etree.tostring(theirs)


def test_ranking_columns_print_one_number_of_decimals(tmp_path: Path) -> None:
    """扣分 and 总分 each print every row with the column's decimals: 10.80 beside 11.21,
    not 10.8; a column of whole numbers stays whole."""
    from dataclasses import replace

    from duban.adapters.documents.context import RankingRow, ScoreLine

    base = ranking_context()
    rows = [RankingRow(rank=1, town="甲镇", scores=[ScoreLine("排查", 30.0)], deduction=10.8),
            RankingRow(rank=2, town="乙镇", scores=[ScoreLine("排查", 30.0)], deduction=11.21),
            RankingRow(rank=3, town="丙镇", scores=[ScoreLine("排查", 20.0)], deduction=0.0)]
    ctx = replace(base, rows=rows, commended_towns=[], named_towns=[])
    table = Document(str(render_ranking(ctx, tmp_path / "k.docx"))).tables[0]
    assert [r.cells[3].text for r in table.rows[1:]] == ["10.80", "11.21", "0.00"]
    assert [r.cells[4].text for r in table.rows[1:]] == ["19.20", "18.79", "20.00"]
    whole = replace(ctx, rows=[replace(r, deduction=2.0) for r in rows])
    table = Document(str(render_ranking(whole, tmp_path / "w.docx"))).tables[0]
    assert [r.cells[3].text for r in table.rows[1:]] == ["2", "2", "2"]
    assert [r.cells[4].text for r in table.rows[1:]] == ["28", "28", "18"]


def test_a_closing_report_lists_many_failed_spot_checks_in_its_workbook_only(
        tmp_path: Path) -> None:
    """126 failed checks over a campaign took four pages of the 总结报告; beyond 20 it names
    the workbook's sheet instead. The daily report lists every failure of its day."""
    import dataclasses

    from duban.adapters.documents.context import CLOSING_FAILURES_LISTED, SpotCheckFailure

    def failures(n: int) -> list[SpotCheckFailure]:
        return [SpotCheckFailure("第一督查组", "农户", f"农户{i}", "槐店回族镇东关社区",
                                 "抽查发现问题反弹") for i in range(n)]

    def rendered(n: int, whole: bool) -> tuple[str, int]:
        ctx = dataclasses.replace(daily_context(), spot_check_failures=failures(n),
                                  whole_campaign=whole)
        doc = Document(str(render_daily_report(ctx, tmp_path / f"{n}-{whole}.docx",
                                               embed=False)))
        listed = sum(1 for t in doc.tables for r in t.rows if r.cells[-1].text == "抽查发现问题反弹")
        return "\n".join(para_text(p) for p in body_paragraphs(doc)), listed

    many = CLOSING_FAILURES_LISTED + 1
    text, listed = rendered(many, whole=True)
    assert listed == 0
    assert f"抽查不合格的{many}项事项，逐项列于本报告所附Excel表的“随机抽查”工作表。" in text
    text, listed = rendered(CLOSING_FAILURES_LISTED, whole=True)
    assert listed == CLOSING_FAILURES_LISTED and "抽查不合格的事项如下：" in text
    text, listed = rendered(many, whole=False)
    assert listed == many and "抽查不合格的事项如下：" in text


def test_the_benchs_template_floor_writes_the_same_rows_as_the_notice(tmp_path: Path) -> None:
    """The notice's floor (bench.documents.template_floor) does the same filling: the same
    paragraphs' text and the same table cells as render_notice, without its layout fitting."""
    from bench.documents import template_floor

    ctx = notice_context(12)
    ours = Document(str(render_notice(ctx, tmp_path / "ours.docx", embed=False)))
    floor = Document(str(template_floor(ctx, tmp_path / "floor.docx")))

    def cells(doc: DocumentObject) -> list[list[str]]:
        return [[c.text for c in row.cells] for t in doc.tables for row in t.rows]

    def texts(doc: DocumentObject) -> list[str]:
        return [t for t in (para_text(p) for p in body_paragraphs(doc)) if t]

    assert len(cells(floor)) == 13 and cells(floor) == cells(ours)
    # the fitting only breaks the mark and title into lines: their text is the same
    assert "".join(texts(floor)) == "".join(texts(ours))


def test_tables_fit_alike_on_a_plain_parse_and_python_docxs() -> None:
    """fit_tables runs on the body as docxtpl parses it (plain lxml elements), before it joins
    python-docx's document; a cell without w:tcPr gets one as its first child either way."""
    from docx.oxml import parse_xml
    from lxml import etree

    from duban.adapters.documents.tables import fit_tables

    def cell(text: str, pr: bool) -> str:
        tc_pr = '<w:tcPr><w:tcW w:w="1000" w:type="dxa"/></w:tcPr>' if pr else ""
        return f"<w:tc>{tc_pr}<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"

    head = ('<w:tr><w:trPr><w:tblHeader/></w:trPr>'
            + cell("问题编号", True) + cell("问题描述", False) + "</w:tr>")
    rows = "".join("<w:tr>" + cell(f"SQ2022-{k:04d}", False) + cell("住房安全隐患" * k, True)
                   + "</w:tr>" for k in range(1, 4))
    xml = (f"<w:body {_TABLE_W}><w:tbl><w:tblPr><w:tblLayout w:type=\"fixed\"/></w:tblPr>"
           '<w:tblGrid><w:gridCol w:w="2000"/><w:gridCol w:w="6000"/></w:tblGrid>'
           f"{head}{rows}</w:tbl></w:body>")
    plain = etree.fromstring(xml)
    docx = parse_xml(xml)
    fit_tables(plain)
    fit_tables(docx)
    assert etree.tostring(plain) == etree.tostring(docx)
    for tc in plain.iter(qn("w:tc")):
        assert tc[0].tag == qn("w:tcPr") and tc[0][0].tag == qn("w:tcW")
    grid = [g.get(qn("w:w")) for g in plain.iter(qn("w:gridCol"))]
    assert grid != ["2000", "6000"] and sum(map(int, grid)) == 8000  # fitted, total kept
    for tr in plain.iter(qn("w:tr")):
        assert [tc[0][0].get(qn("w:w")) for tc in tr.iter(qn("w:tc"))] == grid


def _both_ways(monkeypatch: pytest.MonkeyPatch, fast_path: str, kind: str, tmp_path: Path
               ) -> tuple[list[bool], bytes, bytes]:
    """A kind rendered with tables.`fast_path` as it is (what it answered each time kept),
    then with it answering False (its fallback taken): the answers and both files' bytes."""
    from duban.adapters.documents import tables
    from tests.integration.test_documents_fixtures import RENDERERS as ALL_RENDERERS

    answers: list[bool] = []
    fast = getattr(tables, fast_path)

    def counted(*args: Any) -> bool:
        answers.append(fast(*args))
        return answers[-1]

    monkeypatch.setattr(tables, fast_path, counted)
    taken = ALL_RENDERERS[kind](ALL_CONTEXTS[kind](), tmp_path / "fast.docx").read_bytes()
    monkeypatch.setattr(tables, fast_path, lambda *args: False)
    fallback = ALL_RENDERERS[kind](ALL_CONTEXTS[kind](), tmp_path / "slow.docx").read_bytes()
    return answers, taken, fallback


@pytest.mark.parametrize("kind", sorted(ALL_CONTEXTS))
def test_cell_widths_set_in_one_walk_match_the_cell_by_cell_way(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fit_tables' one walk over the w:tcW elements writes the bytes its cell-by-cell way
    writes, and it is the way taken for the shipped templates' tables."""
    walked, one_walk, by_cell = _both_ways(monkeypatch, "_set_widths_in_order", kind, tmp_path)
    assert walked and all(walked)
    same = one_walk == by_cell  # not asserted directly: pytest's diff of two files is slow
    assert same, f"{kind}: the cells' widths differ between the two ways"


def _table_runs(doc: DocumentObject) -> list[tuple[str, ...]]:
    """Every table run's text and its effective size, fonts and weight, with its paragraph's
    effective line spacing and alignment."""
    out = []
    for tbl in doc.element.body.iter(qn("w:tbl")):
        for p in tbl.iter(qn("w:p")):
            para = (ppr_prop(doc, p, "w:spacing", "w:line") or "",
                    ppr_prop(doc, p, "w:jc", "w:val") or "")
            for r in p.iter(qn("w:r")):
                out.append((*para, "".join(t.text or "" for t in r.iter(qn("w:t"))),
                            *(run_prop(doc, p, r, tag, attr) or "" for tag, attr in (
                                ("w:sz", "w:val"), ("w:szCs", "w:val"),
                                ("w:rFonts", "w:eastAsia"), ("w:b", "w:val")))))
    return out


@pytest.mark.parametrize("kind", sorted(ALL_CONTEXTS))
def test_a_table_set_small_by_its_styles_reads_as_one_set_run_by_run(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table set at 小五 through the templates' 小五 paragraph styles (GBTable →
    GBTableSmall …) prints as it did with 小五 on every run: each run's effective size, fonts
    and weight and its paragraph's spacing are the same either way."""
    by_style, styled, by_run = _both_ways(monkeypatch, "_set_small_styles", kind, tmp_path)
    assert all(by_style), f"{kind}: a table was set small run by run"
    runs = _table_runs(Document(io.BytesIO(styled)))
    assert runs and runs == _table_runs(Document(io.BytesIO(by_run)))
    if by_style:  # the 小五 tables print at 9 pt, their paragraphs on the 15 pt line
        assert {size for *_, size, _cs, _font, _b in runs} >= {"18"}
        assert all(line == "300" for line, *_ in runs)


def test_the_notices_table_is_set_small_by_its_styles() -> None:
    """The fixture's 8-problem notice has a table at 小五 (its codes keep one line), set by
    the styles: the path the test above compares is taken."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = render_notice(notice_context(8), Path(tmp) / "n.docx", embed=False)
        xml = zipfile.ZipFile(path).read("word/document.xml").decode()
    assert 'w:val="GBTableSmall"' in xml and 'w:val="GBTableHeadSmall"' in xml
    assert "<w:sz " not in xml.split("<w:tbl>", 1)[1]


def _cells_one_by_one(tbl: Any) -> list[tuple[bool, list[str]]]:
    from duban.adapters.documents.tables import _TC, _cell_text, _header_flags

    return [(head, [_cell_text(tc) for tc in tr.iterchildren(_TC)])
            for head, tr in _header_flags(tbl)]


@pytest.mark.parametrize("kind", sorted(ALL_CONTEXTS))
def test_a_tables_rows_read_in_one_pass_as_cell_by_cell(kind: str, tmp_path: Path) -> None:
    """tables._row_texts (one XSLT pass over a table) reads each row's header flag and cell
    texts as the cell-by-cell walk does, on every kind's tables."""
    from lxml import etree

    from duban.adapters.documents.tables import _row_texts
    from tests.integration.test_documents_fixtures import RENDERERS as ALL_RENDERERS

    path = ALL_RENDERERS[kind](ALL_CONTEXTS[kind](), tmp_path / "k.docx", embed=False)
    body = etree.fromstring(zipfile.ZipFile(path).read("word/document.xml"))
    tbls = list(body.iter(qn("w:tbl")))
    assert tbls
    for tbl in tbls:
        assert _row_texts(tbl) == _cells_one_by_one(tbl)


def test_rows_read_in_one_pass_hold_odd_cells_and_fall_back_on_separators() -> None:
    """Cells of two paragraphs (the widest decides), a nested table, none at all, rows of
    fewer cells; a table whose text holds the pass's row or cell separator is read cell by
    cell."""
    from lxml import etree

    from duban.adapters.documents import tables

    def p(text: str) -> str:
        return f"<w:p><w:r><w:t>{text}</w:t></w:r><w:r><w:t>尾</w:t></w:r></w:p>"

    nested = f"<w:tbl><w:tr><w:tc>{p('内表很长很长很长的一段文字')}</w:tc></w:tr></w:tbl>"
    head = "<w:tr><w:trPr><w:tblHeader/></w:trPr>" + f"<w:tc>{p('序号')}</w:tc>" * 3 + "</w:tr>"
    rows = (f"<w:tr><w:tc>{p('1')}{p('SQ2022-0001')}</w:tc><w:tc/><w:tc>{p('x')}{nested}"
            f"</w:tc></w:tr><w:tr><w:tc>{p('只有一格')}</w:tc></w:tr>")
    xml = f"<w:body {_TABLE_W}><w:tbl>{head}{rows}</w:tbl></w:body>"
    tbl = etree.fromstring(xml)[0]
    got = tables._row_texts(tbl)
    assert got == _cells_one_by_one(tbl)
    # one paragraph beside a nested table: that paragraph, as the walk reads it
    assert got[1][1] == ["SQ2022-0001尾", "", "x尾"]
    for sep in (tables._ROW, tables._CELL):
        odd = etree.fromstring(xml.replace("只有一格", f"只有{sep}一格"))[0]
        assert tables._row_texts(odd) == _cells_one_by_one(odd)
        assert tables._row_texts(odd)[2][1] == [f"只有{sep}一格尾"]


@pytest.mark.parametrize("kind", sorted(ALL_CONTEXTS))
def test_property_elements_keep_the_schemas_order(kind: str, tmp_path: Path) -> None:
    """Every w:pPr, w:rPr and w:tblPr of a rendered document (its styles, body, headers and
    footers, the fitted mark, titles, signature and tables included) lists its children in
    the schema's order, which Word may insist on: the template builder once appended the
    styles' w:snapToGrid, w:ind and w:pBdr after the rest."""
    from lxml import etree

    from duban.adapters.documents.schema import ORDERS
    from tests.integration.test_documents_fixtures import RENDERERS as ALL_RENDERERS

    path = ALL_RENDERERS[kind](ALL_CONTEXTS[kind](), tmp_path / "k.docx", embed=False)
    package = zipfile.ZipFile(path)
    wrong = []
    for part in package.namelist():
        if not re.fullmatch(r"word/(document|styles|header\d*|footer\d*)\.xml", part):
            continue
        for el in etree.fromstring(package.read(part)).iter(*ORDERS):
            order = ORDERS[el.tag]
            ranks = [order.get(c.tag, -1) for c in el if isinstance(c.tag, str)]
            if ranks != sorted(ranks):
                wrong.append(f"{part}: " + " ".join(etree.QName(c).localname for c in el))
    assert not wrong, wrong[:5]
