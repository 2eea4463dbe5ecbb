"""The orchestration commands: tick, outbox list/retry, notice issue/list/sign/download."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from duban.cli import cli
from duban.domain.clock import FixedClock
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.database import Database
from models import OutboxMessage
from tests.orchestration.helpers import add_problems, at, launch, make_plan, use_database


def _run(db: Database, *args: str, stdout_only: bool = False) -> str:
    # The commands work on the test's database (obj), in its transaction when it has one.
    result = CliRunner().invoke(cli, list(args), obj=db, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # --json output is stdout alone: log lines (duban's and Prefect's) go to stderr.
    return result.stdout if stdout_only else result.output


def test_tick_and_outbox_commands(committed_db: Database, clock: FixedClock, prefect_api: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = committed_db  # Prefect runs the tick's tasks on threads of its own
    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan(email="jhb@example.org"))
    add_problems(db, clock, cid, 2, deadline=dt.date(2022, 9, 30))
    monkeypatch.setenv("DUBAN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DUBAN_SMTP_PORT", "1")  # nothing listens: e-mail fails
    out = _run(db, "--now", "2022-09-27T10:00", "tick", "--json", stdout_only=True)
    summary = json.loads(out)
    assert summary["campaigns"][str(cid)]["sweep"]["fired"] == 2
    assert summary["delivery"]["retrying"] >= 1
    with db.transaction() as s:  # give up on the e-mail at once
        s.execute(update(OutboxMessage).where(OutboxMessage.channel == "email")
                  .values(max_attempts=1, status="failed"))
    failed = _run(db, "outbox", "list", "--failed")
    assert "jhb@example.org" in failed and "失败" in failed
    retried = _run(db, "--now", "2022-09-27T10:05", "outbox", "retry")
    assert "已放回队列：" in retried


def test_notice_commands(db: Database, clock: FixedClock, tmp_path: Path) -> None:
    cid = launch(db, clock)
    add_problems(db, clock, cid, 2)
    db.run(add_user, clock, username="jhb1", name="甲", role=Role.OFFICE, office="jhb")
    out = _run(db, "--now", "2022-09-26T10:00", "notice", "issue", str(cid), "--batch", "b1")
    assert "测巩督〔2022〕1号" in out
    assert "已签收：测巩督〔2022〕1号（甲（建环办））" in _run(db, "notice", "sign", "1", "--as", "jhb1")
    listing = _run(db, "notice", "list", str(cid))
    assert "甲（建环办）" in listing and "jhb" not in listing  # names, never codes
    target = tmp_path / "n.docx"
    _run(db, "notice", "download", "1", str(target))
    from duban.services.notices.reading import list_notices

    (row,) = db.run(list_notices, cid)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == row.sha256


def test_notice_download_writes_a_long_notice_s_spreadsheet_beside_it(
        db: Database, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_NOTICE_INLINE_LIMIT", "2")
    cid = launch(db, clock)
    add_problems(db, clock, cid, 3)
    out = _run(db, "--now", "2022-09-26T10:00", "notice", "issue", str(cid), "--batch", "b1")
    assert "documents/" in out and ".xlsx" in out
    shown = _run(db, "notice", "download", "1", str(tmp_path))
    from duban.services.notices.reading import list_notices

    (row,) = db.run(list_notices, cid)
    sheet = tmp_path / "测巩督〔2022〕1号-建环办-督办问题清单.xlsx"
    assert f"已导出问题清单：{sheet}" in shown
    assert hashlib.sha256(sheet.read_bytes()).hexdigest() == row.list_sha256
    assert hashlib.sha256((tmp_path / "测巩督〔2022〕1号-建环办.docx").read_bytes()
                          ).hexdigest() == row.sha256
