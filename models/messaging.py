"""Messages and runs the orchestration writes: outbox, inbox, fired rungs, stage runs, lease."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class OutboxMessage(Base):
    """One message to deliver, written in the same transaction as its cause; never deleted."""

    __table__ = tables.outbox

    id: Mapped[int]
    campaign_id: Mapped[int | None]
    channel: Mapped[str]  # inbox / email / webhook
    recipient: Mapped[str]  # office code, e-mail address or URL
    office_code: Mapped[str | None]
    subject: Mapped[str]
    body: Mapped[str]
    payload: Mapped[dict[str, Any]]
    status: Mapped[str]
    attempts: Mapped[int]
    max_attempts: Mapped[int]
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None]
    dedupe_key: Mapped[str]
    created_at: Mapped[dt.datetime]
    claimed_by: Mapped[str | None]
    claimed_until: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]


class InboxMessage(Base):
    """A message in an office's (or one user's) in-app inbox."""

    __table__ = tables.inbox_message

    id: Mapped[int]
    campaign_id: Mapped[int | None]
    office_code: Mapped[str]
    username: Mapped[str | None]  # None: everyone in the office
    audience: Mapped[str]
    kind: Mapped[str]  # digest / notice / notice_unacknowledged
    colour: Mapped[str]
    subject: Mapped[str]
    body: Mapped[str]
    payload: Mapped[dict[str, Any]]
    dedupe_key: Mapped[str]
    created_at: Mapped[dt.datetime]
    visible_from: Mapped[dt.datetime]  # inside the send window; earlier rows wait
    read_at: Mapped[dt.datetime | None]
    read_by: Mapped[str | None]


class ReminderFired(Base):
    """A rung of the reminder ladder that fired for a problem: at most once, by constraint."""

    __table__ = tables.reminder_fired

    id: Mapped[int]
    campaign_id: Mapped[int]
    problem_id: Mapped[int]
    rung_code: Mapped[str]
    action: Mapped[str]
    colour: Mapped[str]
    office_code: Mapped[str]  # lead office when it fired
    town_code: Mapped[str]
    category: Mapped[str]
    deadline: Mapped[dt.date]
    due_on: Mapped[dt.date]  # the rung's fire date (a working day)
    fired_on: Mapped[dt.date]  # the day the sweep recorded it (>= due_on after downtime)
    fired_at: Mapped[dt.datetime]
    accrue_penalty: Mapped[bool]  # read by the scoring service
    cycle: Mapped[int]  # the problem's deadline_cycle when recorded
    skipped_reason: Mapped[str | None]  # None: sent; else why it was skipped


class StageRun(Base):
    """One run of a campaign stage's flow; a rerun finds it and does only what is missing."""

    __table__ = tables.stage_run

    id: Mapped[int]
    campaign_id: Mapped[int]
    stage_seq: Mapped[int]
    kind: Mapped[str]
    status: Mapped[str]  # running / done
    attempts: Mapped[int]
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    detail: Mapped[dict[str, Any]]
    last_error: Mapped[str | None]


class DailyReportRun(Base):
    """The daily report of a campaign for one day: written once, at the plan's hour."""

    __table__ = tables.daily_report_run

    id: Mapped[int]
    campaign_id: Mapped[int]
    report_date: Mapped[dt.date]
    written_at: Mapped[dt.datetime]
    sha256: Mapped[str | None]
    file_path: Mapped[str | None]


class SchedulerLease(Base):
    """Who leads the schedulers (SQLite; PostgreSQL uses an advisory lock instead)."""

    __table__ = tables.scheduler_lease

    name: Mapped[str]
    holder: Mapped[str]
    acquired_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class ReminderState(Base):
    """When a problem's next rung falls due, so a sweep reads only what is due (not every row).

    `version` is the problem's version when computed: a move that changes the deadline, office
    or status bumps the problem's version and the sweep recomputes. `next_due_on` is None once
    every rung has fired.
    """

    __table__ = tables.reminder_state

    problem_id: Mapped[int]
    campaign_id: Mapped[int]
    version: Mapped[int]
    deadline: Mapped[dt.date]
    next_due_on: Mapped[dt.date | None]
