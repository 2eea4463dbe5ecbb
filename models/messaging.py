"""Messages and runs the orchestration writes: outbox, inbox, fired rungs, stage runs, lease."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class OutboxMessage(Base):
    """One message to deliver, written in the same transaction as its cause; never deleted."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The delivery worker's claim query: pending rows whose time has come, oldest first.
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(20))  # inbox / email / webhook
    recipient: Mapped[str] = mapped_column(String(500))  # office code, e-mail address or URL
    office_code: Mapped[str | None] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]


class InboxMessage(Base):
    """A message in an office's (or one user's) in-app inbox."""

    __tablename__ = "inbox_message"
    __table_args__ = (Index("ix_inbox_message_office_code_read_at", "office_code", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    office_code: Mapped[str] = mapped_column(String(80))
    username: Mapped[str | None] = mapped_column(String(50))  # None: everyone in the office
    audience: Mapped[str] = mapped_column(String(20), default="office")
    kind: Mapped[str] = mapped_column(String(30))  # digest / notice / notice_unacknowledged
    colour: Mapped[str] = mapped_column(String(10), default="")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime]
    visible_from: Mapped[dt.datetime]  # inside the send window; earlier rows wait
    read_at: Mapped[dt.datetime | None]
    read_by: Mapped[str | None] = mapped_column(String(50))


class ReminderFired(Base):
    """A rung of the reminder ladder that fired for a problem: at most once, by constraint."""

    __tablename__ = "reminder_fired"
    __table_args__ = (
        UniqueConstraint("problem_id", "rung_code"),
        Index("ix_reminder_fired_campaign_penalty", "campaign_id", "accrue_penalty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problem.id", ondelete="CASCADE"))
    rung_code: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(20))
    colour: Mapped[str] = mapped_column(String(10), default="")
    office_code: Mapped[str] = mapped_column(String(80))  # lead office when it fired
    town_code: Mapped[str] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(50))
    deadline: Mapped[dt.date]
    due_on: Mapped[dt.date]  # the rung's fire date (a working day)
    fired_on: Mapped[dt.date]  # the day the sweep recorded it (>= due_on after downtime)
    fired_at: Mapped[dt.datetime]
    accrue_penalty: Mapped[bool] = mapped_column(default=False)  # read by the scoring service


class StageRun(Base):
    """One run of a campaign stage's flow; a rerun finds it and does only what is missing."""

    __tablename__ = "stage_run"
    __table_args__ = (UniqueConstraint("campaign_id", "stage_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    stage_seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # running / done
    attempts: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)


class DailyReportRun(Base):
    """The daily report of a campaign for one day: written once, at the plan's hour."""

    __tablename__ = "daily_report_run"
    __table_args__ = (UniqueConstraint("campaign_id", "report_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    report_date: Mapped[dt.date]
    written_at: Mapped[dt.datetime]
    sha256: Mapped[str | None] = mapped_column(String(64))
    file_path: Mapped[str | None] = mapped_column(String(500))


class SchedulerLease(Base):
    """Who leads the schedulers (SQLite; PostgreSQL uses an advisory lock instead)."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class ReminderState(Base):
    """When a problem's next rung falls due, so a sweep reads only what is due (not every row).

    `version` is the problem's version when computed: a move that changes the deadline, office
    or status bumps the problem's version and the sweep recomputes. `next_due_on` is None once
    every rung has fired.
    """

    __tablename__ = "reminder_state"
    __table_args__ = (Index("ix_reminder_state_campaign_next_due", "campaign_id", "next_due_on"),)

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    version: Mapped[int]
    deadline: Mapped[dt.date]
    next_due_on: Mapped[dt.date | None]
