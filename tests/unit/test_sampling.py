"""Spot-check draws: reproducible, stratified, quotas met, no item twice on one day."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duban.domain.plan import HouseholdDraw, SpotCheckQuota, SupervisionGroup
from duban.domain.sampling import (
    ClosedItem,
    HouseholdRef,
    SpotCheck,
    SpotCheckKind,
    allocate,
    derive_seed,
    draw_spot_checks,
    quota_shortfall,
)

DAY = dt.date(2019, 2, 12)
QUOTA = SpotCheckQuota(closed_problems=5, households=10, villages=2)

# Closed problems per town: uneven on purpose (one town has a single item).
TOWN_SIZES = {"t1": 20, "t2": 8, "t3": 3, "t4": 1, "t5": 12, "t6": 6}


def make_closed() -> list[ClosedItem]:
    items = []
    pid = 1
    for town, n in TOWN_SIZES.items():
        for i in range(n):
            items.append(ClosedItem(pid, town, f"{town}-v{i % 3}"))
            pid += 1
    return items


def make_households() -> list[HouseholdRef]:
    return [
        HouseholdRef(f"{town}-v{v}-h{h:02d}", town, f"{town}-v{v}")
        for town in TOWN_SIZES
        for v in range(4)
        for h in range(5 + v)
    ]


GROUPS = (
    SupervisionGroup("g1", "第一督查组", towns=("t1", "t2")),
    SupervisionGroup("g2", "第二督查组", towns=("t3", "t4")),
    SupervisionGroup("g3", "第三督查组", towns=()),  # all towns: overlaps the other two
)

CLOSED = make_closed()
HOUSEHOLDS = make_households()


def draw(
    day: dt.date = DAY,
    seed: int = 2019,
    closed: list[ClosedItem] = CLOSED,
    already_checked: frozenset[int] = frozenset(),
    households_checked: frozenset[str] = frozenset(),
) -> list[SpotCheck]:
    return draw_spot_checks(
        closed, HOUSEHOLDS, GROUPS, QUOTA, seed, day, already_checked, households_checked
    )


def of(checks: list[SpotCheck], group: str, kind: SpotCheckKind) -> list[SpotCheck]:
    return [c for c in checks if c.group == group and c.kind is kind]


def test_same_seed_and_day_give_the_same_draw() -> None:
    assert draw() == draw()


def test_the_draw_does_not_depend_on_row_order() -> None:
    shuffled = list(CLOSED)
    random.Random(7).shuffle(shuffled)
    assert draw(closed=shuffled) == draw()


def test_different_days_and_seeds_give_different_draws() -> None:
    days = [DAY + dt.timedelta(days=i) for i in range(5)]
    draws = [tuple(c.item_id for c in draw(day=d)) for d in days]
    assert len(set(draws)) == len(draws)
    assert draw(seed=1) != draw(seed=2)


def test_each_check_records_its_derived_seed() -> None:
    for c in draw():
        assert c.draw_seed == derive_seed(2019, DAY, c.group, c.kind)
    seeds = {c.draw_seed for c in draw()}
    assert len(seeds) == len(GROUPS) * 3  # one per group and kind


def test_quotas_are_met_when_there_is_enough() -> None:
    checks = draw()
    assert len(of(checks, "g1", SpotCheckKind.CLOSED_PROBLEM)) == QUOTA.closed_problems
    assert len(of(checks, "g3", SpotCheckKind.CLOSED_PROBLEM)) == QUOTA.closed_problems
    for group in GROUPS:
        assert len(of(checks, group.code, SpotCheckKind.HOUSEHOLD)) == QUOTA.households
        assert len(of(checks, group.code, SpotCheckKind.VILLAGE)) == QUOTA.villages
    assert quota_shortfall(checks, GROUPS, QUOTA) == {
        ("g2", SpotCheckKind.CLOSED_PROBLEM): QUOTA.closed_problems - 4
    }


def test_all_items_are_taken_when_fewer_than_the_quota() -> None:
    # g2 covers t3 (3 items) and t4 (1 item): four closed problems, quota five.
    g2 = of(draw(), "g2", SpotCheckKind.CLOSED_PROBLEM)
    expected = {c.problem_id for c in CLOSED if c.town in ("t3", "t4")}
    assert {c.item_id for c in g2} == expected


def test_every_town_with_items_is_represented_when_the_quota_allows() -> None:
    for day in [DAY + dt.timedelta(days=i) for i in range(10)]:
        checks = draw(day=day)
        g1_towns = {c.town for c in of(checks, "g1", SpotCheckKind.CLOSED_PROBLEM)}
        assert g1_towns == {"t1", "t2"}
        g1_villages = {c.village for c in of(checks, "g1", SpotCheckKind.HOUSEHOLD)}
        assert g1_villages == {f"{t}-v{v}" for t in ("t1", "t2") for v in range(4)}
        # g2 emptied t3 and t4, so g3 (all towns) shares its five among the four towns left,
        # and the extra one goes to t1, which has by far the most items left.
        g3_towns = Counter(c.town for c in of(checks, "g3", SpotCheckKind.CLOSED_PROBLEM))
        assert g3_towns == {"t1": 2, "t2": 1, "t5": 1, "t6": 1}


def test_checks_stay_inside_the_group_towns() -> None:
    for c in draw():
        group = next(g for g in GROUPS if g.code == c.group)
        assert not group.towns or c.town in group.towns


def test_no_item_is_checked_by_two_groups_on_one_day() -> None:
    for day in [DAY + dt.timedelta(days=i) for i in range(10)]:
        checks = draw(day=day)
        for kind in SpotCheckKind:
            ids = [c.item_id for c in checks if c.kind is kind]
            assert len(ids) == len(set(ids)), (day, kind)


def test_recently_checked_items_are_left_out() -> None:
    first = draw()
    recent = frozenset(int(c.item_id) for c in first if c.kind is SpotCheckKind.CLOSED_PROBLEM)
    recent_households = frozenset(
        str(c.item_id) for c in first if c.kind is SpotCheckKind.HOUSEHOLD
    )
    second = draw(
        day=DAY + dt.timedelta(days=1),
        already_checked=recent,
        households_checked=recent_households,
    )
    assert not recent & {c.item_id for c in second if c.kind is SpotCheckKind.CLOSED_PROBLEM}
    assert not recent_households & {c.item_id for c in second if c.kind is SpotCheckKind.HOUSEHOLD}


def test_nothing_to_check_gives_no_checks() -> None:
    assert draw_spot_checks([], [], GROUPS, QUOTA, 1, DAY) == []


def test_a_worked_allocation() -> None:
    # One each, then 6 more shared by 19:7:2:0 → 4.07, 1.5, 0.43, 0 → 4 + 1 + 0 + (B's 0.5).
    sizes = {"a": 20, "b": 8, "c": 3, "d": 1}
    assert allocate(sizes, 10, ["a", "b", "c", "d"]) == {"a": 5, "b": 3, "c": 1, "d": 1}
    # Fewer draws than strata: proportional to size, ties by the order given.
    assert allocate({"a": 1, "b": 1, "c": 1}, 2, ["c", "a", "b"]) == {"a": 1, "b": 0, "c": 1}


def test_allocate_needs_every_stratum_in_the_tie_order() -> None:
    with pytest.raises(ValueError):
        allocate({"a": 1, "b": 2}, 2, ["a"])


@given(
    sizes=st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 40), max_size=8),
    n=st.integers(0, 60),
)
def test_allocation_properties(sizes: dict[str, int], n: int) -> None:
    order = sorted(sizes)
    shares = allocate(sizes, n, order)
    total = sum(sizes.values())
    assert sum(shares.values()) == min(n, total)
    nonempty = [k for k in order if sizes[k] > 0]
    assert set(shares) == set(nonempty)
    for k in nonempty:
        assert 0 <= shares[k] <= sizes[k]
        if n >= len(nonempty):
            assert shares[k] >= 1
    for a in nonempty:  # a bigger stratum never gets fewer draws
        for b in nonempty:
            if sizes[a] > sizes[b]:
                assert shares[a] >= shares[b]


# ---- seed 004's quotas: households per purpose, villages without registered households -----

SEED_004_QUOTA = SpotCheckQuota(
    closed_problems=5, households=10, villages=2,
    more_households=(HouseholdDraw("team", "专班排查入户", 5), HouseholdDraw("env", "人居环境", 10)),
)


def test_further_household_draws_each_meet_their_count_with_distinct_households() -> None:
    checks = draw_spot_checks(CLOSED, HOUSEHOLDS, GROUPS, SEED_004_QUOTA, 2019, DAY)
    for g in GROUPS:
        per = Counter(c.purpose for c in checks
                      if c.group == g.code and c.kind is SpotCheckKind.HOUSEHOLD)
        # g2 covers two small towns (t3, t4): 2 × 4 villages of 5–8 households = 52 ≥ 25.
        assert per == {"": 10, "专班排查入户": 5, "人居环境": 10}, g.code
    households = [c.item_id for c in checks if c.kind is SpotCheckKind.HOUSEHOLD]
    assert len(households) == len(set(households))  # never one household twice a day
    team = next(c for c in checks if c.purpose == "专班排查入户")
    assert team.draw_seed == derive_seed(2019, DAY, team.group, SpotCheckKind.HOUSEHOLD, "team")
    # The first group's main draws are what they were before further draws existed (later
    # groups draw from what the earlier groups' further draws left).
    plain = draw_spot_checks(CLOSED, HOUSEHOLDS, GROUPS, QUOTA, 2019, DAY)
    assert [c for c in checks if c.group == "g1" and not c.purpose] == \
        [c for c in plain if c.group == "g1"]
    # Households (10 + 5 + 10 a group) are never short here; g2's towns hold 4 closed items.
    assert quota_shortfall(checks, GROUPS, SEED_004_QUOTA) == {
        ("g2", SpotCheckKind.CLOSED_PROBLEM): 1}


def test_villages_without_households_are_drawn_when_the_plan_says_so() -> None:
    # Only t1-v0 has registered households; the plan's scope has three villages more.
    registered = [HouseholdRef(f"t1-v0-h{i}", "t1", "t1-v0") for i in range(3)]
    scope = [("t1", "t1-v0"), ("t1", "t1-v1"), ("t1", "t1-v2"), ("t2", "t2-v0")]
    group = (SupervisionGroup("g", "督查组"),)
    quota = SpotCheckQuota(closed_problems=0, households=0, villages=4)
    only_registered = draw_spot_checks([], registered, group, quota, 7, DAY, villages=scope)
    assert [c.item_id for c in only_registered] == ["t1-v0"]
    with_scope = SpotCheckQuota(closed_problems=0, households=0, villages=4,
                                villages_without_households=True)
    drawn = draw_spot_checks([], registered, group, with_scope, 7, DAY, villages=scope)
    assert sorted(c.item_id for c in drawn) == ["t1-v0", "t1-v1", "t1-v2", "t2-v0"]
    assert all(c.kind is SpotCheckKind.VILLAGE for c in drawn)
