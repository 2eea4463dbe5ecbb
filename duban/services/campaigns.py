"""Use cases of campaigns: launch one from a plan, list them, summarise one, read its plan."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from duban.adapters.plan.codec import encode_plan
from duban.domain.clock import Clock, SystemClock, local_today
from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import OPEN_STATUSES, STATUS_LABELS, Status
from duban.domain.plan import STAGE_KIND_LABELS, OfficeLevel, Plan, StageKind
from duban.domain.routing import village_office_code
from duban.services.database import UnitOfWork
from duban.services.plan_store import load_plan_version
from models import (
    Campaign,
    CampaignStage,
    Household,
    Office,
    PlanVersion,
    Problem,
    Town,
    Village,
)


class DuplicateCampaign(DubanError):
    """A campaign with this plan's document number was launched already."""


class PlanInThePast(DubanError):
    """Every stage of the plan ended before today and no backfill was asked for."""


def launch_campaign(uow: UnitOfWork, clock: Clock, plan: Plan, source: str, actor: str, *,
                    backfill: bool = False) -> int:
    """Launch a campaign from a validated plan in one transaction; returns its id.

    On the real clock, a plan whose stages all ended before today is refused unless
    `backfill`: it would run every stage at once and number its documents this year.
    Simulated time (a FixedClock, `--now`) is the user's explicit choice and is accepted.
    """
    now = clock.now()
    today = local_today(clock)
    if (isinstance(clock, SystemClock) and plan.stages and plan.end is not None
            and plan.end < today and not backfill):
        raise PlanInThePast(
            f"方案的全部阶段均已结束（最后一天 {plan.end.isoformat()}，今天 {today.isoformat()}）："
            "按当前时间启动会立即运行全部阶段，并以今天的日期编号发文。"
            "如要演练，请用 --now 指定模拟时间（如 "
            f"{plan.start.isoformat()}T09:00）；如确要补录历史行动，请加 --backfill"
        )
    number = plan.document_number.strip()
    session = uow.session
    # Only a real 文号 identifies a plan: plans without one may be launched side by side.
    existing = session.scalar(
        select(Campaign.id).where(Campaign.document_number == number)
    ) if number else None
    if existing is not None:
        raise DuplicateCampaign(
            f"文号为 {number} 的行动已启动（编号 {existing}），不能重复启动"
        )
    campaign = Campaign(
        name=plan.name,
        issuer=plan.issuer,
        document_number=number,
        notice_prefix=plan.notice_prefix,
        plan_version=1,
        launched_at=now,
        launched_by=actor,
    )
    session.add(campaign)
    session.flush()
    session.add(
        PlanVersion(
            campaign_id=campaign.id,
            version=1,
            plan=encode_plan(plan),
            source=source,
            created_at=now,
            created_by=actor,
        )
    )
    session.add_all(
        CampaignStage(
            campaign_id=campaign.id,
            seq=i,
            kind=stage.kind.value,
            name=stage.name,
            start=stage.start,
            end=stage.end,
        )
        for i, stage in enumerate(plan.stages, start=1)
    )
    declared = {o.code for o in plan.offices}
    # The scope's rows by one INSERT per table, in the order the plan lists them (the ids a
    # unit-of-work flush gave them): a county's few hundred villages, each with its office
    # row, were that many ORM objects, ~0.2 ms each to flush.
    towns: list[dict[str, Any]] = []
    villages: list[dict[str, Any]] = []
    offices: list[dict[str, Any]] = []

    def office_row(code: str, name: str, level: str, town: str | None, head: str = "",
                   contacts: list[dict[str, str]] | None = None,
                   webhook: str = "") -> dict[str, Any]:
        return {"campaign_id": campaign.id, "code": code, "name": name, "level": level,
                "town_code": town, "head": head, "contacts": contacts or [],
                "webhook": webhook}

    for town in plan.towns:
        towns.append({"campaign_id": campaign.id, "code": town.code, "name": town.name})
        for village in town.villages:
            villages.append({"campaign_id": campaign.id, "town_code": town.code,
                             "code": village.code, "name": village.name})
            # Every village can be a co-office (各村), so each gets an office row.
            code = village_office_code(village.code)
            if code not in declared:
                offices.append(office_row(code, village.name, OfficeLevel.VILLAGE.value,
                                          town.code))
    for office in plan.offices:
        offices.append(office_row(
            office.code, office.name, office.level.value, office.town, office.head,
            [{"name": c.name, "phone": c.phone, "email": c.email} for c in office.contacts],
            office.webhook))
    for model, rows in ((Town, towns), (Village, villages), (Office, offices)):
        if rows:
            session.execute(insert(model), rows)
    return campaign.id


RUNNING = "running"
CLOSED = "closed"
CAMPAIGN_STATUS_LABELS = {RUNNING: "进行中", CLOSED: "已总结"}
NOT_STARTED_LABEL = "未开始"


class CampaignClosed(DubanError):
    """The campaign is closed (总结): nothing more is issued, drawn or fired for it."""


def campaign_status_label(status: str, start: dt.date, today: dt.date | None) -> str:
    """进行中 / 已总结, or 未开始 for a running campaign whose first stage lies ahead."""
    if status == RUNNING and today is not None and today < start:
        return NOT_STARTED_LABEL
    return CAMPAIGN_STATUS_LABELS.get(status, status)


def ensure_running(session: Session, campaign_id: int, doing: str) -> Campaign:
    """The campaign, refused with a Chinese message when it is closed (总结)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    if campaign.status == CLOSED:
        raise CampaignClosed(
            f"行动 {campaign_id}（{campaign.name}）已总结关闭，不能再{doing}；"
            f"如确需继续，请先用 duban campaign reopen {campaign_id} 重新开启")
    return campaign


# session.info key of the plans decoded in this transaction, by (campaign id, plan version).
_PLANS = "duban.plans"
# session.info key of the campaigns whose plans were asked for, by id.
_CAMPAIGNS = "duban.campaigns"


def load_plan_of(session: Session, campaign_id: int) -> Plan:
    """The plan version a campaign runs on, decoded at most once per transaction."""
    campaign = session.get(Campaign, campaign_id)  # the identity map answers repeat calls
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    # The identity map holds objects weakly: kept here, the campaign is not collected between
    # two moves and loaded again by the next (a county's day of moves did that per move).
    session.info.setdefault(_CAMPAIGNS, {})[campaign_id] = campaign
    # Keyed by version too, so a new plan version in force is decoded afresh, never served stale.
    key = (campaign_id, campaign.plan_version)
    plans: dict[tuple[int, int], Plan] = session.info.setdefault(_PLANS, {})
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = load_plan_version(session, *key)
    return plan


def remember_plan(session: Session, campaign_id: int, version: int, plan: Plan) -> None:
    """Hand this transaction a plan version the caller has decoded already (a web process
    keeps each version it decoded), so load_plan_of does not decode it again."""
    plans: dict[tuple[int, int], Plan] = session.info.setdefault(_PLANS, {})
    plans.setdefault((campaign_id, version), plan)


@dataclass(frozen=True)
class CampaignRow:
    """One line of the campaign list."""

    id: int
    name: str
    document_number: str
    issuer: str
    start: dt.date
    end: dt.date | None  # None: runs until the campaign is closed
    problems: int
    status: str = RUNNING
    status_label: str = CAMPAIGN_STATUS_LABELS[RUNNING]


def list_campaigns(uow: UnitOfWork, today: dt.date | None = None) -> list[CampaignRow]:
    """All campaigns, newest first; with `today`, a running one not yet begun reads 未开始."""
    session = uow.session
    counts = dict(
        session.execute(
            select(Problem.campaign_id, func.count()).group_by(Problem.campaign_id)
        ).all()
    )
    rows = []
    for c in session.scalars(select(Campaign).order_by(Campaign.id.desc())):
        stages = session.scalars(
            select(CampaignStage).where(CampaignStage.campaign_id == c.id)
        ).all()
        rows.append(
            CampaignRow(
                id=c.id,
                name=c.name,
                document_number=c.document_number,
                issuer=c.issuer,
                start=min(s.start for s in stages),
                end=None if any(s.end is None for s in stages)
                else max(s.end for s in stages if s.end is not None),
                problems=counts.get(c.id, 0),
                status=c.status,
                status_label=campaign_status_label(
                    c.status, min(s.start for s in stages), today),
            )
        )
    return rows


@dataclass(frozen=True)
class StageLine:
    """A stage and whether it is current on a day."""

    kind: str
    name: str
    start: dt.date
    end: dt.date | None  # None: runs until the campaign is closed
    current: bool


@dataclass(frozen=True)
class CampaignSummary:
    """What `campaign show` and the demo print."""

    id: int
    name: str
    issuer: str
    document_number: str
    stages: list[StageLine]
    towns: int
    villages: int
    offices: int
    households: int
    problems_by_status: dict[str, int]
    overdue: int
    unrouted: int
    status: str = RUNNING
    status_label: str = CAMPAIGN_STATUS_LABELS[RUNNING]
    closed_at: dt.datetime | None = None
    closed_by: str | None = None


def summarise_campaign(uow: UnitOfWork, campaign_id: int, today: dt.date) -> CampaignSummary:
    """Counts of a campaign's scope and ledger, as of a day."""
    session = uow.session
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")

    def count(model: type, *where: object) -> int:
        stmt = select(func.count()).select_from(model).where(
            model.campaign_id == campaign_id,  # type: ignore[attr-defined]
            *where,  # type: ignore[arg-type]
        )
        return int(session.scalar(stmt) or 0)

    by_status = Counter(
        dict(
            session.execute(
                select(Problem.status, func.count())
                .where(Problem.campaign_id == campaign_id)
                .group_by(Problem.status)
            ).all()
        )
    )
    open_codes = [s.value for s in OPEN_STATUSES]
    overdue = count(Problem, Problem.status.in_(open_codes), Problem.deadline < today)
    stages = session.scalars(
        select(CampaignStage)
        .where(CampaignStage.campaign_id == campaign_id)
        .order_by(CampaignStage.seq)
    ).all()
    return CampaignSummary(
        id=campaign.id,
        name=campaign.name,
        issuer=campaign.issuer,
        document_number=campaign.document_number,
        stages=[
            StageLine(
                kind=STAGE_KIND_LABELS[StageKind(s.kind)],
                name=s.name,
                start=s.start,
                end=s.end,
                current=s.start <= today and (s.end is None or today <= s.end),
            )
            for s in stages
        ],
        towns=count(Town),
        villages=count(Village),
        offices=count(Office, Office.level != OfficeLevel.VILLAGE.value),
        households=count(Household),
        problems_by_status={
            STATUS_LABELS[Status(k)]: v for k, v in sorted(by_status.items())
        },
        overdue=overdue,
        unrouted=by_status.get(Status.UNROUTED.value, 0),
        status=campaign.status,
        status_label=campaign_status_label(
            campaign.status, min((s.start for s in stages), default=today), today),
        closed_at=campaign.closed_at,
        closed_by=campaign.closed_by,
    )

