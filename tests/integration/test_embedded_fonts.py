"""The .docx itself carries its serif faces (issue 16 item 13).

Every kind of document duban writes embeds the shipped fonts (ECMA-376 obfuscated TrueType)
under the names it uses (仿宋_GB2312, 宋体, 方正小标宋简体, 楷体_GB2312, 黑体), subset to the text each
face sets: checked by de-obfuscating the parts and reading them with fontTools against the
effective face of every run (the fixtures' own style resolution, not the embedder's).

Then a plain LibreOffice conversion of the .docx alone (no duban aliases, no fonts folder), with
a fontconfig that has no CJK serif at all (only the packaged sans): the body comes out in the
embedded serif, the title in its bold, no character a box. The same document without embedding
comes out sans (the check can fail), and on a machine that has a face of the same name, that
installed face wins over the embedded one (measured, so the docs can say so).

Then several documents in one LibreOffice session (one `soffice` call, no CJK font at all): in
the `common` embedding mode no document shows a box; in the default `subset` mode the second
one does, since LibreOffice keeps the first document's font of a name for the session.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import docx
import pymupdf
import pytest
from docx.oxml.ns import qn
from fontTools.ttLib import TTFont

from duban.adapters.documents import (
    libreoffice_available,
    render_notice,
)
from duban.adapters.documents.fonts import (
    EMBEDDED_FACES,
    KAI,
    SANS,
    SERIF,
    SERIF_BOLD,
    font_file,
    mark_settings,
    obfuscate,
)
from duban.adapters.documents.pdf import soffice_path
from tests.integration.test_documents_fixtures import ALL_CONTEXTS, RENDERERS, require, run_prop

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _need_fonts() -> None:
    for name in (SERIF, SERIF_BOLD, KAI, SANS):
        require(font_file(name) is not None,
                f"the shipped font {name} is missing (make fonts; fonts-lxgw-wenkai; "
                "cvttf-notosanscjk-regular)")


def embedded(path: Path) -> dict[str, TTFont]:
    """The fonts a .docx embeds, de-obfuscated and parsed, by the face name they serve."""
    from lxml import etree

    out: dict[str, TTFont] = {}
    with zipfile.ZipFile(path) as z:
        rels = etree.fromstring(z.read("word/_rels/fontTable.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels}
        assert {r.get("Type") for r in rels} == {
            "http://schemas.openxmlformats.org/officeDocument/2006/relationships/font"}
        types = z.read("[Content_Types].xml").decode()
        table = etree.fromstring(z.read("word/fontTable.xml"))
        for font in table.iter(f"{{{W}}}font"):
            embed = font.find(f"{{{W}}}embedRegular")
            if embed is None:
                continue
            part = "word/" + target[embed.get(f"{{{R}}}id")]
            assert part.endswith(".odttf")
            assert "application/vnd.openxmlformats-officedocument.obfuscatedFont" in types
            data = obfuscate(z.read(part), embed.get(f"{{{W}}}fontKey"))  # XOR undoes itself
            out[font.get(f"{{{W}}}name")] = TTFont(io.BytesIO(data))
        settings = z.read("word/settings.xml").decode()
    assert "<w:embedTrueTypeFonts/>" in settings and "<w:saveSubsetFonts/>" in settings
    return out


def _text_by_effective_face(path: Path) -> dict[str, set[str]]:
    """Each run's characters under its effective east-Asian face (the fixtures' resolution)."""
    doc = docx.Document(str(path))
    parts = [doc.part.element]
    for section in doc.sections:
        for hf in (section.footer, section.even_page_footer, section.first_page_footer,
                   section.header, section.even_page_header, section.first_page_header):
            if not hf.is_linked_to_previous:
                parts.append(hf._element)
    out: dict[str, set[str]] = {}
    for root in parts:
        for p in root.iter(qn("w:p")):
            for r in p.iter(qn("w:r")):
                text = "".join(t.text or "" for t in r.findall(qn("w:t")))
                if text:
                    face = run_prop(doc, p, r, "w:rFonts", "w:eastAsia")
                    out.setdefault(face or "", set()).update(text)
    return out


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    _need_fonts()
    d = tmp_path_factory.mktemp("embedded")
    return {kind: render(ALL_CONTEXTS[kind](), d / f"{kind}.docx")
            for kind, render in RENDERERS.items()}


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_each_face_used_is_embedded_and_covers_its_text(documents: dict[str, Path],
                                                        kind: str) -> None:
    fonts = embedded(documents[kind])
    text = _text_by_effective_face(documents[kind])
    used = {face for face in text if face in EMBEDDED_FACES}
    assert "仿宋_GB2312" in used
    assert set(fonts) == used, (set(fonts), used)
    for face, font in fonts.items():
        names = {n.toUnicode() for n in font["name"].names if n.nameID == 1}
        assert names == {face}  # Word and WPS find an embedded font by its family name
        missing = {c for c in text[face] if ord(c) not in font.getBestCmap()}
        assert not missing, (face, sorted(missing)[:20])
        assert font["maxp"].numGlyphs < 3000  # a subset, not the 30,000-glyph font
        assert font["OS/2"].fsType == 0  # installable: every application may use it
    with zipfile.ZipFile(documents[kind]) as z:
        assert z.testzip() is None
    assert docx.Document(str(documents[kind])).paragraphs  # python-docx still opens it


def test_embedding_is_deterministic(documents: dict[str, Path], tmp_path: Path) -> None:
    """Same content, same bytes (the font keys come from the font data, not a random GUID)."""
    again = render_notice(ALL_CONTEXTS["notice"](), tmp_path / "again.docx")
    assert again.read_bytes() == documents["notice"].read_bytes()


def test_settings_elements_keep_schema_order() -> None:
    from lxml import etree

    root = etree.fromstring(f'<w:settings xmlns:w="{W}"><w:zoom w:percent="100"/>'
                            '<w:defaultTabStop w:val="720"/></w:settings>')
    mark_settings(root)
    mark_settings(root)  # idempotent
    assert [etree.QName(c).localname for c in root] == [
        "zoom", "embedTrueTypeFonts", "saveSubsetFonts", "defaultTabStop"]


# ---------------------------------------------------------------- LibreOffice, no CJK serif


def _sans_only_fontconfig(work: Path, extra_dir: Path | None = None) -> Path:
    """A fontconfig with only the packaged CJK sans (and extra_dir): no serif, no aliases."""
    import cvttf_NotoSansCJK_Regular as sans

    dirs = [Path(sans.__file__).parent, *([extra_dir] if extra_dir else [])]
    conf = work / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        "<fontconfig>\n" + "".join(f"  <dir>{d}</dir>\n" for d in dirs)
        + f"  <cachedir>{work / 'fc-cache'}</cachedir>\n</fontconfig>\n", encoding="utf-8")
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], env={"FONTCONFIG_FILE": str(conf)},
                            capture_output=True, text=True, timeout=60).stdout
    assert "Serif" not in listed and "Noto Sans CJK" in listed, listed
    return conf


def _plain_convert(docx_path: Path, work: Path, conf: Path) -> Path:
    """`soffice --headless --convert-to pdf` of the .docx alone, as a user would run it."""
    import os

    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    subprocess.run([str(soffice_path()), f"-env:UserInstallation={(work / 'p').as_uri()}",
                    "--headless", "--convert-to", "pdf", "--outdir", str(work),
                    str(docx_path)], env=env, check=True, capture_output=True, timeout=300)
    return work / (docx_path.stem + ".pdf")


def _notdef_glyphs(data: bytes) -> set[int]:
    """Glyph ids of a font embedded in a PDF whose outline is its .notdef's (a box)."""
    from fontTools.pens.recordingPen import RecordingPen

    font = TTFont(io.BytesIO(data))
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()

    def outline(name: str) -> list[tuple[str, tuple[object, ...]]]:
        pen = RecordingPen()
        glyphs[name].draw(pen)
        return pen.value

    box = outline(order[0])
    return {0} | {i for i, name in enumerate(order) if outline(name) == box}


def _boxes_by_font(doc: pymupdf.Document) -> dict[str, set[int]]:
    """For each font name of the PDF (subset tag dropped), the glyph ids that draw a box.

    LibreOffice writes a character its font lacks as a copy of the .notdef glyph under a new
    id (not 0), so the box is found by its outline, not by its id.
    """
    out: dict[str, set[int]] = {}
    seen: set[int] = set()
    for page in doc:
        for xref, ext, *_rest in page.get_fonts():
            if xref in seen or ext not in ("ttf", "cff", "otf"):
                continue
            seen.add(xref)
            data = doc.extract_font(xref)[3]
            if data:
                out.setdefault(_rest[1].split("+")[-1], set()).update(_notdef_glyphs(data))
    return out


def _faces(pdf: Path) -> tuple[Counter[str], Counter[str], list[str]]:
    """Characters by font at the body size (16 pt), at the title size (22 pt), and boxes."""
    body: Counter[str] = Counter()
    title: Counter[str] = Counter()
    boxes: list[str] = []
    with pymupdf.open(pdf) as doc:
        box_glyphs = _boxes_by_font(doc)
        for page in doc:
            for span in page.get_texttrace():
                font = span["font"].split("+")[-1]
                bad = next((ids for name, ids in box_glyphs.items() if name.startswith(font)),
                           {0})
                for ch in span["chars"]:
                    if chr(ch[0]).isspace():
                        continue
                    if ch[1] in bad:
                        boxes.append(chr(ch[0]))
                    if abs(span["size"] - 16) < 0.1:
                        body[font] += 1
                    elif abs(span["size"] - 22) < 0.1:
                        title[font] += 1
    return body, title, boxes


@pytest.fixture(scope="module")
def lo() -> None:
    require(libreoffice_available(), "LibreOffice (soffice) is not installed")
    require(shutil.which("fc-list") is not None, "fontconfig (fc-list) is not installed")


@pytest.mark.libreoffice
def test_plain_libreoffice_without_any_cjk_serif_prints_the_embedded_serif(
        lo: None, documents: dict[str, Path], tmp_path: Path) -> None:
    pdf = _plain_convert(documents["notice"], tmp_path, _sans_only_fontconfig(tmp_path))
    body, title, boxes = _faces(pdf)
    assert body.most_common(1)[0][0] == "NotoSerifSC-Regular", body  # 仿宋_GB2312
    assert set(title) == {"NotoSerifSC-Bold"}, title  # 方正小标宋简体
    assert any(f.startswith("LXGWWenKai") for f in body), body  # 楷体_GB2312 run-ins
    assert boxes == []


@pytest.mark.libreoffice
def test_with_no_cjk_font_at_all_every_face_prints_from_the_document(
        lo: None, documents: dict[str, Path], tmp_path: Path) -> None:
    """DejaVu only: the 黑体 headings come from the embedded sans (CFF converted to TrueType),
    the rest from the embedded serif and 楷, and no character is a box."""
    body, title, boxes = _faces(_plain_convert(documents["reminder"], tmp_path,
                                               _no_cjk_fontconfig(tmp_path)))
    assert boxes == [], "".join(boxes[:40])
    assert body["NotoSansCJKtc-Regular"] > 0, body  # 一、临期和逾期问题
    assert body.most_common(1)[0][0] == "NotoSerifSC-Regular", body
    assert not any(f.startswith("DejaVu") for f in body + title), (body, title)


@pytest.mark.libreoffice
def test_without_embedding_the_same_conversion_is_sans(lo: None, tmp_path: Path) -> None:
    """The check above can fail: the same notice, not embedded, prints in the sans."""
    _need_fonts()
    docx_path = render_notice(ALL_CONTEXTS["notice"](), tmp_path / "bare.docx", embed=False)
    pdf = _plain_convert(docx_path, tmp_path, _sans_only_fontconfig(tmp_path))
    body, title, _ = _faces(pdf)
    assert not any("Serif" in f for f in body + title), (body, title)


def _installed_fake_fangsong(folder: Path) -> None:
    """A font installed under the name 仿宋_GB2312 (LXGW WenKai renamed), to see which wins."""
    font = TTFont(str(font_file(KAI)))
    name = font["name"]
    for i in (1, 4, 16, 17):
        name.removeNames(nameID=i)
    for lang in (0x409, 0x804):
        name.setName("仿宋_GB2312", 1, 3, 1, lang)
        name.setName("仿宋_GB2312", 4, 3, 1, lang)
    name.setName("InstalledFangsong", 6, 3, 1, 0x409)
    folder.mkdir()
    font.save(str(folder / "installed-fangsong.ttf"))


@pytest.mark.libreoffice
def test_an_installed_face_of_the_same_name_wins_over_the_embedded_one(
        lo: None, documents: dict[str, Path], tmp_path: Path) -> None:
    _installed_fake_fangsong(tmp_path / "installed")
    conf = _sans_only_fontconfig(tmp_path, tmp_path / "installed")
    body, title, _ = _faces(_plain_convert(documents["notice"], tmp_path, conf))
    assert body.most_common(1)[0][0] == "InstalledFangsong", body
    assert set(title) == {"NotoSerifSC-Bold"}, title  # 小标宋 is not installed: embedded


# ---------------------------------------------------------------- several documents, one session


def _no_cjk_fontconfig(work: Path) -> Path:
    """A fontconfig with only DejaVu: no CJK face at all, so a missing glyph is a box."""
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    require(dejavu.is_dir(), "DejaVu fonts (fonts-dejavu-core) are not installed")
    conf = work / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f"<fontconfig>\n  <dir>{dejavu}</dir>\n  <cachedir>{work / 'fc-cache'}</cachedir>\n"
        "</fontconfig>\n", encoding="utf-8")
    return conf


def _convert_together(paths: list[Path], work: Path, conf: Path) -> list[Path]:
    """One `soffice --convert-to pdf` of several .docx files: one LibreOffice session."""
    import os

    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    subprocess.run([str(soffice_path()), f"-env:UserInstallation={(work / 'p').as_uri()}",
                    "--headless", "--convert-to", "pdf", "--outdir", str(work / "pdf"),
                    *map(str, paths)], env=env, check=True, capture_output=True, timeout=600)
    return [work / "pdf" / (p.stem + ".pdf") for p in paths]


def _pair(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The notice and the 催办 (different texts) rendered in one embedding mode."""
    from tests.integration.test_documents_fixtures import RENDERERS as renderers

    _need_fonts()
    monkeypatch.setenv("DUBAN_FONT_EMBEDDING", mode)
    folder = tmp_path / mode
    folder.mkdir()
    return [renderers[k](ALL_CONTEXTS[k](), folder / f"{k}.docx") for k in ("notice", "reminder")]


def test_common_mode_embeds_the_same_bytes_for_a_face_in_every_document(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from duban.adapters.documents.fonts import gb2312_chars

    notice, reminder = _pair(tmp_path, "common", monkeypatch)
    a, b = embedded(notice), embedded(reminder)
    assert set(a) & set(b) >= {"仿宋_GB2312", "方正小标宋简体", "楷体_GB2312", "黑体"}
    for face in set(a) & set(b):
        covered = source_cmap(face)  # GB2312 as far as the shipped font draws it
        wanted = {ord(c) for c in gb2312_chars()} & covered
        assert wanted <= set(a[face].getBestCmap()), face
    raw_a, raw_b = _font_parts(notice), _font_parts(reminder)
    for face in set(a) & set(b):
        assert raw_a[face] == raw_b[face], face
    assert notice.stat().st_size > 3_000_000  # the price: megabytes, not ~120 KB


def _font_parts(path: Path) -> dict[str, bytes]:
    """The embedded font parts of a .docx as stored, by the face name they serve."""
    from lxml import etree

    with zipfile.ZipFile(path) as z:
        rels = etree.fromstring(z.read("word/_rels/fontTable.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels}
        table = etree.fromstring(z.read("word/fontTable.xml"))
        return {f.get(f"{{{W}}}name"): z.read("word/" + target[e.get(f"{{{R}}}id")])
                for f in table.iter(f"{{{W}}}font")
                if (e := f.find(f"{{{W}}}embedRegular")) is not None}


def source_cmap(face: str) -> set[int]:
    """The code points the shipped font behind a face covers."""
    path = font_file(EMBEDDED_FACES[face])
    assert path is not None
    return set(TTFont(str(path), lazy=True).getBestCmap())


def test_an_unknown_embedding_mode_is_refused_in_chinese(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    _need_fonts()
    monkeypatch.setenv("DUBAN_FONT_EMBEDDING", "full")
    with pytest.raises(ValueError, match=r"DUBAN_FONT_EMBEDDING.*“full”无效.*common"):
        render_notice(ALL_CONTEXTS["notice"](), tmp_path / "n.docx")


@pytest.mark.libreoffice
def test_common_mode_two_documents_in_one_libreoffice_session_show_no_box(
        lo: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdfs = _convert_together(_pair(tmp_path, "common", monkeypatch), tmp_path,
                             _no_cjk_fontconfig(tmp_path))
    for pdf in pdfs:
        body, title, boxes = _faces(pdf)
        assert boxes == [], (pdf.name, "".join(boxes[:40]))
        assert body.most_common(1)[0][0] == "NotoSerifSC-Regular", (pdf.name, body)
        assert set(title) == {"NotoSerifSC-Bold"}, (pdf.name, title)
        assert body["NotoSansCJKtc-Regular"] > 0, (pdf.name, body)  # the 黑体 headings


@pytest.mark.libreoffice
def test_subset_mode_the_second_document_of_a_session_shows_boxes(
        lo: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why `common` exists, and that the box check above can fail: LibreOffice keeps the
    first document's 仿宋_GB2312 subset for the session, so the 催办 opened after the notice
    boxes what only it uses. Each alone prints whole (the tests above)."""
    notice, reminder = _convert_together(_pair(tmp_path, "subset", monkeypatch), tmp_path,
                                         _no_cjk_fontconfig(tmp_path))
    assert _faces(notice)[2] == []
    assert len(_faces(reminder)[2]) > 10
