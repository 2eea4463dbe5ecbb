"""Routing problems to responsible offices with a plan's routing table."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from duban.domain.plan import OWN_VILLAGE, RoutingRule
from duban.domain.routing import Route, Router, Unrouted, village_office_code

# Seed 000 (沧沟乡), a few rows, plus a town-specific override placed first.
RULES = (
    RoutingRule(office="jianhuan_special", categories=("住房安全",), towns=("t2",)),
    RoutingRule(office="jianhuan", categories=("住房安全",), co_offices=(OWN_VILLAGE,)),
    RoutingRule(office="shebao", categories=("基本医疗",), co_offices=("weijian", OWN_VILLAGE)),
    RoutingRule(office="jingfa", categories=("小额信贷",), co_offices=("nongshang", OWN_VILLAGE)),
    RoutingRule(office="fupin", sources=("巡视", "考核"), co_offices=("zuzhi",)),
)


def test_first_matching_rule_in_plan_order() -> None:
    router = Router(RULES)
    r = router.route("住房安全", "入户排查", "t1", "v1")
    assert r == Route("jianhuan", (village_office_code("v1"),), 1)
    # Town t2 has its own rule, listed first.
    assert router.route("住房安全", "入户排查", "t2", "v9") == Route("jianhuan_special", (), 0)
    # A housing problem from 巡视 still goes to housing: that rule comes before the 巡视 rule.
    assert router.route("住房安全", "巡视", "t1", "v1").lead == "jianhuan"  # type: ignore[union-attr]
    assert router.route("产业", "巡视", "t1", "v1") == Route("fupin", ("zuzhi",), 4)


def test_own_village_keeps_its_place_among_co_offices() -> None:
    router = Router(RULES)
    assert router.route("小额信贷", "入户排查", "t1", "v7") == Route(
        "jingfa", ("nongshang", "village:v7"), 3
    )
    assert router.route("基本医疗", "入户排查", "t3", "v2") == Route(
        "shebao", ("weijian", "village:v2"), 2
    )


def test_own_village_is_dropped_without_a_village() -> None:
    router = Router(RULES)
    assert router.route("小额信贷", "行业排查", "t1", None) == Route("jingfa", ("nongshang",), 3)
    assert router.route("住房安全", "行业排查", "t1", "") == Route("jianhuan", (), 1)


def test_unrouted_names_the_keys() -> None:
    router = Router(RULES)
    r = router.route("产业", "入户排查", "t1", "v1")
    assert isinstance(r, Unrouted)
    assert "类别「产业」" in r.reason and "来源「入户排查」" in r.reason and "乡镇「t1」" in r.reason
    # with the plan's names, the reason a person reads shows names, not codes
    named = Router(RULES, names={"category": {"cy": "产业发展"}, "source": {"hh": "入户排查"},
                                 "town": {"t1": "沧沟乡"}})
    r = named.route("cy", "hh", "t1", "v1")
    assert isinstance(r, Unrouted)
    assert "类别「产业发展」、来源「入户排查」、乡镇「沧沟乡」" in r.reason
    assert "t1" not in r.reason and "cy" not in r.reason
    assert isinstance(Router(()).route("住房安全", "巡视", "t1", None), Unrouted)


def test_catch_all_rule_and_duplicates_in_co_offices() -> None:
    router = Router(
        (RoutingRule(office="office", co_offices=("office", "helper", OWN_VILLAGE, "helper")),)
    )
    assert router.route("任何", "任何", "t", "v") == Route("office", ("helper", "village:v"), 0)


def reference(rules: tuple[RoutingRule, ...], c: str, s: str, t: str) -> int:
    """The routing spec spelled out: the first rule whose non-empty keys all contain the value."""
    for i, r in enumerate(rules):
        if (
            (not r.categories or c in r.categories)
            and (not r.sources or s in r.sources)
            and (not r.towns or t in r.towns)
        ):
            return i
    return -1


keys = st.sampled_from(["a", "b", "c"])
rule_strategy = st.builds(
    RoutingRule,
    office=st.sampled_from(["o1", "o2", "o3"]),
    categories=st.lists(keys, max_size=2).map(tuple),
    sources=st.lists(keys, max_size=2).map(tuple),
    towns=st.lists(keys, max_size=2).map(tuple),
    co_offices=st.lists(st.sampled_from(["o1", "o4", OWN_VILLAGE]), max_size=3).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(
    rules=st.lists(rule_strategy, max_size=6).map(tuple),
    queries=st.lists(st.tuples(keys, keys, keys), min_size=1, max_size=20),
)
def test_matches_the_spec_and_repeated_queries_agree(
    rules: tuple[RoutingRule, ...], queries: list[tuple[str, str, str]]
) -> None:
    router = Router(rules)
    for c, s, t in queries + queries:  # the second pass is served from the memo
        got = router.route(c, s, t, "v")
        want = reference(rules, c, s, t)
        if want < 0:
            assert isinstance(got, Unrouted)
        else:
            assert isinstance(got, Route)
            assert got.rule_index == want
            assert got.lead == rules[want].office
            assert OWN_VILLAGE not in got.co_offices
            assert got.lead not in got.co_offices
            assert len(set(got.co_offices)) == len(got.co_offices)
            assert ("village:v" in got.co_offices) == (OWN_VILLAGE in rules[want].co_offices)


def test_own_town_token_resolves_to_the_towns_office() -> None:
    from duban.domain.plan import OWN_TOWN, OWN_VILLAGE, RoutingRule
    from duban.domain.routing import Route, Router, village_office_code

    router = Router([RoutingRule("zhujian", categories=("housing",),
                                 co_offices=(OWN_TOWN, OWN_VILLAGE))],
                    town_offices={"huaidian": "huaidian-office"})
    route = router.route("housing", "household", "huaidian", "dongguan")
    assert isinstance(route, Route)
    assert route.co_offices == ("huaidian-office", village_office_code("dongguan"))
    # A town without its own office and a problem without a village keep only what exists.
    bare = router.route("housing", "sector", "other", None)
    assert isinstance(bare, Route) and bare.co_offices == ()


def test_own_town_as_lead_is_the_problems_own_towns_office() -> None:
    from duban.domain.plan import OWN_TOWN, OWN_VILLAGE, RoutingRule
    from duban.domain.routing import Route, Router, Unrouted, village_office_code

    # Seed 001: data-quality items are led by each 乡镇（街道）; the others by a department.
    router = Router([RoutingRule(OWN_TOWN, categories=("data",), co_offices=(OWN_VILLAGE,)),
                     RoutingRule("fpb", co_offices=(OWN_TOWN,))],
                    town_offices={"nixi": "gov-nixi", "nanxi": "gov-nanxi"})
    nixi = router.route("data", "census", "nixi", "v1")
    nanxi = router.route("data", "census", "nanxi", None)
    assert nixi == Route("gov-nixi", (village_office_code("v1"),), 0)
    assert nanxi == Route("gov-nanxi", (), 0)
    # The same rule answers per town, never with the token itself.
    assert router.route("data", "audit", "nixi", "v1") == nixi
    assert router.route("housing", "audit", "nanxi", None) == Route("fpb", ("gov-nanxi",), 1)
    # A town without its own office cannot be routed by that rule: it says so.
    lost = router.route("data", "census", "elsewhere", None)
    assert isinstance(lost, Unrouted) and "各乡镇" in lost.reason and "elsewhere" in lost.reason
