"""The monthly ranking (月考评): computed from the ledger as of a day, frozen once per month."""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.domain.clock import Clock, local_today
from duban.domain.errors import DubanError
from duban.domain.lifecycle import Status
from duban.domain.plan import OfficeLevel, Plan
from duban.domain.scoring import (
    DEFAULT_WEIGHTS,
    Ranking,
    TownMonthStats,
    accrue_penalties,
    rank_towns,
)
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork, insert_or_skip
from duban.services.reports.figures import changed_since, day_end
from duban.services.scoring.penalties import (
    BASIS_ACCRUED,
    BASIS_LEDGER,
    accrued_penalties,
    fined_unit,
    has_accrual_rung,
    penalty_items,
    problem_states,
)
from duban.services.scoring.snapshot import RankingSnapshot, snapshot_of_row, stored_columns
from duban.services.views.names import names_in
from models import AuditEvent, Household, Office
from models.reporting import MonthlyRanking
from models.review import SpotCheck


class MonthError(DubanError):
    """A month that is malformed, or not over yet when it is to be frozen."""


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
    plan = load_plan_of(session, campaign_id)
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
        lines = accrue_penalties(penalty_items(states, overdue_before), plan.penalties)
        basis = BASIS_LEDGER
    fines: dict[str, int] = {}
    for line in lines:
        unit = fined_unit(line, by)
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
        ranking = Ranking(month=first, by=by, rows=(), rule=ranking.rule)
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
    """Compute a month's ranking as of the end of `as_of_day` and store it, once.

    Its 通报 takes the next 文号 of the register: the register row is locked first, so a
    concurrent freeze waits, finds the month frozen and takes no number.
    """
    from duban.domain.numbering import format_document_number
    from duban.services.notices.documents import lock_register, numbering_key

    plan = load_plan_of(uow.session, campaign_id)
    register = lock_register(uow.session, *numbering_key(plan, clock))
    existing = ranking(uow, campaign_id, first)
    if existing is not None:  # frozen by a concurrent run meanwhile: theirs stands
        return existing
    snap = _compute(uow, campaign_id, first, as_of_day)
    number = format_document_number(register.prefix, register.year, register.next_number)
    uow.session.execute(insert_or_skip(uow.session, MonthlyRanking).values(
        campaign_id=campaign_id, month=first, as_of=snap.as_of, frozen_at=clock.now(),
        frozen_by=frozen_by, by=snap.policy.by, penalty_basis=snap.penalty_basis,
        number=number, **stored_columns(snap),
    ).on_conflict_do_nothing(index_elements=["campaign_id", "month"]))
    register.next_number += 1
    frozen = ranking(uow, campaign_id, first)
    assert frozen is not None
    return frozen


def freeze_due_month(uow: UnitOfWork, clock: Clock, campaign_id: int, *,
                     frozen_by: str = "system") -> dt.date | None:
    """Freeze last month's ranking once the plan's monthly day has come; returns the month.

    Nothing is due before the plan's monthly day, nor for a month before the campaign began.
    """
    last_month = due_month(load_plan_of(uow.session, campaign_id), local_today(clock))
    if last_month is None:
        return None
    monthly_snapshot(uow, clock, campaign_id, last_month, frozen_by=frozen_by)
    return last_month


def due_month(plan: Plan, today: dt.date) -> dt.date | None:
    """The month freeze_due_month freezes today: last month once the plan's monthly day has
    come, None before it or for a month before the campaign began (also the tick's rule)."""
    if today.day < plan.reports.monthly_day:
        return None
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return None if last_month < plan.start.replace(day=1) else last_month


def freeze_final_rankings(uow: UnitOfWork, clock: Clock, campaign_id: int, *,
                          frozen_by: str = "system") -> list[dt.date]:
    """Freeze every month of a closing campaign not frozen yet; returns the months frozen.

    The months run from the plan's first to the month of its last day, or of today when the
    campaign closes earlier; the month the campaign closes in is frozen as of today (the final
    ranking), earlier months as of their last day.
    """
    today = local_today(clock)
    session = uow.session
    plan = load_plan_of(session, campaign_id)
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
    return snapshot_of_row(row) if row is not None else None


def frozen_months(uow: UnitOfWork, campaign_id: int) -> list[dt.date]:
    """The months whose ranking is frozen, oldest first."""
    session = uow.session
    return list(session.scalars(
        select(MonthlyRanking.month).where(MonthlyRanking.campaign_id == campaign_id)
        .order_by(MonthlyRanking.month)))
