"""Many moves of one actor in one transaction (`moves.apply_batch`): the same rows, guards and
audit events as one move at a time, written together."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import event, select

from duban.domain.clock import FixedClock, local_today
from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import Action, Payload, Role
from duban.services import moves
from duban.services.actors import add_user, resolve_actor
from duban.services.database import Database
from duban.services.evidence import (
    UploadedFile,
    check_files,
    evidence_file,
    write_blobs,
)
from models import AuditEvent, Evidence, Problem
from tests.support import seed_002_with_housing_problems

pytestmark = pytest.mark.usefixtures("data_dir")


def photos(label: str) -> list[UploadedFile]:
    """Two JPEG stand-ins whose bytes differ per label."""
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
    return [UploadedFile(f"{label}-前.jpg", jpeg + f"{label} before".encode() * 20, "before"),
            UploadedFile(f"{label}-后.jpg", jpeg + f"{label} after".encode() * 20, "after")]


@pytest.fixture
def accepted(db: Database, clock: FixedClock) -> list[int]:
    """Four 危房 problems of seed 002 accepted by 县住建局 (zjj1), reviewer dd1."""
    ids = seed_002_with_housing_problems(db, clock, 4)[1]
    db.run(add_user, clock, username="zjj1", name="住建局经办人", role=Role.OFFICE, office="zjj")
    db.run(add_user, clock, username="dd1", name="第一督导组组长", role=Role.SUPERVISOR)
    for pid in ids:
        db.run(moves.apply, clock, "zjj1", pid, Action.ACCEPT, Payload())
    return ids


def trail(db: Database, pid: int) -> list[tuple[object, ...]]:
    """A problem's audit events and evidence rows, without ids, times and its own labels."""
    with db.transaction() as s:
        events = [(e.action, e.from_status, e.to_status, e.actor, len(e.evidence),
                   (e.data or {}).get("round"))
                  for e in s.scalars(select(AuditEvent).where(AuditEvent.problem_id == pid)
                                     .order_by(AuditEvent.id))]
        files = [(e.phase, e.submission_round, e.uploaded_by)
                 for e in s.scalars(select(Evidence).where(Evidence.problem_id == pid)
                                    .order_by(Evidence.id))]
    return [*events, *files]


def submit_batch(db: Database, clock: FixedClock, pids: list[int], root: Path,
                 note: str) -> None:
    with db.unit_of_work() as uow:
        s = uow.session
        actor = resolve_actor(s, "zjj1", local_today(clock))
        steps = [moves.Step(p, Action.SUBMIT, Payload(note=note),
                            check_files(photos(f"{p.code}-{note}")))
                 for p in s.scalars(select(Problem).where(Problem.id.in_(pids))
                                    .order_by(Problem.id))]
        moves.apply_batch(s, clock, actor, steps, root=root)
        uow.commit()


def test_a_batch_writes_what_one_move_at_a_time_writes(db: Database, clock: FixedClock,
                                                       tmp_path: Path,
                                                       accepted: list[int]) -> None:
    root = tmp_path / "evidence"
    single, batched = accepted[:2], accepted[2:]
    for round_note in ("第一轮", "第二轮"):  # a failed review opens round 2 for both ways
        for pid in single:
            db.run(moves.apply, clock, "zjj1", pid, Action.SUBMIT, Payload(note=round_note),
                   files=photos(f"{pid}-{round_note}"))
        submit_batch(db, clock, batched, root, round_note)
        for pid in accepted:
            if round_note == "第一轮":
                db.run(moves.apply, clock, "dd1", pid, Action.FAIL_REVIEW,
                       Payload(note="照片不清"))
    assert trail(db, single[0]) == trail(db, batched[0]) == trail(db, batched[1])
    assert [t[-1] for t in trail(db, batched[0]) if t[0] == "upload_evidence"] == [1, 2]
    with db.transaction() as s:
        stored = list(s.scalars(select(Evidence.sha256).where(Evidence.problem_id.in_(batched))))
    assert len(stored) == 8  # two photos, two rounds, two problems; each readable and verified
    with db.unit_of_work() as uow:
        for sha in stored:
            assert hashlib.sha256(evidence_file(uow, sha, root=root)).hexdigest() == sha
    assert not list(root.rglob(".upload-*"))


def test_a_batch_inserts_its_audit_and_evidence_rows_by_one_executemany_each(
        db: Database, clock: FixedClock, tmp_path: Path, accepted: list[int]) -> None:
    # Each submission's move and upload events, in that order per problem as one by one,
    # and its photos: one executemany per table, without RETURNING (no objects to fill in).
    calls: list[tuple[str, bool]] = []

    def seen(conn: object, cursor: object, statement: str, parameters: object,
             context: object, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            calls.append((statement, executemany))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        submit_batch(db, clock, accepted, tmp_path / "evidence", "第一轮")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    audit = [(q, many) for q, many in calls if "audit_event" in q]
    files = [(q, many) for q, many in calls if "INTO evidence" in q]
    assert len(audit) == 1 and audit[0][1] and "RETURNING" not in audit[0][0], audit
    assert len(files) == 1 and files[0][1] and "RETURNING" not in files[0][0], files
    with db.transaction() as s:
        order = [(e.problem_id, e.action) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.problem_id.in_(accepted), AuditEvent.action.in_(
                [Action.SUBMIT.value, "upload_evidence"]))
            .order_by(AuditEvent.id))]
    assert order == [(pid, action) for pid in sorted(accepted)
                     for action in (Action.SUBMIT.value, "upload_evidence")]


def test_a_refused_move_undoes_the_batch(db: Database, clock: FixedClock, tmp_path: Path,
                                         accepted: list[int]) -> None:
    root = tmp_path / "evidence"
    before = trail(db, accepted[0])
    with db.unit_of_work() as uow, pytest.raises(DubanError):
        s = uow.session
        actor = resolve_actor(s, "zjj1", local_today(clock))
        first, second = (s.get(Problem, pid) for pid in accepted[:2])
        assert first is not None and second is not None
        moves.apply_batch(s, clock, actor, [
            moves.Step(first, Action.SUBMIT, Payload(note="已改"), check_files(photos("a"))),
            moves.Step(second, Action.CLOSE, Payload(note="销号")),  # an office may not close
        ], root=root)
    assert trail(db, accepted[0]) == before
    assert not root.exists() or not list(root.rglob("*"))  # no blob written before a refusal


def test_a_problem_moves_once_per_batch(db: Database, clock: FixedClock,
                                        accepted: list[int]) -> None:
    with db.unit_of_work() as uow:
        s = uow.session
        p = s.get(Problem, accepted[0])
        assert p is not None
        actor = resolve_actor(s, "zjj1", local_today(clock))
        with pytest.raises(ValueError, match="at most once"):
            moves.apply_batch(s, clock, actor, [
                moves.Step(p, Action.REQUEST_EXTENSION, Payload(note="施工")),
                moves.Step(p, Action.SUBMIT, Payload(note="已改"))])


def county_batch(db: Database, clock: FixedClock, steps: list[tuple[int, Action, Payload]]
                 ) -> None:
    with db.unit_of_work() as uow:
        s = uow.session
        actor = resolve_actor(s, "xz", local_today(clock))
        rows = {p.id: p for p in s.scalars(select(Problem).where(
            Problem.id.in_([pid for pid, _, _ in steps])))}
        moves.apply_batch(s, clock, actor, [moves.Step(rows[pid], action, payload)
                                            for pid, action, payload in steps])
        uow.commit()


def test_a_county_batch_reads_its_look_ups_once(db: Database, clock: FixedClock,
                                                accepted: list[int]) -> None:
    db.run(add_user, clock, username="xz", name="县级办公室值班员", role=Role.COUNTY)
    today = local_today(clock)
    # Each office asks for its own date; the county approves two one by one, two in a batch.
    asked = {pid: today + dt.timedelta(days=30 + i) for i, pid in enumerate(accepted)}
    for pid in accepted:
        db.run(moves.apply, clock, "zjj1", pid, Action.REQUEST_EXTENSION,
               Payload(note="施工", deadline=asked[pid]))
    single, batched = accepted[:2], accepted[2:]
    for pid in single:
        db.run(moves.apply, clock, "xz", pid, Action.APPROVE_EXTENSION, Payload(note="同意"))
    # The whole batch reads the requested dates and the offices named in one query each.
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        county_batch(db, clock, [(pid, Action.APPROVE_EXTENSION, Payload(note="同意"))
                                 for pid in batched])
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    with db.transaction() as s:
        deadlines = {pid: d for pid, d in s.execute(
            select(Problem.id, Problem.deadline).where(Problem.id.in_(accepted)))}
    assert deadlines == asked
    assert trail(db, single[0]) == trail(db, batched[0])
    reads = [q for q in statements if q.lstrip().upper().startswith("SELECT")
             and "audit_event" in q]
    assert len(reads) == 1, reads
    # Reassignments: a known office moves the problem; an unknown one refuses the batch.
    county_batch(db, clock, [(batched[0], Action.REASSIGN, Payload(note="改派", office="mzj"))])
    with pytest.raises(NotFound, match="未定义"):
        county_batch(db, clock, [(batched[1], Action.REASSIGN,
                                  Payload(note="改派", office="nowhere"))])
    with db.transaction() as s:
        assert s.get(Problem, batched[0]).lead_office == "mzj"  # type: ignore[union-attr]
        assert s.get(Problem, batched[1]).lead_office == "zjj"  # type: ignore[union-attr]


def test_blobs_written_together_leave_no_temporary_file(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    files = check_files([UploadedFile("一.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"1" * 99),
                         UploadedFile("二.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"2" * 99)])
    write_blobs(root, files)
    write_blobs(root, files)  # present already: reused
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == sorted(
        f.sha256 for f in files)
    bad = replace(check_files([UploadedFile("三.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x003")])[0],
                  sha256="../x")
    with pytest.raises(DubanError):  # a bad name fails before anything is renamed
        write_blobs(root, [*check_files([UploadedFile("四.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF4")]),
                           bad])
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == sorted(
        f.sha256 for f in files)


def test_blobs_are_all_fsynced_side_by_side_before_any_rename(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "evidence"
    files = check_files([UploadedFile(f"{i}.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes([i]) * 50)
                         for i in range(12)])
    synced: list[int] = []
    threads: set[str] = set()
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        threads.add(threading.current_thread().name)
        real_fsync(fd)
        synced.append(fd)

    def replace_(src: str, dst: Path) -> None:
        assert len(synced) == len(files)  # every file is on disk before the first is named
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace_)
    write_blobs(root, files)
    assert len(threads) > 1 and all(t.startswith("fsync") for t in threads)
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == sorted(f.sha256 for f in files)


def test_a_failed_fsync_leaves_no_blob_and_no_temporary_file(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "evidence"
    files = check_files([UploadedFile(f"{i}.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes([i]) * 50)
                         for i in range(6)])
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(errno.EIO, "I/O error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError):
        write_blobs(root, files)
    assert [p for p in root.rglob("*") if p.is_file()] == []
