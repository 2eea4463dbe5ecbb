"""Helpers for orchestration tests: a small campaign plan with a full reminder ladder."""

from __future__ import annotations

import datetime as dt

import pytest

from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.plan import (
    Audience,
    Category,
    Contact,
    DeadlinePolicy,
    DetectionPolicy,
    Office,
    OfficeLevel,
    Plan,
    RankingPolicy,
    ReminderPolicy,
    ReminderRung,
    ReportSchedule,
    ReviewPolicy,
    RoutingRule,
    RungAction,
    Source,
    Stage,
    StageKind,
    Town,
    Village,
)
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.problems import record_problems
from duban.services.root import build_root, install_root

LADDER = (
    ReminderRung("pre3", "提前3个工作日提醒", RungAction.REMIND, offset_working_days=-3),
    ReminderRung("due", "到期提醒", RungAction.DUE, offset_working_days=0),
    ReminderRung("urge1", "逾期1个工作日催办", RungAction.URGE, offset_working_days=1),
    ReminderRung("sup3", "逾期3个工作日督办", RungAction.SUPERVISE, offset_working_days=3,
                 audience=(Audience.OFFICE_HEAD, Audience.COUNTY), colour="yellow"),
    ReminderRung("bul7", "逾期7个工作日通报", RungAction.BULLETIN, offset_working_days=7,
                 audience=(Audience.OFFICE, Audience.COUNTY), colour="red",
                 accrue_penalty=True),
)


def make_plan(
    *,
    number: str = "测试委发〔2022〕1号",
    start: dt.date = dt.date(2022, 9, 15),
    rungs: tuple[ReminderRung, ...] = LADDER,
    working_days: int = 10,
    webhook: str = "",
    email: str = "",
    remind_unacknowledged: int = 1,
    extra_offices: int = 0,
) -> Plan:
    """A two-town plan: housing goes to 建环办, water to 农业中心; the county office runs it."""
    d = dt.timedelta
    contacts = (Contact("张三", "13800000000", email),) if email else ()
    return Plan(
        name="测试专项行动",
        issuer="测试县巩固拓展脱贫攻坚成果领导小组办公室",
        document_number=number,
        notice_prefix="测巩督",
        county_office="county",
        stages=(
            Stage(StageKind.INVESTIGATE, "排查", start, start + d(days=10)),
            Stage(StageKind.RECTIFY, "整改", start + d(days=11), start + d(days=60)),
            Stage(StageKind.REVIEW, "复核", start + d(days=61), start + d(days=80)),
        ),
        towns=(
            Town("t1", "城关镇", (Village("v1", "东村"), Village("v2", "西村"))),
            Town("t2", "河口乡", (Village("v3", "南村"),)),
        ),
        offices=(
            Office("county", "县巩固办", OfficeLevel.COUNTY, head="李主任",
                   contacts=(Contact("王五", "0394-1234567", email),) if email else ()),
            Office("jhb", "建环办", OfficeLevel.COUNTY, head="张三", contacts=contacts,
                   webhook=webhook),
            Office("nyzx", "农业服务中心", OfficeLevel.COUNTY, head="赵六"),
            *(Office(f"o{i:02d}", f"办室{i}", OfficeLevel.COUNTY) for i in range(extra_offices)),
        ),
        categories=(Category("housing", "住房安全"), Category("water", "饮水安全"),
                    *(Category(f"c{i}", f"类别{i}") for i in range(extra_offices))),
        sources=(Source("visit", "入户排查"),),
        routing=(
            RoutingRule("jhb", categories=("housing",), co_offices=("各村",)),
            RoutingRule("nyzx", categories=("water",)),
            *(RoutingRule(f"o{i:02d}", categories=(f"c{i}",)) for i in range(extra_offices)),
        ),
        deadlines=DeadlinePolicy(default_working_days=working_days, cap_at_rectify_end=False),
        review=ReviewPolicy(),
        reminders=ReminderPolicy(rungs=rungs,
                                 remind_unacknowledged_after_working_days=remind_unacknowledged),
        penalties=(),
        ranking=RankingPolicy(),
        reports=ReportSchedule(),
        detection=DetectionPolicy(),
    )


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> dt.datetime:
    """A China-time moment."""
    return dt.datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def launch(db: Database, clock: FixedClock, plan: Plan | None = None) -> int:
    """Launch a campaign of the plan (default: make_plan())."""
    return launch_campaign(db, clock, plan or make_plan(), "# test", "county")


def add_problems(db: Database, clock: FixedClock, campaign_id: int, n: int, *,
                 category: str = "housing", found_on: dt.date | None = None,
                 deadline: dt.date | None = None, tag: str = "") -> list[int]:
    """Record n routed problems spread over the villages."""
    villages = [("t1", "v1"), ("t1", "v2"), ("t2", "v3")]
    reported = [
        ReportedProblem(
            source="visit", category=category, town=villages[i % 3][0],
            village=villages[i % 3][1], household_id=f"H{i:05d}",
            description=f"{tag}问题{i}：住房存在安全隐患", found_by="cadre",
            found_on=found_on or clock.now().date(), deadline=deadline,
        )
        for i in range(n)
    ]
    return record_problems(db, clock, campaign_id, reported, recorded_by="cadre").problem_ids


def use_database(db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install the test database as the process's root for the tasks; returns its URL.

    The URL also goes into the environment for child processes (a Prefect worker builds its
    root from configuration).
    """
    url = db.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    install_root(build_root(db=db))
    return url
