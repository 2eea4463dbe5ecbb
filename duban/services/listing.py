"""The problem list (`duban problem list`): one filter, one query, one page of problems.

Apart from `duban.services.problems` on purpose: listing needs no plan, routing or deadline
rules, and a clerk's `duban problem list` should not import them (issue 10, start-up cost).
It reads the Core tables (`models.tables`) through the unit's connection and returns plain
rows, so the command imports neither SQLAlchemy's ORM nor the mapped classes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, or_, select

from duban.domain.lifecycle import OPEN_STATUSES, Status
from duban.services.database import UnitOfWork
from models.tables import problem, problem_co_office

if TYPE_CHECKING:
    from duban.services.scoping import Scope


@dataclass(frozen=True)
class ProblemFilter:
    """Filters of the ledger listing."""

    campaign_id: int | None = None
    town: str | None = None
    village: str | None = None
    office: str | None = None  # lead or co-office
    status: Status | None = None
    overdue_on: dt.date | None = None  # only open items past their deadline on this day
    unrouted: bool = False
    search: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class ListedProblem:
    """A problem as the list shows it."""

    id: int
    campaign_id: int
    code: str
    status: str
    source: str
    category: str
    town_code: str
    village_code: str | None
    household_id: str | None
    lead_office: str | None
    deadline: dt.date | None
    description: str
    unrouted_reason: str | None


LISTED = [problem.c[name] for name in ListedProblem.__dataclass_fields__]


def problem_query(f: ProblemFilter) -> Select[Any]:
    """The SELECT behind a filter."""
    p = problem.c
    stmt = select(*LISTED)
    if f.campaign_id is not None:
        stmt = stmt.where(p.campaign_id == f.campaign_id)
    if f.town:
        stmt = stmt.where(p.town_code == f.town)
    if f.village:
        stmt = stmt.where(p.village_code == f.village)
    if f.office:
        co = select(problem_co_office.c.problem_id).where(
            problem_co_office.c.office_code == f.office)
        if f.campaign_id is not None:  # that campaign's stretch of the co-office index
            co = co.where(problem_co_office.c.campaign_id == f.campaign_id)
        stmt = stmt.where(or_(p.lead_office == f.office, p.id.in_(co)))
    if f.status is not None:
        stmt = stmt.where(p.status == f.status.value)
    if f.unrouted:
        stmt = stmt.where(p.status == Status.UNROUTED.value)
    if f.overdue_on is not None:
        stmt = stmt.where(
            p.status.in_([s.value for s in OPEN_STATUSES]),
            p.deadline < f.overdue_on,
        )
    if f.search:
        like = f"%{f.search}%"
        stmt = stmt.where(or_(p.description.like(like), p.code.like(like),
                              p.household_id.like(like)))
    return stmt


def list_problems(uow: UnitOfWork, f: ProblemFilter,
                  scope: Scope | None = None) -> tuple[int, list[ListedProblem]]:
    """Total matching and one page of problems, ordered by deadline then code; within a
    user's scope when given (the operator at the command line sees every row)."""
    connection = uow.connection
    stmt = problem_query(f)
    if scope is not None:
        # Imported here: the mapped classes cost a plain listing's start-up (issue 10).
        from duban.services.scoping import scoped_problems

        stmt = scoped_problems(stmt, scope, f.campaign_id)
    total = int(connection.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    p = problem.c
    rows = connection.execute(
        stmt.order_by(p.deadline.is_(None), p.deadline, p.code).limit(f.limit).offset(f.offset)
    )
    return total, [ListedProblem(*row) for row in rows]
