"""The seed plans load and say what the seed documents say (facts quoted from the seeds)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.facts import catalogue, describe
from duban.domain.plan import (
    OWN_TOWN,
    OWN_VILLAGE,
    CoOfficeNotice,
    FieldType,
    HouseholdDraw,
    OfficeLevel,
    PenaltyBasis,
    Plan,
    Recurrence,
    RoutingRule,
    StageKind,
    towns_addressee,
)
from duban.domain.plan_check import lint_plan
from duban.domain.routing import Route, Router

PLANS = Path(__file__).resolve().parents[2] / "plans"
# Copies of /work/shared/seeds: the campaign documents the plans encode (Chinese, UTF-8).
SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"


def seed_line(seed: str, line: int) -> str:
    """Line `line` (1-based, as `cat -n` numbers it) of seed document `seed` ("001")."""
    (path,) = SEEDS.glob(f"{seed}_*.txt")
    return path.read_text(encoding="utf-8").split("\n")[line - 1]


@dataclass(frozen=True)
class Fact:
    """A fact a plan encodes, the seed line it comes from and the words there that say it.

    `covers` names the plan parts the fact accounts for ("stage:整改阶段", "office:县民政局",
    "routing:3", "deadline:0", "tier:july"), so a test can check that every stage, office,
    routing rule and dated deadline of a plan is backed by a line of its seed.
    """

    what: str
    line: int
    quote: str
    holds: Callable[[Plan], object]
    covers: tuple[str, ...] = ()


def check_fact(plan: Plan, seed: str, fact: Fact) -> None:
    """The seed's line says the quoted words and the plan holds the fact."""
    text = seed_line(seed, fact.line)
    assert fact.quote in text, f"seed {seed} line {fact.line} does not say {fact.quote!r}: {text}"
    assert fact.holds(plan), f"the plan does not hold: {fact.what}"


def match_key(
    plan: Plan, categories: tuple[str, ...], sources: tuple[str, ...], towns: tuple[str, ...] = ()
) -> str:
    """A rule named by what it matches: "住房安全", "巡视“回头看”、成效考核", "建档立卡数据质量/泥溪镇";
    "其余" for a rule that matches anything."""
    cats = {c.code: c.name for c in plan.categories}
    srcs = {s.code: s.name for s in plan.sources}
    places = {t.code: t.name for t in plan.towns}
    parts = [
        "、".join(table[c] for c in codes)
        for table, codes in ((cats, categories), (srcs, sources), (places, towns))
        if codes
    ]
    return "/".join(parts) or "其余"


def plan_parts(plan: Plan) -> set[str]:
    """What a plan decides that a seed line must back: stages, offices, routes, dated rules."""
    parts = {f"stage:{s.name}" for s in plan.stages}
    parts |= {f"office:{o.name}" for o in plan.offices}
    parts |= {
        f"routing:{match_key(plan, r.categories, r.sources, r.towns)}" for r in plan.routing
    }
    parts |= {f"deadline:{match_key(plan, r.categories, r.sources)}" for r in plan.deadlines.rules}
    parts |= {f"tier:{t.code}" for t in plan.deadlines.tiers}
    parts |= {f"duty:{d.name}" for d in plan.duties}
    parts |= {f"field:{f.label}" for f in plan.household.fields}
    parts |= {f"detection:{r.name}" for r in plan.detection.rules if r.when}
    return parts


def field_of(plan: Plan, label: str) -> tuple[object, ...]:
    """A plan household field as (type, values, multiple, required)."""
    f = next(f for f in plan.household.fields if f.label == label)
    return (f.type, f.values, f.multiple, f.required)


def rule_of(plan: Plan, name: str) -> tuple[str, list[str]]:
    """A plan detection rule as (category name, conditions in Chinese)."""
    r = next(r for r in plan.detection.rules if r.name == name)
    fields = catalogue(plan.household.fields)
    category = next(c.name for c in plan.categories if c.code == r.category)
    return category, [describe(c, fields.get(c.field)) for c in r.when]


def duty_of(plan: Plan, name: str) -> tuple[object, ...]:
    """A duty as (recurrence, weekday, day, date, within_working_days, units by name)."""
    d = next(d for d in plan.duties if d.name == name)
    units = [u if u in (OWN_TOWN, OWN_VILLAGE) else plan.office(u).name  # type: ignore[union-attr]
             for u in d.units]
    return (d.recurrence, d.weekday, d.day, d.date, d.within_working_days, units)


def uncovered(plan: Plan, facts: list[Fact]) -> set[str]:
    """Plan parts no fact accounts for."""
    covered = {c for f in facts for c in f.covers}
    unknown = covered - plan_parts(plan)
    assert not unknown, f"facts cover parts the plan does not have: {sorted(unknown)}"
    return plan_parts(plan) - covered


@pytest.fixture(scope="module")
def canggou() -> Plan:
    return load_plan_file(PLANS / "seed-000-canggou-2020.yaml")


@pytest.fixture(scope="module")
def shenqiu() -> Plan:
    return load_plan_file(PLANS / "seed-002-shenqiu.yaml")


@pytest.fixture(scope="module")
def shaoyun() -> Plan:
    return load_plan_file(PLANS / "seed-003-shaoyun-2022.yaml")


def code_of(plan: Plan, kind: str, name: str) -> str:
    items = {"category": plan.categories, "source": plan.sources}[kind]
    return next(i.code for i in items if i.name == name)


def rule_for(plan: Plan, category: str, source: str, town: str | None = None) -> RoutingRule:
    """The first matching routing rule (the plan's documented semantics), by category name."""
    cat = code_of(plan, "category", category)
    src = code_of(plan, "source", source)
    where = town or plan.towns[0].code
    return next(
        r
        for r in plan.routing
        if (not r.categories or cat in r.categories)
        and (not r.sources or src in r.sources)
        and (not r.towns or where in r.towns)
    )


def names(plan: Plan, codes: tuple[str, ...]) -> list[str]:
    by_code = {o.code: o.name for o in plan.offices}
    return [by_code.get(c, c) for c in codes]


def lead_and_co(plan: Plan, category: str, source: str) -> tuple[str, list[str]]:
    rule = rule_for(plan, category, source)
    return names(plan, (rule.office,))[0], names(plan, rule.co_offices)


def stages(plan: Plan) -> list[tuple[StageKind, dt.date, dt.date]]:
    return [(s.kind, s.start, s.end) for s in plan.stages]


def deadline_rule(plan: Plan, category: str, source: str) -> tuple[dt.date | None, str | None]:
    """(date, tier name) of the first deadline rule matching a category and source."""
    cat = code_of(plan, "category", category)
    src = code_of(plan, "source", source)
    rule = next(
        r
        for r in plan.deadlines.rules
        if (not r.categories or cat in r.categories) and (not r.sources or src in r.sources)
    )
    tier = next((t for t in plan.deadlines.tiers if t.code == rule.tier), None)
    if tier is not None:
        return tier.date, tier.name
    return rule.date, None


# ---------------------------------------------------------------------------------------------
# Seed 000: 沧沟乡 2020


def test_000_document(canggou: Plan) -> None:
    assert canggou.document_number == "沧沟委发〔2020〕53号"
    assert canggou.issued_on == dt.date(2020, 6, 18)
    assert "沧沟乡" in canggou.issuer


def test_000_three_stages_as_dated(canggou: Plan) -> None:
    # "排查动员阶段：6月15-6月28日", "整改落实阶段：6月29--7月12日", "迎接普查阶段：7月13日--20日"
    assert stages(canggou) == [
        (StageKind.INVESTIGATE, dt.date(2020, 6, 15), dt.date(2020, 6, 28)),
        (StageKind.RECTIFY, dt.date(2020, 6, 29), dt.date(2020, 7, 12)),
        (StageKind.REVIEW, dt.date(2020, 7, 13), dt.date(2020, 7, 20)),
    ]
    assert [s.name for s in canggou.stages] == ["排查动员阶段", "整改落实阶段", "迎接普查阶段"]


def test_000_scope_is_one_township_with_its_five_villages(canggou: Plan) -> None:
    (town,) = canggou.towns
    assert town.name == "沧沟乡"
    assert {v.name for v in town.villages} == {"关庙村", "青杠村", "大田村", "沧沟村", "大水村"}


def test_000_campaign_office_is_the_leading_group_office(canggou: Plan) -> None:
    # "领导小组下设办公室在乡扶贫办 … 做好工作督导调度、问题整改复核等工作"
    office = canggou.office(canggou.county_office)
    assert office is not None and office.level is OfficeLevel.COUNTY
    assert "领导小组办公室" in office.name


@pytest.mark.parametrize(
    ("category", "lead", "co"),
    [
        # "确保所有住房安全问题在6月30日前全部完成整改（责任办室：乡建环办、各村）"
        ("住房安全", "乡建环办", [OWN_VILLAGE]),
        # "基本医疗有保障 …（责任办室：乡社保所、卫健办、各村）"
        ("基本医疗", "乡社保所", ["乡卫健办", OWN_VILLAGE]),
        # "医疗兜底保障（责任办室：乡卫健办、各村）"
        ("医疗兜底", "乡卫健办", [OWN_VILLAGE]),
        ("义务教育", "乡民政和社事办", [OWN_VILLAGE]),
        ("饮水安全", "乡农业服务中心", [OWN_VILLAGE]),
        ("产业及村集体经济", "乡农业服务中心", [OWN_VILLAGE]),
        ("就业扶贫", "乡社保所", ["乡扶贫办", OWN_VILLAGE]),
        # "所有“两不愁三保障”项目务必在6月30日前完成（责任办室：乡经发办）"
        ("扶贫项目及资金", "乡经发办", []),
        ("消费扶贫", "乡经发办", [OWN_VILLAGE]),
        ("小额信贷", "乡经发办", ["农商行沧沟分理处", OWN_VILLAGE]),
        ("搬迁后续扶持", "乡经发办", [OWN_VILLAGE]),
        ("社会兜底救助", "乡民政和社事办", [OWN_VILLAGE]),
        ("识别退出及动态监测", "乡扶贫办", [OWN_VILLAGE]),
        ("信息系统数据质量", "乡扶贫办", [OWN_VILLAGE]),
        ("明白卡上墙及档案资料", "乡驻村工作组", [OWN_VILLAGE]),
        ("驻村工作队履职", "乡组织办", [OWN_VILLAGE]),
        ("人居环境", "乡建环办", ["乡农业服务中心", OWN_VILLAGE]),
        ("内生动力", "乡宣传办", [OWN_VILLAGE]),
        ("信访舆情", "乡平安办", [OWN_VILLAGE]),
    ],
)
def test_000_responsible_office_per_kind_of_work(
    canggou: Plan, category: str, lead: str, co: list[str]
) -> None:
    assert lead_and_co(canggou, category, "大走访入户") == (lead, co)


def test_000_inspection_and_assessment_feedback_goes_to_the_poverty_office(canggou: Plan) -> None:
    # "中央专项巡视“回头看” … 成效考核反馈问题 …（责任办室：乡扶贫办、各驻村工作组、各村）"
    for source in ("中央专项巡视“回头看”", "成效考核反馈"):
        assert lead_and_co(canggou, "住房安全", source) == (
            "乡扶贫办",
            ["乡驻村工作组", OWN_VILLAGE],
        )


def test_000_housing_by_june_30_everything_by_the_end_of_rectification(canggou: Plan) -> None:
    assert deadline_rule(canggou, "住房安全", "大走访入户") == (dt.date(2020, 6, 30), None)
    assert deadline_rule(canggou, "扶贫项目及资金", "大走访入户") == (dt.date(2020, 6, 30), None)
    rectify = canggou.stage(StageKind.RECTIFY)
    assert rectify is not None
    assert deadline_rule(canggou, "饮水安全", "百日大会战排查") == (rectify.end, None)


def test_000_penalties(canggou: Plan) -> None:
    # "一般问题未整改到位 … 按500元/件考核，对不安全住房整改未按阶段完成 … 按2000元/户考核"
    housing = code_of(canggou, "category", "住房安全")
    by_amount = {p.amount_yuan: p for p in canggou.penalties}
    assert set(by_amount) == {500, 2000}
    assert by_amount[2000].basis is PenaltyBasis.HOUSEHOLD
    assert by_amount[2000].categories == (housing,)
    assert by_amount[500].basis is PenaltyBasis.PROBLEM
    assert by_amount[500].categories == ()
    assert any(r.accrue_penalty for r in canggou.reminders.rungs)


def test_000_review_groups(canggou: Plan) -> None:
    # "乡纪委、扶贫办分阶段开展 … 督查考核，政协办扶贫集团抽调专人加强 … 检查指导"
    assert [g.name[:3] for g in canggou.review.groups] == ["乡纪委", "乡扶贫", "政协办"]


def _route_000(line: int, quote: str, category: str, lead: str, co: list[str],
               offices: tuple[str, ...] = ()) -> Fact:
    """A seed-000 routing fact: the line's （责任办室：…） bracket and the rule the plan has."""
    return Fact(f"{category}：{lead}", line, quote,
                lambda p: lead_and_co(p, category, "大走访入户") == (lead, co),
                (f"routing:{category}", *(f"office:{o}" for o in offices)))


SEED_000 = [
    Fact("文号", 1, "沧沟委发〔2020〕53号", lambda p: p.document_number == "沧沟委发〔2020〕53号"),
    Fact("成文日期", 68, "2020年6月18日", lambda p: p.issued_on == dt.date(2020, 6, 18)),
    Fact("排查动员阶段", 47, "排查动员阶段：6月15-6月28日",
         lambda p: stages(p)[0] == (StageKind.INVESTIGATE, dt.date(2020, 6, 15), dt.date(2020, 6, 28)),
         ("stage:排查动员阶段",)),
    Fact("整改落实阶段", 48, "整改落实阶段：6月29--7月12日",
         lambda p: stages(p)[1] == (StageKind.RECTIFY, dt.date(2020, 6, 29), dt.date(2020, 7, 12)),
         ("stage:整改落实阶段",)),
    Fact("迎接普查阶段", 50, "迎接普查阶段：7月13日--20日",
         lambda p: stages(p)[2] == (StageKind.REVIEW, dt.date(2020, 7, 13), dt.date(2020, 7, 20)),
         ("stage:迎接普查阶段",)),
    Fact("领导小组办公室", 53, "领导小组下设办公室在乡扶贫办",
         lambda p: p.office(p.county_office) == p.office("lgo"),
         ("office:攻坚月工作领导小组办公室",)),
    Fact("巡视回头看、考核反馈", 33, "（责任办室：乡扶贫办、各驻村工作组、各村）",
         lambda p: lead_and_co(p, "住房安全", "中央专项巡视“回头看”")
         == ("乡扶贫办", ["乡驻村工作组", OWN_VILLAGE]),
         ("routing:中央专项巡视“回头看”、成效考核反馈", "office:乡扶贫办", "office:乡驻村工作组")),
    _route_000(31, "题在6月30日前全部完成整改（责任办室：乡建环办、各村）", "住房安全", "乡建环办",
               [OWN_VILLAGE], ("乡建环办",)),
    _route_000(31, "（责任办室：乡社保所、卫健办、各村）", "基本医疗", "乡社保所",
               ["乡卫健办", OWN_VILLAGE], ("乡社保所", "乡卫健办")),
    _route_000(31, "医疗兜底保障（责任办室：乡卫健办、各村）", "医疗兜底", "乡卫健办", [OWN_VILLAGE]),
    _route_000(31, "（责任办室：乡民政和社事办、各村）", "义务教育", "乡民政和社事办", [OWN_VILLAGE],
               ("乡民政和社事办",)),
    _route_000(31, "全部解决贫困人口饮水安全问题（责任办室：乡农业服务中心、各村）", "饮水安全",
               "乡农业服务中心", [OWN_VILLAGE], ("乡农业服务中心",)),
    _route_000(35, "基本消除“空壳村”（责任办室：乡农业服务中心、各村）", "产业及村集体经济",
               "乡农业服务中心", [OWN_VILLAGE]),
    _route_000(35, "（责任办室：乡社保所、乡扶贫办、各村）", "就业扶贫", "乡社保所",
               ["乡扶贫办", OWN_VILLAGE]),
    _route_000(26, "项目务必在6月30日前完成（责任办室：乡经发办）", "扶贫项目及资金", "乡经发办", [],
               ("乡经发办",)),
    _route_000(35, "有效化解扶贫农产品滞销问题（责任办室：乡经发办、各村）", "消费扶贫", "乡经发办",
               [OWN_VILLAGE]),
    _route_000(35, "（责任办室：乡经发办、农商行沧沟分理处、各村）", "小额信贷", "乡经发办",
               ["农商行沧沟分理处", OWN_VILLAGE], ("农商行沧沟分理处",)),
    _route_000(35, "易地扶贫搬迁社会保障全面加强（责任办室：乡经发办、各村）", "搬迁后续扶持",
               "乡经发办", [OWN_VILLAGE]),
    _route_000(35, "（责任办室：乡社事办、各村）", "社会兜底救助", "乡民政和社事办", [OWN_VILLAGE]),
    Fact("识别退出、数据质量：乡扶贫办", 26, "确保“账实相符”（责任办室：乡扶贫办、各村）",
         lambda p: all(lead_and_co(p, c, "大走访入户") == ("乡扶贫办", [OWN_VILLAGE])
                       for c in ("识别退出及动态监测", "信息系统数据质量")),
         ("routing:识别退出及动态监测、信息系统数据质量",)),
    _route_000(26, "得到贫困户的认可（责任办室：各驻村工作组、各村）", "明白卡上墙及档案资料",
               "乡驻村工作组", [OWN_VILLAGE]),
    _route_000(26, "（责任办室：乡组织办、各村）", "驻村工作队履职", "乡组织办", [OWN_VILLAGE],
               ("乡组织办",)),
    _route_000(35, "（责任办室：乡建环办、农业服务中心、各村）", "人居环境", "乡建环办",
               ["乡农业服务中心", OWN_VILLAGE]),
    _route_000(35, "（责任办室：乡宣传办、各村）", "内生动力", "乡宣传办", [OWN_VILLAGE], ("乡宣传办",)),
    _route_000(35, "（责任办室：乡平安办、各村）", "信访舆情", "乡平安办", [OWN_VILLAGE], ("乡平安办",)),
    _route_000(31, "“两不愁三保障”问题清零（责任办室：乡驻村工作组、各村）", "两不愁及收入",
               "乡驻村工作组", [OWN_VILLAGE]),
    # choice: 责任落实 has no office in the seed; the leading group's office sits in 乡扶贫办.
    Fact("其余：乡扶贫办", 53, "领导小组下设办公室在乡扶贫办",
         lambda p: lead_and_co(p, "责任落实", "大走访入户") == ("乡扶贫办", [OWN_VILLAGE]),
         ("routing:其余",)),
    Fact("住房 6月30日", 31, "6月30日前全部完成整改",
         lambda p: deadline_rule(p, "住房安全", "大走访入户") == (dt.date(2020, 6, 30), None),
         ("deadline:住房安全",)),
    Fact("项目 6月30日", 26, "务必在6月30日前完成",
         lambda p: deadline_rule(p, "扶贫项目及资金", "大走访入户") == (dt.date(2020, 6, 30), None),
         ("deadline:扶贫项目及资金",)),
    Fact("其余在整改落实阶段内销号", 48, "全面整改排查问题，按照问题台账和整改责任逐项销号",
         lambda p: deadline_rule(p, "饮水安全", "百日大会战排查") == (dt.date(2020, 7, 12), None),
         ("deadline:其余",)),
    Fact("罚则", 58, "按500元/件考核", lambda p: {x.amount_yuan for x in p.penalties} == {500, 2000}),
]


@pytest.mark.parametrize("fact", SEED_000, ids=lambda f: f.what)
def test_000_fact_cites_its_seed_line(canggou: Plan, fact: Fact) -> None:
    check_fact(canggou, "000", fact)


def test_000_every_stage_office_route_and_deadline_cites_the_seed(canggou: Plan) -> None:
    assert uncovered(canggou, SEED_000) == set()


# ---------------------------------------------------------------------------------------------
# Seed 002: 沈丘县


def test_002_stages_as_dated(shenqiu: Plan) -> None:
    # "排查阶段（9月15日—9月25日）", "集中整改阶段 （9月26日—10月15日）", "提升阶段（10月16日—12月底）"
    assert stages(shenqiu) == [
        (StageKind.INVESTIGATE, dt.date(2022, 9, 15), dt.date(2022, 9, 25)),
        (StageKind.RECTIFY, dt.date(2022, 9, 26), dt.date(2022, 10, 15)),
        (StageKind.REVIEW, dt.date(2022, 10, 16), dt.date(2022, 12, 31)),
    ]


def test_002_is_county_level_with_sector_departments_and_towns(shenqiu: Plan) -> None:
    office = shenqiu.office(shenqiu.county_office)
    assert office is not None and office.name == "县巩固办"
    assert office.level is OfficeLevel.COUNTY
    county = [o for o in shenqiu.offices if o.level is OfficeLevel.COUNTY]
    assert len(county) > 10  # 县直行业部门
    assert len(shenqiu.towns) >= 20  # 各乡镇（办事处）
    assert "槐店回族镇" in {t.name for t in shenqiu.towns}
    for town in shenqiu.towns:  # one addressee per town for 督办通知书
        assert shenqiu.town_office(town.code) is not None, town.name
        assert town.villages, town.name


def test_002_notices_go_to_the_department_and_the_town(shenqiu: Plan) -> None:
    # "向相关部门和乡镇（办事处）下发问题整改督办通知书"
    for rule in shenqiu.routing:
        lead = shenqiu.office(rule.office)
        assert lead is not None and lead.level is OfficeLevel.COUNTY
        assert OWN_TOWN in rule.co_offices
    lead, co = lead_and_co(shenqiu, "住房安全", "入户排查")
    assert lead == "县住建局" and co[-2:] == [OWN_TOWN, OWN_VILLAGE]


def test_002_sources_are_household_and_sector_checks_and_feedback(shenqiu: Plan) -> None:
    # "主要采取入户排查和行业排查两种方式"
    source_names = [s.name for s in shenqiu.sources]
    assert source_names[:2] == ["入户排查", "行业排查"]
    assert {"巡视反馈", "考核评估", "专项审计", "媒体舆情"} <= set(source_names)


def test_002_everything_found_before_the_raise_stage_rectified_by_october_20(
    shenqiu: Plan,
) -> None:
    # "确保10月20前全县排查出来的问题整改完毕": what 排查 and 集中整改 find, whatever its kind.
    for category in shenqiu.categories:
        for source in shenqiu.sources:
            assert deadline_rule(shenqiu, category.name, source.name) == (
                dt.date(2022, 10, 20),
                None,
            )
    first, raised = shenqiu.deadlines.rules
    assert first.stages == ("排查阶段", "集中整改阶段")
    # "提升阶段（10月16日—12月底）… 通报问题、以查促改": its finds get working days, not 10/20.
    assert (raised.stages, raised.working_days, raised.date) == (("提升阶段",), 10, None)


def test_002_monthly_ranking(shenqiu: Plan) -> None:
    # "前3名给予表彰和奖励；后1名大会检讨发言"
    assert (shenqiu.ranking.commend_top, shenqiu.ranking.name_bottom) == (3, 1)
    assert shenqiu.ranking.by == "town"


def test_002_monitoring_line_and_detection(shenqiu: Plan) -> None:
    # "农村居民年人均纯收入低于6900元但未纳入监测对象的户"
    assert shenqiu.detection.monitoring_line_yuan == 6900
    rules = {r.code: r for r in shenqiu.detection.rules}
    assert rules["income_below_line"].category == code_of(
        shenqiu, "category", "防止返贫动态监测和帮扶"
    )
    assert rules["unsafe_house"].category == code_of(shenqiu, "category", "住房安全")
    assert shenqiu.detection.source == code_of(shenqiu, "source", "入户排查")


def test_002_eight_supervision_groups_and_no_fines(shenqiu: Plan) -> None:
    # "县委巩固衔接八个督导组"
    assert len(shenqiu.review.groups) == 8
    assert shenqiu.penalties == ()


# ---------------------------------------------------------------------------------------------
# Seed 003: 少云镇 2022


def test_003_document(shaoyun: Plan) -> None:
    assert shaoyun.document_number == "少云委〔2022〕33号"
    assert shaoyun.issued_on == dt.date(2022, 5, 9)


def test_003_stages_as_dated(shaoyun: Plan) -> None:
    # "（5月1日至5月5日）", "（5月6日至6月5日）", "问题整改阶段（6月5日至7月10日）", and the
    # campaign runs "至7月底": the rest of July is for review, 督导 and 销号.
    assert stages(shaoyun) == [
        (StageKind.MOBILISE, dt.date(2022, 5, 1), dt.date(2022, 5, 5)),
        (StageKind.INVESTIGATE, dt.date(2022, 5, 6), dt.date(2022, 6, 5)),
        (StageKind.RECTIFY, dt.date(2022, 6, 5), dt.date(2022, 7, 10)),
        (StageKind.REVIEW, dt.date(2022, 7, 11), dt.date(2022, 7, 31)),
    ]
    assert shaoyun.end == dt.date(2022, 7, 31)


def test_003_one_town_twelve_villages(shaoyun: Plan) -> None:
    # "全镇12个村"
    (town,) = shaoyun.towns
    assert town.name == "少云镇"
    assert len(town.villages) == 12


def test_003_three_deadline_nodes(shaoyun: Plan) -> None:
    # "区分“立查立改、7月底、9月底”3个节点明确整改时限"
    tiers = {t.name: t for t in shaoyun.deadlines.tiers}
    assert list(tiers) == ["立查立改", "7月底", "9月底"]
    assert tiers["立查立改"].working_days is not None
    assert tiers["7月底"].date == dt.date(2022, 7, 31)
    assert tiers["9月底"].date == dt.date(2022, 9, 30)
    assert all(r.tier in {t.code for t in tiers.values()} for r in shaoyun.deadlines.rules)
    # Every problem lands on one of the three nodes.
    for category in shaoyun.categories:
        assert deadline_rule(shaoyun, category.name, "干部走访排查")[1] in tiers


def test_003_problems_are_fed_back_to_the_agricultural_service_centre(shaoyun: Plan) -> None:
    # "反馈至镇农业服务中心，由行动专班成员集中分析研判"
    last = shaoyun.routing[-1]
    assert (last.categories, last.sources, last.towns) == ((), (), ())
    assert names(shaoyun, (last.office,)) == ["镇农业服务中心"]
    assert lead_and_co(shaoyun, "监测对象识别（应纳未纳）", "农户自主申报")[0] == "镇农业服务中心"
    # "镇卫生院、村卫生室作用发挥"
    assert "镇卫生院" in lead_and_co(shaoyun, "基本医疗", "干部走访排查")[1]


def test_003_channels_and_monitoring_line(shaoyun: Plan) -> None:
    # "畅通干部走访排查、农户自主申报、部门筛查预警等渠道"; "以家庭年人均纯收入7000元为监测范围"
    assert [s.name for s in shaoyun.sources][:3] == ["干部走访排查", "农户自主申报", "部门筛查预警"]
    assert shaoyun.detection.monitoring_line_yuan == 7000
    toilet = code_of(shaoyun, "category", "厕所革命")
    # The 户厕 rules read the plan's own 户厕摸底 facts, the 小额信贷 one its loan facts
    # (SEED_003_HOUSEHOLD).
    credit = code_of(shaoyun, "category", "小额信贷")
    assert {r.category for r in shaoyun.detection.rules if r.when} == {toilet, credit}


SEED_002_REVIEW = [
    Fact("帮扶责任人每周五走访", 81, "要求各帮扶责任人在这次专项行动中，每周五要到脱贫户、监测对象中走访",
         lambda p: duty_of(p, "帮扶责任人走访")
         == (Recurrence.WEEKLY, 5, None, None, 0, [OWN_VILLAGE]),
         ("duty:帮扶责任人走访",)),
    Fact("排查、集中整改发现的问题10月20日前整改完毕", 85, "确保10月20前全县排查出来的问题整改完毕",
         lambda p: p.deadlines.rules[0].stages == ("排查阶段", "集中整改阶段")
         and p.deadlines.rules[0].date == dt.date(2022, 10, 20),
         ("deadline:其余",)),
    Fact("提升阶段发现的问题另计时限", 86, "（三）提升阶段（10月16日—12月底）",
         lambda p: p.deadlines.rules[1].stages == ("提升阶段",)
         and p.deadlines.rules[1].working_days == 10),
    # The groups work irregularly and the seed gives them no count: the plan sets none.
    Fact("八个督导组，不定期督导，无每日抽查数", 27, "县委巩固衔接八个督导组，不定期到各乡镇、各有关单位开展督导检查",
         lambda p: len(p.review.groups) == 8
         and (p.review.quota.closed_problems, p.review.quota.households,
              p.review.quota.villages) == (0, 0, 0)),
    # Notices go to departments and towns alike: a town co-office (各乡镇) gets its own.
    Fact("督办通知书下发到相关部门和乡镇", 85, "向相关部门和乡镇（办事处）下发问题整改督办通知书",
         lambda p: p.notices.co_offices.town is CoOfficeNotice.OWN
         and any(OWN_TOWN in r.co_offices for r in p.routing)),
    Fact("月考评结果通报各乡镇", 91, "县巩固办对各乡镇（办事处）集中整改提升工作落实情况进行评比奖励",
         lambda p: set(p.reports.ranking_to) >= {"county", "towns"}),
    Fact("乡镇和部门每天上报整改进度，日报发回各方", 85,
         "各乡镇（办事处）和相关行业部门要迅速进行整改，每天上报问题整改进度",
         lambda p: set(p.reports.daily_to) == {"county", "towns", "offices"}),
]


@pytest.mark.parametrize("fact", SEED_002_REVIEW, ids=lambda f: f.what)
def test_002_fact_cites_its_seed_line(shenqiu: Plan, fact: Fact) -> None:
    check_fact(shenqiu, "002", fact)


SEED_003_STAGES = [
    Fact("监测联系人按月走访", 64, "监测联系人是否按月走访",
         lambda p: duty_of(p, "监测联系人走访")
         == (Recurrence.MONTHLY, None, 31, None, 0, ["镇农业服务中心"]),
         ("duty:监测联系人走访",)),
    Fact("行动至7月底", 52, "2022年4月底开始至7月底", lambda p: p.end == dt.date(2022, 7, 31)),
    Fact("第一阶段 5/1–5/5", 53, "第一阶段：召开动员部署大会和业务培训（5月1日至5月5日）",
         lambda p: stages(p)[0] == (StageKind.MOBILISE, dt.date(2022, 5, 1), dt.date(2022, 5, 5)),
         ("stage:动员部署和业务培训",)),
    Fact("第二阶段 5/6–6/5", 56, "第二阶段：镇村干部走访排查阶段（5月6日至6月5日）",
         lambda p: stages(p)[1]
         == (StageKind.INVESTIGATE, dt.date(2022, 5, 6), dt.date(2022, 6, 5)),
         ("stage:镇村干部走访排查阶段",)),
    Fact("第三阶段 6/5–7/10", 58, "第三阶段：问题整改阶段（6月5日至7月10日）",
         lambda p: stages(p)[2] == (StageKind.RECTIFY, dt.date(2022, 6, 5), dt.date(2022, 7, 10)),
         ("stage:问题整改阶段",)),
    # The review stage fills the campaign's last weeks: 销号 in order, the 专班 supervising.
    Fact("复核阶段 7/11–7/31：整改销号", 59, "序时完成整改销号",
         lambda p: stages(p)[3] == (StageKind.REVIEW, dt.date(2022, 7, 11), dt.date(2022, 7, 31)),
         ("stage:整改销号和督导阶段",)),
    Fact("专班督导组抽查", 70, "巩固拓展脱贫攻坚成果工作专班要发挥牵头、督导作用",
         lambda p: [g.name for g in p.review.groups] == ["工作专班督导组"]
         and p.review.quota.households > 0),
    Fact("三个整改节点", 59, "区分“立查立改、7月底、9月底”3个节点明确整改时限",
         lambda p: [(t.name, t.date) for t in p.deadlines.tiers]
         == [("立查立改", None), ("7月底", dt.date(2022, 7, 31)), ("9月底", dt.date(2022, 9, 30))],
         ("tier:immediate", "tier:july", "tier:september")),
]


SEED_003_HOUSEHOLD = [
    Fact("户厕摸底信息导入模板", 54, "（户厕摸底信息导入模板附件3）模板格式要求，录入本村所有农户基本信息和户厕摸底",
         lambda p: [f.label for f in p.household.fields][:3] == ["粪污处理方式", "厕所使用状况", "改厕意愿"]),
    Fact("粪污处理方式", 68, "了解农户厕所现状、粪污处理方式",
         lambda p: field_of(p, "粪污处理方式")[:3]
         == (FieldType.CHOICE, ("三格式化粪池", "双瓮漏斗式", "沼气池式", "接入污水管网", "直排", "其他"),
             False),
         ("field:粪污处理方式",)),
    Fact("厕所使用状况", 68, "使用状况",
         lambda p: field_of(p, "厕所使用状况")[:2] == (FieldType.CHOICE, ("正常使用", "损坏", "闲置")),
         ("field:厕所使用状况",)),
    Fact("改厕意愿", 68, "以及农户改厕意愿",
         lambda p: field_of(p, "改厕意愿") == (FieldType.CHOICE, ("愿意", "不愿意"), False, False),
         ("field:改厕意愿",)),
    Fact("有改厕意愿而未改厕是问题", 68, "了解农户厕所现状、粪污处理方式、使用状况以及农户改厕意愿",
         lambda p: rule_of(p, "农户有改厕意愿但尚未改厕")
         == ("厕所革命", ["是否有卫生厕所为否", "改厕意愿为愿意"]),
         ("detection:农户有改厕意愿但尚未改厕",)),
    Fact("改造户厕损坏或闲置", 68, "二是农村厕所改造情况，重点排查改造户厕是否符合",
         lambda p: rule_of(p, "改造户厕损坏或闲置")
         == ("厕所革命", ["是否有卫生厕所为是", "厕所使用状况为损坏或闲置"]),
         ("detection:改造户厕损坏或闲置",)),
    Fact("粪污直排", 68, "粪污处理方式",
         lambda p: rule_of(p, "粪污未经处理直排") == ("厕所革命", ["粪污处理方式为直排"]),
         ("detection:粪污未经处理直排",)),
    # (三)四查小额信贷: a loan's 到期日 (a date) and whether it is repaid, compared with the 检查日.
    Fact("小额信贷到期日", 66, "参与脱贫人口小额信贷的农户",
         lambda p: field_of(p, "小额信贷到期日") == (FieldType.DATE, (), False, False),
         ("field:小额信贷到期日",)),
    Fact("是否已还清", 66, "是否存在贷款到期无法偿还的情况",
         lambda p: field_of(p, "是否已还清") == (FieldType.YES_NO, (), False, False),
         ("field:是否已还清",)),
    Fact("贷款到期无法偿还", 66, "是否存在贷款到期无法偿还的情况",
         lambda p: rule_of(p, "贷款到期无法偿还")
         == ("小额信贷", ["小额信贷到期日早于检查日", "是否已还清为否"]),
         ("detection:贷款到期无法偿还",)),
]


@pytest.mark.parametrize("fact", SEED_003_STAGES + SEED_003_HOUSEHOLD, ids=lambda f: f.what)
def test_003_fact_cites_its_seed_line(shaoyun: Plan, fact: Fact) -> None:
    check_fact(shaoyun, "003", fact)


def test_003_every_stage_deadline_node_and_household_fact_cites_the_seed(shaoyun: Plan) -> None:
    left = uncovered(shaoyun, SEED_003_STAGES + SEED_003_HOUSEHOLD)
    assert not {p for p in left if p.startswith(("stage:", "tier:", "field:", "detection:"))}


# ---------------------------------------------------------------------------------------------
# Seed 001: 云阳县 2020 收官大决战


@pytest.fixture(scope="module")
def yunyang() -> Plan:
    return load_plan_file(PLANS / "seed-001-yunyang-2020.yaml")


def route_of(plan: Plan, category: str, source: str, town: str) -> tuple[str, list[str]]:
    """(lead, co-offices) by name for a problem of a category and source in a town (by name)."""
    where = next(t.code for t in plan.towns if t.name == town)
    rule = rule_for(plan, category, source, where)
    return names(plan, (rule.office,))[0], names(plan, rule.co_offices)


def county_office_named(plan: Plan, name: str) -> bool:
    return any(o.name == name and o.level is OfficeLevel.COUNTY for o in plan.offices)


YUNYANG_TOWNS = ("双江街道", "青龙街道", "人和街道", "盘龙街道", "泥溪镇", "龙角镇", "江口镇", "南溪镇")
# The departments the seed does not name: "县级相关部门" (L29) for each line of work.
YUNYANG_SECTOR = ("县教委", "县住房城乡建委", "县水利局", "县农业农村委", "县人力社保局", "县发展改革委",
                  "县金融办", "县商务委", "县财政局", "县委组织部", "县委宣传部")
# (categories, the department that leads them, co-offices): the usual county division of work.
YUNYANG_SECTOR_ROUTES = (
    ("义务教育", "县教委", [OWN_TOWN]),
    ("住房安全、人居环境", "县住房城乡建委", [OWN_TOWN]),
    ("饮水安全、防灾救灾", "县水利局", [OWN_TOWN]),
    ("产业扶贫", "县农业农村委", [OWN_TOWN]),
    ("就业扶贫", "县人力社保局", [OWN_TOWN]),
    ("易地扶贫搬迁后续帮扶", "县发展改革委", [OWN_TOWN]),
    ("扶贫小额信贷", "县金融办", ["县扶贫办", OWN_TOWN]),
    ("消费扶贫", "县商务委", [OWN_TOWN]),
    ("驻村帮扶", "县委组织部", [OWN_TOWN]),
)


def _town_leads_data(p: Plan) -> bool:
    """Every town's data-quality items are routed (by the engine) to that town's own office."""
    router = Router.for_plan(p)
    data, census = code_of(p, "category", "建档立卡数据质量"), code_of(p, "source", "脱贫攻坚普查")
    for town in p.towns:
        office = p.town_office(town.code)
        assert office is not None
        if router.route(data, census, town.code, None) != Route(office.code, (), 0):
            return False
    return [t.name for t in p.towns] == list(YUNYANG_TOWNS)


def _sector_routes(p: Plan) -> bool:
    return all(
        route_of(p, cat, "专项督查", "泥溪镇") == (lead, co)
        for cats, lead, co in YUNYANG_SECTOR_ROUTES
        for cat in cats.split("、")
    )


YUNYANG_REPORTERS = [OWN_TOWN, "县扶贫办", "县档案局", "县民政局", "县卫生健康委", "县医保局", "县教委",
                     "县住房城乡建委", "县水利局", "县农业农村委", "县人力社保局", "县发展改革委", "县金融办",
                     "县商务委", "县财政局", "县委组织部", "县委宣传部"]


def _project_milestones(p: Plan) -> list[tuple[str, dt.date]]:
    rule = next(r for r in p.deadlines.rules if r.categories == ("projects",))
    return [(m.name, m.date) for m in rule.milestones]


SEED_001 = [
    Fact("扶贫项目 9/15 开工、11月底完工：两个节点", 17,
         "确保9月15日前所有扶贫项目全面开工,确保直接关系脱贫攻坚任务圆满完成的扶贫项目11月底前完工率达100%",
         lambda p: _project_milestones(p)
         == [("开工", dt.date(2020, 9, 15)), ("完工", dt.date(2020, 11, 30))]),
    Fact("综合报告 12月10日前报县扶贫开发领导小组办公室", 40,
         "各乡镇(街道)、县级相关部门要对脱贫攻坚以来的工作和成果进行全面分析评估,形成综合性报告,12月10日前报",
         lambda p: duty_of(p, "综合报告")
         == (Recurrence.ONCE, None, None, dt.date(2020, 12, 10), 0, YUNYANG_REPORTERS),
         ("duty:综合报告",)),
    Fact("12月25日前总结上报", 49, "12月25日前,总结上报“收官大决战”情况",
         lambda p: duty_of(p, "总结上报")
         == (Recurrence.ONCE, None, None, dt.date(2020, 12, 25), 0, YUNYANG_REPORTERS),
         ("duty:总结上报",)),
    Fact("成文日期 2020-09-04", 1, "2020年9月4日", lambda p: p.issued_on == dt.date(2020, 9, 4)),
    Fact("县委、县政府制定方案", 47, "县委、县政府研究制定《全县脱贫攻坚“收官大决战”实施方案》",
         lambda p: p.issuer == "中共云阳县委、云阳县人民政府" and p.document_number == ""),
    Fact("云阳县", 40, "讲好云阳脱贫攻坚故事", lambda p: p.name.startswith("云阳县")),
    Fact("动员部署 9/1–9/5", 46, "(一)动员部署(9月1日至9月5日)",
         lambda p: stages(p)[0] == (StageKind.MOBILISE, dt.date(2020, 9, 1), dt.date(2020, 9, 5)),
         ("stage:动员部署",)),
    Fact("组织实施 9/6–12/31", 48, "(二)组织实施(9月6日至12月31日)",
         lambda p: stages(p)[1] == (StageKind.RECTIFY, dt.date(2020, 9, 6), dt.date(2020, 12, 31)),
         ("stage:组织实施",)),
    Fact("分级评估与组织实施同时", 51, "坚持边决战、边督导、边评估",
         lambda p: p.stages[2].name == "分级评估" and p.stages[2].kind is StageKind.REVIEW
         and p.stages[2].start == dt.date(2020, 9, 6),
         ("stage:分级评估",)),
    Fact("县扶贫开发领导小组办公室统筹、月通报", 54,
         "县扶贫开发领导小组办公室统筹协调,定期收集“收官大决战”进度,实行月通报制度",
         lambda p: p.office(p.county_office) == p.office("lgo")
         and county_office_named(p, "县扶贫开发领导小组办公室")
         and p.ranking.by == "town" and p.reports.monthly_day == 1,
         ("office:县扶贫开发领导小组办公室",)),
    Fact("乡镇（街道）和县级部门是责任主体", 54, "各乡镇(街道)、县级相关部门是“收官大决战”的责任主体",
         lambda p: [t.name for t in p.towns] == list(YUNYANG_TOWNS)
         and all(p.town_office(t.code) is not None for t in p.towns),
         tuple(f"office:{o}" for o in (
             "双江街道办事处", "青龙街道办事处", "人和街道办事处", "盘龙街道办事处", "泥溪镇人民政府",
             "龙角镇人民政府", "江口镇人民政府", "南溪镇人民政府"))),
    Fact("泥溪镇在范围内", 40, "泥溪镇要及时、全面做好", lambda p: "泥溪镇" in YUNYANG_TOWNS),
    # Routing.
    Fact("数据质量由各乡镇（街道）牵头", 35, "各乡镇(街道)要围绕建档立卡户基础信息、帮扶措施、政策落实等情况",
         lambda p: _town_leads_data(p) and rule_for(p, "建档立卡数据质量", "对标查漏").office == OWN_TOWN,
         ("routing:建档立卡数据质量",)),
    Fact("档案：县档案局牵头、县扶贫办配合", 37, "由县档案局牵头、县扶贫办配合",
         lambda p: route_of(p, "扶贫档案", "专项督查", "泥溪镇") == ("县档案局", ["县扶贫办", OWN_TOWN]),
         ("routing:扶贫档案", "office:县档案局", "office:县扶贫办")),
    Fact("兜底：民政部门牵头", 19, "由民政部门牵头,有关部门协同配合",
         lambda p: route_of(p, "兜底保障", "脱贫攻坚普查", "龙角镇") == ("县民政局", [OWN_TOWN]),
         ("routing:兜底保障", "office:县民政局")),
    Fact("医疗：卫生健康、医保、扶贫部门", 25, "扶贫、卫生健康、医保等部门要完善数据共享机制",
         lambda p: route_of(p, "基本医疗", "扶贫审计", "双江街道")
         == ("县卫生健康委", ["县医保局", "县扶贫办", OWN_TOWN]),
         ("routing:基本医疗", "office:县卫生健康委", "office:县医保局")),
    Fact("县级部门整改并指导督促乡镇（街道）", 29,
         "县级相关部门既要整改本部门的问题,也要指导督促乡镇(街道)整改行业扶贫有关问题",
         lambda p: all(county_office_named(p, o) for o in YUNYANG_SECTOR) and _sector_routes(p),
         tuple(f"office:{o}" for o in YUNYANG_SECTOR)
         + tuple(f"routing:{cats}" for cats, _, _ in YUNYANG_SECTOR_ROUTES)),
    Fact("资金：县级财政", 10, "县级财政投入力度不减",
         lambda p: route_of(p, "扶贫项目及资金", "扶贫审计", "人和街道")
         == ("县扶贫办", ["县财政局", OWN_TOWN]),
         ("routing:扶贫项目及资金",)),
    Fact("涉贫舆情：宣传", 42, "强化涉贫舆情管控",
         lambda p: route_of(p, "涉贫舆情", "国家媒体暗访", "江口镇") == ("县委宣传部", [OWN_TOWN]),
         ("routing:涉贫舆情",)),
    Fact("其余问题：县扶贫办与所在乡镇", 29, "各乡镇(街道)要对照共性问题举一反三、全面整改",
         lambda p: route_of(p, "责任落实", "百日大会战", "南溪镇") == ("县扶贫办", [OWN_TOWN])
         and route_of(p, "防止返贫监测帮扶", "第三方暗访抽查", "南溪镇") == ("县扶贫办", [OWN_TOWN]),
         ("routing:其余",)),
    # Deadlines.
    Fact("巡视“回头看”、成效考核 10月底", 28, "专项巡视“回头看”、成效考核整改任务10月底前全部整改落实",
         lambda p: deadline_rule(p, "住房安全", "巡视“回头看”") == (dt.date(2020, 10, 31), None)
         and deadline_rule(p, "义务教育", "成效考核") == (dt.date(2020, 10, 31), None),
         ("deadline:巡视“回头看”、成效考核",)),
    Fact("制度建设 10月底", 30, "整改方案提出的制度建设任务于10月底前全面完成",
         lambda p: deadline_rule(p, "制度机制建设", "专项督查") == (dt.date(2020, 10, 31), None),
         ("deadline:制度机制建设",)),
    Fact("危房改造 11月底入住", 22, "确保11月底前全部入住",
         lambda p: deadline_rule(p, "住房安全", "扶贫审计") == (dt.date(2020, 11, 30), None),
         ("deadline:住房安全",)),
    Fact("扶贫项目 11月底完工", 17, "扶贫项目11月底前完工率达100%",
         lambda p: deadline_rule(p, "扶贫项目及资金", "扶贫审计") == (dt.date(2020, 11, 30), None),
         ("deadline:扶贫项目及资金",)),
    Fact("其他各类问题 11月底", 29, "确保所有问题于11月底前全部整改到位",
         lambda p: all(deadline_rule(p, c.name, s) == (dt.date(2020, 11, 30), None)
                       for c in p.categories if c.name != "制度机制建设"
                       for s in ("脱贫攻坚普查", "专项督查", "扶贫审计", "国家媒体暗访", "百日大会战",
                                 "第三方暗访抽查")),
         ("deadline:其余",)),
    # Sources, review.
    Fact("问题来源", 29, "针对国家脱贫攻坚普查、国家和市级2020年脱贫攻坚专项督查、国家和市级扶贫审计、国家媒体暗访、"
         "“百日大会战”、第三方暗访抽查发现问题",
         lambda p: {"脱贫攻坚普查", "专项督查", "扶贫审计", "国家媒体暗访", "百日大会战", "第三方暗访抽查"}
         <= {s.name for s in p.sources}),
    Fact("定点、定项督导,不随机抽查", 58, "开展定点、定项“点穴式”专项督导检查",
         lambda p: len(p.review.groups) == 1
         and (p.review.quota.closed_problems, p.review.quota.households,
              p.review.quota.villages) == (0, 0, 0)),
]


@pytest.mark.parametrize("fact", SEED_001, ids=lambda f: f.what)
def test_001_fact_cites_its_seed_line(yunyang: Plan, fact: Fact) -> None:
    check_fact(yunyang, "001", fact)


def test_001_every_stage_office_route_and_deadline_cites_the_seed(yunyang: Plan) -> None:
    assert uncovered(yunyang, SEED_001) == set()


def test_001_lints_clean(yunyang: Plan) -> None:
    assert lint_plan(yunyang) == ()


# ---------------------------------------------------------------------------------------------
# Seed 004: a county in 安徽, 2019, 抓整改、严责任、促攻坚


@pytest.fixture(scope="module")
def anhui() -> Plan:
    return load_plan_file(PLANS / "seed-004-anhui-2019.yaml")


ANHUI_TOWNS = ("城关镇", "新集镇", "双河镇", "大桥乡", "经济开发区")
# (line, the seed's words for the department, its office, the categories it leads).
ANHUI_DEPARTMENTS = (
    (49, "（1）县委组织部门：结对帮扶责任人", "县委组织部", "结对帮扶责任落实"),
    (49, "（2）县教育部门", "县教育局", "义务教育"),
    (49, "（3）县卫计部门：建档立卡贫困户慢性病卡全部办理", "县卫计委", "健康扶贫"),
    (49, "（4）县人社部门：建档立卡贫困户家庭人员基本医疗保险全部由政府代缴", "县人社局", "基本医疗保险代缴"),
    (51, "县住建部门：符合危房改造政策范围农户“应改尽改”", "县住建局", "住房安全"),
    (51, "（6）县残联", "县残联", "残疾人证和补助"),
    (51, "（7）县发改部门：易地扶贫搬迁政策全面落实", "县发改委", "易地扶贫搬迁"),
    (51, "县水利局", "县水利局", "饮水安全"),
    (51, "县金融办", "县金融办", "小额信贷"),
    (51, "县农委", "县农委", "产业扶贫"),
    (51, "县民政局", "县民政局", "低保兜底"),
)


def _open_stage(p: Plan, index: int, kind: StageKind, name: str) -> bool:
    s = p.stages[index]
    return (s.kind, s.name, s.start, s.end) == (kind, name, dt.date(2019, 2, 12), None)


SEED_004 = [
    Fact("每晚会商，次日上报指挥部", 75, "县督查组每晚要组织召开碰头协调会，现场安排解决问题，并于次日",
         lambda p: duty_of(p, "每晚会商") == (Recurrence.DAILY, None, None, None, 1, [OWN_TOWN]),
         ("duty:每晚会商",)),
    Fact("活动名称", 3, "全县脱贫攻坚“抓整改、严责任、促攻坚” 活动实施方案",
         lambda p: p.name == "全县脱贫攻坚“抓整改、严责任、促攻坚”活动" and p.document_number == ""),
    Fact("2月12日开始，无结束日期", 9, "2019年2月12日开始。",
         lambda p: p.start == dt.date(2019, 2, 12) and p.end is None),
    Fact("入户专班排查", 29, "继续向乡镇（开发区）派驻入户排查专班",
         lambda p: _open_stage(p, 0, StageKind.INVESTIGATE, "入户专班排查"),
         ("stage:入户专班排查",)),
    Fact("立即梳理整改", 39, "立即对 2018 年省第三方监测评估反馈问题和中央巡视组反馈问题进行全面梳理",
         lambda p: _open_stage(p, 1, StageKind.RECTIFY, "梳理问题抓好整改")
         and {"省第三方监测评估反馈", "中央巡视组反馈"} <= {s.name for s in p.sources},
         ("stage:梳理问题抓好整改",)),
    Fact("驻点督查 2/12 起，适时调整", 75, "（后期工作根据贫困县退出第三方监测评估具体时间适时调整）",
         lambda p: _open_stage(p, 2, StageKind.REVIEW, "驻点督查"),
         ("stage:驻点督查",)),
    Fact("指挥部", 75, "次日将督查情况统计上报县贫困县高质量退出指挥部",
         lambda p: p.office(p.county_office) is not None
         and p.office(p.county_office).name == "县贫困县高质量退出指挥部"  # type: ignore[union-attr]
         and p.reports.daily_at == dt.time(20, 0),
         ("office:县贫困县高质量退出指挥部",)),
    Fact("县扶贫办提供名单", 75, "以上随机抽查村、户名单由县扶贫办负责提供给县督查组",
         lambda p: county_office_named(p, "县扶贫办")
         and (names(p, (p.routing[-1].office,)), p.routing[-1].co_offices, p.routing[-1].categories)
         == (["县扶贫办"], (OWN_TOWN, OWN_VILLAGE), ()),
         ("office:县扶贫办", "routing:其余")),
    Fact("乡镇（开发区）扶贫工作站", 55, "根据问题清单（已发各乡镇、开发区扶贫工作站邮箱）进行盘点销号",
         lambda p: [t.name for t in p.towns] == list(ANHUI_TOWNS)
         and all((o := p.town_office(t.code)) is not None and o.name == f"{t.name}扶贫工作站"
                 for t in p.towns),
         tuple(f"office:{t}扶贫工作站" for t in ANHUI_TOWNS)),
    Fact("人居环境：乡镇负总责、村为主体", 23, "由乡镇（开发区）负总责、村为主体",
         lambda p: route_of(p, "人居环境", "结对帮扶走访", "新集镇") == (OWN_TOWN, [OWN_VILLAGE]),
         ("routing:人居环境",)),
    Fact("识别退出、档案、贫困村：乡镇和村", 41,
         "乡镇（开发区）、村整改的重点要求：（1）所有建档立卡贫困户识别、退出程序全部规范到位",
         lambda p: all(route_of(p, c, "入户专班排查", "大桥乡") == (OWN_TOWN, [OWN_VILLAGE])
                       for c in ("识别退出", "档案资料", "贫困村出列指标")),
         ("routing:识别退出、档案资料、贫困村出列指标",)),
    Fact("大数据平台：乡镇", 47, "根据国办系统数据信息对安徽省脱贫攻坚大数据平台进行全面更新和维护",
         lambda p: route_of(p, "信息数据", "入户专班排查", "双河镇")
         == (OWN_TOWN, ["县扶贫办", OWN_VILLAGE]),
         ("routing:信息数据",)),
    *(
        Fact(f"{office}牵头{category}", line, words,
             lambda p, o=office, c=category: county_office_named(p, o)
             and route_of(p, c, "县督查组督查", "经济开发区") == (o, [OWN_TOWN, OWN_VILLAGE]),
             (f"office:{office}", f"routing:{category}"))
        for line, words, office, category in ANHUI_DEPARTMENTS
    ),
    Fact("事不过夜", 35, "“事不过夜”，落实整改",
         lambda p: [(t.name, t.working_days) for t in p.deadlines.tiers] == [("事不过夜", 1)]
         and deadline_rule(p, "住房安全", "入户专班排查") == (None, "事不过夜"),
         ("tier:overnight", "deadline:入户专班排查")),
    Fact("向各乡镇（开发区）派驻督查组", 73, "县委、县政府向各乡镇（开发区）派驻脱贫攻坚工作督查组",
         lambda p: p.issuer == "县委、县政府"
         and [(g.name, names(p, g.towns)) for g in p.review.groups]
         == [(f"{t.name}督查组", [t.code]) for t in p.towns]),
    Fact("每日抽查：10户走访", 75, "每天要随机抽查不少于 10 户结对帮扶联系人帮扶走访情况",
         lambda p: p.review.quota.households == 10),
    Fact("每日抽查：5户专班", 75, "每天要随机抽查不少于 5 户专班排查入户情况",
         lambda p: p.review.quota.more_households[0] == HouseholdDraw("team", "专班排查入户", 5)),
    Fact("每日抽查：2个村、10户人居环境", 75, "每天要随机抽查不少于 2 个村、10 户贫困户人居环境整治情况",
         lambda p: p.review.quota.villages == 2 and p.review.quota.more_households[1]
         == HouseholdDraw("environment", "人居环境整治", 10)),
    Fact("每日抽查：5个销号问题", 75, "每天随机抽查不少于 5 个反馈问题盘点销号整改落实情况",
         lambda p: p.review.quota.closed_problems == 5),
    Fact("村、户名单由县扶贫办提供：任何村都可抽", 75, "以上随机抽查村、户名单由县扶贫办负责提供给县督查组",
         lambda p: p.review.quota.villages_without_households),
    Fact("一票否决", 79, "对所在乡镇（开发区）和联系该乡镇（开发区）的县直单位直接实行“一票否决”",
         lambda p: p.reminders.rungs[-1].name == "一票否决" and p.penalties == ()
         and all(p.office(t.liaison) is not None
                 and p.office(t.liaison).level is OfficeLevel.COUNTY  # type: ignore[union-attr]
                 for t in p.towns)),
    Fact("包保单位", 73, "副组长由牵头包保该乡镇的县直单位主要负",
         lambda p: [names(p, (t.liaison,))[0] for t in p.towns]
         == ["县住建局", "县教育局", "县卫计委", "县人社局", "县发改委"]),
    Fact("边缘户类型（可兼有）", 29, "对未纳入建档立卡的低保户、危房户、重病户、残疾人户、独居老人户、无劳力户",
         lambda p: field_of(p, "边缘户类型") == (
             FieldType.CHOICE, ("低保户", "危房户", "重病户", "残疾人户", "独居老人户", "无劳力户"),
             True, False),
         ("field:边缘户类型",)),
    Fact("边缘户的帮扶保障措施", 47, "对边缘户还要有采取的必要帮扶保障措施",
         lambda p: field_of(p, "帮扶保障措施")[0] is FieldType.TEXT,
         ("field:帮扶保障措施",)),
    Fact("无劳力边缘户未落实帮扶保障", 33, "五是家中无劳动力或弱劳动力户",
         lambda p: rule_of(p, "无劳力边缘户未落实帮扶保障措施")
         == ("低保兜底", ["边缘户类型含无劳力户", "帮扶保障措施未填写"]),
         ("detection:无劳力边缘户未落实帮扶保障措施",)),
    Fact("边缘户未落实帮扶保障", 47, "对边缘户还要有采取的必要帮扶保障措施",
         lambda p: rule_of(p, "边缘户未落实帮扶保障措施")
         == ("识别退出", ["边缘户类型已填写", "边缘户类型不含无劳力户", "帮扶保障措施未填写"]),
         ("detection:边缘户未落实帮扶保障措施",)),
    Fact("边缘户佐证资料", 61, "（4）边缘户的佐证资料务必准备并且充分有力",
         lambda p: field_of(p, "边缘户佐证资料是否齐全")[0] is FieldType.YES_NO
         and rule_of(p, "边缘户佐证资料不齐全")
         == ("档案资料", ["边缘户类型已填写", "边缘户佐证资料是否齐全为否"]),
         ("field:边缘户佐证资料是否齐全", "detection:边缘户佐证资料不齐全")),
    Fact("残疾证", 51, "（6）县残联：贫困户家中符合认定条件的残疾人全部办理残疾证",
         lambda p: field_of(p, "残疾证办理情况")[1] == ("已办理", "未办理", "不符合办理条件")
         and rule_of(p, "残疾人未办理残疾证") == ("残疾人证和补助", ["残疾证办理情况为未办理"]),
         ("field:残疾证办理情况", "detection:残疾人未办理残疾证")),
    Fact("慢性病卡", 49, "（3）县卫计部门：建档立卡贫困户慢性病卡全部办理",
         lambda p: field_of(p, "慢性病卡办理情况")[1] == ("已办理", "未办理", "不符合办理条件")
         and rule_of(p, "建档立卡户慢性病卡未办理")
         == ("健康扶贫", ["农户类别为建档立卡脱贫户", "慢性病卡办理情况为未办理"]),
         ("field:慢性病卡办理情况", "detection:建档立卡户慢性病卡未办理")),
    Fact("不符合办理条件的准备证明材料", 53, "对不符合办理残疾证、慢性病卡等相关证件的贫困人口",
         lambda p: "不符合办理条件" in field_of(p, "慢性病卡办理情况")[1]),
]


@pytest.mark.parametrize("fact", SEED_004, ids=lambda f: f.what)
def test_004_fact_cites_its_seed_line(anhui: Plan, fact: Fact) -> None:
    check_fact(anhui, "004", fact)


def test_004_every_stage_office_route_and_deadline_cites_the_seed(anhui: Plan) -> None:
    assert uncovered(anhui, SEED_004) == set()


def test_004_lint_remarks_only_the_open_ended_stages(anhui: Plan) -> None:
    assert [r.path for r in lint_plan(anhui)] == [f"stages[{i}].end" for i in range(3)]


# ---------------------------------------------------------------------------------------------
# All seeds


def test_lint_remarks(canggou: Plan, shenqiu: Plan, shaoyun: Plan) -> None:
    assert lint_plan(canggou) == ()
    assert lint_plan(shenqiu) == ()
    # The 9月底 node runs past the campaign's 7月底: the seed's own design.
    assert [r.path for r in lint_plan(shaoyun)] == ["deadlines.tiers[2].date"]


def test_every_village_problem_has_its_village_among_co_offices(
    canggou: Plan, shenqiu: Plan, shaoyun: Plan
) -> None:
    for plan in (canggou, shenqiu, shaoyun):
        with_village = [r for r in plan.routing if OWN_VILLAGE in r.co_offices]
        assert len(with_village) >= len(plan.routing) - 1, plan.name


def test_documents_address_the_towns_with_the_seeds_own_place_words(
    canggou: Plan, yunyang: Plan, shenqiu: Plan, shaoyun: Plan, anhui: Plan
) -> None:
    # Seed 001 "各乡镇(街道)", seed 002 "各乡镇（办事处）", seed 004 "各乡镇（开发区）"; the
    # township plans address their villages (seed 003 "各村（社区）").
    assert [towns_addressee(p) for p in (canggou, yunyang, shenqiu, shaoyun, anhui)] == [
        "各村（社区）", "各乡镇（街道）", "各乡镇（办事处）", "各村（社区）", "各乡镇（开发区）"]
