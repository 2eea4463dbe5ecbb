"""Try a plan before launching it: where sample ledger rows go, their deadlines, and why.

`try_rows` routes each row with the plan's routing table (the rule that fired, by number) and
dates it with its deadline policy, exactly as intake does (`domain/routing`, `domain/deadlines`).
`silent_rules` lists the routing and deadline rules no problem could ever reach, because rules
before them take every combination of category, source and town they match. Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from duban.domain.deadlines import DeadlineError, basis_labels, compute_deadline
from duban.domain.plan import Plan, StageKind
from duban.domain.routing import Route, Router
from duban.domain.workdays import WorkCalendar


@dataclass(frozen=True)
class TrialRow:
    """A sample ledger row, as codes (the edge resolves names)."""

    category: str
    source: str
    town: str
    village: str | None
    found_on: dt.date


@dataclass(frozen=True)
class TrialResult:
    """Where the row goes and when it is due, in words; rule numbers count from 1."""

    row: TrialRow
    lead: str = ""  # office name
    co_offices: tuple[str, ...] = ()
    routing_rule: int | None = None
    deadline: dt.date | None = None
    deadline_basis: str = ""
    deadline_rule: int | None = None
    problem: str = ""  # why it cannot be routed or dated


def _office_name(plan: Plan, code: str) -> str:
    if code.startswith("village:"):
        village = code.removeprefix("village:")
        for town in plan.towns:
            for v in town.villages:
                if v.code == village:
                    return v.name
        return village
    office = plan.office(code)
    return office.name if office else code


def _deadline_rule(plan: Plan, row: TrialRow) -> int | None:
    from duban.domain.deadlines import _matches

    for i, rule in enumerate(plan.deadlines.rules):
        if _matches(rule, row.category, row.source, row.found_on, plan.stages):
            return i + 1
    return None


def try_rows(plan: Plan, calendar: WorkCalendar, rows: Sequence[TrialRow],
             today: dt.date) -> list[TrialResult]:
    """Route and date each row as intake would on `today`."""
    router = Router.for_plan(plan)
    stage = plan.stage(StageKind.RECTIFY)
    labels = basis_labels(plan)
    out: list[TrialResult] = []
    for row in rows:
        route = router.route(row.category, row.source, row.town, row.village)
        if not isinstance(route, Route):
            out.append(TrialResult(row, problem=route.reason))
            continue
        lead = _office_name(plan, route.lead)
        co = tuple(_office_name(plan, c) for c in route.co_offices)
        try:
            deadline = compute_deadline(
                plan.deadlines, calendar, found_on=row.found_on, routed_on=today,
                category=row.category, source=row.source,
                rectify_end=stage.end if stage else None, stages=plan.stages, labels=labels)
        except DeadlineError as exc:
            out.append(TrialResult(row, lead, co, route.rule_index + 1, problem=exc.message))
            continue
        out.append(TrialResult(row, lead, co, route.rule_index + 1, deadline.date,
                               deadline.basis, _deadline_rule(plan, row)))
    return out


@dataclass(frozen=True)
class SilentRules:
    """Rule numbers (from 1) that no problem can reach."""

    routing: tuple[int, ...]
    deadlines: tuple[int, ...]


def silent_rules(plan: Plan) -> SilentRules:
    """Routing rules no (category, source, town) reaches first (a final catch-all aside);
    likewise deadline rules over (category, source): a rule narrowed by stages or dates counts
    as reachable and never hides a later one."""
    categories = [c.code for c in plan.categories]
    sources = [s.code for s in plan.sources]
    towns = [t.code for t in plan.towns] or [""]
    router = Router.for_plan(plan)
    fired: set[int] = set()
    for category in categories:
        for source in sources:
            for town in towns:
                index = router._rule_index(category, source, town)
                if index >= 0:
                    fired.add(index)
    # A last rule without match keys is the safety net the format recommends: not reported.
    last = len(plan.routing) - 1
    net = last if last >= 0 and not (plan.routing[last].categories or plan.routing[last].sources
                                    or plan.routing[last].towns) else None
    routing = tuple(i + 1 for i in range(len(plan.routing)) if i not in fired and i != net)
    reached: set[int] = set()
    rules = plan.deadlines.rules
    for category in categories:
        for source in sources:
            for i, rule in enumerate(rules):
                if rule.categories and category not in rule.categories:
                    continue
                if rule.sources and source not in rule.sources:
                    continue
                reached.add(i)
                if not (rule.stages or rule.found_from or rule.found_to):
                    break
    deadlines = tuple(i + 1 for i in range(len(rules)) if i not in reached)
    return SilentRules(routing, deadlines)

