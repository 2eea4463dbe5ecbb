"""Delivering the outbox after the commit: claim atomically, send, record, back off, retry.

A row is claimed by one UPDATE (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serialises
writers), so two workers never send the same row. A failure puts the row back to `pending`
with an exponential back-off and `last_error`; after `max_attempts` it becomes `failed`,
stays visible (`duban outbox list --failed`) and goes out again on `duban outbox retry`.
A worker that dies while sending leaves its claim to expire; the row is then sent again
(at least once: e-mail and robots cannot take part in our transaction).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from duban.adapters.messaging import (
    Attachment,
    DeliveryError,
    SmtpSettings,
    send_email,
    send_webhook,
)
from duban.domain.clock import Clock
from duban.domain.plan import Plan
from duban.domain.reminders import next_send_time
from duban.services.calendars import working_calendar
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork, data_dir
from duban.services.events import state_changed
from duban.services.messages import (
    CHANNEL_EMAIL,
    CHANNEL_INBOX,
    CHANNEL_WEBHOOK,
    STATUS_FAILED,
    STATUS_OFF,
    STATUS_PENDING,
    STATUS_SENDING,
    STATUS_SENT,
)
from models import OutboxMessage

CLAIM_SECONDS = 300  # a claim older than this belongs to a dead worker
BACKOFF_BASE_SECONDS = 60
BACKOFF_CAP_SECONDS = 6 * 3600


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after `attempts` failed tries: 1, 2, 4 ... minutes, capped."""
    seconds = BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return dt.timedelta(seconds=min(seconds, BACKOFF_CAP_SECONDS))


Sender = Callable[..., None]  # (recipient, subject, body[, attachments=Attachments])


MAIL_OFF = "邮件渠道未开启（未设置 DUBAN_SMTP_HOST），未发送"


@dataclass
class Senders:
    """How each channel sends; tests swap in local servers through the same adapters.

    `email` is None when the mail channel is off: e-mail rows are then marked not sent. An
    e-mail sender is called with `attachments=` (paths, or (path, name) pairs) only when a
    message has files.
    """

    email: Sender | None
    webhook: Sender

    @classmethod
    def default(cls) -> Senders:
        """SMTP from $DUBAN_SMTP_* (off without DUBAN_SMTP_HOST), webhooks with httpx."""
        settings = SmtpSettings.from_env()
        email: Sender | None = None
        if settings is not None:
            smtp = settings
            email = lambda to, subject, body, attachments=(): send_email(  # noqa: E731
                smtp, to, subject, body, attachments=attachments)
        return cls(email=email,
                   webhook=lambda url, subject, body: send_webhook(url, subject, body))


@dataclass
class DeliveryResult:
    """What one delivery pass did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    off: int = 0  # e-mail rows marked not sent because the mail channel is off
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Claimed:
    """One outbox row claimed for sending."""

    id: int
    campaign_id: int | None
    channel: str
    recipient: str
    subject: str
    body: str
    attempts: int
    max_attempts: int
    payload: dict[str, Any]

    @property
    def attachments(self) -> list[Attachment]:
        """Files to attach, stored relative to the data directory: a path, or [path, the name
        the recipient sees] (a stored document, named by its checksum)."""
        return [(data_dir() / str(p[0]), str(p[1])) if isinstance(p, list | tuple)
                else data_dir() / str(p) for p in (self.payload or {}).get("attachments", [])]


def _claim(session: Session, now: dt.datetime, worker: str, limit: int) -> list[Claimed]:
    due = or_(
        and_(OutboxMessage.status == STATUS_PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == STATUS_SENDING, OutboxMessage.claimed_until < now),
    )
    pick = (select(OutboxMessage.id).where(due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    rows = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(pick.scalar_subquery()), due)
        .values(status=STATUS_SENDING, claimed_by=worker,
                claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS),
                attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id, OutboxMessage.campaign_id, OutboxMessage.channel,
                   OutboxMessage.recipient, OutboxMessage.subject, OutboxMessage.body,
                   OutboxMessage.attempts, OutboxMessage.max_attempts,
                   OutboxMessage.payload)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted((Claimed(**r._asdict()) for r in rows), key=lambda c: c.id)


def claim(uow: UnitOfWork, clock: Clock, worker: str, limit: int) -> list[Claimed]:
    """Claim up to `limit` rows whose time has come for this worker (commit before sending)."""
    return _claim(uow.session, clock.now(), worker, limit)


def mark_mail_off(uow: UnitOfWork, clock: Clock) -> int:
    """With no SMTP settings the mail channel is off: mark its waiting rows not sent."""
    return _mark_mail_off(uow.session, clock.now())


def send_batch(senders: Senders, batch: Sequence[Claimed]) -> list[tuple[Claimed, str | None]]:
    """Send each claimed row (outside any transaction); returns each row with its error."""
    outcomes: list[tuple[Claimed, str | None]] = []
    for row in batch:
        try:
            _send_one(senders, row)
            outcomes.append((row, None))
        except DeliveryError as exc:
            outcomes.append((row, exc.message))
        except Exception as exc:  # a bug in a sender must not lose the message
            outcomes.append((row, f"{type(exc).__name__}: {exc}"))
    return outcomes


def record_outcomes(uow: UnitOfWork, clock: Clock, outcomes: Sequence[tuple[Claimed, str | None]],
                    worker: str, result: DeliveryResult, plans: dict[int, Plan]) -> None:
    """Mark each sent row sent, and each failed one for a retry (working hours) or failed."""
    for row, error in outcomes:
        _record(uow.session, clock, row, error, worker, result, plans)


def default_worker() -> str:
    """Who claims rows when the caller names no worker: this process."""
    return f"pid-{os.getpid()}"


def _mark_mail_off(session: Session, now: dt.datetime) -> int:
    """Mark the e-mail rows waiting to go out as not sent (channel off); returns how many."""
    waiting = or_(OutboxMessage.status == STATUS_PENDING,
                  and_(OutboxMessage.status == STATUS_SENDING, OutboxMessage.claimed_until < now))
    done = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.channel == CHANNEL_EMAIL, waiting)
        .values(status=STATUS_OFF, last_error=MAIL_OFF, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def _send_one(senders: Senders, row: Claimed) -> None:
    if row.channel == CHANNEL_INBOX:
        return  # the inbox row was written with its cause; it shows from its visible time
    if row.channel == CHANNEL_EMAIL:
        if senders.email is None:  # claimed by a worker that had mail on: not this one's to try
            raise DeliveryError(MAIL_OFF)
        files = row.attachments
        if files:
            senders.email(row.recipient, row.subject, row.body, attachments=files)
        else:
            senders.email(row.recipient, row.subject, row.body)
    elif row.channel == CHANNEL_WEBHOOK:
        senders.webhook(row.recipient, row.subject, row.body)
    else:
        raise DeliveryError(f"未知的发送渠道：{row.channel}")


def _record(session: Session, clock: Clock, row: Claimed, error: str | None, worker: str,
            result: DeliveryResult, plans: dict[int, Plan]) -> None:
    now = clock.now()
    mine = and_(OutboxMessage.id == row.id, OutboxMessage.claimed_by == worker,
                OutboxMessage.status == STATUS_SENDING)
    about = {"campaign_id": row.campaign_id, "message_id": row.id, "channel": row.channel,
             "problem_ids": list((row.payload or {}).get("problems", []))}
    if error is None:
        session.execute(update(OutboxMessage).where(mine).values(
            status=STATUS_SENT, sent_at=now, claimed_until=None, last_error=None))
        result.sent += 1
        state_changed(session, "message_sent", **about)
        return
    result.errors.append(f"#{row.id} {row.channel} {row.recipient}: {error}")
    if row.attempts >= row.max_attempts:
        session.execute(update(OutboxMessage).where(mine).values(
            status=STATUS_FAILED, last_error=error[:2000], claimed_until=None))
        result.failed += 1
        state_changed(session, "message_failed", **about, error=error[:200])
        return
    retry_at = now + backoff(row.attempts)
    if row.campaign_id is not None:
        # Retries also wait for working hours.
        plan = plans.get(row.campaign_id)
        if plan is None:
            plan = plans[row.campaign_id] = load_plan_of(session, row.campaign_id)
        retry_at = next_send_time(retry_at, plan.reminders, working_calendar())
    session.execute(update(OutboxMessage).where(mine).values(
        status=STATUS_PENDING, last_error=error[:2000], next_attempt_at=retry_at,
        claimed_until=None))
    result.retrying += 1
    state_changed(session, "message_retrying", **about, error=error[:200],
                  next_attempt_at=retry_at.isoformat())


@dataclass(frozen=True)
class OutboxLine:
    """One outbox row as the CLI and web list it."""

    id: int
    campaign_id: int | None
    channel: str
    recipient: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


def list_outbox(uow: UnitOfWork, *, status: str | None = None, campaign_id: int | None = None,
                limit: int = 100) -> list[OutboxLine]:
    """Outbox rows, newest first, optionally of one status."""
    session = uow.session
    stmt = select(OutboxMessage)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if campaign_id is not None:
        stmt = stmt.where(OutboxMessage.campaign_id == campaign_id)
    rows = session.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(limit)).all()
    return [OutboxLine(r.id, r.campaign_id, r.channel, r.recipient, r.subject, r.status,
                       r.attempts, r.next_attempt_at, r.last_error, r.created_at, r.sent_at)
            for r in rows]


def outbox_counts(uow: UnitOfWork) -> dict[str, int]:
    """How many rows are in each status."""
    session = uow.session
    return {status: int(n) for status, n in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}


def retry_failed(uow: UnitOfWork, clock: Clock, ids: Sequence[int] | None = None) -> int:
    """Put failed rows (and mail not sent while the channel was off) back in the queue now.

    Each gets a fresh attempt budget; returns how many.
    """
    session = uow.session
    stmt: Any = update(OutboxMessage).where(
        OutboxMessage.status.in_((STATUS_FAILED, STATUS_OFF)))
    if ids:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
    done = session.execute(stmt.values(
        status=STATUS_PENDING, next_attempt_at=clock.now(),
        max_attempts=OutboxMessage.attempts + OutboxMessage.max_attempts,
    ).execution_options(synchronize_session=False))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
