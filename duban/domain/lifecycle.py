"""The problem lifecycle as a transition table, from found (待交办) to closed (销号).

Each row says who may move, on which conditions (guards on the actor and the problem,
requirements on what comes with the move), which defaults fill what was left out, and what the
move changes (named effects). A move is decided here, purely: `decide(problem, action, actor,
payload, context)` returns the transition with the fields and audit data its effects change,
or raises a typed error with a Chinese message; `offered(problem, actor, context)` answers
which moves an actor may make now. `duban.services.moves` applies a transition to a row and
appends one audit event per move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from duban.domain.errors import DubanError
from duban.domain.workdays import WorkCalendar


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

# A spot check's result (随机抽查): drawn and not yet checked, then passed or failed.
SPOT_CHECK_RESULT_LABELS: dict[str, str] = {"pending": "待检查", "passed": "合格",
                                            "failed": "不合格"}


@dataclass(frozen=True)
class Actor:
    """Who makes a move: a user, the role they act in, and the offices they may act for.

    `offices` holds the user's own office and any office they stand in for (代理).
    `extra_roles` holds the roles a user holds besides their main one (兼任), e.g. a county
    clerk who also sits on a supervision group.
    `campaigns` holds the campaigns an office, town or village account belongs to (its own and
    any granted); None means any campaign (county office, supervision groups, the system, or
    an account explicitly granted all campaigns). Office codes repeat across campaigns.
    """

    user: str
    role: Role
    offices: frozenset[str] = frozenset()
    name: str = ""
    extra_roles: frozenset[Role] = frozenset()
    campaigns: frozenset[int] | None = None

    @property
    def roles(self) -> frozenset[Role]:
        """Every role the user holds: the main one and any extra ones."""
        return self.extra_roles | {self.role}

    @property
    def label(self) -> str:
        """The user and their roles in Chinese, e.g. 张三（县级办公室、督查组）."""
        roles = [self.role, *sorted(self.extra_roles - {self.role})]
        return f"{self.name or self.user}（{'、'.join(ROLE_LABELS[r] for r in roles)}）"


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
    reopen_count: int = 0
    campaign_id: int | None = None
    deadline_cycle: int = 0  # how many times the deadline was set anew (the ladder restarts)


@dataclass(frozen=True)
class Payload:
    """What comes with a move: a note, a new office or deadline, evidence references."""

    note: str = ""
    office: str | None = None  # the office routed or reassigned to
    co_offices: tuple[str, ...] = ()
    deadline: dt.date | None = None  # new deadline (extension, failed review, reopen)
    evidence: tuple[str, ...] = ()  # content hashes of stored evidence files


@dataclass(frozen=True)
class Context:
    """What the day and the campaign's plan add to a decision; the service looks it up.

    `redo_deadline` is the plan's default after a failed review or reopen (its
    rectify_days_after_failed_review working days from today), `requested_deadline` the date
    the office asked for in its extension request, `routing_deadline` the plan's deadline (and
    its basis) for a problem routed without one (its date None while it waits for the notice's
    签收), `signed_deadline` the deadline counted from today's 签收 for one still waiting. A
    default left None is simply not offered.
    """

    today: dt.date | None = None
    now: dt.datetime | None = None
    three_signatures: bool = False  # plan review.three_signatures: the reviewer may not close
    redo_deadline: dt.date | None = None
    requested_deadline: dt.date | None = None
    routing_deadline: tuple[dt.date | None, str] | None = None  # None date: waits for 签收
    signed_deadline: tuple[dt.date, str] | None = None  # basis signed: counted from today


class LifecycleError(DubanError):
    """A move the lifecycle does not allow."""


class IllegalTransition(LifecycleError):
    """No such move from this status."""


class GuardFailed(LifecycleError):
    """The move exists, but this actor or payload may not make it."""


Guard = Callable[[ProblemView, Actor, Payload, Context], str | None]
"""A guard returns None when the move may go ahead, else the Chinese reason it may not."""


# ---- guards on the actor and the problem (checked when offering a move) ------------------


def _lead_office_only(p: ProblemView, a: Actor, _: Payload, __: Context) -> str | None:
    if Role.OFFICE in a.roles and p.lead_office is not None and p.lead_office in a.offices:
        return None
    return f"只有牵头责任办室（{p.lead_office or '未交办'}）可以办理此步骤"


def _not_the_submitter(p: ProblemView, a: Actor, _: Payload, __: Context) -> str | None:
    if a.user in {p.submitted_by, p.rectified_by}:
        return (f"复核人不能是整改提交人（谁整改谁签字，谁督查谁签字）：{a.label}"
                "提交了该问题的整改，不能再复核")
    return None


def _not_the_rectifier(p: ProblemView, a: Actor, _: Payload, __: Context) -> str | None:
    if a.user in {p.submitted_by, p.rectified_by}:
        return (f"销号人不能是整改人（谁整改谁签字，谁督查谁签字）：{a.label}"
                "整改了该问题，不能再为其销号")
    return None


def _not_the_reviewer(p: ProblemView, a: Actor, _: Payload, ctx: Context) -> str | None:
    if ctx.three_signatures and a.user == p.review_passed_by:
        return (f"本行动要求三方分别签字（谁排查、谁整改、谁督查），复核人不能独自销号：{a.label}"
                "已复核通过该问题，须由另一位县级办公室人员销号")
    return None


def _needs_passed_review(p: ProblemView, a: Actor, _: Payload, __: Context) -> str | None:
    if not p.review_passed_by:
        return "销号前须复核通过"
    if not (p.found_by and p.rectified_by):
        return "销号须有排查人、整改人、复核人三方签字"
    return None


# ---- requirements on what comes with the move (checked when it is sent) -------------------


def _needs_note(p: ProblemView, a: Actor, payload: Payload, _: Context) -> str | None:
    return None if payload.note.strip() else "须填写说明（原因）"


def _needs_office(p: ProblemView, a: Actor, payload: Payload, _: Context) -> str | None:
    if not payload.office:
        return "须指定责任办室"
    return None


def _needs_other_office(p: ProblemView, a: Actor, payload: Payload, _: Context) -> str | None:
    if payload.office and payload.office == p.lead_office:
        return f"改派的责任办室不能与原办室相同：{payload.office}"
    return None


def _needs_later_deadline(p: ProblemView, a: Actor, payload: Payload, _: Context) -> str | None:
    if payload.deadline is None:
        return "须指定新的整改时限"
    if p.deadline is not None and payload.deadline <= p.deadline:
        return f"新的整改时限（{payload.deadline.isoformat()}）须晚于原时限（{p.deadline.isoformat()}）"
    return None


def _needs_new_deadline(p: ProblemView, a: Actor, payload: Payload, ctx: Context) -> str | None:
    if payload.deadline is None:
        return "须指定新的整改时限"
    if ctx.today is not None and payload.deadline < ctx.today:
        return (f"新的整改时限（{payload.deadline.isoformat()}）不能早于今天"
                f"（{ctx.today.isoformat()}）")
    return None


def _needs_evidence(p: ProblemView, a: Actor, payload: Payload, _: Context) -> str | None:
    return None if payload.evidence else "提交整改须上传佐证资料"


# ---- defaults and effects ------------------------------------------------------------------


class Default(StrEnum):
    """A value a move gets when it comes without one: one policy for every edge."""

    REQUESTED_DEADLINE = "requested_deadline"  # the date the office asked for (批准延期)
    REDO_DEADLINE = "redo_deadline"  # the plan's working days from today (复核不通过, 重新打开)


class Effect(StrEnum):
    """What a move does to the problem and its audit event, besides changing the status."""

    ROUTE_TO_OFFICE = "route_to_office"  # lead office := the payload's; co-offices replaced
    ROUTING_DEADLINE = "routing_deadline"  # a problem without a deadline gets the plan's
    SIGNED_DEADLINE = "signed_deadline"  # a deadline waiting for the 签收 starts counting
    NOTE_REQUESTED_DEADLINE = "note_requested_deadline"  # the asked-for date, audit data only
    NEW_DEADLINE = "new_deadline"  # deadline := the payload's, with the rule's basis
    SIGN_RECTIFICATION = "sign_rectification"  # submitted_by, rectified_by := the actor
    SIGN_REVIEW = "sign_review"  # review_passed_by := the actor
    CLEAR_REVIEW = "clear_review"  # submitted_by, review_passed_by := none: rectify again
    SIGN_CLOSE = "sign_close"  # closed_at := now
    COUNT_REOPEN = "count_reopen"  # reopen_count + 1, closed_at := none


@dataclass(frozen=True)
class Change:
    """What one effect changes: problem fields, audit data, and the co-offices if replaced."""

    fields: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    co_offices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Rule:
    """One row of the transition table: who may move, on what conditions, with what effect.

    `guards` depend on the actor and the problem only (an edge hides the move when one
    fails); `requires` check what comes with the move, when it is sent.
    """

    source: Status
    action: Action
    target: Status
    roles: frozenset[Role]
    guards: tuple[Guard, ...] = ()
    requires: tuple[Guard, ...] = ()
    defaults: tuple[Default, ...] = ()
    effects: tuple[Effect, ...] = ()
    basis: str = ""  # the deadline basis NEW_DEADLINE writes


@dataclass(frozen=True)
class Move:
    """The inputs of an effect."""

    rule: Rule
    problem: ProblemView
    actor: Actor
    payload: Payload
    context: Context


def _route_to_office(m: Move) -> Change:
    return Change(
        fields={"lead_office": m.payload.office, "routed_at": m.context.now,
                "unrouted_reason": None},
        data={"from_office": m.problem.lead_office, "office": m.payload.office},
        co_offices=tuple(dict.fromkeys(m.payload.co_offices)) or None,
    )


def _routing_deadline(m: Move) -> Change:
    if m.problem.deadline is not None or m.context.routing_deadline is None:
        return Change()
    date, basis = m.context.routing_deadline
    return Change(fields={"deadline": date, "deadline_basis": basis})


def _signed_deadline(m: Move) -> Change:
    if m.problem.deadline is not None or m.context.signed_deadline is None:
        return Change()
    date, basis = m.context.signed_deadline
    return Change(fields={"deadline": date, "deadline_basis": basis},
                  data={"deadline": date.isoformat(), "signed_on": (
                      m.context.today.isoformat() if m.context.today else None)})


def _note_requested_deadline(m: Move) -> Change:
    assert m.payload.deadline is not None  # the rule requires it
    return Change(data={"deadline": m.payload.deadline.isoformat()})


def _new_deadline(m: Move) -> Change:
    assert m.payload.deadline is not None  # the rule requires it
    before = m.problem.deadline
    # A new deadline starts a new cycle of the reminder ladder (duban.domain.reminders).
    return Change(fields={"deadline": m.payload.deadline, "deadline_basis": m.rule.basis,
                          "deadline_cycle": m.problem.deadline_cycle + 1},
                  data={"from_deadline": before.isoformat() if before else None,
                        "deadline": m.payload.deadline.isoformat()})


EFFECTS: dict[Effect, Callable[[Move], Change]] = {
    Effect.ROUTE_TO_OFFICE: _route_to_office,
    Effect.ROUTING_DEADLINE: _routing_deadline,
    Effect.SIGNED_DEADLINE: _signed_deadline,
    Effect.NOTE_REQUESTED_DEADLINE: _note_requested_deadline,
    Effect.NEW_DEADLINE: _new_deadline,
    Effect.SIGN_RECTIFICATION: lambda m: Change(
        fields={"submitted_by": m.actor.user, "rectified_by": m.actor.user}),
    Effect.SIGN_REVIEW: lambda m: Change(fields={"review_passed_by": m.actor.user}),
    Effect.CLEAR_REVIEW: lambda m: Change(fields={"submitted_by": None,
                                                  "review_passed_by": None}),
    Effect.SIGN_CLOSE: lambda m: Change(fields={"closed_at": m.context.now}),
    Effect.COUNT_REOPEN: lambda m: Change(
        fields={"reopen_count": m.problem.reopen_count + 1, "closed_at": None}),
}
assert set(EFFECTS) == set(Effect), "every effect needs its function"


def _r(source: Status, action: Action, target: Status, roles: set[Role], *,
       guards: tuple[Guard, ...] = (), requires: tuple[Guard, ...] = (),
       defaults: tuple[Default, ...] = (), effects: tuple[Effect, ...] = (),
       basis: str = "") -> Rule:
    return Rule(source, action, target, frozenset(roles), guards, requires, defaults, effects,
                basis)


_COUNTY = {Role.COUNTY}
_REVIEWERS = {Role.COUNTY, Role.SUPERVISOR}
_OFFICE = {Role.OFFICE}
_LEAD = (_lead_office_only,)
_NOTE = (_needs_note,)
_REASSIGN = (_needs_office, _needs_other_office, _needs_note)
_ROUTED = (Effect.ROUTE_TO_OFFICE, Effect.ROUTING_DEADLINE)
_REDO = (Effect.NEW_DEADLINE, Effect.CLEAR_REVIEW)

# The whole lifecycle. Anything not listed here is illegal.
TRANSITIONS: tuple[Rule, ...] = (
    _r(Status.UNROUTED, Action.ROUTE, Status.ROUTED, {Role.COUNTY, Role.SYSTEM},
       requires=(_needs_office,), effects=_ROUTED),
    _r(Status.UNROUTED, Action.VOID, Status.VOIDED, _COUNTY, requires=_NOTE),
    _r(Status.ROUTED, Action.ACCEPT, Status.RECTIFYING, _OFFICE, guards=_LEAD,
       effects=(Effect.SIGNED_DEADLINE,)),
    _r(Status.ROUTED, Action.DISPUTE, Status.DISPUTED, _OFFICE, guards=_LEAD, requires=_NOTE),
    _r(Status.ROUTED, Action.REASSIGN, Status.ROUTED, _COUNTY, requires=_REASSIGN,
       effects=_ROUTED),
    _r(Status.ROUTED, Action.VOID, Status.VOIDED, _COUNTY, requires=_NOTE),
    _r(Status.DISPUTED, Action.REASSIGN, Status.ROUTED, _COUNTY, requires=_REASSIGN,
       effects=_ROUTED),
    _r(Status.DISPUTED, Action.REJECT_DISPUTE, Status.RECTIFYING, _COUNTY, requires=_NOTE),
    _r(Status.DISPUTED, Action.VOID, Status.VOIDED, _COUNTY, requires=_NOTE),
    _r(Status.RECTIFYING, Action.DISPUTE, Status.DISPUTED, _OFFICE, guards=_LEAD,
       requires=_NOTE),
    _r(Status.RECTIFYING, Action.REASSIGN, Status.ROUTED, _COUNTY, requires=_REASSIGN,
       effects=_ROUTED),
    _r(Status.RECTIFYING, Action.REQUEST_EXTENSION, Status.EXTENSION_REQUESTED, _OFFICE,
       guards=_LEAD, requires=(_needs_note, _needs_later_deadline),
       effects=(Effect.NOTE_REQUESTED_DEADLINE,)),
    _r(Status.RECTIFYING, Action.SUBMIT, Status.SUBMITTED, _OFFICE, guards=_LEAD,
       requires=(_needs_note, _needs_evidence), effects=(Effect.SIGN_RECTIFICATION,)),
    _r(Status.EXTENSION_REQUESTED, Action.APPROVE_EXTENSION, Status.RECTIFYING, _COUNTY,
       requires=(_needs_later_deadline,), defaults=(Default.REQUESTED_DEADLINE,),
       effects=(Effect.NEW_DEADLINE,), basis="批准延期"),
    _r(Status.EXTENSION_REQUESTED, Action.REJECT_EXTENSION, Status.RECTIFYING, _COUNTY,
       requires=_NOTE),
    _r(Status.SUBMITTED, Action.PASS_REVIEW, Status.REVIEWED, _REVIEWERS,
       guards=(_not_the_submitter,), effects=(Effect.SIGN_REVIEW,)),
    _r(Status.SUBMITTED, Action.FAIL_REVIEW, Status.RECTIFYING, _REVIEWERS,
       guards=(_not_the_submitter,), requires=(_needs_note, _needs_new_deadline),
       defaults=(Default.REDO_DEADLINE,), effects=_REDO, basis="复核不通过，重新限期"),
    _r(Status.REVIEWED, Action.CLOSE, Status.CLOSED, _COUNTY,
       guards=(_needs_passed_review, _not_the_rectifier, _not_the_reviewer),
       effects=(Effect.SIGN_CLOSE,)),
    _r(Status.CLOSED, Action.REOPEN, Status.RECTIFYING, _REVIEWERS,
       requires=(_needs_note, _needs_new_deadline), defaults=(Default.REDO_DEADLINE,),
       effects=(*_REDO, Effect.COUNT_REOPEN), basis="抽查不合格，重新限期"),
)

_TABLE: dict[tuple[Status, Action], Rule] = {(r.source, r.action): r for r in TRANSITIONS}
assert len(_TABLE) == len(TRANSITIONS), "duplicate (status, action) in the transition table"


@dataclass(frozen=True)
class Transition:
    """A decided move: the status change, the role acted in, and what the move changes."""

    action: Action
    source: Status
    target: Status
    role: Role | None = None  # the actor's role the rule allowed (a user may hold two)
    payload: Payload = field(default_factory=Payload)  # as sent, with defaults filled in
    fields: dict[str, Any] = field(default_factory=dict)  # problem columns to set
    data: dict[str, Any] = field(default_factory=dict)  # the audit event's data
    co_offices: tuple[str, ...] | None = None  # the new co-offices, when replaced


def allowed_actions(status: Status) -> list[Action]:
    """The actions the table offers from a status, in table order."""
    return [r.action for r in TRANSITIONS if r.source == status]


def rule_for(status: Status, action: Action) -> Rule | None:
    """The row of the table for a move from a status, if there is one."""
    return _TABLE.get((status, action))


def acting_role(rule: Rule, actor: Actor) -> Role | None:
    """The role the actor makes this move in: their main role if allowed, else an extra one."""
    if actor.role in rule.roles:
        return actor.role
    return min(actor.roles & rule.roles, default=None)


def role_refusal(actor: Actor, action: Action, what: str = "") -> str | None:
    """Why none of the actor's roles may ever make this move (batch use cases ask up front).

    `what` names the use case in the message instead of the move, e.g. 批量改派.
    """
    roles = frozenset(r for rule in TRANSITIONS if rule.action == action for r in rule.roles)
    if actor.roles & roles:
        return None
    names = "、".join(ROLE_LABELS[r] for r in sorted(roles) if r != Role.SYSTEM)
    return f"{what or '「' + ACTION_LABELS[action] + '」'}须由{names}办理，{actor.label}无权办理"


def _refusal(rule: Rule, problem: ProblemView, actor: Actor, ctx: Context) -> str | None:
    """Why this actor may not make this move on this problem now, whatever comes with it."""
    if acting_role(rule, actor) is None:
        roles = "、".join(ROLE_LABELS[r] for r in sorted(rule.roles))
        return f"「{ACTION_LABELS[rule.action]}」须由{roles}办理，{actor.label}无权办理"
    for guard in rule.guards:
        reason = guard(problem, actor, Payload(), ctx)
        if reason is not None:
            return f"问题 {problem.code} 不能「{ACTION_LABELS[rule.action]}」：{reason}"
    return None


def offered(problem: ProblemView, actor: Actor, ctx: Context | None = None) -> list[Action]:
    """The moves this actor may make on this problem now, in table order.

    Role and the guards on actor and problem are checked; what must come with a move (a
    note, a later deadline, evidence) is checked when it is sent.
    """
    ctx = ctx or Context()
    return [r.action for r in TRANSITIONS
            if r.source == problem.status and _refusal(r, problem, actor, ctx) is None]


def with_defaults(rule: Rule, payload: Payload, ctx: Context) -> Payload:
    """The payload with the rule's defaults filled in where it left them out."""
    if payload.deadline is not None:
        return payload
    for default in rule.defaults:
        date = (ctx.requested_deadline if default == Default.REQUESTED_DEADLINE
                else ctx.redo_deadline)
        if date is not None:
            return replace(payload, deadline=date)
    return payload


def decide(problem: ProblemView, action: Action, actor: Actor, payload: Payload,
           ctx: Context | None = None) -> Transition:
    """Decide a move, or raise IllegalTransition / GuardFailed with a Chinese message."""
    ctx = ctx or Context()
    rule = _TABLE.get((problem.status, action))
    step = ACTION_LABELS[action]
    if rule is None:
        raise IllegalTransition(
            f"问题 {problem.code} 当前状态为「{STATUS_LABELS[problem.status]}」，不能执行「{step}」"
        )
    refusal = _refusal(rule, problem, actor, ctx)
    if refusal is not None:
        raise GuardFailed(refusal)
    payload = with_defaults(rule, payload, ctx)
    for guard in rule.requires:
        reason = guard(problem, actor, payload, ctx)
        if reason is not None:
            raise GuardFailed(f"问题 {problem.code} 不能「{step}」：{reason}")
    if (actor.campaigns is not None and problem.campaign_id is not None
            and problem.campaign_id not in actor.campaigns):
        raise GuardFailed(
            f"问题 {problem.code} 不能「{step}」：{actor.name or actor.user} 的账号不属于该问题所在的行动"
            f"（编号 {problem.campaign_id}），同代码的办室在不同行动中是不同单位")
    move = Move(rule, problem, actor, payload, ctx)
    fields: dict[str, Any] = {}
    data: dict[str, Any] = {}
    co_offices: tuple[str, ...] | None = None
    for effect in rule.effects:
        change = EFFECTS[effect](move)
        fields.update(change.fields)
        data.update(change.data)
        co_offices = change.co_offices if change.co_offices is not None else co_offices
    fields["status"] = rule.target.value
    return Transition(action, problem.status, rule.target, acting_role(rule, actor), payload,
                      fields, data, co_offices)


def redo_deadline(calendar: WorkCalendar, today: dt.date, working_days: int) -> dt.date:
    """The default deadline after a failed review or reopen: N working days from today."""
    return calendar.add_workdays(today, working_days)


def _guard_name(guard: Guard) -> str:
    return f"`{getattr(guard, '__name__', str(guard))}`"


def rules_table() -> str:
    """The table's guards, defaults and effects as Markdown (docs/lifecycle.md shows it)."""
    lines = ["| from | move | who | refused unless | must come with | default | effects |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in TRANSITIONS:
        roles = "/".join(ROLE_LABELS[x] for x in sorted(r.roles))
        effects = ", ".join(f"`{e.value}`" for e in r.effects)
        if r.basis:
            effects += f" (basis 「{r.basis}」)"
        lines.append(
            f"| {STATUS_LABELS[r.source]} | {ACTION_LABELS[r.action]} | {roles} "
            f"| {', '.join(map(_guard_name, r.guards))} "
            f"| {', '.join(map(_guard_name, r.requires))} "
            f"| {', '.join(f'`{d.value}`' for d in r.defaults)} | {effects} |")
    return "\n".join(lines)


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
    print()
    print(rules_table())
