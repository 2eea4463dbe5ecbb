"""Campaign template overrides, and broken templates: a Chinese error naming template and
line, and no output file left behind."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from duban.adapters.documents import (
    SHIPPED_TEMPLATE_DIR,
    TemplateError,
    render_notice,
    resolve_template,
)
from duban.domain.errors import DubanError
from tests.integration.test_documents_fixtures import body_paragraphs, notice_context, para_text


def _edit_template(src: Path, dst: Path, old: str, new: str) -> int:
    """Copy a template, replacing the text of the paragraph `old`; return its paragraph number.

    The number counts every paragraph of the body in order (tables and text boxes included),
    which is how TemplateError numbers lines.
    """
    doc = Document(str(src))
    for i, p in enumerate(body_paragraphs(doc), start=1):
        if para_text(p) == old:
            runs = list(p.iter(qn("w:r")))
            runs[0].find(qn("w:t")).text = new
            for r in runs[1:]:
                r.getparent().remove(r)
            dst.parent.mkdir(parents=True, exist_ok=True)
            doc.save(str(dst))
            return i
    raise AssertionError(f"paragraph {old!r} not in {src}")


def _campaign_with(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    folder = tmp_path / "campaign-templates"
    line = _edit_template(SHIPPED_TEMPLATE_DIR / "notice.docx", folder / "notice.docx", old, new)
    return folder, line


def _leftovers(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def test_campaign_template_overrides_shipped(tmp_path: Path) -> None:
    folder, _ = _campaign_with(tmp_path, "一、问题情况", "一、本县定制的问题情况")
    assert resolve_template("notice.docx", folder) == folder / "notice.docx"
    out = render_notice(notice_context(3), tmp_path / "own.docx", template_dir=folder)
    texts = [para_text(p) for p in body_paragraphs(Document(str(out)))]
    assert "一、本县定制的问题情况" in texts
    shipped = render_notice(notice_context(3), tmp_path / "shipped.docx")
    texts = [para_text(p) for p in body_paragraphs(Document(str(shipped)))]
    assert "一、本县定制的问题情况" not in texts and "一、问题情况" in texts


def test_campaign_folder_without_that_template_falls_back(tmp_path: Path) -> None:
    folder = tmp_path / "campaign-templates"
    folder.mkdir()
    shutil.copyfile(SHIPPED_TEMPLATE_DIR / "ranking.docx", folder / "ranking.docx")
    assert resolve_template("notice.docx", folder) == SHIPPED_TEMPLATE_DIR / "notice.docx"
    assert resolve_template("ranking.docx", folder) == folder / "ranking.docx"


BROKEN: list[tuple[str, str, str]] = [
    # (id, paragraph replaced, broken text)
    ("syntax", "一、问题情况", "一、问题情况{{ problems|length "),
    ("unknown-tag", "一、问题情况", "{% frobnicate %}"),
    ("undefined", "一、问题情况", "一、{{ no_such_field }}"),
    ("undefined-attr", "一、问题情况", "一、{{ contact.fax.number }}"),
    ("sandbox", "一、问题情况", "{{ issuer.__class__.__mro__ }}"),
    ("sandbox-globals", "一、问题情况", "{{ problems[0].deadline.strftime.__globals__ }}"),
    ("type-error", "一、问题情况", "{{ issued_on + 1 }}"),
]


@pytest.mark.parametrize(("old", "new"), [(b[1], b[2]) for b in BROKEN],
                         ids=[b[0] for b in BROKEN])
def test_broken_template_names_template_and_line(tmp_path: Path, old: str, new: str) -> None:
    folder, line = _campaign_with(tmp_path, old, new)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "notice.docx"
    with pytest.raises(TemplateError) as info:
        render_notice(notice_context(3), out, template_dir=folder)
    err = info.value
    assert isinstance(err, DubanError)
    assert err.template == "notice.docx"
    assert "notice.docx" in err.message
    assert err.line == line, err.message
    assert f"第{line}行" in err.message
    assert new[:6] in err.snippet or new.strip()[:6] in err.message
    assert not out.exists()
    assert _leftovers(out_dir) == []  # no partial or temporary file


def test_messages_are_chinese_and_specific(tmp_path: Path) -> None:
    kinds = {
        "{{ issuer.__class__ }}": "不允许",
        "{{ no_such_field }}": "未定义",
        "{{ issuer ": "语法错误",
    }
    for broken, word in kinds.items():
        folder, _ = _campaign_with(tmp_path / word, "一、问题情况", broken)
        with pytest.raises(TemplateError) as info:
            render_notice(notice_context(1), tmp_path / "x.docx", template_dir=folder)
        assert word in info.value.message


def test_failed_render_keeps_the_previous_file(tmp_path: Path) -> None:
    folder, _ = _campaign_with(tmp_path, "一、问题情况", "{{ no_such_field }}")
    out = tmp_path / "notice.docx"
    out.write_bytes(b"previous")
    with pytest.raises(TemplateError):
        render_notice(notice_context(1), out, template_dir=folder)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_not_a_docx_is_a_template_error(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "notice.docx").write_bytes(b"not a zip")
    with pytest.raises(TemplateError) as info:
        render_notice(notice_context(1), tmp_path / "n.docx", template_dir=folder)
    assert "notice.docx" in info.value.message
    assert not (tmp_path / "n.docx").exists()


def test_missing_template_is_a_template_error(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import duban.adapters.documents.render as render

    monkeypatch.setattr(render, "SHIPPED_TEMPLATE_DIR", tmp_path / "nowhere")
    with pytest.raises(TemplateError) as info:
        render_notice(notice_context(1), tmp_path / "n.docx")
    assert "找不到模板" in info.value.message


@pytest.mark.parametrize("render", [render_notice])
def test_rendering_same_context_twice_is_identical_text(
    tmp_path: Path, render: Callable[..., Path],
) -> None:
    a = render(notice_context(5), tmp_path / "a.docx")
    b = render(notice_context(5), tmp_path / "b.docx")
    ta = [para_text(p) for p in body_paragraphs(Document(str(a)))]
    tb = [para_text(p) for p in body_paragraphs(Document(str(b)))]
    assert ta == tb
