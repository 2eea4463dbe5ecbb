"""Numbered documents: 督办通知书 per office, 催办通知 and 通报; receipts (签收) and downloads.

Numbering: one `document_number_register` row per 机关代字 and year holds the next sequence
number. Issuing locks that row first (an UPDATE: a row lock on PostgreSQL, the database write
lock on SQLite), allocates numbers, renders every file into the content-addressed store and
inserts the notice rows, all in one transaction. A crash before the commit leaves at most an
orphan file in the store and no number used; a retry with the same batch key returns the
notices the first committed run made. So numbers have no gaps and no duplicates.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.adapters.documents.context import (
    ContactPerson,
    NoticeContext,
    NoticeItem,
    OfficialDocument,
    Requirement,
)
from duban.domain.clock import Clock, local_today
from duban.domain.errors import DubanError, NotFound, PermissionDenied
from duban.domain.lifecycle import OPEN_STATUSES, Role
from duban.domain.numbering import format_date_cn, format_document_number
from duban.domain.plan import Plan
from duban.services.actors import resolve_actor
from duban.services.campaigns import ensure_running, load_plan_of
from duban.services.database import Database, data_dir
from duban.services.scoping import Scope, visible_office_codes
from duban.services.templates import template_dir_for
from duban.services.views.names import Names, names_in
from models import (
    DocumentNumberRegister,
    Household,
    Notice,
    NoticeProblem,
    NoticeReceipt,
    Office,
    Problem,
    ProblemCoOffice,
)

KIND_NOTICE = "notice"  # 督办通知书
KIND_REMINDER = "reminder"  # 催办通知
KIND_BULLETIN = "bulletin"  # 通报
KIND_LABELS = {KIND_NOTICE: "督办通知书", KIND_REMINDER: "催办通知", KIND_BULLETIN: "通报"}

DOCUMENTS_DIR = "documents"
CHUNK = 2000


class NoticeFileCorrupt(DubanError):
    """A stored notice file whose checksum no longer matches the register."""


@dataclass(frozen=True)
class NoticeRow:
    """An issued document as callers see it."""

    id: int
    campaign_id: int
    kind: str
    number: str
    office_code: str
    title: str
    problem_ids: tuple[int, ...]
    issued_on: str
    issued_by: str
    batch_key: str
    file_path: str
    sha256: str
    voided: bool
    acknowledged_by: str | None = None

    @property
    def path(self) -> Path:
        """Where the file is in the data directory."""
        return data_dir() / self.file_path


def _row(notice: Notice, acknowledged_by: str | None = None) -> NoticeRow:
    return NoticeRow(
        id=notice.id,
        campaign_id=notice.campaign_id,
        kind=notice.kind,
        number=notice.number,
        office_code=notice.office_code,
        title=notice.title,
        problem_ids=tuple(int(p) for p in notice.problem_ids),
        issued_on=notice.issued_on.isoformat(),
        issued_by=notice.issued_by,
        batch_key=notice.batch_key,
        file_path=notice.file_path,
        sha256=notice.sha256,
        voided=notice.voided,
        acknowledged_by=acknowledged_by,
    )


# ------------------------------------------------------------------------------ file store


def store_rendered(render: Callable[[Path], object]) -> tuple[str, str, int]:
    """Render into a temporary file, then move it to documents/<sha256>.docx.

    Returns (path relative to the data directory, sha256, size). Identical content lands on
    the same name, so a crash and a retry never leave two different files for one notice.
    """
    store = data_dir() / DOCUMENTS_DIR
    store.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".render-", suffix=".docx", dir=store)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        render(tmp_path)
        data = tmp_path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        target = store / f"{digest}.docx"
        os.replace(tmp_path, target)
        return f"{DOCUMENTS_DIR}/{digest}.docx", digest, len(data)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


# ------------------------------------------------------------------------------ numbering


def _ensure_register(db: Database, prefix: str, year: int) -> None:
    """Create the register row for a 代字 and year if missing (its own short transaction)."""
    try:
        with db.transaction() as session:
            exists = session.scalar(
                select(DocumentNumberRegister.id).where(
                    DocumentNumberRegister.prefix == prefix, DocumentNumberRegister.year == year
                )
            )
            if exists is None:
                session.add(DocumentNumberRegister(prefix=prefix, year=year, next_number=1))
    except IntegrityError:
        pass  # another issuer created it at the same moment


def lock_register(session: Session, prefix: str, year: int) -> DocumentNumberRegister:
    """Lock the register row: must be the transaction's first statement on SQLite."""
    # A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite before
    # anything is read, so two issuers never see the same next number.
    session.execute(
        update(DocumentNumberRegister)
        .where(DocumentNumberRegister.prefix == prefix, DocumentNumberRegister.year == year)
        .values(next_number=DocumentNumberRegister.next_number)
    )
    register = session.scalar(
        select(DocumentNumberRegister)
        .where(DocumentNumberRegister.prefix == prefix, DocumentNumberRegister.year == year)
        .with_for_update()
    )
    if register is None:
        raise NotFound(f"文号登记簿不存在：{prefix}〔{year}〕")
    return register


def prepare_numbering(db: Database, plan: Plan, clock: Clock) -> tuple[str, int]:
    """The 代字 and year a document issued now is numbered in; creates the register row."""
    prefix, year = plan.notice_prefix, local_today(clock).year
    _ensure_register(db, prefix, year)
    return prefix, year


def issue_document(
    session: Session,
    clock: Clock,
    register: DocumentNumberRegister,
    *,
    campaign_id: int,
    kind: str,
    office_code: str,
    problem_ids: Sequence[int],
    issued_by: str,
    batch_key: str,
    build: Callable[[str], OfficialDocument],
    render: Callable[..., object],
) -> Notice:
    """Take the next number from a locked register, render, store and record one document.

    The campaign's own templates, when it installed some, override the shipped ones; a broken
    template raises before the number is taken, so nothing is issued or numbered.
    """
    seq = register.next_number
    number = format_document_number(register.prefix, register.year, seq)
    ctx = build(number)
    templates = template_dir_for(campaign_id)
    file_path, digest, size = store_rendered(
        lambda path: render(ctx, path, template_dir=templates))
    now = clock.now()
    notice = Notice(
        campaign_id=campaign_id,
        kind=kind,
        number=number,
        prefix=register.prefix,
        year=register.year,
        seq=seq,
        office_code=office_code,
        title=ctx.title,
        problem_ids=list(problem_ids),
        issued_at=now,
        issued_on=local_today(clock),
        issued_by=issued_by,
        batch_key=batch_key,
        file_path=file_path,
        sha256=digest,
        size=size,
    )
    session.add(notice)
    register.next_number = seq + 1
    session.flush()
    return notice


# ------------------------------------------------------------------------------ 督办通知书


def county_contact(session: Session, campaign_id: int, plan: Plan) -> ContactPerson | None:
    """The county office's first contact person, for a document's 附注."""
    contacts = session.scalar(select(Office.contacts).where(
        Office.campaign_id == campaign_id, Office.code == plan.county_office))
    if not contacts:
        return None
    first = contacts[0]
    return ContactPerson(name=first.get("name", ""), phone=first.get("phone", ""))


def letterhead(plan: Plan, contact: ContactPerson | None = None) -> dict[str, Any]:
    """The 版头 and 附注 fields every document of a campaign shares."""
    return {
        "issuer": plan.issuer,
        "issuer_mark": plan.issuer_short or plan.issuer,
        "seal_text": plan.issuer,
        "contact": contact,
    }


NOTICE_REQUIREMENTS = (
    Requirement("提高站位，立行立改。", "请对照问题清单逐项明确整改措施、责任人和完成时限，"
                "能立即整改的立即整改，一时难以整改的制定计划限期整改。"),
    Requirement("对账销号，按时报送。", "整改完成后及时上传佐证资料，每日报送整改进度；"
                "逾期未完成的，将按规定催办、督办并予以通报。"),
)


def _notice_context(
    plan: Plan,
    names: Names,
    contact: ContactPerson | None,
    office_name: str,
    problems: Sequence[Problem],
    households: dict[str, str],
    co_offices: dict[int, list[str]],
    number: str,
    *,
    clock: Clock,
) -> NoticeContext:
    items = [
        NoticeItem(
            seq=i,
            code=p.code,
            town=names.town(p.town_code),
            village=names.village(p.village_code),
            household=households.get(p.household_id or "", p.household_id or ""),
            description=p.description,
            requirement="按时限完成整改并上传佐证资料",
            deadline=p.deadline or local_today(clock),
            co_offices=[names.office(c) for c in co_offices.get(p.id, [])],
        )
        for i, p in enumerate(problems, start=1)
    ]
    earliest = min(i.deadline for i in items)
    return NoticeContext(
        **letterhead(plan, contact),
        title=f"关于限期整改{plan.name}排查问题的督办通知书",
        issued_on=local_today(clock),
        number=number,
        addressee=office_name,
        intro=(
            f"在{plan.name}中，经排查和汇总，交由你单位牵头整改的问题共{len(items)}个"
            f"（详见附件《督办问题清单》），最早整改时限为{format_date_cn(earliest)}。"
            "现予督办，请按以下要求抓好整改落实。"
        ),
        problems=items,
        requirements=NOTICE_REQUIREMENTS,
    )


def _render_notice(ctx: NoticeContext, path: Path, template_dir: Path | None = None) -> object:
    from duban.adapters.documents.render import render_notice

    return render_notice(ctx, path, template_dir=template_dir)


def _acknowledgers(session: Session, notice_ids: Iterable[int]) -> dict[int, str]:
    ids = list(notice_ids)
    if not ids:
        return {}
    return dict(session.execute(
        select(NoticeReceipt.notice_id, NoticeReceipt.username)
        .where(NoticeReceipt.notice_id.in_(ids))
    ).all())


def issue_notices(
    db: Database,
    clock: Clock,
    campaign_id: int,
    *,
    issued_by: str,
    batch_key: str,
    offices: Sequence[str] | None = None,
) -> list[NoticeRow]:
    """One 督办通知书 per lead office, listing its open routed problems not yet on a notice.

    A retry with the same batch key returns the notices of the first (committed) run.
    """
    from duban.services.messages import notice_issued_messages, office_rows

    with db.transaction() as session:
        ensure_running(session, campaign_id, "下发督办通知书")
        plan = load_plan_of(session, campaign_id)
    prefix, year = prepare_numbering(db, plan, clock)
    with db.transaction() as session:
        register = lock_register(session, prefix, year)
        done = session.scalars(
            select(Notice).where(Notice.campaign_id == campaign_id, Notice.kind == KIND_NOTICE,
                                 Notice.batch_key == batch_key).order_by(Notice.seq)
        ).all()
        if done:
            acks = _acknowledgers(session, (n.id for n in done))
            return [_row(n, acks.get(n.id)) for n in done]
        on_notice = select(NoticeProblem.problem_id).where(NoticeProblem.kind == KIND_NOTICE)
        stmt = (
            select(Problem)
            .where(
                Problem.campaign_id == campaign_id,
                Problem.status.in_([s.value for s in OPEN_STATUSES]),
                Problem.lead_office.is_not(None),
                Problem.id.not_in(on_notice),
            )
            .order_by(Problem.lead_office, Problem.deadline, Problem.code)
        )
        if offices is not None:
            stmt = stmt.where(Problem.lead_office.in_(list(offices)))
        problems = list(session.scalars(stmt))
        if not problems:
            return []
        names = names_in(session, campaign_id, plan)
        contact = county_contact(session, campaign_id, plan)
        households = _household_heads(session, campaign_id, problems)
        co_offices = _co_offices(session, [p.id for p in problems])
        by_office: dict[str, list[Problem]] = {}
        for p in problems:
            assert p.lead_office is not None
            by_office.setdefault(p.lead_office, []).append(p)
        office_of = office_rows(session, campaign_id, list(by_office))
        issued: list[Notice] = []
        for code in sorted(by_office):
            office = office_of.get(code)
            if office is None:
                raise NotFound(f"责任办室未定义：{code}（行动 {campaign_id}）")
            group = by_office[code]
            notice = issue_document(
                session, clock, register,
                campaign_id=campaign_id, kind=KIND_NOTICE, office_code=code,
                problem_ids=[p.id for p in group], issued_by=issued_by, batch_key=batch_key,
                build=functools.partial(_notice_context, plan, names, contact, office.name,
                                        group, households, co_offices, clock=clock),
                render=_render_notice,
            )
            rows = [{"notice_id": notice.id, "problem_id": p.id, "kind": KIND_NOTICE}
                    for p in group]
            for i in range(0, len(rows), CHUNK):
                session.execute(insert(NoticeProblem), rows[i : i + CHUNK])
            notice_issued_messages(session, clock, plan, office, notice)
            issued.append(notice)
        return [_row(n) for n in issued]


def _household_heads(session: Session, campaign_id: int,
                     problems: Sequence[Problem]) -> dict[str, str]:
    ids = sorted({p.household_id for p in problems if p.household_id})
    heads: dict[str, str] = {}
    for i in range(0, len(ids), CHUNK):
        heads.update(session.execute(
            select(Household.household_id, Household.head).where(
                Household.campaign_id == campaign_id,
                Household.household_id.in_(ids[i : i + CHUNK]))
        ).all())
    return heads


def _co_offices(session: Session, problem_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for i in range(0, len(problem_ids), CHUNK):
        for pid, code in session.execute(
            select(ProblemCoOffice.problem_id, ProblemCoOffice.office_code)
            .where(ProblemCoOffice.problem_id.in_(problem_ids[i : i + CHUNK]))
            .order_by(ProblemCoOffice.problem_id, ProblemCoOffice.office_code)
        ):
            out.setdefault(pid, []).append(code)
    return out


# ------------------------------------------------------------------------------ void, 签收, files


def void_notice(db: Database, clock: Clock, notice_id: int, *, username: str,
                reason: str) -> NoticeRow:
    """Void a notice; its number stays on record and its problems may go on a new notice."""
    if not reason.strip():
        raise DubanError("作废通知书须说明理由")
    with db.transaction() as session:
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
        return _row(notice)


def acknowledge_notice(db: Database, clock: Clock, notice_id: int, username: str) -> NoticeRow:
    """Record the addressee office's receipt (签收) of a notice; once per notice."""
    with db.transaction() as session:
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
        return _row(notice, username)


def notice_file(db: Database, notice_id: int) -> bytes:
    """The stored file of a notice, byte for byte; the checksum is verified."""
    with db.transaction() as session:
        notice = session.get(Notice, notice_id)
        if notice is None:
            raise NotFound(f"通知书不存在：编号 {notice_id}")
        path, digest, number = notice.file_path, notice.sha256, notice.number
    full = data_dir() / path
    if not full.is_file():
        raise NoticeFileCorrupt(f"通知书 {number} 的文件缺失：{full}")
    data = full.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise NoticeFileCorrupt(f"通知书 {number} 的文件校验失败（SHA-256 不符），文件可能被改动")
    return data


def list_notices(db: Database, campaign_id: int, *, office: str | None = None,
                 kind: str | None = None) -> list[NoticeRow]:
    """A campaign's documents in number order, with who signed for them."""
    with db.transaction() as session:
        return _notices(session, select(Notice).where(Notice.campaign_id == campaign_id),
                        office=office, kind=kind)


def _notices(session: Session, stmt: Select[Any], *, office: str | None = None,
             kind: str | None = None) -> list[NoticeRow]:
    if office is not None:
        stmt = stmt.where(Notice.office_code == office)
    if kind is not None:
        stmt = stmt.where(Notice.kind == kind)
    notices = session.scalars(stmt.order_by(Notice.year, Notice.seq)).all()
    acks = _acknowledgers(session, (n.id for n in notices))
    return [_row(n, acks.get(n.id)) for n in notices]


def visible_notices(session: Session, scope: Scope, campaign_id: int) -> list[NoticeRow]:
    """A campaign's documents the scope may read (its offices' mail), in number order."""
    rows = _notices(session, select(Notice).where(Notice.campaign_id == campaign_id))
    offices = visible_office_codes(session, scope, campaign_id)
    return rows if offices is None else [n for n in rows if n.office_code in offices]


def visible_notice(session: Session, scope: Scope, notice_id: int) -> NoticeRow:
    """A document the scope may read, or NotFound (the same answer as for a missing one)."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"通知书不存在：编号 {notice_id}")
    offices = visible_office_codes(session, scope, notice.campaign_id)
    if offices is not None and notice.office_code not in offices:
        raise NotFound(f"通知书不存在或无权查看：编号 {notice_id}")
    return _row(notice, _acknowledgers(session, [notice.id]).get(notice.id))


def offices_without_notice(db: Database, campaign_id: int) -> list[str]:
    """Lead offices that have open routed problems not yet on a live 督办通知书."""
    with db.transaction() as session:
        on_notice = select(NoticeProblem.problem_id).where(NoticeProblem.kind == KIND_NOTICE)
        return list(session.scalars(
            select(Problem.lead_office).where(
                Problem.campaign_id == campaign_id,
                Problem.status.in_([s.value for s in OPEN_STATUSES]),
                Problem.lead_office.is_not(None),
                Problem.id.not_in(on_notice),
            ).distinct().order_by(Problem.lead_office)
        ))
