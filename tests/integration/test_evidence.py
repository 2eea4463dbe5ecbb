"""Evidence files: checked by content, limited in size, stored by hash, read back verified."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from duban.domain.clock import FixedClock
from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.database import Database
from duban.services.evidence import (
    MAX_FILE_BYTES,
    MAX_FILES,
    EvidenceCorrupt,
    EvidenceRejected,
    UploadedFile,
    evidence_file,
    list_evidence,
    sanitise_filename,
    sniff,
    store_evidence,
)
from models import Evidence, Problem
from tests.support import seed_002_with_housing_problems

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256))
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 32


def ooxml(main: str) -> bytes:
    """A minimal OOXML package whose [Content_Types].xml declares `main` as its main part."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Override PartName="/main.xml" '
                   f'ContentType="{main}"/></Types>')
        z.writestr("main.xml", "<x/>")
    return buf.getvalue()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store" / "evidence"


@pytest.fixture
def problems(db: Database, clock: FixedClock) -> list[int]:
    ids = seed_002_with_housing_problems(db, clock, 2)[1]
    # The uploader: every upload is an audit event naming its user and role.
    db.run(add_user, clock, username="zjj1", name="住建局经办人", role=Role.OFFICE, office="zjj")
    return ids


def test_real_documents_are_recognised_by_content() -> None:
    import docx
    import openpyxl

    doc = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("整改情况说明")
    d.save(doc)
    book = io.BytesIO()
    openpyxl.Workbook().save(book)
    assert sniff(doc.getvalue()) is not None and sniff(doc.getvalue())[1] == "Word 文档"
    assert sniff(book.getvalue()) is not None and sniff(book.getvalue())[1] == "Excel 表格"
    assert [sniff(b)[0] for b in (JPEG, PNG, PDF, HEIC)] == [  # type: ignore[index]
        "image/jpeg", "image/png", "application/pdf", "image/heic"]


def test_accepted_files_are_stored_by_hash(db: Database, clock: FixedClock, root: Path,
                                           problems: list[int]) -> None:
    docx_bytes = ooxml("application/vnd.openxmlformats-officedocument."
                       "wordprocessingml.document.main+xml")
    files = [UploadedFile("前.jpg", JPEG, "before"), UploadedFile("后.png", PNG),
             UploadedFile("说明.pdf", PDF), UploadedFile("照片.heic", HEIC),
             UploadedFile("报告.docx", docx_bytes)]
    hashes = db.run(store_evidence, clock, problems[0], files, "zjj1", root=root)
    assert hashes == [hashlib.sha256(f.content).hexdigest() for f in files]
    for f, sha in zip(files, hashes, strict=True):
        assert (root / sha[:2] / sha).read_bytes() == f.content
        assert db.run(evidence_file, sha, root=root) == f.content
    listed = db.run(list_evidence, problems[0])
    assert [(e.filename, e.phase, e.content_type) for e in listed] == [
        ("前.jpg", "before", "image/jpeg"), ("后.png", "after", "image/png"),
        ("说明.pdf", "after", "application/pdf"), ("照片.heic", "after", "image/heic"),
        ("报告.docx", "after", "application/vnd.openxmlformats-officedocument."
                                "wordprocessingml.document")]
    assert all(e.uploaded_by == "zjj1" and e.size > 0 for e in listed)
    # Nothing but hash-named blobs was written (temporary files are renamed away).
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == sorted(hashes)


def test_types_are_judged_by_content_not_name(db: Database, clock: FixedClock, root: Path,
                                              problems: list[int]) -> None:
    macro = ooxml("application/vnd.ms-word.document.macroEnabled.main+xml")
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("a.txt", "hello")
    files = [
        UploadedFile("照片.jpg", b"MZ\x90\x00" + b"\x00" * 100),  # a Windows program
        UploadedFile("表格.xlsx", plain_zip.getvalue()),  # a zip, but no OOXML package
        UploadedFile("宏.docx", macro),  # macro-enabled Word
        UploadedFile("说明.pdf", b"<html>not a pdf</html>"),
        UploadedFile("空.png", b""),
    ]
    with pytest.raises(EvidenceRejected) as err:
        db.run(store_evidence, clock, problems[0], files, "zjj1", root=root)
    assert [(i.path, i.message[:8]) for i in err.value.issues] == [
        ("照片.jpg", "文件类型不允许（"), ("表格.xlsx", "文件类型不允许（"),
        ("宏.docx", "文件类型不允许（"), ("说明.pdf", "文件类型不允许（"), ("空.png", "是空文件")]
    assert "「照片.jpg」文件类型不允许" in err.value.message and "JPEG" in err.value.message
    # A PNG named .pdf is a PNG.
    (sha,) = db.run(store_evidence, clock, problems[0], [UploadedFile("误名.pdf", PNG)], "zjj1",
                            root=root)
    with db.transaction() as s:
        assert s.scalar(select(Evidence.content_type).where(Evidence.sha256 == sha)) == "image/png"


def test_size_and_count_limits(db: Database, clock: FixedClock, root: Path,
                               problems: list[int]) -> None:
    big = JPEG + b"\x00" * (MAX_FILE_BYTES - len(JPEG) + 1)
    with pytest.raises(EvidenceRejected, match=re.escape("「大照片.jpg」大小 10.1 MB，超过每个文件 10.0 MB")):
        db.run(store_evidence, clock, problems[0], [UploadedFile("大照片.jpg", big)], "zjj1",
                       root=root)
    exact = JPEG + b"\x00" * (MAX_FILE_BYTES - len(JPEG))
    assert db.run(store_evidence, clock, problems[0], [UploadedFile("刚好.jpg", exact)], "zjj1",
                          root=root)
    many = [UploadedFile(f"{i}.jpg", JPEG + bytes([i])) for i in range(MAX_FILES + 1)]
    with pytest.raises(EvidenceRejected, match=f"一次最多上传 {MAX_FILES} 个文件"):
        db.run(store_evidence, clock, problems[0], many, "zjj1", root=root)
    with pytest.raises(EvidenceRejected, match="未选择任何文件"):
        db.run(store_evidence, clock, problems[0], [], "zjj1", root=root)
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 1


def test_identical_files_are_stored_once(db: Database, clock: FixedClock, root: Path,
                                         problems: list[int]) -> None:
    twice = [UploadedFile("a.jpg", JPEG), UploadedFile("a-副本.jpg", JPEG)]
    assert len(db.run(store_evidence, clock, problems[0], twice, "zjj1", root=root)) == 1
    db.run(store_evidence, clock, problems[0], [UploadedFile("again.jpg", JPEG)], "zjj1", root=root)
    db.run(store_evidence, clock, problems[1], [UploadedFile("other.jpg", JPEG)], "zjj1", root=root)
    with db.transaction() as s:
        rows = s.execute(select(Evidence.problem_id, Evidence.filename)
                         .order_by(Evidence.id)).all()
    assert [tuple(r) for r in rows] == [(problems[0], "a.jpg"), (problems[1], "other.jpg")]
    assert len([p for p in root.rglob("*") if p.is_file()]) == 1


def test_a_filename_is_never_a_path(db: Database, clock: FixedClock, tmp_path: Path,
                                    root: Path, problems: list[int]) -> None:
    names = ["../../../../etc/passwd.jpg", "..\\..\\windows\\system32\\x.png", "/abs/path.pdf",
             "..", "\x00evil\n.jpg", "正常照片.jpg"]
    contents = [JPEG, PNG, PDF, JPEG + b"1", JPEG + b"2", JPEG + b"3"]
    hashes = db.run(store_evidence, clock, problems[0],
                            [UploadedFile(n, c) for n, c in zip(names, contents, strict=True)],
                            "zjj1", root=root)
    shown = [e.filename for e in db.run(list_evidence, problems[0])]
    assert shown == ["passwd.jpg", "x.png", "path.pdf", "未命名文件.jpg", "evil.jpg", "正常照片.jpg"]
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {root / h[:2] / h for h in hashes}
    assert sanitise_filename("a" * 300 + ".jpeg").endswith("….jpeg")
    assert len(sanitise_filename("a" * 300 + ".jpeg")) <= 120
    with pytest.raises(DubanError, match="编号无效"):
        db.run(evidence_file, "../../etc/passwd", root=root)


def test_reading_back_verifies_the_hash(db: Database, clock: FixedClock, root: Path,
                                        problems: list[int]) -> None:
    (sha,) = db.run(store_evidence, clock, problems[0], [UploadedFile("a.pdf", PDF)], "zjj1",
                            root=root)
    (root / sha[:2] / sha).write_bytes(PDF + b"tampered")
    with pytest.raises(EvidenceCorrupt, match="已损坏"):
        db.run(evidence_file, sha, root=root)
    (root / sha[:2] / sha).unlink()
    with pytest.raises(NotFound, match="文件缺失"):
        db.run(evidence_file, sha, root=root)
    with pytest.raises(NotFound, match="不存在"):
        db.run(evidence_file, "0" * 64, root=root)


def test_a_rolled_back_upload_leaves_no_row(db: Database, clock: FixedClock, root: Path,
                                            problems: list[int]) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        store_evidence(uow, clock, problems[0], [UploadedFile("a.jpg", JPEG)], "zjj1",
                       root=root)
        raise RuntimeError("the caller's transaction fails afterwards")
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
    # The orphaned blob is harmless: an identical upload later reuses it.
    assert db.run(store_evidence, clock, problems[0], [UploadedFile("a.jpg", JPEG)], "zjj1",
                          root=root) == [hashlib.sha256(JPEG).hexdigest()]


def test_closed_problems_take_no_more_evidence(db: Database, clock: FixedClock, root: Path,
                                               problems: list[int]) -> None:
    with db.transaction() as s:
        p = s.get(Problem, problems[0])
        assert p is not None
        p.status = "closed"
    with pytest.raises(DubanError, match="已销号，不能再上传"):
        db.run(store_evidence, clock, problems[0], [UploadedFile("a.jpg", JPEG)], "zjj1", root=root)


def test_the_default_store_is_in_the_data_directory(
        db: Database, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        problems: list[int]) -> None:
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "d"))
    (sha,) = db.run(store_evidence, clock, problems[0], [UploadedFile("a.jpg", JPEG)], "zjj1")
    assert (tmp_path / "d" / "evidence" / sha[:2] / sha).read_bytes() == JPEG
    assert db.run(evidence_file, sha) == JPEG
