"""The problem lifecycle as a transition table, from found (待交办) to closed (销号).

A move is decided here, purely: `decide(problem, action, actor, payload)` returns the
transition or raises a typed error with a Chinese message. The service layer applies it to a
row and appends one audit event per move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from duban.domain.errors import DubanError


class Status(StrEnum):
    """Where a problem stands."""

    UNROUTED = "unrouted"  # 待交办: found, no responsible office yet
    ROUTED = "routed"  # 已交办: routed, waiting for the office to acknowledge
    RECTIFYING = "rectifying"  # 整改中
    DISPUTED = "disputed"  # 申请改派: the office disputes its routing
    EXTENSION_REQUESTED = "extension_requested"  # 延期申请中
    SUBMITTED = "submitted"  # 待复核: rectification submitted with evidence
    REVIEWED = "reviewed"  # 复核通过，待销号
    CLOSED = "closed"  # 已销号
    VOIDED = "voided"  # 已核销: not a problem after all (不属实 / 重复)


STATUS_LABELS: dict[Status, str] = {
    Status.UNROUTED: "待交办",
    Status.ROUTED: "已交办",
    Status.RECTIFYING: "整改中",
    Status.DISPUTED: "申请改派",
    Status.EXTENSION_REQUESTED: "延期申请中",
    Status.SUBMITTED: "待复核",
    Status.REVIEWED: "复核通过",
    Status.CLOSED: "已销号",
    Status.VOIDED: "已核销",
}

# Statuses in which the deadline is running and the office owes a move.
OPEN_STATUSES = frozenset(
    {Status.ROUTED, Status.RECTIFYING, Status.DISPUTED, Status.EXTENSION_REQUESTED}
)
FINAL_STATUSES = frozenset({Status.CLOSED, Status.VOIDED})


class Action(StrEnum):
    """A move someone makes on a problem."""

    ROUTE = "route"  # 交办
    ACCEPT = "accept"  # 签收
    DISPUTE = "dispute"  # 申请改派
    REASSIGN = "reassign"  # 改派
    REJECT_DISPUTE = "reject_dispute"  # 驳回改派申请
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    APPROVE_EXTENSION = "approve_extension"  # 批准延期
    REJECT_EXTENSION = "reject_extension"  # 驳回延期
    SUBMIT = "submit"  # 提交整改
    PASS_REVIEW = "pass_review"  # 复核通过
    FAIL_REVIEW = "fail_review"  # 复核不通过，退回整改
    CLOSE = "close"  # 销号
    REOPEN = "reopen"  # 抽查不合格，重新整改
    VOID = "void"  # 核销（不属实 / 重复）


ACTION_LABELS: dict[Action, str] = {
    Action.ROUTE: "交办",
    Action.ACCEPT: "签收",
    Action.DISPUTE: "申请改派",
    Action.REASSIGN: "改派",
    Action.REJECT_DISPUTE: "驳回改派申请",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.REJECT_EXTENSION: "驳回延期",
    Action.SUBMIT: "提交整改",
    Action.PASS_REVIEW: "复核通过",
    Action.FAIL_REVIEW: "复核不通过",
    Action.CLOSE: "销号",
    Action.REOPEN: "重新打开",
    Action.VOID: "核销",
}


class Role(StrEnum):
    """What a user acts as."""

    COUNTY = "county"  # 县级办公室（领导小组办公室）
    SUPERVISOR = "supervisor"  # 督查组
    TOWN = "town"  # 乡镇
    OFFICE = "office"  # 责任办室 / 责任单位
    VILLAGE = "village"  # 村
    SYSTEM = "system"  # duban itself, e.g. routing at intake


ROLE_LABELS: dict[Role, str] = {
    Role.COUNTY: "县级办公室",
    Role.SUPERVISOR: "督查组",
    Role.TOWN: "乡镇",
    Role.OFFICE: "责任办室",
    Role.VILLAGE: "村",
    Role.SYSTEM: "系统",
}


@dataclass(frozen=True)
class Actor:
    """Who makes a move: a user, the role they act in, and the offices they may act for.

    `offices` holds the user's own office and any office they stand in for (代理).
    """

    user: str
    role: Role
    offices: frozenset[str] = frozenset()
    name: str = ""


@dataclass(frozen=True)
class ProblemView:
    """What the lifecycle needs to know of a problem to decide a move."""

    code: str
    status: Status
    lead_office: str | None
    submitted_by: str | None = None
    rectified_by: str | None = None
    found_by: str | None = None
    review_passed_by: str | None = None
    deadline: dt.date | None = None


@dataclass(frozen=True)
class Payload:
    """What comes with a move: a note, a new office or deadline, evidence references."""

    note: str = ""
    office: str | None = None  # the office routed or reassigned to
    co_offices: tuple[str, ...] = ()
    deadline: dt.date | None = None  # new deadline (extension, failed review, reopen)
    evidence: tuple[str, ...] = ()  # content hashes of stored evidence files


class LifecycleError(DubanError):
    """A move the lifecycle does not allow."""


class IllegalTransition(LifecycleError):
    """No such move from this status."""


class GuardFailed(LifecycleError):
    """The move exists, but this actor or payload may not make it."""


Guard = Callable[[ProblemView, Actor, Payload], str | None]
"""A guard returns None when the move may go ahead, else the Chinese reason it may not."""


def _lead_office_only(p: ProblemView, a: Actor, _: Payload) -> str | None:
    if a.role == Role.OFFICE and p.lead_office is not None and p.lead_office in a.offices:
        return None
    return f"只有牵头责任办室（{p.lead_office or '未交办'}）可以办理此步骤"


def _not_the_submitter(p: ProblemView, a: Actor, _: Payload) -> str | None:
    if a.user in {p.submitted_by, p.rectified_by}:
        return "复核人不能是整改提交人（谁整改谁签字，谁督查谁签字）"
    return None


def _needs_passed_review(p: ProblemView, a: Actor, _: Payload) -> str | None:
    if not p.review_passed_by:
        return "销号前须复核通过"
    if not (p.found_by and p.rectified_by):
        return "销号须有排查人、整改人、复核人三方签字"
    return None


def _needs_note(p: ProblemView, a: Actor, payload: Payload) -> str | None:
    return None if payload.note.strip() else "须填写说明（原因）"


def _needs_office(p: ProblemView, a: Actor, payload: Payload) -> str | None:
    if not payload.office:
        return "须指定责任办室"
    return None


def _needs_other_office(p: ProblemView, a: Actor, payload: Payload) -> str | None:
    if payload.office and payload.office == p.lead_office:
        return f"改派的责任办室不能与原办室相同：{payload.office}"
    return None


def _needs_later_deadline(p: ProblemView, a: Actor, payload: Payload) -> str | None:
    if payload.deadline is None:
        return "须指定新的整改时限"
    if p.deadline is not None and payload.deadline <= p.deadline:
        return f"新的整改时限（{payload.deadline.isoformat()}）须晚于原时限（{p.deadline.isoformat()}）"
    return None


def _needs_new_deadline(p: ProblemView, a: Actor, payload: Payload) -> str | None:
    return None if payload.deadline is not None else "须指定新的整改时限"


def _needs_evidence(p: ProblemView, a: Actor, payload: Payload) -> str | None:
    return None if payload.evidence else "提交整改须上传佐证资料"


@dataclass(frozen=True)
class Rule:
    """One row of the transition table."""

    source: Status
    action: Action
    target: Status
    roles: frozenset[Role]
    guards: tuple[Guard, ...] = field(default=())


def _r(
    source: Status, action: Action, target: Status, roles: set[Role], *guards: Guard
) -> Rule:
    return Rule(source, action, target, frozenset(roles), guards)


_COUNTY = {Role.COUNTY}
_REVIEWERS = {Role.COUNTY, Role.SUPERVISOR}

# The whole lifecycle. Anything not listed here is illegal.
TRANSITIONS: tuple[Rule, ...] = (
    _r(Status.UNROUTED, Action.ROUTE, Status.ROUTED, {Role.COUNTY, Role.SYSTEM}, _needs_office),
    _r(Status.UNROUTED, Action.VOID, Status.VOIDED, _COUNTY, _needs_note),
    _r(Status.ROUTED, Action.ACCEPT, Status.RECTIFYING, {Role.OFFICE}, _lead_office_only),
    _r(Status.ROUTED, Action.DISPUTE, Status.DISPUTED, {Role.OFFICE}, _lead_office_only,
       _needs_note),
    _r(Status.ROUTED, Action.REASSIGN, Status.ROUTED, _COUNTY, _needs_office, _needs_other_office,
       _needs_note),
    _r(Status.ROUTED, Action.VOID, Status.VOIDED, _COUNTY, _needs_note),
    _r(Status.DISPUTED, Action.REASSIGN, Status.ROUTED, _COUNTY, _needs_office,
       _needs_other_office, _needs_note),
    _r(Status.DISPUTED, Action.REJECT_DISPUTE, Status.RECTIFYING, _COUNTY, _needs_note),
    _r(Status.DISPUTED, Action.VOID, Status.VOIDED, _COUNTY, _needs_note),
    _r(Status.RECTIFYING, Action.DISPUTE, Status.DISPUTED, {Role.OFFICE}, _lead_office_only,
       _needs_note),
    _r(Status.RECTIFYING, Action.REASSIGN, Status.ROUTED, _COUNTY, _needs_office,
       _needs_other_office, _needs_note),
    _r(Status.RECTIFYING, Action.REQUEST_EXTENSION, Status.EXTENSION_REQUESTED, {Role.OFFICE},
       _lead_office_only, _needs_note, _needs_later_deadline),
    _r(Status.RECTIFYING, Action.SUBMIT, Status.SUBMITTED, {Role.OFFICE}, _lead_office_only,
       _needs_note, _needs_evidence),
    _r(Status.EXTENSION_REQUESTED, Action.APPROVE_EXTENSION, Status.RECTIFYING, _COUNTY,
       _needs_later_deadline),
    _r(Status.EXTENSION_REQUESTED, Action.REJECT_EXTENSION, Status.RECTIFYING, _COUNTY,
       _needs_note),
    _r(Status.SUBMITTED, Action.PASS_REVIEW, Status.REVIEWED, _REVIEWERS, _not_the_submitter),
    _r(Status.SUBMITTED, Action.FAIL_REVIEW, Status.RECTIFYING, _REVIEWERS, _not_the_submitter,
       _needs_note, _needs_new_deadline),
    _r(Status.REVIEWED, Action.CLOSE, Status.CLOSED, _COUNTY, _needs_passed_review),
    _r(Status.CLOSED, Action.REOPEN, Status.RECTIFYING, _REVIEWERS, _needs_note,
       _needs_new_deadline),
)

_TABLE: dict[tuple[Status, Action], Rule] = {(r.source, r.action): r for r in TRANSITIONS}
assert len(_TABLE) == len(TRANSITIONS), "duplicate (status, action) in the transition table"


@dataclass(frozen=True)
class Transition:
    """A decided move."""

    action: Action
    source: Status
    target: Status


def allowed_actions(status: Status) -> list[Action]:
    """The actions the table offers from a status, in table order."""
    return [r.action for r in TRANSITIONS if r.source == status]


def decide(problem: ProblemView, action: Action, actor: Actor, payload: Payload) -> Transition:
    """Decide a move, or raise IllegalTransition / GuardFailed with a Chinese message."""
    rule = _TABLE.get((problem.status, action))
    step = ACTION_LABELS[action]
    if rule is None:
        raise IllegalTransition(
            f"问题 {problem.code} 当前状态为「{STATUS_LABELS[problem.status]}」，不能执行「{step}」"
        )
    if actor.role not in rule.roles:
        roles = "、".join(ROLE_LABELS[r] for r in sorted(rule.roles))
        raise GuardFailed(
            f"「{step}」须由{roles}办理，{actor.name or actor.user}（{ROLE_LABELS[actor.role]}）无权办理"
        )
    for guard in rule.guards:
        reason = guard(problem, actor, payload)
        if reason is not None:
            raise GuardFailed(f"问题 {problem.code} 不能「{step}」：{reason}")
    return Transition(action, problem.status, rule.target)


def mermaid() -> str:
    """The transition table as a Mermaid state diagram (docs/lifecycle.md is generated from it)."""
    lines = ["stateDiagram-v2", f"    [*] --> {Status.UNROUTED.value}: 登记"]
    for status in Status:
        lines.append(f"    {status.value}: {STATUS_LABELS[status]}")
    for rule in TRANSITIONS:
        roles = "/".join(ROLE_LABELS[r] for r in sorted(rule.roles))
        lines.append(f"    {rule.source.value} --> {rule.target.value}: "
                     f"{ACTION_LABELS[rule.action]}（{roles}）")
    lines += [f"    {Status.CLOSED.value} --> [*]", f"    {Status.VOIDED.value} --> [*]"]
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid())
