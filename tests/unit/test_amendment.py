"""The pure diff of a plan amendment over open problems' facts (duban.domain.amendment)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from duban.adapters.plan.yaml_file import load_plan_text
from duban.domain.amendment import OpenProblem, diff_plans
from duban.domain.lifecycle import Status
from duban.domain.plan import Plan
from duban.services.calendars import working_calendar

DATA = Path(__file__).resolve().parents[1] / "data" / "plans"
BASE = (DATA / "amend-base.yaml").read_text(encoding="utf-8")
TODAY = dt.date(2022, 6, 8)


def plan(text: str) -> Plan:
    return load_plan_text(text)


def problem(pid: int, category: str = "housing", *, lead: str = "jhb",
            status: Status = Status.RECTIFYING, deadline: dt.date | None = dt.date(2022, 6, 30),
            village: str = "一村", by_hand: bool = False, tier: str | None = None) -> OpenProblem:
    return OpenProblem(id=pid, code=f"P{pid}", status=status, category=category, source="visit",
                       town="测试乡", village=village, lead_office=lead,
                       co_offices=(f"village:{village}",), found_on=dt.date(2022, 6, 7),
                       routed_on=TODAY, tier=tier, deadline=deadline, deadline_by_hand=by_hand)


def diff(new_text: str, problems: list[OpenProblem], today: dt.date = TODAY):  # type: ignore[no-untyped-def]
    return diff_plans(plan(BASE), plan(new_text), problems, working_calendar(), today)


def test_the_same_plan_changes_nothing() -> None:
    d = diff(BASE, [problem(1), problem(2, "monitoring", lead="fpb", deadline=dt.date(2022, 6, 8))])
    assert (d.refusals, d.reroutes, d.deadline_moves, d.kept, d.changes) == ((), (), (), (), ())
    assert d.open_problems == 2


def test_routing_and_deadlines_move_only_what_the_plan_decided() -> None:
    new = (BASE.replace("office: 乡建环办,", "office: 乡扶贫办,")
           .replace("date: 2022-06-30}", "date: 2022-06-24}"))
    d = diff(new, [
        problem(1),
        problem(2, lead="fpb"),                     # re-routed by hand before: nothing to do
        problem(3, by_hand=True),                   # extension granted: its date stays
        problem(4, deadline=dt.date(2022, 7, 5)),   # not the old plan's date: someone set it
        problem(5, status=Status.EXTENSION_REQUESTED),  # cannot be reassigned while asked
        problem(6, lead="fpb", tier="now", deadline=dt.date(2022, 6, 8)),  # a tier: unchanged
    ])
    assert [(r.code, r.from_name, r.to_name) for r in d.reroutes] == [
        ("P1", "乡建环办", "乡扶贫办"), ("P3", "乡建环办", "乡扶贫办"), ("P4", "乡建环办", "乡扶贫办")]
    assert [(m.code, m.to_date) for m in d.deadline_moves] == [
        ("P1", dt.date(2022, 6, 24)), ("P2", dt.date(2022, 6, 24)), ("P5", dt.date(2022, 6, 24))]
    assert [k.code for k in d.kept] == ["P5"] and "申请延期" in d.kept[0].reason
    # 乡建环办 still named by P5 (it cannot be reassigned now): it stays in the plan, so fine.
    assert d.refusals == ()


def test_a_date_already_past_becomes_the_next_working_day() -> None:
    new = BASE.replace("date: 2022-06-30}", "date: 2022-06-10}")
    d = diff(new, [problem(1)], today=dt.date(2022, 6, 13))  # Monday
    (move,) = d.deadline_moves
    assert move.to_date == dt.date(2022, 6, 14) and "自修订之日起1个工作日" in move.basis


@pytest.mark.parametrize(("old", "new", "path", "words"), [
    ("notice_prefix: 测试督", "notice_prefix: 新督", "notice_prefix", "前缀不能修改"),
    ("county_office: lgo", "county_office: xwb", "county_office", "县级办公室不能修改"),
    ("{kind: 排查, name: 走访排查", "{kind: 动员, name: 走访排查", "stages[0].kind",
     "已于 2022-05-06 开始"),
    ("end: 2022-07-10}", "end: 2022-06-07}", "stages[1].end", "不能改到今天"),
    ("  - {code: monitoring, name: 监测帮扶}\n", "", "categories", "类别 监测帮扶 仍有 1 个"),
    ("office: 乡建环办, co_offices: [各村]}", "office: 乡扶贫办, co_offices: [各村]}\n"
     "  - {office: 乡扶贫办}", "offices", "办室 乡建环办 仍有 1 个"),
])
def test_refusals_name_the_field(old: str, new: str, path: str, words: str) -> None:
    text = BASE.replace(old, new)
    if path == "county_office":
        text = text.replace("  - {code: fpb,", "  - {code: xwb, name: 县委办, level: county}\n"
                            "  - {code: fpb,")
    if path == "offices":  # 乡建环办 gone, but P2 is reassigned by hand to it and stays there
        text = text.replace("  - {code: jhb, name: 乡建环办, level: town}\n", "")
    problems = [problem(1), problem(2, "monitoring", lead="fpb", deadline=dt.date(2022, 6, 8))]
    if path == "offices":
        problems = [problem(1, "monitoring", lead="jhb", deadline=dt.date(2022, 6, 8))]
    d = diff(text, problems)
    assert [e.path for e in d.refusals] == [path]
    assert words in d.refusals[0].message


def test_stages_added_and_offices_added_are_listed() -> None:
    new = (BASE.replace("end: 2022-07-10}", "end: 2022-07-10}\n"
                        "  - {kind: 复核, name: 复核提升, start: 2022-07-11}")
           .replace("  - {code: fpb,", "  - {code: zjb, name: 乡住建办, level: town}\n  - {code: fpb,"))
    d = diff(new, [])
    assert d.changes == ("新增阶段：复核提升（2022-07-11 至 适时结束）",)
    assert d.offices_added == ("乡住建办",) and d.refusals == ()


def test_co_offices_alone_change_for_problems_whose_lead_stays() -> None:
    new = BASE.replace("office: 乡建环办, co_offices: [各村]}", "office: 乡建环办, co_offices: [乡扶贫办]}")
    hand = OpenProblem(id=3, code="P3", status=Status.RECTIFYING, category="housing",
                       source="visit", town="测试乡", village="三村", lead_office="jhb",
                       co_offices=(), found_on=dt.date(2022, 6, 7), routed_on=TODAY, tier=None,
                       deadline=dt.date(2022, 6, 30), deadline_by_hand=False)
    d = diff(new, [problem(1), problem(2, village="二村"), hand,
                   problem(4, "monitoring", lead="fpb", deadline=dt.date(2022, 6, 8))])
    assert d.reroutes == () and d.refusals == ()
    assert [(c.code, c.gained, c.lost, c.gained_names, c.lost_names)
            for c in d.co_office_changes] == [
        ("P1", ("fpb",), ("village:一村",), ("乡扶贫办",), ("一村",)),
        ("P2", ("fpb",), ("village:二村",), ("乡扶贫办",), ("二村",))]
    # Co-offices someone changed by hand stay, and the preview says so.
    assert [(k.code, k.reason) for k in d.kept] == [
        ("P3", "协办单位系人工调整，不按新路由改为 乡扶贫办")]
    assert [t.text for t in d.co_office_tallies()] == [
        "一村：不再协办 1 个（P1）", "乡扶贫办：新增协办 2 个（P1、P2）", "二村：不再协办 1 个（P2）"]
