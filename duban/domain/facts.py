"""Household facts by key: the register's fixed columns and the ones a plan defines.

A detection rule's condition names a fact by key; this module says which facts exist (the fixed
2022 columns, `BUILTIN_FIELDS`, plus the plan's `household.fields`), reads a fact's value off a
household, tests a condition on it, matches a written value to a choice, and writes values and
conditions out in Chinese.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence

from duban.domain.columns import HOUSEHOLD_COLUMNS, NO, YES
from duban.domain.household import (
    HOUSE_GRADES,
    HOUSEHOLD_CATEGORY_LABELS,
    MONITORING_TYPE_LABELS,
    FactValue,
    HouseholdCategory,
    HouseholdFacts,
    MonitoringType,
)
from duban.domain.plan import (
    CHECK_DAY,
    DATE_TESTS,
    ConditionTest,
    FactCondition,
    FieldType,
    HouseholdField,
)

_HEADER = dict(zip(
    ("town", "village", "household_id", "head", "members", "category", "monitoring_type",
     "income_per_person", "house_grade", "tap_water", "school_age_children",
     "children_out_of_school", "medical_insurance", "sanitary_toilet"),
    HOUSEHOLD_COLUMNS, strict=True))

# The register's fixed columns a condition may test, keyed by HouseholdFacts attribute.
BUILTIN_FIELDS: tuple[HouseholdField, ...] = (
    HouseholdField("members", _HEADER["members"], FieldType.INTEGER, minimum=1),
    HouseholdField("category", _HEADER["category"], FieldType.CHOICE,
                   tuple(HOUSEHOLD_CATEGORY_LABELS.values())),
    HouseholdField("monitoring_type", _HEADER["monitoring_type"], FieldType.CHOICE,
                   tuple(MONITORING_TYPE_LABELS.values())),
    HouseholdField("income_per_person", _HEADER["income_per_person"], FieldType.INTEGER,
                   minimum=0),
    HouseholdField("house_grade", _HEADER["house_grade"], FieldType.CHOICE, HOUSE_GRADES),
    HouseholdField("tap_water", _HEADER["tap_water"], FieldType.YES_NO),
    HouseholdField("school_age_children", _HEADER["school_age_children"], FieldType.INTEGER,
                   minimum=0),
    HouseholdField("children_out_of_school", _HEADER["children_out_of_school"],
                   FieldType.INTEGER, minimum=0),
    HouseholdField("medical_insurance", _HEADER["medical_insurance"], FieldType.YES_NO),
    HouseholdField("sanitary_toilet", _HEADER["sanitary_toilet"], FieldType.YES_NO),
)
BUILTIN_KEYS = frozenset(f.key for f in BUILTIN_FIELDS)
# Every fixed column header (乡镇, 户编号 … too): a plan field may not take one as its label.
RESERVED_LABELS = frozenset(HOUSEHOLD_COLUMNS) | frozenset(
    h.split("（")[0] for h in HOUSEHOLD_COLUMNS)

# The facts built-in detection rules record (Problem.facts), with their labels.
DETECTION_FACT_LABELS: dict[str, str] = {
    **{f.key: f.label for f in BUILTIN_FIELDS},
    "monitoring_line_yuan": "监测线（元）",
    "household_category": _HEADER["category"],
}

# What separates the values of a multiple choice in a cell: 、，,；; / and spaces.
MULTI_SEPARATORS = re.compile(r"[、，,；;/／\s]+")

# Words the test of a condition is written with in Chinese.
TEST_WORDS: dict[ConditionTest, str] = {
    ConditionTest.IS: "为",
    ConditionTest.IS_NOT: "不为",
    ConditionTest.HAS: "含",
    ConditionTest.LACKS: "不含",
    ConditionTest.BLANK: "未填写",
    ConditionTest.FILLED: "已填写",
    ConditionTest.BELOW: "低于",
    ConditionTest.AT_LEAST: "不低于",
    ConditionTest.BEFORE: "早于",
    ConditionTest.NOT_BEFORE: "不早于",
}
# Which tests suit which kind of field.
TESTS_FOR: dict[str, frozenset[ConditionTest]] = {
    "single": frozenset({ConditionTest.IS, ConditionTest.IS_NOT, ConditionTest.BLANK,
                         ConditionTest.FILLED}),
    "multiple": frozenset({ConditionTest.HAS, ConditionTest.LACKS, ConditionTest.BLANK,
                           ConditionTest.FILLED}),
    "integer": frozenset({ConditionTest.IS, ConditionTest.IS_NOT, ConditionTest.BELOW,
                          ConditionTest.AT_LEAST, ConditionTest.BLANK, ConditionTest.FILLED}),
    "text": frozenset({ConditionTest.BLANK, ConditionTest.FILLED, ConditionTest.IS,
                       ConditionTest.IS_NOT}),
    "date": frozenset({ConditionTest.BEFORE, ConditionTest.NOT_BEFORE, ConditionTest.BLANK,
                       ConditionTest.FILLED}),
}
# What people call each family of fields (a plan check's message names it).
SHAPE_LABELS: dict[str, str] = {"single": "单选", "multiple": "多选", "integer": "整数",
                                "text": "文本", "date": "日期"}


class FactProblem(ValueError):
    """A written value that does not fit its field; `reason` is Chinese."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def shape(f: HouseholdField) -> str:
    """The family of tests a field takes: single, multiple, integer, date or text."""
    if f.type is FieldType.CHOICE:
        return "multiple" if f.multiple else "single"
    if f.type is FieldType.INTEGER:
        return "integer"
    if f.type is FieldType.YES_NO:
        return "single"
    if f.type is FieldType.DATE:
        return "date"
    return "text"


def allowed_values(f: HouseholdField) -> tuple[str, ...]:
    """The values a condition or a cell may give: a choice's values, 是/否 for yes/no."""
    if f.type is FieldType.YES_NO:
        return (YES, NO)
    return f.values


def catalogue(fields: Iterable[HouseholdField]) -> dict[str, HouseholdField]:
    """Every fact a condition may name, by key: the fixed columns, then the plan's fields."""
    out = {f.key: f for f in BUILTIN_FIELDS}
    for f in fields:
        out.setdefault(f.key, f)
    return out


def _fold(text: str) -> str:
    return "".join(text.split())


def match_choice(f: HouseholdField, text: str) -> FactValue:
    """The choice value(s) `text` stands for; raises FactProblem naming the allowed values.

    Spaces are ignored and a value may drop or add a final 户 (低保 is 低保户); a multiple choice
    splits on 、，,；; / and orders its values as the plan lists them.
    """
    words = [w for w in MULTI_SEPARATORS.split(text) if w] if f.multiple else [_fold(text)]
    found: list[str] = []
    for word in words:
        value = _choice(f.values, word)
        if value is None:
            allowed = "、".join(f.values)
            shown = word if len(word) <= 30 else word[:29] + "…"
            raise FactProblem(f"“{shown}”不是方案规定的“{f.label}”选项（可选：{allowed}）")
        if value not in found:
            found.append(value)
    if not found:
        raise FactProblem("必填，不能为空")
    if not f.multiple:
        return found[0]
    return tuple(v for v in f.values if v in found)


def _choice(values: Sequence[str], word: str) -> str | None:
    folded = {_fold(v): v for v in values}
    hit = folded.get(word)
    if hit is None and word.endswith("户"):
        hit = folded.get(word[:-1])
    if hit is None:
        hit = folded.get(word + "户")
    return hit


def builtin_value(h: HouseholdFacts, key: str) -> FactValue | None:
    """A fixed column's value as a condition sees it: labels for choices, bool for yes/no."""
    if key == "category":
        return HOUSEHOLD_CATEGORY_LABELS[HouseholdCategory(h.category)]
    if key == "monitoring_type":
        return (MONITORING_TYPE_LABELS[MonitoringType(h.monitoring_type)]
                if h.monitoring_type else None)
    value: FactValue = getattr(h, key)
    return value


def value_of(h: HouseholdFacts, key: str) -> FactValue | None:
    """A household's fact by key (None when not recorded)."""
    if key in BUILTIN_KEYS:
        return builtin_value(h, key)
    return h.plan_facts.get(key)


def _blank(value: FactValue | None) -> bool:
    return value is None or value == "" or value == ()


def holds(c: FactCondition, value: FactValue | None, day: dt.date | None = None) -> bool:
    """Whether a condition holds for a fact's value; `day` is the detection day (检查日),
    which a date test without a fixed date compares with."""
    test = c.test
    if test is ConditionTest.BLANK:
        return _blank(value)
    if test is ConditionTest.FILLED:
        return not _blank(value)
    if _blank(value):
        return False  # a blank fact is neither 为 nor 不为 a value, nor under a number or date
    if test in DATE_TESTS:
        against = c.date if c.date is not None else day
        if against is None:
            raise ValueError(f"条件“{describe(c, None)}”须知道检查日")
        recorded = _day(value)
        if recorded is None:
            return False
        return recorded < against if test is ConditionTest.BEFORE else recorded >= against
    if test in (ConditionTest.BELOW, ConditionTest.AT_LEAST):
        if isinstance(value, bool) or not isinstance(value, int) or c.number is None:
            return False
        return value < c.number if test is ConditionTest.BELOW else value >= c.number
    assert value is not None
    words = set(value) if isinstance(value, tuple) else {_text(value)}
    hit = bool(words & set(c.values))
    if test in (ConditionTest.IS, ConditionTest.HAS):
        return hit
    return not hit


def _day(value: FactValue | None) -> dt.date | None:
    """A date fact as stored (2022-05-06), None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def cn_day(day: dt.date) -> str:
    """A date as a condition says it: 2022年10月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


def _text(value: FactValue) -> str:
    if isinstance(value, bool):
        return YES if value else NO
    return str(value)


def display(value: FactValue | None) -> str:
    """A fact's value as people read it: 是/否, several values joined by 、, blank as ""."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "、".join(value)
    return _text(value)


def describe(c: FactCondition, f: HouseholdField | None, day: dt.date | None = None) -> str:
    """A condition in Chinese: 改厕意愿为愿意, 边缘户类型含无劳力户, 帮扶保障措施未填写,
    小额信贷到期日早于检查日, 小额信贷到期日早于2022年10月1日. With `day` (the detection day) a
    test against the 检查日 names it: 早于检查日（2022年6月6日）."""
    label = f.label if f is not None else c.field
    word = TEST_WORDS[c.test]
    if c.test in (ConditionTest.BLANK, ConditionTest.FILLED):
        return f"{label}{word}"
    if c.test in DATE_TESTS:
        if c.date is not None:
            return f"{label}{word}{cn_day(c.date)}"
        return f"{label}{word}{CHECK_DAY}" + (f"（{cn_day(day)}）" if day is not None else "")
    if c.test in (ConditionTest.BELOW, ConditionTest.AT_LEAST):
        return f"{label}{word}{c.number}"
    joined = "或".join(c.values) if c.test in (ConditionTest.IS, ConditionTest.HAS) else \
        "、".join(c.values)
    return f"{label}{word}{joined}"


# The stored form of no facts, shared: a register under a plan without fields writes one
# serialised value for all its rows (the bulk writer converts each distinct dict once).
_NONE: dict[str, object] = {}


def stored(facts: Mapping[str, FactValue]) -> dict[str, object]:
    """Plan facts as JSON data (a multiple choice as a list); never mutate the result."""
    if not facts:
        return _NONE
    return {k: list(v) if isinstance(v, tuple) else v for k, v in facts.items()}


def loaded(data: Mapping[str, object] | None) -> dict[str, FactValue]:
    """Plan facts from their JSON form (a list back to a tuple)."""
    out: dict[str, FactValue] = {}
    for k, v in (data or {}).items():
        if isinstance(v, list):
            out[k] = tuple(str(x) for x in v)
        elif isinstance(v, str | int | bool):
            out[k] = v
    return out


_CATEGORY_BY_CODE = {k.value: v for k, v in HOUSEHOLD_CATEGORY_LABELS.items()}


def fact_lines(facts: Mapping[str, object] | None,
               fields: Iterable[HouseholdField]) -> list[tuple[str, str]]:
    """Recorded facts as (label, value) lines people read: a detection's facts, a household's.

    Keys are fixed columns, plan fields or a built-in rule's own facts (监测线); values become
    是/否, several values joined by 、, a category code its label.
    """
    labels = {**DETECTION_FACT_LABELS, **{f.key: f.label for f in fields}}
    lines: list[tuple[str, str]] = []
    for key, value in (facts or {}).items():
        if key in ("household_category", "category") and isinstance(value, str):
            value = _CATEGORY_BY_CODE.get(value, value)
        if isinstance(value, list):
            value = tuple(str(v) for v in value)
        shown = display(value) if isinstance(value, str | int | bool | tuple) else str(value)
        lines.append((labels.get(key, key), shown or "未填写"))
    return lines
