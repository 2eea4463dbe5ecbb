"""The one move use case: every lifecycle move of every edge goes through here.

The web pages and the API (a user's scope: a problem they may not see is NotFound), the CLI
(a named user), the demo's simulated people and the services that move problems themselves
(batch close, spot-check reopen, bulk reassignment) all call `apply` or, inside their own
transaction, `apply_in` / `move_in`. The domain's transition table decides: who may move,
on what conditions, which defaults fill in what was left out, and what the move changes;
this module only looks up what the table asks for and writes the result with one audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.domain.deadlines import Deadline, basis_labels, compute_deadline
from duban.domain.errors import ConflictError, DubanError, NotFound
from duban.domain.lifecycle import (
    Action,
    Actor,
    Context,
    Default,
    Effect,
    Payload,
    ProblemView,
    Rule,
    Status,
    Transition,
    decide,
    offered,
    redo_deadline,
    rule_for,
)
from duban.domain.plan import DeadlineBasis, Plan, StageKind
from duban.services.actors import resolve_actor
from duban.services.calendars import working_calendar
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.events import state_changed
from duban.services.evidence import (
    CheckedFile,
    UploadedFile,
    add_checked,
    check_files,
    evidence_root,
    evidence_round,
    evidence_rounds,
    refuse_frozen,
    round_hashes,
    store_checked,
    write_blobs,
)
from duban.services.problems import find_problem
from duban.services.scoping import Scope, problem_clause
from models import AuditEvent, Evidence, Office, Problem, ProblemCoOffice

CO_OFFICE = cast(Table, ProblemCoOffice.__table__)
AUDIT = cast(Table, AuditEvent.__table__).insert()
EVIDENCE = cast(Table, Evidence.__table__).insert()

Who = Scope | str
"""Who moves: a signed-in user's scope (web, API), or a username (CLI, services, the demo)."""


@dataclass(frozen=True)
class Moved:
    """What a move did: the problem as it is now and the evidence the move carries."""

    problem: Problem
    evidence: tuple[str, ...]


def apply(
    uow: UnitOfWork,
    clock: Clock,
    who: Who,
    ref: str | int,
    action: Action,
    payload: Payload,
    *,
    campaign_id: int | None = None,
    expected_version: int | None = None,
    files: Sequence[UploadedFile] = (),
    then: Sequence[Action] = (),
) -> Moved:
    """One lifecycle move, with any uploaded evidence, in one transaction.

    `ref` is a problem id, or a code within `campaign_id`. `then` names moves the same actor
    makes right after, in the same transaction (复核通过 then 销号); a refused one undoes all.
    Files are checked first and stored only when the lifecycle allowed the move.
    """
    checked = check_files(files) if files else []
    session = uow.session
    actor, problem = locate(session, clock, who, ref, campaign_id)
    return apply_in(session, clock, actor, problem, action, payload,
                    expected_version=expected_version, files=checked, then=then)


def locate(session: Session, clock: Clock, who: Who, ref: str | int,
           campaign_id: int | None = None) -> tuple[Actor, Problem]:
    """The actor and the problem of a move; through a scope, another's problem is NotFound."""
    if isinstance(who, str):
        found = find_problem(session, campaign_id, ref)
        return resolve_actor(session, who, local_today(clock)), found
    try:
        found = find_problem(session, campaign_id, ref)
    except NotFound:
        raise NotFound(f"问题不存在或无权查看：编号 {ref}") from None
    if not who.sees_all and session.scalar(
            select(Problem.id).where(Problem.id == found.id,
                                     problem_clause(who, campaign_id=campaign_id))) is None:
        raise NotFound(f"问题不存在或无权查看：编号 {ref}")
    return who.actor, found


def apply_in(
    session: Session,
    clock: Clock,
    actor: Actor,
    problem: Problem,
    action: Action,
    payload: Payload,
    *,
    expected_version: int | None = None,
    files: Sequence[CheckedFile] = (),
    then: Sequence[Action] = (),
) -> Moved:
    """`apply` inside a caller's transaction, with files already checked."""
    given = stored_hashes(session, problem, payload.evidence)
    hashes = tuple(dict.fromkeys((*given, *(f.sha256 for f in files))))
    round_no = None
    if files:  # they join the round open before the move (a submission freezes it)
        refuse_frozen(problem)
        round_no = evidence_round(session, problem.id)
    move_in(session, clock, actor, problem, action, replace(payload, evidence=hashes),
            expected_version=expected_version)
    for follow in then:
        move_in(session, clock, actor, problem, follow, Payload(note=payload.note))
    if files:
        store_checked(session, clock, problem, files, actor, round_no=round_no)
    return Moved(problem, hashes)


@dataclass(frozen=True)
class Lookups:
    """What a batch's moves look up, read before the batch in one query each: the offices
    named by reassignments that exist, and each approval's last requested deadline. A move
    looking these up one by one would also flush the batch's pending moves at every query."""

    offices: frozenset[str] = frozenset()
    requested: dict[int, dt.date | None] | None = None


def batch_lookups(session: Session, campaign_id: int, steps: Sequence[Step]) -> Lookups:
    """The look-ups of a batch's moves (`Lookups`), read up front."""
    named = {s.payload.office for s in steps if s.payload.office is not None}
    offices = frozenset(session.scalars(select(Office.code).where(
        Office.campaign_id == campaign_id, Office.code.in_(named)))) if named else frozenset()
    asking = [s.problem.id for s in steps if s.payload.deadline is None
              and (rule := rule_for(Status(s.problem.status), s.action)) is not None
              and Default.REQUESTED_DEADLINE in rule.defaults]
    return Lookups(offices, requested_deadlines(session, asking) if asking else None)


@dataclass(frozen=True)
class Step:
    """One move of a batch: what `apply_in` takes for one problem."""

    problem: Problem
    action: Action
    payload: Payload
    files: Sequence[CheckedFile] = ()


def apply_batch(session: Session, clock: Clock, actor: Actor, steps: Sequence[Step], *,
                root: Path | None = None) -> list[Moved]:
    """Many moves of one actor inside the caller's transaction, each as `apply_in` makes it.

    Every move is decided by the table and audited by `move_in`, its files checked against
    the round and recorded with their upload event, exactly as one by one; what is batched is
    the writing: the evidence rounds read in one query, the rows flushed once at the end, the
    blobs written together (`write_blobs`). A refused move raises and the caller's
    transaction undoes the batch. Each problem moves at most once in a batch.
    """
    ids = [s.problem.id for s in steps]
    if len(set(ids)) != len(ids):
        raise ValueError("a problem moves at most once in a batch")
    if len({s.problem.campaign_id for s in steps}) > 1:
        raise ValueError("a batch moves the problems of one campaign")
    lookups = batch_lookups(session, steps[0].problem.campaign_id, steps) if steps else Lookups()
    rounds = evidence_rounds(session, [s.problem.id for s in steps if s.files])
    known = round_hashes(session, rounds) if rounds else {}
    blobs: list[CheckedFile] = []
    out: list[Moved] = []
    # The batch's audit events (the moves' and the uploads', in the order one by one would add
    # them, so they get the same ids) and evidence rows, inserted by one executemany each
    # after the problems' UPDATEs: the rows `move_in` and `add_checked` would add as objects.
    audit: list[dict[str, object]] = []
    evidence: list[dict[str, object]] = []
    for step in steps:
        problem, payload = step.problem, step.payload
        given = stored_hashes(session, problem, payload.evidence)
        hashes = tuple(dict.fromkeys((*given, *(f.sha256 for f in step.files))))
        if step.files:
            refuse_frozen(problem)
        move_in(session, clock, actor, problem, step.action, replace(payload, evidence=hashes),
                flush=False, lookups=lookups, audit=audit)
        if step.files:
            add_checked(session, clock, problem, step.files, actor,
                        round_no=rounds[problem.id], known=known[problem.id],
                        audit=audit, evidence=evidence)
            blobs.extend(step.files)
        out.append(Moved(problem, hashes))
    if blobs:  # after every decision: a refusal leaves no blob behind
        write_blobs(root or evidence_root(), blobs)
    session.flush()
    if audit:
        session.execute(AUDIT, audit)
    if evidence:
        session.execute(EVIDENCE, evidence)
    return out


def stored_hashes(session: Session, problem: Problem, hashes: Sequence[str]) -> list[str]:
    """Evidence named by hash must already be stored for this very problem."""
    wanted = list(dict.fromkeys(h.strip().lower() for h in hashes))
    if not wanted:
        return []
    known = set(session.scalars(select(Evidence.sha256).where(
        Evidence.problem_id == problem.id, Evidence.sha256.in_(wanted))))
    missing = [h for h in wanted if h not in known]
    if missing:
        raise NotFound(f"问题 {problem.code} 没有这些佐证资料：{'、'.join(h[:12] for h in missing)}")
    return wanted


def view_of(p: Problem) -> ProblemView:
    """What the lifecycle sees of a problem row."""
    return ProblemView(
        code=p.code, status=Status(p.status), lead_office=p.lead_office,
        submitted_by=p.submitted_by, rectified_by=p.rectified_by, found_by=p.found_by,
        review_passed_by=p.review_passed_by, deadline=p.deadline, reopen_count=p.reopen_count,
        campaign_id=p.campaign_id,
        deadline_cycle=p.deadline_cycle,
    )


def move_in(
    session: Session,
    clock: Clock,
    actor: Actor,
    problem: Problem,
    action: Action,
    payload: Payload,
    *,
    expected_version: int | None = None,
    flush: bool = True,
    lookups: Lookups | None = None,
    audit: list[dict[str, object]] | None = None,
) -> Transition:
    """Decide one move by the table and apply it to the row, audited, in the caller's session.

    Nothing is written before the lifecycle has decided, so a refusal changes nothing. With
    `flush=False` the row and its audit event wait in the session for the caller's (or the
    next query's) flush, so a caller making many moves writes them in batches; `lookups`:
    what a batch read for its moves up front (`batch_lookups`); `audit`: a batch's list the
    audit event is appended to as a row (the batch inserts them), instead of the session.
    """
    if expected_version is not None and problem.version != expected_version:
        raise ConflictError(
            f"问题 {problem.code} 已被他人修改（版本 {problem.version}，您看到的是版本 "
            f"{expected_version}），请刷新后重试"
        )
    if payload.office is not None and (lookups is None
                                       or payload.office not in lookups.offices):
        known = session.scalar(select(Office.code).where(
            Office.campaign_id == problem.campaign_id, Office.code == payload.office))
        if known is None:
            raise NotFound(f"责任办室未定义：{payload.office}")
    requested = lookups.requested if lookups is not None else None
    ctx = context_of(session, clock, problem, rule_for(Status(problem.status), action), payload,
                     requested=requested)
    transition = decide(view_of(problem), action, actor, payload, ctx)
    now = ctx.now or clock.now()
    _write(session, problem, transition, now)
    role = transition.role or actor.role
    row: dict[str, object] = {
        "campaign_id": problem.campaign_id, "problem_id": problem.id, "action": action.value,
        "from_status": transition.source.value, "to_status": transition.target.value,
        "actor": actor.user, "actor_role": role.value, "actor_name": actor.name, "at": now,
        "note": transition.payload.note, "evidence": list(transition.payload.evidence),
        "data": transition.data,
    }
    if audit is not None:
        audit.append(row)
    else:
        session.add(AuditEvent(**row))
    if flush:
        session.flush()
    state_changed(session, "problem_moved", campaign_id=problem.campaign_id,
                  problem_id=problem.id, problem=problem.code, action=action.value,
                  from_status=transition.source.value, to_status=transition.target.value,
                  actor=actor.user)
    return transition


def _write(session: Session, problem: Problem, t: Transition, now: dt.datetime) -> None:
    """The one applier of every effect: the fields the table computed, then the co-offices."""
    for name, value in t.fields.items():
        setattr(problem, name, value)
    problem.updated_at = now
    if t.co_offices is not None:
        session.execute(CO_OFFICE.delete().where(CO_OFFICE.c.problem_id == problem.id))
        session.add_all(ProblemCoOffice(problem_id=problem.id, office_code=c,
                                        campaign_id=problem.campaign_id)
                        for c in t.co_offices)


def context_of(session: Session, clock: Clock, problem: Problem, rule: Rule | None,
               payload: Payload | None = None, *,
               requested: dict[int, dt.date | None] | None = None) -> Context:
    """What the table needs besides the problem and the actor, looked up only when needed.

    A plan default the move will not use is not computed, so a move outside the working-day
    calendar's years fails only when it needed a date from it. `requested`: the problems'
    requested deadlines when a batch read them up front (`requested_deadlines`).
    """
    now = clock.now()
    today = local_today(clock)
    if rule is None:
        return Context(today=today, now=now)
    plan = load_plan_of(session, problem.campaign_id)
    blank = payload is None or payload.deadline is None
    redo = asked = None
    routing: tuple[dt.date | None, str] | None = None
    signed: tuple[dt.date, str] | None = None
    if blank and Default.REDO_DEADLINE in rule.defaults:
        redo = default_redo_deadline(plan, today)
    if blank and Default.REQUESTED_DEADLINE in rule.defaults:
        asked = (requested[problem.id] if requested is not None and problem.id in requested
                 else requested_deadline(session, problem.id))
    if Effect.ROUTING_DEADLINE in rule.effects and problem.deadline is None:
        routing = _routing_deadline(plan, problem, today)
    if (Effect.SIGNED_DEADLINE in rule.effects and problem.deadline is None
            and plan.deadlines.basis is DeadlineBasis.SIGNED):
        started = signed_deadline(plan, problem, today)
        if started.date is not None:
            signed = (started.date, started.basis)
    return Context(today=today, now=now, three_signatures=plan.review.three_signatures,
                   redo_deadline=redo, requested_deadline=asked, routing_deadline=routing,
                   signed_deadline=signed)


def default_redo_deadline(plan: Plan, today: dt.date) -> dt.date:
    """The deadline a failed review or reopen gets when none is given (every edge)."""
    return redo_deadline(working_calendar(), today, plan.review.rectify_days_after_failed_review)


def requested_deadline(session: Session, problem_id: int) -> dt.date | None:
    """The date the office asked for in its last extension request."""
    data = session.scalar(
        select(AuditEvent.data)
        .where(AuditEvent.problem_id == problem_id,
               AuditEvent.action == Action.REQUEST_EXTENSION.value)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    if data and data.get("deadline"):
        return dt.date.fromisoformat(data["deadline"])
    return None


def requested_deadlines(session: Session,
                        problem_ids: Sequence[int]) -> dict[int, dt.date | None]:
    """`requested_deadline` of many problems in one query (a batch of approvals)."""
    out: dict[int, dt.date | None] = dict.fromkeys(problem_ids)
    last = (select(AuditEvent.problem_id, func.max(AuditEvent.id).label("id"))
            .where(AuditEvent.problem_id.in_(problem_ids),
                   AuditEvent.action == Action.REQUEST_EXTENSION.value)
            .group_by(AuditEvent.problem_id).subquery())
    for pid, data in session.execute(select(AuditEvent.problem_id, AuditEvent.data)
                                     .join(last, AuditEvent.id == last.c.id)):
        if data and data.get("deadline"):
            out[pid] = dt.date.fromisoformat(data["deadline"])
    return out


def _routing_deadline(plan: Plan, problem: Problem,
                     today: dt.date) -> tuple[dt.date | None, str]:
    stage = plan.stage(StageKind.RECTIFY)
    deadline = compute_deadline(
        plan.deadlines, working_calendar(), found_on=problem.found_on, routed_on=today,
        category=problem.category, source=problem.source, tier=problem.tier,
        rectify_end=stage.end if stage else None, stages=plan.stages,
        labels=basis_labels(plan),
    )
    return deadline.date, deadline.basis


def signed_deadline(plan: Plan, problem: Problem, signed_on: dt.date, *,
                    deemed: bool = False) -> Deadline:
    """The deadline of a problem whose office signed for it on `signed_on` (basis signed)."""
    stage = plan.stage(StageKind.RECTIFY)
    routed_on = problem.routed_at.astimezone(CHINA_TZ).date() if problem.routed_at else None
    return compute_deadline(
        plan.deadlines, working_calendar(), found_on=problem.found_on, routed_on=routed_on,
        category=problem.category, source=problem.source, tier=problem.tier,
        rectify_end=stage.end if stage else None, stages=plan.stages, signed_on=signed_on,
        deemed=deemed, labels=basis_labels(plan),
    )


# ---- what may be done now ---------------------------------------------------------------


def offered_in(session: Session, clock: Clock, actor: Actor, problem: Problem) -> list[Action]:
    """The moves the table offers this actor on this problem now (pages, API, CLI, demo)."""
    plan = load_plan_of(session, problem.campaign_id)
    ctx = Context(today=local_today(clock), now=clock.now(),
                  three_signatures=plan.review.three_signatures)
    return offered(view_of(problem), actor, ctx)


@dataclass(frozen=True)
class Offer:
    """The moves a user may make on a problem now, and the default deadlines they would get."""

    problem: Problem
    actor: Actor
    actions: list[Action]
    deadlines: dict[Action, dt.date]


def offer(uow: UnitOfWork, clock: Clock, who: Who, ref: str | int,
          campaign_id: int | None = None) -> Offer:
    """What `offered_in` answers for a user and a problem, with the defaults a form shows."""
    session = uow.session
    actor, problem = locate(session, clock, who, ref, campaign_id)
    actions = offered_in(session, clock, actor, problem)
    return Offer(problem, actor, actions, default_deadlines(session, clock, problem, actions))


def default_deadlines(session: Session, clock: Clock, problem: Problem,
                      actions: Sequence[Action]) -> dict[Action, dt.date]:
    """The deadline each of these moves gets when the user gives none (forms show them)."""
    out: dict[Action, dt.date] = {}
    for action in actions:
        rule = rule_for(Status(problem.status), action)
        if rule is None or not rule.defaults:
            continue
        try:
            ctx = context_of(session, clock, problem, rule)
        except DubanError:
            continue  # outside the calendar's years: the user types the date
        date = ctx.redo_deadline or ctx.requested_deadline
        if date is not None:
            out[action] = date
    return out



@dataclass(frozen=True)
class BulkLine:
    """The result of one problem in a bulk move."""

    problem_id: int
    code: str
    ok: bool
    message: str


def apply_many(uow: UnitOfWork, clock: Clock, who: Who, problem_ids: Sequence[int],
               action: Action, payload: Payload) -> list[BulkLine]:
    """The same move on many problems, each in a savepoint of the unit; one failure stops none."""
    lines: list[BulkLine] = []
    for pid in dict.fromkeys(problem_ids):
        try:
            with uow.savepoint():
                out = apply(uow, clock, who, pid, action, payload)
            lines.append(BulkLine(pid, out.problem.code, True, "已办理"))
        except DubanError as exc:
            lines.append(BulkLine(pid, str(pid), False, exc.message))
    return lines
