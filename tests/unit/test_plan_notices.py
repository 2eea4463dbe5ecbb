"""Plan keys for who receives notices and reports: `notices`, `reports.*_to`, `channels`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from duban.adapters.plan.codec import decode_plan, encode_plan
from duban.adapters.plan.wire import parse_plan
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.plan import Channel, CoOfficeNotice, NoticePolicy, NoticeRhythm, ReportSchedule
from duban.domain.plan_check import PlanInvalid
from tests.conftest import PLANS


def seed_002(**changes: Any) -> dict[str, Any]:
    data = encode_plan(load_plan_file(PLANS / "seed-002-shenqiu.yaml"))
    data.pop("notices", None)
    data.pop("duties", None)  # its stored form is not wire format yet (recurrence vs every)
    data["reports"] = {"daily_at": "17:00"}
    data.update(changes)
    return data


def errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanInvalid) as info:
        parse_plan(data)
    return [f"{e.path} {e.message}" for e in info.value.errors]


def test_defaults_copy_county_and_town_co_offices_and_roll_daily() -> None:
    plan = parse_plan(seed_002())
    assert plan.notices == NoticePolicy()
    assert plan.notices.co_offices.of("county") is CoOfficeNotice.COPY
    assert plan.notices.co_offices.of("town") is CoOfficeNotice.COPY
    assert plan.notices.co_offices.of("village") is CoOfficeNotice.NONE
    assert plan.notices.rolling is NoticeRhythm.DAILY and plan.notices.at is None
    assert plan.reports == ReportSchedule()
    assert plan.reports.daily_to == ("county",) and plan.reports.ranking_to == ("county",)


def test_written_in_chinese_and_round_tripped() -> None:
    plan = parse_plan(seed_002(
        notices={"co_offices": {"town": "单独下发", "village": "抄送"}, "rolling": "每周",
                 "weekday": "周五", "at": "09:00"},
        reports={"daily_to": ["县级", "各乡镇", "县教育局"], "ranking_to": "各乡镇",
                 "channels": ["站内信", "邮件"]},
    ))
    n = plan.notices
    assert (n.co_offices.county, n.co_offices.town, n.co_offices.village) == (
        CoOfficeNotice.COPY, CoOfficeNotice.OWN, CoOfficeNotice.COPY)
    assert (n.rolling, n.weekday, n.at) == (NoticeRhythm.WEEKLY, 5, dt.time(9, 0))
    assert plan.reports.daily_to == ("county", "towns", "jyj")
    assert plan.reports.ranking_to == ("towns",)
    assert plan.reports.channels == (Channel.INBOX, Channel.EMAIL)
    assert parse_plan(encode_plan(plan)) == plan
    assert decode_plan(encode_plan(plan)) == plan
    one = parse_plan(seed_002(notices={"co_offices": "own"}))
    assert {one.notices.co_offices.of(lv) for lv in ("county", "town", "village")} == {
        CoOfficeNotice.OWN}
    assert parse_plan(seed_002(reports={"daily_to": []})).reports.daily_to == ()


def test_mistakes_are_named_by_path() -> None:
    assert errors(seed_002(
        notices={"co_offices": {"town": "单发", "villag": "none"}, "rolling": "每日",
                 "weekday": "周八", "at": "25:00"},
        reports={"daily_to": ["县级", "各村", "县教育厅"], "channels": ["短信"]},
    )) == [
        "reports.channels[0] 取值不认识：短信（可用：inbox、站内信、email、邮件、电子邮件、webhook、机器人）",
        "reports.daily_to[1] “各村”只用于路由，报表不发送到村",
        "reports.daily_to[2] 未定义: 县教育厅（是否想写 县教育局？）",
        "notices.co_offices.villag 未知字段（是否想写 village？）",
        "notices.co_offices.town 取值不认识：单发（可用：own、单独下发、单独、copy、抄送、none、不发）",
        "notices.weekday 取值不认识：周八（可用：1、2、3、4、5、6、7、周一、周二、周三、周四、周五、"
        "周六、周日、星期一、星期二、星期三、星期四、星期五、星期六、星期日、周天、星期天）",
        "notices.weekday 只在 rolling: weekly（每周）时使用",
        "notices.at 时间不对：25:00（应为 时:分，如 17:30）",
    ]
    assert errors(seed_002(notices={"rolling": "manual", "at": "09:00", "weekday": 9},
                           reports={"channels": []})) == [
        "reports.channels 不能为空（可用：站内信、邮件、机器人）",
        "notices.weekday 不能大于 7，实际是 9",
        "notices.weekday 只在 rolling: weekly（每周）时使用",
        "notices.at rolling: manual（手工）时不自动下发，不能写 at",
    ]
