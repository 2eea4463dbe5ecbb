"""Recurring duties' occurrences and problems' milestones: what was done, and what was chased."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class DutyOccurrence(Base):
    """One time a plan's duty falls due for one unit; created once, by its natural key."""

    __table__ = tables.duty_occurrence

    id: Mapped[int]
    campaign_id: Mapped[int]
    duty_code: Mapped[str]
    office_code: Mapped[str]  # who answers it
    town_code: Mapped[str]
    village_code: Mapped[str]  # "" unless 各村
    day: Mapped[dt.date]
    opens_on: Mapped[dt.date]
    due_on: Mapped[dt.date]
    status: Mapped[str]  # open / done
    done_on: Mapped[dt.date | None]
    done_at: Mapped[dt.datetime | None]
    done_by: Mapped[str | None]
    note: Mapped[str]
    evidence: Mapped[list[Any]]  # [{sha256, filename, ...}]
    created_at: Mapped[dt.datetime]


class DutyReminderFired(Base):
    """A rung of the ladder that fired for a duty occurrence: at most once, by key."""

    __table__ = tables.duty_reminder_fired

    occurrence_id: Mapped[int]
    rung_code: Mapped[str]
    fired_on: Mapped[dt.date]
    fired_at: Mapped[dt.datetime]


class ProblemMilestone(Base):
    """A milestone (节点) of a problem the office reported reached, with its evidence."""

    __table__ = tables.problem_milestone

    problem_id: Mapped[int]
    milestone_code: Mapped[str]
    due_on: Mapped[dt.date]
    reached_on: Mapped[dt.date]
    reached_at: Mapped[dt.datetime]
    reached_by: Mapped[str]
    note: Mapped[str]
    evidence: Mapped[list[Any]]


class MilestoneReminderFired(Base):
    """A rung of the ladder that fired for one milestone of a problem: at most once, by key."""

    __table__ = tables.milestone_reminder_fired

    problem_id: Mapped[int]
    milestone_code: Mapped[str]
    rung_code: Mapped[str]
    campaign_id: Mapped[int]
    fired_on: Mapped[dt.date]
    fired_at: Mapped[dt.datetime]
