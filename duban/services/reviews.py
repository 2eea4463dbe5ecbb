"""Batch closing (销号) and daily random spot checks (随机抽查).

Every use case here takes the edge's unit of work and every problem move goes through
`duban.services.moves`, so it is decided by the lifecycle table and audited. Submitting,
reviewing and closing one problem are plain moves: `moves.apply`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from duban.domain.clock import Clock, local_today
from duban.domain.errors import ConflictError, DubanError, NotFound, PermissionDenied
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import (
    SPOT_CHECK_RESULT_LABELS,
    STATUS_LABELS,
    Action,
    Actor,
    GuardFailed,
    Payload,
    Role,
    Status,
    role_refusal,
)
from duban.domain.plan import Plan
from duban.domain.sampling import (
    SPOT_CHECK_KIND_LABELS,
    SpotCheckKind,
    draw_spot_checks_from,
    quota_shortfall,
)
from duban.services import moves
from duban.services.actors import resolve_actor
from duban.services.campaigns import ensure_running, load_plan_of
from duban.services.database import UnitOfWork, insert_or_skip
from duban.services.problems import BATCH, find_problem, record_problems
from duban.services.spot_strata import ClosedStrata, HouseholdStrata
from models import Campaign, Household, Problem, SpotCheck, SpotCheckDraw

# A problem or household spot-checked within this many days before the draw day is not drawn
# again; the plans want many different items seen, not the same ones twice in a week.
RECENT_DAYS = 14

RESULT_LABELS = SPOT_CHECK_RESULT_LABELS


# ---- closing in batches --------------------------------------------------------------


@dataclass
class CloseResult:
    """What a batch close did: how many closed, and which were refused and why."""

    closed: int = 0
    closed_ids: list[int] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (problem code, reason)


def close_reviewed(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    username: str,
    *,
    problem_ids: Sequence[int] | None = None,
    note: str = "复核通过，批量销号",
) -> CloseResult:
    """Close every reviewed problem of a campaign (or of `problem_ids`) in the unit of work.

    A problem the lifecycle refuses (e.g. a signature missing) is listed, not fatal.
    """
    result = CloseResult()
    session = uow.session
    if session.get(Campaign, campaign_id) is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    actor = resolve_actor(session, username, local_today(clock))
    refusal = role_refusal(actor, Action.CLOSE)
    if refusal is not None:
        raise PermissionDenied(refusal)
    base = select(Problem).where(Problem.campaign_id == campaign_id,
                                 Problem.status == Status.REVIEWED.value)
    if problem_ids is None:
        chunks = [list(session.scalars(base.order_by(Problem.id)))]
    else:
        ids = list(dict.fromkeys(problem_ids))
        chunks = [list(session.scalars(base.where(Problem.id.in_(ids[i:i + BATCH]))
                                       .order_by(Problem.id)))
                  for i in range(0, len(ids), BATCH)]
    for chunk in chunks:
        for problem in chunk:
            try:
                moves.move_in(session, clock, actor, problem, Action.CLOSE, Payload(note=note))
            except GuardFailed as exc:
                result.refused.append((problem.code, exc.message))
                continue
            result.closed += 1
            result.closed_ids.append(problem.id)
    return result


# ---- random spot checks -----------------------------------------------------------------


def default_seed(campaign_id: int, document_number: str) -> int:
    """A campaign's spot-check seed when none is given: from its id and 文号, 48 bits.

    sha256("duban-spot-check/<campaign id>/<document number>"), first 6 bytes, big-endian.
    Each day, group and kind then derive their own seed string from it (sampling.derive_seed).
    """
    digest = hashlib.sha256(f"duban-spot-check/{campaign_id}/{document_number}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


@dataclass(frozen=True)
class SpotCheckInfo:
    """One spot check as listings show it."""

    id: int
    campaign_id: int
    day: dt.date
    group: str
    kind: str
    item_id: str
    problem_id: int | None
    problem_code: str | None
    problem_status: str | None
    household_id: str | None
    town: str
    village: str | None
    draw_seed: str
    result: str
    checked_by: str | None
    checked_at: dt.datetime | None
    note: str
    raised_problem_id: int | None = None  # the problem a failed household/village check found
    raised_problem_code: str | None = None
    purpose: str = ""  # a further household draw's name (专班排查入户)
    household_head: str | None = None  # 户主 of a checked household, as the register has it

    @property
    def household_label(self) -> str | None:
        """A checked household as a person reads it: 户编号 · 户主 name."""
        if self.household_id is None:
            return None
        head = f" · 户主 {self.household_head}" if self.household_head else ""
        return f"{self.household_id}{head}"

    @property
    def kind_label(self) -> str:
        """销号问题 / 农户 / 行政村, and a further household draw's purpose: 农户（专班排查入户）."""
        label = SPOT_CHECK_KIND_LABELS[SpotCheckKind(self.kind)]
        return f"{label}（{self.purpose}）" if self.purpose else label

    @property
    def result_label(self) -> str:
        """待检查 / 合格 / 不合格."""
        return RESULT_LABELS[self.result]


@dataclass(frozen=True)
class DrawInfo:
    """One day's draw: its seed and what it found short of the quota."""

    id: int
    campaign_id: int
    day: dt.date
    seed: int
    checks: int
    drawn_by: str
    drawn_at: dt.datetime
    data: dict[str, Any]


class SpotCheckError(DubanError):
    """A spot check that cannot be drawn or recorded."""


def _draw_row(session: Session, campaign_id: int, day: dt.date) -> SpotCheckDraw | None:
    return session.scalar(select(SpotCheckDraw).where(SpotCheckDraw.campaign_id == campaign_id,
                                                      SpotCheckDraw.day == day))


def _ids_of(session: Session, draw: SpotCheckDraw, seed: int | None) -> list[int]:
    if seed is not None and seed != draw.seed:
        raise SpotCheckError(
            f"{draw.day.isoformat()} 的随机抽查已抽取（随机种子 {draw.seed}），"
            f"不能以另一随机种子 {seed} 重抽")
    return list(session.scalars(select(SpotCheck.id).where(SpotCheck.draw_id == draw.id)
                                .order_by(SpotCheck.id)))


def drawn_spot_checks(uow: UnitOfWork, clock: Clock, campaign_id: int,
                      day: dt.date | None = None, seed: int | None = None) -> list[int] | None:
    """The ids of the day's drawn spot checks; None while the day's draw is due.

    The draw's own rule (draw_daily_spot_checks asks it first), also asked by the tick before
    it makes a task run of the draw.
    """
    day = day or local_today(clock)
    existing = _draw_row(uow.session, campaign_id, day)
    return None if existing is None else _ids_of(uow.session, existing, seed)


def draw_daily_spot_checks(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    day: dt.date | None = None,
    seed: int | None = None,
    *,
    drawn_by: str = "system",
    recent_days: int = RECENT_DAYS,
) -> list[int]:
    """Draw a day's spot checks for every supervision group; returns the spot-check ids.

    Idempotent per (campaign, day): a rerun, or a concurrent draw, returns the first draw's
    ids. Quotas and groups come from plan.review; the seed defaults to `default_seed`.
    """
    day = day or local_today(clock)
    session = uow.session
    drawn = drawn_spot_checks(uow, clock, campaign_id, day, seed)
    if drawn is None:
        drawn = _draw(session, clock, campaign_id, day, seed, drawn_by, recent_days)
    if drawn is None:
        # Another process drew the same day first; its draw is the day's draw.
        drawn = drawn_spot_checks(uow, clock, campaign_id, day, seed)
        assert drawn is not None  # the claim was refused because its row exists
    return drawn


def _draw(session: Session, clock: Clock, campaign_id: int, day: dt.date, seed: int | None,
          drawn_by: str, recent_days: int) -> list[int] | None:
    """Draw and write the day's checks; None when a concurrent draw claimed the day first."""
    campaign = ensure_running(session, campaign_id, "随机抽查")
    plan = load_plan_of(session, campaign_id)
    groups = plan.review.groups
    if not groups:
        raise SpotCheckError("方案未设督查组（review.groups），无法随机抽查")
    seed = default_seed(campaign.id, campaign.document_number) if seed is None else seed
    if not 0 <= seed < 2**63:
        raise SpotCheckError(f"随机种子须为 0 至 {2**63 - 1} 之间的整数：{seed}")
    since = day - dt.timedelta(days=recent_days)
    # The day itself counts: a supervisor may have checked an item ad hoc before the draw.
    recent = select(SpotCheck).where(SpotCheck.campaign_id == campaign_id,
                                     SpotCheck.day >= since, SpotCheck.day <= day)
    recent_problems = frozenset(
        pid for pid in session.scalars(recent.with_only_columns(SpotCheck.problem_id))
        if pid is not None)
    # Where the register places each household checked recently, found by its key from the
    # checks (read by household id alone, SQLite scanned the register's village index).
    recent_households = session.execute(
        select(Household.household_id, Household.town_code, Household.village_code)
        .select_from(SpotCheck)
        .join(Household, and_(Household.campaign_id == SpotCheck.campaign_id,
                              Household.household_id == SpotCheck.household_id))
        .where(SpotCheck.campaign_id == campaign_id, SpotCheck.day >= since,
               SpotCheck.day <= day)
        .distinct()).all()
    # Neither the register nor the closed problems are loaded: the closed problems are counted
    # in the database, the villages' households were counted by the intake, and only the drawn
    # candidates are looked up (issue 17).
    closed = ClosedStrata(session, campaign_id, recent_problems)
    households = HouseholdStrata(session, campaign_id, recent_households)
    checks = draw_spot_checks_from(closed, households, households.villages(), groups,
                                   plan.review.quota, seed, day,
                                   villages=[(t.code, v.code) for t in plan.towns
                                             for v in t.villages])
    short = quota_shortfall(checks, groups, plan.review.quota)
    # Claims (campaign, day): a concurrent draw waits here for the first and then skips.
    draw_id = session.scalar(insert_or_skip(session, SpotCheckDraw).values(
        campaign_id=campaign_id, day=day, seed=seed, drawn_by=drawn_by, drawn_at=clock.now(),
        checks=len(checks),
        data={"closed_pool": closed.total, "households_pool": households.total,
              "recent_days": recent_days,
              "shortfall": [{"group": g, "kind": k.value, "missing": n}
                            for (g, k), n in short.items()]},
    ).on_conflict_do_nothing(index_elements=["campaign_id", "day"])
        .returning(SpotCheckDraw.id))
    if draw_id is None:
        return None
    rows = [
        SpotCheck(
            campaign_id=campaign_id, draw_id=draw_id, day=day, group_code=c.group,
            kind=c.kind.value, item_id=str(c.item_id),
            problem_id=int(c.item_id) if c.kind == SpotCheckKind.CLOSED_PROBLEM else None,
            household_id=str(c.item_id) if c.kind == SpotCheckKind.HOUSEHOLD else None,
            town_code=c.town, village_code=c.village, draw_seed=c.draw_seed,
            purpose=c.purpose, result="pending", note="",
        )
        for c in checks
    ]
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def _spot_info(check: SpotCheck, problem: Problem | None,
               raised: Problem | None = None, head: str | None = None) -> SpotCheckInfo:
    return SpotCheckInfo(
        id=check.id, campaign_id=check.campaign_id, day=check.day, group=check.group_code,
        kind=check.kind, item_id=check.item_id, problem_id=check.problem_id,
        problem_code=problem.code if problem else None,
        problem_status=problem.status if problem else None,
        household_id=check.household_id, town=check.town_code, village=check.village_code,
        draw_seed=check.draw_seed, result=check.result, checked_by=check.checked_by,
        checked_at=check.checked_at, note=check.note,
        raised_problem_id=check.raised_problem_id,
        raised_problem_code=raised.code if raised is not None else None,
        purpose=check.purpose, household_head=head,
    )


def list_spot_checks(
    uow: UnitOfWork,
    campaign_id: int,
    *,
    day: dt.date | None = None,
    group: str | None = None,
    groups: Sequence[str] | None = None,
    result: str | None = None,
    ids: Sequence[int] | None = None,
    page: int | None = None,
    per_page: int = 50,
) -> list[SpotCheckInfo]:
    """Spot checks of a campaign, by day, group (or any of `groups`), kind and item; with
    `page`, one page of them (count_spot_checks gives the total)."""
    session = uow.session
    stmt = (select(SpotCheck, Problem, Household.head)
            .outerjoin(Problem, Problem.id == SpotCheck.problem_id)
            .outerjoin(Household, and_(Household.campaign_id == SpotCheck.campaign_id,
                                       Household.household_id == SpotCheck.household_id))
            .where(SpotCheck.campaign_id == campaign_id))
    if day is not None:
        stmt = stmt.where(SpotCheck.day == day)
    if group is not None:
        stmt = stmt.where(SpotCheck.group_code == group)
    if groups is not None:
        stmt = stmt.where(SpotCheck.group_code.in_(sorted(groups)))
    if result is not None:
        stmt = stmt.where(SpotCheck.result == result)
    if ids is not None:
        stmt = stmt.where(SpotCheck.id.in_(list(ids)))
    stmt = stmt.order_by(SpotCheck.day, SpotCheck.id)
    if page is not None:
        stmt = stmt.limit(per_page).offset((max(page, 1) - 1) * per_page)
    return [_spot_info(c, p, head=head) for c, p, head in session.execute(stmt)]


def count_spot_checks(uow: UnitOfWork, campaign_id: int, *, day: dt.date | None = None,
                      groups: Sequence[str] | None = None) -> int:
    """How many spot checks a day (and groups) of a campaign has."""
    stmt = select(func.count()).select_from(SpotCheck).where(SpotCheck.campaign_id == campaign_id)
    if day is not None:
        stmt = stmt.where(SpotCheck.day == day)
    if groups is not None:
        stmt = stmt.where(SpotCheck.group_code.in_(sorted(groups)))
    return int(uow.session.scalar(stmt) or 0)


def groups_of(plan: Plan, actor: Actor) -> tuple[str, ...] | None:
    """The supervision groups whose spot checks a user sees (None: all, the county office).

    A supervisor sees the groups they belong to (the plan's members name them, or their
    login is the group's code); one who belongs to none sees the groups without a member
    list, whose checks any supervisor may record (as `record_spot_check` allows).
    """
    if Role.COUNTY in actor.roles:
        return None
    own = tuple(g.code for g in plan.review.groups
                if actor.user == g.code or actor.user in g.members or actor.name in g.members)
    return own or tuple(g.code for g in plan.review.groups if not g.members)


def spot_check_draws(uow: UnitOfWork, campaign_id: int) -> list[DrawInfo]:
    """The draws of a campaign, newest first, with their seeds."""
    session = uow.session
    rows = session.scalars(select(SpotCheckDraw).where(
        SpotCheckDraw.campaign_id == campaign_id).order_by(SpotCheckDraw.day.desc()))
    return [DrawInfo(id=d.id, campaign_id=d.campaign_id, day=d.day, seed=d.seed,
                     checks=d.checks, drawn_by=d.drawn_by, drawn_at=d.drawn_at,
                     data=dict(d.data)) for d in rows]


def _group_name(plan: Plan, code: str) -> str:
    """A supervision group's name (notes and descriptions are read by people)."""
    return next((g.name for g in plan.review.groups if g.code == code), code)


def _may_check(actor: Actor, plan: Plan, group_code: str) -> None:
    if not actor.roles & {Role.SUPERVISOR, Role.COUNTY}:
        raise PermissionDenied(f"随机抽查结果须由督查组或县级办公室记录，{actor.label}无权记录")
    group = next((g for g in plan.review.groups if g.code == group_code), None)
    if (Role.COUNTY not in actor.roles and group is not None and group.members
            and actor.user not in group.members and actor.name not in group.members):
        raise PermissionDenied(f"{actor.name or actor.user} 不是{group.name}成员，不能记录该组的抽查结果")


# Which of the plan's sources a problem found by a failed spot check gets: the first source
# whose name has one of these words, in this order (seed 002: 督查巡查; seed 004: 督查).
SPOT_CHECK_SOURCE_WORDS = ("抽查", "督查", "督导")


def spot_check_source(plan: Plan) -> str:
    """The plan's source code for problems found by spot checks (抽查 / 督查 / 督导)."""
    if plan.review.spot_check_source:
        return plan.review.spot_check_source
    for word in SPOT_CHECK_SOURCE_WORDS:
        for source in plan.sources:
            if word in source.name:
                return source.code
    raise SpotCheckError("方案的问题来源（sources）中没有抽查、督查或督导，不能登记抽查发现的问题；"
                         "请在方案中加一项（如 {code: spot_check, name: 随机抽查}）"
                         "或用 review.spot_check_source 指定")


def _raise_problem(uow: UnitOfWork, clock: Clock, plan: Plan, check: SpotCheck, actor: Actor,
                   note: str, category: str | None) -> Problem:
    """Record the problem a failed household or village check found, routed like any other."""
    if not category:
        raise SpotCheckError(f"抽查 {check.id} 不合格，须指明问题类别（--category），以便交办")
    known = {c.code: c.name for c in plan.categories}
    by_name = {c.name: c.code for c in plan.categories}
    code = category if category in known else by_name.get(category)
    if code is None:
        raise SpotCheckError(f"问题类别未定义：{category}（可用：{'、'.join(known.values())}）")
    # Names, never codes: the description and the 排查人 are read by people.
    villages = {v.code: v.name for t in plan.towns for v in t.villages}
    groups = {g.code: g.name for g in plan.review.groups}
    where = (f"农户 {check.household_id}" if check.household_id
             else f"行政村 {villages.get(check.item_id, check.item_id)}")
    group = groups.get(check.group_code, check.group_code)
    from duban.services.views.names import person_labels

    reported = ReportedProblem(
        source=spot_check_source(plan), category=code, town=check.town_code,
        village=check.village_code or (check.item_id if check.kind == "village" else None),
        household_id=check.household_id,
        description=f"随机抽查不合格（{check.day.isoformat()}，{group}，{where}）：{note}",
        found_by=person_labels(uow.session, [actor.user])[actor.user],
        found_on=local_today(clock))
    result = record_problems(uow, clock, check.campaign_id, [reported], recorded_by=actor.user)
    if not result.problem_ids:
        raise SpotCheckError(f"抽查 {check.id} 发现的问题已在台账上")
    problem = uow.session.get(Problem, result.problem_ids[0])
    assert problem is not None
    return problem


def record_spot_check(
    uow: UnitOfWork,
    clock: Clock,
    spot_check_id: int,
    username: str,
    passed: bool,
    note: str = "",
    new_deadline: dt.date | None = None,
    category: str | None = None,
) -> SpotCheckInfo:
    """Record a spot check's result; a failed check acts on what it checked.

    A failed check of a closed problem reopens it (REOPEN, signed by the checker) with
    `new_deadline`, else the plan's rectify_days_after_failed_review working days from today.
    A failed household (or village) check records a new problem there, found by the checker,
    of the plan's spot-check source and of `category`, routed and given a deadline like any
    other; the check keeps its id (raised_problem_id). A failed check needs a note (the reason).
    """
    session = uow.session
    check = session.get(SpotCheck, spot_check_id)
    if check is None:
        raise NotFound(f"抽查记录不存在：{spot_check_id}")
    if check.result != "pending":
        raise SpotCheckError(
            f"抽查 {spot_check_id} 已记录结果（{RESULT_LABELS[check.result]}，"
            f"{check.checked_by}），不能重复记录")
    today = local_today(clock)
    if check.day > today:
        raise SpotCheckError(f"抽查 {spot_check_id} 安排在 {check.day.isoformat()}，尚未到期")
    actor = resolve_actor(session, username, today)
    plan = load_plan_of(session, check.campaign_id)
    _may_check(actor, plan, check.group_code)
    if not passed and not note.strip():
        raise SpotCheckError(f"抽查 {spot_check_id} 不合格，须填写原因")
    problem = session.get(Problem, check.problem_id) if check.problem_id else None
    raised: Problem | None = None
    if not passed and problem is not None and problem.status == Status.CLOSED.value:
        # The lifecycle's one deadline policy: the date given (not before today), else
        # the plan's working days after a failed check.
        moves.move_in(session, clock, actor, problem, Action.REOPEN, Payload(
            note=f"随机抽查不合格（{check.day.isoformat()}，{_group_name(plan, check.group_code)}）："
                 f"{note.strip()}",
            deadline=new_deadline))
    elif not passed and check.kind in (SpotCheckKind.HOUSEHOLD.value,
                                       SpotCheckKind.VILLAGE.value):
        raised = _raise_problem(uow, clock, plan, check, actor, note.strip(), category)
    # Only a pending check may be recorded: two supervisors recording at once get one
    # winner, and the loser's reopen (if any) rolls back with the error.
    written = session.execute(
        update(SpotCheck)
        .where(SpotCheck.id == check.id, SpotCheck.result == "pending")
        .values(result="passed" if passed else "failed", checked_by=actor.user,
                checked_at=clock.now(), note=note.strip(),
                raised_problem_id=raised.id if raised is not None else None)
        .execution_options(synchronize_session=False)
    )
    if getattr(written, "rowcount", 1) != 1:
        raise ConflictError(f"抽查 {spot_check_id} 已由他人记录结果，请刷新后查看")
    session.refresh(check)
    return _spot_info(check, problem, raised)


# ---- ad hoc checks (不定期抽查) ---------------------------------------------------------


def record_adhoc_spot_check(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    problem_ref: str | int,
    username: str,
    passed: bool,
    note: str = "",
    *,
    group: str | None = None,
    new_deadline: dt.date | None = None,
) -> SpotCheckInfo:
    """A supervision group checks a closed problem (id or code) outside the daily draw.

    Seed 002's 督导组 work "不定期" with no quota: any closed problem of the campaign may be
    checked on any day. The check is kept like a drawn one (no draw, no seed); a failed check
    reopens the problem (REOPEN, signed by the checker) with `new_deadline`, else the plan's
    rectify_days_after_failed_review working days from today, and counts in the ranking.
    """
    session = uow.session
    ensure_running(session, campaign_id, "不定期抽查")
    problem = find_problem(session, campaign_id, problem_ref)
    if problem.campaign_id != campaign_id:
        raise NotFound(f"问题不存在：{problem_ref}（行动 {campaign_id}）")
    if problem.status != Status.CLOSED.value:
        raise SpotCheckError(f"问题 {problem.code} 当前为“{STATUS_LABELS[Status(problem.status)]}”，"
                             "不定期抽查只查已销号的问题")
    today = local_today(clock)
    actor = resolve_actor(session, username, today)
    plan = load_plan_of(session, campaign_id)
    codes = [g.code for g in plan.review.groups]
    group_code = group or (username if username in codes else None)
    if group_code is None:
        raise SpotCheckError(f"请用 --group 指明督查组（{'、'.join(codes) or '方案未设督查组'}）")
    found = next((g for g in plan.review.groups if g.code == group_code), None)
    if found is None:
        raise SpotCheckError(f"督查组未定义：{group_code}（可用：{'、'.join(codes) or '无'}）")
    if found.towns and problem.town_code not in found.towns:
        raise PermissionDenied(f"{found.name}不负责问题 {problem.code} 所在乡镇，不能抽查")
    _may_check(actor, plan, group_code)
    if not passed and not note.strip():
        raise SpotCheckError(f"问题 {problem.code} 抽查不合格，须填写原因")
    taken = session.scalar(select(SpotCheck.id).where(
        SpotCheck.campaign_id == campaign_id, SpotCheck.day == today,
        SpotCheck.group_code == group_code, SpotCheck.problem_id == problem.id))
    if taken is not None:
        raise SpotCheckError(f"{found.name}今天已抽查过问题 {problem.code}（抽查 {taken}）")
    check = SpotCheck(
        campaign_id=campaign_id, draw_id=None, day=today, group_code=group_code,
        kind=SpotCheckKind.CLOSED_PROBLEM.value, item_id=str(problem.id), problem_id=problem.id,
        household_id=None, town_code=problem.town_code, village_code=problem.village_code,
        draw_seed="", purpose="", result="passed" if passed else "failed",
        checked_by=actor.user, checked_at=clock.now(), note=note.strip())
    session.add(check)
    if not passed:
        moves.move_in(session, clock, actor, problem, Action.REOPEN, Payload(
            note=f"不定期抽查不合格（{today.isoformat()}，{found.name}）：{note.strip()}",
            deadline=new_deadline))
    session.flush()
    return _spot_info(check, problem)
