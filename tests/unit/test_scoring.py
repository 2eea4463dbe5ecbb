"""Penalties per seed 000 and the monthly ranking of towns."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duban.domain.plan import PenaltyBasis, PenaltyRule, RankingPolicy
from duban.domain.scoring import (
    PenaltyItem,
    ScoreWeights,
    Standing,
    TownMonthStats,
    accrue_penalties,
    closure_rate,
    overdue_rate,
    penalty_totals,
    rank_towns,
    rule_for,
    score_components,
)

# Seed 000: 一般问题未整改到位 500元/件; 不安全住房未按阶段完成 2000元/户.
GENERAL = PenaltyRule("general", "一般问题未整改到位", 500, PenaltyBasis.PROBLEM)
HOUSING = PenaltyRule(
    "housing", "不安全住房未按阶段完成整改", 2000, PenaltyBasis.HOUSEHOLD, ("housing",)
)
RULES = (GENERAL, HOUSING)  # the generic rule first: the specific one must still win


def item(
    pid: int,
    category: str,
    household: str | None,
    *,
    overdue: bool = True,
    rectified: bool = False,
    town: str = "canggou",
    office: str = "jianhuan",
) -> PenaltyItem:
    return PenaltyItem(pid, town, office, category, household, overdue, rectified)


def test_rule_precedence() -> None:
    assert rule_for("housing", RULES) is HOUSING
    assert rule_for("water", RULES) is GENERAL
    assert rule_for("water", (HOUSING,)) is None


def test_seed_000_amounts() -> None:
    items = [
        item(1, "housing", "H1"),
        item(2, "housing", "H1"),  # same unsafe house: fined once
        item(3, "housing", "H2", rectified=True),  # rectified: no fine
        item(4, "housing", "H3", overdue=False),  # deadline not passed: no fine
        item(5, "water", "H1"),  # another category on the same household: per item
        item(6, "records", None),
        item(7, "housing", "H4", town="other", office="jianhuan2"),
    ]
    lines = accrue_penalties(items, RULES)
    summary = [(ln.rule, ln.basis, ln.unit, ln.problem_ids, ln.amount_yuan) for ln in lines]
    assert summary == [
        ("general", PenaltyBasis.PROBLEM, "5", (5,), 500),
        ("general", PenaltyBasis.PROBLEM, "6", (6,), 500),
        ("housing", PenaltyBasis.HOUSEHOLD, "H1", (1, 2), 2000),
        ("housing", PenaltyBasis.HOUSEHOLD, "H4", (7,), 2000),
    ]
    assert penalty_totals(lines) == {"canggou": 3000, "other": 2000}
    assert penalty_totals(lines, by="office") == {"jianhuan": 3000, "jianhuan2": 2000}
    assert lines[2].text == "不安全住房未按阶段完成整改：户 H1（2000元/户，涉及问题2项）"
    assert lines[0].text == "一般问题未整改到位：问题 5（500元/件）"


def test_household_rule_without_a_household_fines_the_problem() -> None:
    lines = accrue_penalties([item(8, "housing", None), item(9, "housing", None)], RULES)
    assert [(ln.basis, ln.unit, ln.amount_yuan) for ln in lines] == [
        (PenaltyBasis.PROBLEM, "8", 2000),
        (PenaltyBasis.PROBLEM, "9", 2000),
    ]


def test_no_rules_no_fines() -> None:
    assert accrue_penalties([item(1, "housing", "H1")], ()) == []


def test_penalty_totals_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError):
        penalty_totals([], by="village")


# ---------------------------------------------------------------------------- ranking

JULY = dt.date(2020, 7, 31)
POLICY = RankingPolicy(commend_top=3, name_bottom=1)


def stats(
    town: str,
    *,
    households: int = 2000,
    problems: int = 10,
    closed: int = 10,
    overdue: int = 0,
    penalties: int = 0,
    checked: int = 0,
    reopened: int = 0,
    month: dt.date = JULY,
) -> TownMonthStats:
    return TownMonthStats(
        town, f"{town}乡", month, households, problems, closed, overdue, penalties, checked,
        reopened,
    )  # fmt: skip


def test_a_worked_score() -> None:
    s = stats("a", closed=8, overdue=1, penalties=1500, checked=4, reopened=1)
    parts = {c.code: c.points for c in score_components(s)}
    # 100 + 0.8×20 − 0.1×30 − (1500 yuan ÷ 2000 households × 10,000 = 7500/10k → 7.5) − ¼×20
    assert parts == {
        "base": Decimal("100.00"),
        "closure": Decimal("16.00"),
        "overdue": Decimal("-3.00"),
        "penalty": Decimal("-7.50"),
        "reopened": Decimal("-5.00"),
    }
    row = rank_towns([s], POLICY).rows[0]
    assert row.score == Decimal("100.50")
    assert row.breakdown == (
        "100.00 + 16.00（销号率） − 3.00（逾期率） − 7.50（考核罚款） − 5.00（抽查反弹） = 100.50"
    )


def test_penalties_are_capped_and_weights_are_tunable() -> None:
    heavy = stats("a", penalties=100_000)
    assert {c.code: c.points for c in score_components(heavy)}["penalty"] == Decimal("-20.00")
    no_households = stats("b", households=0, penalties=500)
    assert {c.code: c.points for c in score_components(no_households)}["penalty"] == Decimal(
        "-20.00"
    )
    light = ScoreWeights(penalty_cap=5)
    assert {c.code: c.points for c in score_components(heavy, light)}["penalty"] == Decimal("-5.00")


def test_a_town_with_no_problems_gets_full_closure_and_no_overdue() -> None:
    parts = {c.code: c.points for c in score_components(stats("a", problems=0, closed=0))}
    assert parts["closure"] == Decimal("20.00")
    assert parts["overdue"] == Decimal("0.00")


def test_ranking_order_commended_and_named() -> None:
    towns = [
        stats("t1", closed=10),  # 120
        stats("t2", closed=9, overdue=1),  # 100 + 18 − 3 = 115
        stats("t3", closed=5, overdue=5),  # 100 + 10 − 15 = 95
        stats("t4", closed=7, overdue=2, penalties=1000),  # 100 + 14 − 6 − 5 = 103
        stats("t5", closed=8),  # 116
        stats("t6", closed=0, overdue=10, penalties=4000),  # 100 − 30 − 20 = 50
    ]
    ranking = rank_towns(towns, POLICY)
    assert [r.town for r in ranking.rows] == ["t1", "t5", "t2", "t4", "t3", "t6"]
    assert [r.position for r in ranking.rows] == [1, 2, 3, 4, 5, 6]
    assert [r.town for r in ranking.commended] == ["t1", "t5", "t2"]
    assert [r.town for r in ranking.named] == ["t6"]
    assert ranking.rows[0].standing_label == "表彰"
    assert ranking.rows[-1].standing_label.startswith("末位")
    assert ranking.month == dt.date(2020, 7, 1)
    lines = ranking.lines()
    assert lines[0] == "2020年7月乡镇月考评排名"
    assert lines[1].startswith("第1名 t1乡 120.00分【表彰】")
    assert "【末位" in lines[-1]
    assert ranking.rows[0].breakdown == (
        "100.00 + 20.00（销号率） − 0.00（逾期率） − 0.00（考核罚款） − 0.00（抽查反弹） = 120.00"
    )


def test_ties_are_broken_by_closure_rate_then_code_and_flagged() -> None:
    a = stats("a", closed=10, checked=4, reopened=1)  # 100 + 20 − 5 = 115
    b = stats("b", closed=9, overdue=0, problems=12)  # 100 + 15 = 115, closure 75%
    c = stats("c", closed=9, problems=12)  # identical to b
    x = stats("x", closed=0, overdue=0)  # 100
    for order in ([a, b, c, x], [x, c, b, a], [c, x, a, b]):
        ranking = rank_towns(order, POLICY)
        assert [r.town for r in ranking.rows] == ["a", "b", "c", "x"]
        assert [r.tied for r in ranking.rows] == [True, True, True, False]
    assert "（并列）" in rank_towns([a, b, c, x], POLICY).lines()[1]


def test_a_cut_never_falls_between_towns_equal_on_every_measure() -> None:
    # A month without activity (every town 120): the town code alone would name the last.
    quiet = [stats(code, closed=10) for code in ("zhouying", "baiji", "beicheng", "liufu", "x")]
    ranking = rank_towns(quiet, POLICY)
    assert all(r.standing is Standing.NONE for r in ranking.rows)
    assert ranking.named == () and ranking.commended == ()
    # Equal at the bottom only: the better towns are still commended, nobody is named.
    mixed = [stats("a", closed=10), stats("b", closed=9), stats("c", closed=8),
             stats("d", closed=5), stats("e", closed=5)]
    ranking = rank_towns(mixed, POLICY)
    assert [r.town for r in ranking.commended] == ["a", "b", "c"]
    assert ranking.named == ()
    # Equal across the commendation cut: only those above the group are commended.
    top = [stats("a", closed=10), stats("b", closed=9), stats("c", closed=9),
           stats("d", closed=9), stats("e", closed=1)]
    ranking = rank_towns(top, POLICY)
    assert [r.town for r in ranking.commended] == ["a"]
    assert [r.town for r in ranking.named] == ["e"]


def test_no_town_is_both_commended_and_named() -> None:
    three = [stats("t1"), stats("t2", closed=9), stats("t3", closed=8)]
    ranking = rank_towns(three, POLICY)
    assert [r.standing for r in ranking.rows] == [
        Standing.COMMENDED,
        Standing.COMMENDED,
        Standing.NAMED,
    ]


def test_ranking_inputs_are_checked() -> None:
    assert rank_towns([], POLICY).rows == ()
    with pytest.raises(ValueError):
        rank_towns([stats("a"), stats("b", month=dt.date(2020, 8, 31))], POLICY)
    with pytest.raises(ValueError):
        rank_towns([stats("a"), stats("a")], POLICY)
    with pytest.raises(ValueError):
        stats("a", problems=3, closed=4)
    with pytest.raises(ValueError):
        stats("a", checked=1, reopened=2)


@st.composite
def month_stats(draw: st.DrawFn, town: str) -> TownMonthStats:
    problems = draw(st.integers(0, 500))
    closed = draw(st.integers(0, problems))
    overdue = draw(st.integers(0, problems - closed))
    checked = draw(st.integers(0, 50))
    return stats(
        town,
        households=draw(st.integers(0, 50_000)),
        problems=problems,
        closed=closed,
        overdue=overdue,
        penalties=draw(st.integers(0, 200)) * 500,
        checked=checked,
        reopened=draw(st.integers(0, checked)),
    )


@given(
    st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=10, unique=True).flatmap(
        lambda codes: st.tuples(*(month_stats(c) for c in codes))
    )
)
def test_breakdown_sums_to_score_and_order_follows_score(towns: tuple[TownMonthStats, ...]) -> None:
    ranking = rank_towns(towns, POLICY)
    for row in ranking.rows:
        assert sum(c.points for c in row.components) == row.score
    scores = [r.score for r in ranking.rows]
    assert scores == sorted(scores, reverse=True)
    by_code = {s.town: s for s in towns}

    def merit(town: str, score: object) -> tuple[object, ...]:
        s = by_code[town]
        return (score, closure_rate(s), overdue_rate(s), s.penalties_yuan)

    rows = ranking.rows
    for a, b in itertools.pairwise(rows):  # equal towns are never split by a cut
        if merit(a.town, a.score) == merit(b.town, b.score):
            assert a.standing == b.standing
    assert len(ranking.named) <= 1
    if len(rows) > 1 and merit(rows[-1].town, rows[-1].score) != merit(rows[-2].town,
                                                                        rows[-2].score):
        assert len(ranking.named) == 1
    assert len(ranking.commended) <= min(3, len(towns) - len(ranking.named))
