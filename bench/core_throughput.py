"""Throughput of the pure core: detection, routing and deadlines over synthetic problems.

Run alone with `python -m bench.core_throughput [n]`; `run(n)` returns the measurements.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from dataclasses import dataclass

from duban.adapters.calendar import load_calendar
from duban.domain.deadlines import compute_deadline
from duban.domain.detection import RULE_CODES, detect
from duban.domain.household import HouseholdCategory, HouseholdFacts, MonitoringType
from duban.domain.plan import (
    OWN_VILLAGE,
    DeadlinePolicy,
    DeadlineRule,
    DeadlineTier,
    DetectionPolicy,
    DetectionRule,
    RoutingRule,
)
from duban.domain.routing import Route, Router

# A routing table shaped like seed 000's (沧沟乡): one lead office per kind of work plus 各村.
ROUTING = (
    RoutingRule("jianhuan", categories=("住房安全",), co_offices=(OWN_VILLAGE,)),
    RoutingRule("weijian", categories=("基本医疗",), co_offices=("shebao", OWN_VILLAGE)),
    RoutingRule("minzheng", categories=("义务教育",), co_offices=(OWN_VILLAGE,)),
    RoutingRule("nongfu", categories=("饮水安全", "产业"), co_offices=(OWN_VILLAGE,)),
    RoutingRule("shebao", categories=("就业",), co_offices=("fupin", OWN_VILLAGE)),
    RoutingRule("jingfa", categories=("项目资金", "搬迁")),
    RoutingRule("jingfa", categories=("小额信贷",), co_offices=("nongshang", OWN_VILLAGE)),
    RoutingRule("shishi", categories=("兜底保障",), co_offices=(OWN_VILLAGE,)),
    RoutingRule("fupin", categories=("档案资料", "监测帮扶"), co_offices=(OWN_VILLAGE,)),
    RoutingRule("zuzhi", categories=("驻村帮扶",), co_offices=(OWN_VILLAGE,)),
    RoutingRule(
        "jianhuan", categories=("人居环境", "厕所革命"), co_offices=("nongfu", OWN_VILLAGE)
    ),
    RoutingRule("pingan", categories=("信访舆情",), co_offices=(OWN_VILLAGE,)),
    RoutingRule("fupin", sources=("巡视", "考核")),
)
CATEGORIES = (
    "住房安全", "基本医疗", "义务教育", "饮水安全", "产业", "就业", "项目资金", "小额信贷",
    "兜底保障", "档案资料", "监测帮扶", "驻村帮扶", "人居环境", "厕所革命", "信访舆情", "宣传",
)  # fmt: skip
SOURCES = ("入户排查", "行业排查", "巡视", "考核", "督查", "暗访")
DEADLINES = DeadlinePolicy(
    default_working_days=10,
    tiers=(
        DeadlineTier("immediate", "立查立改", working_days=1),
        DeadlineTier("july", "7月底", date=dt.date(2020, 7, 31)),
        DeadlineTier("september", "9月底", date=dt.date(2020, 9, 30)),
    ),
    rules=(
        DeadlineRule(categories=("住房安全",), date=dt.date(2020, 6, 30)),
        DeadlineRule(sources=("巡视", "考核"), date=dt.date(2020, 10, 31)),
        DeadlineRule(categories=("档案资料",), working_days=3),
        DeadlineRule(categories=("信访舆情",), tier="immediate"),
    ),
)
DETECTION = DetectionPolicy(
    monitoring_line_yuan=6900,
    rules=tuple(
        DetectionRule(code, cat)
        for code, cat in zip(
            RULE_CODES,
            ("监测帮扶", "住房安全", "饮水安全", "义务教育", "基本医疗", "厕所革命"),
            strict=True,
        )
    ),
    source="入户排查",
)
RECTIFY_END = dt.date(2020, 7, 12)


@dataclass(frozen=True, slots=True)
class _Problem:
    category: str
    source: str
    town: str
    village: str | None
    found_on: dt.date
    tier: str | None
    explicit: dt.date | None


def _problems(n: int, rng: random.Random) -> list[_Problem]:
    start = dt.date(2020, 6, 15)
    out = []
    for _ in range(n):
        town = f"t{rng.randrange(20)}"
        roll = rng.random()
        out.append(
            _Problem(
                category=rng.choice(CATEGORIES),
                source=rng.choice(SOURCES),
                town=town,
                village=None if roll < 0.1 else f"{town}v{rng.randrange(15)}",
                found_on=start + dt.timedelta(days=rng.randrange(28)),
                tier=rng.choice(("immediate", "july", "september")) if roll > 0.85 else None,
                explicit=dt.date(2020, 8, 1) if 0.1 <= roll < 0.13 else None,
            )
        )
    return out


def _households(n: int, rng: random.Random) -> list[HouseholdFacts]:
    out = []
    for i in range(n):
        monitored = rng.random() < 0.1
        children = rng.randrange(4)
        out.append(
            HouseholdFacts(
                household_id=f"H{i:07d}",
                town=f"t{rng.randrange(20)}",
                village=f"v{rng.randrange(15)}",
                head="户主",
                members=rng.randint(1, 7),
                category=HouseholdCategory.MONITORED if monitored else HouseholdCategory.LIFTED,
                monitoring_type=MonitoringType.UNSTABLE if monitored else None,
                income_per_person=rng.randint(4000, 30000),
                house_grade=rng.choices("ABCD", weights=(60, 36, 3, 1))[0],
                tap_water=rng.random() > 0.03,
                school_age_children=children,
                children_out_of_school=1 if children and rng.random() < 0.02 else 0,
                medical_insurance=rng.random() > 0.02,
                sanitary_toilet=rng.random() > 0.1,
            )
        )
    return out


def run(n: int) -> dict[str, float]:
    """Time route + deadline over n problems, and detection over n households."""
    rng = random.Random(20200615)
    calendar = load_calendar()
    problems = _problems(n, rng)
    households = _households(n, rng)

    t0 = time.perf_counter()
    router = Router(ROUTING)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    routed = 0
    for p in problems:
        if isinstance(router.route(p.category, p.source, p.town, p.village), Route):
            routed += 1
        compute_deadline(
            DEADLINES,
            calendar,
            found_on=p.found_on,
            category=p.category,
            source=p.source,
            tier=p.tier,
            explicit=p.explicit,
            rectify_end=RECTIFY_END,
        )
    route_deadline_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    detected = 0
    for h in households:
        detected += len(detect(h, DETECTION))
    detect_s = time.perf_counter() - t0

    # The intake pipeline: detect per household, then route and set a deadline per detection.
    found_on = dt.date(2020, 6, 20)
    t0 = time.perf_counter()
    pipeline_problems = 0
    for h in households:
        for d in detect(h, DETECTION):
            router.route(d.category, DETECTION.source, h.town, h.village)
            compute_deadline(
                DEADLINES,
                calendar,
                found_on=found_on,
                category=d.category,
                source=DETECTION.source,
                rectify_end=RECTIFY_END,
            )
            pipeline_problems += 1
    pipeline_s = time.perf_counter() - t0

    return {
        "n": float(n),
        "routed_share": routed / n,
        "router_build_ms": build_s * 1000,
        "route_deadline_problems_per_s": n / route_deadline_s,
        "detect_households_per_s": n / detect_s,
        "detections_per_household": detected / n,
        "pipeline_households_per_s": n / pipeline_s,
        "pipeline_problems": float(pipeline_problems),
    }


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    for key, value in run(size).items():
        print(f"{key:34s} {value:,.1f}")
