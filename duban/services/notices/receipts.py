"""Voiding a notice and its addressee's receipt (签收), which starts deadlines under basis signed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duban.domain.clock import Clock, local_today
from duban.domain.deadlines import deemed_signed_on
from duban.domain.errors import DubanError, NotFound, PermissionDenied
from duban.domain.lifecycle import OPEN_STATUSES, Actor, Role
from duban.domain.plan import DeadlineBasis
from duban.domain.workdays import WorkCalendar
from duban.services.actors import SYSTEM_ACTOR, resolve_actor
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.moves import signed_deadline
from duban.services.notices.documents import KIND_NOTICE
from duban.services.notices.reading import NoticeRow, notice_row
from models import AuditEvent, Notice, NoticeProblem, NoticeReceipt, Problem

START_DEADLINE = "start_deadline"  # the audit event of a deadline that starts at the 签收


def void_notice(uow: UnitOfWork, clock: Clock, notice_id: int, *, username: str,
                reason: str) -> NoticeRow:
    """Void a notice; its number stays on record and its problems may go on a new notice."""
    if not reason.strip():
        raise DubanError("作废通知书须说明理由")
    session = uow.session
    notice = session.get(Notice, notice_id, with_for_update=True)
    if notice is None:
        raise NotFound(f"通知书不存在：编号 {notice_id}")
    actor = resolve_actor(session, username, local_today(clock))
    if actor.role not in (Role.COUNTY, Role.SYSTEM):
        raise PermissionDenied(f"只有县级办公室可以作废通知书（{notice.number}）")
    if notice.voided:
        raise DubanError(f"通知书 {notice.number} 已作废，不能重复作废")
    notice.voided = True
    notice.void_reason = reason.strip()
    notice.voided_at = clock.now()
    notice.voided_by = username
    session.execute(delete(NoticeProblem).where(NoticeProblem.notice_id == notice.id))
    return notice_row(notice)


def acknowledge_notice(uow: UnitOfWork, clock: Clock, notice_id: int, username: str) -> NoticeRow:
    """Record the addressee office's receipt (签收) of a notice; once per notice."""
    session = uow.session
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"通知书不存在：编号 {notice_id}")
    actor = resolve_actor(session, username, local_today(clock))
    if notice.voided:
        raise DubanError(f"通知书 {notice.number} 已作废，无需签收")
    other_campaign = (actor.campaigns is not None
                      and notice.campaign_id not in actor.campaigns)
    if (notice.office_code not in actor.offices or other_campaign) \
            and actor.role is not Role.SYSTEM:
        from duban.services.views.names import names_in, person_labels

        whom = names_in(session, notice.campaign_id).office(notice.office_code) or "全县"
        who = person_labels(session, [username]).get(username, username)
        raise PermissionDenied(f"通知书 {notice.number} 主送{whom}，{who}不能代为签收")
    existing = session.scalar(
        select(NoticeReceipt).where(NoticeReceipt.notice_id == notice.id)
    )
    if existing is not None:
        from duban.services.views.names import person_labels

        who = person_labels(session, [existing.username]).get(existing.username,
                                                              existing.username)
        raise DubanError(
            f"通知书 {notice.number} 已由{who}于 "
            f"{existing.received_at.isoformat(timespec='minutes')} 签收"
        )
    session.add(NoticeReceipt(notice_id=notice.id, office_code=notice.office_code,
                              username=username, received_at=clock.now()))
    start_deadlines(session, clock, notice, local_today(clock), actor)
    session.flush()
    return notice_row(notice, username)


def start_deadlines(session: Session, clock: Clock, notice: Notice, signed_on: dt.date,
                    actor: Actor, *, deemed: bool = False) -> list[int]:
    """Under basis signed, date the deadlines the notice's 签收 starts; the problems' ids.

    Only the problems it lists for its addressee as lead office whose deadline still waits
    (a co-office's 签收 starts nothing; one the office already signed for itself has a date).
    """
    plan = load_plan_of(session, notice.campaign_id)
    if plan.deadlines.basis is not DeadlineBasis.SIGNED or notice.kind != KIND_NOTICE:
        return []
    waiting = session.scalars(
        select(Problem).join(NoticeProblem, NoticeProblem.problem_id == Problem.id).where(
            NoticeProblem.notice_id == notice.id, NoticeProblem.co_office.is_(False),
            Problem.lead_office == notice.office_code, Problem.deadline.is_(None),
            Problem.status.in_([s.value for s in OPEN_STATUSES]),
        ).order_by(Problem.id)).all()
    now = clock.now()
    how = (f"督办通知书 {notice.number} 逾期未签收，视为签收" if deemed
           else f"签收督办通知书 {notice.number}")
    started = []
    for problem in waiting:
        deadline = signed_deadline(plan, problem, signed_on, deemed=deemed)
        if deadline.date is None:
            continue
        problem.deadline, problem.deadline_basis = deadline.date, deadline.basis[:200]
        problem.updated_at = now
        session.add(AuditEvent(
            campaign_id=problem.campaign_id, problem_id=problem.id, action=START_DEADLINE,
            from_status=problem.status, to_status=problem.status, actor=actor.user,
            actor_role=actor.role.value, actor_name=actor.name, at=now,
            note=f"{how}，整改时限起算：{deadline.basis}",
            data={"notice": notice.number, "signed_on": signed_on.isoformat(),
                  "deemed": deemed, "deadline": deadline.date.isoformat()}))
        started.append(problem.id)
    return started


def deem_unsigned(uow: UnitOfWork, clock: Clock, campaign_id: int,
                  calendar: WorkCalendar) -> list[int]:
    """Under basis signed, start the deadlines of notices left unsigned past the plan's days.

    Such a notice counts as signed (视为签收) on the day its working days ran out, so an office
    cannot hold its deadlines back by not signing; the notice itself stays unsigned (and is
    still reminded). Returns the problems whose deadlines started.
    """
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    if plan.deadlines.basis is not DeadlineBasis.SIGNED:
        return []
    today = local_today(clock)
    waiting = (select(NoticeProblem.notice_id).join(Problem, Problem.id == NoticeProblem.problem_id)
               .where(NoticeProblem.co_office.is_(False), Problem.deadline.is_(None)))
    notices = session.scalars(select(Notice).where(
        Notice.campaign_id == campaign_id, Notice.kind == KIND_NOTICE,
        Notice.voided.is_(False), Notice.issued_on < today,
        Notice.id.not_in(select(NoticeReceipt.notice_id)), Notice.id.in_(waiting),
    ).order_by(Notice.id)).all()
    started: list[int] = []
    for notice in notices:
        day = deemed_signed_on(calendar, notice.issued_on, plan.deadlines)
        if day <= today:
            started += start_deadlines(session, clock, notice, day, SYSTEM_ACTOR, deemed=True)
    return started


