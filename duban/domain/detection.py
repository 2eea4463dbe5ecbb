"""Problems that household facts reveal on their own (两不愁三保障 and the monitoring line).

Each rule of the plan's detection policy names a built-in rule code below, or is the plan's own
rule (a name and conditions on household facts, fixed columns or plan-defined: seed 003's
改厕意愿为愿意 and 是否有卫生厕所为否), with the category the detected problem gets; disabled
rules do not fire. Descriptions cite the facts in Chinese.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, cast

from duban.domain.errors import DubanError
from duban.domain.facts import catalogue, describe, display, holds, value_of
from duban.domain.household import (
    HOUSEHOLD_CATEGORY_LABELS,
    UNSAFE_HOUSE_GRADES,
    HouseholdCategory,
    HouseholdFacts,
)
from duban.domain.plan import DetectionPolicy, DetectionRule, HouseholdField

RULE_CODES: tuple[str, ...] = (
    "income_below_line",
    "unsafe_house",
    "no_tap_water",
    "child_out_of_school",
    "no_medical_insurance",
    "no_sanitary_toilet",
)

RULE_LABELS: dict[str, str] = {
    "income_below_line": "收入低于监测线且未纳入监测（应纳未纳）",
    "unsafe_house": "住房安全等级为C级或D级（危房）",
    "no_tap_water": "未通自来水",
    "child_out_of_school": "义务教育阶段适龄儿童失学辍学",
    "no_medical_insurance": "家庭成员未全部参加基本医疗保险",
    "no_sanitary_toilet": "未使用卫生厕所",
}


class UnknownDetectionRule(DubanError):
    """A detection policy names a rule code this version does not know."""


@dataclass(frozen=True, slots=True)
class Detection:
    """A problem found from household facts, before it is routed."""

    rule: str
    category: str
    facts: dict[str, object]
    description: str
    label: str = ""  # the rule in Chinese (RULE_LABELS, or the plan rule's name)


# A check returns (facts, description) when the rule fires, else None.
_Check = Callable[[HouseholdFacts, DetectionPolicy], "tuple[dict[str, object], str] | None"]


def _income_below_line(
    h: HouseholdFacts, policy: DetectionPolicy
) -> tuple[dict[str, object], str] | None:
    line = policy.monitoring_line_yuan
    if h.is_monitored or h.income_per_person >= line:
        return None
    facts: dict[str, object] = {
        "income_per_person": h.income_per_person,
        "monitoring_line_yuan": line,
        "household_category": h.category.value,
    }
    text = (
        f"家庭年人均纯收入{h.income_per_person}元，低于监测线{line}元，"
        f"现为{HOUSEHOLD_CATEGORY_LABELS[h.category]}，未纳入监测对象（应纳未纳）"
    )
    return facts, text


def _unsafe_house(
    h: HouseholdFacts, policy: DetectionPolicy
) -> tuple[dict[str, object], str] | None:
    if h.house_grade not in UNSAFE_HOUSE_GRADES:
        return None
    return (
        {"house_grade": h.house_grade},
        f"住房安全等级鉴定为{h.house_grade}级（危房），住房安全无保障，需改造或另行安置",
    )


def _no_tap_water(
    h: HouseholdFacts, policy: DetectionPolicy
) -> tuple[dict[str, object], str] | None:
    if h.tap_water:
        return None
    return {"tap_water": False}, "未通自来水，饮水安全无保障"


def _child_out_of_school(
    h: HouseholdFacts, policy: DetectionPolicy
) -> tuple[dict[str, object], str] | None:
    if h.children_out_of_school <= 0:
        return None
    facts: dict[str, object] = {
        "school_age_children": h.school_age_children,
        "children_out_of_school": h.children_out_of_school,
    }
    text = (
        f"家中义务教育阶段适龄儿童{h.school_age_children}人，"
        f"其中{h.children_out_of_school}人失学辍学，义务教育无保障"
    )
    return facts, text


def _no_medical_insurance(
    h: HouseholdFacts, policy: DetectionPolicy
) -> tuple[dict[str, object], str] | None:
    if h.medical_insurance:
        return None
    return (
        {"medical_insurance": False, "members": h.members},
        f"家庭{h.members}名成员未全部参加基本医疗保险，基本医疗无保障",
    )


def _no_sanitary_toilet(
    h: HouseholdFacts, policy: DetectionPolicy
) -> tuple[dict[str, object], str] | None:
    if h.sanitary_toilet:
        return None
    return {"sanitary_toilet": False}, "未使用卫生厕所，需推进改厕"


_CHECKS: dict[str, _Check] = {
    "income_below_line": _income_below_line,
    "unsafe_house": _unsafe_house,
    "no_tap_water": _no_tap_water,
    "child_out_of_school": _child_out_of_school,
    "no_medical_insurance": _no_medical_insurance,
    "no_sanitary_toilet": _no_sanitary_toilet,
}


@dataclass(frozen=True, slots=True)
class ColumnTest:
    """A test of one fixed register column (a HouseholdFacts attribute): `column op value`."""

    column: str
    op: str  # "<", ">", "!=", "in", or "false" (a yes/no column answered no; value unused)
    value: object = None

    def holds(self, h: HouseholdFacts) -> bool:
        """Whether the household's column passes the test."""
        actual = getattr(h, self.column)
        if self.op == "<":
            return bool(actual < self.value)
        if self.op == ">":
            return bool(actual > self.value)
        if self.op == "!=":
            return bool(actual != self.value)
        if self.op == "in":
            return actual in cast("Collection[object]", self.value)
        return not actual


# When each built-in rule fires, as tests that must all hold: the same conditions as its check
# above (tests/unit/test_detection.py holds them to it), so a register can be asked in SQL for
# the households some rule fires on instead of every household being read and checked.
_FIRES_WHEN: dict[str, Callable[[DetectionPolicy], tuple[ColumnTest, ...]]] = {
    "income_below_line": lambda policy: (
        ColumnTest("category", "!=", HouseholdCategory.MONITORED.value),
        ColumnTest("income_per_person", "<", policy.monitoring_line_yuan)),
    "unsafe_house": lambda _: (ColumnTest("house_grade", "in", tuple(sorted(UNSAFE_HOUSE_GRADES))),),
    "no_tap_water": lambda _: (ColumnTest("tap_water", "false"),),
    "child_out_of_school": lambda _: (ColumnTest("children_out_of_school", ">", 0),),
    "no_medical_insurance": lambda _: (ColumnTest("medical_insurance", "false"),),
    "no_sanitary_toilet": lambda _: (ColumnTest("sanitary_toilet", "false"),),
}


def firing_tests(policy: DetectionPolicy) -> tuple[tuple[ColumnTest, ...], ...] | None:
    """Per enabled rule, the column tests under which it fires: a household that passes none
    of them gets no detection. None when a rule is the plan's own or unknown (its conditions
    read plan facts, or it must be refused): then every household has to be checked."""
    found: list[tuple[ColumnTest, ...]] = []
    for rule in policy.rules:
        if not rule.enabled:
            continue
        when = _FIRES_WHEN.get(rule.code)
        if rule.when or when is None:
            return None
        found.append(when(policy))
    return tuple(found)


def rule_label(rule: DetectionRule) -> str:
    """A rule in Chinese: the built-in rule's label, or the plan rule's name."""
    return RULE_LABELS.get(rule.code) or rule.name or rule.code


def _plan_rule(h: HouseholdFacts, rule: DetectionRule, fields: dict[str, HouseholdField],
               day: dt.date | None) -> tuple[dict[str, object], str] | None:
    facts: dict[str, object] = {}
    said: list[str] = []
    for c in rule.when:
        value = value_of(h, c.field)
        if not holds(c, value, day):
            return None
        facts[c.field] = display(value)
        said.append(describe(c, fields.get(c.field), day))
    return facts, f"{rule.name}：{'，'.join(said)}"


def detect(h: HouseholdFacts, policy: DetectionPolicy,
           fields: Iterable[HouseholdField] = (), *, day: dt.date | None = None
           ) -> list[Detection]:
    """The problems the household's facts reveal, in the policy's rule order.

    `fields` are the plan's household fields, whose labels the descriptions use; `day` is the
    detection day (检查日) that a date condition without a fixed date compares with.
    """
    return detector(policy, fields, day=day)(h)


def _plan_check(h: HouseholdFacts, arg: object) -> tuple[dict[str, object], str] | None:
    rule, known, day = cast(
        "tuple[DetectionRule, dict[str, HouseholdField], dt.date | None]", arg)
    return _plan_rule(h, rule, known, day)


def _unknown(h: HouseholdFacts, arg: object) -> None:
    names = "、".join(RULE_CODES)
    raise UnknownDetectionRule(f"未知的排查规则“{arg}”，可用的规则：{names}")


def detector(policy: DetectionPolicy, fields: Iterable[HouseholdField] = (), *,
             day: dt.date | None = None) -> Callable[[HouseholdFacts], list[Detection]]:
    """`detect` by one policy, its rules worked out once: for checking a whole register.

    A rule code this version does not know is refused when a household is checked; `day` is
    the detection day (检查日) date conditions may compare with.
    """
    steps: list[tuple[str, str, str, Callable[[HouseholdFacts, Any], Any], object]] = []
    known: dict[str, HouseholdField] | None = None
    for rule in policy.rules:
        if not rule.enabled:
            continue
        label = rule_label(rule)
        if rule.when:
            if known is None:
                known = catalogue(fields)
            steps.append((rule.code, rule.category, label, _plan_check, (rule, known, day)))
        elif (check := _CHECKS.get(rule.code)) is not None:
            steps.append((rule.code, rule.category, label, check, policy))
        else:
            steps.append((rule.code, rule.category, label, _unknown, rule.code))

    def run(h: HouseholdFacts) -> list[Detection]:
        found: list[Detection] = []
        for code, category, label, check, arg in steps:
            hit = check(h, arg)
            if hit is not None:
                found.append(Detection(code, category, hit[0], hit[1], label))
        return found

    return run
