"""Voiding a notice and its addressee's receipt (签收)."""

from __future__ import annotations

from sqlalchemy import delete, select

from duban.domain.clock import Clock, local_today
from duban.domain.errors import DubanError, NotFound, PermissionDenied
from duban.domain.lifecycle import Role
from duban.services.actors import resolve_actor
from duban.services.database import UnitOfWork
from duban.services.notices.reading import NoticeRow, notice_row
from models import Notice, NoticeProblem, NoticeReceipt


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
        raise PermissionDenied(
            f"通知书 {notice.number} 主送 {notice.office_code}，{username} 不能代为签收"
        )
    existing = session.scalar(
        select(NoticeReceipt).where(NoticeReceipt.notice_id == notice.id)
    )
    if existing is not None:
        raise DubanError(
            f"通知书 {notice.number} 已由 {existing.username} 于 "
            f"{existing.received_at.isoformat(timespec='minutes')} 签收"
        )
    session.add(NoticeReceipt(notice_id=notice.id, office_code=notice.office_code,
                              username=username, received_at=clock.now()))
    session.flush()
    return notice_row(notice, username)


