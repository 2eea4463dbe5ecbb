"""今天要办: the day's work of one user — due today and this week, overdue, and what waits for
the user's own move (签收, 复核, 交办, 审批, 销号) — counted inside the user's scope.

Every line names the ledger filter that lists its items (`Due`, `lead=mine`, a status), so the
number on the dashboard and the rows the ledger shows come from the same conditions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, and_, bindparam, case, false, func, select
from sqlalchemy.orm import Session

from duban.domain.labelled import Labelled
from duban.domain.lifecycle import Role, Status
from duban.domain.workdays import CalendarNotCovered
from duban.services.calendars import working_calendar
from duban.services.scoping import Scope, problem_clause
from duban.services.views.common import OPEN
from models import Problem


class Due(Labelled):
    """Deadline windows of open items, on the day of the clock passed in."""

    TODAY = "today", "今日到期"
    WEEK = "week", "本周到期"
    OVERDUE = "overdue", "已逾期"


def week_end(today: dt.date) -> dt.date:
    """The last day (Sunday) of the week `today` falls in: 本周 includes a worked weekend day."""
    return today + dt.timedelta(days=6 - today.weekday())


def due_filter(due: Due, today: dt.date) -> ColumnElement[bool]:
    """Open items whose deadline falls in the window (the caller adds the scope)."""
    is_open = Problem.status.in_(OPEN)
    if due is Due.TODAY:
        return and_(is_open, Problem.deadline == today)
    if due is Due.WEEK:
        return and_(is_open, Problem.deadline >= today, Problem.deadline <= week_end(today))
    return and_(is_open, Problem.deadline < today)


def workdays_left(deadline: dt.date | None, today: dt.date) -> int | None:
    """Working days from today to a deadline on the working calendar (0: due today, negative:
    overdue by so many working days); None without a deadline or outside the calendar."""
    if deadline is None:
        return None
    try:
        return working_calendar().workdays_between(today, deadline)
    except CalendarNotCovered:
        return None


def workdays_text(deadline: dt.date | None, left: int | None, today: dt.date) -> str:
    """Working days left in words: 今日到期, 剩3个工作日, 逾期2个工作日."""
    if deadline is None or left is None:
        return ""
    if deadline == today:
        return "今日到期"
    if deadline < today:
        return f"逾期{-left}个工作日" if left < 0 else "已逾期"
    return f"剩{left}个工作日"


def lead_mine(scope: Scope, *, bound: bool = False) -> ColumnElement[bool]:
    """Problems whose lead office is one the user acts for (their 签收 and 整改 to do);
    `bound`: the offices are the parameter s_offices (scoping.reach_values)."""
    if Role.OFFICE not in scope.actor.roles or not scope.offices:
        return false()
    if bound:
        return Problem.lead_office.in_(bindparam("s_offices", expanding=True))
    return Problem.lead_office.in_(sorted(scope.offices))


@dataclass(frozen=True)
class TodayLine:
    """One line of 今天要办: what, how many, and the ledger filter that lists them."""

    key: str
    label: str
    count: int
    params: tuple[tuple[str, str], ...]  # ledger query parameters
    tone: str  # a band colour for the number: red, orange, due_soon, ""

    def href(self, campaign_id: int) -> str:
        """The ledger listing this line's items (status 全部 unless the line names one)."""
        params = dict(self.params)
        return "/ledger?" + urlencode({"campaign": campaign_id,
                                       "status": params.pop("status", ""), **params})


@dataclass(frozen=True)
class TodayWork:
    """The day's work of one scope."""

    today: dt.date
    week_end: dt.date
    lines: tuple[TodayLine, ...]

    def count(self, key: str) -> int:
        """The count of a line (0 when the role has no such line)."""
        return next((line.count for line in self.lines if line.key == key), 0)


def moves(scope: Scope) -> list[tuple[str, str, ColumnElement[bool], tuple[tuple[str, str], ...],
                                       str]]:
    """The lines of moves waiting for this user, by role: (key, label, condition, params, tone)."""
    roles = scope.actor.roles
    out: list[tuple[str, str, ColumnElement[bool], tuple[tuple[str, str], ...], str]] = []
    if Role.OFFICE in roles and scope.offices:
        out.append(("accept", "待我签收", and_(Problem.status == Status.ROUTED.value,
                                               lead_mine(scope)),
                    (("status", Status.ROUTED.value), ("lead", "mine")), "orange"))
        out.append(("rectify", "我牵头整改中", and_(Problem.status == Status.RECTIFYING.value,
                                                 lead_mine(scope)),
                    (("status", Status.RECTIFYING.value), ("lead", "mine")), ""))
    if roles & {Role.COUNTY, Role.SUPERVISOR}:
        out.append(("review", "待我复核", Problem.status == Status.SUBMITTED.value,
                    (("status", Status.SUBMITTED.value),), "orange"))
    if Role.COUNTY in roles:
        for key, label, status in (("route", "待交办", Status.UNROUTED),
                                   ("dispute", "待裁定改派", Status.DISPUTED),
                                   ("extension", "待审批延期", Status.EXTENSION_REQUESTED),
                                   ("close", "待销号", Status.REVIEWED)):
            out.append((key, label, Problem.status == status.value,
                        (("status", status.value),), ""))
    if not out:  # a town or village makes no move itself: what it waits on from others
        out.append(("accept", "待办室签收", Problem.status == Status.ROUTED.value,
                    (("status", Status.ROUTED.value),), ""))
        out.append(("review", "待县里复核", Problem.status == Status.SUBMITTED.value,
                    (("status", Status.SUBMITTED.value),), ""))
    return out


def today_work(session: Session, scope: Scope, campaign_id: int, today: dt.date) -> TodayWork:
    """今天要办 for a scope on a day, counted in one query inside the scope."""
    windows = [(d.value, d.label, due_filter(d, today), (("due", d.value),), tone)
               for d, tone in ((Due.TODAY, "orange"), (Due.WEEK, "due_soon"),
                               (Due.OVERDUE, "red"))]
    specs = [*windows, *moves(scope)]
    counts = session.execute(
        select(*(func.coalesce(func.sum(case((cond, 1), else_=0)), 0)
                 for _, _, cond, _, _ in specs))
        .where(Problem.campaign_id == campaign_id,
               problem_clause(scope, campaign_id=campaign_id))).one()
    lines = tuple(TodayLine(key=key, label=label, count=int(n), params=params, tone=tone)
                  for (key, label, _, params, tone), n in zip(specs, counts, strict=True))
    return TodayWork(today=today, week_end=week_end(today), lines=lines)
