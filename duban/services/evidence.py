"""Supporting files (佐证资料): checked by content, stored by SHA-256, read back verified.

A blob lives at <root>/<sha[:2]>/<sha256>, where root is data_dir()/evidence unless a caller
passes another. The name a user gave a file is kept for display only (sanitised) and never
becomes part of a path. Blobs are written through a temporary file and an atomic rename, so a
reader never sees half a file. A blob is written before its database row commits: when the
transaction then fails, the blob stays behind as an orphan. Orphans are harmless (nothing
refers to them; an identical later upload reuses them) and may be swept by comparing the
directory with the evidence table.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import math
import os
import re
import tempfile
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.domain.clock import Clock, local_today
from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import FINAL_STATUSES, STATUS_LABELS, Action, Actor, Status
from duban.services.actors import resolve_actor
from duban.services.database import UnitOfWork, data_dir
from duban.services.problems import find_problem
from models import AuditEvent, Evidence, Problem

MAX_FILE_BYTES = 10 * 1024 * 1024  # 10 MiB per file
MAX_FILES = 20  # per submission
MAX_NAME_CHARS = 120  # the display name; the column holds 200
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

Phase = Literal["before", "after"]
PHASE_LABELS: dict[str, str] = {"before": "整改前", "after": "整改后"}

# What we accept, by what the content is: (content type, label shown in messages).
JPEG = ("image/jpeg", "JPEG 图片")
PNG = ("image/png", "PNG 图片")
HEIC = ("image/heic", "HEIC 图片")
PDF = ("application/pdf", "PDF 文件")
DOCX = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word 文档")
XLSX = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel 表格")
ACCEPTED = "JPEG、PNG、HEIC 图片，PDF 文件，Word 文档（.docx）和 Excel 表格（.xlsx）"

# ISO base media brands of HEIF/HEIC images (phones save photos this way).
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# The main part an OOXML package declares in [Content_Types].xml says what it is.
_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.ms-word.document.macroenabled.main+xml": None,  # .docm: macros, refused
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": None,  # .xlsm: macros, refused
}
_CONTENT_TYPES_MAX = 256 * 1024  # [Content_Types].xml is a few KB; refuse to inflate more


# The extension each accepted type is stored and served under (the first), and the others
# that name it too: a file keeps its own name only when that name says what it is.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    JPEG[0]: (".jpg", ".jpeg", ".jpe", ".jfif"),
    PNG[0]: (".png",),
    HEIC[0]: (".heic", ".heif"),
    PDF[0]: (".pdf",),
    DOCX[0]: (".docx",),
    XLSX[0]: (".xlsx",),
}


@dataclass(frozen=True)
class UploadedFile:
    """A file as a user handed it in: the name they gave, the bytes, before or after.

    `size` is the size the web edge saw when it read no more than the limit (and one byte)
    of a bigger file; None means `content` is the whole file.
    """

    filename: str
    content: bytes
    phase: Phase = "after"
    size: int | None = None


@dataclass(frozen=True)
class EvidenceIssue:
    """Why one file was refused."""

    path: str  # the display name of the file
    message: str


class EvidenceRejected(DubanError):
    """One or more files were refused; every reason is listed, each naming its file."""

    def __init__(self, issues: Sequence[EvidenceIssue]) -> None:
        # `issues`, not `errors`: the message already names every file, so the CLI's error
        # printer (which lists `errors` under the message) would say each twice.
        self.issues = list(issues)
        text = "；".join(f"「{i.path}」{i.message}" for i in self.issues)
        super().__init__(f"佐证资料未通过检查：{text}")


class EvidenceCorrupt(DubanError):
    """A stored blob no longer matches its hash."""


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed the checks, ready to store."""

    filename: str  # sanitised display name
    content: bytes
    sha256: str
    content_type: str
    phase: Phase


@dataclass(frozen=True)
class EvidenceInfo:
    """One stored evidence file of a problem, for listings and downloads."""

    id: int
    problem_id: int
    sha256: str
    filename: str
    content_type: str
    size: int
    phase: str
    uploaded_by: str
    uploaded_at: dt.datetime
    round: int = 1  # the submission round it belongs to

    @property
    def is_image(self) -> bool:
        """Whether browsers can show it inline."""
        return self.content_type in {"image/jpeg", "image/png"}


def evidence_root() -> Path:
    """Where evidence blobs live by default."""
    return data_dir() / "evidence"


def blob_path(root: Path, sha256: str) -> Path:
    """The path of a blob; only ever built from a validated hash."""
    if not SHA256_RE.match(sha256):
        raise DubanError(f"佐证资料编号无效：{sha256[:80]}")
    return root / sha256[:2] / sha256


def sanitise_filename(name: str) -> str:
    """A display name: no directories, no control characters, not empty, not too long."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]  # browsers on Windows send C:\...\x.jpg
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if len(name) > MAX_NAME_CHARS:
        _, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        name = name[: MAX_NAME_CHARS - len(keep) - 2] + "…" + ("." + keep if keep else "")
    return name or "未命名文件"


def named_for(filename: str, content_type: str) -> str:
    """A display name ending in the extension of the type the content is: `evil.exe` that
    is a JPEG is kept and downloaded as `evil.jpg` (nothing opens it as a program)."""
    known = EXTENSIONS.get(content_type)
    if not known:
        return filename
    stem, dot, ext = filename.rpartition(".")
    if dot and f".{ext.lower()}" in known:
        return filename
    base = stem if dot and stem else filename
    return base[: MAX_NAME_CHARS - len(known[0])] + known[0]


def sniff(content: bytes) -> tuple[str, str] | None:
    """The (content type, label) the bytes are, when they are a type we accept."""
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"%PDF-"):
        return PDF
    if len(content) >= 12 and content[4:8] == b"ftyp" and content[8:12] in _HEIF_BRANDS:
        return HEIC
    if content.startswith(b"PK\x03\x04"):
        return _sniff_ooxml(content)
    return None


def _sniff_ooxml(content: bytes) -> tuple[str, str] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > _CONTENT_TYPES_MAX:
                return None
            with archive.open(info) as fh:
                declared = fh.read(_CONTENT_TYPES_MAX + 1).decode("utf-8", "replace").lower()
    # Not a Word/Excel package we can read: no content types (KeyError), a damaged archive,
    # an encrypted member (RuntimeError) or a compression method zipfile lacks
    # (NotImplementedError). All mean "not an accepted type", never a crash.
    except (KeyError, zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
        return None
    for main, kind in _OOXML_MAIN.items():
        if f'contenttype="{main}"' in declared:
            return kind
    return None


def check_files(files: Sequence[UploadedFile]) -> list[CheckedFile]:
    """Check every file by content and size; raise EvidenceRejected listing all refusals."""
    issues: list[EvidenceIssue] = []
    if len(files) > MAX_FILES:
        issues.append(EvidenceIssue("（全部）", f"一次最多上传 {MAX_FILES} 个文件，本次 {len(files)} 个"))
    checked: list[CheckedFile] = []
    for f in files:
        shown = sanitise_filename(f.filename)
        if f.phase not in PHASE_LABELS:
            issues.append(EvidenceIssue(shown, f"阶段应为 before（整改前）或 after（整改后），不是 {f.phase}"))
            continue
        size = f.size if f.size is not None else len(f.content)
        if not size:
            issues.append(EvidenceIssue(shown, "是空文件"))
            continue
        if size > MAX_FILE_BYTES or len(f.content) > MAX_FILE_BYTES:
            size = max(size, len(f.content))
            issues.append(EvidenceIssue(
                shown, f"大小 {_mib(size)}，超过每个文件 {_mib(MAX_FILE_BYTES)} 的上限"))
            continue
        kind = sniff(f.content)
        if kind is None:
            issues.append(EvidenceIssue(shown, f"文件类型不允许（按内容识别），仅接受{ACCEPTED}"))
            continue
        checked.append(CheckedFile(named_for(shown, kind[0]), f.content,
                                   hashlib.sha256(f.content).hexdigest(), kind[0], f.phase))
    if issues:
        raise EvidenceRejected(issues)
    return checked


def _mib(n: int) -> str:
    # Rounded up, so a file just over the limit never reads as the limit itself.
    return f"{math.ceil(n * 10 / 1024 / 1024) / 10:.1f} MB"


class StorageFull(DubanError):
    """The disk holding the evidence store is full: nothing of the upload was kept."""


def write_blob(root: Path, sha256: str, content: bytes) -> Path:
    """Store content under its hash (temp file + fsync + atomic rename); reuse an existing blob.

    A failed write (a full disk) removes its temporary file: nothing half-written is left.
    """
    path = blob_path(root, sha256)
    if path.exists() and path.stat().st_size == len(content):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_blobs(root: Path, files: Sequence[CheckedFile]) -> None:
    """Store many files as `write_blob` does each (temp file, fsync, atomic rename), in three
    passes: every temporary file written, then all fsynced side by side, then each renamed.
    Concurrent fsyncs share the file system's journal commits (1,000 small files on this
    machine's ext4: 0.13 s with 8 threads against 1.4–2.7 s one after another, the same CPU).
    On an error nothing of this call stays (its temporary files and the blobs it created are
    removed); a full disk is `StorageFull`."""
    pending: list[tuple[int, str, Path]] = []
    current = ""
    try:
        for f in {f.sha256: f for f in files}.values():
            path = blob_path(root, f.sha256)
            if path.exists() and path.stat().st_size == len(f.content):
                continue
            current = f.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=path.parent)
            pending.append((fd, tmp, path))
            view = memoryview(f.content)
            while view:
                view = view[os.write(fd, view):]
        _fsync_all([fd for fd, _, _ in pending])
    except OSError as exc:
        _discard(pending)
        _refuse_full(exc, current)
        raise
    except BaseException:
        _discard(pending)
        raise
    for fd, _, _ in pending:
        os.close(fd)
    renamed = 0
    try:
        for _, tmp, path in pending:
            os.replace(tmp, path)
            renamed += 1
    except BaseException:
        for _, _, path in pending[:renamed]:
            path.unlink(missing_ok=True)
        raise
    finally:
        for _, tmp, _ in pending[renamed:]:
            Path(tmp).unlink(missing_ok=True)


FSYNC_THREADS = 8  # enough to keep the journal's commits shared; fsync waits without the GIL


def _fsync_all(fds: list[int]) -> None:
    """fsync every descriptor, side by side when there are several; the first error raises."""
    if len(fds) < 2:
        for fd in fds:
            os.fsync(fd)
        return
    from concurrent.futures import ThreadPoolExecutor

    # The pool lives and ends inside this call: every fsync has returned when it closes.
    with ThreadPoolExecutor(max_workers=min(FSYNC_THREADS, len(fds)),
                            thread_name_prefix="fsync") as pool:
        for _ in pool.map(os.fsync, fds):
            pass


def _discard(pending: list[tuple[int, str, Path]]) -> None:
    for fd, tmp, _ in pending:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)


UPLOAD_ACTION = "upload_evidence"  # the audit event of every upload (not a lifecycle move)

# A submitted round is frozen: while it waits for review or has passed, and once the problem
# is closed or voided, nothing is added to it. A failed review or a reopen (back to 整改中)
# opens the next round.
FROZEN_STATUSES = frozenset({Status.SUBMITTED, Status.REVIEWED, *FINAL_STATUSES})


def evidence_round(session: Session, problem_id: int) -> int:
    """The submission round evidence uploaded now belongs to: one more than the problem's
    submissions so far (the round a submission freezes is the count including it)."""
    submitted = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.problem_id == problem_id, AuditEvent.action == Action.SUBMIT.value))
    return int(submitted or 0) + 1


def refuse_frozen(problem: Problem) -> None:
    """Refuse an upload to a problem whose round is submitted (or which is finished)."""
    status = Status(problem.status)
    if status in FINAL_STATUSES:
        raise DubanError(f"问题 {problem.code} {STATUS_LABELS[status]}，不能再上传佐证资料")
    if status in FROZEN_STATUSES:
        raise DubanError(f"问题 {problem.code} 的整改材料已提交（{STATUS_LABELS[status]}），"
                         "本轮佐证资料不能再增加；复核不通过退回整改后，可在新一轮中上传")


def store_checked(
    session: Session,
    clock: Clock,
    problem: Problem,
    files: Sequence[CheckedFile],
    actor: Actor,
    *,
    round_no: int | None = None,
    root: Path | None = None,
) -> list[str]:
    """Write checked files to the blob store and add their rows to the round (by default the
    open one), with one audit event for the upload, inside a caller's transaction."""
    round_no = round_no or evidence_round(session, problem.id)
    known = set(session.scalars(select(Evidence.sha256).where(
        Evidence.problem_id == problem.id, Evidence.submission_round == round_no)))
    root = root or evidence_root()
    written: list[Path] = []  # blobs this upload created, removed again if a later one fails
    for f in {f.sha256: f for f in files}.values():
        existed = blob_path(root, f.sha256).exists()
        try:
            stored = write_blob(root, f.sha256, f.content)
        except OSError as exc:
            # The caller's transaction rolls back with this error: no row may name a blob, and
            # no blob of this upload may stay without a row.
            for path in written:
                path.unlink(missing_ok=True)
            _refuse_full(exc, f.filename)
            raise
        if not existed:
            written.append(stored)
    hashes = add_checked(session, clock, problem, files, actor, round_no=round_no, known=known)
    session.flush()
    return hashes


def _refuse_full(exc: OSError, filename: str) -> None:
    """A full disk becomes the Chinese refusal (any other OSError is the caller's to raise)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise StorageFull(f"服务器存储空间已满，佐证资料「{filename}」未能保存，本次上传的文件均未保存。"
                          "请联系系统管理员清理磁盘后重新上传") from exc


def add_checked(session: Session, clock: Clock, problem: Problem, files: Sequence[CheckedFile],
                actor: Actor, *, round_no: int, known: set[str],
                audit: list[dict[str, object]] | None = None,
                evidence: list[dict[str, object]] | None = None) -> list[str]:
    """The evidence rows and the upload's audit event of `store_checked`, added to the session
    (not flushed, no blob written): `known` holds the hashes the round has already. With
    `audit` and `evidence` (a batch's lists, `moves.apply_batch`), the rows are appended
    there for the batch to insert instead of added to the session."""
    now = clock.now()
    hashes: list[str] = []
    names: list[str] = []
    for f in files:
        if f.sha256 in hashes:
            continue  # the same file twice in one upload
        hashes.append(f.sha256)
        if f.sha256 in known:
            continue  # already in this round
        known.add(f.sha256)
        names.append(f.filename)
        row: dict[str, object] = {
            "problem_id": problem.id, "sha256": f.sha256, "filename": f.filename,
            "content_type": f.content_type, "size": len(f.content), "phase": f.phase,
            "uploaded_by": actor.user, "uploaded_at": now, "submission_round": round_no,
        }
        if evidence is not None:
            evidence.append(row)
        else:
            session.add(Evidence(**row))
    status = problem.status
    upload: dict[str, object] = {
        "campaign_id": problem.campaign_id, "problem_id": problem.id, "action": UPLOAD_ACTION,
        "from_status": status, "to_status": status, "actor": actor.user,
        "actor_role": actor.role.value, "actor_name": actor.name, "at": now,
        "note": f"第{round_no}轮佐证资料：" + "、".join(names)
        if names else f"第{round_no}轮佐证资料（已有，未重复保存）",
        "evidence": hashes, "data": {"round": round_no, "files": names},
    }
    if audit is not None:
        audit.append(upload)
    else:
        session.add(AuditEvent(**upload))
    return hashes


def evidence_rounds(session: Session, problem_ids: Sequence[int]) -> dict[int, int]:
    """`evidence_round` of many problems in one query."""
    counts = dict.fromkeys(problem_ids, 0)
    for start in range(0, len(problem_ids), 500):
        chunk = list(problem_ids[start:start + 500])
        counts.update(session.execute(
            select(AuditEvent.problem_id, func.count()).where(
                AuditEvent.problem_id.in_(chunk), AuditEvent.action == Action.SUBMIT.value)
            .group_by(AuditEvent.problem_id)).all())
    return {pid: n + 1 for pid, n in counts.items()}


def round_hashes(session: Session, rounds: dict[int, int]) -> dict[int, set[str]]:
    """The hashes already stored in each problem's given round, in one query per 500."""
    known: dict[int, set[str]] = {pid: set() for pid in rounds}
    ids = list(rounds)
    for start in range(0, len(ids), 500):
        rows = session.execute(select(Evidence.problem_id, Evidence.submission_round,
                                      Evidence.sha256).where(
            Evidence.problem_id.in_(ids[start:start + 500]))).all()
        for pid, round_no, sha in rows:
            if rounds[pid] == round_no:
                known[pid].add(sha)
    return known


def store_evidence(
    uow: UnitOfWork,
    clock: Clock,
    problem_ref: str | int,
    files: Sequence[UploadedFile],
    uploaded_by: str,
    *,
    campaign_id: int | None = None,
    root: Path | None = None,
) -> list[str]:
    """Check and store files for a problem; returns their SHA-256 hashes in upload order."""
    checked = check_files(files)
    if not checked:
        raise EvidenceRejected([EvidenceIssue("（全部）", "未选择任何文件")])
    problem = find_problem(uow.session, campaign_id, problem_ref)
    refuse_frozen(problem)
    actor = resolve_actor(uow.session, uploaded_by, local_today(clock))
    return store_checked(uow.session, clock, problem, checked, actor, root=root)


def evidence_of(session: Session, problem_id: int) -> list[EvidenceInfo]:
    """The evidence files of a problem, oldest first (the one shape pages, API and CLI list)."""
    rows = session.scalars(select(Evidence).where(Evidence.problem_id == problem_id)
                           .order_by(Evidence.submission_round, Evidence.uploaded_at,
                                     Evidence.id))
    return [EvidenceInfo(id=e.id, problem_id=e.problem_id, sha256=e.sha256,
                         filename=e.filename, content_type=e.content_type, size=e.size,
                         phase=e.phase, uploaded_by=e.uploaded_by, uploaded_at=e.uploaded_at,
                         round=e.submission_round)
            for e in rows]


def list_evidence(uow: UnitOfWork, problem_ref: str | int, *, campaign_id: int | None = None
                  ) -> list[EvidenceInfo]:
    """The evidence files of a problem, oldest first."""
    return evidence_of(uow.session, find_problem(uow.session, campaign_id, problem_ref).id)


def evidence_file(uow: UnitOfWork, sha256: str, *, root: Path | None = None) -> bytes:
    """The bytes of a stored evidence file, verified against its hash."""
    sha256 = sha256.strip().lower()
    path = blob_path(root or evidence_root(), sha256)
    session = uow.session
    exists = session.scalar(select(Evidence.id).where(Evidence.sha256 == sha256).limit(1))
    if exists is None:
        raise NotFound(f"佐证资料不存在：{sha256}")
    try:
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"佐证资料文件缺失：{sha256}（数据目录中找不到）") from exc
    if hashlib.sha256(content).hexdigest() != sha256:
        raise EvidenceCorrupt(f"佐证资料文件已损坏（内容与哈希不符）：{sha256}")
    return content
