"""Plan amendments (方案修订) on a running campaign: preview what changes, then apply it.

`preview_amendment` reads the open problems' facts and asks the domain (`diff_plans`) what the
new plan would change; it writes nothing. `apply_amendment` does the same and then, in the
caller's unit of work: a new `plan_version` row, `campaign.plan_version` bumped, the stored
scope (stages, towns, villages, offices) brought in line, each re-routed problem moved through
the move use case (改派, audited as the county user), co-offices changed on problems that keep
their lead (audited, and the co-offices told as `notices.co_offices` says), each moved
deadline written with an audit event, and a campaign event recording the amendment.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import delete, select

from duban.adapters.plan.codec import encode_plan
from duban.domain.amendment import (
    AMENDED,
    AmendmentDiff,
    CoOfficeChange,
    OpenProblem,
    diff_plans,
)
from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.domain.errors import ConflictError, DubanError, PermissionDenied
from duban.domain.lifecycle import OPEN_STATUSES, ROLE_LABELS, Action, Actor, Payload, Role, Status
from duban.domain.plan import Audience, CoOfficeNotice, OfficeLevel, Plan
from duban.domain.plan_check import PlanError
from duban.domain.routing import village_office_code
from duban.services.actors import resolve_actor
from duban.services.calendars import working_calendar
from duban.services.campaigns import ensure_running, load_plan_of
from duban.services.database import UnitOfWork
from duban.services.messages import enqueue, office_rows
from duban.services.moves import move_in
from duban.services.notices.documents import KIND_NOTICE
from duban.services.notices.issuing import issue_notices
from duban.services.notices.receipts import START_DEADLINE
from models import (
    AuditEvent,
    Campaign,
    CampaignEvent,
    CampaignStage,
    Notice,
    NoticeCopy,
    NoticeProblem,
    Office,
    PlanVersion,
    Problem,
    ProblemCoOffice,
    StageRun,
    Town,
    Village,
)

AMEND = "amend"  # the campaign event of an amendment
AMEND_DEADLINE = "amend_plan"  # the audit event of a deadline an amendment moved
AMEND_CO_OFFICES = "amend_co_offices"  # the audit event of co-offices an amendment changed
# Moves whose deadline a person chose: an amendment leaves those deadlines alone. A deadline an
# earlier amendment moved is still the plan's, so a later amendment may move it again.
HAND_SET = (Action.APPROVE_EXTENSION.value, Action.FAIL_REVIEW.value, Action.REOPEN.value)
LEDGER_DEADLINE = "台账给定时限"  # compute_deadline's basis for a date the ledger gave
NOTE_LIMIT = 300  # plan_version.note


class AmendmentRefused(DubanError):
    """The new plan changes what a running campaign cannot change; `errors` names each field."""

    def __init__(self, errors: tuple[PlanError, ...]) -> None:
        self.errors = errors
        lines = "\n".join(f"{i}. {e}" for i, e in enumerate(errors, 1))
        super().__init__(f"方案修订有{len(errors)}处不能用于进行中的行动：\n{lines}")


@dataclass(frozen=True)
class AmendmentPreview:
    """What an amendment would do to a campaign on its current plan version."""

    campaign_id: int
    campaign_name: str
    version: int  # the version in force, which --expect-version must name
    diff: AmendmentDiff


@dataclass(frozen=True)
class AmendmentResult:
    """What an applied amendment did."""

    campaign_id: int
    version: int  # the new version in force
    diff: AmendmentDiff


def open_problems(uow: UnitOfWork, campaign_id: int,
                  statuses: Collection[Status] = OPEN_STATUSES) -> list[OpenProblem]:
    """The facts of a campaign's open problems that routing and deadlines read."""
    session = uow.session
    rows = session.scalars(select(Problem).where(
        Problem.campaign_id == campaign_id,
        Problem.status.in_([s.value for s in statuses])).order_by(Problem.id)).all()
    ids = [p.id for p in rows]
    co: dict[int, list[str]] = defaultdict(list)
    hand: set[int] = set()
    signed: dict[int, tuple[dt.date, bool]] = {}
    if ids:
        for pid, code in session.execute(select(
                ProblemCoOffice.problem_id, ProblemCoOffice.office_code).where(
                ProblemCoOffice.problem_id.in_(ids)).order_by(ProblemCoOffice.office_code)):
            co[pid].append(code)
        hand = set(session.scalars(select(AuditEvent.problem_id).where(
            AuditEvent.campaign_id == campaign_id, AuditEvent.problem_id.in_(ids),
            AuditEvent.action.in_(HAND_SET))))
        # Basis signed: the day the deadline started counting (the first 签收 that dated it).
        for pid, data in session.execute(select(AuditEvent.problem_id, AuditEvent.data).where(
                AuditEvent.campaign_id == campaign_id, AuditEvent.problem_id.in_(ids),
                AuditEvent.action.in_((START_DEADLINE, Action.ACCEPT.value)))
                .order_by(AuditEvent.id)):
            if pid not in signed and data and data.get("signed_on"):
                signed[pid] = (dt.date.fromisoformat(data["signed_on"]), bool(data.get("deemed")))
    return [OpenProblem(
        id=p.id, code=p.code, status=Status(p.status), category=p.category, source=p.source,
        town=p.town_code, village=p.village_code, lead_office=p.lead_office,
        co_offices=tuple(co[p.id]), found_on=p.found_on,
        routed_on=p.routed_at.astimezone(CHINA_TZ).date() if p.routed_at else None,
        tier=p.tier, deadline=p.deadline,
        deadline_by_hand=p.id in hand or (p.deadline_basis or "").startswith(LEDGER_DEADLINE),
        signed_on=signed[p.id][0] if p.id in signed else None,
        deemed_signed=signed[p.id][1] if p.id in signed else False,
    ) for p in rows]


def _diff(uow: UnitOfWork, clock: Clock, campaign: Campaign, plan: Plan) -> AmendmentDiff:
    old = load_plan_of(uow.session, campaign.id)
    return diff_plans(old, plan, open_problems(uow, campaign.id), working_calendar(),
                      local_today(clock), open_problems(uow, campaign.id, {Status.UNROUTED}))


def preview_amendment(uow: UnitOfWork, clock: Clock, campaign_id: int,
                      plan: Plan) -> AmendmentPreview:
    """What amending a running campaign with `plan` would change; writes nothing."""
    campaign = ensure_running(uow.session, campaign_id, "修订方案")
    return AmendmentPreview(campaign_id, campaign.name, campaign.plan_version,
                            _diff(uow, clock, campaign, plan))


def _county_actor(uow: UnitOfWork, clock: Clock, username: str) -> Actor:
    actor = resolve_actor(uow.session, username, local_today(clock))
    if Role.COUNTY not in actor.roles:
        raise PermissionDenied(f"方案修订须由县级办公室办理，{actor.name or actor.user}"
                               f"（{ROLE_LABELS[actor.role]}）无权办理")
    return actor


def apply_amendment(uow: UnitOfWork, clock: Clock, campaign_id: int, plan: Plan, source: str,
                    *, username: str, note: str, expect_version: int) -> AmendmentResult:
    """Put `plan` in force on a running campaign, in the caller's unit of work.

    Refused, with nothing written, when the campaign's plan version is no longer
    `expect_version` (amended since the preview), when no reason is given, or when the diff
    has refusals.
    """
    session = uow.session
    reason = note.strip()
    if not reason:
        raise DubanError("方案修订须写明修订原因（--note）")
    if len(reason) > NOTE_LIMIT:
        raise DubanError(f"修订原因不能超过{NOTE_LIMIT}字，实际{len(reason)}字")
    campaign = ensure_running(session, campaign_id, "修订方案")
    # Lock the campaign row (PostgreSQL) so a concurrent amendment waits, then reads the version
    # this one wrote and is refused as stale instead of racing for the same version number.
    session.refresh(campaign, with_for_update=True)
    actor = _county_actor(uow, clock, username)
    if campaign.plan_version != expect_version:
        raise ConflictError(
            f"行动 {campaign_id} 的方案已是第 {campaign.plan_version} 版（预览时是第 "
            f"{expect_version} 版），请重新预览后再修订")
    diff = _diff(uow, clock, campaign, plan)
    if diff.refusals:
        raise AmendmentRefused(diff.refusals)

    now = clock.now()
    version = campaign.plan_version + 1
    session.add(PlanVersion(campaign_id=campaign_id, version=version, plan=encode_plan(plan),
                            source=source, created_at=now, created_by=actor.user, note=reason))
    campaign.plan_version = version
    campaign.name, campaign.issuer = plan.name, plan.issuer
    _sync_scope(uow, campaign_id, plan, local_today(clock))
    session.flush()  # the new offices exist, and load_plan_of now reads the new version

    why = f"{AMENDED}（第{version}版）：{reason}"
    for r in diff.reroutes:
        problem = session.get(Problem, r.problem_id)
        assert problem is not None
        move_in(session, clock, actor, problem, Action.REASSIGN,
                Payload(note=why, office=r.to_office, co_offices=r.co_offices))
    for r in diff.routed:
        problem = session.get(Problem, r.problem_id)
        assert problem is not None
        move_in(session, clock, actor, problem, Action.ROUTE,
                Payload(note=why, office=r.to_office, co_offices=r.co_offices))
    for c in diff.co_office_changes:
        problem = session.get(Problem, c.problem_id)
        assert problem is not None
        before = list(session.scalars(select(ProblemCoOffice.office_code).where(
            ProblemCoOffice.problem_id == problem.id).order_by(ProblemCoOffice.office_code)))
        session.execute(delete(ProblemCoOffice).where(ProblemCoOffice.problem_id == problem.id))
        session.add_all(ProblemCoOffice(problem_id=problem.id, office_code=code,
                                        campaign_id=problem.campaign_id)
                        for code in c.co_offices)
        problem.updated_at = now
        session.add(AuditEvent(
            campaign_id=campaign_id, problem_id=problem.id, action=AMEND_CO_OFFICES,
            from_status=problem.status, to_status=problem.status, actor=actor.user,
            actor_role=Role.COUNTY.value, actor_name=actor.name, at=now,
            note=f"{why}；{_co_office_words(c)}",
            data={"from_co_offices": before, "co_offices": list(c.co_offices),
                  "plan_version": version}))
    session.flush()
    notices = _co_office_notices(uow, clock, campaign_id, plan, diff, version, actor)
    for m in diff.deadline_moves:
        problem = session.get(Problem, m.problem_id)
        assert problem is not None
        problem.deadline, problem.deadline_basis = m.to_date, m.basis[:200]
        problem.deadline_cycle += 1  # the reminder ladder starts again for the new date
        problem.updated_at = now
        session.add(AuditEvent(
            campaign_id=campaign_id, problem_id=problem.id, action=AMEND_DEADLINE,
            from_status=problem.status, to_status=problem.status, actor=actor.user,
            actor_role=Role.COUNTY.value, actor_name=actor.name, at=now, note=why,
            data={"from_deadline": m.from_date.isoformat() if m.from_date else None,
                  "deadline": m.to_date.isoformat(), "plan_version": version}))
    session.add(CampaignEvent(
        campaign_id=campaign_id, action=AMEND, actor=actor.user, at=now, note=reason,
        data={"from_version": version - 1, "version": version,
              "rerouted": [r.code for r in diff.reroutes],
              "routed": [r.code for r in diff.routed],
              "deadlines_moved": [m.code for m in diff.deadline_moves],
              "co_offices_changed": [c.code for c in diff.co_office_changes],
              "co_office_notices": notices,
              "changes": list(diff.changes), "offices_added": list(diff.offices_added)}))
    session.flush()
    return AmendmentResult(campaign_id, version, diff)


def _co_office_words(c: CoOfficeChange) -> str:
    """协办单位增加 县民政局；不再协办 县扶贫办."""
    parts = []
    if c.gained_names:
        parts.append(f"协办单位增加 {'、'.join(c.gained_names)}")
    if c.lost_names:
        parts.append(f"不再协办 {'、'.join(c.lost_names)}")
    return "；".join(parts)


def _co_office_notices(uow: UnitOfWork, clock: Clock, campaign_id: int, plan: Plan,
                       diff: AmendmentDiff, version: int, actor: Actor) -> list[str]:
    """Tell the co-offices an amendment added or dropped, as `notices.co_offices` says.

    Only once 督办通知书 have gone out (before that, the rectify stage's notices list everyone):
    a co-office whose level gets its own notice gets one now for its new problems; one whose
    level is copied (抄送) is copied on the lead's live notice listing each new problem, with
    a message; one dropped is told which problems it no longer helps with (its own notice no
    longer lists them for it). Returns the 文号 of the notices issued.
    """
    session = uow.session
    if not diff.co_office_changes or session.scalar(select(Notice.id).where(
            Notice.campaign_id == campaign_id, Notice.kind == KIND_NOTICE,
            Notice.voided.is_(False)).limit(1)) is None:
        return []
    offices = office_rows(session, campaign_id)
    mode = {code: plan.notices.co_offices.of(o.level) for code, o in offices.items()}
    why = f"方案修订（第{version}版）"
    own = sorted({code for c in diff.co_office_changes for code in c.gained
                  if mode.get(code) is CoOfficeNotice.OWN})
    issued = issue_notices(uow, clock, campaign_id, issued_by=actor.user,
                           batch_key=f"amend:{version}", offices=own) if own else []
    copied: dict[tuple[int, str], list[str]] = defaultdict(list)
    dropped: dict[str, list[str]] = defaultdict(list)
    for c in diff.co_office_changes:
        lead_notice = None
        for code in c.gained:
            if mode.get(code) is not CoOfficeNotice.COPY:
                continue
            lead_notice = lead_notice or session.scalar(
                select(NoticeProblem.notice_id).join(Problem, Problem.id == NoticeProblem.problem_id)
                .where(NoticeProblem.problem_id == c.problem_id,
                       NoticeProblem.kind == KIND_NOTICE, NoticeProblem.co_office.is_(False),
                       NoticeProblem.office_code == Problem.lead_office))
            if lead_notice is not None:
                copied[(lead_notice, code)].append(c.code)
        for code in c.lost:
            if mode.get(code) is not CoOfficeNotice.NONE:
                dropped[code].append(c.code)
            session.execute(delete(NoticeProblem).where(
                NoticeProblem.problem_id == c.problem_id, NoticeProblem.office_code == code,
                NoticeProblem.co_office.is_(True)))
    for (notice_id, code), codes in sorted(copied.items()):
        notice = session.get(Notice, notice_id)
        assert notice is not None
        if session.get(NoticeCopy, (notice_id, code)) is None:
            session.add(NoticeCopy(notice_id=notice_id, office_code=code))
        lead = offices[notice.office_code]
        enqueue(session, clock, plan, campaign_id=campaign_id, target=offices[code],
                audience=Audience.OFFICE, kind="notice_copied",
                subject=f"【抄送】{notice.number} {notice.title}",
                body=(f"{offices[code].name}：\n{why}，{lead.name}的督办通知书（{notice.number}）"
                      f"抄送你单位，新增需你单位配合整改的问题{len(codes)}个（{'、'.join(codes)}），"
                      "请与牵头单位对接，按时限配合完成整改。"),
                dedupe_key=f"amend:{campaign_id}:{version}:copy:{notice_id}:{code}",
                payload={"notice_id": notice_id, "number": notice.number, "problems": codes})
    for code, codes in sorted(dropped.items()):
        if code not in offices:
            continue
        enqueue(session, clock, plan, campaign_id=campaign_id, target=offices[code],
                audience=Audience.OFFICE, kind="co_office_dropped",
                subject=f"【方案修订】{offices[code].name}不再协办{len(codes)}个问题",
                body=(f"{offices[code].name}：\n{why}，以下问题不再需要你单位配合整改："
                      f"{'、'.join(codes)}。"),
                dedupe_key=f"amend:{campaign_id}:{version}:dropped:{code}",
                payload={"problems": codes})
    session.flush()
    return [n.number for n in issued]


def _sync_scope(uow: UnitOfWork, campaign_id: int, plan: Plan, today: dt.date) -> None:
    """Bring the stored stages, towns, villages and offices in line with the new plan.

    Rows the plan no longer names stay (closed problems and past documents name them); the
    plan in force decides routing, notices and audiences.
    """
    session = uow.session
    stages = {s.seq: s for s in session.scalars(
        select(CampaignStage).where(CampaignStage.campaign_id == campaign_id))}
    ran = set(session.scalars(select(StageRun.stage_seq).where(
        StageRun.campaign_id == campaign_id)))
    for seq, stage in enumerate(plan.stages, start=1):
        row = stages.pop(seq, None)
        if row is None:
            session.add(CampaignStage(campaign_id=campaign_id, seq=seq, kind=stage.kind.value,
                                      name=stage.name, start=stage.start, end=stage.end))
            continue
        row.name, row.end = stage.name, stage.end
        if row.start > today and seq not in ran:  # diff_plans refused changing a started one
            row.kind, row.start = stage.kind.value, stage.start
    for seq, row in stages.items():  # stages removed: none of them started (diff_plans)
        if seq not in ran:
            session.delete(row)

    towns = {t.code: t for t in session.scalars(
        select(Town).where(Town.campaign_id == campaign_id))}
    villages = {(t, v) for t, v in session.execute(select(Village.town_code, Village.code).where(
        Village.campaign_id == campaign_id))}
    offices = {o.code: o for o in session.scalars(
        select(Office).where(Office.campaign_id == campaign_id))}
    declared = {o.code for o in plan.offices}
    for town in plan.towns:
        if town.code in towns:
            towns[town.code].name = town.name
        else:
            session.add(Town(campaign_id=campaign_id, code=town.code, name=town.name))
        for village in town.villages:
            if (town.code, village.code) in villages:
                continue
            session.add(Village(campaign_id=campaign_id, town_code=town.code,
                                code=village.code, name=village.name))
            code = village_office_code(village.code)
            if code not in declared and code not in offices:
                session.add(Office(campaign_id=campaign_id, code=code, name=village.name,
                                   level=OfficeLevel.VILLAGE.value, town_code=town.code))
    for office in plan.offices:
        held = offices.get(office.code)
        if held is None:
            held = Office(campaign_id=campaign_id, code=office.code)
            session.add(held)
        held.name, held.level, held.town_code = office.name, office.level.value, office.town
        held.head, held.webhook = office.head, office.webhook
        held.contacts = [{"name": c.name, "phone": c.phone, "email": c.email}
                         for c in office.contacts]
