"""Delegation: an office's problems reassigned in bulk, and substitutes (代理), all audited.

Problem moves are audited per problem by `moves.move_in`; the arrangement itself (who moved an
office's work, who stood in for whom and when it ended) goes to the append-only
delegation_event table, because audit events belong to one problem each.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from duban.domain.clock import Clock, local_today
from duban.domain.errors import DubanError, NotFound, PermissionDenied
from duban.domain.lifecycle import (
    FINAL_STATUSES,
    ROLE_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    Actor,
    Payload,
    Role,
    Status,
    role_refusal,
)
from duban.services import moves
from duban.services.actors import resolve_actor
from duban.services.database import UnitOfWork
from duban.services.problems import BATCH, touch_problems
from models import (
    AuditEvent,
    Campaign,
    DelegationEvent,
    Office,
    Problem,
    ProblemCoOffice,
    Substitute,
    User,
)

# The statuses from which the lifecycle allows 改派: the default of a bulk reassignment.
REASSIGNABLE: tuple[Status, ...] = tuple(
    r.source for r in TRANSITIONS if r.action == Action.REASSIGN)
CO_OFFICE_ACTION = "reassign_co_office"  # audit action when a co-office (协办) is replaced
GRANTORS = frozenset({Role.COUNTY, Role.SYSTEM})  # who may grant or end a substitute

KIND_LABELS = {"reassign_all": "批量改派", "substitute_add": "设置代理",
               "substitute_end": "结束代理"}


class DelegationError(DubanError):
    """A reassignment or substitute that cannot be made."""


@dataclass
class BulkReassignment:
    """What a bulk reassignment did."""

    moved: int = 0  # problems whose lead office changed (改派, audited each)
    problem_ids: list[int] = field(default_factory=list)
    co_office_moved: int = 0  # problems whose co-office (协办) changed
    left_behind: dict[str, int] = field(default_factory=dict)  # open, not movable: by status

    def describe(self) -> str:
        """One Chinese line for the CLI and the web."""
        text = f"已改派 {self.moved} 个问题"
        if self.co_office_moved:
            text += f"，更换协办单位 {self.co_office_moved} 个"
        if self.left_behind:
            rest = "、".join(f"{STATUS_LABELS[Status(s)]} {n} 个"
                            for s, n in sorted(self.left_behind.items()))
            text += f"；以下状态不能改派，仍由原办室办理：{rest}"
        return text


def _office_exists(session: Session, campaign_id: int, code: str) -> None:
    if session.scalar(select(Office.id).where(Office.campaign_id == campaign_id,
                                              Office.code == code)) is None:
        raise NotFound(f"责任办室未定义：{code}（行动 {campaign_id}）")


def _require_role(actor: Actor, roles: Iterable[Role], what: str) -> None:
    allowed = frozenset(roles)
    if not actor.roles & allowed:
        names = "、".join(ROLE_LABELS[r] for r in sorted(allowed) if r != Role.SYSTEM)
        raise PermissionDenied(f"{what}须由{names}办理，{actor.name or actor.user}"
                               f"（{ROLE_LABELS[actor.role]}）无权办理")


def reassign_bulk(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    from_office: str,
    to_office: str,
    username: str,
    note: str,
    *,
    statuses: Sequence[Status] | None = None,
    co_offices: bool = True,
) -> BulkReassignment:
    """Move every open problem of one office to another (改派), in one transaction.

    Each lead-office change is a lifecycle REASSIGN through `moves.move_in` (audited per problem,
    back to 已交办 so the new office signs for it). With `co_offices`, the old office is also
    replaced where it is a co-office of an unfinished problem (audited per problem). Problems
    in statuses the lifecycle cannot reassign (submitted, under extension) stay and are counted.
    """
    wanted = tuple(statuses) if statuses is not None else REASSIGNABLE
    bad = [s for s in wanted if s not in REASSIGNABLE]
    if bad:
        raise DelegationError(
            "以下状态的问题不能改派：" + "、".join(STATUS_LABELS[s] for s in bad)
            + "（可改派：" + "、".join(STATUS_LABELS[s] for s in REASSIGNABLE) + "）")
    if from_office == to_office:
        raise DelegationError("原办室与新办室相同，请选择另一个办室")
    if not note.strip():
        raise DelegationError("批量改派须填写说明（原因）")
    result = BulkReassignment()
    now = clock.now()
    session = uow.session
    if session.get(Campaign, campaign_id) is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    _office_exists(session, campaign_id, from_office)
    _office_exists(session, campaign_id, to_office)
    actor = resolve_actor(session, username, local_today(clock))
    refusal = role_refusal(actor, Action.REASSIGN, "批量改派")
    if refusal is not None:
        raise PermissionDenied(refusal)
    problems = session.scalars(
        select(Problem).where(Problem.campaign_id == campaign_id,
                              Problem.lead_office == from_office,
                              Problem.status.in_([s.value for s in wanted]))
        .order_by(Problem.id)
    ).all()
    payload = Payload(note=note.strip(), office=to_office)
    for problem in problems:
        moves.move_in(session, clock, actor, problem, Action.REASSIGN, payload)
        result.problem_ids.append(problem.id)
    result.moved = len(problems)
    result.left_behind = dict(Counter(session.scalars(
        select(Problem.status).where(
            Problem.campaign_id == campaign_id, Problem.lead_office == from_office,
            Problem.status.not_in([s.value for s in FINAL_STATUSES]),
            Problem.status.not_in([s.value for s in wanted]))
    )))
    if co_offices:
        result.co_office_moved = _replace_co_office(
            session, campaign_id, from_office, to_office, actor, note.strip(), now)
    session.add(DelegationEvent(
        campaign_id=campaign_id, kind="reassign_all", office_code=from_office,
        to_office=to_office, actor=actor.user, at=now, note=note.strip(),
        data={"moved": result.moved, "co_office_moved": result.co_office_moved,
              "left_behind": result.left_behind,
              "statuses": [s.value for s in wanted]},
    ))
    return result


def _replace_co_office(session: Session, campaign_id: int, from_office: str, to_office: str,
                       actor: Actor, note: str, now: dt.datetime) -> int:
    rows = session.execute(
        select(Problem.id, Problem.status, Problem.lead_office)
        .join(ProblemCoOffice, ProblemCoOffice.problem_id == Problem.id)
        .where(Problem.campaign_id == campaign_id, ProblemCoOffice.campaign_id == campaign_id,
               ProblemCoOffice.office_code == from_office,
               Problem.status.not_in([s.value for s in FINAL_STATUSES]))
        .order_by(Problem.id)
    ).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    already: set[int] = set()
    for i in range(0, len(ids), BATCH):
        already.update(session.scalars(select(ProblemCoOffice.problem_id).where(
            ProblemCoOffice.problem_id.in_(ids[i:i + BATCH]),
            ProblemCoOffice.office_code == to_office)))
    for i in range(0, len(ids), BATCH):
        session.execute(delete(ProblemCoOffice).where(
            ProblemCoOffice.problem_id.in_(ids[i:i + BATCH]),
            ProblemCoOffice.office_code == from_office))
    # The new office joins as co-office unless it already is one, or leads the problem.
    fresh = [{"problem_id": r.id, "office_code": to_office, "campaign_id": campaign_id}
             for r in rows if r.id not in already and r.lead_office != to_office]
    for i in range(0, len(fresh), BATCH):
        session.execute(insert(ProblemCoOffice), fresh[i:i + BATCH])
    events = [{
        "campaign_id": campaign_id, "problem_id": r.id, "action": CO_OFFICE_ACTION,
        "from_status": r.status, "to_status": r.status, "actor": actor.user,
        "actor_role": actor.role.value, "actor_name": actor.name, "at": now,
        "note": f"协办单位由 {from_office} 改为 {to_office}：{note}", "evidence": [],
        "data": {"from_office": from_office, "office": to_office},
    } for r in rows]
    for i in range(0, len(events), BATCH):
        session.execute(insert(AuditEvent), events[i:i + BATCH])
    touch_problems(session, ids, now)
    for pid in ids:  # the core UPDATE bumped versions the ORM copies do not know
        loaded = session.identity_map.get(identity_key(Problem, pid))
        if loaded is not None:
            session.expire(loaded)
    return len(rows)


# ---- substitutes (代理) --------------------------------------------------------------------


@dataclass(frozen=True)
class SubstituteInfo:
    """A standing-in arrangement (代理) as listings show it."""

    id: int
    username: str
    name: str
    office_code: str
    starts_on: dt.date
    ends_on: dt.date
    reason: str
    granted_by: str
    granted_at: dt.datetime

    def in_force(self, on: dt.date) -> bool:
        """Whether the substitute may act for the office on this day."""
        return self.starts_on <= on <= self.ends_on

    @property
    def cancelled(self) -> bool:
        """Ended before it began: it never took effect."""
        return self.ends_on < self.starts_on


@dataclass(frozen=True)
class DelegationInfo:
    """One entry of the delegation log."""

    id: int
    campaign_id: int | None
    kind: str
    office_code: str
    to_office: str | None
    subject: str | None
    substitute_id: int | None
    actor: str
    at: dt.datetime
    note: str
    data: dict[str, Any]

    @property
    def kind_label(self) -> str:
        """批量改派 / 设置代理 / 结束代理."""
        return KIND_LABELS.get(self.kind, self.kind)


def set_substitute(
    uow: UnitOfWork,
    clock: Clock,
    office_code: str,
    substitute_username: str,
    starts_on: dt.date,
    ends_on: dt.date,
    reason: str,
    granted_by: str,
) -> int:
    """Let an office user stand in (代理) for another office over a period; returns its id.

    resolve_actor then gives the substitute the office on every day of [starts_on, ends_on].
    """
    today = local_today(clock)
    if ends_on < starts_on:
        raise DelegationError(f"代理结束日期（{ends_on}）不能早于开始日期（{starts_on}）")
    if ends_on < today:
        raise DelegationError(f"代理结束日期（{ends_on}）已过（今天 {today}）")
    if not reason.strip():
        raise DelegationError("设置代理须填写原因")
    session = uow.session
    grantor = resolve_actor(session, granted_by, today)
    _require_role(grantor, GRANTORS, "设置代理")
    user = session.scalar(select(User).where(User.username == substitute_username))
    if user is None:
        raise NotFound(f"用户不存在：{substitute_username}")
    if not user.active:
        raise DelegationError(f"用户已停用，不能设为代理：{substitute_username}")
    if user.role != Role.OFFICE.value:
        raise DelegationError(
            f"只有责任办室用户可以代理办室：{substitute_username} 是"
            f"{ROLE_LABELS[Role(user.role)]}用户")
    if session.scalar(select(Office.id).where(Office.code == office_code).limit(1)) is None:
        raise NotFound(f"责任办室未定义：{office_code}")
    if user.office_code == office_code:
        raise DelegationError(f"{user.name or substitute_username} 本就属于该办室，无须代理")
    overlap = session.scalar(select(Substitute).where(
        Substitute.user_id == user.id, Substitute.office_code == office_code,
        Substitute.starts_on <= ends_on, Substitute.ends_on >= starts_on).limit(1))
    if overlap is not None:
        raise DelegationError(
            f"{user.name or substitute_username} 在 {overlap.starts_on}至{overlap.ends_on} "
            f"已代理该办室（代理编号 {overlap.id}），期间不能重叠")
    row = Substitute(user_id=user.id, office_code=office_code, starts_on=starts_on,
                     ends_on=ends_on, reason=reason.strip(), granted_by=grantor.user,
                     granted_at=clock.now())
    session.add(row)
    session.flush()
    session.add(DelegationEvent(
        campaign_id=None, kind="substitute_add", office_code=office_code, to_office=None,
        subject=user.username, substitute_id=row.id, actor=grantor.user, at=clock.now(),
        note=reason.strip(),
        data={"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()},
    ))
    return row.id


def end_substitute(
    uow: UnitOfWork,
    clock: Clock,
    substitute_id: int,
    ended_by: str,
    note: str = "",
) -> SubstituteInfo:
    """End a substitute now: from today on it no longer acts. Returns the ended arrangement.

    The last day becomes yesterday; an arrangement that had not started yet never takes
    effect (its last day is then before its first: `SubstituteInfo.cancelled`).
    """
    today = local_today(clock)
    session = uow.session
    actor = resolve_actor(session, ended_by, today)
    _require_role(actor, GRANTORS, "结束代理")
    row = session.get(Substitute, substitute_id)
    if row is None:
        raise NotFound(f"代理不存在：编号 {substitute_id}")
    if row.ends_on < today:
        raise DelegationError(f"代理 {substitute_id} 已于 {row.ends_on} 结束")
    was = row.ends_on
    row.ends_on = today - dt.timedelta(days=1)
    user = session.get(User, row.user_id)
    session.add(DelegationEvent(
        campaign_id=None, kind="substitute_end", office_code=row.office_code, to_office=None,
        subject=user.username if user else None, substitute_id=row.id, actor=actor.user,
        at=clock.now(), note=note.strip(),
        data={"ends_on_was": was.isoformat(), "ends_on": row.ends_on.isoformat()},
    ))
    session.flush()
    assert user is not None  # substitute.user_id is a foreign key
    return _substitute_info(row, user)


def list_substitutes(
    uow: UnitOfWork, *, on: dt.date | None = None, office: str | None = None
) -> list[SubstituteInfo]:
    """Substitutes, newest first; only those in force on `on` when it is given."""
    session = uow.session
    stmt = (select(Substitute, User).join(User, User.id == Substitute.user_id)
            .order_by(Substitute.id.desc()))
    if on is not None:
        stmt = stmt.where(Substitute.starts_on <= on, Substitute.ends_on >= on)
    if office is not None:
        stmt = stmt.where(Substitute.office_code == office)
    return [_substitute_info(s, u) for s, u in session.execute(stmt)]


def _substitute_info(s: Substitute, u: User) -> SubstituteInfo:
    return SubstituteInfo(id=s.id, username=u.username, name=u.name, office_code=s.office_code,
                          starts_on=s.starts_on, ends_on=s.ends_on, reason=s.reason,
                          granted_by=s.granted_by, granted_at=s.granted_at)


def delegation_log(
    uow: UnitOfWork,
    *,
    office: str | None = None,
    campaign_id: int | None = None,
    limit: int = 200,
) -> list[DelegationInfo]:
    """The delegation log, newest first."""
    session = uow.session
    stmt = select(DelegationEvent).order_by(DelegationEvent.id.desc()).limit(limit)
    if office is not None:
        stmt = stmt.where((DelegationEvent.office_code == office)
                          | (DelegationEvent.to_office == office))
    if campaign_id is not None:
        stmt = stmt.where(DelegationEvent.campaign_id == campaign_id)
    return [DelegationInfo(id=e.id, campaign_id=e.campaign_id, kind=e.kind,
                           office_code=e.office_code, to_office=e.to_office,
                           subject=e.subject, substitute_id=e.substitute_id, actor=e.actor,
                           at=e.at, note=e.note, data=dict(e.data))
            for e in session.scalars(stmt)]
