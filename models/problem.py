"""The problem ledger (问题台账), its append-only audit trail and evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class Problem(Base):
    """One problem on the ledger, routed to a lead office, with a deadline and a status."""

    __table__ = tables.problem

    id: Mapped[int]
    campaign_id: Mapped[int]
    code: Mapped[str]  # 问题编号, e.g. WT-000123
    natural_key: Mapped[str]  # makes re-imports idempotent
    source: Mapped[str]
    category: Mapped[str]
    town_code: Mapped[str]
    village_code: Mapped[str | None]
    household_id: Mapped[str | None]
    description: Mapped[str]
    found_by: Mapped[str]
    found_on: Mapped[dt.date]
    detection_rule: Mapped[str | None]
    facts: Mapped[dict[str, Any] | None]
    status: Mapped[str]
    unrouted_reason: Mapped[str | None]
    lead_office: Mapped[str | None]
    routed_at: Mapped[dt.datetime | None]
    tier: Mapped[str | None]
    deadline: Mapped[dt.date | None]
    deadline_basis: Mapped[str | None]
    submitted_by: Mapped[str | None]
    rectified_by: Mapped[str | None]
    review_passed_by: Mapped[str | None]
    closed_at: Mapped[dt.datetime | None]
    reopen_count: Mapped[int]
    deadline_cycle: Mapped[int]  # +1 per new deadline; the reminder ladder restarts
    recurrence_of: Mapped[int | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    version: Mapped[int]

    __mapper_args__ = {"version_id_col": tables.problem.c.version}  # noqa: RUF012


class ProblemCoOffice(Base):
    """A co-office (协办单位) of a problem, so scoped queries can join on it."""

    __table__ = tables.problem_co_office

    problem_id: Mapped[int]
    office_code: Mapped[str]
    campaign_id: Mapped[int]  # the problem's, copied so one campaign's rows are read alone


class AuditEvent(Base):
    """One move on a problem: who, in which role, when, from, to, note, evidence. Append-only."""

    __table__ = tables.audit_event

    id: Mapped[int]
    campaign_id: Mapped[int]
    problem_id: Mapped[int]
    action: Mapped[str]
    from_status: Mapped[str | None]
    to_status: Mapped[str]
    actor: Mapped[str]
    actor_role: Mapped[str]
    actor_name: Mapped[str]
    at: Mapped[dt.datetime]
    note: Mapped[str]
    evidence: Mapped[list[Any]]
    data: Mapped[dict[str, Any]]


@event.listens_for(AuditEvent, "before_update")
def _refuse_audit_update(*_: object) -> None:
    raise PermissionError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_audit_delete(*_: object) -> None:
    raise PermissionError("audit events are append-only")


class Evidence(Base):
    """A supporting file (佐证资料) stored by content hash, never by a user-chosen path."""

    __table__ = tables.evidence

    id: Mapped[int]
    problem_id: Mapped[int]
    sha256: Mapped[str]
    filename: Mapped[str]  # shown only; never used as a path
    content_type: Mapped[str]
    size: Mapped[int]
    phase: Mapped[str]  # before / after
    uploaded_by: Mapped[str]
    uploaded_at: Mapped[dt.datetime]
    note: Mapped[str]
    submission_round: Mapped[int]  # the submission round it belongs to
