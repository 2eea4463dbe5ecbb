"""Other words for a running campaign's categories, sources, towns and villages (别名), added
at import (web) or by `duban campaign alias`.

A clerk's ledger says 住房 where the plan says 住房安全. The web import lists each value it
could not match once and lets the importer say what it means; `add_aliases` saves the answers as
aliases of the campaign's plan: a new plan version (the plan as before plus the aliases), the
campaign's version in force bumped, and a campaign event naming who mapped what, all in the
caller's unit of work. The file is then checked again against the new version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from duban.adapters.plan.codec import encode_plan
from duban.domain.clock import Clock, local_today
from duban.domain.errors import DubanError, PermissionDenied
from duban.domain.lifecycle import ROLE_LABELS, Role
from duban.domain.names import KINDS, NameIndex, plan_index
from duban.domain.plan import Plan
from duban.services.actors import resolve_actor
from duban.services.campaigns import ensure_running, load_plan_of
from duban.services.database import UnitOfWork
from models import CampaignEvent, PlanVersion

ALIASES = "aliases"  # the campaign event of aliases added
# The kinds an import may map; a village's word is its town's (two towns may each have a 王湾).
MAPPABLE = ("category", "source", "town", "village")
WORD_LIMIT = 30


@dataclass(frozen=True)
class AliasMapping:
    """One written value and the plan item (by code) it stands for."""

    kind: str  # category / source / town / village
    word: str
    code: str
    town: str = ""  # a village's town (code)


def _index(plan: Plan, m: AliasMapping) -> NameIndex:
    """The items a mapping's word may name: a village's among its town's villages."""
    return plan_index(plan, m.kind, m.town if m.kind == "village" else None)


def _label(plan: Plan, m: AliasMapping) -> str:
    """The mapped item's name; a village with its town (槐店回族镇白集村)."""
    name = _index(plan, m).name(m.code)
    if m.kind == "village":
        return plan_index(plan, "town").name(m.town) + name
    return name


def _with_alias(plan: Plan, m: AliasMapping) -> Plan:
    """The plan with `m.word` added to the aliases of the item `m` names."""
    if m.kind == "category":
        return dataclasses.replace(plan, categories=tuple(
            dataclasses.replace(c, aliases=(*c.aliases, m.word)) if c.code == m.code else c
            for c in plan.categories))
    if m.kind == "source":
        return dataclasses.replace(plan, sources=tuple(
            dataclasses.replace(s, aliases=(*s.aliases, m.word)) if s.code == m.code else s
            for s in plan.sources))
    if m.kind == "village":
        return dataclasses.replace(plan, towns=tuple(
            dataclasses.replace(t, villages=tuple(
                dataclasses.replace(v, aliases=(*v.aliases, m.word)) if v.code == m.code else v
                for v in t.villages)) if t.code == m.town else t
            for t in plan.towns))
    return dataclasses.replace(plan, towns=tuple(
        dataclasses.replace(t, aliases=(*t.aliases, m.word)) if t.code == m.code else t
        for t in plan.towns))


def add_aliases(uow: UnitOfWork, clock: Clock, campaign_id: int,
                mappings: Sequence[AliasMapping], *, username: str) -> int:
    """Save the mappings as aliases of the campaign's plan; returns the plan version in force.

    Refused, with nothing written, for a word that already names another item, an unknown
    item, or a user who may not import. A word that already names its item is skipped; when
    nothing is new, no version is written.
    """
    session = uow.session
    campaign = ensure_running(session, campaign_id, "添加别名")
    session.refresh(campaign, with_for_update=True)  # one version at a time
    actor = resolve_actor(session, username, local_today(clock))
    if not ({actor.role, *actor.extra_roles} & {Role.COUNTY, Role.TOWN}):
        raise PermissionDenied(f"别名由县级办公室或乡镇在导入时添加，{actor.name or actor.user}"
                               f"（{ROLE_LABELS[actor.role]}）无权办理")
    plan = load_plan_of(session, campaign_id)
    added: list[AliasMapping] = []
    for m in mappings:
        word = m.word.strip()
        if m.kind not in MAPPABLE:
            raise DubanError(f"不能为{KINDS.get(m.kind, m.kind)}添加别名")
        if not word or len(word) > WORD_LIMIT:
            raise DubanError(f"别名应为1～{WORD_LIMIT}个字：{word[:WORD_LIMIT]}")
        if m.kind == "village" and m.town not in {t.code for t in plan.towns}:
            raise DubanError(f"方案中没有这个乡镇：{m.town}")
        index = _index(plan, m)
        if m.code not in {i.code for i in index.items}:
            raise DubanError(f"方案中没有这个{KINDS[m.kind]}：{m.code}")
        found = index.find(word)
        if found == m.code:
            continue
        if found is not None:
            raise DubanError(f"“{word}”已是{KINDS[m.kind]}“{index.name(found)}”的名称或别名，"
                             f"不能再作“{index.name(m.code)}”的别名")
        m = dataclasses.replace(m, word=word)
        plan = _with_alias(plan, m)
        added.append(m)
    if not added:
        return campaign.plan_version
    now = clock.now()
    version = campaign.plan_version + 1
    words = "；".join(
        f"{m.word}→{_label(plan, m)}" for m in added)
    note = f"导入时添加别名：{words}"[:300]
    source = session.scalar(select(PlanVersion.source).where(
        PlanVersion.campaign_id == campaign_id, PlanVersion.version == campaign.plan_version))
    session.add(PlanVersion(campaign_id=campaign_id, version=version, plan=encode_plan(plan),
                            source=source or "", created_at=now, created_by=actor.user, note=note))
    campaign.plan_version = version
    session.add(CampaignEvent(
        campaign_id=campaign_id, action=ALIASES, actor=actor.user, at=now, note=note,
        data={"from_version": version - 1, "version": version,
              "aliases": [{"kind": m.kind, "word": m.word, "code": m.code,
                           **({"town": m.town} if m.town else {})} for m in added]}))
    session.flush()
    return version

