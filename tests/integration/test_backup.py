"""`duban backup` / `duban restore`: a running campaign's database and files, restored whole.

The backup is taken while another thread keeps recording problems (an online backup), then
restored into another database and data directory: every row the backup holds is a row of the
source, the tables the writer does not touch are equal row for row, every file is equal, and
a damaged, partial or mismatched backup is refused with nothing changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from duban.adapters.tick_desk import TICK_DESK
from duban.cli import cli
from duban.domain.clock import FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, Payload, Role
from duban.services import moves
from duban.services.actors import add_user
from duban.services.backup import MANIFEST, BackupError, backup, restore, verify
from duban.services.database import Database
from duban.services.notices.issuing import issue_notices
from duban.services.problems import record_problems
from models import Evidence, Notice, Problem
from tests.conftest import scratch_pg_database
from tests.orchestration.helpers import add_problems, at, launch
from tests.support import photo

pytestmark = pytest.mark.usefixtures("data_dir")

WRITER_ADDS = {"problem", "audit_event", "problem_co_office", "household"}
WRITER_UPDATES = {"campaign"}  # its problem counter and version


def _rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            if name == "alembic_version":
                continue
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
            out[name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


@contextlib.contextmanager
def _target(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'duban.sqlite3'}"
        return
    with scratch_pg_database("duban_restore") as url:
        yield url


def _campaign(db: Database, clock: FixedClock) -> int:
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock)
    pids = add_problems(db, clock, cid, 60)
    db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    db.run(add_user, clock, username="jhb1", name="甲", role=Role.OFFICE, office="jhb")
    with db.transaction() as s:
        pid = next(p for p in pids if s.get(Problem, p).lead_office == "jhb")  # type: ignore[union-attr]
    db.run(moves.apply, clock, "jhb1", pid, Action.ACCEPT, Payload())
    db.run(moves.apply, clock, "jhb1", pid, Action.SUBMIT, Payload(note="已整改"),
           files=[photo()])
    return cid


def test_a_backup_taken_while_writing_restores_every_row_and_file(
        committed_db: Database, clock: FixedClock, data_dir: Path, tmp_path: Path) -> None:
    db = committed_db
    cid = _campaign(db, clock)
    stop = threading.Event()
    written = [0]

    def write() -> None:  # duban keeps working while the backup runs
        writer_clock = FixedClock(at(2022, 9, 21, 9))
        while not stop.is_set():
            k = written[0]
            db.run(record_problems, writer_clock, cid, [ReportedProblem(
                source="visit", category="housing", town="t1", village="v1",
                household_id=f"W{k:05d}", description=f"备份期间登记的问题{k}",
                found_by="cadre", found_on=dt.date(2022, 9, 21))], recorded_by="cadre")
            written[0] += 1

    (data_dir / TICK_DESK).write_text('{"port": 1, "token": "secret"}', "utf-8")  # serve's desk
    writer = threading.Thread(target=write)
    writer.start()
    try:
        result = backup(db.engine.url.render_as_string(hide_password=False), data_dir,
                        tmp_path / "backup", clock.now(), "test")
    finally:
        stop.set()
        writer.join()
    source = _rows(db)
    manifest = json.loads((tmp_path / "backup" / MANIFEST).read_text("utf-8"))
    assert all(TICK_DESK not in e["path"] for e in manifest["files"])  # a live token stays out
    assert written[0] > 0 and result.files >= 2  # the notice and the evidence photo
    backend = db.engine.dialect.name
    with _target(backend, tmp_path) as url:
        restored_dir = tmp_path / "restored-data"
        restore(tmp_path / "backup", url, restored_dir)
        target = Database(url)
        try:
            restored = _rows(target)
            with target.transaction() as s:
                files = [(p, h) for p, h in s.execute(select(Notice.file_path, Notice.sha256))]
                blobs = list(s.scalars(select(Evidence.sha256)))
                problems = s.scalar(select(text("count(*)")).select_from(Problem))
        finally:
            target.dispose()
    assert set(restored) == set(source)
    for name, rows in restored.items():
        if name in WRITER_ADDS:
            assert set(rows) <= set(source[name]), name  # a consistent moment of the source
        elif name in WRITER_UPDATES:
            assert [r[0] for r in rows] == [r[0] for r in source[name]], name
        else:
            assert rows == source[name], name
    assert problems == result.tables["problem"] >= 60
    assert files and blobs
    for path, digest in files:
        assert hashlib.sha256((restored_dir / path).read_bytes()).hexdigest() == digest
        assert (restored_dir / path).read_bytes() == (data_dir / path).read_bytes()
    for digest in blobs:
        blob = restored_dir / "evidence" / digest[:2] / digest
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == digest


def test_a_damaged_partial_or_mismatched_backup_is_refused(
        committed_db: Database, clock: FixedClock, data_dir: Path, tmp_path: Path) -> None:
    db = committed_db
    _campaign(db, clock)
    url = db.engine.url.render_as_string(hide_password=False)
    folder = tmp_path / "backup"
    backup(url, data_dir, folder, clock.now(), "test")
    manifest = json.loads((folder / MANIFEST).read_text("utf-8"))
    document = folder / next(e["path"] for e in manifest["files"]
                             if e["path"].startswith("files/documents/"))
    # Into a database that already holds a campaign (its own source): refused without --force.
    with pytest.raises(BackupError, match="目标数据库中已有行动数据"):
        restore(folder, url, tmp_path / "elsewhere")
    # The other kind of database: refused.
    other = ("sqlite:///" + str(tmp_path / "x.sqlite3") if db.engine.dialect.name != "sqlite"
             else "postgresql+psycopg://postgres@127.0.0.1:5432/nowhere")
    with pytest.raises(BackupError, match="无法恢复"):
        restore(folder, other, tmp_path / "elsewhere")
    # A damaged file, then a missing one: refused before anything is written.
    original = document.read_bytes()
    document.write_bytes(original[:-10] + b"0123456789")
    with pytest.raises(BackupError, match="1 个文件校验值不符"):
        verify(folder)
    document.unlink()
    target = tmp_path / "t" / "duban.sqlite3"
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{target}", "restore", str(folder)])
    assert isinstance(result.exception, BackupError)  # main() prints it in Chinese, exit 1
    assert "备份不完整或已损坏：缺少 1 个文件" in str(result.exception)
    assert not target.exists() and not (tmp_path / "t").exists()
    # A manifest cut short.
    document.write_bytes(original)
    verify(folder)
    (folder / MANIFEST).write_text(json.dumps(manifest)[:-20], "utf-8")
    with pytest.raises(BackupError, match="清单不完整或被改动过"):
        verify(folder)
