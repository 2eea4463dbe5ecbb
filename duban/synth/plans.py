"""A small plan built in code, for tests and benchmarks that need no seed file.

Two towns and three offices (the county office runs it; housing goes to 建环办, water to
农业服务中心), a full reminder ladder, and room to grow: `extra_offices` adds offices o00…
each leading its own category c00…, `extra_towns` adds towns t00… of villages t00v00….
"""

from __future__ import annotations

import datetime as dt

from duban.domain import plan as p

LADDER = (
    p.ReminderRung("pre3", "提前3个工作日提醒", p.RungAction.REMIND, offset_working_days=-3),
    p.ReminderRung("due", "到期提醒", p.RungAction.DUE, offset_working_days=0),
    p.ReminderRung("urge1", "逾期1个工作日催办", p.RungAction.URGE, offset_working_days=1),
    p.ReminderRung("sup3", "逾期3个工作日督办", p.RungAction.SUPERVISE, offset_working_days=3,
                   audience=(p.Audience.OFFICE_HEAD, p.Audience.COUNTY), colour="yellow"),
    p.ReminderRung("bul7", "逾期7个工作日通报", p.RungAction.BULLETIN, offset_working_days=7,
                   audience=(p.Audience.OFFICE, p.Audience.COUNTY), colour="red",
                   accrue_penalty=True),
)


def synthetic_plan(
    *,
    number: str = "测试委发〔2022〕1号",
    start: dt.date = dt.date(2022, 9, 15),
    stages: tuple[p.Stage, ...] | None = None,
    rungs: tuple[p.ReminderRung, ...] = LADDER,
    working_days: int = 10,
    webhook: str = "",
    email: str = "",
    remind_unacknowledged: int = 1,
    extra_offices: int = 0,
    extra_towns: int = 0,
    villages_per_town: int = 15,
) -> p.Plan:
    """The plan; by default its stages run 10, 50 and 20 days from `start`."""
    d = dt.timedelta
    contacts = (p.Contact("张三", "13800000000", email),) if email else ()
    return p.Plan(
        name="测试专项行动",
        issuer="测试县巩固拓展脱贫攻坚成果领导小组办公室",
        document_number=number,
        notice_prefix="测巩督",
        county_office="county",
        stages=stages or (
            p.Stage(p.StageKind.INVESTIGATE, "排查", start, start + d(days=10)),
            p.Stage(p.StageKind.RECTIFY, "整改", start + d(days=11), start + d(days=60)),
            p.Stage(p.StageKind.REVIEW, "复核", start + d(days=61), start + d(days=80)),
        ),
        towns=(
            p.Town("t1", "城关镇", (p.Village("v1", "东村"), p.Village("v2", "西村"))),
            p.Town("t2", "河口乡", (p.Village("v3", "南村"),)),
            *(p.Town(f"t{i:02d}", f"乡镇{i}",
                     tuple(p.Village(f"t{i:02d}v{j:02d}", f"村{i}-{j}")
                           for j in range(villages_per_town)))
              for i in range(extra_towns)),
        ),
        offices=(
            p.Office("county", "县巩固办", p.OfficeLevel.COUNTY, head="李主任",
                     contacts=(p.Contact("王五", "0394-1234567", email),) if email else ()),
            p.Office("jhb", "建环办", p.OfficeLevel.COUNTY, head="张三", contacts=contacts,
                     webhook=webhook),
            p.Office("nyzx", "农业服务中心", p.OfficeLevel.COUNTY, head="赵六"),
            *(p.Office(f"o{i:02d}", f"办室{i}", p.OfficeLevel.COUNTY)
              for i in range(extra_offices)),
        ),
        categories=(p.Category("housing", "住房安全"), p.Category("water", "饮水安全"),
                    *(p.Category(f"c{i:02d}", f"类别{i}") for i in range(extra_offices))),
        sources=(p.Source("visit", "入户排查"),),
        routing=(
            p.RoutingRule("jhb", categories=("housing",), co_offices=("各村",)),
            p.RoutingRule("nyzx", categories=("water",)),
            *(p.RoutingRule(f"o{i:02d}", categories=(f"c{i:02d}",))
              for i in range(extra_offices)),
        ),
        deadlines=p.DeadlinePolicy(default_working_days=working_days, cap_at_rectify_end=False),
        review=p.ReviewPolicy(),
        reminders=p.ReminderPolicy(rungs=rungs,
                                   remind_unacknowledged_after_working_days=remind_unacknowledged),
        penalties=(),
        ranking=p.RankingPolicy(),
        reports=p.ReportSchedule(),
        detection=p.DetectionPolicy(),
    )
