"""Fault injection: the mail server is down for a simulated hour, then back.

Ticks run every few simulated minutes while nothing listens on the SMTP port: each e-mail is
tried on the outbox's back-off (1, 2, 4 … minutes), stays pending (not failed) and nothing
else is held up. Then a real SMTP server (aiosmtpd, as the outbox tests use) comes up on that
port: the next tick delivers every e-mail, and later ticks deliver none again. Each message
arrives exactly once.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections import Counter
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from duban.domain.clock import FixedClock
from duban.services.database import Database
from models import OutboxMessage
from tests.orchestration.faults import Table, Trial, duplicates, snapshot
from tests.orchestration.helpers import add_problems, at, launch, make_plan, use_database
from tests.orchestration.helpers import committed as committed  # this module's db: committed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

NOW = at(2022, 9, 30, 10)
# Minutes after NOW: ticks while the server is down (an hour), then once it is back.
DOWN = (0, 2, 4, 8, 16, 32, 48, 60)
UP = (64, 70, 120)


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mail(db: Database) -> list[OutboxMessage]:
    with db.transaction() as s:
        rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")))
        s.expunge_all()
        return rows


def test_smtp_down_for_an_hour_then_back_delivers_each_message_once(
        db: Database, clock: FixedClock, prefect_api: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.controller import Controller

    from flows.tick import run_tick

    use_database(db, monkeypatch)
    port = _free_port()  # nothing listens here until the server "comes back"
    monkeypatch.setenv("DUBAN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DUBAN_SMTP_PORT", str(port))
    monkeypatch.setenv("DUBAN_SMTP_FROM", "duban@example.org")
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan(email="jhb@example.org"))
    # Housing problems: their office (建环办) is the one with an e-mail address.
    add_problems(db, clock, cid, 6, deadline=dt.date(2022, 9, 26))
    started = time.monotonic()
    notes: list[str] = []
    for minutes in DOWN:
        run_tick((NOW + dt.timedelta(minutes=minutes)).isoformat())
    down = _mail(db)
    if not down:
        notes.append("no e-mail was due: the test proves nothing")
    if any(m.status != "pending" or m.attempts < 5 for m in down):
        notes.append("while down: " + str(Counter((m.status, m.attempts) for m in down)))

    box = _Mailbox()
    server = Controller(box, hostname="127.0.0.1", port=port)
    server.start()
    try:
        for minutes in UP:
            run_tick((NOW + dt.timedelta(minutes=minutes)).isoformat())
    finally:
        server.stop()
    up = _mail(db)
    if any(m.status != "sent" for m in up):
        notes.append("after: " + str(Counter(m.status for m in up)))
    received = Counter((str(m["To"]), str(make_header(decode_header(m["Subject"]))))
                       for m in box.messages)
    expected = Counter((m.recipient, m.subject) for m in up)
    if received != expected:
        notes.append(f"received {sum(received.values())} for {len(up)} e-mails: "
                     f"{received - expected} extra, {expected - received} missing")
    notes += duplicates(snapshot(db))
    Table(tmp_path / "faults-smtp.json").add(Trial(
        "SMTP down 1 h", db.engine.dialect.name,
        f"{len(up)} e-mails, {len(DOWN)} ticks down, {len(UP)} up",
        survived=not notes, seconds=round(time.monotonic() - started, 1), notes=notes))
    assert notes == []
