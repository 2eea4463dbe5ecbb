"""Date conditions: a plan's own rule compares a date field with a fixed day or the 检查日."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from duban.adapters.plan.codec import decode_plan, encode_plan
from duban.adapters.plan.wire import parse_plan
from duban.adapters.plan.yaml_file import dump_plan_data, load_plan_file, load_plan_text
from duban.domain.detection import detect
from duban.domain.facts import describe, holds
from duban.domain.plan import ConditionTest, FactCondition, FieldType, HouseholdField
from duban.domain.plan_check import PlanInvalid
from tests.unit.test_household_fields import HOUSEHOLD
from tests.unit.test_plan_wire import base

DUE = {"key": "loan_due", "label": "小额信贷到期日", "type": "日期"}
REPAID = {"key": "loan_repaid", "label": "是否已还清", "type": "是否"}
WISH = {"key": "wish", "label": "改厕意愿", "type": "选项", "values": ["愿意", "不愿意"]}
OVERDUE = {
    "code": "loan_overdue", "name": "贷款到期无法偿还", "category": "基本医疗",
    "when": [{"field": "小额信贷到期日", "before": "检查日"}, {"field": "是否已还清", "is": "否"}],
}
DUE_FIELD = HouseholdField("loan_due", "小额信贷到期日", FieldType.DATE)
CHECK_DAY = dt.date(2022, 6, 6)
OCT_1 = dt.date(2022, 10, 1)


def plan_data(rules: list[dict[str, Any]] | None = None,
              fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    data = base()
    data["household"] = {"fields": [DUE, REPAID, WISH] if fields is None else fields}
    data["detection"]["rules"] += [OVERDUE] if rules is None else rules
    return data


def errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(data)
    return [str(e) for e in caught.value.errors]


@pytest.mark.parametrize(("test", "date", "value", "expected"), [
    (ConditionTest.BEFORE, None, "2022-06-05", True),
    (ConditionTest.BEFORE, None, "2022-06-06", False),  # due on the check day: not yet overdue
    (ConditionTest.NOT_BEFORE, None, "2022-06-06", True),
    (ConditionTest.NOT_BEFORE, None, "2022-06-05", False),
    (ConditionTest.BEFORE, OCT_1, "2022-09-30", True),  # a fixed day, whatever the check day
    (ConditionTest.BEFORE, OCT_1, "2022-10-01", False),
    (ConditionTest.NOT_BEFORE, OCT_1, "2022-10-01", True),
    (ConditionTest.NOT_BEFORE, OCT_1, "2022-07-01", False),
    # A blank date is neither before nor not before; nor is a value that is no date.
    (ConditionTest.BEFORE, None, None, False),
    (ConditionTest.NOT_BEFORE, None, None, False),
    (ConditionTest.BEFORE, None, "", False),
    (ConditionTest.NOT_BEFORE, OCT_1, "", False),
    (ConditionTest.BEFORE, None, "不详", False),
    (ConditionTest.NOT_BEFORE, None, 20220606, False),
])
def test_a_date_test_compares_with_a_fixed_day_or_the_check_day(
        test: ConditionTest, date: dt.date | None, value: Any, expected: bool) -> None:
    assert holds(FactCondition("loan_due", test, date=date), value, CHECK_DAY) is expected


def test_a_test_against_the_check_day_needs_the_day() -> None:
    c = FactCondition("loan_due", ConditionTest.BEFORE)
    with pytest.raises(ValueError, match="须知道检查日"):
        holds(c, "2022-01-01")
    # A fixed day needs none.
    assert holds(dataclasses.replace(c, date=OCT_1), "2022-01-01")


def test_a_date_condition_reads_in_chinese() -> None:
    before = FactCondition("loan_due", ConditionTest.BEFORE)
    assert describe(before, DUE_FIELD) == "小额信贷到期日早于检查日"
    assert describe(before, DUE_FIELD, CHECK_DAY) == "小额信贷到期日早于检查日（2022年6月6日）"
    fixed = FactCondition("loan_due", ConditionTest.NOT_BEFORE, date=OCT_1)
    assert describe(fixed, DUE_FIELD, CHECK_DAY) == "小额信贷到期日不早于2022年10月1日"
    assert describe(dataclasses.replace(fixed, test=ConditionTest.BEFORE), DUE_FIELD) == (
        "小额信贷到期日早于2022年10月1日")


def test_the_wire_forms_read_a_date_test() -> None:
    rules = [OVERDUE, {
        "code": "due_soon", "name": "国庆前到期", "category": "基本医疗",
        "when": [{"field": "loan_due", "test": "早于", "date": "2022年10月1日"},
                 {"field": "小额信贷到期日", "not_before": dt.date(2022, 6, 1)},
                 {"field": "小额信贷到期日", "test": "not_before"}]}]
    plan = parse_plan(plan_data(rules))
    overdue, soon = plan.detection.rules[-2:]
    assert overdue.when == (FactCondition("loan_due", ConditionTest.BEFORE),
                            FactCondition("loan_repaid", ConditionTest.IS, ("否",)))
    assert soon.when == (
        FactCondition("loan_due", ConditionTest.BEFORE, date=OCT_1),
        FactCondition("loan_due", ConditionTest.NOT_BEFORE, date=dt.date(2022, 6, 1)),
        FactCondition("loan_due", ConditionTest.NOT_BEFORE))  # no date with `test`: 检查日


def test_a_date_test_survives_the_stored_form_and_the_yaml_file() -> None:
    rules = [OVERDUE, {"code": "due_early", "name": "国庆前到期", "category": "基本医疗",
                       "when": [{"field": "小额信贷到期日", "not_before": "2022-10-01"}]}]
    plan = parse_plan(plan_data(rules))
    stored = json.loads(json.dumps(encode_plan(plan), ensure_ascii=False))
    assert stored["detection"]["rules"][-1]["when"][0]["date"] == "2022-10-01"
    assert "date" not in stored["detection"]["rules"][-2]["when"][0]  # 检查日
    assert decode_plan(stored) == plan
    assert parse_plan(stored) == plan
    assert load_plan_text(dump_plan_data(stored)) == plan
    assert load_plan_text(dump_plan_data(plan_data(rules))) == plan


@pytest.mark.parametrize(("condition", "expected"), [
    ({"field": "小额信贷到期日", "below": 3},
     "detection.rules[1].when[0].below 规则“贷款到期无法偿还”第1个条件：“小额信贷到期日”是日期字段，"
     "不能用 below（低于）（日期字段只能与某日或检查日比较早晚；可用：blank（未填写）、filled（已填写）、"
     "before（早于）、not_before（不早于））"),
    ({"field": "小额信贷到期日", "is": "2022-06-01"},
     "detection.rules[1].when[0].is 规则“贷款到期无法偿还”第1个条件：“小额信贷到期日”是日期字段，"
     "不能用 is（为）（日期字段只能与某日或检查日比较早晚"),
    ({"field": "改厕意愿", "before": "检查日"},
     "detection.rules[1].when[0].before 规则“贷款到期无法偿还”第1个条件：“改厕意愿”是单选字段，"
     "不能用 before（早于）（早于、不早于只用于日期字段；可用：is（为）、is_not（不为）、blank（未填写）、"
     "filled（已填写））"),
    ({"field": "家庭人口", "not_before": "2022-01-01"},
     "detection.rules[1].when[0].not_before 规则“贷款到期无法偿还”第1个条件：“家庭人口”是整数字段，"
     "不能用 not_before（不早于）（早于、不早于只用于日期字段"),
    ({"field": "小额信贷到期日", "before": None},
     "detection.rules[1].when[0].before 应写某日（如 2022-10-01）或检查日"),
    ({"field": "小额信贷到期日", "before": "六月"},
     "detection.rules[1].when[0].before 应为日期（如 2020-06-15），实际是文本 “六月”"),
    ({"field": "改厕意愿", "is": "愿意", "date": "2022-01-01"},
     "detection.rules[1].when[0].date 只用于 before（早于）、not_before（不早于）"),
])
def test_plan_check_refuses_a_date_test_on_the_wrong_field(
        condition: dict[str, Any], expected: str) -> None:
    found = errors(plan_data([{**OVERDUE, "when": [condition]}]))
    assert any(e.startswith(expected) for e in found), found


def test_a_rule_on_a_date_fires_before_the_check_day_with_its_day_named() -> None:
    plan = parse_plan(plan_data())
    fields = plan.household.fields
    owing = dataclasses.replace(HOUSEHOLD, plan_facts={"loan_due": "2022-03-31",
                                                       "loan_repaid": False})
    found = detect(owing, plan.detection, fields, day=CHECK_DAY)
    assert [(d.rule, d.label) for d in found] == [("loan_overdue", "贷款到期无法偿还")]
    assert found[0].description == (
        "贷款到期无法偿还：小额信贷到期日早于检查日（2022年6月6日），是否已还清为否")
    assert found[0].facts == {"loan_due": "2022-03-31", "loan_repaid": "否"}
    # Checked before the loan fell due, repaid, or no loan: nothing.
    assert detect(owing, plan.detection, fields, day=dt.date(2022, 3, 31)) == []
    repaid = dataclasses.replace(owing, plan_facts={**owing.plan_facts, "loan_repaid": True})
    assert detect(repaid, plan.detection, fields, day=CHECK_DAY) == []
    no_loan = dataclasses.replace(owing, plan_facts={"loan_repaid": False})
    assert detect(no_loan, plan.detection, fields, day=CHECK_DAY) == []


def test_seed_003_finds_loans_due_and_not_repaid_in_its_synthetic_register() -> None:
    from collections import Counter

    from duban.domain.plan import StageKind
    from duban.synth import generate_for_plan

    plan = load_plan_file(Path(__file__).resolve().parents[2] / "plans"
                          / "seed-003-shaoyun-2022.yaml")
    rule = next(r for r in plan.detection.rules if r.code == "loan_overdue")
    assert (rule.name, rule.category) == ("贷款到期无法偿还", "credit")
    assert rule.when == (FactCondition("loan_due", ConditionTest.BEFORE),
                         FactCondition("loan_repaid", ConditionTest.IS, ("否",)))
    stage = plan.stage(StageKind.INVESTIGATE)
    assert stage is not None and stage.end is not None
    county = generate_for_plan(plan, "township", 2022)
    again = generate_for_plan(plan, "township", 2022)
    assert [h.plan_facts for h in again.households] == [h.plan_facts for h in county.households]

    def fired(day: dt.date) -> set[str]:
        return {h.household_id for h in county.households
                for d in detect(h, plan.detection, plan.household.fields, day=day)
                if d.rule == "loan_overdue"}

    first, last = fired(stage.start), fired(stage.end)
    # A few households, the same whichever day of the 排查 stage detects.
    assert 0 < len(first) <= 0.06 * len(county.households)
    assert first == last
    dates = Counter(h.plan_facts.get("loan_due") is not None for h in county.households)
    assert dates[True] > len(first)  # other households hold loans not yet due, or repaid
