"""Plan drafts the county office writes in the web editor (方案草稿): versioned, per office.

A draft belongs to the office of the county user who started it; every save is a new numbered
version of its YAML text (never changed), saved against the version the editor showed, so two
people editing at once cannot silently overwrite each other (ConflictError). The edge parses
and checks the text; this module only keeps it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from duban.domain.clock import Clock
from duban.domain.errors import ConflictError, DubanError, NotFound
from duban.services.database import UnitOfWork
from models.tables import plan_draft, plan_draft_version

MAX_TITLE = 200


@dataclass(frozen=True)
class DraftVersion:
    """One saved version of a draft."""

    version: int
    text: str
    saved_at: dt.datetime
    saved_by: str
    note: str


@dataclass(frozen=True)
class DraftInfo:
    """A draft and its latest version."""

    id: int
    office: str
    title: str
    origin: str
    campaign_id: int | None  # the running campaign it amends
    launched_campaign_id: int | None
    created_by: str
    version: int
    text: str
    saved_at: dt.datetime
    saved_by: str


def create_draft(uow: UnitOfWork, clock: Clock, *, office: str, username: str, title: str,
                 origin: str, text: str, campaign_id: int | None = None) -> int:
    """A new draft with its first version; returns its id."""
    title = title.strip()[:MAX_TITLE] or "未命名方案"
    conn = uow.connection
    now = clock.now()
    draft_id = conn.execute(insert(plan_draft).values(
        office=office, title=title, origin=origin[:200], campaign_id=campaign_id,
        created_at=now, created_by=username).returning(plan_draft.c.id)).scalar_one()
    conn.execute(insert(plan_draft_version).values(
        draft_id=draft_id, version=1, text=text, saved_at=now, saved_by=username,
        note=f"新建（{origin}）"[:300]))
    return int(draft_id)


def draft_of(uow: UnitOfWork, draft_id: int, office: str) -> DraftInfo:
    """The draft with its latest version; another office's draft is NotFound."""
    conn = uow.connection
    row = conn.execute(select(plan_draft).where(plan_draft.c.id == draft_id)).mappings().first()
    if row is None or row["office"] != office:
        raise NotFound(f"方案草稿不存在：编号 {draft_id}")
    latest = conn.execute(
        select(plan_draft_version).where(plan_draft_version.c.draft_id == draft_id)
        .order_by(plan_draft_version.c.version.desc()).limit(1)).mappings().one()
    return DraftInfo(int(row["id"]), row["office"], row["title"], row["origin"],
                     row["campaign_id"], row["launched_campaign_id"], row["created_by"],
                     int(latest["version"]), latest["text"], latest["saved_at"],
                     latest["saved_by"])


def save_version(uow: UnitOfWork, clock: Clock, draft_id: int, office: str, *, text: str,
                 username: str, expect_version: int, note: str = "") -> int:
    """Save a new version; refused when someone saved since the version the editor showed."""
    current = draft_of(uow, draft_id, office)
    if current.version != expect_version:
        raise ConflictError(
            f"方案草稿已被 {current.saved_by} 保存为第 {current.version} 版（您编辑的是第 "
            f"{expect_version} 版），请重新打开后再修改")
    if text == current.text:
        return current.version
    version = current.version + 1
    uow.connection.execute(insert(plan_draft_version).values(
        draft_id=draft_id, version=version, text=text, saved_at=clock.now(), saved_by=username,
        note=note[:300]))
    return version


def rename_draft(uow: UnitOfWork, draft_id: int, office: str, title: str) -> None:
    """Give the draft another title."""
    draft_of(uow, draft_id, office)
    title = title.strip()[:MAX_TITLE]
    if not title:
        raise DubanError("草稿名称不能为空")
    uow.connection.execute(update(plan_draft).where(plan_draft.c.id == draft_id)
                           .values(title=title))


def mark_launched(uow: UnitOfWork, draft_id: int, office: str, campaign_id: int) -> None:
    """Record the campaign the draft was launched as (or amended)."""
    draft_of(uow, draft_id, office)
    uow.connection.execute(update(plan_draft).where(plan_draft.c.id == draft_id)
                           .values(launched_campaign_id=campaign_id))


def drafts_of(uow: UnitOfWork, office: str) -> list[DraftInfo]:
    """The office's drafts, the most recently saved first."""
    conn = uow.connection
    latest = (select(plan_draft_version.c.draft_id,
                     func.max(plan_draft_version.c.version).label("version"))
              .group_by(plan_draft_version.c.draft_id).subquery())
    rows = conn.execute(
        select(plan_draft, plan_draft_version.c.version, plan_draft_version.c.saved_at,
               plan_draft_version.c.saved_by)
        .join(latest, latest.c.draft_id == plan_draft.c.id)
        .join(plan_draft_version, (plan_draft_version.c.draft_id == plan_draft.c.id)
              & (plan_draft_version.c.version == latest.c.version))
        .where(plan_draft.c.office == office)
        .order_by(plan_draft_version.c.saved_at.desc(), plan_draft.c.id.desc())).mappings().all()
    return [DraftInfo(int(r["id"]), r["office"], r["title"], r["origin"], r["campaign_id"],
                      r["launched_campaign_id"], r["created_by"], int(r["version"]), "",
                      r["saved_at"], r["saved_by"]) for r in rows]


def versions_of(uow: UnitOfWork, draft_id: int, office: str) -> list[DraftVersion]:
    """Every saved version of the draft, newest first."""
    draft_of(uow, draft_id, office)
    rows = uow.connection.execute(
        select(plan_draft_version).where(plan_draft_version.c.draft_id == draft_id)
        .order_by(plan_draft_version.c.version.desc())).mappings().all()
    return [DraftVersion(int(r["version"]), r["text"], r["saved_at"], r["saved_by"], r["note"])
            for r in rows]


def version_text(uow: UnitOfWork, draft_id: int, office: str, version: int) -> str:
    """One saved version's text."""
    draft_of(uow, draft_id, office)
    text = uow.connection.scalar(select(plan_draft_version.c.text).where(
        plan_draft_version.c.draft_id == draft_id, plan_draft_version.c.version == version))
    if text is None:
        raise NotFound(f"方案草稿第 {version} 版不存在")
    return str(text)
