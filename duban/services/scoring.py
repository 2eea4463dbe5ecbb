"""Penalties (考核扣款) as the campaign runs and the frozen monthly ranking (月考评).

Two views of fines, both from the plan's penalty rules (seed 000: 500 yuan per item, 2000 per
unsafe house):

- the ledger view (`current_penalties`): every item that is overdue on a day, i.e. still owed
  by its office (routed / rectifying / disputed / extension requested) with its deadline
  before that day. These are exactly the items the daily report counts as overdue; an item
  leaves the view once it is submitted, closed or given a later deadline.
- the accrued view (`accrued_penalties`): when the plan's reminder ladder has a rung with
  `accrue_penalty` (seed 000: 通报, 4 working days overdue), the orchestration's sweep records
  that rung in `reminder_fired` the day it fires. That record is the accrual: the fine is
  incurred then and stands even if the item is rectified afterwards. One fine per problem,
  however many accruing rungs fire for it.

The month's ranking counts accrued fines of the month when the plan accrues through its
ladder, else the ledger view at the month's end. `reconcile_penalties` lines the two up.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import OPEN_STATUSES, Status
from duban.domain.plan import OfficeLevel, PenaltyBasis, Plan, RankingPolicy
from duban.domain.scoring import (
    DEFAULT_WEIGHTS,
    STANDING_LABELS,
    PenaltyItem,
    PenaltyLine,
    RankedTown,
    Ranking,
    ScoreComponent,
    ScoreWeights,
    Standing,
    TownMonthStats,
    accrue_penalties,
    rank_towns,
)
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.reports.figures import changed_since, day_end, ledger_state
from duban.services.templates import template_dir_for
from duban.services.views.names import names_in
from models import AuditEvent, Campaign, Household, Office, Problem, ReminderFired
from models.reporting import MonthlyRanking
from models.review import SpotCheck

OPEN_CODES = frozenset(s.value for s in OPEN_STATUSES)
RECTIFIED_CODES = frozenset({Status.REVIEWED.value, Status.CLOSED.value})

BASIS_ACCRUED = "accrued"  # fines from the ladder's accrual records (reminder_fired)
BASIS_LEDGER = "ledger"  # fines from the ledger: items overdue at the moment assessed


class MonthError(DubanError):
    """A month that is malformed, or not over yet when it is to be frozen."""


@dataclass(frozen=True, slots=True)
class ProblemState:
    """A problem as it stood at a moment (see duban.services.reports.ledger_state)."""

    id: int
    code: str
    town: str
    office: str | None
    category: str
    household_id: str | None
    status: str
    deadline: dt.date | None

    def overdue_on(self, day: dt.date) -> bool:
        """Owed by its office and past its deadline on `day` (the daily report's 逾期)."""
        return self.status in OPEN_CODES and self.deadline is not None and self.deadline < day


def problem_states(session: Session, campaign_id: int, cutoff: dt.datetime) -> list[ProblemState]:
    """Every problem recorded before the cut-off, as it stood then."""
    s = ledger_state(session, campaign_id, cutoff).c
    rows = session.execute(
        select(s.id, s.code, s.town, s.office, s.category, s.household_id, s.status, s.deadline)
    ).all()
    return [ProblemState(*row) for row in rows]


def _items(states: Iterable[ProblemState], day: dt.date) -> list[PenaltyItem]:
    return [
        PenaltyItem(
            problem_id=p.id,
            town=p.town,
            office=p.office or "",
            category=p.category,
            household_id=p.household_id,
            overdue=p.overdue_on(day),
            rectified=p.status in RECTIFIED_CODES,
        )
        for p in states
        if p.status not in (Status.VOIDED.value, Status.UNROUTED.value)
    ]


def _campaign_plan(session: Session, campaign_id: int) -> Plan:
    if session.get(Campaign, campaign_id) is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    return load_plan_of(session, campaign_id)


def current_penalties(
    uow: UnitOfWork, clock: Clock, campaign_id: int, as_of: dt.date | None = None
) -> list[PenaltyLine]:
    """The ledger view: fines for every item overdue and not rectified on `as_of` (default today).

    `as_of` is judged at the end of that day, from the audit trail, so a past day's fines are
    exact. Items fined are the daily report's overdue items on that day.
    """
    day = as_of or local_today(clock)
    session = uow.session
    plan = _campaign_plan(session, campaign_id)
    states = problem_states(session, campaign_id, day_end(day))
    return accrue_penalties(_items(states, day), plan.penalties)


def has_accrual_rung(plan: Plan) -> bool:
    """Whether the plan's reminder ladder records fines (a rung with accrue_penalty)."""
    return any(r.accrue_penalty for r in plan.reminders.rungs)


def accrued_penalties(
    uow: UnitOfWork, campaign_id: int, until: dt.date, since: dt.date | None = None
) -> list[PenaltyLine]:
    """The accrued view: fines the reminder ladder recorded from `since` to `until` (inclusive).

    A problem is fined once, on the day its first accruing rung fired; the fine stands after
    the item is rectified. Empty when the plan has no accruing rung or the sweep never ran.
    """
    session = uow.session
    plan = _campaign_plan(session, campaign_id)
    rf = ReminderFired
    stmt = (
        select(rf.problem_id, rf.town_code, rf.office_code, rf.category, Problem.household_id,
               rf.fired_on)
        .join(Problem, Problem.id == rf.problem_id)
        .where(rf.campaign_id == campaign_id, rf.accrue_penalty.is_(True), rf.fired_on <= until)
        .order_by(rf.problem_id, rf.fired_on, rf.id)
    )
    first: dict[int, Any] = {}
    for row in session.execute(stmt):
        first.setdefault(row.problem_id, row)  # one fine per problem: its first accrual
    items = [
        PenaltyItem(problem_id=r.problem_id, town=r.town_code, office=r.office_code,
                    category=r.category, household_id=r.household_id, overdue=True,
                    rectified=False)
        for r in first.values()
        if since is None or r.fired_on >= since
    ]
    return accrue_penalties(items, plan.penalties)


@dataclass(frozen=True, slots=True)
class PenaltyReconciliation:
    """The ledger view and the accrued view of one day, side by side."""

    day: dt.date
    accrues: bool  # the plan's ladder has an accruing rung
    ledger: tuple[PenaltyLine, ...]
    accrued: tuple[PenaltyLine, ...]
    overdue_not_accrued: tuple[int, ...]  # overdue on the ledger, no accrual yet (problem ids)
    accrued_now_rectified: tuple[int, ...]  # accrued, no longer overdue (the fine stands)

    @property
    def ledger_total(self) -> int:
        """Yuan in the ledger view."""
        return sum(line.amount_yuan for line in self.ledger)

    @property
    def accrued_total(self) -> int:
        """Yuan accrued by the ladder."""
        return sum(line.amount_yuan for line in self.accrued)

    @property
    def official(self) -> tuple[PenaltyLine, ...]:
        """The fines that count: accrued when the plan accrues through its ladder, else ledger."""
        return self.accrued if self.accrues else self.ledger


def reconcile_penalties(
    uow: UnitOfWork, clock: Clock, campaign_id: int, as_of: dt.date | None = None
) -> PenaltyReconciliation:
    """Both views of the fines on `as_of` (default today) and where they differ."""
    day = as_of or local_today(clock)
    session = uow.session
    plan = _campaign_plan(session, campaign_id)
    ledger = current_penalties(uow, clock, campaign_id, day)
    accrued = accrued_penalties(uow, campaign_id, day)
    ledger_ids = {pid for line in ledger for pid in line.problem_ids}
    accrued_ids = {pid for line in accrued for pid in line.problem_ids}
    return PenaltyReconciliation(
        day=day,
        accrues=has_accrual_rung(plan),
        ledger=tuple(ledger),
        accrued=tuple(accrued),
        overdue_not_accrued=tuple(sorted(ledger_ids - accrued_ids)),
        accrued_now_rectified=tuple(sorted(accrued_ids - ledger_ids)),
    )


# --------------------------------------------------------------------------------------------
# The monthly ranking


def parse_month(month: str | dt.date) -> dt.date:
    """'2022-10' (or any date in the month) as the first day of the month."""
    if isinstance(month, dt.date):
        return month.replace(day=1)
    try:
        year, mon = (int(x) for x in month.strip().split("-"))
        return dt.date(year, mon, 1)
    except ValueError as exc:
        raise MonthError(f"月份格式应为 2022-10（年-月）：{month}") from exc


def month_last_day(first: dt.date) -> dt.date:
    """The last day of the month starting on `first`."""
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


@dataclass(frozen=True)
class RankingSnapshot:
    """A month's ranking with its inputs: frozen (stored) or a live preview (frozen_at None)."""

    campaign_id: int
    month: dt.date  # first day of the month
    as_of: dt.datetime  # the moment the figures describe
    ranking: Ranking
    stats: tuple[TownMonthStats, ...]
    penalties: tuple[PenaltyLine, ...]
    penalty_basis: str  # accrued / ledger
    policy: RankingPolicy
    weights: ScoreWeights
    names: dict[str, str]  # unit code -> name, for the penalty lines' towns / offices
    frozen_at: dt.datetime | None = None
    frozen_by: str | None = None

    @property
    def frozen(self) -> bool:
        """Whether this is the stored, frozen ranking."""
        return self.frozen_at is not None

    def stats_of(self, code: str) -> TownMonthStats:
        """The inputs of one ranked town (or office)."""
        return next(s for s in self.stats if s.town == code)

    def penalty_total(self, code: str) -> int:
        """Yuan fined to one ranked unit in the month."""
        return self.stats_of(code).penalties_yuan


def _unit_of(line: PenaltyLine, by: str) -> str:
    return line.office if by == "office" else line.town


def _households(session: Session, campaign_id: int) -> tuple[dict[str, int], int]:
    per_town = {
        town: int(n)
        for town, n in session.execute(
            select(Household.town_code, func.count())
            .where(Household.campaign_id == campaign_id)
            .group_by(Household.town_code)
        )
    }
    return per_town, sum(per_town.values())


def _spot_checks(
    session: Session, campaign_id: int, first: dt.date, last: dt.date,
    office_of: dict[int, str | None], by: str,
) -> tuple[dict[str, int], dict[str, int]]:
    """Closed problems spot-checked in the month and those found wanting, per unit."""
    checked: dict[str, int] = {}
    failed: dict[str, int] = {}
    rows = session.execute(
        select(SpotCheck.town_code, SpotCheck.problem_id, SpotCheck.result).where(
            SpotCheck.campaign_id == campaign_id,
            SpotCheck.kind == "closed_problem",
            SpotCheck.day >= first,
            SpotCheck.day <= last,
            SpotCheck.result.in_(("passed", "failed")),
        )
    )
    for town, problem_id, result in rows:
        unit = town if by != "office" else office_of.get(problem_id or 0)
        if not unit:
            continue
        checked[unit] = checked.get(unit, 0) + 1
        if result == "failed":
            failed[unit] = failed.get(unit, 0) + 1
    return checked, failed


def _failed_checks(
    session: Session, campaign_id: int, first: dt.date, last: dt.date,
    office_of: dict[int, str | None], by: str,
) -> dict[str, int]:
    """Household and village spot checks failed in the month, per unit.

    By town, the town checked; by office, the lead office of the problem the check recorded.
    """
    failed: dict[str, int] = {}
    rows = session.execute(
        select(SpotCheck.town_code, SpotCheck.raised_problem_id).where(
            SpotCheck.campaign_id == campaign_id,
            SpotCheck.kind.in_(("household", "village")),
            SpotCheck.day >= first,
            SpotCheck.day <= last,
            SpotCheck.result == "failed",
        )
    )
    for town, raised in rows:
        unit = town if by != "office" else office_of.get(raised or 0)
        if unit:
            failed[unit] = failed.get(unit, 0) + 1
    return failed


def _compute(
    uow: UnitOfWork, campaign_id: int, first: dt.date, as_of_day: dt.date
) -> RankingSnapshot:
    """The month's ranking from the ledger as of the end of `as_of_day` (≤ the month's end)."""
    session = uow.session
    plan = _campaign_plan(session, campaign_id)
    policy = plan.ranking
    by = policy.by
    last = month_last_day(first)
    end = day_end(as_of_day)
    start = day_end(first - dt.timedelta(days=1))
    overdue_before = as_of_day + dt.timedelta(days=1)
    states = problem_states(session, campaign_id, end)
    at_start = {p.id: p.status for p in problem_states(session, campaign_id, start)} \
        if changed_since(session, campaign_id, start) else {p.id: p.status for p in states}
    moved = set(session.scalars(
        select(AuditEvent.problem_id).distinct().where(
            AuditEvent.campaign_id == campaign_id, AuditEvent.at >= start, AuditEvent.at < end)
    ))
    closed_code = Status.CLOSED.value
    problems: dict[str, int] = {}
    closed: dict[str, int] = {}
    overdue: dict[str, int] = {}
    for p in states:
        if p.status in (Status.VOIDED.value, Status.UNROUTED.value):
            continue
        if p.status == closed_code and at_start.get(p.id) == closed_code and p.id not in moved:
            continue  # closed before the month and untouched in it: not this month's work
        unit = p.office if by == "office" else p.town
        if not unit:
            continue
        problems[unit] = problems.get(unit, 0) + 1
        if p.status == closed_code:
            closed[unit] = closed.get(unit, 0) + 1
        if p.overdue_on(overdue_before):
            overdue[unit] = overdue.get(unit, 0) + 1
    if has_accrual_rung(plan):
        lines = accrued_penalties(uow, campaign_id, min(last, as_of_day), since=first)
        basis = BASIS_ACCRUED
    else:
        lines = accrue_penalties(_items(states, overdue_before), plan.penalties)
        basis = BASIS_LEDGER
    fines: dict[str, int] = {}
    for line in lines:
        unit = _unit_of(line, by)
        fines[unit] = fines.get(unit, 0) + line.amount_yuan
    office_of = {p.id: p.office for p in states}
    checked, failed = _spot_checks(session, campaign_id, first, min(last, as_of_day),
                                   office_of, by)
    failed_checks = _failed_checks(session, campaign_id, first, min(last, as_of_day),
                                   office_of, by)
    town_households, all_households = _households(session, campaign_id)
    place_names = names_in(session, campaign_id, plan)
    town_names = place_names.towns
    offices = {o.code: o for o in session.scalars(
        select(Office).where(Office.campaign_id == campaign_id).order_by(Office.id))}
    active = set(problems) | set(fines) | set(checked) | set(failed_checks)
    if by == "office":
        names = place_names.offices
        units = [c for c in offices if c in active] + sorted(active - set(offices))

        def households(code: str) -> int:
            office = offices.get(code)
            if office is None or office.level == OfficeLevel.COUNTY.value or not office.town_code:
                return all_households
            return town_households.get(office.town_code, 0)
    else:
        names = dict(town_names)
        units = list(town_names) + sorted(active - set(town_names))

        def households(code: str) -> int:
            return town_households.get(code, 0)
    # Lines name towns and offices by code; a documents reader wants both kinds of names.
    all_names = {**town_names, **place_names.offices}
    stats = tuple(
        TownMonthStats(
            town=code,
            name=names.get(code, code),
            month=first,
            households=households(code),
            problems=problems.get(code, 0),
            closed=closed.get(code, 0),
            overdue=overdue.get(code, 0),
            penalties_yuan=fines.get(code, 0),
            spot_checked=checked.get(code, 0),
            reopened=failed.get(code, 0),
            failed_checks=failed_checks.get(code, 0),
        )
        for code in units
    )
    weights = dataclasses.replace(DEFAULT_WEIGHTS, failed_check=policy.failed_check_points)
    ranking = rank_towns(stats, policy, weights)
    if ranking.month is None:
        ranking = Ranking(month=first, by=by, rows=())
    return RankingSnapshot(
        campaign_id=campaign_id, month=first, as_of=end, ranking=ranking, stats=stats,
        penalties=tuple(lines), penalty_basis=basis, policy=policy, weights=weights,
        names=all_names,
    )


def compute_ranking(uow: UnitOfWork, clock: Clock, campaign_id: int,
                    month: str | dt.date) -> RankingSnapshot:
    """A live preview of a month's ranking (not stored): as of its end, or today if sooner."""
    first = parse_month(month)
    as_of_day = min(month_last_day(first), local_today(clock))
    if as_of_day < first:
        raise MonthError(f"{first.year}年{first.month}月尚未开始，不能计算月考评")
    return _compute(uow, campaign_id, first, as_of_day)


def monthly_snapshot(
    uow: UnitOfWork, clock: Clock, campaign_id: int, month: str | dt.date, frozen_by: str
) -> RankingSnapshot:
    """Compute the month's ranking from the ledger as of its end and freeze it.

    Once frozen, a month is never recomputed: a second call returns the stored ranking
    unchanged, whatever happened to the ledger since. The month must be over.
    """
    first = parse_month(month)
    last = month_last_day(first)
    existing = ranking(uow, campaign_id, first)
    if existing is not None:
        return existing
    today = local_today(clock)
    if today <= last:
        raise MonthError(
            f"{first.year}年{first.month}月尚未结束（今天是{today.isoformat()}），"
            "月考评须在月末之后冻结"
        )
    return _freeze(uow, clock, campaign_id, first, last, frozen_by)


def _freeze(uow: UnitOfWork, clock: Clock, campaign_id: int, first: dt.date, as_of_day: dt.date,
            frozen_by: str) -> RankingSnapshot:
    """Compute a month's ranking as of the end of `as_of_day` and store it, once."""
    snap = _compute(uow, campaign_id, first, as_of_day)
    table: Any = MonthlyRanking.__table__
    base: Any = postgresql.insert(table) \
        if uow.session.get_bind().dialect.name == "postgresql" else sqlite.insert(table)
    # Frozen by a concurrent run meanwhile: theirs stands (and is returned below).
    uow.session.execute(base.values(
        campaign_id=campaign_id, month=first, as_of=snap.as_of, frozen_at=clock.now(),
        frozen_by=frozen_by, by=snap.policy.by, policy=_policy_json(snap),
        rows=_rows_json(snap), penalties=[_line_json(x) for x in snap.penalties],
        penalty_basis=snap.penalty_basis,
    ).on_conflict_do_nothing(index_elements=["campaign_id", "month"]))
    frozen = ranking(uow, campaign_id, first)
    assert frozen is not None
    return frozen


def freeze_due_month(uow: UnitOfWork, clock: Clock, campaign_id: int, *,
                     frozen_by: str = "system") -> dt.date | None:
    """Freeze last month's ranking once the plan's monthly day has come; returns the month.

    Nothing is due before the plan's monthly day, nor for a month before the campaign began.
    """
    today = local_today(clock)
    session = uow.session
    plan = _campaign_plan(session, campaign_id)
    if today.day < plan.reports.monthly_day:
        return None
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if last_month < plan.start.replace(day=1):
        return None
    monthly_snapshot(uow, clock, campaign_id, last_month, frozen_by=frozen_by)
    return last_month


def freeze_final_rankings(uow: UnitOfWork, clock: Clock, campaign_id: int, *,
                          frozen_by: str = "system") -> list[dt.date]:
    """Freeze every month of a closing campaign not frozen yet; returns the months frozen.

    The months run from the plan's first to the month of its last day, or of today when the
    campaign closes earlier; the month the campaign closes in is frozen as of today (the final
    ranking), earlier months as of their last day.
    """
    today = local_today(clock)
    session = uow.session
    plan = _campaign_plan(session, campaign_id)
    last_day = min(plan.end or today, today)
    month = plan.start.replace(day=1)
    frozen: list[dt.date] = []
    while month <= last_day:
        if ranking(uow, campaign_id, month) is None:
            _freeze(uow, clock, campaign_id, month, min(month_last_day(month), today), frozen_by)
            frozen.append(month)
        month = month_last_day(month) + dt.timedelta(days=1)
    return frozen


def ranking(uow: UnitOfWork, campaign_id: int, month: str | dt.date) -> RankingSnapshot | None:
    """The frozen ranking of a month, or None when it has not been frozen."""
    first = parse_month(month)
    session = uow.session
    row = session.scalar(select(MonthlyRanking).where(
        MonthlyRanking.campaign_id == campaign_id, MonthlyRanking.month == first))
    return _from_row(row) if row is not None else None


def frozen_months(uow: UnitOfWork, campaign_id: int) -> list[dt.date]:
    """The months whose ranking is frozen, oldest first."""
    session = uow.session
    return list(session.scalars(
        select(MonthlyRanking.month).where(MonthlyRanking.campaign_id == campaign_id)
        .order_by(MonthlyRanking.month)))


# ---- storing a snapshot as JSON and reading it back


def _policy_json(snap: RankingSnapshot) -> dict[str, Any]:
    return {
        "commend_top": snap.policy.commend_top,
        "name_bottom": snap.policy.name_bottom,
        "by": snap.policy.by,
        "failed_check_points": snap.policy.failed_check_points,
        "weights": dataclasses.asdict(snap.weights),
        "names": snap.names,
    }


_STAT_FIELDS = ("households", "problems", "closed", "overdue", "penalties_yuan",
                "spot_checked", "reopened", "failed_checks")


def _rows_json(snap: RankingSnapshot) -> list[dict[str, Any]]:
    out = []
    for r in snap.ranking.rows:
        s = snap.stats_of(r.town)
        out.append({
            "position": r.position,
            "town": r.town,
            "name": r.name,
            "score": str(r.score),
            "standing": r.standing.value,
            "tied": r.tied,
            "breakdown": r.breakdown,
            "components": [
                {"code": c.code, "label": c.label, "points": str(c.points), "detail": c.detail,
                 "deducts": c.deducts}
                for c in r.components
            ],
            "stats": {f: getattr(s, f) for f in _STAT_FIELDS},
        })
    return out


def _line_json(line: PenaltyLine) -> dict[str, Any]:
    return {
        "rule": line.rule, "rule_name": line.rule_name, "basis": line.basis.value,
        "unit": line.unit, "town": line.town, "office": line.office,
        "problem_ids": list(line.problem_ids), "amount_yuan": line.amount_yuan,
    }


def _from_row(row: MonthlyRanking) -> RankingSnapshot:
    policy_data = row.policy
    policy = RankingPolicy(commend_top=int(policy_data["commend_top"]),
                           name_bottom=int(policy_data["name_bottom"]), by=str(policy_data["by"]),
                           failed_check_points=int(policy_data.get("failed_check_points", 2)))
    weights = ScoreWeights(**policy_data.get("weights", {}))
    rows = []
    stats = []
    for r in row.rows:
        rows.append(RankedTown(
            position=int(r["position"]), town=r["town"], name=r["name"],
            score=Decimal(r["score"]),
            components=tuple(
                ScoreComponent(c["code"], c["label"], Decimal(c["points"]), c["detail"],
                               bool(c["deducts"]))
                for c in r["components"]
            ),
            standing=Standing(r["standing"]), tied=bool(r["tied"]),
        ))
        stats.append(TownMonthStats(town=r["town"], name=r["name"], month=row.month,
                                    **{f: int(r["stats"].get(f, 0)) for f in _STAT_FIELDS}))
    lines = tuple(
        PenaltyLine(rule=x["rule"], rule_name=x["rule_name"], basis=PenaltyBasis(x["basis"]),
                    unit=x["unit"], town=x["town"], office=x["office"],
                    problem_ids=tuple(int(i) for i in x["problem_ids"]),
                    amount_yuan=int(x["amount_yuan"]))
        for x in row.penalties
    )
    return RankingSnapshot(
        campaign_id=row.campaign_id, month=row.month, as_of=row.as_of,
        ranking=Ranking(month=row.month, by=row.by, rows=tuple(rows)), stats=tuple(stats),
        penalties=lines, penalty_basis=row.penalty_basis, policy=policy, weights=weights,
        names=dict(policy_data.get("names", {})), frozen_at=row.frozen_at,
        frozen_by=row.frozen_by,
    )


# --------------------------------------------------------------------------------------------
# The ranking as files


def _problem_codes(session: Session, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(ids), 2000):
        out.update(session.execute(
            select(Problem.id, Problem.code).where(Problem.id.in_(ids[i:i + 2000]))).all())
    return out


def problem_codes(uow: UnitOfWork, ids: Sequence[int]) -> dict[int, str]:
    """问题编号 of problems by id (penalty lines name problems by id)."""
    session = uow.session
    return _problem_codes(session, list(ids))


def ranking_context(session: Session, snap: RankingSnapshot, issued_on: dt.date) -> Any:
    """The RankingContext of a snapshot (see duban.adapters.documents)."""
    from duban.adapters.documents.context import Penalty, RankingContext, RankingRow, ScoreLine

    plan = load_plan_of(session, snap.campaign_id)
    unit = "责任单位" if snap.policy.by == "office" else "乡镇"
    rows = []
    for r in snap.ranking.rows:
        gains = [ScoreLine(c.label, float(c.points)) for c in r.components if not c.deducts]
        deduction = float(-sum((c.points for c in r.components if c.deducts), Decimal(0)))
        remark = STANDING_LABELS[r.standing] + ("（并列）" if r.tied else "")
        rows.append(RankingRow(rank=r.position, town=r.name, scores=gains, deduction=deduction,
                               remark=remark))
    codes = _problem_codes(session, sorted({i for x in snap.penalties for i in x.problem_ids}))
    penalties = [
        Penalty(
            target=snap.names.get(_unit_of(x, snap.policy.by), _unit_of(x, snap.policy.by)),
            reason=(f"{x.rule_name}（户 {x.unit}，问题 "
                    f"{'、'.join(codes.get(i, str(i)) for i in x.problem_ids)}）"
                    if x.basis is PenaltyBasis.HOUSEHOLD
                    else f"{x.rule_name}（问题 {codes.get(int(x.unit), x.unit)}）"),
            amount_yuan=x.amount_yuan,
        )
        for x in snap.penalties
    ]
    month_cn = f"{snap.month.year}年{snap.month.month}月"
    frozen = "" if snap.frozen else "（预览，未冻结）"
    intro = (
        f"根据{plan.name}月考评办法，按销号率、逾期率、考核罚款、抽查反弹情况，对各{unit}"
        f"{month_cn}工作进行了考评{frozen}。现将结果通报如下："
    )
    issuer = plan.issuer_short or plan.issuer
    return RankingContext(
        issuer=issuer, issuer_mark=issuer, title=f"关于{month_cn}{unit}月考评结果的通报",
        issued_on=issued_on, addressee=f"各{unit}", year=snap.month.year,
        month=snap.month.month, intro=intro, rows=rows, commend_top=snap.policy.commend_top,
        name_last=snap.policy.name_bottom, penalties=penalties,
    )


RANKING_HEADERS = ("名次", "名称", "总分", "评定", "并列", "计分明细", "问题数", "已销号",
                   "逾期", "考核罚款（元）", "农户数", "抽查销号问题", "抽查重新打开")


def write_ranking(
    uow: UnitOfWork, clock: Clock, campaign_id: int, month: str | dt.date, out_dir: Path
) -> list[Path]:
    """Write the month's 月考评 通报 (.docx) and its breakdown (.xlsx); return the paths.

    Uses the frozen ranking when the month is frozen, else a live preview marked as such.
    """
    from duban.adapters.documents.render import render_ranking
    from duban.adapters.documents.xlsx import write_ledger_xlsx

    snap = ranking(uow, campaign_id, month) or compute_ranking(uow, clock, campaign_id, month)
    issued_on = (snap.frozen_at.astimezone(CHINA_TZ).date() if snap.frozen_at
                 else local_today(clock))
    session = uow.session
    ctx = ranking_context(session, snap, issued_on)
    out_dir = Path(out_dir)
    stem = f"月考评-{campaign_id}-{snap.month.strftime('%Y-%m')}" + ("" if snap.frozen else "-预览")
    docx = render_ranking(ctx, out_dir / f"{stem}.docx", template_dir=template_dir_for(campaign_id))
    rows = []
    for r in snap.ranking.rows:
        s = snap.stats_of(r.town)
        rows.append({
            "名次": r.position, "名称": r.name, "总分": float(r.score),
            "评定": r.standing_label, "并列": r.tied, "计分明细": r.breakdown,
            "问题数": s.problems, "已销号": s.closed, "逾期": s.overdue,
            "考核罚款（元）": s.penalties_yuan, "农户数": s.households,
            "抽查销号问题": s.spot_checked, "抽查重新打开": s.reopened,
        })
    xlsx = write_ledger_xlsx(rows, out_dir / f"{stem}.xlsx", headers=RANKING_HEADERS,
                             sheet_name="月考评")
    return [docx, xlsx]
