"""PDF conversion with LibreOffice headless, with fontconfig aliases for the official fonts.

Each conversion gets its own LibreOffice user profile (concurrent soffice processes sharing a
profile block or fail) and a FONTCONFIG_FILE that adds deploy/fontconfig/duban-fonts.conf to
the system configuration, so 仿宋_GB2312, 方正小标宋简体, 黑体, 楷体_GB2312 and 宋体 map to
installed free CJK fonts.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from lxml import etree

from duban.adapters.children import OwnedChild
from duban.adapters.resources import resource_dir
from duban.domain.errors import DubanError

# The checkout, where scripts/fonts.sh puts fetched fonts by default (fonts/); an installed
# duban sets DUBAN_FONT_DIR instead.
ROOT = Path(__file__).resolve().parents[3]
FONT_ALIAS_FILE = resource_dir("fontconfig") / "duban-fonts.conf"
# Where the project's own fonts are: Noto Serif SC from npm (scripts/fonts.sh) and LXGW WenKai
# from Debian (fonts-lxgw-wenkai); the sans face comes with the Python dependencies (PyPI).
DEBIAN_KAI_DIR = Path("/usr/share/fonts/truetype/lxgw-wenkai")
PACKAGED_SANS_MODULE = "cvttf_NotoSansCJK_Regular"  # as charts.PACKAGED_FONT_MODULE
SYSTEM_FONTCONFIG = Path("/etc/fonts/fonts.conf")
DEFAULT_TIMEOUT_S = 120.0
_SOFFICE_NAMES = ("soffice", "libreoffice")


class PdfConversionError(DubanError):
    """LibreOffice is missing, timed out or produced no PDF."""


def soffice_path() -> str | None:
    """The LibreOffice executable on PATH, or None."""
    override = os.environ.get("DUBAN_SOFFICE")
    if override:
        return override if Path(override).exists() else None
    for name in _SOFFICE_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def libreoffice_available() -> bool:
    """Whether a LibreOffice executable is installed."""
    return soffice_path() is not None


def shipped_font_dirs() -> list[Path]:
    """Folders of the fonts the project brings: serif (npm), sans (PyPI), 楷 (Debian)."""
    sans = importlib.util.find_spec(PACKAGED_SANS_MODULE)  # not charts': no matplotlib here
    sans_dirs = (sans.submodule_search_locations or []) if sans is not None else []
    dirs = [Path(os.environ.get("DUBAN_FONT_DIR") or ROOT / "fonts"), DEBIAN_KAI_DIR,
            *(Path(d) for d in sans_dirs)]
    return [d for d in dirs if d.is_dir()]


def fontconfig_file(work_dir: Path, *, system_fonts: bool = True) -> Path:
    """Write a fontconfig file with the shipped fonts, duban's aliases and (unless
    `system_fonts` is False) the system configuration and its fonts."""
    conf = work_dir / "fonts.conf"
    system = (f'  <include ignore_missing="yes">{SYSTEM_FONTCONFIG}</include>\n'
              if system_fonts and SYSTEM_FONTCONFIG.exists() else "")
    dirs = "".join(f"  <dir>{d}</dir>\n" for d in shipped_font_dirs())
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f"<fontconfig>\n{system}{dirs}"
        f'  <include ignore_missing="yes">{FONT_ALIAS_FILE}</include>\n'
        f"  <cachedir>{work_dir / 'fc-cache'}</cachedir>\n"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


def fontconfig_env(work_dir: Path, *, system_fonts: bool = True) -> dict[str, str]:
    """Environment for a subprocess that should see duban's fonts and aliases."""
    env = dict(os.environ)
    env["FONTCONFIG_FILE"] = str(fontconfig_file(work_dir, system_fonts=system_fonts))
    return env


def install_font_aliases(conf_d: Path | None = None) -> Path:
    """Copy duban-fonts.conf into a fontconfig conf.d (default ~/.config/fontconfig/conf.d)."""
    target_dir = conf_d or Path.home() / ".config" / "fontconfig" / "conf.d"
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / "60-duban-fonts.conf"
    shutil.copyfile(FONT_ALIAS_FILE, target)
    return target


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def pdf_page_count(pdf: Path) -> int:
    """Pages of a PDF LibreOffice wrote (it writes no compressed object streams)."""
    return len(_PAGE.findall(Path(pdf).read_bytes()))


def colophon_on_next_page(docx_path: Path, out_path: Path) -> bool:
    """Copy the .docx with the paragraph holding the 版记 moved to the next page.

    Returns False (and writes nothing) when the document has no 版记.
    """
    with zipfile.ZipFile(docx_path) as zin:
        root = etree.fromstring(zin.read("word/document.xml"))
        anchor = next((d for d in root.iter(f"{{{_WP}}}docPr") if d.get("name") == "colophon"),
                      None)
        if anchor is None:
            return False
        p = next(a for a in anchor.iterancestors(f"{{{_W}}}p"))
        # An empty paragraph ending in a page break before it: the 版记 moves one page on,
        # whether it shared the last page with the text or already stood alone on it.
        blank = etree.fromstring(
            f'<w:p xmlns:w="{_W}"><w:pPr><w:pStyle w:val="GBEnd"/></w:pPr>'
            '<w:r><w:br w:type="page"/></w:r></w:p>')
        p.addprevious(blank)
        with zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = (etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                       standalone=True)
                        if item.filename == "word/document.xml" else zin.read(item.filename))
                zout.writestr(item, data)
    return True


def convert_to_pdf(docx_path: Path, out_dir: Path, *,
                   timeout_s: float = DEFAULT_TIMEOUT_S, even_pages: bool = True,
                   system_fonts: bool = True) -> Path:
    """Convert a .docx to PDF in out_dir with LibreOffice headless; return the PDF's path.

    GB/T 9704 7.4: printed on both sides, the 版记 is the back of the last sheet. With
    `even_pages`, a document with a 版记 that comes out with an odd number of pages is
    converted again with the 版记 on a page of its own, so it ends the last even page.
    Without `system_fonts`, LibreOffice sees only the fonts the project ships (a test of a
    fresh machine).
    """
    pdf = _convert(docx_path, out_dir, timeout_s=timeout_s, system_fonts=system_fonts)
    if not even_pages or pdf_page_count(pdf) % 2 == 0:
        return pdf
    with tempfile.TemporaryDirectory(prefix="duban-even-") as tmp:
        moved = Path(tmp) / Path(docx_path).name
        if not colophon_on_next_page(Path(docx_path), moved):
            return pdf
        again = _convert(moved, Path(tmp) / "out", timeout_s=timeout_s,
                         system_fonts=system_fonts)
        shutil.move(str(again), pdf)
    return pdf


def batch_to_pdf(docx_paths: Sequence[Path], out_pdf: Path, *,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> Path:
    """Convert several .docx files and join them, in order, into one PDF (a batch to print).

    Each document ends on an even page (see convert_to_pdf), so printed on both sides every
    document starts on a fresh sheet. Written beside out_pdf and renamed into place.
    """
    from pypdf import PdfWriter

    if not docx_paths:
        raise PdfConversionError("无法生成PDF：没有要合并的文件")
    out_pdf = Path(out_pdf)
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="duban-batch-") as tmp:
        writer = PdfWriter()
        for i, docx in enumerate(docx_paths):
            pdf = convert_to_pdf(Path(docx), Path(tmp) / str(i), timeout_s=timeout_s)
            writer.append(str(pdf))
        part = Path(tmp) / "batch.pdf"
        with part.open("wb") as fh:
            writer.write(fh)
        shutil.move(str(part), out_pdf)
    return out_pdf


def _convert(docx_path: Path, out_dir: Path, *, timeout_s: float,
             system_fonts: bool = True) -> Path:
    """One LibreOffice conversion of a .docx to out_dir/<stem>.pdf."""
    docx_path = Path(docx_path)
    out_dir = Path(out_dir)
    soffice = soffice_path()
    if soffice is None:
        raise PdfConversionError(
            "无法生成PDF：未安装LibreOffice（请安装 libreoffice-writer-nogui），"
            f"文件“{docx_path.name}”未转换"
        )
    if not docx_path.is_file():
        raise PdfConversionError(f"无法生成PDF：找不到文件“{docx_path}”")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / (docx_path.stem + ".pdf")
    with tempfile.TemporaryDirectory(prefix="duban-soffice-") as tmp:
        work = Path(tmp)
        profile = work / "profile"
        stage = work / "out"  # convert into a private folder, then move: no partial PDF
        cmd = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            "--convert-to", "pdf:writer_pdf_Export",
            "--outdir", str(stage),
            str(docx_path.resolve()),
        ]
        # soffice is a wrapper that starts soffice.bin: a timeout must end the whole group.
        child = OwnedChild(cmd, env=fontconfig_env(work, system_fonts=system_fonts),
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = child.process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise PdfConversionError(
                f"生成PDF超时（超过{timeout_s:g}秒）：文件“{docx_path.name}”"
            ) from exc
        finally:
            child.kill()  # on timeout, error or success: nothing of LibreOffice stays
        proc = subprocess.CompletedProcess(cmd, child.process.returncode, stdout, stderr)
        produced = stage / (docx_path.stem + ".pdf")
        if proc.returncode != 0 or not produced.is_file():
            detail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or [""]
            raise PdfConversionError(
                f"生成PDF失败：文件“{docx_path.name}”，LibreOffice 返回 {proc.returncode}"
                f"（{detail[0]}）"
            )
        shutil.move(str(produced), target)
    return target
