"""The file sweep: files a crash left in the data directory that no row refers to.

Issuing renders a document into `documents/.render-*.docx` (and a long notice's full list into
`.render-*.xlsx` beside it), moves it to `documents/<sha256>.docx` (`.xlsx`) and commits the
notice row that names it. A crash between those
steps leaves a 0-byte or half-written temporary file, or a finished document no row names
(its transaction rolled back), and the record `documents/.rendered/<key>` that lets a retry of
that transaction reuse the document instead of rendering it again. Evidence uploads
(`evidence/**/.upload-*`) and report outputs (`.<name>.<random>.part` beside them) have
temporary files of the same kind. The sweep removes such files once they are older than a grace
period (a render in progress, not yet committed, is younger) and reports what it removed.
Stored evidence is never removed: it is only ever read through its hash, which several rows
(evidence, duty reports) may name.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from duban.services.database import UnitOfWork, data_dir
from duban.services.notices.documents import DOCUMENTS_DIR, RENDERED_DIR
from models import DailyReportRun, Notice

# A render and its commit take seconds; an hour leaves room for a very slow issuance.
DEFAULT_GRACE = dt.timedelta(hours=1)
TEMP_PREFIXES = (".render-", ".upload-")
TEMP_SUFFIX = ".part"
SWEPT_DIRS = (DOCUMENTS_DIR, "evidence", "reports", "closing")


@dataclass
class FileSweep:
    """What a sweep found and removed (paths relative to the data directory)."""

    removed_temporary: list[str] = field(default_factory=list)
    removed_orphans: list[str] = field(default_factory=list)
    kept_young: int = 0  # candidates younger than the grace period, left for a later sweep
    freed_bytes: int = 0
    dry_run: bool = False

    @property
    def removed(self) -> int:
        """How many files were (or, in a dry run, would be) removed."""
        return len(self.removed_temporary) + len(self.removed_orphans)


def _temporary(path: Path) -> bool:
    # A render's record (documents/.rendered/<key>) matters only to a retry within the grace.
    return path.name.startswith(TEMP_PREFIXES) or path.parent.name == RENDERED_DIR or (
        path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX))


def referenced_files(uow: UnitOfWork) -> set[str]:
    """Every file path (relative to the data directory) a row names."""
    conn = uow.connection
    paths = set(conn.scalars(select(Notice.__table__.c.file_path)))
    paths |= {p for p in conn.scalars(select(Notice.__table__.c.list_path)) if p}
    paths |= {p for p in conn.scalars(select(DailyReportRun.__table__.c.file_path)) if p}
    return {str(Path(p)) for p in paths}


def sweep_files(uow: UnitOfWork, now: dt.datetime, *, grace: dt.timedelta = DEFAULT_GRACE,
                dry_run: bool = False, root: Path | None = None) -> FileSweep:
    """Remove temporary files and unreferenced documents older than `grace` at `now`.

    `now` is compared with the files' modification times, so it is the real time of the
    machine (the system clock, not a simulated one).
    """
    root = root or data_dir()
    result = FileSweep(dry_run=dry_run)
    known = referenced_files(uow)
    cutoff = (now - grace).timestamp()
    for folder in SWEPT_DIRS:
        base = root / folder
        if not base.is_dir():
            continue
        for dirpath, _dirs, names in os.walk(base):
            in_rendered = os.path.basename(dirpath) == RENDERED_DIR
            for name in names:
                # Names first: the store holds a county's ~100,000 photos, none of them a
                # candidate, and a Path per file cost ~1.5 s of CPU a sweep (twice a day).
                if not (in_rendered or name[:1] == "." or (
                        folder == DOCUMENTS_DIR and name.endswith(".docx"))):
                    continue
                path = Path(dirpath) / name
                relative = str(path.relative_to(root))
                if _temporary(path):
                    bucket = result.removed_temporary
                elif (folder == DOCUMENTS_DIR and path.suffix in (".docx", ".xlsx")
                      and relative not in known):
                    bucket = result.removed_orphans
                else:
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:  # renamed into place meanwhile
                    continue
                if stat.st_mtime > cutoff:
                    result.kept_young += 1
                    continue
                if not dry_run:
                    path.unlink(missing_ok=True)
                bucket.append(relative)
                result.freed_bytes += stat.st_size
    result.removed_temporary.sort()
    result.removed_orphans.sort()
    return result
