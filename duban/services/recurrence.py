"""Recurrence (屡改屡犯) and the reopen rate: problems that come back after 销号.

Kept apart from reviews.py so `problems.record_problems` can call `flag_recurrences_of`
without an import cycle (reviews imports problems).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from duban.domain.errors import NotFound
from duban.domain.lifecycle import Role, Status
from duban.services.database import UnitOfWork
from duban.services.views.names import names_in
from models import AuditEvent, Campaign, Problem

RECURRENCE_ACTION = "recurrence"  # audit action of the 屡改屡犯 flag (not a lifecycle move)
_CHUNK = 2000


class FreshProblem(NamedTuple):
    """A problem just written, as recurrence needs it."""

    id: int
    household_id: str | None
    category: str
    status: str


def flag_recurrences_of(
    session: Session,
    campaign_id: int,
    fresh: Sequence[FreshProblem],
    *,
    at: dt.datetime,
) -> int:
    """Flag new problems whose household and category had a problem closed before (屡改屡犯).

    Sets problems.recurrence_of to the most recently closed such problem of the same campaign
    and appends one audit event per flagged problem. Returns how many were flagged. Matching
    stays within the campaign: household ids (户编号) are the campaign's register keys.
    """
    fresh = [p for p in fresh if p.household_id is not None]
    closed_any = session.scalar(
        select(Problem.id).where(Problem.campaign_id == campaign_id,
                                 Problem.status == Status.CLOSED.value).limit(1))
    if not fresh or closed_any is None:  # nothing closed yet: nothing can recur
        return 0
    households = sorted({str(p.household_id) for p in fresh})
    latest: dict[tuple[str, str], tuple[dt.datetime, int, str]] = {}
    for j in range(0, len(households), _CHUNK):
        for pid, household, category, closed_at, code in session.execute(
            select(Problem.id, Problem.household_id, Problem.category, Problem.closed_at,
                   Problem.code)
            .where(Problem.campaign_id == campaign_id,
                   Problem.household_id.in_(households[j:j + _CHUNK]),
                   Problem.status == Status.CLOSED.value)
        ):
            key = (str(household), category)
            stamp = closed_at or dt.datetime.min.replace(tzinfo=dt.UTC)
            if key not in latest or (stamp, pid) > latest[key][:2]:
                latest[key] = (stamp, pid, code)
    updates: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for row in fresh:
        match = latest.get((str(row.household_id), row.category))
        if match is None or match[1] == row.id:
            continue
        closed_at, earlier_id, earlier_code = match
        updates.append({"pid": row.id, "earlier": earlier_id})
        when = closed_at.date().isoformat() if closed_at.year > 1 else "此前"
        events.append({
            "campaign_id": campaign_id, "problem_id": row.id, "action": RECURRENCE_ACTION,
            "from_status": row.status, "to_status": row.status, "actor": "system",
            "actor_role": Role.SYSTEM.value, "actor_name": "系统", "at": at,
            "note": f"屡改屡犯：该户同类问题 {earlier_code} 已于{when}销号",
            "evidence": [], "data": {"recurrence_of": earlier_id},
        })
    if not updates:
        return 0
    table = cast(Table, Problem.__table__)
    for i in range(0, len(updates), _CHUNK):
        session.execute(
            update(table).where(table.c.id == bindparam("pid"))
            .values(recurrence_of=bindparam("earlier")),
            updates[i:i + _CHUNK],
        )
        session.execute(insert(AuditEvent), events[i:i + _CHUNK])
    for u in updates:  # an ORM copy of a flagged row would still say recurrence_of=None
        loaded = session.identity_map.get(identity_key(Problem, u["pid"]))
        if loaded is not None:
            session.expire(loaded, ["recurrence_of"])
    return len(updates)


@dataclass(frozen=True)
class ReopenFigure:
    """Closed and reopened counts for one town, one office, or the whole campaign."""

    key: str
    name: str
    closed: int  # problems closed at least once (currently closed, or reopened since)
    reopened: int  # problems reopened at least once
    reopens: int  # reopen moves in all
    recurrences: int  # problems flagged 屡改屡犯

    @property
    def rate(self) -> float | None:
        """Reopened / closed, or None when nothing has been closed."""
        return self.reopened / self.closed if self.closed else None


@dataclass(frozen=True)
class ReopenFigures:
    """The reopen rate of a campaign, overall, by town and by lead office."""

    campaign_id: int
    total: ReopenFigure
    by_town: list[ReopenFigure]
    by_office: list[ReopenFigure]


def reopen_rate(uow: UnitOfWork, campaign_id: int) -> ReopenFigures:
    """Reopened / closed problems of a campaign, by town and by lead office (for reports)."""
    ever_closed = (Problem.status == Status.CLOSED.value) | (Problem.reopen_count > 0)
    measures = (
        func.sum(case((ever_closed, 1), else_=0)),
        func.sum(case((Problem.reopen_count > 0, 1), else_=0)),
        func.coalesce(func.sum(Problem.reopen_count), 0),
        func.sum(case((Problem.recurrence_of.is_not(None), 1), else_=0)),
    )
    session = uow.session
    if session.get(Campaign, campaign_id) is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    where = Problem.campaign_id == campaign_id
    names = names_in(session, campaign_id)

    def figures(column: Any, names: dict[str, str]) -> list[ReopenFigure]:
        rows = session.execute(select(column, *measures).where(where).group_by(column)
                               .order_by(column)).all()
        return [ReopenFigure(key or "", names.get(key or "", key or "未交办"),
                             int(c or 0), int(r or 0), int(n or 0), int(x or 0))
                for key, c, r, n, x in rows]

    c, r, n, x = session.execute(select(*measures).where(where)).one()
    total = ReopenFigure("", "合计", int(c or 0), int(r or 0), int(n or 0), int(x or 0))
    return ReopenFigures(campaign_id, total, figures(Problem.town_code, names.towns),
                         figures(Problem.lead_office, names.offices))
