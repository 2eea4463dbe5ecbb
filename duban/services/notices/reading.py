"""Issued documents as callers read them: lists, what a scope may read, files, tallies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from duban.domain.errors import NotFound
from duban.services.database import UnitOfWork, data_dir
from duban.services.notices.documents import KIND_NOTICE, NoticeFileCorrupt, grouped_values
from duban.services.scoping import Scope, visible_office_codes
from models import Notice, NoticeCopy, NoticeProblem, NoticeReceipt


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
    # A notice over DUBAN_NOTICE_INLINE_LIMIT problems: its full list, an .xlsx beside it.
    list_path: str | None = None
    list_sha256: str | None = None

    def concerns(self, offices: Iterable[str]) -> bool:
        """Whether the notice is addressed or copied to one of these offices."""
        mine = set(offices)
        return self.office_code in mine or bool(mine.intersection(self.copy_to))

    @property
    def path(self) -> Path:
        """Where the file is in the data directory."""
        return data_dir() / self.file_path

    @property
    def list_file(self) -> Path | None:
        """Where its full list (.xlsx) is in the data directory, when it has one."""
        return data_dir() / self.list_path if self.list_path else None


# NoticeRow fields read from the notice row unchanged.
_STORED_AS_IS = ("id", "campaign_id", "kind", "number", "office_code", "title", "issued_by",
                 "batch_key", "file_path", "sha256", "voided", "list_path", "list_sha256")


def notice_row(notice: Notice, acknowledged_by: str | None = None,
               copy_to: tuple[str, ...] = ()) -> NoticeRow:
    """A notice row as callers see it, with its receipt and 抄送 when known."""
    return NoticeRow(
        **{name: getattr(notice, name) for name in _STORED_AS_IS},
        problem_ids=tuple(int(p) for p in notice.problem_ids),
        issued_on=notice.issued_on.isoformat(),
        acknowledged_by=acknowledged_by,
        copy_to=copy_to,
    )


def _acknowledgers(session: Session, notice_ids: Iterable[int]) -> dict[int, str]:
    ids = list(notice_ids)
    if not ids:
        return {}
    return dict(session.execute(
        select(NoticeReceipt.notice_id, NoticeReceipt.username)
        .where(NoticeReceipt.notice_id.in_(ids))
    ).all())


def _copies(session: Session, notice_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    copies = grouped_values(session, NoticeCopy.notice_id, NoticeCopy.office_code,
                            list(notice_ids))
    return {k: tuple(v) for k, v in copies.items()}


def notice_rows(session: Session, notices: Sequence[Notice]) -> list[NoticeRow]:
    """Notice rows as callers see them, with who signed for each and its 抄送."""
    acks = _acknowledgers(session, (n.id for n in notices))
    copies = _copies(session, (n.id for n in notices))
    return [notice_row(n, acks.get(n.id), copies.get(n.id, ())) for n in notices]


def notice_file(uow: UnitOfWork, notice_id: int) -> bytes:
    """The stored file of a notice, byte for byte; the checksum is verified."""
    session = uow.session
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"通知书不存在：编号 {notice_id}")
    return verified_file(notice.file_path, notice.sha256, f"通知书 {notice.number} 的文件")


def notice_list_file(uow: UnitOfWork, notice_id: int) -> bytes:
    """The stored full list (.xlsx) of a notice too long for its 附件 page, checksum verified."""
    notice = uow.session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"通知书不存在：编号 {notice_id}")
    if not notice.list_path or not notice.list_sha256:
        raise NotFound(f"通知书 {notice.number} 的问题清单已列在通知书附件中，没有单独的电子表格")
    return verified_file(notice.list_path, notice.list_sha256,
                         f"通知书 {notice.number} 的问题清单电子表格")


def verified_file(path: str, digest: str, what: str) -> bytes:
    """A stored file (relative to the data directory) whose SHA-256 must match."""
    full = data_dir() / path
    if not full.is_file():
        raise NoticeFileCorrupt(f"{what}缺失：{full}")
    data = full.read_bytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise NoticeFileCorrupt(f"{what}校验失败（SHA-256 不符），文件可能被改动")
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
    return notice_rows(session, session.scalars(stmt.order_by(Notice.year, Notice.seq)).all())


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
    (row,) = notice_rows(session, [notice])
    if offices is not None and not row.concerns(offices):
        raise NotFound(f"通知书不存在或无权查看：编号 {notice_id}")
    return row


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
    """How many live 督办通知书 are addressed and copied to these offices, and their items
    (one statement: it is on every office's and town's dashboard)."""
    row = uow.session.execute(_tally_statement(), {
        "campaign_id": campaign_id, "codes": sorted(set(offices))}).one()
    return NoticeTally(addressed=int(row[0] or 0), unacknowledged=int(row[1] or 0),
                       copied=int(row[2] or 0), lead_items=int(row[3] or 0),
                       co_items=int(row[4] or 0))


@cache
def _tally_statement() -> Select[Any]:
    """notice_tally's statement, built once (its campaign and offices are parameters): made
    afresh on every dashboard it was a good share of the page's Python."""
    codes: BindParameter[str] = bindparam("codes", expanding=True)
    live = (Notice.campaign_id == bindparam("campaign_id"), Notice.kind == KIND_NOTICE,
            Notice.voided.is_(False))
    addressed = select(Notice.id).where(*live, Notice.office_code.in_(codes))
    signed = select(NoticeReceipt.notice_id).where(NoticeReceipt.notice_id == Notice.id)
    copied = (select(func.count(func.distinct(NoticeCopy.notice_id)))
              .join(Notice, Notice.id == NoticeCopy.notice_id)
              .where(*live, NoticeCopy.office_code.in_(codes)))

    def items(co_office: bool) -> Any:
        return (select(func.count()).select_from(NoticeProblem)
                .join(Notice, Notice.id == NoticeProblem.notice_id)
                .where(*live, NoticeProblem.office_code.in_(codes),
                       NoticeProblem.co_office.is_(co_office)).scalar_subquery())

    return select(
        select(func.count()).select_from(addressed.subquery()).scalar_subquery(),
        select(func.count()).select_from(addressed.where(~signed.exists()).subquery())
        .scalar_subquery(),
        copied.scalar_subquery(), items(False), items(True))


