"""One problem as its page shows it: routing, timeline, evidence, notices and household."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.detection import RULE_LABELS, rule_label
from duban.domain.facts import fact_lines
from duban.domain.household import (
    HOUSEHOLD_CATEGORY_LABELS,
    MONITORING_TYPE_LABELS,
    HouseholdCategory,
    MonitoringType,
)
from duban.domain.lifecycle import Action, Status
from duban.domain.plan import Plan
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.evidence import EvidenceInfo, evidence_of
from duban.services.scoping import Scope, visible_problem
from duban.services.views.common import plan_bands
from duban.services.views.ledger import LedgerRow, ledger_row
from models import AuditEvent, Household, Notice, NoticeProblem, ProblemCoOffice, User


@dataclass(frozen=True)
class EvidenceRound:
    """The evidence of one submission round: frozen once submitted (submitted_at set)."""

    number: int
    newest: bool
    submitted_at: dt.datetime | None
    before: list[EvidenceInfo]
    after: list[EvidenceInfo]


@dataclass(frozen=True)
class EventLine:
    """One step of a problem's timeline, from the audit trail."""

    at: dt.datetime
    action: str
    from_status: str | None
    to_status: str
    actor: str
    actor_name: str
    actor_role: str
    note: str
    evidence: tuple[str, ...]
    data: dict[str, object]


@dataclass(frozen=True)
class NoticeLine:
    """A notice (督办通知书 etc.) that lists a problem."""

    id: int
    number: str
    kind: str
    title: str
    office_code: str
    issued_on: dt.date
    voided: bool


@dataclass(frozen=True)
class HouseholdLine:
    """The household a problem is about, as far as the scope may see it."""

    household_id: str
    head: str
    members: int
    category: str
    monitoring_type: str | None
    # The facts the plan's household fields define, as (label, value), in the plan's order.
    facts: tuple[tuple[str, str], ...] = ()

    @property
    def category_label(self) -> str:
        """农户类别 (with 监测对象类型) in Chinese."""
        label = HOUSEHOLD_CATEGORY_LABELS[HouseholdCategory(self.category)]
        if self.monitoring_type:
            label += f"（{MONITORING_TYPE_LABELS[MonitoringType(self.monitoring_type)]}）"
        return label


@dataclass(frozen=True)
class ProblemDetail:
    """Everything the problem page shows."""

    problem: LedgerRow
    campaign_id: int
    found_by: str
    detection_rule: str | None
    facts: dict[str, object] | None
    tier: str | None
    deadline_basis: str | None
    unrouted_reason: str | None
    submitted_by: str | None
    rectified_by: str | None
    review_passed_by: str | None
    closed_at: dt.datetime | None
    reopen_count: int
    routed_at: dt.datetime | None
    co_offices: list[str]
    events: list[EventLine]
    evidence: list[EvidenceInfo]
    notices: list[NoticeLine]
    household: HouseholdLine | None
    requested_deadline: dt.date | None
    people: dict[str, str] = field(default_factory=dict)  # username -> name, for signatures
    # The detection rule in Chinese and the facts it recorded as (label, value).
    detection_label: str = ""
    fact_lines: tuple[tuple[str, str], ...] = ()

    def who(self, username: str | None) -> str:
        """A signer's name (their username when unknown, 系统 for duban itself)."""
        if not username:
            return ""
        if username == "system":
            return "系统"
        return self.people.get(username, username)

    @property
    def rounds(self) -> list[EvidenceRound]:
        """The evidence by submission round, newest first (the newest one marked)."""
        submits = [e.at for e in self.events if e.action == "submit"]
        numbers = sorted({e.round for e in self.evidence}, reverse=True)
        return [EvidenceRound(
            number=n, newest=i == 0,
            submitted_at=submits[n - 1] if n <= len(submits) else None,
            before=[e for e in self.evidence if e.round == n and e.phase == "before"],
            after=[e for e in self.evidence if e.round == n and e.phase != "before"],
        ) for i, n in enumerate(numbers)]

    @property
    def before(self) -> list[EvidenceInfo]:
        """Evidence of the state before rectification."""
        return [e for e in self.evidence if e.phase == "before"]

    @property
    def after(self) -> list[EvidenceInfo]:
        """Evidence of the rectification."""
        return [e for e in self.evidence if e.phase != "before"]


def events_of(session: Session, problem_id: int) -> list[EventLine]:
    """A problem's audit trail, oldest first."""
    return [
        EventLine(at=e.at, action=e.action, from_status=e.from_status, to_status=e.to_status,
                  actor=e.actor, actor_name=e.actor_name, actor_role=e.actor_role,
                  note=e.note, evidence=tuple(e.evidence or ()), data=dict(e.data or {}))
        for e in session.scalars(select(AuditEvent).where(AuditEvent.problem_id == problem_id)
                                 .order_by(AuditEvent.at, AuditEvent.id))
    ]


def notices_listing(session: Session, problem_id: int) -> list[NoticeLine]:
    """The notices that list a problem, in issue order."""
    listed = select(NoticeProblem.notice_id).where(NoticeProblem.problem_id == problem_id)
    rows = session.scalars(select(Notice).where(Notice.id.in_(listed))
                           .order_by(Notice.issued_at, Notice.id))
    return [NoticeLine(id=n.id, number=n.number, kind=n.kind, title=n.title,
                       office_code=n.office_code, issued_on=n.issued_on, voided=n.voided)
            for n in rows]


def _household(session: Session, plan: Plan, campaign_id: int, household_id: str | None
               ) -> HouseholdLine | None:
    if not household_id:
        return None
    h = session.scalar(select(Household).where(Household.campaign_id == campaign_id,
                                               Household.household_id == household_id))
    if h is None:
        return None
    recorded = h.facts or {}
    ordered = {f.key: recorded[f.key] for f in plan.household.fields if f.key in recorded}
    return HouseholdLine(household_id=h.household_id, head=h.head, members=h.members,
                         category=h.category, monitoring_type=h.monitoring_type,
                         facts=tuple(fact_lines(ordered, plan.household.fields)))


def household_line(uow: UnitOfWork, campaign_id: int, household_id: str) -> HouseholdLine | None:
    """A household of a campaign's register with the facts its plan defines (for `problem show`)."""
    session = uow.session
    return _household(session, load_plan_of(session, campaign_id), campaign_id, household_id)


def _detection_label(plan: Plan, code: str | None) -> str:
    if not code:
        return ""
    rule = next((r for r in plan.detection.rules if r.code == code), None)
    return rule_label(rule) if rule is not None else RULE_LABELS.get(code, code)


def _requested_deadline(status: str, events: list[EventLine]) -> dt.date | None:
    """The deadline an open extension request asks for."""
    if status != Status.EXTENSION_REQUESTED.value:
        return None
    for e in reversed(events):
        if e.action == Action.REQUEST_EXTENSION.value and e.data.get("deadline"):
            return dt.date.fromisoformat(str(e.data["deadline"]))
    return None


def problem_detail(session: Session, scope: Scope, problem_id: int,
                   today: dt.date) -> ProblemDetail:
    """A problem the scope may see, with its routing, timeline, evidence and notices."""
    p = visible_problem(session, scope, problem_id)
    plan = load_plan_of(session, p.campaign_id)
    bands = plan_bands(plan, today)
    co = list(session.scalars(select(ProblemCoOffice.office_code)
                              .where(ProblemCoOffice.problem_id == p.id)
                              .order_by(ProblemCoOffice.office_code)))
    events = events_of(session, p.id)
    evidence = evidence_of(session, p.id)
    usernames = {e.actor for e in events} | {e.uploaded_by for e in evidence} | {
        u for u in (p.submitted_by, p.rectified_by, p.review_passed_by) if u}
    people = dict(session.execute(
        select(User.username, User.name).where(User.username.in_(sorted(usernames)))).all())
    return ProblemDetail(
        people=people,
        problem=ledger_row(p, bands), campaign_id=p.campaign_id, found_by=p.found_by,
        detection_rule=p.detection_rule, facts=p.facts, tier=p.tier,
        deadline_basis=p.deadline_basis, unrouted_reason=p.unrouted_reason,
        submitted_by=p.submitted_by, rectified_by=p.rectified_by,
        review_passed_by=p.review_passed_by, closed_at=p.closed_at,
        reopen_count=p.reopen_count, routed_at=p.routed_at, co_offices=co, events=events,
        evidence=evidence, notices=notices_listing(session, p.id),
        household=_household(session, plan, p.campaign_id, p.household_id),
        requested_deadline=_requested_deadline(p.status, events),
        detection_label=_detection_label(plan, p.detection_rule),
        fact_lines=tuple(fact_lines(p.facts, plan.household.fields)),
    )
