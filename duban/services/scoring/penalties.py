"""Penalties (考核扣款) as the campaign runs: the ledger view and the accrued view.

Two views of fines, both from the plan's penalty rules (seed 000: 500 yuan per item, 2000 per
unsafe house):

- the ledger view (`current_penalties`): every item that is overdue on a day, i.e. still owed
  by its office (routed / rectifying / disputed / extension requested) with its deadline
  before that day. These are exactly the items the daily report counts as overdue; an item
  leaves the view once it is submitted, closed or given a later deadline.
- the accrued view (`accrued_penalties`): when the plan's reminder ladder has a rung with
  `accrue_penalty` (seed 000: 通报, 4 working days overdue), the orchestration's sweep records
  that rung in `reminder_fired` the day it fires. That record is the accrual: the fine is
  incurred then and stands even if the item is rectified afterwards. One fine per problem,
  however many accruing rungs fire for it.

The month's ranking counts accrued fines of the month when the plan accrues through its
ladder, else the ledger view at the month's end. `reconcile_penalties` lines the two up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.clock import Clock, local_today
from duban.domain.lifecycle import OPEN_STATUSES, Status
from duban.domain.plan import Plan
from duban.domain.scoring import PenaltyItem, PenaltyLine, accrue_penalties
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.reports.figures import day_end, ledger_state
from models import Problem, ReminderFired

OPEN_CODES = frozenset(s.value for s in OPEN_STATUSES)
RECTIFIED_CODES = frozenset({Status.REVIEWED.value, Status.CLOSED.value})

BASIS_ACCRUED = "accrued"  # fines from the ladder's accrual records (reminder_fired)
BASIS_LEDGER = "ledger"  # fines from the ledger: items overdue at the moment assessed


@dataclass(frozen=True, slots=True)
class ProblemState:
    """A problem as it stood at a moment (see duban.services.reports.figures.ledger_state)."""

    id: int
    code: str
    town: str
    office: str | None
    category: str
    household_id: str | None
    status: str
    deadline: dt.date | None

    def overdue_on(self, day: dt.date) -> bool:
        """Owed by its office and past its deadline on `day` (the daily report's 逾期)."""
        return self.status in OPEN_CODES and self.deadline is not None and self.deadline < day


def problem_states(session: Session, campaign_id: int, cutoff: dt.datetime) -> list[ProblemState]:
    """Every problem recorded before the cut-off, as it stood then."""
    s = ledger_state(session, campaign_id, cutoff).c
    rows = session.execute(
        select(s.id, s.code, s.town, s.office, s.category, s.household_id, s.status, s.deadline)
    ).all()
    return [ProblemState(*row) for row in rows]


def penalty_items(states: Iterable[ProblemState], day: dt.date) -> list[PenaltyItem]:
    """What the plan's penalty rules judge: routed, not voided problems as they stood on `day`."""
    return [
        PenaltyItem(
            problem_id=p.id,
            town=p.town,
            office=p.office or "",
            category=p.category,
            household_id=p.household_id,
            overdue=p.overdue_on(day),
            rectified=p.status in RECTIFIED_CODES,
        )
        for p in states
        if p.status not in (Status.VOIDED.value, Status.UNROUTED.value)
    ]


def fined_unit(line: PenaltyLine, by: str) -> str:
    """The town or office a fine counts against, as the ranking is by."""
    return line.office if by == "office" else line.town


def current_penalties(
    uow: UnitOfWork, clock: Clock, campaign_id: int, as_of: dt.date | None = None
) -> list[PenaltyLine]:
    """The ledger view: fines for every item overdue and not rectified on `as_of` (default today).

    `as_of` is judged at the end of that day, from the audit trail, so a past day's fines are
    exact. Items fined are the daily report's overdue items on that day.
    """
    day = as_of or local_today(clock)
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    states = problem_states(session, campaign_id, day_end(day))
    return accrue_penalties(penalty_items(states, day), plan.penalties)


def has_accrual_rung(plan: Plan) -> bool:
    """Whether the plan's reminder ladder records fines (a rung with accrue_penalty)."""
    return any(r.accrue_penalty for r in plan.reminders.rungs)


def accrued_penalties(
    uow: UnitOfWork, campaign_id: int, until: dt.date, since: dt.date | None = None
) -> list[PenaltyLine]:
    """The accrued view: fines the reminder ladder recorded from `since` to `until` (inclusive).

    A problem is fined once, on the day its first accruing rung fired; the fine stands after
    the item is rectified. Empty when the plan has no accruing rung or the sweep never ran.
    """
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    rf = ReminderFired
    stmt = (
        select(rf.problem_id, rf.town_code, rf.office_code, rf.category, Problem.household_id,
               rf.fired_on)
        .join(Problem, Problem.id == rf.problem_id)
        .where(rf.campaign_id == campaign_id, rf.accrue_penalty.is_(True), rf.fired_on <= until)
        .order_by(rf.problem_id, rf.fired_on, rf.id)
    )
    first: dict[int, Any] = {}
    for row in session.execute(stmt):
        first.setdefault(row.problem_id, row)  # one fine per problem: its first accrual
    items = [
        PenaltyItem(problem_id=r.problem_id, town=r.town_code, office=r.office_code,
                    category=r.category, household_id=r.household_id, overdue=True,
                    rectified=False)
        for r in first.values()
        if since is None or r.fired_on >= since
    ]
    return accrue_penalties(items, plan.penalties)


@dataclass(frozen=True, slots=True)
class PenaltyReconciliation:
    """The ledger view and the accrued view of one day, side by side."""

    day: dt.date
    accrues: bool  # the plan's ladder has an accruing rung
    ledger: tuple[PenaltyLine, ...]
    accrued: tuple[PenaltyLine, ...]
    overdue_not_accrued: tuple[int, ...]  # overdue on the ledger, no accrual yet (problem ids)
    accrued_now_rectified: tuple[int, ...]  # accrued, no longer overdue (the fine stands)

    @property
    def ledger_total(self) -> int:
        """Yuan in the ledger view."""
        return sum(line.amount_yuan for line in self.ledger)

    @property
    def accrued_total(self) -> int:
        """Yuan accrued by the ladder."""
        return sum(line.amount_yuan for line in self.accrued)

    @property
    def official(self) -> tuple[PenaltyLine, ...]:
        """The fines that count: accrued when the plan accrues through its ladder, else ledger."""
        return self.accrued if self.accrues else self.ledger


def reconcile_penalties(
    uow: UnitOfWork, clock: Clock, campaign_id: int, as_of: dt.date | None = None
) -> PenaltyReconciliation:
    """Both views of the fines on `as_of` (default today) and where they differ."""
    day = as_of or local_today(clock)
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    ledger = current_penalties(uow, clock, campaign_id, day)
    accrued = accrued_penalties(uow, campaign_id, day)
    ledger_ids = {pid for line in ledger for pid in line.problem_ids}
    accrued_ids = {pid for line in accrued for pid in line.problem_ids}
    return PenaltyReconciliation(
        day=day,
        accrues=has_accrual_rung(plan),
        ledger=tuple(ledger),
        accrued=tuple(accrued),
        overdue_not_accrued=tuple(sorted(ledger_ids - accrued_ids)),
        accrued_now_rectified=tuple(sorted(accrued_ids - ledger_ids)),
    )
