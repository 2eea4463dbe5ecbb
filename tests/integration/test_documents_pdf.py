"""PDF conversion with LibreOffice of one document of each kind, and page 1 as PNG.

Skips with a printed reason when LibreOffice or poppler is missing; fails instead when CI=true.
docs/images/<kind>-page1.png are refreshed by test_documents_layout.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from duban.adapters.documents import (
    PdfConversionError,
    convert_to_pdf,
    libreoffice_available,
    render_bulletin,
    render_notice,
)
from tests.integration.test_documents_fixtures import ALL_CONTEXTS, MARK, notice_context, require
from tests.integration.test_documents_fixtures import RENDERERS as ALL_RENDERERS

pytestmark = pytest.mark.libreoffice

# The five issued kinds; the printed ledger's PDF is measured by test_documents_layout.
RENDERERS = {k: r for k, r in ALL_RENDERERS.items() if k != "ledger"}


def _need_tools() -> None:
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    require(shutil.which("pdftoppm") is not None and shutil.which("pdffonts") is not None,
            "poppler-utils (pdftoppm, pdffonts) is not installed")


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout


def _png_page1(pdf: Path, out_png: Path, dpi: int = 100) -> Path:
    stem = out_png.with_suffix("")
    _run("pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", "-png", str(pdf),
         str(stem))
    return stem.with_suffix(".png")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    _need_tools()
    out: dict[str, Path] = {}
    for kind, render in RENDERERS.items():
        d = tmp_path_factory.mktemp(kind)
        docx = render(ALL_CONTEXTS[kind](), d / f"{kind}.docx")
        out[kind] = convert_to_pdf(docx, d / "pdf")
    return out


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_pdf_is_a4_with_chinese_fonts(pdfs: dict[str, Path], kind: str) -> None:
    pdf = pdfs[kind]
    info = _run("pdfinfo", str(pdf))
    m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert m and abs(float(m.group(1)) - 595.3) < 1 and abs(float(m.group(2)) - 841.9) < 1
    fonts = _run("pdffonts", str(pdf))
    # the official serif names print in a serif: the faces the .docx embeds (Noto Serif SC,
    # test_embedded_fonts.py), or the installed Noto Serif CJK the aliases map them to
    assert re.search(r"NotoSerif(CJK|SC)", fonts), fonts
    assert re.search(r"NotoSansCJK", fonts), fonts  # 黑体 headings
    text = _run("pdftotext", "-layout", str(pdf), "-")
    assert MARK in text.replace(" ", "").replace("\n", "")  # on two lines
    ctx = ALL_CONTEXTS[kind]()
    assert ctx.title.replace("\n", "")[:10] in text.replace(" ", "")
    if ctx.number:
        assert ctx.number.replace("号", "") in text.replace(" ", "")
    assert re.search(r"—\s*1\s*—", text)  # page number on page 1


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_page1_renders_to_png(pdfs: dict[str, Path], kind: str, tmp_path: Path) -> None:
    from PIL import Image

    png = _png_page1(pdfs[kind], tmp_path / f"{kind}.png", dpi=50)
    img = Image.open(png).convert("RGB")
    w, h = img.size
    assert h / w == pytest.approx(297 / 210, rel=0.01)
    colours = img.getcolors(maxcolors=w * h) or []
    reds = sum(n for n, (r, g, b) in colours if r > 180 and g < 90 and b < 90)
    assert reds > 0.002 * w * h  # the red mark and separator are there


def test_notice_body_lines_hold_28_characters(pdfs: dict[str, Path]) -> None:
    text = _run("pdftotext", "-layout", "-f", "1", "-l", "2", str(pdfs["notice"]), "-")
    # full lines of pure Chinese text (no half-width characters) inside body paragraphs
    cjk_lines = [ln.strip() for ln in text.splitlines()
                 if ln.strip() and all(ord(c) > 0x2E80 for c in ln.strip())]
    longest = max(len(ln) for ln in cjk_lines)
    assert longest == 28, cjk_lines


def test_notice_page1_png_looks_like_a_red_head_document(tmp_path: Path) -> None:
    """The seed-002 notice: red mark and red line at the top, black text below."""
    _need_tools()
    from PIL import Image

    # the author breaks the title where the words allow (标题回行时词意完整)
    ctx = notice_context(8, title="关于槐店回族镇等乡镇监测帮扶和住房安全\n问题整改的督办通知书")
    docx = render_notice(ctx, tmp_path / "督办通知书.docx")
    pdf = convert_to_pdf(docx, tmp_path)
    png = _png_page1(pdf, tmp_path / "page1.png")
    img = Image.open(png).convert("RGB")
    w, h = img.size
    px = img.load()

    def red(x: int, y: int) -> bool:
        r, g, b = px[x, y]
        return r > 180 and g < 90 and b < 90

    red_rows = [y for y in range(h) if sum(red(x, y) for x in range(0, w, 2)) > 0]
    assert red_rows, "no red on page 1"
    # all red is in the 版头: mark (from 72 mm) down to the separator (about 120 mm)
    assert max(red_rows) / (h / 297) < 130
    # the separator: a red row spanning about the 156 mm text block (74 % of 210 mm)
    widest = max(sum(red(x, y) for x in range(w)) for y in red_rows)
    assert widest > 0.70 * w
    # the mark starts about 37 + 35 mm from the top edge (within 6 mm)
    mm = h / 297
    assert abs(min(red_rows) / mm - 72) < 6


def test_convert_reports_missing_libreoffice(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_SOFFICE", str(tmp_path / "no-soffice"))
    assert not libreoffice_available()
    docx = render_notice(notice_context(1), tmp_path / "n.docx")
    with pytest.raises(PdfConversionError) as info:
        convert_to_pdf(docx, tmp_path)
    assert "LibreOffice" in info.value.message and "n.docx" in info.value.message
    assert not (tmp_path / "n.pdf").exists()


def test_convert_reports_missing_file(tmp_path: Path) -> None:
    _need_tools()
    with pytest.raises(PdfConversionError) as info:
        convert_to_pdf(tmp_path / "none.docx", tmp_path)
    assert "找不到文件" in info.value.message


def test_a_500_row_bulletin_converts_within_the_timeout(tmp_path: Path) -> None:
    """Issue 13: a 通报 with 500 overdue items converts (a 521-row table once took > 120 s).

    The detail table is fixed-layout with widths set from the content (tables.fit_tables), so
    LibreOffice lays it out in seconds (about 4 s on a quiet machine). Every problem code is
    found whole in the text: a code broken over two lines fails the test.
    """
    _need_tools()
    from tests.integration.test_documents_fixtures import bulletin_context

    ctx = bulletin_context(500)
    pdf = convert_to_pdf(render_bulletin(ctx, tmp_path / "b.docx"), tmp_path)
    text = _run("pdftotext", "-layout", str(pdf), "-").replace(" ", "")
    pages = text.split("\f")
    codes = {i.code for i in ctx.items}
    assert len(codes) == 500 and all(c in text for c in codes)
    attachment = [p for p in pages if "SQ2022-" in p]
    assert len(attachment) > 10
    assert all("问题编号" in p for p in attachment)  # the header row repeats on every page
    assert len(pages[:-1]) % 2 == 0 or not pages[-1].strip()  # ends on an even page
