"""The file sweep (`duban doctor`): what a crash left in the data directory, nothing else."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from duban.cli import cli
from duban.domain.clock import FixedClock
from duban.services.database import Database
from duban.services.files import sweep_files
from duban.services.notices.issuing import issue_notices
from models import Notice
from tests.orchestration.helpers import add_problems, at, launch

NOW = dt.datetime(2026, 12, 3, 12, tzinfo=dt.UTC)  # the machine's time; files are dated by it


def _file(path: Path, content: bytes, age: dt.timedelta) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_the_sweep_removes_old_leftovers_and_keeps_what_rows_name(
        db: Database, clock: FixedClock, data_dir: Path) -> None:
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 2)
    db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    with db.transaction() as s:
        kept = [data_dir / p for p in s.scalars(select(Notice.file_path))]
    assert kept
    for path in kept:
        os.utime(path, (NOW.timestamp() - 86400 * 30,) * 2)  # old, but named by a notice
    old = dt.timedelta(hours=3)
    # Each render's record (for a retry of a failed batch) goes once the grace is over.
    records = sorted((data_dir / "documents" / ".rendered").iterdir())
    assert len(records) == len(kept)
    for path in records:
        os.utime(path, (NOW.timestamp() - 86400,) * 2)
    render_tmp = _file(data_dir / "documents" / ".render-abc123.docx", b"", old)
    orphan = _file(data_dir / "documents" / f"{'ab' * 32}.docx", b"PK orphan", old)
    upload_tmp = _file(data_dir / "evidence" / "ab" / ".upload-x1", b"half", old)
    part = _file(data_dir / "reports" / "1" / ".日报.docx.k2j.part", b"", old)
    young = _file(data_dir / "documents" / ".render-new.docx", b"", dt.timedelta(minutes=5))
    blob = _file(data_dir / "evidence" / "cd" / ("cd" * 32), b"jpeg", old)  # never swept

    dry = db.run(sweep_files, NOW, dry_run=True)
    assert dry.removed == 4 + len(records) and render_tmp.exists() and orphan.exists()
    result = db.run(sweep_files, NOW)
    assert result.removed_temporary == sorted([
        "documents/.render-abc123.docx", "evidence/ab/.upload-x1",
        "reports/1/.日报.docx.k2j.part",
        *(str(p.relative_to(data_dir)) for p in records)])
    assert result.removed_orphans == [f"documents/{'ab' * 32}.docx"]
    assert result.kept_young == 1 and result.freed_bytes == (
        len(b"PK orphan") + len(b"half") + 64 * len(records))
    assert not any(p.exists() for p in (render_tmp, orphan, upload_tmp, part, *records))
    assert young.exists() and blob.exists() and all(p.exists() for p in kept)
    assert db.run(sweep_files, NOW).removed == 0  # nothing left to do


def test_doctor_reports_in_chinese(db: Database, data_dir: Path) -> None:
    _file(data_dir / "documents" / ".render-zzz.docx", b"", dt.timedelta(days=2))
    result = CliRunner().invoke(cli, ["--now", NOW.isoformat(), "doctor"], obj=db)
    assert result.exit_code == 0, result.output
    assert "已删除临时文件 1 个，无记录引用的通知书文件 0 个" in result.output
    assert "documents/.render-zzz.docx" in result.output
    assert not (data_dir / "documents" / ".render-zzz.docx").exists()
