"""Recurring duties and milestones in the plan: parsing, errors, the occurrence calculator."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from duban.adapters.plan.codec import decode_plan, encode_plan
from duban.adapters.plan.wire import parse_plan
from duban.domain.deadlines import compute_deadline, milestones_for
from duban.domain.duties import (
    DutyUnit,
    due_on,
    duty_units,
    occurrences,
    opened_by,
    recurrence_text,
)
from duban.domain.plan import Milestone, Recurrence
from duban.domain.plan_check import PlanInvalid, lint_plan
from tests.unit.test_plan_wire import base
from tests.unit.test_reminders import FakeCalendar

D = dt.date
CAL = FakeCalendar()


def with_duties(*duties: dict[str, Any]) -> dict[str, Any]:
    data = base()
    # One town-level office per town, as 各乡镇 and 各村 need.
    data["offices"] = [o for o in data["offices"] if o["code"] != "jhb"]
    data["routing"][0]["office"] = "fpb"
    data["duties"] = list(duties)
    return data


def errors_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(data)
    return [str(e) for e in caught.value.errors]


def test_duties_parse_with_aliases_and_round_trip_the_stored_form() -> None:
    plan = parse_plan(with_duties(
        {"name": "帮扶责任人走访", "units": "各村", "every": "每周", "weekday": "周五"},
        {"code": "meet", "name": "每晚会商", "units": ["乡扶贫办"], "every": "每晚",
         "within_working_days": 1},
        {"name": "监测联系人走访", "units": ["各乡镇"], "every": "monthly", "day": 25,
         "working_days": True},
        {"name": "综合报告", "units": ["lgo"], "every": "一次", "date": "2020-07-10"},
    ))
    weekly, nightly, monthly, once = plan.duties
    assert weekly.code == "帮扶责任人走访" and weekly.units == ("各村",)
    assert weekly.recurrence is Recurrence.WEEKLY and weekly.weekday == 5
    assert nightly.units == ("fpb",) and nightly.within_working_days == 1
    assert monthly.day == 25 and monthly.working_days
    assert once.date == D(2020, 7, 10) and once.recurrence is Recurrence.ONCE
    stored = json.loads(json.dumps(encode_plan(plan), ensure_ascii=False))
    back = decode_plan(stored)
    assert back == plan and back.duties[0].recurrence is Recurrence.WEEKLY
    # The stored form is wire format too (`every`), and a duty stored as `recurrence` still reads.
    assert stored["duties"][0]["every"] == "weekly" and parse_plan(stored) == plan
    stored["duties"][0]["recurrence"] = stored["duties"][0].pop("every")
    assert decode_plan(stored) == plan
    assert recurrence_text(weekly) == "每周五"
    assert recurrence_text(monthly) == "每月25日（工作日）"
    assert recurrence_text(nightly) == "每天，1个工作日内报送"
    assert recurrence_text(once) == "2020-07-10前"


def test_duty_mistakes_are_named_in_chinese() -> None:
    found = errors_of(with_duties(
        {"name": "走访", "units": ["乡建环保办"], "every": "每周"},
        {"name": "会商", "units": ["fpb"], "every": "每年"},
        {"name": "报告", "units": ["fpb"], "every": "每月", "day": 40, "weekday": 5},
        {"name": "总结", "units": [], "every": "一次", "date": "2020-07-01",
         "start": "2020-07-05", "end": "2020-07-01"},
        {"name": "走访", "units": ["fpb", "乡扶贫办"], "every": "每天", "offce": 1},
    ))
    assert "duties[0].units[0] 未定义: 乡建环保办" in found[0]
    assert "duties[0].weekday 缺少（每周 的工作须写明 weekday）" in found
    assert any(e.startswith("duties[1].every 取值不认识：每年") for e in found)
    assert "duties[2].weekday 与 every: 每月 不符，请删去" in found
    assert "duties[2].day 不能大于 31，实际是 40" in found
    assert "duties[3].units 不能为空" in found
    assert "duties[3].end 早于 start" in found
    assert "duties[4].code 代码重复：走访（duties[0] 已使用）" in found
    assert "duties[4].units[1] 重复：乡扶贫办" in found
    assert "duties[4].offce 未知字段" in found


def test_each_town_needs_one_town_office_for_a_duty_of_each_village() -> None:
    data = base()
    data["duties"] = [{"name": "走访", "units": ["各村"], "every": "每天"}]
    assert any(e.startswith("duties[0].units 用了“各乡镇”，但乡镇 甲乡 有 2 个乡镇级办室")
               for e in errors_of(data))


def test_a_once_duty_outside_the_campaign_is_remarked() -> None:
    plan = parse_plan(with_duties({"name": "总结", "units": ["lgo"], "every": "一次",
                                   "date": "2020-12-25"}))
    assert [str(r) for r in lint_plan(plan) if r.path.startswith("duties")] == [
        "duties[0].date 不在行动期间（2020-06-15 至 2020-07-12）内"]


# --- the occurrence calculator ----------------------------------------------------------


def test_weekly_friday_occurrences_cover_a_week_each_and_move_off_holidays() -> None:
    plan = parse_plan(with_duties(
        {"name": "走访", "units": ["fpb"], "every": "每周", "weekday": 5,
         "start": "2020-06-15", "end": "2020-07-12", "working_days": True}))
    occ = occurrences(plan.duties[0], plan, CAL)
    # 6/26 is the 端午 holiday Friday: moved to the next working day, the 调休 Sunday 6/28.
    assert [o.day for o in occ] == [D(2020, 6, 19), D(2020, 6, 28), D(2020, 7, 3),
                                    D(2020, 7, 10)]
    assert [o.opens_on for o in occ] == [D(2020, 6, 15), D(2020, 6, 20), D(2020, 6, 29),
                                         D(2020, 7, 4)]
    assert all(o.due_on == o.day for o in occ)
    assert [o.day for o in opened_by(plan.duties[0], plan, CAL, D(2020, 6, 20))] == [
        D(2020, 6, 19), D(2020, 6, 28)]
    assert due_on(plan.duties[0], plan, CAL, D(2020, 7, 3))[0].opens_on == D(2020, 6, 29)


def test_daily_on_working_days_skips_rest_days_and_due_next_working_day() -> None:
    plan = parse_plan(with_duties(
        {"name": "会商", "units": ["fpb"], "every": "每天", "working_days": True,
         "start": "2020-06-24", "end": "2020-06-29", "within_working_days": 1}))
    occ = occurrences(plan.duties[0], plan, CAL)
    assert [o.day for o in occ] == [D(2020, 6, 24), D(2020, 6, 28), D(2020, 6, 29)]
    # The evening 会商 of 6/24 is reported the next working day, 6/28 (端午 in between).
    assert [o.due_on for o in occ] == [D(2020, 6, 28), D(2020, 6, 29), D(2020, 6, 30)]
    # Each period opens the day after the one before (the 6/28 meeting's opens in the holiday).
    assert [o.opens_on for o in occ] == [D(2020, 6, 24), D(2020, 6, 25), D(2020, 6, 29)]
    plain = parse_plan(with_duties(
        {"name": "会商", "units": ["fpb"], "every": "每天",
         "start": "2020-06-24", "end": "2020-06-29"}))
    assert len(occurrences(plain.duties[0], plain, CAL)) == 6


def test_monthly_on_a_day_a_short_month_lacks_uses_its_last_day() -> None:
    data = with_duties({"name": "月走访", "units": ["各乡镇"], "every": "每月", "day": 31})
    data["stages"][1]["end"] = "2020-09-30"
    plan = parse_plan(data)
    assert [o.day for o in occurrences(plan.duties[0], plan, CAL)] == [
        D(2020, 6, 30), D(2020, 7, 31), D(2020, 8, 31), D(2020, 9, 30)]


def test_a_once_duty_opens_with_the_campaign_and_falls_due_on_its_date() -> None:
    plan = parse_plan(with_duties({"name": "综合报告", "units": ["lgo"], "every": "一次",
                                   "date": "2020-07-10"}))
    (occ,) = occurrences(plan.duties[0], plan, CAL)
    assert (occ.opens_on, occ.day, occ.due_on) == (D(2020, 6, 15), D(2020, 7, 10),
                                                   D(2020, 7, 10))
    assert opened_by(plan.duties[0], plan, CAL, D(2020, 6, 14)) == []


def test_units_expand_each_town_and_each_village_to_the_town_office() -> None:
    plan = parse_plan(with_duties(
        {"name": "走访", "units": ["各村", "lgo"], "every": "每天"},
        {"name": "会商", "units": ["各乡镇", "fpb"], "every": "每天"},
    ))
    assert duty_units(plan.duties[0], plan) == [
        DutyUnit("fpb", "t1", "v1"), DutyUnit("fpb", "t1", "二村"), DutyUnit("yfp", "t2", "三村"),
        DutyUnit("lgo", "", "")]
    # 乡扶贫办 is 甲乡's town office: named twice, it answers once.
    assert duty_units(plan.duties[1], plan) == [DutyUnit("fpb", "t1"), DutyUnit("yfp", "t2")]


# --- milestones ----------------------------------------------------------------------------


def with_milestones(*stones: dict[str, Any], **rule: Any) -> dict[str, Any]:
    data = base()
    data["deadlines"]["rules"].insert(0, {"categories": ["基本医疗"], "milestones": list(stones),
                                          **rule})
    return data


def test_a_rule_gives_milestones_and_its_deadline_is_the_last() -> None:
    plan = parse_plan(with_milestones({"name": "开工", "date": "2020-06-20"},
                                      {"name": "完工", "date": "2020-07-10"}))
    found = D(2020, 6, 16)
    stones = milestones_for(plan.deadlines, category="medical", source="visit", found_on=found)
    assert stones == (Milestone("开工", "开工", D(2020, 6, 20)),
                      Milestone("完工", "完工", D(2020, 7, 10)))
    assert milestones_for(plan.deadlines, category="housing", source="visit",
                          found_on=found) == ()
    assert milestones_for(plan.deadlines, category="medical", source="visit", found_on=found,
                          tier="now") == ()
    due = compute_deadline(plan.deadlines, CAL, found_on=D(2020, 6, 16), category="medical",
                           source="visit", labels={"medical": "基本医疗"})
    assert due.date == D(2020, 7, 10)
    assert due.basis == "基本医疗问题节点“完工” 2020-07-10"
    assert decode_plan(json.loads(json.dumps(encode_plan(plan)))) == plan


def test_milestone_mistakes_are_named_in_chinese() -> None:
    found = errors_of(with_milestones(
        {"name": "开工", "date": "2020-07-01"}, {"name": "开工", "date": "2020-06-20"},
        {"name": "验收"}, date="2020-06-25"))
    assert "deadlines.rules[0].milestones[0].date 晚于本条规则的整改时限 2020-06-25" in found
    assert "deadlines.rules[0].milestones[1].name 名称重复：开工" in found or \
        "deadlines.rules[0].milestones[1].code 代码重复：开工（deadlines.rules[0].milestones[0] 已使用）" \
        in found
    assert ("deadlines.rules[0].milestones[1].date 应晚于上一个节点“开工”（2020-07-01），"
            "节点按时间先后排列") in found
    assert "deadlines.rules[0].milestones[2].date 缺少（必填）" in found
    early = errors_of(with_milestones({"name": "开工", "date": "2020-06-01"}))
    assert "deadlines.rules[0].milestones[0].date 早于行动开始日期 2020-06-15" in early
    assert errors_of(with_milestones()) == [
        "deadlines.rules[0] tier、date、working_days 须恰好给出一个"]
