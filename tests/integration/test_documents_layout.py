"""The printed page of every document kind, measured on the PDF with PyMuPDF (GB/T 9704-2012).

Each kind is rendered from the seed-002 fixtures, converted with LibreOffice (as `duban notice
download --pdf` does), and measured: the separator 4 mm ± 0.5 under the 文号 (7.2.7), 28
characters a body line and 22 lines a page ± 1 (5.2.3), no table header or date cell wrapped
(8), title lines ending at word boundaries (7.3.1) and the 版记 on an even page (7.4).
docs/gbt9704.md lists which test checks which rule. Set DUBAN_UPDATE_DOC_IMAGES=1 to refresh
docs/images/<kind>-page1.png from these PDFs.
"""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from statistics import median
from typing import Any

import pymupdf
import pytest

from duban.adapters.documents import (
    convert_to_pdf,
    libreoffice_available,
    render_notice,
    render_reminder,
)
from duban.adapters.documents.lines import word_boundaries
from duban.adapters.documents.render import protected_names
from tests.integration.test_documents_fixtures import ALL_CONTEXTS, RENDERERS, require

pytestmark = pytest.mark.libreoffice

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
MM = 72 / 25.4
TEXT_TOP = 37 * MM
TEXT_LEFT = 28 * MM
TEXT_W = 156 * MM
TEXT_H = 225 * MM
BODY_PT = 16.0
DATE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")

NUMBERED = ("notice", "reminder", "bulletin", "ranking")  # the daily report has no 文号
# The printed 整改台账 is a 横排 table (section 8) and not a 公文: no body text on the 28 × 22
# grid, no 版记. It has its own test below.
ISSUED = tuple(k for k in RENDERERS if k != "ledger")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    out: dict[str, tuple[Any, Path]] = {}
    for kind, render in RENDERERS.items():
        d = tmp_path_factory.mktemp(kind)
        ctx = ALL_CONTEXTS[kind]()
        docx = render(ctx, d / f"{kind}.docx")
        pdf = convert_to_pdf(docx, d / "pdf")
        out[kind] = (ctx, pdf)
        if os.environ.get("DUBAN_UPDATE_DOC_IMAGES") == "1":
            with pymupdf.open(pdf) as doc:
                doc[0].get_pixmap(dpi=80).save(IMAGES / f"{kind}-page1.png")
    return out


def _lines(page: Any) -> list[dict[str, Any]]:
    return [ln for b in page.get_text("dict")["blocks"] for ln in b.get("lines", [])]


def _text(line: dict[str, Any]) -> str:
    return "".join(s["text"] for s in line["spans"]).replace(" ", "")


def _baselines(page: Any, rect: Any) -> int:
    """How many lines of text the cell at `rect` prints (glyphs grouped by baseline: table
    extraction sorts a line's "." and "%" apart, so its text cannot tell)."""
    box = pymupdf.Rect(rect)
    ys: list[float] = []
    for block in page.get_text("rawdict", clip=box)["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                for ch in span["chars"]:
                    x0, y0, x1, y1 = ch["bbox"]
                    if box.contains(pymupdf.Point((x0 + x1) / 2, (y0 + y1) / 2)):
                        ys.append(ch["origin"][1])
    return len({round(y / 3) for y in ys}) if ys else 0


def _ink_bottom_and_red_top(page: Any, rect: Any) -> tuple[float, float]:
    """The lowest dark pixel of the 文号 and the top of the red line under it, in points."""
    zoom = 8
    clip = pymupdf.Rect(rect.x0, rect.y0, rect.x1, rect.y1 + 30)
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=clip,
                          colorspace=pymupdf.csRGB)
    w, samples = pix.width, pix.samples
    ink = red = None
    for y in range(pix.height):
        row = [samples[(y * w + x) * 3:(y * w + x) * 3 + 3] for x in range(0, w, 2)]
        if any(r < 100 and g < 100 and b < 100 for r, g, b in row):
            ink = y
        if red is None and sum(r > 180 and g < 100 and b < 100 for r, g, b in row) > len(row) / 2:
            red = y
    assert ink is not None and red is not None, "no 文号 or no separator"
    return clip.y0 + (ink + 1) / zoom, clip.y0 + red / zoom


@pytest.mark.parametrize("kind", NUMBERED)
def test_separator_4mm_under_the_number(pdfs: dict[str, tuple[Any, Path]], kind: str) -> None:
    """7.2.7: the red separator 4 mm under the 文号."""
    ctx, pdf = pdfs[kind]
    with pymupdf.open(pdf) as doc:
        page = doc[0]
        line = next(ln for ln in _lines(page) if _text(ln) == ctx.number)
        ink, red = _ink_bottom_and_red_top(page, pymupdf.Rect(line["bbox"]))
    gap_mm = (red - ink) / MM
    assert abs(gap_mm - 4) <= 0.5, f"separator {gap_mm:.2f} mm under the 文号"


@pytest.mark.parametrize("kind", sorted(ISSUED))
def test_28_characters_a_line_22_lines_a_page(pdfs: dict[str, tuple[Any, Path]],
                                             kind: str) -> None:
    """5.2.3: body text in 28 characters a line and 22 lines a page (± 1)."""
    _ctx, pdf = pdfs[kind]
    advances: list[float] = []
    pitches: list[float] = []
    widest = 0.0
    with pymupdf.open(pdf) as doc:
        for page in doc:
            raw = page.get_text("rawdict")
            body = [ln for b in raw["blocks"] for ln in b.get("lines", [])
                    if ln["spans"] and all(abs(s["size"] - BODY_PT) < 0.1 for s in ln["spans"])
                    and ln["bbox"][0] < TEXT_LEFT + 3 * BODY_PT]
            for ln in body:
                chars = [c for s in ln["spans"] for c in s["chars"]]
                widest = max(widest, ln["bbox"][2] - TEXT_LEFT)
                for a, b in itertools.pairwise(chars):
                    if ord(a["c"]) > 0x3000 and ord(b["c"]) > 0x3000 and b["origin"][1] == a["origin"][1]:
                        advances.append(b["origin"][0] - a["origin"][0])
            ys = sorted({round(ln["spans"][0]["origin"][1], 1) for ln in body})
            pitches += [b - a for a, b in itertools.pairwise(ys) if 20 < b - a < 40]
    per_line = TEXT_W / median(advances)
    per_page = TEXT_H / median(pitches)
    assert abs(per_line - 28) <= 1, f"{per_line:.2f} characters a line"
    assert abs(per_page - 22) <= 1, f"{per_page:.2f} lines a page"
    assert widest >= TEXT_W - BODY_PT  # full lines fill the block


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_no_table_header_or_date_wraps(pdfs: dict[str, tuple[Any, Path]], kind: str) -> None:
    """8: a header cell, a date cell and a rate (100.0%) keep one line."""
    _ctx, pdf = pdfs[kind]
    seen = 0
    with pymupdf.open(pdf) as doc:
        for page in doc:
            for table in page.find_tables().tables:
                rows = table.extract()
                if any("印发" in (c or "") for row in rows for c in row):
                    continue  # the 版记's lines, not a table
                seen += 1
                for cell in rows[0]:
                    assert cell is None or "\n" not in cell, f"header wrapped: {cell!r}"
                for row in rows[1:]:
                    for cell in row:
                        text = (cell or "").replace(" ", "")
                        if re.match(r"^\d{4}年", text):
                            assert DATE.match(text), f"date wrapped: {cell!r}"
                for row, cells in zip(rows[1:], table.rows[1:], strict=True):
                    for cell, rect in zip(row, cells.cells, strict=True):
                        if cell and "%" in cell and rect is not None:  # a rate: 100.0%
                            assert _baselines(page, rect) == 1, f"rate wrapped: {cell!r}"

    assert seen


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_title_lines_end_at_word_boundaries(pdfs: dict[str, tuple[Any, Path]],
                                            kind: str) -> None:
    """7.3.1: a title that needs more than one line breaks between words, lines balanced."""
    ctx, pdf = pdfs[kind]
    with pymupdf.open(pdf) as doc:
        lines = [_text(ln) for ln in _lines(doc[0])
                 if all(abs(s["size"] - 22) < 0.1 for s in ln["spans"]) and _text(ln)]
    title = ctx.title.replace("\n", "")
    assert "".join(lines) == title
    cuts = set(word_boundaries(title, protected_names(ctx)))
    end = 0
    for line in lines[:-1]:
        end += len(line)
        assert end in cuts, f"title broken inside a word after {line!r}"
    if len(lines) == 2:
        assert len(lines[0]) != len(lines[1])  # 梯形, not a rectangle


def test_long_title_breaks_into_a_balanced_shape(tmp_path: Path) -> None:
    """The demo's long notice title (the plan's name in it) breaks at phrase boundaries."""
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    title = ("关于限期整改沈丘县巩固拓展脱贫攻坚成果同乡村振兴有效衔接工作集中整改提升专项行动"
             "排查问题的督办通知书")
    ctx = ALL_CONTEXTS["notice"]().__class__(**{**vars(ALL_CONTEXTS["notice"]()),
                                                "title": title})
    pdf = convert_to_pdf(render_notice(ctx, tmp_path / "n.docx"), tmp_path)
    with pymupdf.open(pdf) as doc:
        lines = [_text(ln) for ln in _lines(doc[0])
                 if all(abs(s["size"] - 22) < 0.1 for s in ln["spans"]) and _text(ln)]
    assert lines == ["关于限期整改沈丘县巩固拓展脱贫攻坚成果", "同乡村振兴有效衔接工作集中整改提升",
                     "专项行动排查问题的督办通知书"]


@pytest.mark.parametrize("kind", sorted(ISSUED))
def test_colophon_on_an_even_page(pdfs: dict[str, tuple[Any, Path]], kind: str) -> None:
    """7.4: the 版记 ends the last even page (printed on both sides, it is the back cover)."""
    _ctx, pdf = pdfs[kind]
    with pymupdf.open(pdf) as doc:
        pages = [i + 1 for i, page in enumerate(doc) if "印发" in page.get_text()]
        assert pages == [len(doc)], pages
        assert len(doc) % 2 == 0, f"版记 on page {len(doc)}"
        foot = max(ln["bbox"][3] for ln in _lines(doc[-1]) if "印发" in _text(ln))
    assert foot <= TEXT_TOP + TEXT_H + 2  # on the foot of the text block


def test_ledger_prints_landscape_with_its_header_on_every_page(
        pdfs: dict[str, tuple[Any, Path]]) -> None:
    """8: the 整改台账 as a 横排 A4 table: the text block turned (225 × 156 mm), the header row
    repeated on every page, every row listed once with its code whole, "— N —" on each page."""
    ctx, pdf = pdfs["ledger"]
    seen: list[str] = []
    with pymupdf.open(pdf) as doc:
        assert len(doc) > 1  # the fixture spans pages, so the header must repeat
        for n, page in enumerate(doc, start=1):
            assert (round(page.rect.width), round(page.rect.height)) == (842, 595)
            tables = page.find_tables().tables
            assert len(tables) == 1, f"page {n}: {len(tables)} tables"
            rows = tables[0].extract()
            assert [c.replace("\n", "") for c in rows[0] if c][:2] == ["序号", "问题编号"]
            box = tables[0].bbox
            assert box[0] >= 37 * MM - 1 and box[2] <= (297 - 35) * MM + 1  # in the block
            assert box[3] <= (210 - 26) * MM + 1
            text = page.get_text()
            # the table reader splits a cell's hyphen off; the page text shows codes whole
            seen += [re.sub(r"[\s-]", "", row[1] or "") for row in rows[1:]]
            assert text.count("SQ2022") == len(re.findall(r"SQ2022-\d{4}", text))  # on a line
            assert re.search(rf"—\s*{n}\s*—", text), f"page {n} has no number"
    assert seen == [i.code.replace("-", "") for i in ctx.items]


def test_images_are_current() -> None:
    """docs/images holds page 1 of each kind (refreshed with DUBAN_UPDATE_DOC_IMAGES=1)."""
    for kind in RENDERERS:
        assert (IMAGES / f"{kind}-page1.png").is_file(), kind


def test_a_batch_prints_as_one_pdf_each_document_on_fresh_sheets(tmp_path: Path) -> None:
    """`duban notice download-batch`: the batch's documents joined in order, each even."""
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    from duban.adapters.documents import batch_to_pdf

    docs = [render_notice(ALL_CONTEXTS["notice"](), tmp_path / "a.docx"),
            render_reminder(ALL_CONTEXTS["reminder"](), tmp_path / "b.docx")]
    out = batch_to_pdf(docs, tmp_path / "batch.pdf")
    with pymupdf.open(out) as doc:
        firsts = [i for i, page in enumerate(doc) if "〔2022〕" in page.get_text()]
        assert len(doc) % 2 == 0
        assert len(firsts) == 2 and firsts[0] == 0 and firsts[1] % 2 == 0  # a fresh sheet
        assert "12" in doc[firsts[0]].get_text() and "19" in doc[firsts[1]].get_text()


def test_ledger_keeps_wide_codes_whole_and_gives_its_descriptions_room(tmp_path: Path) -> None:
    """A seed's codes (W000001: W is the widest letter) print on one line, and 问题描述 holds
    at least 10 characters a line (at 五号 it held 8 and every row took three or four lines)."""
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    import dataclasses

    from duban.adapters.documents import render_ledger

    ctx = ALL_CONTEXTS["ledger"]()
    ctx = dataclasses.replace(ctx, items=[dataclasses.replace(item, code=f"W{n:06d}")
                                          for n, item in enumerate(ctx.items, start=1)])
    pdf = convert_to_pdf(render_ledger(ctx, tmp_path / "ledger.docx"), tmp_path / "pdf")
    by_code = {i.code: i for i in ctx.items}
    checked = 0
    with pymupdf.open(pdf) as doc:
        for page in doc:
            table = page.find_tables().tables[0]
            for row, cells in zip(table.extract()[1:], table.rows[1:], strict=True):
                code = (row[1] or "").replace("\n", "")
                assert _baselines(page, cells.cells[1]) == 1, f"code wrapped: {row[1]!r}"
                description = by_code[code].description
                lines = _baselines(page, cells.cells[4])
                assert lines <= -(-len(description) // 10), (description, lines)
                checked += 1
    assert checked == len(ctx.items)
