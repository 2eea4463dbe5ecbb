"""The shipped CJK faces embedded in a .docx, subset to the characters each face sets.

A .docx names the faces GB/T 9704 asks for (仿宋_GB2312, 方正小标宋简体, 楷体_GB2312, 宋体); a
machine without them showed the whole document in a sans fallback, since LibreOffice and WPS do
not read `w:altName`. Each face the document uses is embedded (ECMA-376 Part 1 §17.8.1:
word/fonts/*.odttf, the first 32 bytes XORed with the font key, `w:embedRegular` in the font
table, `w:embedTrueTypeFonts` and `w:saveSubsetFonts` in the settings) under the name the
document uses, from the fonts the project ships: Noto Serif SC Regular for 仿宋 and 宋体, its Bold
for 小标宋, LXGW WenKai for 楷体, Noto Sans CJK for 黑体 (all SIL OFL, installable: embedding
allowed). The sans is OpenType/CFF, which Word does not embed, so its glyphs are converted to
TrueType outlines; without it a machine with no CJK font at all printed the 黑体 headings as
boxes.

A machine that has the real face keeps it: LibreOffice 7.4 was measured to prefer an installed
font of the same name over the embedded one (tests/integration/test_embedded_fonts.py); Word
loads an embedded font only when the face is not installed.

How much of each face is embedded is a deployment setting, `DUBAN_FONT_EMBEDDING`:
- `subset` (the default): the characters the document sets in that face, ~120 KB a notice;
- `common`: all of GB2312 (the 7,445 characters the _GB2312 faces themselves cover) plus the
  document's own, ~6 MB a document. LibreOffice keeps the first embedded font of a name for the
  whole session (it writes it to a file named after the face and skips a later one of the same
  name), so with `subset` the second of two documents opened in one LibreOffice on a machine
  without the faces shows boxes for what the first one's subset lacks. With `common` every
  document whose text stays within GB2312 carries the same bytes for a face, so any of them may
  come first (tests/integration/test_embedded_fonts.py);
- `none`: nothing embedded.

Subsetting is done here rather than with fontTools' subsetter, which re-reads the 15 MB font
(its cmap, 30,000 glyph names, metrics) for every call: 0.4 s CPU per face per document. The
font is parsed once per process (cached by path, size and mtime) and each document only copies
its glyphs into a small TrueType font that fontTools writes.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from duban.adapters.documents.pdf import shipped_font_dirs
from duban.adapters.documents.schema import styled_paragraphs

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RT_FONT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/font"
RT_FONT_TABLE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/fontTable"
RT_STYLES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
RT_SETTINGS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings"
CT_OBFUSCATED_FONT = "application/vnd.openxmlformats-officedocument.obfuscatedFont"

SERIF = "NotoSerifSC-Regular.ttf"
SERIF_BOLD = "NotoSerifSC-Bold.ttf"
KAI = "LXGWWenKai-Regular.ttf"
SANS = "NotoSansCJKtc-Regular.otf"  # OpenType/CFF: converted to TrueType when embedded
# The names a document may give a face → the shipped font embedded under that name (as the
# fontconfig aliases in deploy/fontconfig/duban-fonts.conf map them for duban's own PDFs).
EMBEDDED_FACES: dict[str, str] = {
    "仿宋_GB2312": SERIF, "仿宋": SERIF, "FangSong": SERIF, "方正仿宋_GBK": SERIF,
    "宋体": SERIF, "SimSun": SERIF,
    "方正小标宋简体": SERIF_BOLD, "方正小标宋_GBK": SERIF_BOLD, "小标宋": SERIF_BOLD,
    "楷体_GB2312": KAI, "楷体": KAI, "KaiTi": KAI, "方正楷体_GBK": KAI,
    "黑体": SANS, "SimHei": SANS, "方正黑体_GBK": SANS,
}
# Characters every embedded face gets besides the document's text: what a field (the page
# number "— 1 —") or a list number (一、（一）1.) may draw that is not in the text.
ALWAYS = " 0123456789-—〇一二三四五六七八九十、．.（）"

# w:settings children that come before w:embedTrueTypeFonts / w:saveSubsetFonts (CT_Settings)
_SETTINGS_BEFORE_EMBED = ("writeProtection", "view", "zoom", "removePersonalInformation",
                          "removeDateAndTime", "doNotDisplayPageBoundaries",
                          "displayBackgroundShape", "printPostScriptOverText",
                          "printFractionalCharacterWidth", "printFormsData")
# w:font children that come before w:embedRegular (CT_Font)
_FONT_BEFORE_EMBED = ("altName", "panose1", "charset", "family", "notTrueType", "pitch", "sig")


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"




# ---------------------------------------------------------------- the font, once per process


class _Source:
    """A shipped TrueType font, parsed once: its cmap, glyphs and metrics."""

    def __init__(self, path: Path) -> None:
        from fontTools.ttLib import TTFont

        font = TTFont(str(path), recalcBBoxes=False, recalcTimestamp=False)
        self.font = font
        self.cmap: dict[int, str] = font.getBestCmap()
        self.glyf: Any = font["glyf"]
        self.glyf.glyphs  # noqa: B018  (decompile the glyph index now, not per document)
        self.hmtx: dict[str, tuple[int, int]] = font["hmtx"].metrics
        self.gid: dict[str, int] = font.getReverseGlyphMap()
        for tag in ("head", "hhea", "maxp", "OS/2", "name", "post"):
            font[tag]
        self.optional = [t for t in ("gasp", "prep", "fpgm", "cvt ") if t in font]
        self._lock = threading.Lock()  # composite glyphs are expanded from the shared table

    def glyph_names(self, chars: Iterable[str]) -> list[str]:
        """The glyphs that draw `chars` (and the components they are made of), in font order."""
        names = {".notdef"}
        todo = [self.cmap[ord(c)] for c in chars if ord(c) in self.cmap]
        while todo:
            name = todo.pop()
            if name in names:
                continue
            names.add(name)
            glyph = self.glyf.glyphs[name]
            if glyph.isComposite():
                with self._lock:
                    todo.extend(glyph.getComponentNames(self.glyf))
        return sorted(names, key=self.gid.__getitem__)

    def subset(self, chars: Iterable[str], family: str) -> bytes:
        """A TrueType font with the glyphs for `chars`, named `family` (Regular)."""
        import io

        from fontTools.ttLib import TTFont, newTable

        chars = set(chars)
        order = self.glyph_names(chars)
        keep = set(order)
        src = self.font
        out = TTFont(recalcBBoxes=False, recalcTimestamp=False)
        out.setGlyphOrder(order)
        for tag in ("head", "hhea", "maxp", "OS/2", *self.optional):
            out[tag] = copy.copy(src[tag])  # shallow: compile changes top-level fields only
        out["OS/2"] = copy.deepcopy(src["OS/2"])
        # 小标宋 is a heavy face at its regular weight: the bold serif stands in for it as the
        # Regular of that family, so no application synthesises bold on top.
        out["OS/2"].usWeightClass = 400
        out["OS/2"].usWidthClass = 6  # semi-expanded: a tie with an installed face loses
        out["OS/2"].fsSelection = (out["OS/2"].fsSelection & ~0x21) | 0x40
        out["head"].macStyle = 0
        glyf = newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = {}
        for name in order:
            glyph = self.glyf.glyphs[name]
            if glyph.isComposite():  # its components are stored by glyph id: renumber
                with self._lock:
                    glyph = copy.deepcopy(glyph)
                    glyph.expand(self.glyf)
            glyf.glyphs[name] = glyph
        out["glyf"] = glyf
        out["loca"] = newTable("loca")
        hmtx = newTable("hmtx")
        hmtx.metrics = {name: self.hmtx[name] for name in order}
        out["hmtx"] = hmtx
        out["cmap"] = self._cmap(chars, keep)
        out["post"] = self._post()
        out["name"] = self._name_table(family)
        buf = io.BytesIO()
        out.save(buf)
        return buf.getvalue()

    def _cmap(self, chars: set[str], keep: set[str]) -> Any:
        """A Windows Unicode cmap of `chars` onto the kept glyphs."""
        from fontTools.ttLib import newTable
        from fontTools.ttLib.tables._c_m_a_p import CmapSubtable

        cmap = newTable("cmap")
        cmap.tableVersion = 0
        mapping = {ord(c): self.cmap[ord(c)] for c in chars if ord(c) in self.cmap}
        bmp = CmapSubtable.newSubtable(4)
        bmp.platformID, bmp.platEncID, bmp.language = 3, 1, 0
        bmp.cmap = {cp: g for cp, g in mapping.items() if cp <= 0xFFFF and g in keep}
        cmap.tables = [bmp]
        if any(cp > 0xFFFF for cp in mapping):
            full = CmapSubtable.newSubtable(12)
            full.platformID, full.platEncID, full.language = 3, 10, 0
            full.cmap = mapping
            cmap.tables.append(full)
        return cmap

    def _post(self) -> Any:
        """A post table without glyph names: the cmap is what applications read."""
        from fontTools.ttLib import newTable

        post = newTable("post")
        for field in ("italicAngle", "underlinePosition", "underlineThickness",
                      "isFixedPitch", "minMemType42", "maxMemType42", "minMemType1",
                      "maxMemType1"):
            setattr(post, field, getattr(self.font["post"], field))
        post.formatType = 3.0
        return post

    def _name_table(self, family: str) -> Any:
        """The source's names (copyright, licence, PostScript name) under another family."""
        from fontTools.ttLib import newTable

        name = newTable("name")
        name.names = [copy.copy(rec) for rec in self.font["name"].names
                      if rec.platformID == 3 and rec.nameID not in (1, 2, 4, 16, 17)]
        for lang in (0x409, 0x804):  # English and Simplified Chinese (Windows)
            name.setName(family, 1, 3, 1, lang)
            name.setName("Regular", 2, 3, 1, lang)
            name.setName(family, 4, 3, 1, lang)
        return name


class _CffSource(_Source):
    """A shipped OpenType/CFF font (the sans), whose subsets are converted to TrueType.

    Word embeds TrueType only, so each glyph a document needs is drawn from the CFF charstrings
    through a cubic-to-quadratic pen (fontTools cu2qu, within 1 unit of the em) into glyf.
    """

    def __init__(self, path: Path) -> None:
        from fontTools.ttLib import TTFont

        font = TTFont(str(path), recalcBBoxes=False, recalcTimestamp=False)
        self.font = font
        self.cmap = font.getBestCmap()
        self.glyph_set = font.getGlyphSet()
        self.hmtx = font["hmtx"].metrics
        self.gid = font.getReverseGlyphMap()
        for tag in ("head", "hhea", "OS/2", "name", "post"):
            font[tag]
        self.optional = []
        self._lock = threading.Lock()
        self._converted: dict[str, Any] = {}

    def glyph_names(self, chars: Iterable[str]) -> list[str]:
        """The glyphs that draw `chars`, in font order (CFF glyphs have no components)."""
        names = {".notdef"} | {self.cmap[ord(c)] for c in chars if ord(c) in self.cmap}
        return sorted(names, key=self.gid.__getitem__)

    def _glyph(self, name: str) -> Any:
        """One glyph as a TrueType glyph (converted once per process)."""
        from fontTools.pens.cu2quPen import Cu2QuPen
        from fontTools.pens.ttGlyphPen import TTGlyphPen

        with self._lock:
            glyph = self._converted.get(name)
            if glyph is None:
                pen = TTGlyphPen(None)
                self.glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
                glyph = self._converted[name] = pen.glyph()
            return glyph

    def subset(self, chars: Iterable[str], family: str) -> bytes:
        """A TrueType font with the glyphs for `chars`, named `family` (Regular)."""
        import io

        from fontTools.ttLib import TTFont, newTable

        chars = set(chars)
        order = self.glyph_names(chars)
        out = TTFont(recalcBBoxes=True, recalcTimestamp=False)
        out.setGlyphOrder(order)
        out["head"] = copy.deepcopy(self.font["head"])
        out["hhea"] = copy.copy(self.font["hhea"])
        out["OS/2"] = copy.deepcopy(self.font["OS/2"])
        out["OS/2"].usWidthClass = 6  # as the serif's: a tie with an installed face loses
        maxp = newTable("maxp")
        maxp.tableVersion = 0x00010000
        for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                      "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                      "maxComponentElements", "maxComponentDepth", "maxPoints",
                      "maxContours", "maxCompositePoints", "maxCompositeContours"):
            setattr(maxp, field, 1 if field == "maxZones" else 0)
        maxp.numGlyphs = len(order)
        out["maxp"] = maxp
        glyf = newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = {name: self._glyph(name) for name in order}
        out["glyf"] = glyf
        out["loca"] = newTable("loca")
        out["head"].glyphDataFormat = 0
        hmtx = newTable("hmtx")
        hmtx.metrics = {name: self.hmtx[name] for name in order}
        out["hmtx"] = hmtx
        out["cmap"] = self._cmap(chars, set(order))
        out["post"] = self._post()
        out["name"] = self._name_table(family)
        buf = io.BytesIO()
        out.save(buf)
        return buf.getvalue()


@functools.lru_cache(maxsize=8)
def _source(path: str, size: int, mtime_ns: int) -> _Source:
    if path.endswith(".otf"):
        return _CffSource(Path(path))
    return _Source(Path(path))


def font_file(file_name: str, dirs: Iterable[Path] | None = None) -> Path | None:
    """The shipped font file of that name in the project's font folders (`dirs`, else
    shipped_font_dirs()), or None."""
    for folder in shipped_font_dirs() if dirs is None else dirs:
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    return None


def source_font(file_name: str, dirs: Iterable[Path] | None = None) -> _Source | None:
    """The parsed shipped font (cached while the file is unchanged), or None if absent."""
    path = font_file(file_name, dirs)
    if path is None:
        return None
    st = path.stat()
    return _source(str(path), st.st_size, st.st_mtime_ns)


# ---------------------------------------------------------------- which face sets which text


@dataclass
class _Styles:
    fonts: dict[str, str | None]  # style id → its own east-Asian face
    based_on: dict[str, str]
    default_paragraph: str | None
    default_font: str | None

    def face(self, style_id: str | None) -> str | None:
        """The face a style sets, following basedOn; None when no style in the chain sets one."""
        seen: set[str] = set()
        while style_id and style_id not in seen:
            seen.add(style_id)
            if self.fonts.get(style_id):
                return self.fonts[style_id]
            style_id = self.based_on.get(style_id)
        return None


def _rfonts_face(rpr: Any) -> str | None:
    if rpr is None:
        return None
    rfonts = rpr.find(_w("rFonts"))
    if rfonts is None:
        return None
    return rfonts.get(_w("eastAsia")) or rfonts.get(_w("ascii"))


def read_styles(root: Any) -> _Styles:
    """The faces of a styles part (its root element, or None)."""
    fonts: dict[str, str | None] = {}
    based_on: dict[str, str] = {}
    default_paragraph = default_font = None
    if root is not None:
        default_font = _rfonts_face(root.find(f"{_w('docDefaults')}/{_w('rPrDefault')}/"
                                              f"{_w('rPr')}"))
        for style in root.iter(_w("style")):
            sid = style.get(_w("styleId"))
            if not sid:
                continue
            fonts[sid] = _rfonts_face(style.find(_w("rPr")))
            base = style.find(_w("basedOn"))
            if base is not None and base.get(_w("val")):
                based_on[sid] = base.get(_w("val"))
            if style.get(_w("type")) == "paragraph" and style.get(_w("default")) in ("1", "true"):
                default_paragraph = sid
    return _Styles(fonts, based_on, default_paragraph, default_font)


def text_by_face(roots: Iterable[Any], styles: _Styles) -> dict[str, set[str]]:
    """The characters each face sets in the given story parts (document, headers, footers).

    The document's default face gets every character of the text (a superset by the few
    characters of the headings); another face gets the paragraphs of styles that set it and
    the runs that name it. Done with C-level calls where the text is (the text method,
    libxml2's tag-filtered walks): a 500-row notice has 4,000 cells, and a Python walk over
    each of them cost 100 ms. The styled paragraphs are found from their w:pStyle elements
    (a style id looked up in Python), not by an XPath predicate on every paragraph: that
    compared each paragraph's style with every face's styles, 0.86 against 0.24 ms a notice.
    """
    out: dict[str, list[str]] = {}
    body = styles.face(styles.default_paragraph) or styles.default_font
    others = frozenset(sid for sid in styles.fonts
                       if "'" not in sid and styles.face(sid) not in (None, body))
    t_tag, val = _w("t"), _w("val")
    r_tag, rpr_tag = _w("r"), _w("rPr")
    for root in roots:
        if body:
            out.setdefault(body, []).append(etree.tostring(root, method="text", encoding=str))
        for p, sid in styled_paragraphs(root, others) if others else ():
            face = styles.face(sid)
            if face:
                out.setdefault(face, []).extend(p.itertext(t_tag, with_tail=False))
        runs: dict[Any, None] = {}  # a run that names a face or a character style, once
        for el in root.iter(_w("rFonts"), _w("rStyle")):
            rpr = el.getparent()
            run = rpr.getparent() if rpr.tag == rpr_tag else None
            if run is not None and run.tag == r_tag and next(run.iterchildren(t_tag), None) \
                    is not None:
                runs[run] = None
        for run in runs:
            rpr = next(run.iterchildren(rpr_tag))
            face = _rfonts_face(rpr)
            if face is None:
                rstyle = rpr.find(_w("rStyle"))
                face = None if rstyle is None else styles.face(rstyle.get(val))
            if face:
                out.setdefault(face, []).extend(t.text or "" for t in run.findall(t_tag))
    return {face: set("".join(texts)) - {"\n", "\r", "\t"} for face, texts in out.items()}


# ---------------------------------------------------------------- the package


def obfuscate(font: bytes, key: str) -> bytes:
    """ECMA-376 Part 1 §17.8.1: XOR the first 32 bytes with the key GUID's bytes, reversed."""
    k = bytes.fromhex(key.strip("{}").replace("-", ""))[::-1]
    head = bytes(b ^ k[i % 16] for i, b in enumerate(font[:32]))
    return head + font[32:]


def font_key(data: bytes) -> str:
    """A GUID derived from the font's bytes: the .docx stays a function of its content."""
    return "{" + str(uuid.UUID(bytes=hashlib.sha256(data).digest()[:16])).upper() + "}"


@dataclass(frozen=True)
class EmbeddedFont:
    """One face embedded: the name the document uses, the odttf bytes and its key."""

    face: str
    odttf: bytes
    key: str


EMBEDDING_MODES = {"subset": "按文档用字子集嵌入", "common": "嵌入 GB2312 全部字符",
                   "none": "不嵌入"}


def embedding_mode() -> str:
    """The deployment's DUBAN_FONT_EMBEDDING (subset, common or none); subset when unset."""
    mode = os.environ.get("DUBAN_FONT_EMBEDDING", "").strip().lower() or "subset"
    if mode not in EMBEDDING_MODES:
        choices = "、".join(f"{k}（{v}）" for k, v in EMBEDDING_MODES.items())
        raise ValueError(f"环境变量 DUBAN_FONT_EMBEDDING 的值“{mode}”无效，应为：{choices}")
    return mode


@functools.cache
def gb2312_chars() -> frozenset[str]:
    """Every character of GB2312 (its 682 symbols and 6,763 hanzi) and printable ASCII."""
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return frozenset(chars)


def fonts_for(text: dict[str, set[str]], mode: str = "subset") -> list[EmbeddedFont]:
    """Subset the shipped fonts for each face the document sets text in (shipped ones only).

    In `common` mode every face also gets all of GB2312, so documents agree byte for byte on
    a face unless their text goes beyond GB2312 (see the module's docstring).
    """
    base = _ALWAYS | gb2312_chars() if mode == "common" else _ALWAYS
    out: list[EmbeddedFont] = []
    # The folders looked up, and each file found, once a document (its faces share files).
    dirs = shipped_font_dirs()
    sources: dict[str, _Source | None] = {}
    for face in sorted(text):
        file_name = EMBEDDED_FACES.get(face)
        if file_name is None:
            continue
        if file_name not in sources:
            sources[file_name] = source_font(file_name, dirs)
        src = sources[file_name]
        if src is None:
            continue
        chars = frozenset(text[face])
        out.append(_embedded(src, base if chars <= base else chars | base, face))
    return out


_ALWAYS = frozenset(ALWAYS)


@functools.lru_cache(maxsize=64)
def _embedded(src: _Source, chars: frozenset[str], face: str) -> EmbeddedFont:
    """One face's subset, obfuscated; a batch of notices shares its title, mark and
    headings, so only the body face is built for every document."""
    data = src.subset(chars, face)
    key = font_key(data)
    return EmbeddedFont(face, obfuscate(data, key), key)


def add_to_font_table(root: Any, fonts: Iterable[EmbeddedFont], rel_ids: Iterable[str]) -> None:
    """Give the font table (w:fonts) a w:font with a w:embedRegular for each embedded face."""
    for font, rid in zip(fonts, rel_ids, strict=True):
        entry = next((f for f in root.findall(_w("font")) if f.get(_w("name")) == font.face),
                     None)
        if entry is None:
            entry = etree.SubElement(root, _w("font"))
            entry.set(_w("name"), font.face)
            etree.SubElement(entry, _w("charset")).set(_w("val"), "86")  # GB2312
            etree.SubElement(entry, _w("family")).set(_w("val"), "roman")
            etree.SubElement(entry, _w("pitch")).set(_w("val"), "variable")
        for old in entry.findall("*"):
            if etree.QName(old).localname.startswith("embed"):
                entry.remove(old)
        embed = etree.Element(_w("embedRegular"))
        embed.set(f"{{{R}}}id", rid)
        embed.set(_w("fontKey"), font.key)
        _insert_after(entry, embed, _FONT_BEFORE_EMBED)


def mark_settings(root: Any) -> None:
    """Add w:embedTrueTypeFonts and w:saveSubsetFonts to w:settings, in schema order."""
    if root.find(_w("embedTrueTypeFonts")) is None:
        _insert_after(root, etree.Element(_w("embedTrueTypeFonts")), _SETTINGS_BEFORE_EMBED)
    if root.find(_w("saveSubsetFonts")) is None:
        _insert_after(root, etree.Element(_w("saveSubsetFonts")),
                      (*_SETTINGS_BEFORE_EMBED, "embedTrueTypeFonts", "embedSystemFonts"))


def _insert_after(parent: Any, el: Any, before: tuple[str, ...]) -> None:
    """Insert el after the last child named in `before` (or first), keeping schema order."""
    names = {_w(n) for n in before}
    last = None
    for child in parent:
        if child.tag in names:
            last = child
    if last is not None:
        last.addnext(el)
    else:
        parent.insert(0, el)


def story_parts(document_part: Any) -> Iterator[Any]:
    """The main document part and its headers and footers."""
    yield document_part
    for rel in document_part.rels.values():
        if not rel.is_external and rel.reltype.endswith(("/header", "/footer")):
            yield rel.target_part


def embed_fonts(document: Any, mode: str | None = None, *,
                faces: _Styles | None = None) -> list[EmbeddedFont]:
    """Embed the shipped faces a python-docx Document uses, subset to its text; return them.

    `mode` is subset or common (None: the deployment's embedding_mode()). Done on the package
    before it is written (render.save_stamped), so the file is written once. Faces the
    machine does not have the shipped font for are left as they are. `faces`: read_styles
    of the document's styles part, when the caller has it (a template's, read once).
    """
    mode = mode or embedding_mode()
    if mode == "none":
        return []
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part, XmlPart

    doc_part = document.part
    if faces is None:
        styles = next((r.target_part for r in doc_part.rels.values()
                       if not r.is_external and r.reltype == RT_STYLES), None)
        faces = read_styles(styles.element if styles is not None else None)
    text = text_by_face((p.element for p in story_parts(doc_part)), faces)
    fonts = fonts_for(text, mode)
    if not fonts:
        return []
    table = doc_part.part_related_by(RT_FONT_TABLE)
    package = doc_part.package
    rids = []
    # The names python-docx's next_partname gives one font after another, from one walk over
    # the package's parts (it walks them all for every name).
    taken = {str(part.partname) for part in package.iter_parts()}
    n = 0
    for font in fonts:
        n += 1
        while f"/word/fonts/font{n}.odttf" in taken:
            n += 1
        part = Part(PackURI(f"/word/fonts/font{n}.odttf"), CT_OBFUSCATED_FONT, font.odttf,
                    package)
        rids.append(table.relate_to(part, RT_FONT))
    if isinstance(table, XmlPart):
        add_to_font_table(table.element, fonts, rids)
    else:  # python-docx has no class for the font table: it holds the part as bytes
        root = etree.fromstring(table.blob)
        add_to_font_table(root, fonts, rids)
        table._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                     standalone=True)
    mark_settings(doc_part.part_related_by(RT_SETTINGS).element)
    return fonts
