"""Penalties (考核扣款) and the monthly evaluation of towns (月考评).

Penalties follow seed 000: "对一般问题未整改到位……按500元/件考核，对不安全住房整改未按阶段完成目标
任务的按2000元/户考核". The ranking follows seed 002: the top three towns are commended, the last
one speaks at the meeting. The score formula lives in `score_components` and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from duban.domain.plan import PenaltyBasis, PenaltyRule, RankingPolicy, TieRule

# --------------------------------------------------------------------------------------------
# Penalties

BASIS_LABELS: dict[PenaltyBasis, str] = {
    PenaltyBasis.PROBLEM: "件",
    PenaltyBasis.HOUSEHOLD: "户",
}


@dataclass(frozen=True, slots=True)
class PenaltyItem:
    """A problem as the penalty assessment (阶段考核) sees it.

    `overdue`: its deadline had passed on the assessment date; `rectified`: it was rectified
    (and passed review) by then. Only items that are overdue and not rectified are fined.
    """

    problem_id: int
    town: str
    office: str
    category: str
    household_id: str | None
    overdue: bool
    rectified: bool

    @property
    def finable(self) -> bool:
        """Whether the item counts for a fine: past its deadline and not rectified."""
        return self.overdue and not self.rectified


@dataclass(frozen=True, slots=True)
class PenaltyLine:
    """One fine: a rule applied to one problem, or to one household (once per rule)."""

    rule: str  # rule code
    rule_name: str
    basis: PenaltyBasis
    unit: str  # the household id (HOUSEHOLD basis) or the problem id (PROBLEM basis)
    town: str
    office: str
    problem_ids: tuple[int, ...]
    amount_yuan: int

    @property
    def text(self) -> str:
        """The line in words, e.g. 住房安全未按期整改：户 H001（2000元/户，涉及问题2项）."""
        per = f"{self.amount_yuan}元/{BASIS_LABELS[self.basis]}"
        if self.basis is PenaltyBasis.HOUSEHOLD:
            return f"{self.rule_name}：户 {self.unit}（{per}，涉及问题{len(self.problem_ids)}项）"
        return f"{self.rule_name}：问题 {self.unit}（{per}）"


def rule_for(category: str, rules: Sequence[PenaltyRule]) -> PenaltyRule | None:
    """The rule that fines a category: the first naming it, else the first generic rule."""
    specific = next((r for r in rules if category in r.categories), None)
    if specific is not None:
        return specific
    return next((r for r in rules if not r.categories), None)


def accrue_penalties(
    items: Sequence[PenaltyItem], rules: Sequence[PenaltyRule]
) -> list[PenaltyLine]:
    """Fine every overdue, unrectified item under its rule (see `rule_for`).

    PROBLEM basis: one line per item. HOUSEHOLD basis: one line per household per rule,
    however many of its problems fall under the rule (an item without a household counts as
    its own unit). Lines come sorted by town, rule, unit.
    """
    units: dict[tuple[str, PenaltyBasis, str], list[PenaltyItem]] = {}
    chosen: dict[str, PenaltyRule] = {}
    for item in items:
        if not item.finable:
            continue
        rule = rule_for(item.category, rules)
        if rule is None:
            continue
        chosen[rule.code] = rule
        if rule.basis is PenaltyBasis.HOUSEHOLD and item.household_id:
            key = (rule.code, PenaltyBasis.HOUSEHOLD, item.household_id)
        else:
            key = (rule.code, PenaltyBasis.PROBLEM, str(item.problem_id))
        units.setdefault(key, []).append(item)
    result = []
    for (code, basis, unit), members in units.items():
        first = min(members, key=lambda i: i.problem_id)
        result.append(
            PenaltyLine(
                rule=code,
                rule_name=chosen[code].name,
                basis=basis,
                unit=unit,
                town=first.town,
                office=first.office,
                problem_ids=tuple(sorted({i.problem_id for i in members})),
                amount_yuan=chosen[code].amount_yuan,
            )
        )
    result.sort(key=lambda line: (line.town, line.rule, line.problem_ids[0], line.unit))
    return result


def penalty_totals(lines: Iterable[PenaltyLine], by: str = "town") -> dict[str, int]:
    """Total yuan per town (by="town") or per office (by="office")."""
    if by not in ("town", "office"):
        raise ValueError(f"by must be 'town' or 'office', not {by!r}")
    totals: dict[str, int] = {}
    for line in lines:
        key = line.town if by == "town" else line.office
        totals[key] = totals.get(key, 0) + line.amount_yuan
    return totals


# --------------------------------------------------------------------------------------------
# Monthly ranking


@dataclass(frozen=True, slots=True)
class TownMonthStats:
    """What a town did in one month: the inputs of its score.

    When the plan ranks offices (RankingPolicy.by == "office"), `town` and `name` hold the
    office code and name instead.
    """

    town: str
    name: str
    month: dt.date  # any day of the month evaluated
    households: int  # households in scope (for penalties per 10,000 households)
    problems: int  # problems the town was responsible for at any time in the month
    closed: int  # of those, closed (销号) by the end of the month
    overdue: int  # of those, past their deadline and not closed at the end of the month
    penalties_yuan: int  # fines accrued in the month
    spot_checked: int = 0  # closed problems spot-checked (抽查) in the month
    reopened: int = 0  # of those, found wanting and reopened
    failed_checks: int = 0  # household and village spot checks failed in the month

    def __post_init__(self) -> None:
        counts = (
            self.households,
            self.problems,
            self.closed,
            self.overdue,
            self.penalties_yuan,
            self.spot_checked,
            self.reopened,
            self.failed_checks,
        )
        if min(counts) < 0:
            raise ValueError(f"{self.town}: counts must not be negative")
        if self.closed > self.problems or self.overdue > self.problems:
            raise ValueError(f"{self.town}: closed and overdue cannot exceed problems")
        if self.reopened > self.spot_checked:
            raise ValueError(f"{self.town}: reopened cannot exceed spot_checked")


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """The weights of the score; the defaults are duban's documented formula."""

    base: int = 100
    closure: int = 20  # points for a 100% closure rate
    overdue: int = 30  # points lost at a 100% overdue rate
    penalty_per_thousand_yuan: int = 1  # points lost per 1,000 yuan per 10,000 households
    penalty_cap: int = 20  # at most this many points lost to penalties
    reopened: int = 20  # points lost when every spot-checked item is reopened
    failed_check: int = 2  # points lost per failed household or village spot check
    failed_check_cap: int = 10  # at most this many points lost to them


DEFAULT_WEIGHTS = ScoreWeights()

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ScoreComponent:
    """One term of a score, with the arithmetic in words so the ranking can be defended."""

    code: str
    label: str
    points: Decimal  # signed, rounded to 0.01
    detail: str
    deducts: bool = False  # a term that can only take points away


def _points(value: Fraction) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(CENT, rounding=ROUND_HALF_UP)


def _pct(rate: Fraction) -> str:
    return f"{_points(rate * 100)}%"


def closure_rate(s: TownMonthStats) -> Fraction:
    """Closed / problems; a town with no problems has nothing left open (1)."""
    return Fraction(s.closed, s.problems) if s.problems else Fraction(1)


def overdue_rate(s: TownMonthStats) -> Fraction:
    """Overdue / problems; 0 when the town had no problems."""
    return Fraction(s.overdue, s.problems) if s.problems else Fraction(0)


def penalty_per_10k_households(s: TownMonthStats) -> Fraction | None:
    """Fines in yuan per 10,000 households in scope; None when the town has no households."""
    if s.households == 0:
        return None
    return Fraction(s.penalties_yuan * 10_000, s.households)


def reopened_rate(s: TownMonthStats) -> Fraction:
    """Reopened / spot-checked closed items; 0 when nothing was spot-checked."""
    return Fraction(s.reopened, s.spot_checked) if s.spot_checked else Fraction(0)


def score_components(
    s: TownMonthStats, weights: ScoreWeights = DEFAULT_WEIGHTS
) -> tuple[ScoreComponent, ...]:
    """The score of one town, term by term; the score is the sum of the terms.

    score = base
          + closure × (closed / problems)                     [1 when no problems]
          − overdue × (overdue / problems)                    [0 when no problems]
          − min(cap, per_thousand × penalties per 10,000 households / 1,000)
                                                              [cap when fined, no households]
          − reopened × (reopened / spot-checked)              [0 when nothing checked]
          − min(failed_check_cap, failed_check × failed household/village checks)
                                                              [shown only when some failed]
    Each term is rounded to 0.01 (half up) before summing, so the terms add up exactly.
    """
    closure = closure_rate(s)
    overdue = overdue_rate(s)
    reopened = reopened_rate(s)
    per_10k = penalty_per_10k_households(s)
    if per_10k is None:
        penalty = Fraction(weights.penalty_cap if s.penalties_yuan else 0)
        penalty_detail = f"罚款{s.penalties_yuan}元，无在册农户数，按上限计"
    else:
        penalty = min(
            Fraction(weights.penalty_cap), per_10k * weights.penalty_per_thousand_yuan / 1000
        )
        penalty_detail = (
            f"罚款{s.penalties_yuan}元÷{s.households}户×1万户＝{_points(per_10k)}元/万户，"
            f"每千元扣{weights.penalty_per_thousand_yuan}分，最多扣{weights.penalty_cap}分"
        )
    parts = (
        ScoreComponent("base", "基础分", _points(Fraction(weights.base)), f"{weights.base}分"),
        ScoreComponent(
            "closure",
            "销号率",
            _points(closure * weights.closure),
            f"销号率{_pct(closure)}（{s.closed}/{s.problems}）×{weights.closure}分",
        ),
        ScoreComponent(
            "overdue",
            "逾期率",
            -_points(overdue * weights.overdue),
            f"逾期率{_pct(overdue)}（{s.overdue}/{s.problems}）×{weights.overdue}分",
            deducts=True,
        ),
        ScoreComponent("penalty", "考核罚款", -_points(penalty), penalty_detail, deducts=True),
        ScoreComponent(
            "reopened",
            "抽查反弹",
            -_points(reopened * weights.reopened),
            f"抽查销号问题{s.spot_checked}项，重新打开{s.reopened}项（{_pct(reopened)}）"
            f"×{weights.reopened}分",
            deducts=True,
        ),
    )
    if not s.failed_checks:
        return parts  # the term shows only when a household or village check failed
    return (*parts, ScoreComponent(
        "failed_checks",
        "抽查不合格",
        -_points(Fraction(min(weights.failed_check_cap, weights.failed_check * s.failed_checks))),
        f"农户、行政村抽查不合格{s.failed_checks}项×{weights.failed_check}分，"
        f"最多扣{weights.failed_check_cap}分",
        deducts=True,
    ))


class Standing(StrEnum):
    """What the month's result means for a town."""

    COMMENDED = "commended"  # 表彰
    NAMED = "named"  # 末位: speaks at the meeting, rectifies within a time limit
    NONE = "none"


STANDING_LABELS: dict[Standing, str] = {
    Standing.COMMENDED: "表彰",
    Standing.NAMED: "末位（大会检讨发言，限期整改）",
    Standing.NONE: "",
}

UNIT_LABELS: dict[str, str] = {"town": "乡镇", "office": "责任单位"}


@dataclass(frozen=True, slots=True)
class RankedTown:
    """One row of the ranking."""

    position: int  # 1 = best; tied units share it (并列), the next after a tie skips (1, 2, 2, 4)
    town: str
    name: str
    score: Decimal
    components: tuple[ScoreComponent, ...]
    standing: Standing
    tied: bool  # another unit has exactly the same score and so the same position

    @property
    def standing_label(self) -> str:
        """表彰 / 末位… / empty."""
        return STANDING_LABELS[self.standing]

    @property
    def rank_text(self) -> str:
        """第2名, or 并列第2名 when tied."""
        return f"{'并列' if self.tied else ''}第{self.position}名"

    @property
    def breakdown(self) -> str:
        """The score as a sum, e.g. 100.00 + 16.00 − 3.00 − 2.50 − 0.00 = 110.50."""
        terms = [f"{self.components[0].points}"]
        for c in self.components[1:]:
            sign = "−" if c.deducts or c.points < 0 else "+"
            terms.append(f"{sign} {abs(c.points)}（{c.label}）")
        return f"{' '.join(terms)} = {self.score}"


@dataclass(frozen=True, slots=True)
class QuietUnit:
    """A unit that had no problem in the month: listed apart (本月无问题), not ranked."""

    town: str
    name: str


QUIET_LABEL = "本月无问题"


@dataclass(frozen=True, slots=True)
class Ranking:
    """The month's evaluation: every town in order, with who is commended and who is named."""

    month: dt.date | None  # first day of the month; None when nothing was ranked
    by: str
    rows: tuple[RankedTown, ...]
    quiet: tuple[QuietUnit, ...] = ()  # units with no problem in the month, not ranked
    rule: str = ""  # the plan's rule in words (ranking_rule), printed with the ranking

    @property
    def commended(self) -> tuple[RankedTown, ...]:
        """The towns to commend (前N名表彰)."""
        return tuple(r for r in self.rows if r.standing is Standing.COMMENDED)

    @property
    def named(self) -> tuple[RankedTown, ...]:
        """The towns named last (后M名)."""
        return tuple(r for r in self.rows if r.standing is Standing.NAMED)

    @property
    def unit_label(self) -> str:
        """What the ranked units are called: 乡镇 or 责任单位 (the documents' word too)."""
        return UNIT_LABELS.get(self.by, "单位")

    @property
    def title(self) -> str:
        """E.g. 2020年7月乡镇月考评排名."""
        unit = UNIT_LABELS.get(self.by, "")
        if self.month is None:
            return f"{unit}月考评排名"
        return f"{self.month.year}年{self.month.month}月{unit}月考评排名"

    def lines(self) -> list[str]:
        """The ranking as plain-text lines for a bulletin (月通报)."""
        out = [self.title]
        for r in self.rows:
            mark = f"【{r.standing_label}】" if r.standing is not Standing.NONE else ""
            out.append(f"{r.rank_text} {r.name} {r.score}分{mark}：{r.breakdown}")
        if self.quiet:
            out.append(f"{QUIET_LABEL}（不参加排名）：{'、'.join(q.name for q in self.quiet)}")
        if self.rule:
            out.append(f"评定规则：{self.rule}")
        return out


def tie_groups(scores: Sequence[Decimal]) -> list[tuple[int, int]]:
    """The runs of equal scores in a best-first list, as (first index, index after the last)."""
    groups: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(scores) + 1):
        if i == len(scores) or scores[i] != scores[start]:
            groups.append((start, i))
            start = i
    return groups


def group_standings(scores: Sequence[Decimal], commend_top: int, name_bottom: int,
                    ties: TieRule) -> list[Standing]:
    """Each unit's standing, from best-first scores, applied to whole tie groups.

    Units with equal scores share a position; the commendation line (after the first
    `commend_top` units) and the 末位 line (before the last `name_bottom`) apply to whole tie
    groups: a group the line cuts through is commended (named) whole under TieRule.WHOLE and
    not at all under TieRule.NONE. The group holding the best score is never named, nor is a
    named group commended; when every unit is tied, no one is either.
    """
    n = len(scores)
    groups = tie_groups(scores)
    out = [Standing.NONE] * n
    if len(groups) < 2:
        return out
    last_line = n - min(max(name_bottom, 0), n)  # indexes from here are the bottom M
    top = min(max(commend_top, 0), n)
    for first, after in groups:
        whole = ties is TieRule.WHOLE
        named = first > 0 and (after > last_line if whole else first >= last_line)
        commended = not named and (first < top if whole else after <= top)
        standing = (Standing.NAMED if named else Standing.COMMENDED if commended
                    else Standing.NONE)
        for i in range(first, after):
            out[i] = standing
    return out


def ranking_rule(policy: RankingPolicy, unit: str = "") -> str:
    """The plan's ranking rule in words, printed on the page and in the 通报."""
    unit = unit or UNIT_LABELS.get(policy.by, "单位")
    parts = ["得分相同的并列同一名次"]
    lines = []
    if policy.commend_top > 0:
        lines.append(f"前{policy.commend_top}名通报表扬")
    if policy.name_bottom > 0:
        lines.append(f"后{policy.name_bottom}名列为末位（大会检讨发言，限期整改）")
    if lines:
        parts.append("，".join(lines))
        if policy.ties is TieRule.WHOLE:
            parts.append("名次线上的并列单位一并表扬或一并列为末位")
        else:
            parts.append("名次线上的并列单位均不表扬、均不列为末位")
        parts.append("得分最高的不列为末位，全部并列时均不表扬、不列末位")
    if policy.rank_without_problems:
        parts.append(f"本月无问题的{unit}同样参加排名")
    else:
        parts.append(f"本月无问题的{unit}不参加排名，单独列出")
    return "；".join(parts) + "。"


def rank_towns(
    stats: Sequence[TownMonthStats],
    policy: RankingPolicy,
    weights: ScoreWeights = DEFAULT_WEIGHTS,
) -> Ranking:
    """Score and order the towns of one month; commend the top N and name the bottom M.

    Towns with equal scores are tied (并列): they share a position and no hidden measure
    splits them; the commendation and 末位 lines apply to whole tie groups as the plan's
    `ranking.ties` says (`group_standings`). A town with no problem in the month is listed
    apart (`Ranking.quiet`) unless `ranking.rank_without_problems`. Rows within a tie group
    are listed by name.
    """
    if not stats:
        return Ranking(month=None, by=policy.by, rows=(), rule=ranking_rule(policy))
    months = {(s.month.year, s.month.month) for s in stats}
    if len(months) != 1:
        raise ValueError(f"stats span several months: {sorted(months)}")
    codes = [s.town for s in stats]
    if len(set(codes)) != len(codes):
        raise ValueError("a town appears twice in the month's stats")
    year, month = months.pop()
    ranked = [s for s in stats if s.problems > 0 or policy.rank_without_problems]
    quiet = tuple(QuietUnit(s.town, s.name) for s in stats
                  if not (s.problems > 0 or policy.rank_without_problems))
    scored = []
    for s in ranked:
        components = score_components(s, weights)
        scored.append((s, components, sum((c.points for c in components), Decimal(0))))
    scored.sort(key=lambda t: (-t[2], t[0].name, t[0].town))
    scores = [score for _, _, score in scored]
    standings = group_standings(scores, policy.commend_top, policy.name_bottom, policy.ties)
    rows = []
    for first, after in tie_groups(scores):
        for i in range(first, after):
            s, components, score = scored[i]
            rows.append(RankedTown(position=first + 1, town=s.town, name=s.name, score=score,
                                   components=components, standing=standings[i],
                                   tied=after - first > 1))
    return Ranking(month=dt.date(year, month, 1), by=policy.by, rows=tuple(rows), quiet=quiet,
                   rule=ranking_rule(policy))
