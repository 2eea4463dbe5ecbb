"""The problem list (`duban problem list`): one filter, one query, one page of problems.

Apart from `duban.services.problems` on purpose: listing needs no plan, routing or deadline
rules, and a clerk's `duban problem list` should not import them (issue 10, start-up cost).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select

from duban.domain.lifecycle import OPEN_STATUSES, Status
from duban.services.database import UnitOfWork
from models import Problem, ProblemCoOffice


@dataclass(frozen=True)
class ProblemFilter:
    """Filters of the ledger listing."""

    campaign_id: int | None = None
    town: str | None = None
    office: str | None = None  # lead or co-office
    status: Status | None = None
    overdue_on: dt.date | None = None  # only open items past their deadline on this day
    unrouted: bool = False
    search: str | None = None
    limit: int = 100
    offset: int = 0


def problem_query(f: ProblemFilter) -> Select[Problem]:
    """The SELECT behind a filter."""
    stmt = select(Problem)
    if f.campaign_id is not None:
        stmt = stmt.where(Problem.campaign_id == f.campaign_id)
    if f.town:
        stmt = stmt.where(Problem.town_code == f.town)
    if f.office:
        co = select(ProblemCoOffice.problem_id).where(ProblemCoOffice.office_code == f.office)
        stmt = stmt.where(or_(Problem.lead_office == f.office, Problem.id.in_(co)))
    if f.status is not None:
        stmt = stmt.where(Problem.status == f.status.value)
    if f.unrouted:
        stmt = stmt.where(Problem.status == Status.UNROUTED.value)
    if f.overdue_on is not None:
        stmt = stmt.where(
            Problem.status.in_([s.value for s in OPEN_STATUSES]),
            Problem.deadline < f.overdue_on,
        )
    if f.search:
        like = f"%{f.search}%"
        stmt = stmt.where(or_(Problem.description.like(like), Problem.code.like(like),
                              Problem.household_id.like(like)))
    return stmt


def list_problems(uow: UnitOfWork, f: ProblemFilter) -> tuple[int, list[Problem]]:
    """Total matching and one page of problems, ordered by deadline then code."""
    session = uow.session
    stmt = problem_query(f)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(
        stmt.order_by(Problem.deadline.is_(None), Problem.deadline, Problem.code)
        .limit(f.limit)
        .offset(f.offset)
    ).all()
    return total, list(rows)
