"""The stored form of a plan: encode_plan and decode_plan give back the same typed Plan."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from duban.adapters.plan import wire
from duban.adapters.plan.codec import decode_plan, encode_plan
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.plan import Audience, OfficeLevel, Plan, RungAction, StageKind
from tests.unit.test_plan_wire import base

PLANS = Path(__file__).resolve().parents[2] / "plans"
SEEDS = ["seed-000-canggou-2020.yaml", "seed-002-shenqiu.yaml", "seed-003-shaoyun-2022.yaml"]


def stored(plan: Plan) -> dict[str, object]:
    """What a JSON column gives back after the plan was written to it."""
    data: dict[str, object] = json.loads(json.dumps(encode_plan(plan), ensure_ascii=False))
    return data


@pytest.mark.parametrize("name", SEEDS)
def test_decoding_the_stored_form_gives_the_seed_plan_back(name: str) -> None:
    plan = load_plan_file(PLANS / name)
    assert decode_plan(stored(plan)) == plan


def test_decoding_restores_types_not_just_equal_looking_text() -> None:
    plan = decode_plan(stored(wire.parse_plan(base())))
    assert plan.stages[0].kind is StageKind.INVESTIGATE
    assert plan.stages[0].start == dt.date(2020, 6, 15)
    assert plan.offices[1].level is OfficeLevel.TOWN and plan.offices[0].town is None
    assert plan.towns[0].villages[1].code == "二村"
    rungs = plan.reminders.rungs
    assert [r.action for r in rungs] == [RungAction.REMIND, RungAction.DUE, RungAction.SUPERVISE]
    assert rungs[0].share_left == 0.3 and rungs[0].offset_working_days is None
    assert rungs[2].offset_working_days == 3 and rungs[2].audience == (Audience.OFFICE,)
    assert plan.reports.daily_at == dt.time(17, 0)
    assert plan.deadlines.rules[0].date == dt.date(2020, 6, 30)
    assert isinstance(plan.routing, tuple) and isinstance(plan.routing[0].co_offices, tuple)
    assert plan.issued_on is None


def test_every_optional_field_survives_the_round_trip() -> None:
    data = base()
    data["issued_on"] = "2020-06-10"
    data["issuer_short"] = "测试乡"
    data["reminders"]["work_start"] = "08:00:30"
    data["reminders"]["rungs"][0]["share_left"] = 0.5
    plan = wire.parse_plan(data)
    again = decode_plan(stored(plan))
    assert again == plan
    assert again.issued_on == dt.date(2020, 6, 10)
    assert again.reminders.work_start == dt.time(8, 0, 30)


def test_a_whole_number_share_stored_by_json_comes_back_a_float() -> None:
    plan = wire.parse_plan(base())
    rung = dataclasses.replace(plan.reminders.rungs[0], share_left=1.0)
    data = stored(dataclasses.replace(
        plan, reminders=dataclasses.replace(plan.reminders, rungs=(rung,))))
    data["reminders"]["rungs"][0]["share_left"] = 1  # type: ignore[index]
    share = decode_plan(data).reminders.rungs[0].share_left
    assert share == 1.0 and isinstance(share, float)

