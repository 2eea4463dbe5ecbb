"""Logs an operator can use: one structured line per committed state change, JSON on demand,
timestamps in the internal-error log."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from duban.adapters.logs import JsonFormatter, TextFormatter
from duban.domain.clock import FixedClock
from duban.domain.lifecycle import Action, Payload, Role
from duban.services import moves
from duban.services.actors import add_user
from duban.services.database import Database
from duban.services.notices.issuing import issue_notices
from models import Problem
from tests.orchestration.helpers import add_problems, at, launch

pytestmark = pytest.mark.usefixtures("data_dir")


def _events(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [dict(r.fields) for r in caplog.records  # type: ignore[attr-defined]
            if r.name == "duban.events"]


def test_each_committed_state_change_logs_one_line_with_its_ids(
        db: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture) -> None:
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock)
    (pid,) = add_problems(db, clock, cid, 1)
    db.run(add_user, clock, username="jhb1", name="甲", role=Role.OFFICE, office="jhb")
    caplog.set_level(logging.INFO, logger="duban.events")
    db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    db.run(moves.apply, clock, "jhb1", pid, Action.ACCEPT, Payload())
    # A move whose unit rolls back is not logged.
    with db.unit_of_work() as uow:
        moves.apply(uow, clock, "jhb1", pid, Action.DISPUTE, Payload(note="不归我办"))
    with db.transaction() as s:
        assert s.scalar(select(Problem.status).where(Problem.id == pid)) == "rectifying"
    events = _events(caplog)
    assert [e["event"] for e in events] == ["notice_issued", "problem_moved"]
    notice, moved = events
    assert notice["campaign_id"] == cid and notice["problem_ids"] == [pid]
    assert moved["campaign_id"] == cid and moved["problem_id"] == pid
    assert (moved["from_status"], moved["to_status"]) == ("routed", "rectifying")


def test_json_and_text_lines_carry_the_fields() -> None:
    record = logging.LogRecord("duban.events", logging.INFO, __file__, 1, "problem_moved", None,
                               None)
    record.fields = {"event": "problem_moved", "campaign_id": 3, "problem_id": 7, "who": "张三"}
    line = json.loads(JsonFormatter().format(record))
    assert line["campaign_id"] == 3 and line["problem_id"] == 7 and line["who"] == "张三"
    assert line["level"] == "INFO" and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", line["time"])
    text = TextFormatter().format(record)
    assert "campaign_id=3 problem_id=7" in text and '"张三"' in text


def test_an_internal_error_is_logged_with_its_time(data_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from duban import cli as cli_module

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("磁盘坏了")

    monkeypatch.setattr(cli_module.cli, "main", broken)
    monkeypatch.setattr("sys.argv", ["duban", "tick"])
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    assert exit_info.value.code == cli_module.EXIT_INTERNAL
    log = (data_dir / "duban-error.log").read_text("utf-8")
    assert re.match(r"--- \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d duban tick\n", log)
    assert "RuntimeError: 磁盘坏了" in log
