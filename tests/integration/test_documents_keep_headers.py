"""A data table's heading and header row are kept with its first rows, never left alone at a
page's foot (seed 004's closing report ended a page on 一、乡镇（办事处）整改进度 and the
table's header row, its rows on the next page)."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from tests.integration.test_documents_fixtures import ALL_CONTEXTS, RENDERERS


def _keeps(p: object) -> bool:
    ppr = p.find(qn("w:pPr"))  # type: ignore[attr-defined]
    return ppr is not None and ppr.find(qn("w:keepNext")) is not None


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_headings_and_header_rows_keep_with_next(tmp_path: Path, kind: str) -> None:
    path = RENDERERS[kind](ALL_CONTEXTS[kind](), tmp_path / f"{kind}.docx")
    body = Document(str(path)).element.body
    data_tables = 0
    for tbl in body.iter(qn("w:tbl")):
        rows = list(tbl.iterchildren(qn("w:tr")))
        heads = [tr for tr in rows if tr.find(qn("w:trPr") + "/" + qn("w:tblHeader")) is not None]
        if not heads:  # the 版记 and layout tables: no header row, left as they are
            assert not any(_keeps(p) for tr in rows for p in tr.iter(qn("w:p")))
            continue
        data_tables += 1
        before = tbl.getprevious()
        assert before is not None and before.tag == qn("w:p") and _keeps(before)
        assert all(_keeps(p) for tr in heads for p in tr.iter(qn("w:p")))
        body_rows = [tr for tr in rows if tr not in heads]
        assert not any(_keeps(p) for tr in body_rows for p in tr.iter(qn("w:p")))
    assert data_tables > 0
