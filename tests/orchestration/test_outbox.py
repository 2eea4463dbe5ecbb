"""Outbox delivery: SMTP to a real local server, robot webhooks, back-off, visible failures."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from duban.adapters.messaging import SmtpSettings, send_email, send_webhook, webhook_payload
from duban.domain.clock import FixedClock
from duban.services.database import Database
from duban.services.outbox import Senders, backoff, list_outbox, retry_failed
from duban.services.reminders import sweep
from models import OutboxMessage
from tasks.delivery import deliver
from tests.orchestration.helpers import add_problems, at, launch, make_plan


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpSettings, _Mailbox]]:
    """A real SMTP server (aiosmtpd) on a free local port."""
    from aiosmtpd.controller import Controller

    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSettings(host="127.0.0.1", port=port, sender="duban@example.org"), box
    controller.stop()


class _Robot(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    fail_next = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        if cls.fail_next > 0:
            cls.fail_next -= 1
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        cls.received.append(json.loads(body))
        answer = json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def robot() -> Iterator[tuple[str, type[_Robot]]]:
    """A local HTTP server answering like a DingTalk robot."""
    _Robot.received = []
    _Robot.fail_next = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Robot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/robot/send?access_token=t", _Robot
    server.shutdown()


def _subject(msg: Any) -> str:
    return str(make_header(decode_header(msg["Subject"])))


def test_smtp_delivery_to_a_local_server(db: Database, clock: FixedClock,
                                          smtp_server: tuple[SmtpSettings, _Mailbox]) -> None:
    settings, box = smtp_server
    clock.set(at(2022, 9, 20, 10))
    cid = launch(db, clock, make_plan(email="jhb@example.org"))
    add_problems(db, clock, cid, 2, deadline=dt.date(2022, 9, 23))
    db.run(sweep, clock, cid)
    senders = Senders(email=lambda to, s, b: send_email(settings, to, s, b),
                      webhook=lambda *a: None)
    result = deliver(db, clock, senders=senders)
    assert result.sent == 2 and result.failed == 0  # inbox + e-mail
    (mail,) = box.messages
    assert mail["To"] == "jhb@example.org"
    assert "建环办" in _subject(mail)
    text = mail.get_payload(decode=True).decode("utf-8")
    assert "W000001" in text and "W000002" in text


def test_webhook_delivery_with_retry_and_backoff(db: Database, clock: FixedClock,
                                                 robot: tuple[str, type[_Robot]]) -> None:
    url, handler = robot
    clock.set(at(2022, 9, 20, 10))
    cid = launch(db, clock, make_plan(webhook=url))
    add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 23))
    db.run(sweep, clock, cid)
    handler.fail_next = 1
    senders = Senders(email=lambda *a: None, webhook=lambda u, s, b: send_webhook(u, s, b))
    first = deliver(db, clock, senders=senders)
    assert (first.sent, first.retrying) == (1, 1)  # inbox went, the robot said 500
    (line,) = [x for x in db.run(list_outbox) if x.channel == "webhook"]
    assert line.status == "pending" and "HTTP 500" in (line.last_error or "")
    assert line.next_attempt_at == clock.now() + backoff(1)
    assert deliver(db, clock, senders=senders).claimed == 0  # not before the back-off
    clock.advance(backoff(1))
    assert deliver(db, clock, senders=senders).sent == 1
    (payload,) = handler.received
    assert payload["msgtype"] == "markdown" and "建环办" in payload["markdown"]["title"]


def test_failures_are_kept_visible_and_retried(db: Database, clock: FixedClock) -> None:
    clock.set(at(2022, 9, 20, 10))
    cid = launch(db, clock, make_plan(email="jhb@example.org"))
    add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 23))
    db.run(sweep, clock, cid)

    def refuse(to: str, subject: str, body: str) -> None:
        from duban.adapters.messaging import DeliveryError

        raise DeliveryError("邮件服务器拒绝连接")

    senders = Senders(email=refuse, webhook=lambda *a: None)
    waits = []
    for _ in range(8):
        deliver(db, clock, senders=senders)
        with db.transaction() as s:
            row = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).one()
        if row.status == "failed":
            break
        waits.append(row.next_attempt_at - clock.now())
        clock.set(row.next_attempt_at)
    assert row.status == "failed" and row.attempts == 8
    assert "拒绝连接" in (row.last_error or "")
    assert waits[:3] == [backoff(1), backoff(2), backoff(3)]
    assert waits[1] == 2 * waits[0]
    assert [x.id for x in db.run(list_outbox, status="failed")] == [row.id]
    assert db.run(retry_failed, clock) == 1
    ok = Senders(email=lambda *a: None, webhook=lambda *a: None)
    assert deliver(db, clock, senders=ok).sent == 1
    assert db.run(list_outbox, status="failed") == []


def test_two_workers_never_send_the_same_row(committed_db: Database, clock: FixedClock) -> None:
    db = committed_db  # two worker threads claim rows, each in its own transaction
    clock.set(at(2022, 9, 20, 10))
    cid = launch(db, clock, make_plan(email="jhb@example.org"))
    add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 23))
    for day in range(20, 30):  # many digests: move the deadline horizon day by day
        add_problems(db, clock, cid, 1, deadline=dt.date(2022, 10, day), tag=f"{day}")
    moment = at(2022, 9, 20, 10)
    for _ in range(30):
        clock.set(moment)
        db.run(sweep, clock, cid)
        moment += dt.timedelta(days=1)
    with db.transaction() as s:
        for row in s.scalars(select(OutboxMessage)):
            row.next_attempt_at = clock.now()
    sent: list[str] = []
    lock = threading.Lock()

    def record(to: str, subject: str, body: str) -> None:
        with lock:
            sent.append(subject)

    senders = Senders(email=record, webhook=record)
    threads = [threading.Thread(target=deliver, args=(db, clock),
                                kwargs={"senders": senders, "worker": f"w{i}", "limit": 3})
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.transaction() as s:
        emails = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
    assert len(emails) > 5
    assert all(e.status == "sent" and e.attempts == 1 for e in emails)
    assert len(sent) == len(emails)


def test_wecom_and_dingtalk_payloads() -> None:
    ding = webhook_payload("https://oapi.dingtalk.com/robot/send?access_token=x", "标题", "正文")
    wecom = webhook_payload("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x", "标题", "正文")
    assert ding["markdown"]["title"] == "标题" and "正文" in ding["markdown"]["text"]
    assert "content" in wecom["markdown"] and "标题" in wecom["markdown"]["content"]


def test_mail_is_off_without_smtp_settings(db: Database, clock: FixedClock,
                                           monkeypatch: pytest.MonkeyPatch,
                                           smtp_server: tuple[SmtpSettings, _Mailbox]) -> None:
    """No DUBAN_SMTP_HOST: e-mail rows are marked not sent at once, never tried or retried."""
    from click.testing import CliRunner

    from duban.cli import cli

    settings, box = smtp_server
    monkeypatch.delenv("DUBAN_SMTP_HOST", raising=False)
    # A server listening on the port a default would have used must not be reached.
    monkeypatch.setenv("DUBAN_SMTP_PORT", str(settings.port))
    assert SmtpSettings.from_env() is None
    assert SmtpSettings.from_env({"DUBAN_SMTP_HOST": "  "}) is None
    clock.set(at(2022, 9, 20, 10))
    cid = launch(db, clock, make_plan(email="jhb@example.org"))
    add_problems(db, clock, cid, 2, deadline=dt.date(2022, 9, 23))
    db.run(sweep, clock, cid)
    result = deliver(db, clock)  # the default senders, from the environment
    assert (result.sent, result.off, result.retrying, result.failed) == (1, 1, 0, 0)
    (mail,) = [x for x in db.run(list_outbox) if x.channel == "email"]
    assert mail.status == "off" and mail.attempts == 0 and "DUBAN_SMTP_HOST" in (mail.last_error or "")
    assert box.messages == []
    clock.advance(dt.timedelta(days=2))
    later = deliver(db, clock)
    assert (later.claimed, later.off) == (0, 0)  # nothing retried
    listed = CliRunner().invoke(cli, ["outbox", "list"], obj=db, catch_exceptions=False)
    assert "未发送（邮件渠道未开启）" in listed.output, listed.output
    # Once SMTP is configured, `outbox retry` sends what the channel held back.
    monkeypatch.setenv("DUBAN_SMTP_HOST", settings.host)
    assert db.run(retry_failed, clock) == 1
    assert deliver(db, clock).sent == 1 and len(box.messages) == 1
