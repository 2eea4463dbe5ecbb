"""Trying a plan before launch: routes, deadlines and the rules that can never fire."""

from __future__ import annotations

import dataclasses
import datetime as dt

from duban.adapters.calendar import build_calendar
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.plan import RoutingRule
from duban.domain.plan_trial import TrialRow, silent_rules, try_rows
from tests.conftest import PLANS

SEED_003 = PLANS / "seed-003-shaoyun-2022.yaml"


def test_rows_are_routed_and_dated_with_the_rule_that_fired() -> None:
    plan = load_plan_file(SEED_003)
    found = dt.date(2022, 6, 6)
    rows = [TrialRow("medical", "visit", "shaoyun", "sy01", found),
            TrialRow("data", "visit", "shaoyun", None, found),
            TrialRow("housing", "screening", "shaoyun", "sy02", found)]
    medical, data, housing = try_rows(plan, build_calendar({}), rows, found)
    assert (medical.lead, medical.co_offices, medical.routing_rule) == (
        "镇社会保障服务所", ("镇卫生院", "玉屏村"), 3)
    assert medical.deadline == dt.date(2022, 7, 31)  # 7月底: a fixed node, not capped
    assert medical.deadline_rule == 3
    assert (data.lead, data.co_offices, data.routing_rule) == ("镇农业服务中心", (), 1)
    assert data.deadline == dt.date(2022, 6, 7) and data.deadline_rule == 1  # 立查立改
    assert "立查立改" in data.deadline_basis
    assert housing.routing_rule == 4 and housing.co_offices == ("石鱼村",)


def test_rules_hidden_by_earlier_ones_are_found() -> None:
    plan = load_plan_file(SEED_003)
    assert silent_rules(plan).routing == () and silent_rules(plan).deadlines == ()
    catch_all_first = (RoutingRule(office="nfzx"), *plan.routing)
    shadowed = dataclasses.replace(plan, routing=catch_all_first)
    assert silent_rules(shadowed).routing == tuple(range(2, len(catch_all_first)))
    rules = plan.deadlines.rules
    reordered = dataclasses.replace(plan.deadlines, rules=(rules[2], rules[0], rules[1]))
    assert silent_rules(dataclasses.replace(plan, deadlines=reordered)).deadlines == (2, 3)
