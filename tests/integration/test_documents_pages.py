"""No blank page in Word: the page logic of every kind, read from the OOXML (no Word here).

Word paginates a .docx itself, so a page that LibreOffice does not print can still appear in
Word. What makes one in Word, and what each kind must therefore not contain:

- an explicit page break (`w:br w:type="page"`) or a section break inside the body: a break
  that falls at the foot of a full page gives an empty page. The even-page rule of 7.4 is kept
  in the PDF only (`convert_to_pdf` converts a copy with the break); the .docx has none;
- a body that ends in a table: Word adds an empty paragraph after it in Normal's 28.95 pt line,
  which spills onto a page of its own when the table ends near the foot. Every kind ends in
  the 1 pt `GB End` paragraph, off the line grid (the 版记's anchor, where there is one);
- an empty paragraph before a paragraph that starts a page (`pageBreakBefore`, the 附件
  label): at the foot of a page it would leave that page holding nothing but the break.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from tests.integration.test_documents_fixtures import ALL_CONTEXTS, RENDERERS

W_P, W_TBL, W_PPR, W_STYLE = qn("w:p"), qn("w:tbl"), qn("w:pPr"), qn("w:pStyle")


def _style_of(doc: object, p: object) -> str:
    st = p.find(f"{W_PPR}/{W_STYLE}")  # type: ignore[attr-defined]
    return "" if st is None else str(st.get(qn("w:val")))


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_nothing_in_the_docx_makes_a_blank_page(kind: str, tmp_path: Path) -> None:
    doc = Document(str(RENDERERS[kind](ALL_CONTEXTS[kind](), tmp_path / f"{kind}.docx")))
    body = doc.element.body
    breaks = [b for b in body.iter(qn("w:br")) if b.get(qn("w:type")) == "page"]
    assert breaks == []
    assert body.findall(f".//{W_PPR}/{qn('w:sectPr')}") == []  # one section
    sect_type = body.find(f"{qn('w:sectPr')}/{qn('w:type')}")
    assert sect_type is None or sect_type.get(qn("w:val")) in ("nextPage", None)
    blocks = [el for el in body if el.tag in (W_P, W_TBL)]
    last = blocks[-1]
    assert last.tag == W_P and _style_of(doc, last) == "GBEnd"  # not a table, not a 3号 line
    end = doc.styles.element.find(f"{qn('w:style')}[@{qn('w:styleId')}='GBEnd']")
    spacing = end.find(f"{W_PPR}/{qn('w:spacing')}")
    assert spacing.get(qn("w:lineRule")) == "exact" and int(spacing.get(qn("w:line"))) <= 20
    assert not "".join(last.itertext()).strip() or last.find(".//" + qn("w:drawing")) is not None
    # pageBreakBefore only on the 附件 label, never after an empty paragraph
    styles_breaking = {
        s.get(qn("w:styleId")) for s in doc.styles.element.findall(qn("w:style"))
        if s.find(f"{W_PPR}/{qn('w:pageBreakBefore')}") is not None}
    assert styles_breaking <= {"GBAttachmentLabel"}
    for before, p in itertools.pairwise(blocks):
        starts_page = (_style_of(doc, p) in styles_breaking
                       or p.find(f"{W_PPR}/{qn('w:pageBreakBefore')}") is not None)
        if starts_page and before.tag == W_P:
            assert "".join(before.itertext()).strip(), "an empty paragraph ends a page"
