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

from sqlalchemy import ColumnElement, Select, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
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
from duban.domain.plan import CoOfficeNotice, Plan
from duban.services.actors import resolve_actor
from duban.services.campaigns import ensure_running, load_plan_of
from duban.services.database import UnitOfWork, data_dir
from duban.services.scoping import Scope, visible_office_codes
from duban.services.templates import template_dir_for
from duban.services.views.names import Names, names_in
from models import (
    DocumentNumberRegister,
    Household,
    Notice,
    NoticeCopy,
    NoticeProblem,
    NoticeReceipt,
    NoticeRound,
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
    copy_to: tuple[str, ...] = ()  # offices named in its 抄送 line

    def concerns(self, offices: Iterable[str]) -> bool:
        """Whether the notice is addressed or copied to one of these offices."""
        mine = set(offices)
        return self.office_code in mine or bool(mine.intersection(self.copy_to))

    @property
    def path(self) -> Path:
        """Where the file is in the data directory."""
        return data_dir() / self.file_path


def _row(notice: Notice, acknowledged_by: str | None = None,
         copy_to: tuple[str, ...] = ()) -> NoticeRow:
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
        copy_to=copy_to,
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


def lock_register(session: Session, prefix: str, year: int) -> DocumentNumberRegister:
    """Lock the register row of a 代字 and year, creating it when missing.

    Must come before the unit of work reads what it numbers: the INSERT (a no-op when the row
    exists, and waiting for a concurrent creator on PostgreSQL) and the no-op UPDATE take the
    row lock on PostgreSQL and the write lock on SQLite, so two issuers never see the same
    next number.
    """
    dialect = session.get_bind().dialect.name
    base: Any = postgresql.insert(DocumentNumberRegister) if dialect == "postgresql" \
        else sqlite.insert(DocumentNumberRegister)
    session.execute(base.values(prefix=prefix, year=year, next_number=1)
                    .on_conflict_do_nothing(index_elements=["prefix", "year"]))
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


def numbering_key(plan: Plan, clock: Clock) -> tuple[str, int]:
    """The 代字 and year a document issued now is numbered in."""
    return plan.notice_prefix, local_today(clock).year


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


@dataclass(frozen=True)
class _Listed:
    """A problem on the notice to one addressee: as its lead, or as a co-office (配合)."""

    problem: Problem
    co_office: bool


def _notice_context(
    plan: Plan,
    names: Names,
    contact: ContactPerson | None,
    office: Office,
    listed: Sequence[_Listed],
    households: dict[str, str],
    co_offices: dict[int, list[str]],
    copy_to: Sequence[str],
    number: str,
    *,
    clock: Clock,
) -> NoticeContext:
    items = []
    for i, entry in enumerate(listed, start=1):
        p = entry.problem
        lead = names.office(p.lead_office) if entry.co_office else ""
        items.append(NoticeItem(
            seq=i,
            code=p.code,
            town=names.town(p.town_code),
            village=names.village(p.village_code),
            household=households.get(p.household_id or "", p.household_id or ""),
            description=p.description,
            requirement="配合牵头单位按时限完成整改" if entry.co_office
            else "按时限完成整改并上传佐证资料",
            deadline=p.deadline or local_today(clock),
            co_offices=[names.office(c) for c in co_offices.get(p.id, []) if c != office.code],
            lead=lead,
        ))
    earliest = min(i.deadline for i in items)
    leads = sum(1 for e in listed if not e.co_office)
    if leads == len(items):
        share = f"交由你单位牵头整改的问题共{len(items)}个"
    elif leads == 0:
        share = f"需你单位配合牵头单位整改的问题共{len(items)}个"
    else:
        share = (f"交由你单位整改的问题共{len(items)}个（牵头{leads}个、"
                 f"配合{len(items) - leads}个）")
    return NoticeContext(
        **letterhead(plan, contact),
        title=f"关于限期整改{plan.name}排查问题的督办通知书",
        issued_on=local_today(clock),
        number=number,
        addressee=office.name,
        intro=(
            f"在{plan.name}中，经排查和汇总，{share}"
            f"（详见附件《督办问题清单》），最早整改时限为{format_date_cn(earliest)}。"
            "现予督办，请按以下要求抓好整改落实。"
        ),
        problems=items,
        requirements=NOTICE_REQUIREMENTS,
        copy_to=[names.office(c) for c in copy_to],
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


def _copies(session: Session, notice_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    ids = list(notice_ids)
    out: dict[int, list[str]] = {}
    for i in range(0, len(ids), CHUNK):
        for nid, code in session.execute(
            select(NoticeCopy.notice_id, NoticeCopy.office_code)
            .where(NoticeCopy.notice_id.in_(ids[i : i + CHUNK]))
            .order_by(NoticeCopy.notice_id, NoticeCopy.office_code)
        ):
            out.setdefault(nid, []).append(code)
    return {k: tuple(v) for k, v in out.items()}


def _rows(session: Session, notices: Sequence[Notice]) -> list[NoticeRow]:
    acks = _acknowledgers(session, (n.id for n in notices))
    copies = _copies(session, (n.id for n in notices))
    return [_row(n, acks.get(n.id), copies.get(n.id, ())) for n in notices]


def _open_routed(campaign_id: int) -> list[ColumnElement[bool]]:
    return [
        Problem.campaign_id == campaign_id,
        Problem.status.in_([s.value for s in OPEN_STATUSES]),
        Problem.lead_office.is_not(None),
    ]


def _not_listed_for(office: Any) -> ColumnElement[bool]:
    """The problem is on no live 督办通知书 to `office` (a column or a code)."""
    return ~select(NoticeProblem.problem_id).where(
        NoticeProblem.problem_id == Problem.id, NoticeProblem.kind == KIND_NOTICE,
        NoticeProblem.office_code == office,
    ).exists()


def _modes(plan: Plan, offices: dict[str, Office]) -> dict[str, CoOfficeNotice]:
    """What each co-office of the campaign receives, by its level."""
    return {code: plan.notices.co_offices.of(o.level) for code, o in offices.items()}


def _pending(session: Session, plan: Plan, office_of: dict[str, Office], campaign_id: int,
             offices: Sequence[str] | None) -> dict[str, list[_Listed]]:
    """Per addressee, the problems to list: led ones not yet on its notice, then co-offices'."""
    lead_stmt = (
        select(Problem)
        .where(*_open_routed(campaign_id), _not_listed_for(Problem.lead_office))
        .order_by(Problem.lead_office, Problem.deadline, Problem.code)
    )
    if offices is not None:
        lead_stmt = lead_stmt.where(Problem.lead_office.in_(list(offices)))
    by_office: dict[str, list[_Listed]] = {}
    for p in session.scalars(lead_stmt):
        assert p.lead_office is not None
        by_office.setdefault(p.lead_office, []).append(_Listed(p, False))
    modes = _modes(plan, office_of)
    own = sorted(c for c, m in modes.items() if m is CoOfficeNotice.OWN
                 and (offices is None or c in offices))
    if own:
        co_stmt = (
            select(ProblemCoOffice.office_code, Problem)
            .join(Problem, Problem.id == ProblemCoOffice.problem_id)
            .where(*_open_routed(campaign_id), ProblemCoOffice.office_code.in_(own),
                   _not_listed_for(ProblemCoOffice.office_code))
            .order_by(ProblemCoOffice.office_code, Problem.deadline, Problem.code)
        )
        for code, p in session.execute(co_stmt).all():
            by_office.setdefault(code, []).append(_Listed(p, True))
    return by_office


def issue_notices(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    *,
    issued_by: str,
    batch_key: str,
    offices: Sequence[str] | None = None,
    round_key: str | None = None,
) -> list[NoticeRow]:
    """One 督办通知书 per responsible office, listing its open problems not yet on one to it.

    The lead office gets every problem it leads; a co-office (协办) gets its own notice, a copy
    (抄送) of the lead's, or nothing, as the plan's `notices.co_offices` says for its level.
    A retry with the same batch key returns the notices of the first (committed) run. With
    `round_key`, the rolling round is recorded in the same transaction (see issue_round).
    """
    from duban.services.messages import office_rows

    session = uow.session
    ensure_running(session, campaign_id, "下发督办通知书")
    plan = load_plan_of(session, campaign_id)
    register = lock_register(session, *numbering_key(plan, clock))
    done = session.scalars(
        select(Notice).where(Notice.campaign_id == campaign_id, Notice.kind == KIND_NOTICE,
                             Notice.batch_key == batch_key).order_by(Notice.seq)
    ).all()
    if done:
        return _rows(session, done)
    office_of = office_rows(session, campaign_id)
    by_office = _pending(session, plan, office_of, campaign_id, offices)
    issued = _issue(session, clock, plan, office_of, register, campaign_id, by_office,
                    issued_by=issued_by, batch_key=batch_key)
    if round_key is not None:
        session.add(NoticeRound(campaign_id=campaign_id, round_key=round_key,
                                ran_at=clock.now(), notices=len(issued)))
        session.flush()
    return _rows(session, issued)


def _issue(session: Session, clock: Clock, plan: Plan, office_of: dict[str, Office],
           register: DocumentNumberRegister, campaign_id: int,
           by_office: dict[str, list[_Listed]], *, issued_by: str,
           batch_key: str) -> list[Notice]:
    from duban.services.messages import notice_copied_messages, notice_issued_messages

    if not by_office:
        return []
    problems = [e.problem for group in by_office.values() for e in group]
    names = names_in(session, campaign_id, plan)
    contact = county_contact(session, campaign_id, plan)
    households = _household_heads(session, campaign_id, problems)
    co_offices = _co_offices(session, sorted({p.id for p in problems}))
    modes = _modes(plan, office_of)
    issued: list[Notice] = []
    for code in sorted(by_office):
        office = office_of.get(code)
        if office is None:
            raise NotFound(f"责任办室未定义：{code}（行动 {campaign_id}）")
        group = by_office[code]
        # 抄送: the co-offices of the problems this office leads whose level the plan copies.
        copy_to = sorted({c for e in group if not e.co_office
                          for c in co_offices.get(e.problem.id, [])
                          if c != code and modes.get(c) is CoOfficeNotice.COPY})
        notice = issue_document(
            session, clock, register,
            campaign_id=campaign_id, kind=KIND_NOTICE, office_code=code,
            problem_ids=[e.problem.id for e in group], issued_by=issued_by, batch_key=batch_key,
            build=functools.partial(_notice_context, plan, names, contact, office, group,
                                    households, co_offices, copy_to, clock=clock),
            render=_render_notice,
        )
        rows = [{"notice_id": notice.id, "problem_id": e.problem.id, "kind": KIND_NOTICE,
                 "office_code": code, "co_office": e.co_office} for e in group]
        for i in range(0, len(rows), CHUNK):
            session.execute(insert(NoticeProblem), rows[i : i + CHUNK])
        if copy_to:
            session.execute(insert(NoticeCopy), [{"notice_id": notice.id, "office_code": c}
                                                 for c in copy_to])
        notice_issued_messages(session, clock, plan, office, notice)
        for c in copy_to:
            shared = sum(1 for e in group if not e.co_office
                         and c in co_offices.get(e.problem.id, []))
            notice_copied_messages(session, clock, plan, office_of[c], office, notice, shared)
        issued.append(notice)
    return issued


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
    return _row(notice)


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
    return _row(notice, username)


def notice_file(uow: UnitOfWork, notice_id: int) -> bytes:
    """The stored file of a notice, byte for byte; the checksum is verified."""
    session = uow.session
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


def list_notices(uow: UnitOfWork, campaign_id: int, *, office: str | None = None,
                 kind: str | None = None) -> list[NoticeRow]:
    """A campaign's documents in number order, with who signed for them and their 抄送.

    With `office`, the documents addressed to it and those copied to it.
    """
    session = uow.session
    return _notices(session, select(Notice).where(Notice.campaign_id == campaign_id),
                    office=office, kind=kind)


def _notices(session: Session, stmt: Select[Any], *, office: str | None = None,
             kind: str | None = None) -> list[NoticeRow]:
    if office is not None:
        copied = select(NoticeCopy.notice_id).where(NoticeCopy.office_code == office)
        stmt = stmt.where(or_(Notice.office_code == office, Notice.id.in_(copied)))
    if kind is not None:
        stmt = stmt.where(Notice.kind == kind)
    return _rows(session, session.scalars(stmt.order_by(Notice.year, Notice.seq)).all())


def visible_notices(session: Session, scope: Scope, campaign_id: int) -> list[NoticeRow]:
    """A campaign's documents the scope may read (its offices' mail, 抄送 included)."""
    rows = _notices(session, select(Notice).where(Notice.campaign_id == campaign_id))
    offices = visible_office_codes(session, scope, campaign_id)
    return rows if offices is None else [n for n in rows if n.concerns(offices)]


def visible_notice(session: Session, scope: Scope, notice_id: int) -> NoticeRow:
    """A document the scope may read, or NotFound (the same answer as for a missing one)."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"通知书不存在：编号 {notice_id}")
    offices = visible_office_codes(session, scope, notice.campaign_id)
    (row,) = _rows(session, [notice])
    if offices is not None and not row.concerns(offices):
        raise NotFound(f"通知书不存在或无权查看：编号 {notice_id}")
    return row


def offices_without_notice(uow: UnitOfWork, campaign_id: int) -> list[str]:
    """Offices with open routed problems to list on a 督办通知书 that no live one lists for them.

    Lead offices, and co-offices that the plan gives notices of their own.
    """
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    leads = set(session.scalars(
        select(Problem.lead_office)
        .where(*_open_routed(campaign_id), _not_listed_for(Problem.lead_office))
        .distinct()
    ))
    levels = [level for level in ("county", "town", "village")
              if plan.notices.co_offices.of(level) is CoOfficeNotice.OWN]
    co: set[str] = set()
    if levels:
        co = set(session.scalars(
            select(ProblemCoOffice.office_code)
            .join(Problem, Problem.id == ProblemCoOffice.problem_id)
            .join(Office, (Office.campaign_id == campaign_id)
                  & (Office.code == ProblemCoOffice.office_code))
            .where(*_open_routed(campaign_id), Office.level.in_(levels),
                   _not_listed_for(ProblemCoOffice.office_code))
            .distinct()
        ))
    return sorted(c for c in leads | co if c)


@dataclass(frozen=True)
class NoticeTally:
    """The live 督办通知书 that concern some offices, for their dashboard."""

    addressed: int  # addressed to them (主送)
    unacknowledged: int  # of those, not yet signed for
    copied: int  # copied to them (抄送)
    lead_items: int  # problems listed for them as lead office
    co_items: int  # problems listed for them as co-office (配合)

    @property
    def any(self) -> bool:
        """Whether any notice concerns them."""
        return bool(self.addressed or self.copied)


def notice_tally(uow: UnitOfWork, campaign_id: int, offices: Sequence[str]) -> NoticeTally:
    """How many live 督办通知书 are addressed and copied to these offices, and their items."""
    codes = sorted(set(offices))
    session = uow.session
    live = (Notice.campaign_id == campaign_id, Notice.kind == KIND_NOTICE,
            Notice.voided.is_(False))
    addressed = list(session.scalars(
        select(Notice.id).where(*live, Notice.office_code.in_(codes))))
    signed = set(_acknowledgers(session, addressed))
    copied = session.scalar(
        select(func.count(func.distinct(NoticeCopy.notice_id)))
        .join(Notice, Notice.id == NoticeCopy.notice_id)
        .where(*live, NoticeCopy.office_code.in_(codes))) or 0
    items = dict(session.execute(
        select(NoticeProblem.co_office, func.count())
        .join(Notice, Notice.id == NoticeProblem.notice_id)
        .where(*live, NoticeProblem.office_code.in_(codes))
        .group_by(NoticeProblem.co_office)).all())
    return NoticeTally(addressed=len(addressed),
                       unacknowledged=len([i for i in addressed if i not in signed]),
                       copied=int(copied), lead_items=int(items.get(False, 0)),
                       co_items=int(items.get(True, 0)))


# ------------------------------------------------------------------------------ rolling rounds


@dataclass(frozen=True)
class RoundResult:
    """What a rolling round did: its key, and the 文号 it issued (none: nothing was late)."""

    round_key: str
    numbers: tuple[str, ...]
    ran_now: bool  # False when the round had run already


def issue_round(uow: UnitOfWork, clock: Clock, campaign_id: int, *,
                issued_by: str = "system") -> RoundResult | None:
    """Issue the rolling round due now for problems not yet on a notice; once per round.

    Due only after the rectify stage's own notices went out (its stage run is done), on the
    plan's rhythm (`notices.rolling`). The round's row is written with its notices in one
    transaction, so a rerun, a second tick or a kill and rerun issues nothing twice and
    leaves no gap in the numbers.
    """
    from duban.domain.clock import local_now
    from duban.domain.plan import StageKind
    from duban.domain.rounds import due_round
    from duban.services.calendars import working_calendar
    from models import StageRun

    session = uow.session
    plan = load_plan_of(session, campaign_id)
    key = due_round(plan.notices, plan.reminders.work_start, local_now(clock),
                    working_calendar())
    if key is None:
        return None
    rectify_done = session.scalar(select(StageRun.id).where(
        StageRun.campaign_id == campaign_id, StageRun.kind == StageKind.RECTIFY.value,
        StageRun.status == "done").limit(1))
    if rectify_done is None:
        return None
    ran = session.scalar(select(NoticeRound.id).where(
        NoticeRound.campaign_id == campaign_id, NoticeRound.round_key == key))
    batch_key = f"round:{key}"
    if ran is not None:
        return RoundResult(key, tuple(n.number for n in _batch(uow, campaign_id, batch_key)),
                           ran_now=False)
    # A tick racing this one waits on the numbering register inside issue_notices and then
    # finds this round's batch already issued: it returns those notices, numbered once.
    rows = issue_notices(uow, clock, campaign_id, issued_by=issued_by, batch_key=batch_key,
                         round_key=key)
    return RoundResult(key, tuple(n.number for n in rows), ran_now=True)


def _batch(uow: UnitOfWork, campaign_id: int, batch_key: str) -> list[NoticeRow]:
    session = uow.session
    return _rows(session, session.scalars(
        select(Notice).where(Notice.campaign_id == campaign_id, Notice.kind == KIND_NOTICE,
                             Notice.batch_key == batch_key).order_by(Notice.seq)).all())
