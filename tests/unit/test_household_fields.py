"""Plan-defined household facts: the `household.fields` section, rules on them, the stored form."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from duban.adapters.plan.codec import decode_plan, encode_plan
from duban.adapters.plan.wire import parse_plan
from duban.domain.detection import detect
from duban.domain.facts import FactProblem, match_choice
from duban.domain.household import HouseholdCategory, HouseholdFacts
from duban.domain.plan import ConditionTest, FactCondition, FieldType, HouseholdField
from duban.domain.plan_check import PlanError, PlanInvalid
from tests.unit.test_plan_wire import base

MARGINAL = {"key": "marginal", "label": "边缘户类型", "type": "多选",
            "values": ["低保户", "危房户", "重病户", "残疾人户", "独居老人户", "无劳力户"]}
SUPPORT = {"key": "support", "label": "帮扶保障措施", "type": "文本"}
WISH = {"key": "wish", "label": "改厕意愿", "type": "选项", "values": ["愿意", "不愿意"]}
NO_LABOUR = {
    "code": "no_labour", "name": "无劳力边缘户未落实帮扶保障措施", "category": "基本医疗",
    "when": [{"field": "边缘户类型", "has": "无劳力户"}, {"field": "support", "blank": True}],
}
TOILET = {
    "code": "toilet_wanted", "name": "有改厕意愿但尚未改厕", "category": "住房安全",
    "when": [{"field": "是否有卫生厕所", "is": False}, {"field": "改厕意愿", "is": "愿意"}],
}


def plan_data(fields: list[dict[str, Any]] | None = None,
              rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    data = base()
    data["household"] = {"fields": [MARGINAL, SUPPORT, WISH] if fields is None else fields}
    data["detection"]["rules"] += [NO_LABOUR, TOILET] if rules is None else rules
    return data


def errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(data)
    return [str(e) for e in caught.value.errors]


HOUSEHOLD = HouseholdFacts(
    household_id="H1", town="t1", village="v1", head="张三", members=3,
    category=HouseholdCategory.ORDINARY, monitoring_type=None, income_per_person=9000,
    house_grade="A", tap_water=True, school_age_children=0, children_out_of_school=0,
    medical_insurance=True, sanitary_toilet=True,
)


def test_fields_and_rules_parse_with_labels_resolved_to_keys() -> None:
    plan = parse_plan(plan_data())
    marginal = plan.household.fields[0]
    assert (marginal.type, marginal.multiple, marginal.values[-1]) == (
        FieldType.CHOICE, True, "无劳力户")
    no_labour, toilet = plan.detection.rules[-2:]
    assert no_labour.when == (FactCondition("marginal", ConditionTest.HAS, ("无劳力户",)),
                              FactCondition("support", ConditionTest.BLANK))
    # A fixed column by its header, yes/no written as YAML's false.
    assert toilet.when[0] == FactCondition("sanitary_toilet", ConditionTest.IS, ("否",))
    assert toilet.when[1] == FactCondition("wish", ConditionTest.IS, ("愿意",))


def test_the_stored_form_decodes_and_parses_back() -> None:
    plan = parse_plan(plan_data())
    stored = json.loads(json.dumps(encode_plan(plan), ensure_ascii=False))
    assert decode_plan(stored) == plan
    assert parse_plan(stored) == plan
    # A plan stored before household fields existed decodes with none.
    old = {k: v for k, v in encode_plan(parse_plan(base())).items() if k != "household"}
    for rule in old["detection"]["rules"]:
        del rule["name"], rule["when"]
    assert decode_plan(old).household.fields == ()


@pytest.mark.parametrize(("fields", "rules", "expected"), [
    ([{**WISH, "values": []}], [],
     "household.fields[0].values “改厕意愿”是选项字段，须列出可选值"),
    ([WISH, {**WISH, "key": "wish2"}], [],
     "household.fields[1].label 列名重复：改厕意愿（household.fields[0] 已使用）"),
    ([{**WISH, "label": "是否有卫生厕所"}], [],
     "household.fields[0].label “是否有卫生厕所”是农户信息表的固定列，请换一个列名"),
    ([{**WISH, "key": "members"}], [], "household.fields[0].key 与农户信息表固定列的代码相同：members"),
    ([{**MARGINAL, "values": ["低保户", "重病户、残疾人户"]}], [],
     "household.fields[0].values[1] 多选字段的可选值不能含顿号、逗号、分号、斜杠或空格：重病户、残疾人户"),
    ([{**MARGINAL, "values": ["低保户", "低保户"]}], [], "household.fields[0].values[1] 重复：低保户"),
    ([{**SUPPORT, "values": ["有"]}], [], "household.fields[0].values 只用于选项字段（type: choice）"),
    ([{"key": "n", "label": "残疾人数", "type": "整数", "minimum": 3, "maximum": 1}], [],
     "household.fields[0].maximum 不能小于 minimum（3），实际是 1"),
    ([{**WISH, "type": "下拉"}], [], "household.fields[0].type 取值不认识：下拉"),
    ([WISH], [{**TOILET, "when": [{"field": "改厕愿望", "is": "愿意"}]}],
     "detection.rules[1].when[0].field 未定义的农户信息：改厕愿望（可用：家庭人口、农户类别"),
    ([WISH], [{**TOILET, "when": [{"field": "改厕意愿", "is": "想改"}]}],
     "detection.rules[1].when[0].is “想改”不是“改厕意愿”的可选值（可选：愿意、不愿意）"),
    ([MARGINAL], [{**NO_LABOUR, "when": [{"field": "边缘户类型", "is": "无劳力户"}]}],
     "detection.rules[1].when[0].is “边缘户类型”是多选字段，不能用 is（可用：has（含）"),
    ([WISH], [{**TOILET, "when": [{"field": "改厕意愿", "is": "愿意", "blank": True}]}],
     "detection.rules[1].when[0] 须恰好写一种判断"),
    ([WISH], [{**TOILET, "name": ""}],
     "detection.rules[1].name 缺少（按条件发现问题的规则须有名称，写进问题描述）"),
    ([WISH], [{**TOILET, "name": "有改厕意愿" * 9}], "detection.rules[1].name 过长（最多 40 个字）"),
    ([WISH], [{**TOILET, "code": "unsafe_house"}],
     "detection.rules[1].when unsafe_house 是内置规则，不能再写条件"),
    ([WISH], [{**TOILET, "when": [{"field": "家庭人口", "below": "三"}]}],
     "detection.rules[1].when[0].below 应为整数，实际是文本 “三”"),
])
def test_mistakes_are_named_in_chinese_with_their_field(
        fields: list[dict[str, Any]], rules: list[dict[str, Any]], expected: str) -> None:
    found = errors(plan_data(fields, rules))
    assert any(e.startswith(expected) for e in found), found


def test_check_plan_names_the_field_of_a_typed_plan() -> None:
    """The domain rules hold for a plan built in code too (the web form, an amendment)."""
    from duban.domain.plan_check import check_plan

    plan = parse_plan(plan_data())
    bad = dataclasses.replace(plan, household=dataclasses.replace(
        plan.household, fields=(*plan.household.fields,
                                HouseholdField("dup", "改厕意愿", FieldType.TEXT))))
    assert PlanError("household.fields[3].label",
                     "列名重复：改厕意愿（household.fields[2] 已使用）") in check_plan(bad)


def test_a_rule_on_plan_facts_fires_with_their_labels() -> None:
    plan = parse_plan(plan_data())
    fields = plan.household.fields
    lone = dataclasses.replace(HOUSEHOLD, plan_facts={"marginal": ("重病户", "无劳力户")})
    found = detect(lone, plan.detection, fields)
    assert [(d.rule, d.category, d.label) for d in found] == [
        ("no_labour", "medical", "无劳力边缘户未落实帮扶保障措施")]
    assert found[0].description == (
        "无劳力边缘户未落实帮扶保障措施：边缘户类型含无劳力户，帮扶保障措施未填写")
    assert found[0].facts == {"marginal": "重病户、无劳力户", "support": ""}
    # Supported, or not a 无劳力户: nothing.
    helped = dataclasses.replace(lone, plan_facts={**lone.plan_facts, "support": "纳入低保"})
    assert detect(helped, plan.detection, fields) == []
    sick = dataclasses.replace(HOUSEHOLD, plan_facts={"marginal": ("重病户",)})
    assert detect(sick, plan.detection, fields) == []


def test_a_rule_mixing_a_fixed_column_and_a_plan_fact() -> None:
    plan = parse_plan(plan_data())
    wants = dataclasses.replace(HOUSEHOLD, sanitary_toilet=False, plan_facts={"wish": "愿意"})
    found = detect(wants, plan.detection, plan.household.fields)
    assert [d.description for d in found] == ["有改厕意愿但尚未改厕：是否有卫生厕所为否，改厕意愿为愿意"]
    refuses = dataclasses.replace(wants, plan_facts={"wish": "不愿意"})
    assert detect(refuses, plan.detection, plan.household.fields) == []
    has_one = dataclasses.replace(wants, sanitary_toilet=True)
    assert detect(has_one, plan.detection, plan.household.fields) == []


def test_a_written_choice_is_matched_to_the_plans_values() -> None:
    marginal = HouseholdField("m", "边缘户类型", FieldType.CHOICE, tuple(MARGINAL["values"]),
                              multiple=True)
    assert match_choice(marginal, "无劳力户、重病 低保户") == ("低保户", "重病户", "无劳力户")
    wish = HouseholdField("w", "改厕意愿", FieldType.CHOICE, ("愿意", "不愿意"))
    assert match_choice(wish, " 愿 意 ") == "愿意"
    with pytest.raises(FactProblem, match="“想改”不是方案规定的“改厕意愿”选项（可选：愿意、不愿意）"):
        match_choice(wish, "想改")


def test_an_amendment_lists_household_fields_and_rules_and_keeps_a_fields_kind() -> None:
    import datetime as dt

    from duban.domain.amendment import diff_plans
    from duban.services.calendars import working_calendar

    old = parse_plan(plan_data())
    wish = next(f for f in old.household.fields if f.key == "wish")
    new = dataclasses.replace(
        old,
        household=dataclasses.replace(old.household, fields=(
            dataclasses.replace(wish, values=("愿意", "不愿意", "已改厕")),
            HouseholdField("cards", "残疾证办理情况", FieldType.CHOICE, ("已办理", "未办理")))),
        detection=dataclasses.replace(old.detection, rules=old.detection.rules[:-1]))
    diff = diff_plans(old, new, [], working_calendar(), dt.date(2020, 6, 20))
    assert diff.refusals == ()
    assert list(diff.changes) == [
        "农户信息“改厕意愿”可选值：愿意、不愿意 → 愿意、不愿意、已改厕",
        "新增农户信息：残疾证办理情况（已导入的农户此项为空，重新导入农户信息后补齐）",
        "删除农户信息：边缘户类型（已导入的值保留，不再显示和比对）",
        "删除农户信息：帮扶保障措施（已导入的值保留，不再显示和比对）",
        "删除发现规则：有改厕意愿但尚未改厕",
    ]
    typed = dataclasses.replace(new, household=dataclasses.replace(new.household, fields=(
        dataclasses.replace(wish, type=FieldType.TEXT, values=()),)))
    refused = diff_plans(old, typed, [], working_calendar(), dt.date(2020, 6, 20)).refusals
    assert [str(r) for r in refused] == [
        "household.fields[0].type 农户信息“改厕意愿”已按选项导入，不能改为文本；请另起一个字段（key）"]


@pytest.mark.parametrize("seed_plan", ["seed-003-shaoyun-2022.yaml", "seed-004-anhui-2019.yaml"])
def test_the_synthetic_register_fills_the_plans_facts_and_each_own_rule_fires(
        seed_plan: str) -> None:
    from collections import Counter
    from pathlib import Path

    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.synth import generate_for_plan, household_headers, iter_household_rows

    plan = load_plan_file(Path(__file__).resolve().parents[2] / "plans" / seed_plan)
    county = generate_for_plan(plan, "township", 2022)
    fields = {f.key: f for f in plan.household.fields}
    for h in county.households:
        for key, value in h.plan_facts.items():
            f = fields[key]
            if f.type is FieldType.CHOICE:
                chosen = value if isinstance(value, tuple) else (value,)
                assert set(chosen) <= set(f.values), (key, value)
    fired = Counter(d.rule for h in county.households
                    for d in detect(h, plan.detection, plan.household.fields,
                                    day=plan.stages[1].start))
    own = [r.code for r in plan.detection.rules if r.when]
    # Each of the plan's own rules fires, on a few percent of the register at most.
    assert all(0 < fired[code] <= 0.06 * len(county.households) for code in own), fired
    # The register's sheet carries the plan's columns, by label.
    row = next(iter_household_rows(county))
    assert tuple(row) == household_headers(county)
    assert household_headers(county)[-len(fields):] == tuple(f.label for f in fields.values())
