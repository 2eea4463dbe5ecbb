"""Chinese on a fresh machine (issue 14, 16): the chart and the PDFs with only the fonts the
project ships: Noto Serif SC from npm (scripts/fonts.sh), Noto Sans CJK from PyPI and LXGW
WenKai from Debian (scripts/ci-deps.sh). LibreOffice is given a fontconfig with those folders
alone (`convert_to_pdf(system_fonts=False)`), the chart is drawn in the packaged sans face.

Checked with PyMuPDF: every font of the PDF is embedded and is one of the shipped faces, no
character is drawn with glyph 0 (.notdef, a box), the 3号 body is set in the serif (仿宋's
substitute), the title in its bold (小标宋), the 一、 headings in the sans (黑体) and the （一）
run-ins in 楷体's substitute.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from duban.adapters.documents import (
    charts,
    convert_to_pdf,
    libreoffice_available,
    render_daily_report,
    render_notice,
)
from duban.adapters.documents.pdf import ROOT
from tests.integration.test_documents_fixtures import ALL_CONTEXTS, require

pytestmark = pytest.mark.libreoffice

SHIPPED = ("NotoSerifSC-Regular", "NotoSerifSC-Bold", "NotoSansCJKtc", "LXGWWenKai")
FONT_DIR = Path(os.environ.get("DUBAN_FONT_DIR") or ROOT / "fonts")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    require((FONT_DIR / "NotoSerifSC-Regular.ttf").is_file(),
            f"the shipped serif is not in {FONT_DIR} (run make fonts)")
    out: dict[str, Path] = {}
    d = tmp_path_factory.mktemp("shipped")
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        logging.getLogger("matplotlib").addHandler(handler)
        try:
            # as on a machine with no CJK font installed: the chart takes the packaged face
            mp.setattr(charts, "_first_known_cjk_family", lambda: None)
            charts.cjk_font_family.cache_clear()
            daily = render_daily_report(ALL_CONTEXTS["daily_report"](), d / "daily.docx")
        finally:
            logging.getLogger("matplotlib").removeHandler(handler)
            # The answer cached under the patch is this fixture's pretend machine, not this one.
            charts.cjk_font_family.cache_clear()
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in records]
    assert not [m for m in messages if "missing from font" in m]  # the chart's glyphs
    notice = render_notice(ALL_CONTEXTS["notice"](), d / "notice.docx")
    for kind, docx in (("notice", notice), ("daily_report", daily)):
        out[kind] = convert_to_pdf(docx, d / kind, system_fonts=False)
    return out


def _spans(doc: Any) -> list[dict[str, Any]]:
    return [s for page in doc for b in page.get_text("dict")["blocks"]
            for ln in b.get("lines", []) for s in ln["spans"] if s["text"].strip()]


def _faces_by_size(doc: Any, size: float) -> Counter[str]:
    return Counter(s["font"].split("+")[-1] for s in _spans(doc)
                   if abs(s["size"] - size) < 0.1 for _ in s["text"])


@pytest.mark.parametrize("kind", ["notice", "daily_report"])
def test_every_font_is_embedded_and_shipped(pdfs: dict[str, Path], kind: str) -> None:
    with pymupdf.open(pdfs[kind]) as doc:
        fonts = {f[3] for i in range(len(doc)) for f in doc.get_page_fonts(i)}
        for i in range(len(doc)):
            for xref, ext, _type, name, *_ in doc.get_page_fonts(i):
                assert ext != "n/a", f"{name} not embedded"
                assert doc.extract_font(xref)[3], f"{name} has no font file"
    assert fonts and all(any(s in f for s in SHIPPED) for f in fonts), fonts


@pytest.mark.parametrize("kind", ["notice", "daily_report"])
def test_no_character_is_a_box(pdfs: dict[str, Path], kind: str) -> None:
    with pymupdf.open(pdfs[kind]) as doc:
        drawn = [(chr(c[0]), c[1], span["font"]) for page in doc
                 for span in page.get_texttrace() for c in span["chars"]]
    assert len(drawn) > 300
    notdef = [(ch, font) for ch, glyph, font in drawn if glyph == 0 and not ch.isspace()]
    assert notdef == []


def test_the_body_is_serif_the_title_bold_serif_headings_sans_and_kai(
        pdfs: dict[str, Path]) -> None:
    with pymupdf.open(pdfs["notice"]) as doc:
        body = _faces_by_size(doc, 16.0)
        title = _faces_by_size(doc, 22.0)
    assert body.most_common(1)[0][0] == "NotoSerifSC-Regular", body  # 仿宋 → serif
    assert any(f.startswith("NotoSansCJK") for f in body)  # 一、 headings in 黑体's sans
    assert any(f.startswith("LXGWWenKai") for f in body)  # （一） run-ins in 楷体
    assert set(title) == {"NotoSerifSC-Bold"}, title  # 小标宋 → bold serif


def test_without_the_shipped_serif_the_body_is_not_serif(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: with the serif's folder empty, the body falls back to sans."""
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    monkeypatch.setenv("DUBAN_FONT_DIR", str(tmp_path / "none"))
    (tmp_path / "none").mkdir()
    docx = render_notice(ALL_CONTEXTS["notice"](), tmp_path / "n.docx")
    with pymupdf.open(convert_to_pdf(docx, tmp_path, system_fonts=False)) as doc:
        body = _faces_by_size(doc, 16.0)
    assert "NotoSerifSC-Regular" not in body, body
