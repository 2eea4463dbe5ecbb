"""Deadline precedence, the seeds' fixed dates and tiers, and the cap at the stage end."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duban.domain.deadlines import (
    LATE_FIND_WORKING_DAYS,
    DeadlineError,
    compute_deadline,
    deemed_signed_on,
    extend_deadline,
)
from duban.domain.plan import (
    DeadlineBasis,
    DeadlinePolicy,
    DeadlineRule,
    DeadlineTier,
    Stage,
    StageKind,
)
from duban.domain.workdays import WorkCalendar

D = dt.date


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    years = {d.year for d in chinese_calendar.holidays}
    return WorkCalendar(
        chinese_calendar.holidays, chinese_calendar.workdays, min(years), max(years)
    )


# Seed 003 (少云镇 2022): tiers 立查立改, 7月底, 9月底.
TIERS = (
    DeadlineTier("immediate", "立查立改", working_days=1),
    DeadlineTier("july", "7月底", date=D(2022, 7, 31)),
    DeadlineTier("september", "9月底", date=D(2022, 9, 30)),
)
# Seed 000 (沧沟乡 2020): all housing problems by 6/30.
SEED_000 = DeadlinePolicy(
    default_working_days=10,
    rules=(DeadlineRule(categories=("住房安全",), date=D(2020, 6, 30)),),
)
# Seed 001 (云阳县 2020): 巡视回头看 and 考核 by 10月底, every other item by 11月底.
SEED_001 = DeadlinePolicy(
    rules=(
        DeadlineRule(sources=("巡视回头看", "成效考核"), date=D(2020, 10, 31)),
        DeadlineRule(date=D(2020, 11, 30)),
    ),
    cap_at_rectify_end=False,
)
FULL = DeadlinePolicy(
    default_working_days=10,
    tiers=TIERS,
    rules=(
        DeadlineRule(categories=("住房安全",), date=D(2022, 6, 30)),
        DeadlineRule(sources=("巡视",), tier="july"),
        DeadlineRule(categories=("档案资料",), working_days=3),
    ),
    cap_at_rectify_end=False,
)


def test_explicit_date_beats_tier_and_rules(cal: WorkCalendar) -> None:
    d = compute_deadline(
        FULL,
        cal,
        found_on=D(2022, 5, 10),
        category="住房安全",
        source="巡视",
        tier="september",
        explicit=D(2022, 8, 15),
    )
    assert d.date == D(2022, 8, 15)
    assert "台账给定" in d.basis


def test_tier_on_the_problem_beats_rules(cal: WorkCalendar) -> None:
    d = compute_deadline(
        FULL, cal, found_on=D(2022, 5, 10), category="住房安全", source="巡视", tier="september"
    )
    assert d.date == D(2022, 9, 30)
    assert "9月底" in d.basis


def test_first_matching_rule_wins(cal: WorkCalendar) -> None:
    # Both the housing rule and the 巡视 rule match; the housing rule comes first.
    d = compute_deadline(FULL, cal, found_on=D(2022, 5, 10), category="住房安全", source="巡视")
    assert d.date == D(2022, 6, 30)
    assert d.basis == "住房安全问题统一时限 2022-06-30"


def test_rule_giving_a_tier(cal: WorkCalendar) -> None:
    d = compute_deadline(FULL, cal, found_on=D(2022, 5, 10), category="产业", source="巡视")
    assert d.date == D(2022, 7, 31)  # a Sunday: fixed nodes are kept as the plan states
    assert "7月底" in d.basis and "巡视问题" in d.basis


def test_rule_giving_working_days(cal: WorkCalendar) -> None:
    # Friday 2022-09-30, then 国庆 10/1-10/7; Saturday 10/8 and Sunday 10/9 are working days.
    d = compute_deadline(FULL, cal, found_on=D(2022, 9, 30), category="档案资料", source="入户")
    assert d.date == D(2022, 10, 10)
    assert d.basis == "档案资料问题限3个工作日（自发现之日起）"


def test_default_working_days(cal: WorkCalendar) -> None:
    found = D(2022, 9, 28)
    d = compute_deadline(FULL, cal, found_on=found, category="产业", source="入户")
    assert d.date == cal.add_workdays(found, 10)
    assert cal.workdays_between(found, d.date) == 10
    assert d.basis == "默认：10个工作日（自发现之日起）"


def test_seed_000_housing_by_june_30(cal: WorkCalendar) -> None:
    d = compute_deadline(
        SEED_000,
        cal,
        found_on=D(2020, 6, 16),
        category="住房安全",
        source="入户排查",
        rectify_end=D(2020, 7, 12),
    )
    assert d.date == D(2020, 6, 30)
    assert d.basis == "住房安全问题统一时限 2020-06-30"


@pytest.mark.parametrize(
    ("source", "expected", "subject"),
    [
        ("巡视回头看", D(2020, 10, 31), "巡视回头看问题"),
        ("成效考核", D(2020, 10, 31), "成效考核问题"),
        ("审计", D(2020, 11, 30), "其余问题"),
        ("暗访", D(2020, 11, 30), "其余问题"),
    ],
)
def test_seed_001_october_and_november(
    cal: WorkCalendar, source: str, expected: dt.date, subject: str
) -> None:
    d = compute_deadline(SEED_001, cal, found_on=D(2020, 9, 10), category="住房安全", source=source)
    assert d.date == expected
    assert d.basis == f"{subject}统一时限 {expected.isoformat()}"


def test_labels_give_names_in_the_basis(cal: WorkCalendar) -> None:
    policy = DeadlinePolicy(rules=(DeadlineRule(categories=("housing",), date=D(2020, 6, 30)),))
    d = compute_deadline(
        policy,
        cal,
        found_on=D(2020, 6, 16),
        category="housing",
        source="visit",
        labels={"housing": "住房安全"},
    )
    assert d.basis == "住房安全问题统一时限 2020-06-30"


def test_immediate_tier_is_one_working_day(cal: WorkCalendar) -> None:
    # Found on Friday 2022-06-02 before 端午 (6/3-6/5): the next working day is Monday 6/6.
    d = compute_deadline(
        FULL, cal, found_on=D(2022, 6, 2), category="产业", source="入户", tier="immediate"
    )
    assert d.date == D(2022, 6, 6)
    assert d.basis == "立查立改：1个工作日（自发现之日起）"


def test_zero_working_days_is_the_day_found_or_the_next_working_day(cal: WorkCalendar) -> None:
    policy = DeadlinePolicy(tiers=(DeadlineTier("now", "事不过夜", working_days=0),))
    on_workday = compute_deadline(
        policy, cal, found_on=D(2022, 6, 2), category="x", source="y", tier="now"
    )
    assert on_workday.date == D(2022, 6, 2)
    on_holiday = compute_deadline(
        policy, cal, found_on=D(2022, 6, 3), category="x", source="y", tier="now"
    )
    assert on_holiday.date == D(2022, 6, 6)


def test_unknown_tier_is_a_chinese_error(cal: WorkCalendar) -> None:
    with pytest.raises(DeadlineError, match="未知的整改时限档次“december”"):
        compute_deadline(
            FULL, cal, found_on=D(2022, 5, 10), category="x", source="y", tier="december"
        )


def test_explicit_date_before_discovery_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(DeadlineError, match="早于发现日期"):
        compute_deadline(
            FULL, cal, found_on=D(2022, 5, 10), category="x", source="y", explicit=D(2022, 5, 9)
        )


def test_plan_date_already_passed_becomes_immediate(cal: WorkCalendar) -> None:
    # A housing problem found on Friday 2020-07-03, after seed 000's 6/30.
    found = D(2020, 7, 3)
    d = compute_deadline(SEED_000, cal, found_on=found, category="住房安全", source="入户排查")
    assert d.date == cal.add_workdays(found, LATE_FIND_WORKING_DAYS) == D(2020, 7, 6)
    assert "已过" in d.basis and "立查立改" in d.basis


def test_plan_date_on_the_day_found_is_kept(cal: WorkCalendar) -> None:
    d = compute_deadline(SEED_000, cal, found_on=D(2020, 6, 30), category="住房安全", source="x")
    assert d.date == D(2020, 6, 30)


def test_cap_at_the_end_of_the_rectification_stage(cal: WorkCalendar) -> None:
    policy = DeadlinePolicy(default_working_days=10, cap_at_rectify_end=True)
    end = D(2020, 7, 12)  # seed 000's 整改落实 ends on Sunday 7/12
    found = D(2020, 7, 6)
    uncapped = cal.add_workdays(found, 10)
    assert uncapped > end
    d = compute_deadline(policy, cal, found_on=found, category="x", source="y", rectify_end=end)
    assert d.date == end
    assert "封顶于整改阶段结束日 2020-07-12" in d.basis
    assert d.basis.startswith("默认：10个工作日")
    # Early enough, the cap does not bite.
    early = compute_deadline(
        policy, cal, found_on=D(2020, 6, 15), category="x", source="y", rectify_end=end
    )
    assert early.date == cal.add_workdays(D(2020, 6, 15), 10) < end
    assert "封顶" not in early.basis


def test_cap_is_off_when_the_policy_says_so(cal: WorkCalendar) -> None:
    policy = DeadlinePolicy(default_working_days=10, cap_at_rectify_end=False)
    found = D(2020, 7, 6)
    d = compute_deadline(
        policy, cal, found_on=found, category="x", source="y", rectify_end=D(2020, 7, 12)
    )
    assert d.date == cal.add_workdays(found, 10)


def test_cap_leaves_fixed_dates_alone(cal: WorkCalendar) -> None:
    # Seed 003: 问题整改 ends 7/10, but its 9月底 node is deliberate.
    policy = DeadlinePolicy(tiers=TIERS, cap_at_rectify_end=True)
    d = compute_deadline(
        policy,
        cal,
        found_on=D(2022, 6, 10),
        category="x",
        source="y",
        tier="september",
        rectify_end=D(2022, 7, 10),
    )
    assert d.date == D(2022, 9, 30)


def test_no_cap_when_found_after_the_stage_ended(cal: WorkCalendar) -> None:
    policy = DeadlinePolicy(default_working_days=5, cap_at_rectify_end=True)
    found = D(2020, 7, 15)
    d = compute_deadline(
        policy, cal, found_on=found, category="x", source="y", rectify_end=D(2020, 7, 12)
    )
    assert d.date == cal.add_workdays(found, 5)


@settings(max_examples=200, deadline=None)
@given(
    found=st.dates(min_value=D(2005, 1, 1), max_value=D(2025, 12, 1)),
    n=st.integers(min_value=1, max_value=30),
)
def test_working_day_deadlines_land_on_working_days(
    cal: WorkCalendar, found: dt.date, n: int
) -> None:
    d = compute_deadline(
        DeadlinePolicy(default_working_days=n), cal, found_on=found, category="x", source="y"
    )
    assert cal.is_workday(d.date)
    assert d.date > found
    assert cal.workdays_between(found, d.date) == n


def test_extend_deadline(cal: WorkCalendar) -> None:
    # From Saturday 2020-10-31 (seed 001's 10月底) by 5 working days: Friday 11/6.
    assert extend_deadline(cal, D(2020, 10, 31), 5) == D(2020, 11, 6)
    # Across 国庆 2020.
    assert extend_deadline(cal, D(2020, 9, 30), 2) == D(2020, 10, 10)
    with pytest.raises(DeadlineError):
        extend_deadline(cal, D(2020, 9, 30), 0)


# ---- the day working days count from ----------------------------------------------------


def test_working_days_count_from_the_day_found_by_default(cal: WorkCalendar) -> None:
    # Found Wednesday 2022-09-14, imported (routed) Friday 9/16, 5 working days.
    policy = DeadlinePolicy(default_working_days=5, cap_at_rectify_end=False)
    d = compute_deadline(policy, cal, found_on=D(2022, 9, 14), routed_on=D(2022, 9, 16),
                         category="x", source="y")
    assert d == compute_deadline(policy, cal, found_on=D(2022, 9, 14), category="x", source="y")
    assert d.date == D(2022, 9, 21)
    assert d.basis == "默认：5个工作日（自发现之日起）"


def test_working_days_count_from_routing_when_the_plan_says_so(cal: WorkCalendar) -> None:
    policy = DeadlinePolicy(default_working_days=5, cap_at_rectify_end=False,
                            basis=DeadlineBasis.ROUTED)
    d = compute_deadline(policy, cal, found_on=D(2022, 9, 14), routed_on=D(2022, 9, 16),
                         category="x", source="y")
    assert d.date == D(2022, 9, 23)
    assert d.basis == "默认：5个工作日（自交办之日起）"
    # Fixed dates do not depend on the basis and say nothing about it.
    fixed = DeadlinePolicy(rules=(DeadlineRule(date=D(2022, 10, 20)),), basis=DeadlineBasis.ROUTED)
    f = compute_deadline(fixed, cal, found_on=D(2022, 9, 14), routed_on=D(2022, 9, 16),
                         category="x", source="y")
    assert (f.date, f.basis) == (D(2022, 10, 20), "全部问题统一时限 2022-10-20")


def test_a_deadline_past_on_the_day_it_is_set_becomes_immediate(cal: WorkCalendar) -> None:
    # Found 9/1 with 3 working days (9/6), routed only on 9/14: the next working day, 9/15.
    policy = DeadlinePolicy(default_working_days=3, cap_at_rectify_end=False)
    d = compute_deadline(policy, cal, found_on=D(2022, 9, 1), routed_on=D(2022, 9, 14),
                         category="x", source="y")
    assert d.date == D(2022, 9, 15)
    assert d.basis == "默认：3个工作日（自发现之日起）已过，按立查立改：1个工作日"


# ---- basis signed: counted from the 签收 of the 督办通知书 ------------------------------

SIGNED = DeadlinePolicy(default_working_days=5, cap_at_rectify_end=False,
                        basis=DeadlineBasis.SIGNED,
                        tiers=(DeadlineTier("immediate", "立查立改", working_days=1),
                               DeadlineTier("july", "7月底", date=D(2022, 7, 31))))


def test_signed_basis_waits_for_the_signing(cal: WorkCalendar) -> None:
    # Found Wednesday 9/14, routed Friday 9/16, the notice not yet signed: no date, not chased.
    d = compute_deadline(SIGNED, cal, found_on=D(2022, 9, 14), routed_on=D(2022, 9, 16),
                         category="x", source="y")
    assert d.pending and d.date is None
    assert d.basis == "默认：签收后5个工作日（待签收督办通知书后起算）"
    t = compute_deadline(SIGNED, cal, found_on=D(2022, 9, 14), category="x", source="y",
                         tier="immediate")
    assert (t.date, t.basis) == (None, "立查立改：签收后1个工作日（待签收督办通知书后起算）")


def test_signed_basis_counts_from_the_signing_day(cal: WorkCalendar) -> None:
    # Signed Tuesday 9/20: five working days on, 9/27 (found and routed days do not count).
    d = compute_deadline(SIGNED, cal, found_on=D(2022, 9, 14), routed_on=D(2022, 9, 16),
                         category="x", source="y", signed_on=D(2022, 9, 20))
    assert (d.date, d.basis) == (D(2022, 9, 27), "默认：5个工作日（自签收督办通知书之日起）")
    # Signed across the National Day holiday (10/1–10/7 rest, 10/8–9 adjusted working days).
    h = compute_deadline(SIGNED, cal, found_on=D(2022, 9, 14), routed_on=D(2022, 9, 16),
                         category="x", source="y", signed_on=D(2022, 9, 29))
    assert h.date == cal.add_workdays(D(2022, 9, 29), 5) == D(2022, 10, 11)
    deemed = compute_deadline(SIGNED, cal, found_on=D(2022, 9, 14), category="x", source="y",
                              signed_on=D(2022, 9, 21), deemed=True)
    assert (deemed.date, deemed.basis) == (
        D(2022, 9, 28), "默认：5个工作日（自督办通知书视为签收之日起）")


def test_signed_basis_leaves_fixed_dates_and_caps_from_the_signing(cal: WorkCalendar) -> None:
    # A fixed date does not wait for the 签收.
    t = compute_deadline(SIGNED, cal, found_on=D(2022, 6, 14), category="x", source="y",
                         tier="july")
    assert (t.date, t.basis) == (D(2022, 7, 31), "整改节点“7月底” 2022-07-31")
    # The cap at the rectify stage's end applies once it is counted from the signing day.
    capped = replace(SIGNED, cap_at_rectify_end=True)
    c = compute_deadline(capped, cal, found_on=D(2022, 9, 14), category="x", source="y",
                         signed_on=D(2022, 10, 12), rectify_end=D(2022, 10, 15))
    assert c.date == D(2022, 10, 15)
    assert c.basis.endswith("封顶于整改阶段结束日 2022-10-15")
    # A fixed date already past on the day it is signed for becomes 立查立改 from that day.
    late = DeadlinePolicy(basis=DeadlineBasis.SIGNED, rules=(DeadlineRule(date=D(2022, 9, 20)),))
    x = compute_deadline(late, cal, found_on=D(2022, 9, 14), category="x", source="y",
                         routed_on=D(2022, 9, 21))
    assert x.date == D(2022, 9, 22)


def test_a_notice_is_deemed_signed_after_the_plans_working_days(cal: WorkCalendar) -> None:
    # Issued Friday 9/30 before the National Day holiday: 10/8 and 10/9 are adjusted working
    # days (调休), so three working days on is Monday 10/10.
    assert deemed_signed_on(cal, D(2022, 9, 30), SIGNED) == D(2022, 10, 10)
    assert deemed_signed_on(cal, D(2022, 9, 14),
                            replace(SIGNED, deemed_signed_after_working_days=1)) == D(2022, 9, 15)


# ---- rules narrowed to a stage or a period -----------------------------------------------

# Seed 002: "确保10月20前全县排查出来的问题整改完毕" binds what 排查 and 集中整改 found; what the
# 提升阶段 (10/16–12/31) finds gets working days.
SEED_002_STAGES = (
    Stage(StageKind.INVESTIGATE, "排查阶段", D(2022, 9, 15), D(2022, 9, 25)),
    Stage(StageKind.RECTIFY, "集中整改阶段", D(2022, 9, 26), D(2022, 10, 15)),
    Stage(StageKind.REVIEW, "提升阶段", D(2022, 10, 16), D(2022, 12, 31)),
)
SEED_002 = DeadlinePolicy(
    default_working_days=10,
    rules=(
        DeadlineRule(stages=("排查阶段", "集中整改阶段"), date=D(2022, 10, 20)),
        DeadlineRule(stages=("提升阶段",), working_days=10),
    ),
)


@pytest.mark.parametrize(
    ("found", "expected", "basis"),
    [
        (D(2022, 9, 20), D(2022, 10, 20), "排查阶段、集中整改阶段发现的问题统一时限 2022-10-20"),
        (D(2022, 10, 14), D(2022, 10, 20), "排查阶段、集中整改阶段发现的问题统一时限 2022-10-20"),
        # 10/17 (Monday) + 10 working days: 10/31; never the 10/20 rule nor 1 working day.
        (D(2022, 10, 17), D(2022, 10, 31), "提升阶段发现的问题限10个工作日（自发现之日起）"),
        (D(2022, 11, 30), D(2022, 12, 14), "提升阶段发现的问题限10个工作日（自发现之日起）"),
    ],
)
def test_rules_apply_to_the_stage_a_problem_was_found_in(
    cal: WorkCalendar, found: dt.date, expected: dt.date, basis: str
) -> None:
    d = compute_deadline(SEED_002, cal, found_on=found, category="x", source="y",
                         rectify_end=D(2022, 10, 15), stages=SEED_002_STAGES)
    assert (d.date, d.basis) == (expected, basis)


def test_rules_apply_to_a_date_range_found(cal: WorkCalendar) -> None:
    policy = DeadlinePolicy(
        default_working_days=3,
        rules=(DeadlineRule(found_from=D(2022, 10, 16), found_to=D(2022, 12, 31), working_days=10),),
        cap_at_rectify_end=False,
    )
    inside = compute_deadline(policy, cal, found_on=D(2022, 10, 17), category="x", source="y")
    assert inside.date == D(2022, 10, 31)
    assert inside.basis == "2022-10-16至2022-12-31发现的问题限10个工作日（自发现之日起）"
    before = compute_deadline(policy, cal, found_on=D(2022, 10, 14), category="x", source="y")
    assert before.basis.startswith("默认：3个工作日")
