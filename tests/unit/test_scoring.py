"""Penalties per seed 000 and the monthly ranking of towns."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duban.domain.plan import PenaltyBasis, PenaltyRule, RankingPolicy, TieRule
from duban.domain.scoring import (
    PenaltyItem,
    ScoreWeights,
    Standing,
    TownMonthStats,
    accrue_penalties,
    penalty_totals,
    rank_towns,
    ranking_rule,
    rule_for,
    score_components,
    tie_groups,
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
    # The web page heads its column as the 通报 does: 乡镇, or 责任单位 for offices (not 办室).
    assert ranking.unit_label == "乡镇"
    assert dataclasses.replace(ranking, by="office").unit_label == "责任单位"
    assert lines[1].startswith("第1名 t1乡 120.00分【表彰】")
    assert "【末位" in lines[-2] and lines[-1].startswith("评定规则：")
    assert ranking.rows[0].breakdown == (
        "100.00 + 20.00（销号率） − 0.00（逾期率） − 0.00（考核罚款） − 0.00（抽查反弹） = 120.00"
    )


def test_tied_towns_share_a_position_listed_by_name() -> None:
    a = stats("a", closed=10, checked=4, reopened=1)  # 100 + 20 − 5 = 115
    b = stats("b", closed=9, overdue=0, problems=12)  # 100 + 15 = 115, closure 75%
    c = stats("c", closed=9, problems=12)  # identical to b
    x = stats("x", closed=0, overdue=0)  # 100
    for order in ([a, b, c, x], [x, c, b, a], [c, x, a, b]):
        ranking = rank_towns(order, POLICY)
        assert [r.town for r in ranking.rows] == ["a", "b", "c", "x"]
        assert [r.position for r in ranking.rows] == [1, 1, 1, 4]
        assert [r.tied for r in ranking.rows] == [True, True, True, False]
    assert rank_towns([a, b, c, x], POLICY).lines()[1].startswith("并列第1名 a乡 115.00分")


def _scores(*points: int) -> list[TownMonthStats]:
    """Towns t01, t02 … scoring 100 + closed×2 (10 problems, `closed` closed, none overdue)."""
    return [stats(f"t{i:02d}", closed=(p - 100) // 2) for i, p in enumerate(points, 1)]


WHOLE = RankingPolicy(commend_top=3, name_bottom=1, ties=TieRule.WHOLE)
NONE = RankingPolicy(commend_top=3, name_bottom=1, ties=TieRule.NONE)


def test_a_tie_at_the_top_is_commended_whole_or_not_at_all() -> None:
    # 19 towns at 120 and two below: the top group has one position, 并列第1名.
    towns = _scores(*[120] * 19, 110, 100)
    whole = rank_towns(towns, WHOLE)
    assert {r.position for r in whole.rows[:19]} == {1} and whole.rows[19].position == 20
    assert len(whole.commended) == 19 and [r.town for r in whole.named] == ["t21"]
    none = rank_towns(towns, NONE)
    assert none.commended == () and [r.town for r in none.named] == ["t21"]


def test_a_tie_across_the_commendation_line() -> None:
    towns = _scores(120, 118, 116, 116, 110, 100)  # the 3rd and 4th share 并列第3名
    whole = rank_towns(towns, WHOLE)
    assert [r.position for r in whole.rows] == [1, 2, 3, 3, 5, 6]
    assert [r.town for r in whole.commended] == ["t01", "t02", "t03", "t04"]
    none = rank_towns(towns, NONE)
    assert [r.town for r in none.commended] == ["t01", "t02"]
    assert [r.town for r in whole.named] == [r.town for r in none.named] == ["t06"]


def test_a_tie_at_the_bottom_is_named_whole_or_not_at_all() -> None:
    # Four towns at 100: not one of them alone is 末位.
    towns = _scores(120, 118, 116, 110, 100, 100, 100, 100)
    whole = rank_towns(towns, WHOLE)
    assert [r.town for r in whole.named] == ["t05", "t06", "t07", "t08"]
    assert {r.position for r in whole.named} == {5}
    none = rank_towns(towns, NONE)
    assert none.named == ()
    assert [r.town for r in none.commended] == ["t01", "t02", "t03"]


def test_everyone_tied_is_neither_commended_nor_named() -> None:
    for policy in (WHOLE, NONE):
        ranking = rank_towns(_scores(120, 120, 120, 120, 120), policy)
        assert ranking.commended == () and ranking.named == ()
        assert {r.position for r in ranking.rows} == {1}


def test_the_best_group_is_never_named_and_no_town_is_both() -> None:
    # Two groups; the 末位 line (last 1) cuts into the bottom group of three.
    ranking = rank_towns(_scores(120, 100, 100, 100), WHOLE)
    assert [r.town for r in ranking.commended] == ["t01"]
    assert [r.town for r in ranking.named] == ["t02", "t03", "t04"]
    three = rank_towns([stats("t1"), stats("t2", closed=9), stats("t3", closed=8)], POLICY)
    assert [r.standing for r in three.rows] == [
        Standing.COMMENDED, Standing.COMMENDED, Standing.NAMED]


def test_towns_without_problems_are_listed_apart_unless_the_plan_ranks_them() -> None:
    towns = [stats("a", closed=9), stats("b", problems=0, closed=0),
             stats("c", closed=5), stats("d", problems=0, closed=0)]
    ranking = rank_towns(towns, POLICY)
    assert [r.town for r in ranking.rows] == ["a", "c"]
    assert [(q.town, q.name) for q in ranking.quiet] == [("b", "b乡"), ("d", "d乡")]
    assert "本月无问题（不参加排名）：b乡、d乡" in ranking.lines()
    assert "本月无问题的乡镇不参加排名，单独列出" in ranking.rule
    ranked = rank_towns(towns, RankingPolicy(rank_without_problems=True))
    assert ranked.quiet == () and [r.town for r in ranked.rows][:2] == ["b", "d"]
    assert "本月无问题的乡镇同样参加排名" in ranked.rule


def test_the_rule_is_stated_in_words() -> None:
    assert ranking_rule(WHOLE) == (
        "得分相同的并列同一名次；前3名通报表扬，后1名列为末位（大会检讨发言，限期整改）；"
        "名次线上的并列单位一并表扬或一并列为末位；得分最高的不列为末位，全部并列时均不表扬、不列末位；"
        "本月无问题的乡镇不参加排名，单独列出。")
    assert "名次线上的并列单位均不表扬、均不列为末位" in ranking_rule(NONE)
    assert tie_groups([Decimal(3), Decimal(3), Decimal(2), Decimal(1), Decimal(1)]) == [
        (0, 2), (2, 3), (3, 5)]


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


@settings(deadline=None)  # a loaded CI machine must not fail it on time alone
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
    rows = ranking.rows
    for a, b in itertools.pairwise(rows):  # tied towns share a position and a standing
        if a.score == b.score:
            assert a.position == b.position and a.standing == b.standing and a.tied
        else:
            assert b.position == rows.index(b) + 1
    assert all(s.problems > 0 for s in towns if s.town in {r.town for r in rows})
    assert {q.town for q in ranking.quiet} == {s.town for s in towns if s.problems == 0}
    assert not (set(ranking.commended) & set(ranking.named))
    if rows and rows[-1].score != rows[0].score:
        last = [r for r in rows if r.score == rows[-1].score]
        assert set(ranking.named) == set(last)  # the whole bottom group (TieRule.WHOLE)
