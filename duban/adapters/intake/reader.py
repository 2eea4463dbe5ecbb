"""Read an intake file (xlsx/xlsm/xls/ods/csv) into rows aligned with the template's columns."""

from __future__ import annotations

import codecs
import csv
import html
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import python_calamine as pc

from duban.adapters.batch import gc_paused
from duban.adapters.intake.errors import (
    CellError,
    ImportRejected,
    ImportReport,
    file_rejected,
)
from duban.adapters.intake.normalize import _EDGE_CHARS, clean_text, display
from duban.adapters.intake.spec import (
    KIND_LABELS,
    KINDS,
    SILENT_HEADERS,
    SPECS,
    ColumnSpec,
    Kind,
    header_index,
    header_key,
)

# Rows scanned for the header, per sheet.
HEAD_SCAN_ROWS = 40
# Sheets whose name says they hold notes or option lists, never data.
_NOTES_SHEET_RE = re.compile(r"说明|选项|填表|注意事项|字典|下拉|README", re.IGNORECASE)
_FOOTER_RE = re.compile(
    r"^(填表人|填报人|审核人|制表人|负责人|联系电话|合计|总计|小计|说明|备注|注[:：]|"
    r"填表说明|单位负责人|填报日期|填表日期)"
)

_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_ENCRYPTED_MARKERS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
_TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
# A workbook that unpacks to more than this is refused before calamine inflates it in memory.
MAX_UNPACKED_BYTES = 1536 * 1024 * 1024


@dataclass
class SheetData:
    """The data rows of one intake sheet, with values in the template's column order."""

    kind: Kind
    source: Path
    file_format: str  # xlsx, xls, ods or csv
    sheet: str  # sheet name ("" for CSV)
    header_row: int  # 1-based row of the last header row
    columns: dict[str, int]  # template header -> 0-based sheet column, for columns present
    headers_in_file: dict[str, str]  # template header -> header text as written in the file
    rows: list[tuple[Any, ...]]  # one tuple per data row, in SPECS[kind] order; None if absent
    row_numbers: list[int]  # 1-based sheet row of each data row
    warnings: list[str] = field(default_factory=list)
    extra: tuple[ColumnSpec, ...] = ()  # the plan's own columns, after the kind's fixed ones

    @property
    def specs(self) -> tuple[ColumnSpec, ...]:
        """The column specifications of this sheet: its kind's, then the plan's own."""
        return SPECS[self.kind] + self.extra

    def __len__(self) -> int:
        return len(self.rows)

    def report(self, message: str, errors: list[CellError] | None = None) -> ImportReport:
        """A report about this sheet carrying what an error copy needs."""
        return ImportReport(
            kind=self.kind,
            message=message,
            errors=list(errors or []),
            warnings=list(self.warnings),
            source=self.source,
            sheet=self.sheet,
            header_row=self.header_row,
            columns=dict(self.columns),
            rows_read=len(self.rows),
        )


@dataclass
class _Candidate:
    """A sheet whose header was found, with its remaining rows not yet read."""

    sheet: str
    score: tuple[int, int, int]  # (required columns, columns, -header rows)
    header_first: int  # 0-based absolute row of the first header row
    header_last: int  # 0-based absolute row of the last header row
    mapping: dict[int, int]  # spec position -> 0-based relative column
    labels: dict[int, str]  # spec position -> header text as written
    extras: list[str]  # unknown header texts
    duplicates: list[str]
    head: list[list[Any]]  # rows already pulled (relative columns)
    rest: Iterator[list[Any]]  # the rows after `head`
    row_offset: int  # absolute row of head[0]
    col_offset: int  # absolute column of relative column 0


# The read builds a row tuple per data row beside the workbook's own cells: each collection
# rescans them all and finds no cycles (5 % of a 30,000-row ledger's import, issue 17).
@gc_paused()
def read_rows(path: str | Path, kind: Kind, extra: Sequence[ColumnSpec] = ()) -> SheetData:
    """Read the sheet of an intake file whose header best matches `kind`; refuse unusable files.

    `extra` are the columns a plan adds (its household fields, `plan_columns`).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown intake kind {kind!r}")
    src = Path(path)
    fmt = sniff_format(src, kind)
    specs = SPECS[kind] + tuple(extra)
    if fmt == "csv":
        return _read_csv(src, kind, specs)
    return _read_workbook(src, kind, fmt, specs)


def sniff_format(src: Path, kind: str) -> str:
    """The file's real format from its first bytes: xlsx, xls, ods or csv; refuse anything else."""
    try:
        size = src.stat().st_size
        with src.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise file_rejected(kind, src, f"找不到文件“{src.name}”") from None
    except IsADirectoryError:
        raise file_rejected(kind, src, f"“{src.name}”是文件夹，不是文件") from None
    except OSError as exc:
        raise file_rejected(kind, src, f"无法读取文件“{src.name}”（{exc.strerror}）") from None
    if size == 0:
        raise file_rejected(kind, src, f"文件“{src.name}”是空文件（0字节）")
    if head.startswith(_CFB_MAGIC):
        if _is_encrypted_cfb(src):
            raise file_rejected(kind, src, "文件已加密，请去除密码后再导入")
        return "xls"
    if head.startswith(_ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        return _zip_format(src, kind)
    what = _binary_kind(head)
    if what:
        raise file_rejected(kind, src, f"文件“{src.name}”不是电子表格（内容是{what}）")
    if _looks_like_html(head):
        raise file_rejected(
            kind,
            src,
            f"文件“{src.name}”是网页（HTML）格式，不是真正的Excel文件；"
            "请用Excel打开后另存为.xlsx再导入",
        )
    if _looks_like_text(head):
        if src.suffix.lower() in _TEXT_SUFFIXES:
            return "csv"
        raise file_rejected(
            kind,
            src,
            f"文件“{src.name}”的扩展名是{src.suffix or '（无）'}，但内容是纯文本，不是Excel表格；"
            "如果是CSV文件，请把扩展名改为.csv",
        )
    raise file_rejected(kind, src, f"文件“{src.name}”不是可识别的电子表格格式")


def _is_encrypted_cfb(src: Path) -> bool:
    # Password-protected OOXML is a CFB container holding these two streams; a plain .xls
    # holds a Workbook stream instead. Stream names are UTF-16 in the directory sectors.
    tail = b""
    with src.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            buf = tail + chunk
            if any(m in buf for m in _ENCRYPTED_MARKERS):
                return True
            tail = buf[-64:]
    return False


def _zip_format(src: Path, kind: str) -> str:
    try:
        with zipfile.ZipFile(src) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            mimetype = zf.read("mimetype")[:80] if "mimetype" in names else b""
            unpacked = sum(i.file_size for i in infos)
    except (zipfile.BadZipFile, EOFError, OSError):
        raise file_rejected(
            kind, src, f"文件“{src.name}”已损坏（压缩包结构不完整），无法打开"
        ) from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise file_rejected(
            kind,
            src,
            f"文件“{src.name}”解压后超过{MAX_UNPACKED_BYTES // 2**20}MB，过大，请拆分成几个文件再导入",
        )
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        return "xlsx"
    if b"opendocument.spreadsheet" in mimetype:
        return "ods"
    if "word/document.xml" in names:
        raise file_rejected(kind, src, f"文件“{src.name}”是Word文档，不是Excel表格")
    if "ppt/presentation.xml" in names:
        raise file_rejected(kind, src, f"文件“{src.name}”是PowerPoint文档，不是Excel表格")
    raise file_rejected(kind, src, f"文件“{src.name}”是压缩包，不是Excel表格")


def _binary_kind(head: bytes) -> str:
    signatures = (
        (b"\x89PNG", "PNG图片"),
        (b"\xff\xd8\xff", "JPEG图片"),
        (b"GIF8", "GIF图片"),
        (b"BM", ""),
        (b"%PDF", "PDF文档"),
        (b"Rar!", "RAR压缩包"),
        (b"7z\xbc\xaf", "7z压缩包"),
        (b"\x1f\x8b", "gzip压缩包"),
        (b"{\\rtf", "RTF文档"),
    )
    for magic, what in signatures:
        if what and head.startswith(magic):
            return what
    return ""


def _looks_like_html(head: bytes) -> bool:
    probe = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return probe.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml")) or (
        b"<html" in probe[:512]
    )


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return _decode(head, final=False) is not None


def _decode(data: bytes, final: bool = True) -> str | None:
    """Text from UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030 (a superset of GBK)."""
    if data.startswith(codecs.BOM_UTF8):
        encodings: tuple[str, ...] = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "gb18030")
    for enc in encodings:
        try:
            dec = codecs.getincrementaldecoder(enc)(errors="strict")
            text = dec.decode(data, final=final)
        except UnicodeDecodeError:
            continue
        bad = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n\x0c")
        if bad <= len(text) // 100:
            return text
    return None


# ---------------------------------------------------------------- workbooks


def _read_workbook(src: Path, kind: Kind, fmt: str, specs: tuple[ColumnSpec, ...]) -> SheetData:
    label = KIND_LABELS[kind]
    try:
        with src.open("rb") as fh:
            wb = pc.CalamineWorkbook.from_filelike(fh)
    except pc.PasswordError:
        raise file_rejected(kind, src, "文件已加密，请去除密码后再导入") from None
    except (pc.CalamineError, OSError, ValueError) as exc:
        raise file_rejected(
            kind, src, f"文件“{src.name}”已损坏，无法读取（{_short_exc(exc)}）"
        ) from None
    with wb:
        best: _Candidate | None = None
        any_data = False
        for i, meta in enumerate(wb.sheets_metadata):
            if meta.typ != pc.SheetTypeEnum.WorkSheet or _NOTES_SHEET_RE.search(meta.name):
                continue
            try:
                sheet = wb.get_sheet_by_index(i)
            except pc.PasswordError:
                raise file_rejected(kind, src, "文件已加密，请去除密码后再导入") from None
            except (pc.CalamineError, ValueError) as exc:
                raise file_rejected(
                    kind, src, f"工作表“{meta.name}”已损坏，无法读取（{_short_exc(exc)}）"
                ) from None
            if sheet.start is None:
                continue
            any_data = True
            cand = _scan_sheet(meta.name, sheet, kind, specs)
            if cand is not None and (best is None or cand.score > best.score):
                best = cand
        if not any_data:
            raise file_rejected(kind, src, f"文件“{src.name}”中没有数据（所有工作表都是空的）")
        if best is None:
            raise _no_header(kind, src)
        try:
            return _collect(src, kind, fmt, best, specs)
        except (pc.CalamineError, ValueError) as exc:
            raise file_rejected(
                kind, src, f"{label}文件“{src.name}”读取中断（{_short_exc(exc)}）"
            ) from None


def _scan_sheet(name: str, sheet: pc.CalamineSheet, kind: Kind,
                specs: tuple[ColumnSpec, ...]) -> _Candidate | None:
    start = sheet.start or (0, 0)
    rows = sheet.iter_rows()
    head: list[list[Any]] = []
    for row in rows:
        head.append(row)
        if len(head) >= HEAD_SCAN_ROWS:
            break
    if not head:
        return None
    # python-calamine has yielded rows both from row 0 and from the first used row; the first
    # used row is never blank, so a blank first row means counting starts at row 0.
    row_offset = 0 if start[0] == 0 or _all_blank(head[0]) else start[0]
    col_offset = start[1] if len(head[0]) == sheet.width else 0
    _fill_merged(head, sheet.merged_cell_ranges or [], row_offset, col_offset)
    return _best_header(name, kind, head, rows, row_offset, col_offset, specs)


def _fill_merged(
    head: list[list[Any]],
    merged: list[tuple[tuple[int, int], tuple[int, int]]],
    row_offset: int,
    col_offset: int,
) -> None:
    # A merged header cell holds its text in the top-left cell only: spread it so a header
    # merged over two rows is seen in both.
    for (r0, c0), (r1, c1) in merged:
        top = r0 - row_offset
        if top < 0 or top >= len(head):
            continue
        left = c0 - col_offset
        if left < 0 or left >= len(head[top]):
            continue
        value = head[top][left]
        for r in range(top, min(r1 - row_offset, len(head) - 1) + 1):
            row = head[r]
            for c in range(left, min(c1 - col_offset, len(row) - 1) + 1):
                if row[c] == "" or row[c] is None:
                    row[c] = value


def _best_header(
    sheet: str,
    kind: Kind,
    head: list[list[Any]],
    rest: Iterator[list[Any]],
    row_offset: int,
    col_offset: int,
    specs: tuple[ColumnSpec, ...],
) -> _Candidate | None:
    index = header_index(kind, specs[len(SPECS[kind]):])
    keyed = [[header_key(v) if v.__class__ is str and v else "" for v in row] for row in head]
    best: _Candidate | None = None
    for k in range(len(head)):
        for span in (1, 2):
            if k + span > len(head):
                continue
            mapping: dict[int, int] = {}
            labels: dict[int, str] = {}
            extras: list[str] = []
            duplicates: list[str] = []
            width = max(len(keyed[k + s]) for s in range(span))
            for c in range(width):
                # Lower rows of a two-row header hold the specific names.
                texts = [
                    (keyed[k + s][c], head[k + s][c])
                    for s in reversed(range(span))
                    if c < len(keyed[k + s]) and keyed[k + s][c]
                ]
                hit = next(((key, raw) for key, raw in texts if key in index), None)
                if hit is None:
                    if texts and texts[0][0] not in SILENT_HEADERS:
                        extras.append(clean_text(texts[0][1]))
                    continue
                pos = index[hit[0]]
                if pos in mapping:
                    duplicates.append(clean_text(hit[1]))
                    continue
                mapping[pos] = c
                labels[pos] = clean_text(hit[1])
            if len(mapping) < 2:
                continue
            required = sum(1 for p in mapping if specs[p].column_required)
            # A one-row header wins a tie: a title row above adds nothing but noise.
            score = (required, len(mapping), -span)
            if best is None or score > best.score:
                best = _Candidate(
                    sheet=sheet,
                    score=score,
                    header_first=row_offset + k,
                    header_last=row_offset + k + span - 1,
                    mapping=mapping,
                    labels=labels,
                    extras=extras,
                    duplicates=duplicates,
                    head=head,
                    rest=rest,
                    row_offset=row_offset,
                    col_offset=col_offset,
                )
    return best


def _no_header(kind: Kind, src: Path) -> ImportRejected:
    specs = SPECS[kind]
    need = "、".join(f"“{s.header}”" for s in specs if s.column_required)
    return file_rejected(
        kind,
        src,
        f"在文件“{src.name}”中找不到{KIND_LABELS[kind]}表头；请使用导入模板，表头须包含{need}等列",
    )


def _all_blank(row: list[Any]) -> bool:
    for v in row:
        if v is None or v == "":
            continue
        if v.__class__ is str and not v.strip(_EDGE_CHARS):
            continue
        return False
    return True


def _collect(src: Path, kind: Kind, fmt: str, cand: _Candidate,
             specs: tuple[ColumnSpec, ...]) -> SheetData:
    header_row = cand.header_last + 1
    missing = [s for p, s in enumerate(specs) if s.column_required and p not in cand.mapping]
    columns = {specs[p].header: c + cand.col_offset for p, c in sorted(cand.mapping.items())}
    if missing:
        errors = [CellError(header_row, s.header, "", _missing_reason(s)) for s in missing]
        names = "、".join(f"“{s.header}”" for s in missing)
        report = ImportReport(
            kind=kind,
            message=f"{KIND_LABELS[kind]}导入失败：第{header_row}行的表头缺少必填列{names}",
            errors=errors,
            source=src,
            sheet=cand.sheet,
            header_row=header_row,
            columns=columns,
        )
        raise ImportRejected(report)

    warnings: list[str] = []
    if cand.extras:
        warnings.append("已忽略无法识别的列：" + "、".join(f"“{t}”" for t in cand.extras))
    if cand.duplicates:
        warnings.append(
            "以下列与前面的列重复，已忽略：" + "、".join(f"“{t}”" for t in cand.duplicates)
        )
    renamed = [
        f"“{cand.labels[p]}”按“{specs[p].header}”读取"
        for p in sorted(cand.labels)
        if header_key(cand.labels[p]) != header_key(specs[p].header)
    ]
    if renamed:
        warnings.append("列名与模板不同：" + "，".join(renamed))

    rows, numbers = _take_rows(cand, specs, warnings)
    if not rows:
        raise ImportRejected(
            ImportReport(
                kind=kind,
                message=f"{KIND_LABELS[kind]}导入失败：第{header_row}行表头下面没有数据行",
                source=src,
                sheet=cand.sheet,
                header_row=header_row,
                columns=columns,
            )
        )
    return SheetData(
        kind=kind,
        source=src,
        file_format=fmt,
        sheet=cand.sheet,
        header_row=header_row,
        columns=columns,
        headers_in_file={specs[p].header: t for p, t in cand.labels.items()},
        rows=rows,
        row_numbers=numbers,
        warnings=warnings,
        extra=specs[len(SPECS[kind]):],
    )


def _missing_reason(spec: ColumnSpec) -> str:
    also = "、".join(spec.aliases[:3])
    return f"缺少必填列“{spec.header}”" + (f"（也可写作：{also}）" if also else "")


def _take_rows(
    cand: _Candidate, specs: tuple[ColumnSpec, ...], warnings: list[str]
) -> tuple[list[tuple[Any, ...]], list[int]]:
    # Absent columns read the None appended to every row (index -1).
    idx = [cand.mapping.get(p, -1) for p in range(len(specs))]
    getter = itemgetter(*idx)
    need = max(idx) + 1
    header_keys = tuple(header_key(s.header) for s in specs)
    header_texts = {s.header for s in specs} | {
        v
        for row in cand.head[: cand.header_last - cand.row_offset + 1]
        for v in row
        if v.__class__ is str and v
    }
    rows: list[tuple[Any, ...]] = []
    numbers: list[int] = []
    footers: list[int] = []
    start = cand.header_last - cand.row_offset + 1
    rel = start
    edge = _EDGE_CHARS

    def pull() -> Iterator[list[Any]]:
        yield from cand.head[start:]
        yield from cand.rest

    for row in pull():
        rel += 1  # rel is now the 1-based relative row number of `row`
        if len(row) < need:
            row = list(row) + [None] * (need - len(row))
        row.append(None)
        values = getter(row)
        seen = 0
        first: Any = None
        for v in values:
            if v is None or v == "":
                continue
            if v.__class__ is str and not v.strip(edge):
                continue
            if seen:
                seen = 2
                break
            first = v
            seen = 1
        if not seen:
            continue  # blank row
        if first.__class__ is str:
            if seen == 1 and _FOOTER_RE.match(first.strip(edge)):
                footers.append(rel + cand.row_offset)
                continue
            if first in header_texts and all(
                v.__class__ is str and header_key(v) == header_keys[p]
                for p, v in enumerate(values)
                if v is not None and v != ""
            ):
                warnings.append(f"第{rel + cand.row_offset}行是重复的表头，已跳过")
                continue
        rows.append(values)
        numbers.append(rel + cand.row_offset)
    if footers:
        warnings.append("已跳过表尾说明行：" + "、".join(f"第{n}行" for n in footers[:10]))
    return rows, numbers


def _short_exc(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 80 else text[:79] + "…"


# ---------------------------------------------------------------- CSV


def read_csv_grid(src: Path, kind: str) -> list[list[str]]:
    """Every row of a CSV file as text; UTF-8 (with or without BOM), UTF-16 or GBK."""
    data = src.read_bytes()
    text = _decode(data)
    if text is None:
        raise file_rejected(kind, src, f"文件“{src.name}”的文字编码无法识别（应为UTF-8或GBK）")
    sample = text[:8192]
    delimiter = ","
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        if "\t" in sample and "," not in sample:
            delimiter = "\t"
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _read_csv(src: Path, kind: Kind, specs: tuple[ColumnSpec, ...]) -> SheetData:
    grid = read_csv_grid(src, kind)
    if not any(clean_text(v) for row in grid for v in row):
        raise file_rejected(kind, src, f"文件“{src.name}”中没有数据")
    head = grid[:HEAD_SCAN_ROWS]
    cand = _best_header("", kind, head, iter(grid[HEAD_SCAN_ROWS:]), 0, 0, specs)
    if cand is None:
        raise _no_header(kind, src)
    return _collect(src, kind, "csv", cand, specs)


def cell_grid(src: Path, kind: str, sheet: str) -> list[list[Any]]:
    """Every row of one sheet, from row 1 and column A, as read (for the error copy)."""
    fmt = sniff_format(src, kind)
    if fmt == "csv":
        return read_csv_grid(src, kind)
    with src.open("rb") as fh:
        wb = pc.CalamineWorkbook.from_filelike(fh)
    with wb:
        ws = wb.get_sheet_by_name(sheet) if sheet else wb.get_sheet_by_index(0)
        return ws.to_python(skip_empty_area=False)


__all__ = ["SheetData", "cell_grid", "display", "read_csv_grid", "read_rows", "sniff_format"]


_CELL_RE = re.compile(rb'<c\b[^>]*\br="([A-Z]+)(\d+)"[^>]*?(?:/>|>(.*?)</c>)', re.S)


def formula_cells(src: Path, sheet: str) -> frozenset[tuple[int, int]]:
    """The cells of an .xlsx/.xlsm sheet that hold a formula without a computed value, as
    (1-based row, 0-based column): a file written by a program (not saved by Excel) carries
    formulas only, which read as empty. Only asked for when a required cell is empty."""
    try:
        with zipfile.ZipFile(src) as z:
            workbook = z.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            rid = next((_attr(tag, "r:id") for tag in re.findall(r"<sheet\b[^>]*>", workbook)
                        if html.unescape(_attr(tag, "name")) == sheet), "")
            path = next((_attr(tag, "Target") for tag in re.findall(r"<Relationship\b[^>]*>", rels)
                         if rid and _attr(tag, "Id") == rid), "")
            if not path:
                return frozenset()
            name = path.lstrip("/")
            data = z.read(name if name.startswith("xl/") else f"xl/{name}")
    except (OSError, KeyError, zipfile.BadZipFile):
        return frozenset()
    out = set()
    for m in _CELL_RE.finditer(data):
        body = m.group(3) or b""
        if b"<f" in body and not re.search(rb"<v>[^<]+</v>", body):
            letters, row = m.group(1).decode(), int(m.group(2))
            col = 0
            for ch in letters:
                col = col * 26 + ord(ch) - 64
            out.add((row, col - 1))
    return frozenset(out)


def _attr(tag: str, name: str) -> str:
    found = re.search(r"\s" + re.escape(name) + r'="([^"]*)"', tag)
    return found.group(1) if found else ""
