"""A month's ranking with its inputs, and its stored (frozen) form as JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from duban.domain.plan import PenaltyBasis, RankingPolicy, TieRule
from duban.domain.scoring import (
    PenaltyLine,
    QuietUnit,
    RankedTown,
    Ranking,
    ScoreComponent,
    ScoreWeights,
    Standing,
    TownMonthStats,
)
from models.reporting import MonthlyRanking


@dataclass(frozen=True)
class RankingSnapshot:
    """A month's ranking with its inputs: frozen (stored) or a live preview (frozen_at None)."""

    campaign_id: int
    month: dt.date  # first day of the month
    as_of: dt.datetime  # the moment the figures describe
    ranking: Ranking
    stats: tuple[TownMonthStats, ...]
    penalties: tuple[PenaltyLine, ...]
    penalty_basis: str  # accrued / ledger
    policy: RankingPolicy
    weights: ScoreWeights
    names: dict[str, str]  # unit code -> name, for the penalty lines' towns / offices
    frozen_at: dt.datetime | None = None
    frozen_by: str | None = None
    number: str = ""  # the 文号 of its 通报, taken when frozen; "" for a preview

    @property
    def frozen(self) -> bool:
        """Whether this is the stored, frozen ranking."""
        return self.frozen_at is not None

    def stats_of(self, code: str) -> TownMonthStats:
        """The inputs of one ranked town (or office)."""
        return next(s for s in self.stats if s.town == code)

    def penalty_total(self, code: str) -> int:
        """Yuan fined to one ranked unit in the month."""
        return self.stats_of(code).penalties_yuan


def _policy_json(snap: RankingSnapshot) -> dict[str, Any]:
    return {
        "commend_top": snap.policy.commend_top,
        "name_bottom": snap.policy.name_bottom,
        "by": snap.policy.by,
        "failed_check_points": snap.policy.failed_check_points,
        "ties": snap.policy.ties.value,
        "rank_without_problems": snap.policy.rank_without_problems,
        "weights": dataclasses.asdict(snap.weights),
        "names": snap.names,
        # Units with no problem in the month, listed apart, and the rule as printed then.
        "quiet": [{"town": q.town, "name": q.name,
                   "stats": {f: getattr(snap.stats_of(q.town), f) for f in STAT_FIELDS}}
                  for q in snap.ranking.quiet],
        "rule": snap.ranking.rule,
    }


STAT_FIELDS = ("households", "problems", "closed", "overdue", "penalties_yuan",
                "spot_checked", "reopened", "failed_checks")


def _rows_json(snap: RankingSnapshot) -> list[dict[str, Any]]:
    out = []
    for r in snap.ranking.rows:
        s = snap.stats_of(r.town)
        out.append({
            "position": r.position,
            "town": r.town,
            "name": r.name,
            "score": str(r.score),
            "standing": r.standing.value,
            "tied": r.tied,
            "breakdown": r.breakdown,
            "components": [
                {"code": c.code, "label": c.label, "points": str(c.points), "detail": c.detail,
                 "deducts": c.deducts}
                for c in r.components
            ],
            "stats": {f: getattr(s, f) for f in STAT_FIELDS},
        })
    return out


def _line_json(line: PenaltyLine) -> dict[str, Any]:
    return {
        "rule": line.rule, "rule_name": line.rule_name, "basis": line.basis.value,
        "unit": line.unit, "town": line.town, "office": line.office,
        "problem_ids": list(line.problem_ids), "amount_yuan": line.amount_yuan,
    }


def stored_columns(snap: RankingSnapshot) -> dict[str, Any]:
    """The JSON columns of a frozen month's `monthly_ranking` row: policy, rows, penalties."""
    return {"policy": _policy_json(snap), "rows": _rows_json(snap),
            "penalties": [_line_json(x) for x in snap.penalties]}


def snapshot_of_row(row: MonthlyRanking) -> RankingSnapshot:
    """A frozen month's ranking as it was stored."""
    policy_data = row.policy
    policy = RankingPolicy(commend_top=int(policy_data["commend_top"]),
                           name_bottom=int(policy_data["name_bottom"]), by=str(policy_data["by"]),
                           failed_check_points=int(policy_data.get("failed_check_points", 2)),
                           ties=TieRule(policy_data.get("ties", TieRule.WHOLE.value)),
                           rank_without_problems=bool(
                               policy_data.get("rank_without_problems", False)))
    weights = ScoreWeights(**policy_data.get("weights", {}))
    rows = []
    stats = []
    for r in row.rows:
        rows.append(RankedTown(
            position=int(r["position"]), town=r["town"], name=r["name"],
            score=Decimal(r["score"]),
            components=tuple(
                ScoreComponent(c["code"], c["label"], Decimal(c["points"]), c["detail"],
                               bool(c["deducts"]))
                for c in r["components"]
            ),
            standing=Standing(r["standing"]), tied=bool(r["tied"]),
        ))
        stats.append(TownMonthStats(town=r["town"], name=r["name"], month=row.month,
                                    **{f: int(r["stats"].get(f, 0)) for f in STAT_FIELDS}))
    quiet = tuple(QuietUnit(q["town"], q["name"]) for q in policy_data.get("quiet", []))
    stats.extend(TownMonthStats(town=q["town"], name=q["name"], month=row.month,
                                **{f: int(q["stats"].get(f, 0)) for f in STAT_FIELDS})
                 for q in policy_data.get("quiet", []))
    lines = tuple(
        PenaltyLine(rule=x["rule"], rule_name=x["rule_name"], basis=PenaltyBasis(x["basis"]),
                    unit=x["unit"], town=x["town"], office=x["office"],
                    problem_ids=tuple(int(i) for i in x["problem_ids"]),
                    amount_yuan=int(x["amount_yuan"]))
        for x in row.penalties
    )
    return RankingSnapshot(
        campaign_id=row.campaign_id, month=row.month, as_of=row.as_of,
        ranking=Ranking(month=row.month, by=row.by, rows=tuple(rows), quiet=quiet,
                        rule=str(policy_data.get("rule", ""))),
        stats=tuple(stats),
        penalties=lines, penalty_basis=row.penalty_basis, policy=policy, weights=weights,
        names=dict(policy_data.get("names", {})), frozen_at=row.frozen_at,
        frozen_by=row.frozen_by, number=row.number,
    )
