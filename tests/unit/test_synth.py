"""The seeded synthetic county generator (duban.synth)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from statistics import median
from typing import Any

import pytest

from duban.domain.columns import HOUSEHOLD_COLUMNS, PROBLEM_COLUMNS, VISIT_COLUMNS
from duban.domain.detection import RULE_CODES, detect
from duban.domain.household import (
    HouseholdCategory,
    HouseholdFacts,
    MonitoringType,
    VisitMode,
)
from duban.domain.plan import (
    Category,
    DeadlinePolicy,
    DeadlineTier,
    DetectionPolicy,
    DetectionRule,
    Plan,
    RankingPolicy,
    ReminderPolicy,
    ReportSchedule,
    ReviewPolicy,
    Source,
    Stage,
    StageKind,
    Town,
    Village,
)
from duban.synth import (
    BUILTIN_CATEGORIES,
    BUILTIN_SOURCES,
    CATEGORY_TEMPLATES,
    SIZES,
    SynthError,
    SyntheticCounty,
    generate_county,
    generate_for_plan,
    iter_household_rows,
    iter_problem_rows,
    iter_visit_rows,
    resolve_category_codes,
    resolve_source_codes,
)
from duban.synth.slots import HOUSEHOLD_SLOTS, SlotContext, fill, template_fields
from duban.synth.templates import FACT_TEMPLATES, Scope

START = dt.date(2022, 5, 6)
END = dt.date(2022, 6, 5)
ROOT = Path(__file__).resolve().parents[2]
ALL_RULES = DetectionPolicy(
    monitoring_line_yuan=6900,
    rules=tuple(DetectionRule(code, "c") for code in RULE_CODES),
    source="s",
)


def make(size: str = "township", seed: int = 2022, **kw: Any) -> SyntheticCounty:
    return generate_county(size, seed, start=START, end=END, **kw)


@pytest.fixture(scope="module")
def mid() -> SyntheticCounty:
    """A moderate county: the county's 22 towns and ~400 villages, 20,000 households."""
    return make("county", households=20_000)


@pytest.fixture(scope="module")
def township() -> SyntheticCounty:
    return make("township")


def digest(c: SyntheticCounty) -> str:
    h = hashlib.sha256()
    for part in (c.towns, c.households, c.visits, c.problems):
        h.update(repr(part).encode())
    return h.hexdigest()


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_gives_identical_output(township: SyntheticCounty) -> None:
    again = make("township")
    assert again.towns == township.towns
    assert again.households == township.households
    assert again.visits == township.visits
    assert again.problems == township.problems


def test_same_seed_is_identical_across_processes_with_other_hash_seeds() -> None:
    code = (
        "import datetime as dt, hashlib, sys\n"
        "from duban.synth import generate_county\n"
        "c = generate_county('small', 7, start=dt.date(2022,5,6), end=dt.date(2022,6,5))\n"
        "h = hashlib.sha256()\n"
        "for part in (c.towns, c.households, c.visits, c.problems): h.update(repr(part).encode())\n"
        "print(h.hexdigest())\n"
    )
    outs = set()
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outs.add(run.stdout.strip())
    assert outs == {digest(make("small", 7))}


def test_different_seeds_differ() -> None:
    a, b = make("small", 1), make("small", 2)
    assert [h.head for h in a.households] != [h.head for h in b.households]
    assert a.towns != b.towns
    assert digest(a) != digest(b)


def test_households_do_not_depend_on_the_category_mapping(township: SyntheticCounty) -> None:
    other = make("township", categories={"住房安全": "ZF"}, sources={"入户排查": "RH"})
    assert other.households == township.households
    assert other.towns == township.towns


# -- sizes and places ------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["small", "township"])
def test_sizes_are_within_ten_percent(size: str) -> None:
    spec = SIZES[size]
    c = make(size)
    assert abs(len(c.households) - spec.households) <= spec.households * 0.10
    assert len(c.towns) == spec.towns
    assert sum(len(t.villages) for t in c.towns) == spec.villages


def test_moderate_county_has_the_county_places(mid: SyntheticCounty) -> None:
    assert len(mid.households) == 20_000
    assert len(mid.towns) == 22
    villages = sum(len(t.villages) for t in mid.towns)
    assert 360 <= villages <= 440
    assert all(t.villages for t in mid.towns)


def test_place_names_are_chinese_unique_and_suffixed(mid: SyntheticCounty) -> None:
    town_names = [t.name for t in mid.towns]
    village_names = [v.name for t in mid.towns for v in t.villages]
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}(镇|乡|街道)", n) for n in town_names)
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}(村|社区)", n) for n in village_names)
    assert len(set(town_names)) == len(town_names)
    assert len(set(village_names)) == len(village_names)
    kinds = Counter(re.sub(r"^.*?(镇|乡|街道)$", r"\1", n) for n in town_names)
    assert kinds["镇"] > kinds["乡"] > 0 and kinds["街道"] > 0
    codes = [t.code for t in mid.towns] + [v.code for t in mid.towns for v in t.villages]
    assert len(set(codes)) == len(codes)


def test_household_ids_are_unique_natural_keys(mid: SyntheticCounty) -> None:
    ids = [h.household_id for h in mid.households]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d{6}-\d{4}-\d{4}", i) for i in ids)
    by_village = {v.code for t in mid.towns for v in t.villages}
    assert {h.village for h in mid.households} <= by_village


def test_heads_have_chinese_names(mid: SyntheticCounty) -> None:
    heads = [h.head for h in mid.households]
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", n) for n in heads)
    surnames = Counter(n[0] for n in heads)
    assert len(surnames) > 50
    assert surnames.most_common(1)[0][0] in "王李张刘陈"


# -- the register ----------------------------------------------------------------------------


def test_register_shares_are_realistic(mid: SyntheticCounty) -> None:
    hh = mid.households
    n = len(hh)
    cats = Counter(h.category for h in hh)
    assert 0.15 < cats[HouseholdCategory.LIFTED] / n < 0.21
    assert 0.02 < cats[HouseholdCategory.MONITORED] / n < 0.045
    types = Counter(h.monitoring_type for h in hh if h.is_monitored)
    assert set(types) == set(MonitoringType)
    assert all(h.monitoring_type is None for h in hh if not h.is_monitored)
    assert {h.members for h in hh} == set(range(1, 8))
    assert 10_000 <= median(h.income_per_person for h in hh) <= 15_000
    grades = Counter(h.house_grade for h in hh)
    assert grades["A"] + grades["B"] > 0.95 * n and grades["C"] > 0 and grades["D"] > 0
    assert all(0 <= h.children_out_of_school <= h.school_age_children < h.members for h in hh)
    assert sum(h.school_age_children > 0 for h in hh) > 0.2 * n


def test_detection_rules_fire_on_a_realistic_few_percent(mid: SyntheticCounty) -> None:
    fired = [{d.rule for d in detect(h, ALL_RULES)} for h in mid.households]
    n = len(fired)
    per_rule = Counter(rule for rules in fired for rule in rules)
    assert set(per_rule) == set(RULE_CODES)  # each rule fires somewhere
    assert all(count / n < 0.06 for count in per_rule.values()), per_rule
    share = sum(1 for rules in fired if rules) / n
    assert 0.03 < share < 0.20, share


def test_monitoring_line_moves_the_under_line_households() -> None:
    low = make("county", households=5_000, monitoring_line=4000)
    free = [h for h in low.households if not h.is_monitored]
    below = [h for h in free if h.income_per_person < 4000]
    assert 0.005 < len(below) / len(free) < 0.03
    assert all(h.income_per_person >= 0.6 * 4000 for h in below)
    policy = DetectionPolicy(4000, (DetectionRule("income_below_line", "c"),), "s")
    assert sum(1 for h in low.households if detect(h, policy)) == len(below)


# -- visits ----------------------------------------------------------------------------------


def test_visits_cover_most_households_in_three_modes(mid: SyntheticCounty) -> None:
    ids = {h.household_id for h in mid.households}
    visited = [v.household_id for v in mid.visits]
    assert len(set(visited)) == len(visited) and set(visited) <= ids
    unvisited = 1 - len(visited) / len(ids)
    assert 0.015 < unvisited < 0.05
    modes = Counter(v.mode for v in mid.visits)
    n = len(mid.visits)
    assert 0.80 < modes[VisitMode.IN_PERSON] / n < 0.90
    assert 0.07 < modes[VisitMode.PHONE] / n < 0.13
    assert 0.03 < modes[VisitMode.PROXY] / n < 0.07
    for v in mid.visits:
        assert START <= v.visited_on <= END
        assert v.visitor and v.findings
        assert bool(v.answered_by) == (v.mode is VisitMode.PROXY)


# -- problems --------------------------------------------------------------------------------


def test_problem_volume_is_about_a_tenth_of_households(mid: SyntheticCounty) -> None:
    assert 0.08 < len(mid.problems) / len(mid.households) < 0.12


def test_problems_are_consistent_with_places_households_and_visits(
    mid: SyntheticCounty,
) -> None:
    households = {h.household_id: h for h in mid.households}
    visits = {v.household_id: v for v in mid.visits}
    villages = {v.code: t.code for t in mid.towns for v in t.villages}
    visit_code = resolve_source_codes(None)["入户排查"][0]
    for p in mid.problems:
        assert START <= p.found_on <= END
        assert p.found_by and p.description and "{" not in p.description
        assert p.town in mid.town_names
        if p.village is not None:
            assert villages[p.village] == p.town
        if p.household_id is not None:
            h = households[p.household_id]
            assert (h.town, h.village) == (p.town, p.village)
            if p.source == visit_code:
                v = visits[p.household_id]
                assert (v.visitor, v.visited_on) == (p.found_by, p.found_on)
                assert p.description in v.findings
    assert [p.found_on for p in mid.problems] == sorted(p.found_on for p in mid.problems)
    keys = [(p.household_id, p.village, p.description) for p in mid.problems]
    assert len(set(keys)) == len(keys)


def test_every_category_and_source_appears(mid: SyntheticCounty) -> None:
    assert {p.category for p in mid.problems} == {b.code for b in BUILTIN_CATEGORIES}
    assert {p.source for p in mid.problems} == {b.code for b in BUILTIN_SOURCES}
    scopes = Counter(
        "household" if p.household_id else "village" if p.village else "town" for p in mid.problems
    )
    assert scopes["household"] > scopes["village"] > scopes["town"] > 0


def test_every_category_appears_even_at_township_size(township: SyntheticCounty) -> None:
    assert {p.category for p in township.problems} == {b.code for b in BUILTIN_CATEGORIES}


def test_descriptions_are_varied(mid: SyntheticCounty) -> None:
    descriptions = [p.description for p in mid.problems]
    assert len(set(descriptions)) > 0.8 * len(descriptions)


# -- codes from the caller -------------------------------------------------------------------


def test_name_to_code_mapping_keeps_only_mapped_categories() -> None:
    c = make("township", categories={"住房安全": "ZF", "金融/小额信贷": "XD", "不存在的类别": "NO"})
    assert {p.category for p in c.problems} == {"ZF", "XD"}
    assert c.category_names == {"ZF": "住房安全", "XD": "金融/小额信贷"}


def test_plan_categories_and_sources_match_by_name() -> None:
    cats = resolve_category_codes(
        [Category("c1", "住房安全保障"), Category("c2", "金融/小额信贷"), Category("c3", "饮水")]
    )
    assert cats == {
        "住房安全": ("c1", "住房安全保障"),
        "小额信贷": ("c2", "金融/小额信贷"),
        "饮水安全": ("c3", "饮水"),
    }
    srcs = resolve_source_codes(
        [
            Source("s1", "入户排查"),
            Source("s2", "巡视“回头看”"),
            Source("s3", "成效考核"),
            Source("s4", "第三方评估"),
        ]
    )
    assert srcs == {
        "入户排查": ("s1", "入户排查"),
        "巡视回头看": ("s2", "巡视“回头看”"),
        "成效考核": ("s3", "成效考核"),
    }


def test_plain_names_are_their_own_codes() -> None:
    c = make("township", categories=["住房安全", "档案资料"], sources=["入户排查", "督查"])
    assert {p.category for p in c.problems} <= {"住房安全", "档案资料"}
    assert {p.source for p in c.problems} == {"入户排查", "督查"}


def test_without_a_visit_source_there_are_no_visit_problems() -> None:
    c = make("township", sources={"审计": "SJ"})
    assert c.problems and {p.source for p in c.problems} == {"SJ"}


def test_tiers_are_assigned_and_shown_by_name() -> None:
    tiers = (
        DeadlineTier("now", "立查立改", working_days=0),
        DeadlineTier("jul", "7月底", date=dt.date(2022, 7, 31)),
        DeadlineTier("sep", "9月底", date=dt.date(2022, 9, 30)),
    )
    c = make("township", tiers=tiers)
    counts = Counter(p.tier for p in c.problems)
    assert set(counts) == {"now", "jul", "sep"}
    assert counts["now"] > counts["sep"]
    assert {r["整改时限类型"] for r in iter_problem_rows(c)} == {"立查立改", "7月底", "9月底"}


# -- places from the caller ------------------------------------------------------------------


def test_households_go_into_exactly_the_given_places() -> None:
    towns = (
        Town("T1", "少云镇", (Village("V1", "新胜村"), Village("V2", "护国村"))),
        Town("T2", "维新镇", (Village("V3", "一合村"),)),
        Town("T3", "开发区"),  # no villages: no households
    )
    c = make("township", towns=towns)
    assert c.towns == towns
    assert {(h.town, h.village) for h in c.households} == {("T1", "V1"), ("T1", "V2"), ("T2", "V3")}
    spread = Counter(h.village for h in c.households)
    assert min(spread.values()) > 0.1 * len(c.households)
    assert {p.town for p in c.problems} <= {"T1", "T2"}
    rows = list(iter_household_rows(c))
    assert {r["村"] for r in rows} == {"新胜村", "护国村", "一合村"}


def test_many_households_in_few_villages_widen_the_id() -> None:
    towns = (Town("T1", "少云镇", (Village("V1", "新胜村"),)),)
    c = make("township", towns=towns, households=10_050)
    ids = [h.household_id for h in c.households]
    assert len(set(ids)) == len(ids) and ids[-1].endswith("-10050")


def test_bad_arguments_raise_chinese_errors() -> None:
    with pytest.raises(SynthError, match="未知的规模"):
        make("city")
    with pytest.raises(SynthError, match="早于"):
        generate_county("small", start=END, end=START)
    with pytest.raises(SynthError, match="没有村"):
        make("small", towns=(Town("T3", "开发区"),))


# -- rows ------------------------------------------------------------------------------------


def test_rows_have_exactly_the_sheet_columns(township: SyntheticCounty) -> None:
    hrows = list(iter_household_rows(township))
    vrows = list(iter_visit_rows(township))
    prows = list(iter_problem_rows(township))
    assert len(hrows) == len(township.households)
    assert len(vrows) == len(township.visits)
    assert len(prows) == len(township.problems)
    assert all(tuple(r) == HOUSEHOLD_COLUMNS for r in hrows)
    assert all(tuple(r) == VISIT_COLUMNS for r in vrows)
    assert all(tuple(r) == PROBLEM_COLUMNS for r in prows)
    for col in ("是否通自来水", "是否参加基本医疗保险", "是否有卫生厕所"):
        assert {r[col] for r in hrows} <= {"是", "否"}
    assert {r["农户类别"] for r in hrows} == {"建档立卡脱贫户", "监测对象", "一般农户"}
    assert {r["走访方式"] for r in vrows} == {"面访", "电访", "代答"}
    town_names = {t.name for t in township.towns}
    assert {r["乡镇"] for r in prows} <= town_names
    assert {r["问题类别"] for r in prows} == {b.name for b in BUILTIN_CATEGORIES}
    assert all(isinstance(r["排查日期"], dt.date) for r in prows)


# -- templates -------------------------------------------------------------------------------

HOUSEHOLD = HouseholdFacts(
    household_id="500156-0001-0001",
    town="T",
    village="V",
    head="王德明",
    members=4,
    category=HouseholdCategory.MONITORED,
    monitoring_type=MonitoringType.MARGINAL,
    income_per_person=6500,
    house_grade="C",
    tap_water=False,
    school_age_children=2,
    children_out_of_school=1,
    medical_insurance=False,
    sanitary_toilet=False,
)


def test_every_template_fills_for_its_scope() -> None:
    import random

    rng = random.Random(0)
    every = [(t.text, t.scope) for ts in CATEGORY_TEMPLATES.values() for t in ts]
    every += [(text, Scope.HOUSEHOLD) for _, _, texts in FACT_TEMPLATES.values() for text in texts]
    assert set(CATEGORY_TEMPLATES) == {b.name for b in BUILTIN_CATEGORIES}
    for text, scope in every:
        ctx = SlotContext(
            rng=rng,
            town="少云镇",
            village="" if scope is Scope.TOWN else "新胜村",
            found_on=END,
            monitoring_line=7000,
            cadres=("李明",),
            household=HOUSEHOLD if scope is Scope.HOUSEHOLD else None,
        )
        if scope is not Scope.HOUSEHOLD:
            assert not HOUSEHOLD_SLOTS & set(template_fields(text)), text
        out = fill(text, ctx)
        assert "{" not in out and "}" not in out
        if scope is Scope.HOUSEHOLD and "{head}" in text:
            assert "王德明" in out


@pytest.mark.slow
def test_full_county_size() -> None:
    spec = SIZES["county"]
    c = make("county")
    assert abs(len(c.households) - spec.households) <= spec.households * 0.10
    assert len(c.towns) == 22
    assert abs(sum(len(t.villages) for t in c.towns) - spec.villages) <= spec.villages * 0.10
    assert 0.09 < len(c.problems) / len(c.households) < 0.11
    assert {p.category for p in c.problems} == {b.code for b in BUILTIN_CATEGORIES}
    ids = [h.household_id for h in c.households]
    assert len(set(ids)) == len(ids)


def test_generate_for_plan_uses_the_plans_scope_codes_tiers_line_and_stage() -> None:
    plan = Plan(
        name="少云镇2022年大走访大排查大整改行动",
        issuer="少云镇人民政府",
        document_number="少云委〔2022〕33号",
        notice_prefix="少云督",
        county_office="ZB",
        stages=(
            Stage(StageKind.MOBILISE, "动员部署", dt.date(2022, 5, 1), dt.date(2022, 5, 5)),
            Stage(StageKind.INVESTIGATE, "走访排查", dt.date(2022, 5, 6), dt.date(2022, 6, 5)),
            Stage(StageKind.RECTIFY, "问题整改", dt.date(2022, 6, 5), dt.date(2022, 7, 10)),
        ),
        towns=(Town("T1", "少云镇", (Village("V1", "新胜村"), Village("V2", "护国村"))),),
        offices=(),
        categories=(Category("ZF", "住房安全"), Category("JC", "防返贫监测")),
        sources=(Source("RH", "入户排查"), Source("XS", "巡视")),
        routing=(),
        deadlines=DeadlinePolicy(tiers=(DeadlineTier("now", "立查立改", working_days=0),)),
        review=ReviewPolicy(),
        reminders=ReminderPolicy(),
        penalties=(),
        ranking=RankingPolicy(),
        reports=ReportSchedule(),
        detection=DetectionPolicy(monitoring_line_yuan=7000),
    )
    c = generate_for_plan(plan, "township", 3)
    assert (c.start, c.end, c.monitoring_line) == (dt.date(2022, 5, 6), dt.date(2022, 6, 5), 7000)
    assert c.towns == plan.towns
    assert {p.category for p in c.problems} == {"ZF", "JC"}
    assert {p.source for p in c.problems} == {"RH", "XS"}
    assert {p.tier for p in c.problems} == {"now"}
    assert all(dt.date(2022, 5, 6) <= v.visited_on <= dt.date(2022, 6, 5) for v in c.visits)
    lines = [p.description for p in generate_for_plan(plan, households=2_000).problems]
    assert any("低于监测线7000元" in d or "低于7000元" in d for d in lines)
    assert not any("6900元" in d for d in lines)
