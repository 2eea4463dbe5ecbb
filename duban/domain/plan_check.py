"""What makes a plan right beyond its spelling: its mistakes, cross-section rules and lint.

`PlanError` and `PlanInvalid` are how every reader of a plan (the YAML file, the web form)
reports mistakes; `check_plan` holds the rules that span sections of a typed Plan, and
`lint_plan` the remarks on a valid plan. Reading the wire format lives in
`duban.adapters.plan`; everything here is standard library so the core stays pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from duban.domain.errors import DubanError
from duban.domain.facts import (
    BUILTIN_KEYS,
    MULTI_SEPARATORS,
    RESERVED_LABELS,
    SHAPE_LABELS,
    TEST_WORDS,
    TESTS_FOR,
    allowed_values,
    catalogue,
    shape,
)
from duban.domain.plan import (
    DATE_TESTS,
    OFFICE_LEVEL_LABELS,
    OWN_TOWN,
    OWN_VILLAGE,
    ConditionTest,
    FieldType,
    OfficeLevel,
    Plan,
)

# The longest code a plan's own detection rule may have (problem.detection_rule holds it).
MAX_RULE_CODE = 50
# The longest name of such a rule: it goes into problem.found_by (100 characters) as 系统比对（…）.
MAX_RULE_NAME = 40
MAX_FIELD_LABEL = 30


@dataclass(frozen=True)
class PlanError:
    """One mistake in a plan: where (field path, and the YAML line when known) and why."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"第{self.line}行 " if self.line is not None else ""
        return f"{where}{self.path} {self.message}".strip()


class PlanInvalid(DubanError):
    """The plan has mistakes; `errors` lists every one of them."""

    def __init__(self, errors: Sequence[PlanError]) -> None:
        self.errors: tuple[PlanError, ...] = tuple(errors)
        lines = "\n".join(f"{i}. {e}" for i, e in enumerate(self.errors, 1))
        super().__init__(f"方案有{len(self.errors)}处错误：\n{lines}")



def check_plan(plan: Plan) -> list[PlanError]:
    """Mistakes that span sections of a plan (its county office, 各乡镇, dates)."""
    errors: list[PlanError] = []
    office = plan.office(plan.county_office) if plan.county_office else None
    if office is not None and office.level is not OfficeLevel.COUNTY:
        errors.append(
            PlanError(
                "county_office",
                f"须是县级办室（level: county），{office.name} 是{OFFICE_LEVEL_LABELS[office.level]}",
            )
        )
    users = [
        f"routing[{i}].office" if r.office == OWN_TOWN else f"routing[{i}].co_offices"
        for i, r in enumerate(plan.routing)
        if r.office == OWN_TOWN or OWN_TOWN in r.co_offices
    ] + [
        # A duty of 各乡镇 or 各村 is answered by each town's one town-level office.
        f"duties[{i}].units"
        for i, d in enumerate(plan.duties)
        if OWN_TOWN in d.units or OWN_VILLAGE in d.units
    ]
    if users:
        for town in plan.towns:
            count = sum(
                1 for o in plan.offices if o.level is OfficeLevel.TOWN and o.town == town.code
            )
            if count != 1:
                errors.append(
                    PlanError(
                        users[0],
                        f"用了“{OWN_TOWN}”，但乡镇 {town.name} 有 {count} 个乡镇级办室（应恰好 1 个）",
                    )
                )
    # A stage whose dates were wrong carries date.min; it must not move the campaign's start.
    starts = [s.start for s in plan.stages if s.start != dt.date.min]
    if starts:
        first = min(starts)
        fixed: list[tuple[str, dt.date | None]] = [
            (f"deadlines.tiers[{i}].date", t.date) for i, t in enumerate(plan.deadlines.tiers)
        ] + [(f"deadlines.rules[{i}].date", r.date) for i, r in enumerate(plan.deadlines.rules)]
        fixed += [
            (f"deadlines.rules[{i}].milestones[{j}].date", m.date)
            for i, r in enumerate(plan.deadlines.rules)
            for j, m in enumerate(r.milestones)
        ]
        for where, day in fixed:
            if day is not None and day < first:
                errors.append(PlanError(where, f"早于行动开始日期 {first.isoformat()}"))
    errors += check_household_fields(plan)
    errors += check_detection_rules(plan)
    return errors


def check_household_fields(plan: Plan) -> list[PlanError]:
    """The plan's household fields: unique keys and column headers, values fit their type."""
    errors: list[PlanError] = []
    keys: dict[str, str] = {}
    labels: dict[str, str] = {}
    for i, f in enumerate(plan.household.fields):
        path = f"household.fields[{i}]"
        if f.key in BUILTIN_KEYS:
            errors.append(PlanError(f"{path}.key", f"与农户信息表固定列的代码相同：{f.key}"))
        elif f.key in keys:
            errors.append(PlanError(f"{path}.key", f"代码重复：{f.key}（{keys[f.key]} 已使用）"))
        else:
            keys[f.key] = path
        label = "".join(f.label.split())
        if not label:
            errors.append(PlanError(f"{path}.label", "缺少（列名，即导入模板的表头）"))
        elif label in RESERVED_LABELS:
            errors.append(PlanError(f"{path}.label",
                                    f"“{f.label}”是农户信息表的固定列，请换一个列名"))
        elif label in labels:
            errors.append(PlanError(f"{path}.label",
                                    f"列名重复：{f.label}（{labels[label]} 已使用）"))
        elif len(label) > MAX_FIELD_LABEL:
            errors.append(PlanError(f"{path}.label", f"列名过长（最多 {MAX_FIELD_LABEL} 个字）"))
        else:
            labels[label] = path
        if f.type is FieldType.CHOICE:
            if not f.values:
                errors.append(PlanError(f"{path}.values",
                                        f"“{f.label}”是选项字段，须列出可选值"))
            seen: set[str] = set()
            for j, value in enumerate(f.values):
                if value in seen:
                    errors.append(PlanError(f"{path}.values[{j}]", f"重复：{value}"))
                seen.add(value)
                if f.multiple and MULTI_SEPARATORS.search(value):
                    errors.append(PlanError(
                        f"{path}.values[{j}]",
                        f"多选字段的可选值不能含顿号、逗号、分号、斜杠或空格：{value}"))
        else:
            if f.values:
                errors.append(PlanError(f"{path}.values", "只用于选项字段（type: choice）"))
            if f.multiple:
                errors.append(PlanError(f"{path}.multiple", "只用于选项字段（type: choice）"))
        if f.type is not FieldType.INTEGER:
            for name, bound in (("minimum", f.minimum), ("maximum", f.maximum)):
                if bound is not None:
                    errors.append(PlanError(f"{path}.{name}", "只用于整数字段（type: integer）"))
        elif f.minimum is not None and f.maximum is not None and f.minimum > f.maximum:
            errors.append(PlanError(f"{path}.maximum",
                                    f"不能小于 minimum（{f.minimum}），实际是 {f.maximum}"))
    return errors


def check_detection_rules(plan: Plan) -> list[PlanError]:
    """The plan's own detection rules: a name, and conditions on facts that exist, fitting them."""
    errors: list[PlanError] = []
    known = catalogue(plan.household.fields)
    for i, rule in enumerate(plan.detection.rules):
        path = f"detection.rules[{i}]"
        if not rule.when:
            continue
        if len(rule.code) > MAX_RULE_CODE:
            errors.append(PlanError(f"{path}.code", f"过长（最多 {MAX_RULE_CODE} 个字符）"))
        if not rule.name:
            errors.append(PlanError(f"{path}.name",
                                    "缺少（按条件发现问题的规则须有名称，写进问题描述）"))
        elif len(rule.name) > MAX_RULE_NAME:
            errors.append(PlanError(f"{path}.name", f"过长（最多 {MAX_RULE_NAME} 个字）"))
        for j, c in enumerate(rule.when):
            where = f"{path}.when[{j}]"
            f = known.get(c.field)
            if f is None:
                some = "、".join(x.label for x in known.values())
                errors.append(PlanError(f"{where}.field",
                                        f"未定义的农户信息：{c.field}（可用：{some}）"))
                continue
            family = shape(f)
            if c.test not in TESTS_FOR[family]:
                fits = "、".join(f"{t.value}（{TEST_WORDS[t]}）" for t in ConditionTest
                                 if t in TESTS_FOR[family])
                kind = SHAPE_LABELS[family]
                test = f"{c.test.value}（{TEST_WORDS[c.test]}）"
                if family == "date" or c.test in DATE_TESTS:
                    # A date compared as a number or a choice, or a non-date field compared
                    # with a day: name the rule and the condition, since nothing else does.
                    rule_name = rule.name or rule.code
                    what = ("早于、不早于只用于日期字段" if c.test in DATE_TESTS else
                            "日期字段只能与某日或检查日比较早晚")
                    message = (f"规则“{rule_name}”第{j + 1}个条件：“{f.label}”是{kind}字段，"
                               f"不能用 {test}（{what}；可用：{fits}）")
                else:
                    message = f"“{f.label}”是{kind}字段，不能用 {c.test.value}（可用：{fits}）"
                errors.append(PlanError(f"{where}.{c.test.value}", message))
                continue
            values = allowed_values(f)
            if values and c.test in (ConditionTest.IS, ConditionTest.IS_NOT,
                                     ConditionTest.HAS, ConditionTest.LACKS):
                for value in c.values:
                    if value not in values:
                        errors.append(PlanError(
                            f"{where}.{c.test.value}",
                            f"“{value}”不是“{f.label}”的可选值（可选：{'、'.join(values)}）"))
    return errors


def lint_plan(plan: Plan) -> tuple[PlanError, ...]:
    """Remarks on a valid plan that are likely mistakes but not errors (shown as 提示)."""
    remarks: list[PlanError] = []
    names = {c.code: c.name for c in plan.categories} | {s.code: s.name for s in plan.sources}
    all_towns = frozenset(t.code for t in plan.towns)
    for c in plan.categories:
        gaps: list[str] = []
        for s in plan.sources:
            covered: set[str] = set()
            for r in plan.routing:
                if (not r.categories or c.code in r.categories) and (
                    not r.sources or s.code in r.sources
                ):
                    covered |= set(r.towns) if r.towns else all_towns
            if not all_towns <= covered:
                gaps.append(names[s.code])
        if gaps:
            remarks.append(
                PlanError(
                    "routing",
                    f"类别“{c.name}”来自{'、'.join(gaps)}的问题没有匹配的路由规则，"
                    "将需要手工指定责任办室（可在末尾加一条不限类别的兜底规则）",
                )
            )
    for i, r in enumerate(plan.routing):
        for j, earlier in enumerate(plan.routing[:i]):
            if (
                _covers(earlier.categories, r.categories)
                and _covers(earlier.sources, r.sources)
                and _covers(earlier.towns, r.towns)
            ):
                remarks.append(PlanError(f"routing[{i}]", f"永远不会用到：routing[{j}] 已先匹配"))
                break
    for i, d in enumerate(plan.deadlines.rules):
        for j, prior in enumerate(plan.deadlines.rules[:i]):
            # A rule narrowed to stages or dates found leaves the rest to the rules after it.
            narrowed = prior.stages or prior.found_from or prior.found_to
            if (
                not narrowed
                and _covers(prior.categories, d.categories)
                and _covers(prior.sources, d.sources)
            ):
                remarks.append(
                    PlanError(
                        f"deadlines.rules[{i}]", f"永远不会用到：deadlines.rules[{j}] 已先匹配"
                    )
                )
                break
    for i, stage in enumerate(plan.stages):
        if stage.end is None:
            remarks.append(
                PlanError(f"stages[{i}].end", "未写结束日期：该阶段将一直运行，直到行动总结关闭")
            )
    # An open-ended campaign (a stage without an end) has no last day to compare with.
    last = plan.end or dt.date.max
    for i, t in enumerate(plan.deadlines.tiers):
        if t.date is not None and t.date > last:
            remarks.append(
                PlanError(
                    f"deadlines.tiers[{i}].date", f"晚于最后一个阶段的结束日 {last.isoformat()}"
                )
            )
    for i, d in enumerate(plan.deadlines.rules):
        if d.date is not None and d.date > last:
            remarks.append(
                PlanError(
                    f"deadlines.rules[{i}].date", f"晚于最后一个阶段的结束日 {last.isoformat()}"
                )
            )
    for i, duty in enumerate(plan.duties):
        days = [("date", duty.date), ("start", duty.start), ("end", duty.end)]
        for key, day in days:
            if day is not None and not plan.start <= day <= last:
                remarks.append(
                    PlanError(
                        f"duties[{i}].{key}",
                        f"不在行动期间（{plan.start.isoformat()} 至 "
                        f"{plan.end.isoformat() if plan.end else '适时结束'}）内",
                    )
                )
    return tuple(remarks)


def _covers(earlier: tuple[str, ...], later: tuple[str, ...]) -> bool:
    """Whether a match set `earlier` accepts everything `later` accepts (empty = any)."""
    return not earlier or (bool(later) and set(later) <= set(earlier))

