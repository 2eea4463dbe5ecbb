"""Recurring duties' occurrences and problems' milestones: what was done, and what was chased."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class DutyOccurrence(Base):
    """One time a plan's duty falls due for one unit; created once, by its natural key."""

    __tablename__ = "duty_occurrence"
    __table_args__ = (
        UniqueConstraint("campaign_id", "duty_code", "office_code", "village_code", "day"),
        Index("ix_duty_occurrence_campaign_office", "campaign_id", "office_code", "status"),
        Index("ix_duty_occurrence_campaign_status_due", "campaign_id", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    duty_code: Mapped[str] = mapped_column(String(80))
    office_code: Mapped[str] = mapped_column(String(80))  # who answers it
    town_code: Mapped[str] = mapped_column(String(50), default="")
    village_code: Mapped[str] = mapped_column(String(50), default="")  # "" unless 各村
    day: Mapped[dt.date]
    opens_on: Mapped[dt.date]
    due_on: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(10), default="open")  # open / done
    done_on: Mapped[dt.date | None]
    done_at: Mapped[dt.datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)  # [{sha256, filename, ...}]
    created_at: Mapped[dt.datetime]


class DutyReminderFired(Base):
    """A rung of the ladder that fired for a duty occurrence: at most once, by key."""

    __tablename__ = "duty_reminder_fired"

    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("duty_occurrence.id", ondelete="CASCADE"), primary_key=True)
    rung_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    fired_on: Mapped[dt.date]
    fired_at: Mapped[dt.datetime]


class ProblemMilestone(Base):
    """A milestone (节点) of a problem the office reported reached, with its evidence."""

    __tablename__ = "problem_milestone"

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True)
    milestone_code: Mapped[str] = mapped_column(String(80), primary_key=True)
    due_on: Mapped[dt.date]
    reached_on: Mapped[dt.date]
    reached_at: Mapped[dt.datetime]
    reached_by: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)


class MilestoneReminderFired(Base):
    """A rung of the ladder that fired for one milestone of a problem: at most once, by key."""

    __tablename__ = "milestone_reminder_fired"

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True)
    milestone_code: Mapped[str] = mapped_column(String(80), primary_key=True)
    rung_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"),
                                             index=True)
    fired_on: Mapped[dt.date]
    fired_at: Mapped[dt.datetime]
