"""Fault injection: the disk fills up while evidence (佐证资料) is being stored.

The evidence store sits on a 1 MiB tmpfs when this process may mount one (root with
CAP_SYS_ADMIN: a real full disk), else the store's file writes are made to fail with ENOSPC
half-way (the same error at the same place). The upload is refused with a Chinese message
naming the file; nothing is half-written: no row, no blob, no temporary file. Once there is
room again, the same upload is stored whole.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from duban.domain.clock import FixedClock
from duban.domain.lifecycle import Role
from duban.services import evidence
from duban.services.actors import add_user
from duban.services.database import Database
from duban.services.evidence import StorageFull, UploadedFile, store_evidence
from models import AuditEvent, Evidence
from tests.orchestration.faults import Table, Trial
from tests.support import seed_002_with_housing_problems

pytestmark = pytest.mark.slow

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
TMPFS_BYTES = 1024 * 1024


def _mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs",
                           str(where)], capture_output=True, check=False)
    return done.returncode == 0


def _used(store: Path) -> int:
    return sum(p.stat().st_size for p in store.rglob("*") if p.is_file())


class _BoundedFile:
    """A file of a store that holds TMPFS_BYTES: a write that does not fit stores what fits,
    then fails as a full disk does."""

    def __init__(self, fh: Any, store: Path) -> None:
        self.fh = fh
        self.store = store

    def write(self, data: bytes) -> int:
        self.fh.flush()
        room = TMPFS_BYTES - _used(self.store)
        if len(data) <= room:
            return int(self.fh.write(data))
        self.fh.write(data[: max(room, 0)])
        self.fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)

    def __enter__(self) -> _BoundedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


@pytest.fixture(params=["tmpfs", "injected"])
def full_store(request: pytest.FixtureRequest, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """The evidence store on a disk with 1 MiB (a tmpfs where one can be mounted), or with
    ENOSPC injected at the store's writes beyond that MiB; yields (store, how)."""
    store = tmp_path / "evidence"
    store.mkdir(parents=True)
    if request.param == "tmpfs" and _mount_tmpfs(store):
        try:
            yield store, "tmpfs 1 MiB"
        finally:
            subprocess.run(["umount", str(store)], check=False)
        return
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        return _BoundedFile(real_fdopen(fd, *args, **kwargs), store)

    names = {k: getattr(os, k) for k in dir(os) if not k.startswith("__")}
    monkeypatch.setattr(evidence, "os", SimpleNamespace(**{**names, "fdopen": fdopen}))
    yield store, "ENOSPC injected" + (" (no tmpfs here)" if request.param == "tmpfs" else "")


def _files_in(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file())


def test_a_full_disk_refuses_the_upload_and_leaves_nothing_half_written(
        db: Database, clock: FixedClock, full_store: tuple[Path, str], tmp_path: Path) -> None:
    store, how = full_store
    started = time.monotonic()
    problem = seed_002_with_housing_problems(db, clock, 1)[1][0]
    db.run(add_user, clock, username="zjj1", name="住建局经办人", role=Role.OFFICE, office="zjj")
    # The first fits, the second fills the disk while it is written.
    files = [UploadedFile("整改前.jpg", JPEG + os.urandom(300 * 1024), "before"),
             UploadedFile("整改后.png", PNG + os.urandom(900 * 1024))]
    with pytest.raises(StorageFull) as refused:
        db.run(store_evidence, clock, problem, files, "zjj1", root=store)
    message = refused.value.message
    with db.transaction() as s:
        rows = s.scalar(select(func.count()).select_from(Evidence))
        events = s.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == evidence.UPLOAD_ACTION))
    left = _files_in(store)
    notes = []
    if "存储空间已满" not in message or "整改后.png" not in message:
        notes.append(f"message: {message}")
    if rows or events:
        notes.append(f"rows left: {rows} evidence, {events} upload events")
    if left:
        notes.append(f"files left: {left}")

    # Room again (a smaller second file): the upload is stored whole, once.
    files[1] = UploadedFile("整改后.png", PNG + os.urandom(200 * 1024))
    hashes = db.run(store_evidence, clock, problem, files, "zjj1", root=store)
    with db.transaction() as s:
        stored = sorted(s.scalars(select(Evidence.sha256)))
    if stored != sorted(hashes) or _files_in(store) != sorted(f"{h[:2]}/{h}" for h in hashes):
        notes.append(f"after room: rows {stored} files {_files_in(store)}")
    table = Table(tmp_path / "faults-disk-full.json")
    table.add(Trial("disk full", db.engine.dialect.name, f"storing evidence ({how})",
                    survived=not notes, seconds=round(time.monotonic() - started, 1),
                    notes=notes))
    assert notes == []
