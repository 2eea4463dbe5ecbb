"""Render GB/T 9704 documents from .docx templates with docxtpl in a sandboxed Jinja.

Templates live in templates/documents/ (tools/build_doc_templates.py); a campaign's folder
(`template_dir`) overrides a shipped one of the same name. Output is renamed into place from a
temporary file, so a failed render never leaves a partial document."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import functools
import io
import itertools
import math
import os
import re
import tempfile
import threading
import types
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
from docx.opc.pkgwriter import PackageWriter
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docxtpl import DocxTemplate, InlineImage, Listing
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from duban.adapters.documents import context as _context_module
from duban.adapters.documents.context import (
    BulletinContext,
    DailyReportContext,
    LedgerContext,
    NoticeContext,
    OfficialDocument,
    RankingContext,
    ReminderContext,
    Requirement,
)
from duban.adapters.documents.fonts import embed_fonts, read_styles
from duban.adapters.documents.lines import balanced_lines, text_width_chars
from duban.adapters.documents.schema import child, styled_paragraphs
from duban.adapters.documents.tables import fit_tables, keep_headers_with_rows
from duban.adapters.resources import resource_dir
from duban.domain.errors import DubanError
from duban.domain.numbering import chinese_numeral, format_date_cn

SHIPPED_TEMPLATE_DIR = resource_dir("templates") / "documents"

NOTICE_TEMPLATE = "notice.docx"
REMINDER_TEMPLATE = "reminder.docx"
BULLETIN_TEMPLATE = "bulletin.docx"
DAILY_REPORT_TEMPLATE = "daily_report.docx"
CLOSING_REPORT_TEMPLATE = "closing_report.docx"  # the daily report without 较昨日
RANKING_TEMPLATE = "ranking.docx"
LEDGER_TEMPLATE = "ledger.docx"

SEAL_PLACEHOLDER = "duban-seal-placeholder.png"

_TEXT_W_PT = Mm(156).pt
_SECT, _W_W = qn("w:sectPr"), qn("w:w")
_CHAR_PT = 16.0
_SEAL_PT = Mm(42).pt
_LINE_PT = 28.95


class TemplateError(DubanError):
    """A document template that cannot be rendered; names the template and the line."""

    def __init__(self, template: str, detail: str, *, line: int | None = None,
                 snippet: str = "", part: str = "") -> None:
        where = f"模板“{template}”"
        if part and part != "正文":
            where += f"（{part}）"
        if line is not None:
            where += f"第{line}行"
            if snippet:
                where += f"（“{snippet}”）"
        super().__init__(f"{where}：{detail}")
        self.template = template
        self.line = line
        self.snippet = snippet
        self.part = part
        self.detail = detail


# ---------------------------------------------------------------- the Jinja environment


def _cn_date(value: dt.date | str | None) -> str:
    """Jinja filter: 2022年9月26日; empty for None; words (签收后5个工作日) as they are."""
    if isinstance(value, str):
        return value
    return "" if value is None else format_date_cn(value)


def _cn_numeral(value: int) -> str:
    """Jinja filter: 3 -> 三."""
    return chinese_numeral(int(value))


def _score(value: float, places: int | None = None) -> str:
    """Jinja filter: a score with its column's decimals (`places`), else without a trailing .0
    (a template an office copied before the column's decimals were passed)."""
    if places is None:
        return f"{float(value):g}"
    return f"{float(value):.{int(places)}f}"


# The records a template reads (NoticeItem …): instances of plain frozen dataclasses, for which
# the sandbox's check of a name without a leading underscore always passes.
_CONTEXT_TYPES = frozenset(
    v for v in vars(_context_module).values()
    if isinstance(v, type) and dataclasses.is_dataclass(v)
    and v.__module__ == _context_module.__name__)
# Values handed back as they are: no method (a str's format is one the sandbox wraps) and no
# object whose own attributes a template could walk.
_PLAIN_VALUES = frozenset((str, int, float, bool, type(None), dt.date, dt.datetime))


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with a short cut for the data fields of duban's own context records.

    A 500-row table reads 4,000 fields a render; the full check (is_safe_attribute,
    is_internal_attribute, wrap_str_format) cost a sixth of the render. For a context record
    and a public name the check always passes, and a plain value needs no wrapping, so those
    are returned at once; anything else (another type, a leading underscore, a method or an
    object as the value) takes the full check as before.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) in _CONTEXT_TYPES and not attribute.startswith("_"):
            try:
                value = getattr(obj, attribute)
            except AttributeError:
                pass
            else:
                if type(value) in _PLAIN_VALUES:
                    return value
        return super().getattr(obj, attribute)


@functools.cache
def jinja_env() -> SandboxedEnvironment:
    """The sandbox every template renders in: autoescaped XML, strict undefined variables."""
    env = _Sandbox(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["cn_date"] = _cn_date
    env.filters["cn_numeral"] = _cn_numeral
    env.filters["score"] = _score
    return env


@functools.lru_cache(maxsize=64)
def _patched(src_xml: str) -> str:
    """docxtpl's tag clean-up of a part's XML; pure, so cached per template part."""
    return str(DocxTemplate.patch_xml(None, src_xml))


_lined = functools.lru_cache(maxsize=64)(functools.partial(re.sub, r"<w:p([ >])", r"\n<w:p\1"))


jinja_env_shared = jinja_env  # the name inside _Template, where `jinja_env` is a parameter
# The core properties docxtpl renders as templates (its render_properties' list).
_PROPERTIES = ("author", "comments", "identifier", "language", "subject", "title")


@functools.lru_cache(maxsize=128)
def _compiled(src_xml: str) -> jinja2.Template:
    """Compile a part once; compiling the XML costs more than rendering it."""
    return jinja_env().from_string(src_xml)


def _strip_tags(xml_line: str) -> str:
    """The text of one line of part XML (one paragraph), shortened for a message."""
    text = re.sub(r"<[^>]+>", "", xml_line).strip()
    return text if len(text) <= 40 else text[:40] + "…"


def _template_line(exc: BaseException) -> int | None:
    """The template line a Jinja error points at (syntax errors carry it; others in frames)."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _detail(exc: BaseException) -> str:
    """A Chinese description of what went wrong in the template."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"模板语法错误：{exc.message}"
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"模板访问了不允许访问的属性或方法：{exc}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"模板使用了未定义的变量或属性：{exc.message}"
    return f"渲染失败（{type(exc).__name__}）：{exc}"


def _part_label(part: Any) -> str:
    """正文 / 页脚 / 页眉 for a message."""
    name = str(getattr(part, "partname", ""))
    if "footer" in name:
        return "页脚"
    if "header" in name:
        return "页眉"
    return "正文"


# Text (a w:t element's content) holding a character docxtpl's listing pass rewrites.
_LISTING_TEXT = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_W_TBL, _W_TR, _W_TC, _W_GRID_COL = f"{_W}tbl", f"{_W}tr", f"{_W}tc", f"{_W}gridCol"
_HAS_SPAN = etree.XPath(".//w:gridSpan", namespaces={"w": _W[1:-1]})


def _rows_match_grid(table: Any) -> bool:
    """Every row (nested tables' too) has as many cells as the table's grid, none spanning."""
    grid = table.find(f"{_W}tblGrid")
    if grid is None or _HAS_SPAN(table):
        return False
    columns = len(grid.findall(_W_GRID_COL))
    return all(len(row.findall(_W_TC)) == columns for row in table.iter(_W_TR))


class _Template(DocxTemplate):
    """DocxTemplate with cached clean-up and compilation and errors that name the line."""

    duban_small_styles: Mapping[str, str] = types.MappingProxyType({})  # GBTable → GBTableSmall
    duban_protect: Sequence[str] = ()  # names a title must not break inside
    duban_styles: _StyleFacts | None = None  # set when opened (_load)

    def __init__(self, source: io.BytesIO, name: str) -> None:
        super().__init__(source)
        self.duban_name = name

    def patch_xml(self, src_xml: str) -> str:
        return _patched(src_xml)

    def render_xml_part(self, src_xml: str, part: Any, context: Mapping[str, Any],
                        jinja_env: jinja2.Environment | None = None) -> str:
        src_xml = _lined(src_xml)  # a paragraph a line (cached): a Jinja line is a paragraph
        self.current_rendering_part = part
        try:
            dst_xml = _compiled(src_xml).render(context)
        except Exception as exc:
            lineno = _template_line(exc)
            line, snippet = None, ""
            if lineno is not None:
                # Line 1 holds the part's opening tag; line k + 1 is the k-th paragraph.
                line = max(lineno - 1, 1)
                lines = src_xml.splitlines()
                if 0 < lineno <= len(lines):
                    snippet = _strip_tags(lines[lineno - 1])
            raise TemplateError(self.duban_name, _detail(exc), line=line, snippet=snippet,
                                part=_part_label(part)) from exc
        dst_xml = dst_xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
        dst_xml = (dst_xml.replace("{_{", "{{").replace("}_}", "}}")
                   .replace("{_%", "{%").replace("%_}", "%}"))
        if _LISTING_TEXT.search(dst_xml) is None:
            # docxtpl's listing pass rewrites tabs, newlines, \a and \f inside text as Word
            # elements, paragraph by paragraph with three nested regex passes: a fifth of an
            # 8,000-row notice's render. Where no text holds one, it would change nothing.
            return dst_xml
        return str(self.resolve_listing(dst_xml))

    def render_properties(self, context: Mapping[str, Any],
                          jinja_env: jinja2.Environment | None = None) -> None:
        """docxtpl's, with each property's template compiled once: it compiled all six on
        every render, a twentieth of a notice's."""
        if jinja_env is not jinja_env_shared():
            super().render_properties(context, jinja_env)
            return
        core = self.docx.core_properties
        for prop in _PROPERTIES:
            setattr(core, prop, _compiled(getattr(core, prop)).render(context))

    def fix_tables(self, xml: str) -> Any:
        """docxtpl's table fix ({%tc %} loops and colspans change a row's cell count), run
        only where some row does not match its grid: its walk over every cell (a sixth of a
        large notice's render) changes nothing where each row has as many cells as gridCols.

        The body is then fitted here (fit_layout: the tables' widths and 小五, their headers
        kept with their rows, the mark, titles, signature and 版记), on the parsed body before
        it joins python-docx's document: an element's first proxy costs a third of what it
        costs once python-docx's classes look it up, and the fitting takes one for every
        cell, paragraph and run (a 500-row notice 4–5 % faster)."""
        tree = etree.fromstring(xml, parser=etree.XMLParser(recover=True))
        if not all(_rows_match_grid(t) for t in tree.iter(_W_TBL)):
            tree = super().fix_tables(xml)
        fit_layout(tree, self.duban_protect, self.duban_small_styles)
        return tree


# ---------------------------------------------------------------- templates and output


def resolve_template(name: str, template_dir: Path | None = None) -> Path:
    """The campaign's own template if it has one of this name, else the shipped one."""
    if template_dir is not None:
        own = Path(template_dir) / name
        if own.is_file():
            return own
    shipped = SHIPPED_TEMPLATE_DIR / name
    if not shipped.is_file():
        raise TemplateError(name, f"找不到模板文件（已查找：{template_dir or '—'}，{SHIPPED_TEMPLATE_DIR}）")
    return shipped


@functools.lru_cache(maxsize=32)
def _template_bytes(path: str, mtime_ns: int, size: int) -> bytes:
    """Template file contents, cached until the file changes."""
    del mtime_ns, size  # part of the cache key only
    return Path(path).read_bytes()


def _load(path: Path) -> _Template:
    """Open a template as a fresh DocxTemplate (python-docx objects are mutable)."""
    st = path.stat()
    data = _template_bytes(str(path), st.st_mtime_ns, st.st_size)
    tpl = _Template(io.BytesIO(data), path.name)
    try:
        tpl.init_docx()
    except Exception as exc:
        raise TemplateError(path.name, f"无法打开模板，不是有效的 Word 文档（{exc}）") from exc
    tpl.duban_styles = _style_facts(str(path), st.st_mtime_ns, st.st_size, tpl)
    tpl.duban_small_styles = tpl.duban_styles.small_styles
    return tpl


_SMALL = "Small"  # the builder's 小五 variant of a table style: GBTable → GBTableSmall


@dataclasses.dataclass(frozen=True)
class _StyleFacts:
    """What a template's styles part tells the renderer, read once per template file."""

    small_styles: Mapping[str, str]  # a paragraph style's id → its 小五 variant's
    faces: Any  # fonts.read_styles: the face each style sets, for embedding


_style_facts_of: dict[tuple[str, int, int], _StyleFacts] = {}


def _style_facts(path: str, mtime_ns: int, size: int, tpl: _Template) -> _StyleFacts:
    """The template file's _StyleFacts, read from `tpl` (opened from it) the first time.
    The styles part is not rendered: every document of the template has the same."""
    key = (path, mtime_ns, size)
    found = _style_facts_of.get(key)
    if found is None:
        root = tpl.docx.styles.element
        ids = {str(el.get(qn("w:styleId"))) for el in root.iterchildren(qn("w:style"))
               if el.get(qn("w:type")) == "paragraph"}
        found = _StyleFacts(
            small_styles={sid: sid + _SMALL for sid in ids if sid + _SMALL in ids},
            faces=read_styles(root))
        if len(_style_facts_of) >= 64:  # templates edited again and again: forget the old
            _style_facts_of.clear()
        _style_facts_of[key] = found
    return found


@contextmanager
def atomic_output(out_path: Path) -> Iterator[Path]:
    """Yield a temporary path beside out_path; rename it into place only on success."""
    out_path = Path(out_path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".part",
                                   dir=out_path.parent)
    except FileNotFoundError:  # a new folder: made on the first document only
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".part",
                                   dir=out_path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    placed = False
    try:
        yield tmp_path
        os.replace(tmp_path, out_path)
        placed = True
    finally:
        if not placed:
            tmp_path.unlink(missing_ok=True)


def context_dict(ctx: object) -> dict[str, Any]:
    """A context's fields and properties as the top-level names a template sees."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ctx):  # type: ignore[arg-type]
        out[f.name] = getattr(ctx, f.name)
    for klass in reversed(type(ctx).__mro__):
        for name, attr in vars(klass).items():
            if isinstance(attr, property) and not name.startswith("_"):
                out[name] = getattr(ctx, name)
    title = out.get("title")
    if isinstance(title, str) and "\n" in title:
        out["title"] = Listing(title)  # a line break chosen by the author (标题回行)
    if "requirements" in out:
        out["requirements"] = [
            r if isinstance(r, Requirement) else Requirement("", str(r))
            for r in out["requirements"]
        ]
    return out


def protected_names(ctx: object) -> list[str]:
    """Names a title must not break inside: the organs, the places the document names and the
    plan's word for its towns (乡镇（办事处）)."""
    names = [getattr(ctx, k, "") for k in ("issuer", "issuer_mark", "addressee", "office",
                                           "place_word")]
    for value in vars(ctx).values():
        if isinstance(value, (list, tuple)):
            for item in value[:200]:
                names.extend(getattr(item, k, "") for k in ("town", "office", "name"))
    return [n for n in names if isinstance(n, str) and 1 < len(n) <= 16]


def _render(template_name: str, ctx: OfficialDocument, out_path: Path,
            template_dir: Path | None,
            extra: Callable[[_Template], dict[str, Any]] | None = None,
            embed: bool = True) -> Path:
    """Render one context into out_path (atomically) and return the path.

    With `embed`, the shipped faces are embedded, subset to the text (fonts.embed_fonts), so
    the file shows its serif faces on a machine without 仿宋_GB2312 and the rest.
    """
    path = resolve_template(template_name, template_dir)
    tpl = _load(path)
    context = context_dict(ctx)
    if extra is not None:
        context.update(extra(tpl))
    tpl.duban_protect = protected_names(ctx)
    try:
        tpl.render(context, jinja_env())  # fits the layout as it parses the body
    except TemplateError:
        raise
    except Exception as exc:  # lxml rejects XML a broken template produced
        raise TemplateError(path.name, f"渲染结果不是有效的 Word 文档（{exc}）") from exc
    if ctx.seal_image is not None:
        tpl.replace_pic(SEAL_PLACEHOLDER, str(ctx.seal_image))
        tpl.allow_missing_pics = True  # a campaign's own template may have no placeholder
    if embed:
        embed_fonts(tpl.docx, faces=None if tpl.duban_styles is None else tpl.duban_styles.faces)
    out_path = Path(out_path)
    with atomic_output(out_path) as tmp:
        save_stamped(tpl, tmp, ctx.issued_on)
    return out_path


# The deflate stream of each part, remembered by its bytes: a batch of documents repeats most
# parts exactly (the embedded faces a batch shares, the theme, the styles, the settings, the
# footers), and deflating them again was a third of a notice's save (the fonts' ~110 KB alone
# ~2.4 ms a notice; in the `common` embedding mode megabytes each, fonts.fonts_for handing out
# the same bytes object). zlib is deterministic, so the bytes written are the same. A part is
# kept from its second sight on (a document's own body never comes again), a large one (a
# face of the `common` mode) at once.
_DEFLATED_ENTRIES = 96
_DEFLATED_BYTES = 32 << 20  # the kept parts' own sizes, summed
_KEEP_AT_ONCE = 1 << 20
_deflated_cache: collections.OrderedDict[bytes, tuple[int, bytes]] = collections.OrderedDict()
_deflated_size = 0
_seen_once: collections.OrderedDict[int, None] = collections.OrderedDict()  # parts' hashes
_deflated_lock = threading.Lock()  # the web renders in worker threads


def _deflated(blob: bytes) -> tuple[int, bytes]:
    """The CRC-32 and raw deflate stream of a part, remembered for the same bytes."""
    global _deflated_size
    with _deflated_lock:
        hit = _deflated_cache.get(blob)
        if hit is not None:
            _deflated_cache.move_to_end(blob)  # least recently written goes first
            return hit
    packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    made = zlib.crc32(blob), packer.compress(blob) + packer.flush()
    seen = hash(blob)  # a collision only keeps a part early: the cache compares the bytes
    with _deflated_lock:
        if blob in _deflated_cache:
            return made
        if len(blob) < _KEEP_AT_ONCE and seen not in _seen_once:  # its first sight
            _seen_once[seen] = None
            if len(_seen_once) > 4 * _DEFLATED_ENTRIES:
                _seen_once.popitem(last=False)
            return made
        _seen_once.pop(seen, None)
        _deflated_cache[blob] = made
        _deflated_size += len(blob)
        while len(_deflated_cache) > _DEFLATED_ENTRIES or _deflated_size > _DEFLATED_BYTES:
            _deflated_size -= len(_deflated_cache.popitem(last=False)[0])
    return made


class _StampedZip:
    """python-docx's zip writer, with every entry dated at 00:00 of one day."""

    def __init__(self, path: Path, day: dt.date) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self._stamp = (max(day.year, 1980), day.month, day.day, 0, 0, 0)

    def write(self, pack_uri: Any, blob: bytes) -> None:
        info = zipfile.ZipInfo(pack_uri.membername, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        info.create_system = 3  # Unix, whatever the platform
        self._write_deflated(info, blob, *_deflated(bytes(blob)))

    def _write_deflated(self, info: zipfile.ZipInfo, blob: bytes, crc: int, raw: bytes) -> None:
        """Write an entry whose deflate stream is already made (the way zipfile writes one)."""
        zf: Any = self._zip
        info.file_size, info.compress_size, info.CRC = len(blob), len(raw), crc
        zf.fp.seek(zf.start_dir)
        info.header_offset = zf.fp.tell()
        zf._writecheck(info)
        zf._didModify = True
        zf.fp.write(info.FileHeader(False))
        zf.fp.write(raw)
        zf.start_dir = zf.fp.tell()
        zf.filelist.append(info)
        zf.NameToInfo[info.filename] = info

    def close(self) -> None:
        self._zip.close()


def save_stamped(tpl: DocxTemplate, path: Path, day: dt.date) -> None:
    """Save a rendered template as a .docx whose zip entries are all dated `day`.

    zipfile stamps each entry with the wall-clock time of the save, so two renders of the same
    document a second apart differed and a retried issuance stored a second file. The day
    comes from the document (its 成文日期, from the clock passed in): the bytes are a function
    of the content alone. Written once with the stamp, rather than saved and rewritten, because
    recompressing every entry cost a tenth of a notice's render.
    """
    tpl.pre_processing()  # docxtpl's picture replacement (the seal)
    package = tpl.docx.part.package
    for part in package.parts:
        part.before_marshal()
    writer: Any = _StampedZip(path, day)  # duck-types python-docx's PhysPkgWriter
    try:
        PackageWriter._write_content_types_stream(writer, package.parts)
        PackageWriter._write_pkg_rels(writer, package.rels)
        PackageWriter._write_parts(writer, package.parts)
    finally:
        writer.close()
    tpl.is_saved = True


# ---------------------------------------------------------------- layout fitting


_MARK_MAX_PT = 36.0  # a one-line mark
_MARK_TWO_LINE_MAX_PT = 32.0
_MARK_MIN_PT = 28.0  # below this a one-line mark goes to two lines …
_MARK_MIN_SCALE = 85  # … and so does one condensed below 85 % width


def mark_layout(text: str) -> tuple[list[str], float, int]:
    """Lines, font size (pt) and width scale (%) of the 发文机关标志 in the 156 mm block.

    A name that fits one line at 28 pt or more, condensed to no less than 85 %, prints on one
    line (up to 36 pt); a longer one breaks into two balanced lines at a word boundary, as
    large as the longer line allows (up to 32 pt), so no name is squeezed below a readable width.
    """
    n = max(text_width_chars(text), 1.0)
    size = min(_MARK_MAX_PT, _TEXT_W_PT / n)
    if size >= _MARK_MIN_PT:
        return [text], math.floor(size * 2) / 2, 100
    scale = int(_TEXT_W_PT / (n * _MARK_MIN_PT) * 100)
    if scale >= _MARK_MIN_SCALE:
        return [text], _MARK_MIN_PT, scale
    lines: list[str] = [text]
    limit = math.ceil(n / 2)
    while len(lines) != 2 and limit < n:
        lines = balanced_lines(text, limit)
        limit += 1
    widest = max(text_width_chars(ln) for ln in lines)
    size = min(_MARK_TWO_LINE_MAX_PT, _TEXT_W_PT / widest)
    scale = 100
    if size < _MARK_MIN_PT:
        scale = max(_MARK_MIN_SCALE, int(_TEXT_W_PT / (widest * _MARK_MIN_PT) * 100))
        size = _MARK_MIN_PT
    return lines, math.floor(size * 2) / 2, scale


def mark_size(text: str) -> tuple[float, int]:
    """Font size (pt) and width scale (%) of the 发文机关标志 (see mark_layout)."""
    _lines, size, scale = mark_layout(text)
    return size, scale


def _set_run_prop(r: Any, tag: str, value: str) -> None:
    """Set a run's property (w:sz, w:w …) to `value`, in the schema's order: the fitting
    works on the body as docxtpl parses it, plain lxml, so it places what it adds itself."""
    child(child(r, _RPR), tag).set(_VAL, value)


_P, _PPR, _PSTYLE, _VAL = qn("w:p"), qn("w:pPr"), qn("w:pStyle"), qn("w:val")
_RPR, _IND, _SPACING = qn("w:rPr"), qn("w:ind"), qn("w:spacing")


def _pstyle_id(p: Any) -> str:
    ppr = p.find(_PPR)
    if ppr is None:
        return ""
    ps = ppr.find(_PSTYLE)
    return "" if ps is None else str(ps.get(_VAL))


def _ptext(p: Any) -> str:
    return "".join(t.text or "" for t in p.iter(qn("w:t")))


def _set_ind_right(p: Any, twips: int) -> None:
    ind = child(child(p, _PPR), _IND)
    ind.set(qn("w:rightChars"), "0")
    ind.set(qn("w:right"), str(twips))


_COLOPHON_PT = 14.0
_COLOPHON_AVAIL_PT = _TEXT_W_PT - 2 * _COLOPHON_PT  # 左右各空一字


def _fit_colophon(body: Any) -> None:
    """Size the 版记 box to its lines; condense a 印发机关 line too long for one line."""
    for docpr in body.iter(qn("wp:docPr")):
        if docpr.get("name") != "colophon":
            continue
        anchor = docpr.getparent()
        lines = 0
        for p in anchor.iter(qn("w:p")):
            text = _ptext(p)
            if not text:
                continue
            width = text_width_chars(text) * _COLOPHON_PT
            if p.find(".//" + qn("w:tab")) is not None:
                width += _COLOPHON_PT  # at least one character between name and date
                if width > _COLOPHON_AVAIL_PT:
                    scale = max(50, int(_COLOPHON_AVAIL_PT / width * 100))
                    for r in p.iter(qn("w:r")):
                        _set_run_prop(r, qn("w:w"), str(scale))
                    width = _COLOPHON_AVAIL_PT
            lines += max(1, math.ceil(width / _COLOPHON_AVAIL_PT - 1e-9))
        height = str(int(Pt(lines * _LINE_PT + 10)))
        anchor.find(qn("wp:extent")).set("cy", height)
        ext = anchor.find(".//" + qn("a:ext"))
        if ext is not None:
            ext.set("cy", height)


_TITLE_PT = 22.0
_TITLE_STYLES = ("GBTitle", "GBAttachmentTitle")
_SPACING_PT = 0.25  # Normal's character spacing (−0.25 pt), which every style inherits


def _set_lines(p: Any, lines: Sequence[str]) -> None:
    """Put `lines` into p's first text run, separated by line breaks; drop its other runs."""
    runs = [r for r in p.findall(qn("w:r")) if r.find(qn("w:t")) is not None]
    if not runs:
        return
    first = runs[0]
    for r in runs[1:]:
        p.remove(r)
    for el in list(first):
        if el.tag in (qn("w:t"), qn("w:br")):
            first.remove(el)
    for k, line in enumerate(lines):
        if k:
            first.append(first.makeelement(qn("w:br"), {}))
        t = first.makeelement(qn("w:t"), {})
        t.text = line
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        first.append(t)


def _fit_mark(p: Any) -> None:
    lines, size, scale = mark_layout(_ptext(p))
    if len(lines) > 1:
        _set_lines(p, lines)
        spacing = child(child(p, _PPR), _SPACING)
        spacing.set(qn("w:line"), str(round(size * 1.2 * 20)))
        spacing.set(qn("w:lineRule"), "exact")
    for r in p.iter(qn("w:r")):
        for tagname, val in (("w:w", str(scale)), ("w:sz", str(int(size * 2))),
                             ("w:szCs", str(int(size * 2)))):
            _set_run_prop(r, qn(tagname), val)


def _block_width_pt(body: Any) -> float:
    """The text block's width: 156 mm, or 225 mm on a 横排 (landscape) page."""
    size, mar = body.find(f"{_SECT}/{qn('w:pgSz')}"), body.find(f"{_SECT}/{qn('w:pgMar')}")
    if size is None or mar is None:
        return _TEXT_W_PT
    return (int(size.get(_W_W)) - int(mar.get(qn("w:left"))) - int(mar.get(qn("w:right")))) / 20


def _fit_title(p: Any, protect: Sequence[str], width_pt: float = _TEXT_W_PT) -> None:
    """Break a title the author left unbroken at word boundaries, in a balanced shape."""
    if p.find(".//" + qn("w:br")) is not None:  # the author chose the breaks
        return
    per_line = math.floor(width_pt / (_TITLE_PT - _SPACING_PT) + 1e-9)
    lines = balanced_lines(_ptext(p), per_line, protect)
    if len(lines) > 1:
        _set_lines(p, lines)


_FITTED_STYLES = frozenset(("GBMark", "GBSignature", *_TITLE_STYLES))


def _next_para(p: Any) -> Any | None:
    """The paragraph after p as body.iter("w:p") meets them: one inside p (a text box), else
    the first after it (an XPath following:: axis would collect the rest of the document)."""
    inner = next(itertools.islice(p.iter(_P), 1, None), None)
    if inner is not None:
        return inner
    node = p
    while node is not None:
        for sibling in node.itersiblings():
            found = next(sibling.iter(_P), None)
            if found is not None:
                return found
        node = node.getparent()
    return None


def fit_layout(body: Any, protect: Sequence[str] = (),
               small_styles: Mapping[str, str] | None = None) -> None:
    """Fit what depends on text length in a document's body (w:body): the tables' columns
    and font size (`small_styles`: see tables.fit_tables), each data table's heading and
    header row kept off a page's last line, the mark, titles, signature, seal and 版记.

    `protect` names words a title must not be broken inside (towns, offices). Run on the
    body as docxtpl parses it (_Template.fix_tables), so plain lxml throughout.
    """
    fit_tables(body, small_styles)
    keep_headers_with_rows(body)
    _fit_colophon(body)
    fitted = styled_paragraphs(body, _FITTED_STYLES)
    for p, style in fitted:
        if style == "GBMark":
            _fit_mark(p)
        elif style in _TITLE_STYLES:
            _fit_title(p, protect, _block_width_pt(body))
    for p in [p for p, style in fitted if style == "GBSignature"]:
        following = _next_para(p)
        date = following if following is not None and _pstyle_id(following) == "GBDate" else None
        if date is None:
            continue
        ws = text_width_chars(_ptext(p)) * _CHAR_PT
        wd = text_width_chars(_ptext(date)) * _CHAR_PT
        date_right = 4 * _CHAR_PT  # 7.3.5.1: the date 右空四字
        sig_right = date_right + (wd - ws) / 2  # the name centred over the date
        if sig_right < 2 * _CHAR_PT:  # a long name: keep it 右空二字, centre the date under it
            sig_right = 2 * _CHAR_PT
            date_right = sig_right + (ws - wd) / 2
        _set_ind_right(p, round(sig_right * 20))
        _set_ind_right(date, round(date_right * 20))
        centre_x = _TEXT_W_PT - date_right - wd / 2
        anchor = p.find(".//" + qn("wp:anchor"))
        if anchor is not None:
            h = anchor.find(qn("wp:positionH")).find(qn("wp:posOffset"))
            h.text = str(int(Pt(centre_x - _SEAL_PT / 2)))
            # 7.3.5.1: name and date sit a little below the seal's centre; the paragraph
            # starts two blank lines above the name, so the seal's top stays within one line
            # of the text above.
            v = anchor.find(qn("wp:positionV")).find(qn("wp:posOffset"))
            centre_y = 2 * _LINE_PT + _LINE_PT - 8
            v.text = str(int(Pt(centre_y - _SEAL_PT / 2)))


# ---------------------------------------------------------------- public renderers


def notice_list_path(docx: Path) -> Path:
    """Where render_notice writes a notice's full list (.xlsx) beside its .docx."""
    return Path(docx).with_suffix(".xlsx")


def render_notice(ctx: NoticeContext, out_path: Path, template_dir: Path | None = None, *,
                  embed: bool = True) -> Path:
    """Render a 督办通知书 (.docx) and return its path.

    With `ctx.list_file`, the full 督办问题清单 is also written beside it as a spreadsheet
    (`notice_list_path`) and the .docx's 附件 page summarises it per town.
    """
    if ctx.list_file:
        from duban.adapters.documents.xlsx import write_notice_list_xlsx

        write_notice_list_xlsx(ctx, notice_list_path(out_path))
    return _render(NOTICE_TEMPLATE, ctx, out_path, template_dir, embed=embed)


def render_reminder(ctx: ReminderContext, out_path: Path,
                    template_dir: Path | None = None, *,
                    embed: bool = True) -> Path:
    """Render a 催办通知 (.docx) and return its path."""
    return _render(REMINDER_TEMPLATE, ctx, out_path, template_dir, embed=embed)


def render_bulletin(ctx: BulletinContext, out_path: Path,
                    template_dir: Path | None = None, *,
                    embed: bool = True) -> Path:
    """Render a 通报 of overdue items (.docx) and return its path."""
    return _render(BULLETIN_TEMPLATE, ctx, out_path, template_dir, embed=embed)


def render_daily_report(ctx: DailyReportContext, out_path: Path,
                        template_dir: Path | None = None, *,
                        embed: bool = True) -> Path:
    """Render the daily 整改进度 report (.docx) with its trend chart and return its path; a
    context of the whole campaign (`whole_campaign`) is the 总结报告, on its own template."""
    from duban.adapters.documents.charts import trend_chart_png

    def chart(tpl: _Template) -> dict[str, Any]:
        png = trend_chart_png(ctx.series, ctx.chart_title)
        return {"chart": InlineImage(tpl, io.BytesIO(png), width=Mm(150))}

    name = CLOSING_REPORT_TEMPLATE if ctx.whole_campaign else DAILY_REPORT_TEMPLATE
    return _render(name, ctx, out_path, template_dir, extra=chart, embed=embed)


def render_ranking(ctx: RankingContext, out_path: Path,
                   template_dir: Path | None = None, *,
                   embed: bool = True) -> Path:
    """Render the monthly 月考评 通报 (.docx) and return its path."""
    return _render(RANKING_TEMPLATE, ctx, out_path, template_dir, embed=embed)


def render_ledger(ctx: LedgerContext, out_path: Path, template_dir: Path | None = None, *,
                  embed: bool = True) -> Path:
    """Render the printed 整改台账 (.docx, landscape table) and return its path."""
    return _render(LEDGER_TEMPLATE, ctx, out_path, template_dir, embed=embed)
