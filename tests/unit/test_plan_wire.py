"""parse_plan validation (wire format), encode_plan round trip, lint_plan, the ten-mistakes plan."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from duban.adapters.plan.codec import encode_plan
from duban.adapters.plan.wire import parse_plan
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.errors import DubanError
from duban.domain.plan import (
    OWN_TOWN,
    OWN_VILLAGE,
    Audience,
    DeadlineBasis,
    OfficeLevel,
    PenaltyBasis,
    RungAction,
    StageKind,
)
from duban.domain.plan_check import PlanError, PlanInvalid, lint_plan

PLANS = Path(__file__).resolve().parents[2] / "plans"
TEN_MISTAKES = Path(__file__).resolve().parents[1] / "data" / "plans" / "ten-mistakes.yaml"


def base() -> dict[str, Any]:
    """A small valid plan touching every section; tests break one thing at a time."""
    return {
        "name": "测试乡整改行动",
        "issuer": "测试乡人民政府",
        "document_number": "测试发〔2020〕1号",
        "notice_prefix": "测试督",
        "county_office": "lgo",
        "stages": [
            {"kind": "investigate", "name": "排查", "start": "2020-06-15", "end": "2020-06-28"},
            {"kind": "rectify", "name": "整改", "start": "2020-06-29", "end": "2020-07-12"},
        ],
        "towns": [
            {"code": "t1", "name": "甲乡", "villages": [{"code": "v1", "name": "一村"}, "二村"]},
            {"code": "t2", "name": "乙乡", "villages": ["三村"]},
        ],
        "offices": [
            {"code": "lgo", "name": "领导小组办公室", "level": "county"},
            {"code": "jhb", "name": "乡建环办", "level": "town", "town": "t1"},
            {"code": "fpb", "name": "乡扶贫办", "level": "town", "town": "甲乡"},
            {"code": "yfp", "name": "乙乡扶贫办", "level": "town", "town": "t2"},
        ],
        "categories": [
            {"code": "housing", "name": "住房安全", "group": "三保障"},
            {"code": "medical", "name": "基本医疗"},
        ],
        "sources": [{"code": "visit", "name": "入户排查"}, {"code": "audit", "name": "审计"}],
        "routing": [
            {"categories": ["housing"], "office": "乡建环办", "co_offices": [OWN_VILLAGE]},
            {"office": "fpb"},
        ],
        "deadlines": {
            "tiers": [
                {"code": "now", "name": "立查立改", "working_days": 1},
                {"code": "july", "name": "7月10日", "date": "2020-07-10"},
            ],
            "rules": [
                {"categories": ["housing"], "date": "2020-06-30"},
                {"sources": ["audit"], "tier": "7月10日"},
                {"working_days": 5},
            ],
        },
        "review": {
            "groups": [{"code": "g1", "name": "第一督查组", "towns": ["甲乡"]}],
            "quota": {"closed_problems": 5, "households": 10, "villages": 1},
        },
        "reminders": {
            "rungs": [
                {"code": "r1", "name": "提醒", "action": "提醒", "share_left": 0.3},
                {"code": "r2", "name": "到期提醒", "action": "due", "offset": 0},
                {"code": "r3", "name": "督办", "action": "督办", "offset": 3, "colour": "黄"},
            ]
        },
        "penalties": [
            {
                "code": "p1",
                "name": "危房",
                "amount_yuan": 2000,
                "basis": "户",
                "categories": ["housing"],
            },
            {"code": "p2", "name": "一般", "amount_yuan": 500},
        ],
        "ranking": {"commend_top": 3, "name_bottom": 1, "by": "乡镇"},
        "reports": {"daily_at": "17:00", "monthly_day": 1},
        "detection": {
            "monitoring_line_yuan": 6900,
            "source": "入户排查",
            "rules": [{"code": "unsafe_house", "category": "住房安全"}],
        },
    }


def errors_of(data: dict[str, Any]) -> list[PlanError]:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(data)
    return list(caught.value.errors)


def only_error(data: dict[str, Any]) -> PlanError:
    errors = errors_of(data)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def assert_only(data: dict[str, Any], path: str, message_part: str) -> None:
    error = only_error(data)
    assert error.path == path, str(error)
    assert message_part in error.message, str(error)


# ---------------------------------------------------------------------------------------------
# The valid base plan


def test_base_plan_parses_and_resolves_names_to_codes() -> None:
    plan = parse_plan(base())
    assert plan.county_office == "lgo"
    assert plan.routing[0].office == "jhb"  # given by name
    assert plan.routing[0].co_offices == (OWN_VILLAGE,)
    assert plan.offices[2].town == "t1"  # given by town name
    assert plan.towns[0].villages[1].code == "二村"  # a bare string is its own code
    assert plan.deadlines.rules[1].tier == "july"  # tier given by name
    assert plan.detection.source == "visit"
    assert plan.detection.rules[0].category == "housing"
    assert plan.reminders.rungs[0].action is RungAction.REMIND
    assert plan.reminders.rungs[2].colour == "yellow"
    assert plan.penalties[0].basis is PenaltyBasis.HOUSEHOLD
    assert plan.ranking.by == "town"
    assert plan.review.groups[0].towns == ("t1",)
    assert plan.categories[0].group == "三保障"
    assert plan.stages[0].start == dt.date(2020, 6, 15)


def test_optional_sections_take_dataclass_defaults() -> None:
    data = base()
    for key in ("deadlines", "review", "reminders", "penalties", "ranking", "reports", "detection"):
        del data[key]
    plan = parse_plan(data)
    assert plan.deadlines.default_working_days == 10
    assert plan.reminders.rungs == ()
    assert plan.reminders.work_start == dt.time(8, 30)
    assert plan.reports.daily_at == dt.time(17, 0)
    assert plan.detection.monitoring_line_yuan == 6900
    assert plan.document_number == "测试发〔2020〕1号"


# ---------------------------------------------------------------------------------------------
# Required fields, unknown fields and types


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "issuer",
        "notice_prefix",
        "county_office",
        "stages",
        "towns",
        "offices",
        "categories",
        "sources",
        "routing",
    ],
)
def test_missing_required_top_level_field(key: str) -> None:
    data = base()
    del data[key]
    errors = errors_of(data)
    assert any(e.path == key and e.message == "缺少（必填）" for e in errors), errors


def test_document_number_is_optional() -> None:
    data = base()
    del data["document_number"]
    assert parse_plan(data).document_number == ""


def test_unknown_field_is_reported_with_a_guess() -> None:
    data = base()
    data["routing"][1]["offce"] = "fpb"
    assert_only(data, "routing[1].offce", "未知字段（是否想写 office？）")


def test_non_mapping_top_level() -> None:
    errors = errors_of(["a", "b"])  # type: ignore[arg-type]
    assert errors[0].path == "（顶层）"
    assert "应为映射" in errors[0].message


@pytest.mark.parametrize("key", ["stages", "towns", "offices", "categories", "sources", "routing"])
def test_required_list_may_not_be_empty(key: str) -> None:
    data = base()
    data[key] = []
    assert any(e.path == key and e.message == "不能为空" for e in errors_of(data))


def test_wrong_types_are_named() -> None:
    data = base()
    data["name"] = 12
    data["stages"] = {"kind": "rectify"}
    data["offices"][1] = "乡建环办"
    errors = {e.path: e.message for e in errors_of(data)}
    assert errors["name"] == "应为文本，实际是数字 12"
    assert errors["stages"] == "应为列表，实际是映射"
    assert errors["offices[1]"].startswith("应为映射")


def test_numeric_code_gets_a_quoting_hint() -> None:
    data = base()
    data["categories"][1]["code"] = 1
    error = only_error(data)
    assert error.path == "categories[1].code"
    assert "加引号" in error.message


def test_code_with_space_is_rejected() -> None:
    data = base()
    data["categories"][1]["code"] = "med ical"
    assert_only(data, "categories[1].code", "不能含空格")


def test_boolean_is_not_a_number() -> None:
    data = base()
    data["penalties"][1]["amount_yuan"] = True
    assert_only(data, "penalties[1].amount_yuan", "应为整数，实际是布尔值")


def test_scope_is_only_for_yaml_files() -> None:
    data = base()
    data["scope"] = {"file": "towns.csv"}
    assert_only(data, "scope", "load_plan_file")


def test_every_error_is_collected_at_once() -> None:
    data = base()
    data["stages"][0]["end"] = "2020-06-01"
    data["routing"][0]["office"] = "乡建设办"
    data["penalties"][0]["amount_yuan"] = 0
    paths = [e.path for e in errors_of(data)]
    assert paths == ["stages[0].end", "routing[0].office", "penalties[0].amount_yuan"]


def test_plan_invalid_is_a_duban_error_with_a_chinese_message() -> None:
    data = base()
    data["stages"][1]["end"] = "2020-06-01"
    with pytest.raises(DubanError) as caught:
        parse_plan(data)
    assert isinstance(caught.value, PlanInvalid)
    assert caught.value.message.startswith("方案有1处错误")
    assert "stages[1].end 早于 start" in caught.value.message


# ---------------------------------------------------------------------------------------------
# Stages and dates


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("mobilise", StageKind.MOBILISE),
        ("动员", StageKind.MOBILISE),
        ("investigate", StageKind.INVESTIGATE),
        ("排查", StageKind.INVESTIGATE),
        ("整改", StageKind.RECTIFY),
        ("review", StageKind.REVIEW),
        ("复核提升", StageKind.REVIEW),
        ("复核", StageKind.REVIEW),
        ("提升", StageKind.REVIEW),
        ("迎检", StageKind.REVIEW),
    ],
)
def test_stage_kind_aliases(kind: str, expected: StageKind) -> None:
    data = base()
    data["stages"].append({"kind": kind, "start": "2020-07-13", "end": "2020-07-20"})
    assert parse_plan(data).stages[2].kind is expected


def test_stage_name_defaults_to_the_kind_label() -> None:
    data = base()
    data["stages"].append({"kind": "迎检", "start": "2020-07-13", "end": "2020-07-20"})
    assert parse_plan(data).stages[2].name == "复核提升"


def test_unknown_stage_kind() -> None:
    data = base()
    data["stages"][0]["kind"] = "验收"
    assert_only(data, "stages[0].kind", "取值不认识：验收")


def test_end_before_start() -> None:
    data = base()
    data["stages"][1]["end"] = "2020-06-01"
    assert_only(data, "stages[1].end", "早于 start")
    assert str(only_error(data)) == "stages[1].end 早于 start"


def test_one_day_stage_is_fine() -> None:
    data = base()
    data["stages"][0]["end"] = data["stages"][0]["start"]
    assert parse_plan(data).stages[0].start == parse_plan(data).stages[0].end


def test_a_rectify_stage_is_required() -> None:
    data = base()
    data["stages"][1]["kind"] = "review"
    assert_only(data, "stages", "整改")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-06-15", dt.date(2020, 6, 15)),
        ("2020-6-15", dt.date(2020, 6, 15)),
        ("2020/6/15", dt.date(2020, 6, 15)),
        ("2020年6月15日", dt.date(2020, 6, 15)),
        (dt.date(2020, 6, 15), dt.date(2020, 6, 15)),
    ],
)
def test_date_forms(text: object, expected: dt.date) -> None:
    data = base()
    data["stages"][0]["start"] = text
    assert parse_plan(data).stages[0].start == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-02-30", "日期不存在"),
        ("六月十五", "应为日期"),
        (dt.datetime(2020, 6, 15, 9, 0), "不要带时间"),
        (20200615, "应为日期"),
    ],
)
def test_bad_dates(value: object, message: str) -> None:
    data = base()
    data["stages"][0]["start"] = value
    assert_only(data, "stages[0].start", message)


# ---------------------------------------------------------------------------------------------
# Towns and offices


def test_duplicate_town_code() -> None:
    data = base()
    data["towns"][1]["code"] = "t1"
    errors = errors_of(data)
    assert errors[0].path == "towns[1].code"
    assert "代码重复：t1" in errors[0].message


def test_duplicate_village_in_a_town() -> None:
    data = base()
    data["towns"][0]["villages"].append("一村")
    assert_only(data, "towns[0].villages[2].name", "名称重复：一村")


def test_same_village_name_in_two_towns_is_fine() -> None:
    data = base()
    data["towns"][1]["villages"].append({"code": "v1", "name": "一村"})
    assert parse_plan(data).towns[1].villages[1].code == "v1"


def test_duplicate_office_code() -> None:
    data = base()
    data["offices"].append({"code": "jhb", "name": "乡建设办", "level": "town", "town": "t1"})
    assert_only(data, "offices[4].code", "代码重复：jhb（offices[1] 已使用）")


def test_duplicate_office_name() -> None:
    data = base()
    data["offices"].append({"code": "jhb2", "name": "乡建环办", "level": "town", "town": "t1"})
    assert_only(data, "offices[4].name", "名称重复：乡建环办")


def test_office_code_clashing_with_another_name() -> None:
    data = base()
    data["offices"].append({"code": "乡扶贫办", "name": "别的办", "level": "town", "town": "t1"})
    assert_only(data, "offices[4].code", "代码与另一办室的名称相同")


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("县直部门", OfficeLevel.COUNTY),
        ("县级", OfficeLevel.COUNTY),
        ("乡镇办室", OfficeLevel.TOWN),
        ("town", OfficeLevel.TOWN),
        ("村", OfficeLevel.VILLAGE),
    ],
)
def test_office_level_aliases(level: str, expected: OfficeLevel) -> None:
    data = base()
    office = {"code": "x", "name": "某办", "level": level}
    if expected is not OfficeLevel.COUNTY:
        office["town"] = "t1"
    data["offices"].append(office)
    assert parse_plan(data).offices[4].level is expected


def test_unknown_office_level() -> None:
    data = base()
    data["offices"][1]["level"] = "省级"
    assert_only(data, "offices[1].level", "取值不认识：省级")


def test_office_town_undefined() -> None:
    data = base()
    data["offices"][1]["town"] = "火炉镇"
    assert_only(data, "offices[1].town", "未定义: 火炉镇")


def test_county_office_may_not_belong_to_a_town() -> None:
    data = base()
    data["offices"][0]["town"] = "t1"
    assert_only(data, "offices[0].town", "请删去 town")


def test_town_office_needs_its_town_when_there_are_several() -> None:
    data = base()
    del data["offices"][1]["town"]
    assert_only(data, "offices[1].town", "缺少")


def test_town_office_defaults_to_the_only_town() -> None:
    data = base()
    data["towns"] = data["towns"][:1]
    del data["offices"][3]
    del data["offices"][1]["town"]
    assert parse_plan(data).offices[1].town == "t1"


def test_reserved_tokens_cannot_name_an_office() -> None:
    data = base()
    data["offices"].append({"code": "gc", "name": OWN_VILLAGE, "level": "town", "town": "t1"})
    assert_only(data, "offices[4]", "保留词")


def test_contacts() -> None:
    data = base()
    data["offices"][1]["contacts"] = [
        {"name": "张三", "phone": 13800000000, "email": "zs@example.cn"},
        "李四",
    ]
    office = parse_plan(data).offices[1]
    assert office.contacts[0].phone == "13800000000"
    assert office.contacts[1].name == "李四"


def test_bad_contact_phone_email_and_webhook() -> None:
    data = base()
    data["offices"][1]["contacts"] = [{"name": "张三", "phone": "电话", "email": "zs.example.cn"}]
    data["offices"][1]["webhook"] = "oapi.dingtalk.com/robot"
    paths = {e.path for e in errors_of(data)}
    assert paths == {
        "offices[1].contacts[0].phone",
        "offices[1].contacts[0].email",
        "offices[1].webhook",
    }


def test_county_office_undefined() -> None:
    data = base()
    data["county_office"] = "县委"
    assert_only(data, "county_office", "未定义: 县委")


def test_county_office_must_be_county_level() -> None:
    data = base()
    data["county_office"] = "乡扶贫办"
    assert_only(data, "county_office", "须是县级办室")


# ---------------------------------------------------------------------------------------------
# Categories, sources and routing


def test_duplicate_category_and_source_codes() -> None:
    data = base()
    data["categories"].append({"code": "housing", "name": "住房"})
    data["sources"].append({"code": "visit", "name": "走访"})
    paths = [e.path for e in errors_of(data)]
    assert paths == ["categories[2].code", "sources[2].code"]


def test_routing_office_undefined_in_the_brief_form() -> None:
    data = base()
    data["offices"][1]["name"] = "乡建环保办"
    error = only_error(data)
    assert str(error).startswith("routing[0].office 未定义: 乡建环办")
    assert "乡建环保办" in error.message  # the guess


def test_routing_accepts_office_codes_and_single_strings() -> None:
    data = base()
    data["routing"][0] = {"categories": "住房安全", "office": "jhb", "co_offices": "fpb"}
    rule = parse_plan(data).routing[0]
    assert (rule.office, rule.categories, rule.co_offices) == ("jhb", ("housing",), ("fpb",))


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("categories", ["住房"], "routing[0].categories[0]"),
        ("sources", ["巡视"], "routing[0].sources[0]"),
        ("towns", ["丙乡"], "routing[0].towns[0]"),
        ("co_offices", ["乡农服中心"], "routing[0].co_offices[0]"),
    ],
)
def test_routing_references_undefined(key: str, value: list[str], path: str) -> None:
    data = base()
    data["routing"][0][key] = value
    assert_only(data, path, f"未定义: {value[0]}")


def test_own_village_cannot_lead() -> None:
    data = base()
    data["routing"][0]["office"] = OWN_VILLAGE
    assert_only(data, "routing[0].office", "只能写在 co_offices")


def test_own_town_may_lead_with_one_town_office_per_town() -> None:
    data = base()
    data["routing"][0] = {"categories": ["housing"], "office": OWN_TOWN,
                          "co_offices": [OWN_VILLAGE]}
    error = only_error(data)  # 甲乡 has two town-level offices
    assert (error.path, error.message) == (
        "routing[0].office", "用了“各乡镇”，但乡镇 甲乡 有 2 个乡镇级办室（应恰好 1 个）")
    data["offices"][1]["level"] = "county"
    del data["offices"][1]["town"]
    plan = parse_plan(data)
    assert plan.routing[0].office == OWN_TOWN
    assert plan.routing[0].co_offices == (OWN_VILLAGE,)
    data["routing"][0]["co_offices"] = [OWN_TOWN]
    assert_only(data, "routing[0].co_offices[0]", "与牵头办室相同：各乡镇")


def test_co_office_same_as_lead_or_repeated() -> None:
    data = base()
    data["routing"][0]["co_offices"] = ["乡建环办", OWN_VILLAGE, "fpb", "乡扶贫办"]
    errors = [(e.path, e.message) for e in errors_of(data)]
    assert errors == [
        ("routing[0].co_offices[0]", "与牵头办室相同：乡建环办"),
        ("routing[0].co_offices[3]", "重复：乡扶贫办"),
    ]


def test_own_town_needs_one_town_office_per_town() -> None:
    data = base()
    data["routing"][0]["co_offices"] = [OWN_TOWN, OWN_VILLAGE]
    error = only_error(data)  # 甲乡 has two town-level offices
    assert error.path == "routing[0].co_offices"
    assert "甲乡 有 2 个乡镇级办室" in error.message
    data["offices"][1]["level"] = "county"
    del data["offices"][1]["town"]
    plan = parse_plan(data)
    assert plan.routing[0].co_offices == (OWN_TOWN, OWN_VILLAGE)
    assert plan.town_office("t1") is not None and plan.town_office("t1").code == "fpb"


# ---------------------------------------------------------------------------------------------
# Deadlines


def test_tier_needs_exactly_one_of_working_days_and_date() -> None:
    data = base()
    data["deadlines"]["tiers"][0]["date"] = "2020-07-01"
    data["deadlines"]["tiers"][1] = {"code": "july", "name": "7月10日"}
    errors = [(e.path, e.message) for e in errors_of(data)]
    assert errors == [
        ("deadlines.tiers[0]", "working_days、date 须恰好给出一个，现在给了 working_days、date"),
        ("deadlines.tiers[1]", "working_days、date 须恰好给出一个"),
    ]


def test_rule_needs_exactly_one_of_tier_date_working_days() -> None:
    data = base()
    data["deadlines"]["rules"][2] = {"categories": ["medical"]}
    assert_only(data, "deadlines.rules[2]", "tier、date、working_days 须恰好给出一个")


def test_rule_tier_and_category_undefined() -> None:
    data = base()
    data["deadlines"]["rules"][1]["tier"] = "8月底"
    data["deadlines"]["rules"][0]["categories"] = ["危房"]
    paths = [e.path for e in errors_of(data)]
    assert paths == ["deadlines.rules[0].categories[0]", "deadlines.rules[1].tier"]


def test_negative_working_days_and_zero_default() -> None:
    data = base()
    data["deadlines"]["tiers"][0]["working_days"] = -1
    data["deadlines"]["default_working_days"] = 0
    paths = {e.path for e in errors_of(data)}
    assert paths == {"deadlines.tiers[0].working_days", "deadlines.default_working_days"}


def test_deadline_basis_found_by_default_routed_or_signed() -> None:
    assert parse_plan(base()).deadlines.basis is DeadlineBasis.FOUND
    for word, basis in (("routed", DeadlineBasis.ROUTED), ("交办之日", DeadlineBasis.ROUTED),
                        ("发现", DeadlineBasis.FOUND), ("signed", DeadlineBasis.SIGNED),
                        ("签收", DeadlineBasis.SIGNED), ("签收之日", DeadlineBasis.SIGNED)):
        data = base()
        data["deadlines"]["basis"] = word
        assert parse_plan(data).deadlines.basis is basis
    data = base()
    data["deadlines"]["basis"] = "收到"
    assert_only(data, "deadlines.basis", "取值不认识：收到（可用：found、发现、发现之日、routed、"
                "交办、交办之日、signed、签收、签收之日）")


def test_deemed_signed_after_working_days() -> None:
    data = base()
    data["deadlines"]["basis"] = "signed"
    assert parse_plan(data).deadlines.deemed_signed_after_working_days == 3
    data["deadlines"]["deemed_signed_after_working_days"] = 2
    assert parse_plan(data).deadlines.deemed_signed_after_working_days == 2
    data["deadlines"]["deemed_signed_after_working_days"] = 0
    assert_only(data, "deadlines.deemed_signed_after_working_days", "应为正整数")


def test_rules_narrowed_to_stages_or_dates_found() -> None:
    data = base()
    data["deadlines"]["rules"][1:1] = [
        {"stages": ["整改", "investigate"], "working_days": 2},
        {"found_between": ["2020-07-01", "2020年7月12日"], "working_days": 3},
    ]
    rules = parse_plan(data).deadlines.rules
    assert (rules[1].stages, rules[1].working_days) == (("整改", "排查"), 2)
    assert (rules[2].found_from, rules[2].found_to) == (dt.date(2020, 7, 1), dt.date(2020, 7, 12))
    assert rules[0].stages == () and rules[0].found_from is None


@pytest.mark.parametrize(
    ("rule", "path", "message"),
    [
        ({"stages": ["迎检阶段"], "working_days": 2}, "deadlines.rules[0].stages[0]",
         "未定义的阶段：迎检阶段（方案的阶段：排查、整改）"),
        ({"found_between": "2020-07-01", "working_days": 2}, "deadlines.rules[0].found_between",
         "应为两个日期的列表，如 [2022-10-16, 2022-12-31]，实际是文本"),
        ({"found_between": ["2020-07-12", "2020-07-01"], "working_days": 2},
         "deadlines.rules[0].found_between", "结束日期 2020-07-01 早于开始日期 2020-07-12"),
        ({"found_between": ["2020-07-01", "七月"], "working_days": 2},
         "deadlines.rules[0].found_between[1]", "应为日期（如 2020-06-15），实际是文本"),
    ],
)
def test_narrowed_rule_mistakes(rule: dict[str, Any], path: str, message: str) -> None:
    data = base()
    data["deadlines"]["rules"][0] = rule
    error = only_error(data)
    assert error.path == path, str(error)
    assert message in error.message, str(error)


def test_fixed_deadline_before_the_campaign_starts() -> None:
    data = base()
    data["deadlines"]["rules"][0]["date"] = "2020-06-01"
    assert_only(data, "deadlines.rules[0].date", "早于行动开始日期 2020-06-15")


def test_duplicate_tier_code() -> None:
    data = base()
    data["deadlines"]["tiers"][1]["code"] = "now"
    assert_only(data, "deadlines.tiers[1].code", "代码重复：now")


# ---------------------------------------------------------------------------------------------
# Review


def test_review_group_town_undefined_and_negative_quota() -> None:
    data = base()
    data["review"]["groups"][0]["towns"] = ["丙乡"]
    data["review"]["quota"]["households"] = -1
    data["review"]["rectify_days_after_failed_review"] = 0
    paths = [e.path for e in errors_of(data)]
    assert paths == [
        "review.groups[0].towns[0]",
        "review.quota.households",
        "review.rectify_days_after_failed_review",
    ]


def test_town_liaison_is_an_office_reference() -> None:
    data = base()
    data["towns"][0]["liaison"] = "领导小组办公室"
    plan = parse_plan(data)
    assert (plan.towns[0].liaison, plan.towns[1].liaison) == ("lgo", "")
    data["towns"][1]["liaison"] = "县住建局"
    assert_only(data, "towns[1].liaison", "未定义: 县住建局")


def test_further_household_draws_and_villages_without_households() -> None:
    data = base()
    data["review"]["quota"]["more_households"] = [
        {"code": "team", "name": "专班排查入户", "households": 5}]
    data["review"]["quota"]["villages_without_households"] = True
    quota = parse_plan(data).review.quota
    assert [(d.code, d.name, d.households) for d in quota.more_households] == [
        ("team", "专班排查入户", 5)]
    assert quota.villages_without_households
    assert parse_plan(base()).review.quota.more_households == ()
    assert not parse_plan(base()).review.quota.villages_without_households


def test_further_household_draw_mistakes() -> None:
    data = base()
    data["review"]["quota"]["more_households"] = [
        {"code": "team", "name": "专班排查入户", "households": 0},
        {"code": "team", "name": "人居环境"},
    ]
    data["review"]["quota"]["villages_without_households"] = "是"
    errors = [(e.path, e.message) for e in errors_of(data)]
    assert [p for p, _ in errors] == [
        "review.quota.more_households[0].households",
        "review.quota.more_households[1].households",
        "review.quota.more_households[1].code",
        "review.quota.villages_without_households",
    ], errors
    assert "代码重复：team" in errors[2][1]


def test_reviewer_level_alias() -> None:
    data = base()
    data["review"]["reviewer_level"] = "乡镇"
    assert parse_plan(data).review.reviewer_level is OfficeLevel.TOWN


# ---------------------------------------------------------------------------------------------
# Reminders


def test_rung_needs_exactly_one_of_offset_and_share() -> None:
    data = base()
    data["reminders"]["rungs"][1]["share_left"] = 0.1
    del data["reminders"]["rungs"][2]["offset"]
    paths = [e.path for e in errors_of(data)]
    assert paths == ["reminders.rungs[1]", "reminders.rungs[2]"]


@pytest.mark.parametrize("share", [0, 1, 1.5, -0.2])
def test_share_must_lie_strictly_between_0_and_1(share: float) -> None:
    data = base()
    data["reminders"]["rungs"][0]["share_left"] = share
    assert_only(data, "reminders.rungs[0].share_left", "应在 0 与 1 之间")


def test_share_must_be_a_number() -> None:
    data = base()
    data["reminders"]["rungs"][0]["share_left"] = "30%"
    assert_only(data, "reminders.rungs[0].share_left", "应为 0 与 1 之间的小数")


def test_rungs_are_in_time_order() -> None:
    data = base()
    data["reminders"]["rungs"][2]["offset"] = 0
    assert_only(data, "reminders.rungs[2].offset", "应晚于上一级（0）")
    data = base()
    data["reminders"]["rungs"].insert(
        1, {"code": "r0", "name": "早提醒", "action": "提醒", "share_left": 0.5}
    )
    assert_only(data, "reminders.rungs[1].share_left", "应小于上一级（0.3）")


def test_rung_enumerations() -> None:
    data = base()
    rung = data["reminders"]["rungs"][2]
    rung["audience"] = ["办室负责人", "县级", "county"]
    rung["action"] = "通报"
    rung["colour"] = "红色"
    parsed = parse_plan(data).reminders.rungs[2]
    assert parsed.audience == (Audience.OFFICE_HEAD, Audience.COUNTY)
    assert parsed.action is RungAction.BULLETIN
    assert parsed.colour == "red"
    rung["audience"] = ["乡长"]
    rung["action"] = "警告"
    rung["colour"] = "蓝"
    paths = [e.path for e in errors_of(data)]
    assert paths == [
        "reminders.rungs[2].audience[0]",
        "reminders.rungs[2].action",
        "reminders.rungs[2].colour",
    ]


def test_duplicate_rung_code() -> None:
    data = base()
    data["reminders"]["rungs"][1]["code"] = "r1"
    assert_only(data, "reminders.rungs[1].code", "代码重复：r1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("8:00", dt.time(8, 0)), ("08:00:30", dt.time(8, 0, 30)), (dt.time(7, 45), dt.time(7, 45))],
)
def test_time_forms(value: object, expected: dt.time) -> None:
    data = base()
    data["reminders"]["work_start"] = value
    assert parse_plan(data).reminders.work_start == expected


@pytest.mark.parametrize(("value", "message"), [("25:00", "时间不对"), (1050, "请加引号")])
def test_bad_times(value: object, message: str) -> None:
    data = base()
    data["reports"]["daily_at"] = value
    assert_only(data, "reports.daily_at", message)


def test_work_end_after_start() -> None:
    data = base()
    data["reminders"]["work_start"] = "18:00"
    assert_only(data, "reminders.work_end", "应晚于 work_start")


# ---------------------------------------------------------------------------------------------
# Penalties, ranking, reports, detection


@pytest.mark.parametrize("amount", [0, -500])
def test_penalty_must_be_positive(amount: int) -> None:
    data = base()
    data["penalties"][1]["amount_yuan"] = amount
    assert_only(data, "penalties[1].amount_yuan", "应为正整数")


def test_penalty_basis_and_categories() -> None:
    data = base()
    data["penalties"][0]["basis"] = "人"
    data["penalties"][0]["categories"] = ["危房"]
    paths = [e.path for e in errors_of(data)]
    assert paths == ["penalties[0].categories[0]", "penalties[0].basis"]


def test_one_penalty_per_category_and_one_catch_all() -> None:
    data = base()
    data["penalties"].append({"code": "p3", "name": "又一条", "amount_yuan": 100})
    data["penalties"].append(
        {"code": "p4", "name": "住房又一条", "amount_yuan": 100, "categories": ["housing"]}
    )
    errors = [(e.path, e.message) for e in errors_of(data)]
    assert errors[0][0] == "penalties[2]" and "不限类别的罚则已由 penalties[1]" in errors[0][1]
    assert errors[1][0] == "penalties[3]" and "类别 housing已由 penalties[0]" in errors[1][1]


def test_ranking_and_reports_bounds() -> None:
    data = base()
    data["ranking"] = {"commend_top": -1, "by": "村"}
    data["reports"]["monthly_day"] = 31
    paths = [e.path for e in errors_of(data)]
    assert paths == ["ranking.commend_top", "ranking.by", "reports.monthly_day"]


def test_detection_rule_codes() -> None:
    data = base()
    rules = data["detection"]["rules"]
    rules.append({"code": "no_electricity", "category": "housing"})
    rules.append({"code": "unsafe_house", "category": "housing"})
    rules.append({"code": "no_tap_water", "category": "饮水"})
    errors = [(e.path, e.message) for e in errors_of(data)]
    assert [p for p, _ in errors] == [
        "detection.rules[1].code",
        "detection.rules[2].code",
        "detection.rules[3].category",
    ]
    assert errors[0][1].startswith("未知的发现规则：no_electricity")
    assert "income_below_line" in errors[0][1]


def test_every_known_detection_rule_is_accepted() -> None:
    data = base()
    codes = [
        "income_below_line",
        "unsafe_house",
        "no_tap_water",
        "child_out_of_school",
        "no_medical_insurance",
        "no_sanitary_toilet",
    ]
    data["detection"]["rules"] = [{"code": c, "category": "housing"} for c in codes]
    assert [r.code for r in parse_plan(data).detection.rules] == codes


def test_detection_source_required_with_rules_and_must_exist() -> None:
    data = base()
    del data["detection"]["source"]
    assert_only(data, "detection.source", "缺少")
    data["detection"]["source"] = "巡视"
    assert_only(data, "detection.source", "未定义: 巡视")


def test_monitoring_line_positive() -> None:
    data = base()
    data["detection"]["monitoring_line_yuan"] = 0
    assert_only(data, "detection.monitoring_line_yuan", "应为正整数")


# ---------------------------------------------------------------------------------------------
# Round trip and lint


def test_round_trip_of_the_base_plan() -> None:
    plan = parse_plan(base())
    data = encode_plan(plan)
    assert json.loads(json.dumps(data)) == data  # JSON-serialisable as it stands
    assert data["stages"][0]["start"] == "2020-06-15"
    assert data["reports"]["daily_at"] == "17:00"
    assert parse_plan(data) == plan


@pytest.mark.parametrize(
    "name", ["seed-000-canggou-2020.yaml", "seed-002-shenqiu.yaml", "seed-003-shaoyun-2022.yaml"]
)
def test_round_trip_of_the_seed_plans(name: str) -> None:
    plan = load_plan_file(PLANS / name)
    data = encode_plan(plan)
    assert parse_plan(copy.deepcopy(json.loads(json.dumps(data)))) == plan


def test_lint_finds_uncovered_categories_shadowed_rules_and_late_dates() -> None:
    data = base()
    data["routing"] = [
        {"office": "fpb", "sources": ["visit"]},
        {"office": "jhb", "sources": ["visit"], "categories": ["housing"]},
    ]
    data["deadlines"]["rules"].append({"categories": ["housing"], "working_days": 3})
    data["deadlines"]["tiers"][1]["date"] = "2020-08-31"
    remarks = [(r.path, r.message) for r in lint_plan(parse_plan(data))]
    paths = [p for p, _ in remarks]
    assert paths == [
        "routing",
        "routing",
        "routing[1]",
        "deadlines.rules[3]",
        "deadlines.tiers[1].date",
    ]
    assert "类别“住房安全”来自审计的问题没有匹配的路由规则" in remarks[0][1]
    assert "routing[0] 已先匹配" in remarks[2][1]


def test_lint_is_quiet_for_the_base_plan() -> None:
    assert lint_plan(parse_plan(base())) == ()


# ---------------------------------------------------------------------------------------------
# The ten-mistakes plan


def test_ten_mistakes_plan_reports_all_ten_with_paths_and_lines() -> None:
    text = TEN_MISTAKES.read_text(encoding="utf-8")
    marked = {
        int(m.group(1)): number
        for number, line in enumerate(text.splitlines(), 1)
        if (m := re.search(r"MISTAKE (\d+)", line))
    }
    assert sorted(marked) == list(range(1, 11))
    with pytest.raises(PlanInvalid) as caught:
        load_plan_file(TEN_MISTAKES)
    errors = caught.value.errors
    assert len(errors) == 10, caught.value.message
    expected = {
        1: ("stages[1].end", "早于 start"),
        2: ("stages[2].kind", "取值不认识：验收"),
        3: ("offices[2].town", "未定义: 火炉镇"),
        4: ("offices[3].code", "代码重复：jhb"),
        5: ("routing[1].office", "未定义: 乡建环办"),
        6: ("deadlines.tiers[0]", "须恰好给出一个"),
        7: ("reminders.rungs[0].share_left", "应在 0 与 1 之间"),
        8: ("penalties[0].amount_yuan", "应为正整数"),
        9: ("detection.rules[1].code", "未知的发现规则：no_electricity"),
        10: ("county_office", "须是县级办室"),
    }
    by_path = {e.path: e for e in errors}
    for n, (path, message) in expected.items():
        assert path in by_path, f"mistake {n} ({path}) not reported: {caught.value.message}"
        assert message in by_path[path].message
        assert by_path[path].line == marked[n], f"mistake {n} on the wrong line"
    assert caught.value.message.startswith("方案有10处错误")
