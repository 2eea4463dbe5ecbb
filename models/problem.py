"""The problem ledger (问题台账), its append-only audit trail and evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Problem(Base):
    """One problem on the ledger, routed to a lead office, with a deadline and a status."""

    __tablename__ = "problem"
    __table_args__ = (
        UniqueConstraint("campaign_id", "code"),
        UniqueConstraint("campaign_id", "natural_key"),
        Index("ix_problem_campaign_status_deadline", "campaign_id", "status", "deadline"),
        Index("ix_problem_campaign_lead_office", "campaign_id", "lead_office"),
        Index("ix_problem_campaign_town", "campaign_id", "town_code"),
        Index("ix_problem_campaign_household_category", "campaign_id", "household_id", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(30))  # 问题编号, e.g. WT-000123
    natural_key: Mapped[str] = mapped_column(String(64))  # makes re-imports idempotent
    source: Mapped[str] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(50))
    town_code: Mapped[str] = mapped_column(String(50))
    village_code: Mapped[str | None] = mapped_column(String(50))
    household_id: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text)
    found_by: Mapped[str] = mapped_column(String(100))
    found_on: Mapped[dt.date]
    detection_rule: Mapped[str | None] = mapped_column(String(50))
    facts: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(30))
    unrouted_reason: Mapped[str | None] = mapped_column(Text)
    lead_office: Mapped[str | None] = mapped_column(String(80))
    routed_at: Mapped[dt.datetime | None]
    tier: Mapped[str | None] = mapped_column(String(50))
    deadline: Mapped[dt.date | None]
    deadline_basis: Mapped[str | None] = mapped_column(String(200))
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    rectified_by: Mapped[str | None] = mapped_column(String(100))
    review_passed_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[dt.datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    recurrence_of: Mapped[int | None] = mapped_column(ForeignKey("problem.id"))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ProblemCoOffice(Base):
    """A co-office (协办单位) of a problem, so scoped queries can join on it."""

    __tablename__ = "problem_co_office"

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True
    )
    office_code: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)


class AuditEvent(Base):
    """One move on a problem: who, in which role, when, from, to, note, evidence. Append-only."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_problem_at", "problem_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problem.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[dt.datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


@event.listens_for(AuditEvent, "before_update")
def _refuse_audit_update(*_: object) -> None:
    raise PermissionError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_audit_delete(*_: object) -> None:
    raise PermissionError("audit events are append-only")


class Evidence(Base):
    """A supporting file (佐证资料) stored by content hash, never by a user-chosen path."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("problem_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problem.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(200))  # shown only; never used as a path
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    phase: Mapped[str] = mapped_column(String(10), default="after")  # before / after
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[dt.datetime]
    note: Mapped[str] = mapped_column(Text, default="")
