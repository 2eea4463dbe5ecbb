"""Rectification deadlines (整改时限) from a plan's deadline policy and a working-day calendar.

Precedence: a date the ledger gives > a tier the ledger gives > the first matching rule of the
policy (a rule gives a date, a tier or working days) > the policy's default working days.

Choices the seeds leave open:
- Fixed dates (a ledger date, a tier's date node like 7月底, a rule's date) are kept exactly as
  stated, even on a non-working day (seed 001's 10月底 is a Saturday in 2020).
- Working-day offsets always land on a working day; 0 working days means the counting day,
  moved to the next working day when that is a rest day.
- Working days count from the day the policy's `basis` names: the day the problem was found
  (default), the day it is routed (交办), or the day its office signs for (签收) the 督办通知书
  listing it. The basis text says which, so a problem found 9/14 and imported 9/16 shows
  "5个工作日（自发现之日起）" and 9/21. Under `signed` the deadline is pending until the 签收
  ("签收后5个工作日（待签收督办通知书后起算）", no date, not chased); a notice left unsigned
  `deemed_signed_after_working_days` after its issue counts as signed then (视为签收).
  Fixed dates do not depend on the basis.
- A deadline that has already passed on the day it is set (a housing problem found on 7/5 under
  seed 000's "by 6/30", or one found long before it is imported) cannot be met; the problem is
  treated as 立查立改 and gets the next working day after that day. A ledger date before the
  day found is a data error and raises `DeadlineError`.
- Rules may be narrowed to the stages or the dates a problem was found in (`stages`,
  `found_from`/`found_to`); a rule that does not cover the day found is skipped.
- The cap at the end of the rectification stage applies to deadlines computed from working days
  only: fixed dates are deliberate plan decisions (seed 003's 9月底 node lies past its 7/10
  stage end). A deadline set after the stage ended is not capped (that would date it in the
  past).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from duban.domain.errors import DubanError
from duban.domain.plan import (
    DEADLINE_BASIS_LABELS,
    DEEMED_SIGNED_LABEL,
    DeadlineBasis,
    DeadlinePolicy,
    DeadlineRule,
    DeadlineTier,
    Milestone,
    Plan,
    Stage,
)
from duban.domain.workdays import WorkCalendar

# Working days given to a problem whose plan date had already passed when it was found.
LATE_FIND_WORKING_DAYS = 1


class DeadlineError(DubanError):
    """A deadline cannot be set from the data given (unknown tier, date before discovery)."""


@dataclass(frozen=True, slots=True)
class Deadline:
    """A deadline and a short Chinese explanation of where it comes from.

    `date` is None while it waits for the 签收 of the notice listing the problem (basis
    `signed`); `basis` then says how many working days will run from the 签收.
    """

    date: dt.date | None
    basis: str

    @property
    def pending(self) -> bool:
        """Whether the deadline waits for the notice's 签收."""
        return self.date is None


def _offset(calendar: WorkCalendar, found_on: dt.date, n: int, what: str) -> dt.date:
    if n < 0:
        raise DeadlineError(f"{what}的工作日数不能为负数：{n}")
    if n == 0:
        return calendar.next_workday(found_on)
    return calendar.add_workdays(found_on, n)


def _days_text(n: int, pending: bool = False) -> str:
    if pending:
        return "签收当日" if n == 0 else f"签收后{n}个工作日"
    return "当日" if n == 0 else f"{n}个工作日"


def _find_tier(policy: DeadlinePolicy, code: str) -> DeadlineTier:
    for t in policy.tiers:
        if t.code == code:
            return t
    known = "、".join(f"{t.code}（{t.name}）" for t in policy.tiers) or "无"
    raise DeadlineError(f"未知的整改时限档次“{code}”，方案中的档次：{known}")


def _in_stage(stage: Stage, day: dt.date) -> bool:
    return stage.start <= day and (stage.end is None or day <= stage.end)


def _matches(
    rule: DeadlineRule, category: str, source: str, found_on: dt.date, stages: Sequence[Stage]
) -> bool:
    if rule.categories and category not in rule.categories:
        return False
    if rule.sources and source not in rule.sources:
        return False
    if rule.found_from is not None and found_on < rule.found_from:
        return False
    if rule.found_to is not None and found_on > rule.found_to:
        return False
    if rule.stages:
        return any(s.name in rule.stages and _in_stage(s, found_on) for s in stages)
    return True


def _subject(
    rule: DeadlineRule, index: int, category: str, source: str, labels: Mapping[str, str]
) -> str:
    cat = labels.get(category, category) if rule.categories else ""
    src = labels.get(source, source) if rule.sources else ""
    when = "、".join(rule.stages)
    if rule.found_from is not None or rule.found_to is not None:
        span = f"{rule.found_from or ''}至{rule.found_to or ''}"
        when = f"{when}（{span}）" if when else span
    when = f"{when}发现的" if when else ""
    if cat or src:
        return f"{when}{src}{cat}问题"
    if when:
        return f"{when}问题"
    return "其余问题" if index > 0 else "全部问题"


def _from_tier(
    tier: DeadlineTier, calendar: WorkCalendar, start: dt.date | None
) -> tuple[dt.date | None, str, bool]:
    """The tier's deadline, its basis, and whether it was computed from working days.

    `start` None: working days wait for the notice's 签收 (the date is None, the text says so).
    """
    if tier.date is not None:
        return tier.date, f"整改节点“{tier.name}” {tier.date.isoformat()}", False
    if tier.working_days is not None:
        pending = start is None
        due = None if start is None else _offset(
            calendar, start, tier.working_days, f"整改时限档次“{tier.name}”")
        days = _days_text(tier.working_days, pending)
        # A tier named by its length (“1个工作日”) is not repeated: "1个工作日：1个工作日".
        same = tier.name.replace(" ", "") == _days_text(tier.working_days, False)
        return due, days if same else f"{tier.name}：{days}", True
    raise DeadlineError(f"整改时限档次“{tier.name}”（{tier.code}）既没有日期也没有工作日数")


def basis_labels(plan: Plan) -> dict[str, str]:
    """The names a deadline's basis text gives the plan's categories and sources (not codes)."""
    return {**{s.code: s.name for s in plan.sources}, **{c.code: c.name for c in plan.categories}}


def compute_deadline(
    policy: DeadlinePolicy,
    calendar: WorkCalendar,
    *,
    found_on: dt.date,
    category: str,
    source: str,
    tier: str | None = None,
    explicit: dt.date | None = None,
    rectify_end: dt.date | None = None,
    labels: Mapping[str, str] | None = None,
    routed_on: dt.date | None = None,
    stages: Sequence[Stage] = (),
    signed_on: dt.date | None = None,
    deemed: bool = False,
) -> Deadline:
    """The deadline of a problem found on `found_on`, routed on `routed_on` (default: then).

    Under basis `signed`, `signed_on` is the day its office signed for the notice listing it
    (`deemed`: the day the notice was deemed signed); without it, a deadline counted in
    working days is pending: its date is None and its text reads "签收后N个工作日". `labels`
    maps codes to names for the basis text; `stages` are the plan's stages, which rules
    narrowed by `stages` need.
    """
    if explicit is not None:
        if explicit < found_on:
            raise DeadlineError(
                f"台账给定的整改时限 {explicit.isoformat()} 早于发现日期 {found_on.isoformat()}"
            )
        return Deadline(explicit, f"台账给定时限 {explicit.isoformat()}")

    set_on = max(found_on, routed_on) if routed_on is not None else found_on
    start: dt.date | None = found_on
    label = DEADLINE_BASIS_LABELS[policy.basis]
    if policy.basis is DeadlineBasis.ROUTED:
        start = set_on
    elif policy.basis is DeadlineBasis.SIGNED:
        if signed_on is not None:
            start = set_on = max(set_on, signed_on)
        else:
            start = None
        if deemed:
            label = DEEMED_SIGNED_LABEL
    pending = start is None
    counted = "（待签收督办通知书后起算）" if pending else f"（自{label}起）"
    computed: bool
    due: dt.date | None
    if tier is not None:
        due, basis, computed = _from_tier(_find_tier(policy, tier), calendar, start)
    else:
        names = labels or {}
        for index, rule in enumerate(policy.rules):
            if _matches(rule, category, source, found_on, stages):
                subject = _subject(rule, index, category, source, names)
                if rule.date is not None:
                    due, basis, computed = rule.date, f"{subject}统一时限 {rule.date}", False
                elif rule.tier is not None:
                    due, tier_basis, computed = _from_tier(
                        _find_tier(policy, rule.tier), calendar, start
                    )
                    basis = f"{tier_basis}（{subject}）"
                elif rule.working_days is not None:
                    due = None if start is None else _offset(
                        calendar, start, rule.working_days, subject)
                    basis = f"{subject}限{_days_text(rule.working_days, pending)}"
                    computed = True
                elif rule.milestones:
                    last = rule.milestones[-1]
                    due, computed = last.date, False
                    basis = f"{subject}节点“{last.name}” {last.date.isoformat()}"
                else:
                    raise DeadlineError(f"整改时限规则第{index + 1}条没有给出日期、档次或工作日数")
                break
        else:
            n = policy.default_working_days
            due = None if start is None else _offset(calendar, start, n, "默认整改时限")
            basis, computed = f"默认：{_days_text(n, pending)}", True
    if computed:
        basis = f"{basis}{counted}"
    if due is None:
        return Deadline(None, basis)  # counted from a 签收 still to come

    if due < set_on:
        due = calendar.add_workdays(set_on, LATE_FIND_WORKING_DAYS)
        basis = f"{basis}已过，按立查立改：{LATE_FIND_WORKING_DAYS}个工作日"
        computed = True

    if (
        computed
        and policy.cap_at_rectify_end
        and rectify_end is not None
        and set_on <= rectify_end < due
    ):
        return Deadline(rectify_end, f"{basis}，封顶于整改阶段结束日 {rectify_end.isoformat()}")
    return Deadline(due, basis)


def signing_days_text(basis: str) -> str:
    """The short words of a deadline waiting for the 签收 (签收后5个工作日), from its basis."""
    found = re.search(r"签收(后\d+个工作日|当日)", basis)
    return found.group(0) if found else basis


def deemed_signed_on(calendar: WorkCalendar, issued_on: dt.date, policy: DeadlinePolicy) -> dt.date:
    """The day an unsigned 督办通知书 issued on `issued_on` counts as signed for (视为签收)."""
    return calendar.add_workdays(issued_on, policy.deemed_signed_after_working_days)


def milestones_for(
    policy: DeadlinePolicy,
    *,
    category: str,
    source: str,
    found_on: dt.date,
    tier: str | None = None,
    stages: Sequence[Stage] = (),
) -> tuple[Milestone, ...]:
    """The milestones (节点) of a problem: those of the first deadline rule it matches.

    A problem whose ledger row names a tier follows that tier, not a rule, so it has none.
    """
    if tier is not None:
        return ()
    for rule in policy.rules:
        if _matches(rule, category, source, found_on, stages):
            return rule.milestones
    return ()


def extend_deadline(calendar: WorkCalendar, current: dt.date, working_days: int) -> dt.date:
    """The deadline moved `working_days` working days later (延期)."""
    if working_days < 1:
        raise DeadlineError(f"延期的工作日数应为正整数，实际为 {working_days}")
    return calendar.add_workdays(current, working_days)
