"""Numbering, rendering and storing one official document (督办通知书, 催办通知, 通报).

Numbering: one `document_number_register` row per 机关代字 and year holds the next sequence
number. Issuing locks that row first (an UPDATE: a row lock on PostgreSQL, the database write
lock on SQLite), allocates numbers, renders every file into the content-addressed store and
inserts the notice rows, all in one transaction. A crash before the commit leaves at most an
orphan file in the store and no number used; a retry with the same batch key returns the
notices the first committed run made. So numbers have no gaps and no duplicates.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from duban.adapters.documents.context import ContactPerson, OfficialDocument
from duban.domain.clock import Clock, local_today
from duban.domain.errors import DubanError, NotFound
from duban.domain.numbering import format_document_number
from duban.domain.plan import Plan, area_word, towns_word
from duban.services.bulk import reserve_ids
from duban.services.database import data_dir, insert_or_skip
from duban.services.events import state_changed
from duban.services.templates import template_dir_for
from models import DocumentNumberRegister, Notice, Office

KIND_NOTICE = "notice"  # 督办通知书
KIND_REMINDER = "reminder"  # 催办通知
KIND_BULLETIN = "bulletin"  # 通报
KIND_LABELS = {KIND_NOTICE: "督办通知书", KIND_REMINDER: "催办通知", KIND_BULLETIN: "通报"}

DOCUMENTS_DIR = "documents"
# Under DOCUMENTS_DIR: which stored file each render (by its inputs' hash) made.
RENDERED_DIR = ".rendered"
CHUNK = 2000


class NoticeFileCorrupt(DubanError):
    """A stored notice file whose checksum no longer matches the register."""




def grouped_values(session: Session, key: InstrumentedAttribute[Any],
                   value: InstrumentedAttribute[Any], keys: Sequence[Any]) -> dict[Any, list[Any]]:
    """The `value`s of each of `keys` in one table, sorted, asked CHUNK keys at a time."""
    out: dict[Any, list[Any]] = {}
    for i in range(0, len(keys), CHUNK):
        for k, v in session.execute(
            select(key, value).where(key.in_(keys[i : i + CHUNK])).order_by(key, value)
        ):
            out.setdefault(k, []).append(v)
    return out


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
    session.execute(insert_or_skip(session, DocumentNumberRegister).values(prefix=prefix, year=year, next_number=1)
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
    (notice,) = issue_documents(session, clock, register, campaign_id=campaign_id, kind=kind,
                                issued_by=issued_by, batch_key=batch_key,
                                items=[(office_code, problem_ids, build)], render=render)
    return notice


def _render_key(render: Callable[..., object], ctx: object, template_dir: Path | None) -> str:
    """What a render's output depends on, hashed: the renderer, the templates, the context."""
    h = hashlib.sha256(f"{render.__module__}.{render.__qualname__}\n".encode())
    if template_dir is not None and template_dir.is_dir():
        for path in sorted(template_dir.rglob("*")):
            if path.is_file():
                st = path.stat()
                h.update(f"{path.relative_to(template_dir)}:{st.st_size}:{st.st_mtime_ns}\n"
                         .encode())
    h.update(repr(ctx).encode())
    return h.hexdigest()


StoredFile = tuple[str, str, int]  # path relative to the data directory, sha256, size


def _stored(store: Path, digest: str, suffix: str) -> StoredFile | None:
    """A file of the store by its digest, if it is still whole."""
    try:
        data = (store / f"{digest}{suffix}").read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    return f"{DOCUMENTS_DIR}/{digest}{suffix}", digest, len(data)


def _rendered_before(store: Path, key: str) -> tuple[StoredFile, StoredFile | None] | None:
    """The stored files an earlier render of the same key made, if they are still whole.

    The record holds the .docx's digest, then the full list's (.xlsx) when it wrote one."""
    try:
        digests = (store / RENDERED_DIR / key).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if not 1 <= len(digests) <= 2:
        return None
    docx = _stored(store, digests[0], ".docx")
    listed = _stored(store, digests[1], ".xlsx") if len(digests) == 2 else None
    if docx is None or (len(digests) == 2 and listed is None):
        return None
    return docx, listed


def _remember(store: Path, key: str, *digests: str) -> None:
    folder = store / RENDERED_DIR
    folder.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".render-", dir=folder)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write("\n".join(digests))
    os.replace(tmp, folder / key)


def _keep(store: Path, tmp: Path, suffix: str) -> StoredFile:
    """Move a rendered temporary file to documents/<sha256><suffix>."""
    data = tmp.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    os.replace(tmp, store / f"{digest}{suffix}")
    return f"{DOCUMENTS_DIR}/{digest}{suffix}", digest, len(data)


def store_rendered_all(render: Callable[..., object], contexts: Sequence[object],
                       template_dir: Path | None,
                       ) -> list[tuple[StoredFile, StoredFile | None]]:
    """`store_rendered` for several documents, rendered side by side when there are several.

    Each is rendered once, into a temporary file of the store, by owned worker processes when
    there are four or more (`adapters.documents.parallel`); the caller keeps the database work.
    A render may also write a spreadsheet beside its .docx (a notice's full list,
    `render.notice_list_path`); it is stored the same way and returned second (else None).
    A document rendered before from the same renderer, templates and context (a batch whose
    transaction failed, run again) is not rendered again: `documents/.rendered/<key>` names
    its files, which the file sweep removes with the record after its grace period.
    """
    from duban.adapters.documents.parallel import render_all
    from duban.adapters.documents.render import notice_list_path

    store = data_dir() / DOCUMENTS_DIR
    store.mkdir(parents=True, exist_ok=True)
    keys = [_render_key(render, ctx, template_dir) for ctx in contexts]
    stored = [_rendered_before(store, k) for k in keys]
    todo = [i for i, done in enumerate(stored) if done is None]
    temporary: list[Path] = []
    try:
        # Named, not created: each render writes its own temporary file and renames it to
        # the name (creating a file costs ~0.2 ms of CPU here, and a rename over one made
        # empty by mkstemp made ext4 write the file back then, auto_da_alloc).
        temporary += [store / f".render-{uuid.uuid4().hex}.docx" for _ in todo]
        # A document's table rows weigh its render (a list written as a spreadsheet is
        # cheap to write): the longest start first.
        render_all([(render, contexts[i], tmp, template_dir)
                    for i, tmp in zip(todo, temporary, strict=True)],
                   weights=[0 if getattr(contexts[i], "list_file", "")
                            else len(getattr(contexts[i], "problems", ())) for i in todo])
        for i, tmp in zip(todo, temporary, strict=True):
            sheet = notice_list_path(tmp)
            docx = _keep(store, tmp, ".docx")
            listed = _keep(store, sheet, ".xlsx") if sheet.exists() else None
            _remember(store, keys[i], docx[1], *([listed[1]] if listed else []))
            stored[i] = (docx, listed)
        return [done for done in stored if done is not None]
    finally:
        for tmp in temporary:
            for leftover in (tmp, notice_list_path(tmp)):
                if leftover.exists():
                    leftover.unlink()


def issue_documents(
    session: Session,
    clock: Clock,
    register: DocumentNumberRegister,
    *,
    campaign_id: int,
    kind: str,
    issued_by: str,
    batch_key: str,
    items: Sequence[tuple[str, Sequence[int], Callable[[str], OfficialDocument]]],
    render: Callable[..., object],
) -> list[Notice]:
    """`issue_document` for several (office, problem ids, build) at once, numbered in order.

    Every document is built and rendered (side by side, see `store_rendered_all`) before any
    number is taken or any row written, so a failure leaves nothing issued or numbered.
    """
    first = register.next_number
    contexts = [build(format_document_number(register.prefix, register.year, first + i))
                for i, (_, _, build) in enumerate(items)]
    stored = store_rendered_all(render, contexts, template_dir_for(campaign_id))
    now = clock.now()
    # Ids taken first, so the ORM writes the batch's rows in one executemany (without them
    # SQLite's were one INSERT … RETURNING each); the ids the database would have given.
    ids = reserve_ids(session, cast(Table, Notice.__table__), len(items))
    notices = []
    for i, ((office_code, problem_ids, _), ctx, ((file_path, digest, size), listed)) in enumerate(
            zip(items, contexts, stored, strict=True)):
        seq = first + i
        notice = Notice(
            id=ids[i],
            campaign_id=campaign_id,
            kind=kind,
            number=format_document_number(register.prefix, register.year, seq),
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
            list_path=listed[0] if listed else None,
            list_sha256=listed[1] if listed else None,
            list_size=listed[2] if listed else None,
        )
        session.add(notice)
        notices.append(notice)
    register.next_number = first + len(items)
    session.flush()
    for (office_code, problem_ids, _), notice in zip(items, notices, strict=True):
        state_changed(session, "notice_issued", campaign_id=campaign_id, notice_id=notice.id,
                      number=notice.number, kind=kind, office=office_code,
                      problem_ids=list(problem_ids))
    return notices


# ------------------------------------------------------------------------------ letterhead


def county_contact(session: Session, campaign_id: int, plan: Plan) -> ContactPerson | None:
    """The 附注's contact person: the plan's `documents.contact`, else the county office's
    first contact."""
    if plan.documents.contact is not None:
        c = plan.documents.contact
        return ContactPerson(name=c.name, phone=c.phone)
    contacts = session.scalar(select(Office.contacts).where(
        Office.campaign_id == campaign_id, Office.code == plan.county_office))
    if not contacts:
        return None
    first = contacts[0]
    return ContactPerson(name=first.get("name", ""), phone=first.get("phone", ""))


def letterhead(plan: Plan, contact: ContactPerson | None = None) -> dict[str, Any]:
    """The 版头, 落款, 附注 and 版记 fields every document of a campaign shares: one 发文机关
    for the mark and the signature, the plan's 印发机关 and 抄送机关."""
    return {
        "issuer": plan.document_issuer,
        "issuer_mark": plan.document_mark,
        "printer": plan.document_printer,
        "copy_to": list(plan.documents.copy_to),
        "seal_text": plan.document_issuer,
        "contact": contact,
        "place_word": towns_word(plan),
        "area_word": area_word(plan),
    }
