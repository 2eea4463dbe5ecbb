"""The 月考评 通报 (.docx) and its breakdown (.xlsx)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.domain.filenames import report_file_stem
from duban.domain.plan import PenaltyBasis, towns_word
from duban.domain.scoring import QUIET_LABEL, STANDING_LABELS
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.notices.documents import county_contact, letterhead
from duban.services.scoring.monthly import compute_ranking, ranking
from duban.services.scoring.penalties import fined_unit
from duban.services.scoring.snapshot import RankingSnapshot
from duban.services.templates import template_dir_for
from models import Problem


def _problem_codes(session: Session, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(ids), 2000):
        out.update(session.execute(
            select(Problem.id, Problem.code).where(Problem.id.in_(ids[i:i + 2000]))).all())
    return out


def problem_codes(uow: UnitOfWork, ids: Sequence[int]) -> dict[int, str]:
    """问题编号 of problems by id (penalty lines name problems by id)."""
    session = uow.session
    return _problem_codes(session, list(ids))


def ranking_context(session: Session, snap: RankingSnapshot, issued_on: dt.date) -> Any:
    """The RankingContext of a snapshot (see duban.adapters.documents)."""
    from duban.adapters.documents.context import Penalty, RankingContext, RankingRow, ScoreLine

    plan = load_plan_of(session, snap.campaign_id)
    # Towns by the plan's own word for them (seed 004 ranks 经济开发区 among its 乡镇（开发区）).
    unit = towns_word(plan) if snap.policy.by == "town" else snap.ranking.unit_label
    rows = []
    for r in snap.ranking.rows:
        gains = [ScoreLine(c.label, float(c.points)) for c in r.components if not c.deducts]
        deduction = float(-sum((c.points for c in r.components if c.deducts), Decimal(0)))
        remark = "；".join(x for x in (STANDING_LABELS[r.standing], "并列" if r.tied else "") if x)
        rows.append(RankingRow(rank=r.position, town=r.name, scores=gains, deduction=deduction,
                               remark=remark))
    codes = _problem_codes(session, sorted({i for x in snap.penalties for i in x.problem_ids}))
    penalties = [
        Penalty(
            target=snap.names.get(fined_unit(x, snap.policy.by), fined_unit(x, snap.policy.by)),
            reason=(f"{x.rule_name}（户 {x.unit}，问题 "
                    f"{'、'.join(codes.get(i, str(i)) for i in x.problem_ids)}）"
                    if x.basis is PenaltyBasis.HOUSEHOLD
                    else f"{x.rule_name}（问题 {codes.get(int(x.unit), x.unit)}）"),
            amount_yuan=x.amount_yuan,
        )
        for x in snap.penalties
    ]
    month_cn = f"{snap.month.year}年{snap.month.month}月"
    frozen = "" if snap.frozen else "（预览，未冻结）"
    intro = (
        f"根据{plan.name}月考评办法，按销号率、逾期率、考核罚款、抽查反弹情况，对各{unit}"
        f"{month_cn}工作进行了考评{frozen}。评定规则：{snap.ranking.rule}"
    )
    if snap.ranking.quiet:
        intro += f"{QUIET_LABEL}的{unit}（不参加排名）：{'、'.join(q.name for q in snap.ranking.quiet)}。"
    intro += "现将结果通报如下："
    return RankingContext(
        **letterhead(plan, county_contact(session, snap.campaign_id, plan)),
        title=f"关于{month_cn}{unit}月考评结果的通报", number=snap.number,
        issued_on=issued_on, addressee=f"各{unit}", year=snap.month.year,
        month=snap.month.month, intro=intro, rows=rows, commend_top=snap.policy.commend_top,
        name_last=snap.policy.name_bottom, penalties=penalties,
        commended_towns=[r.name for r in snap.ranking.commended],
        named_towns=[r.name for r in snap.ranking.named],
        unit_label="责任单位" if snap.policy.by == "office" else "",
    )


RANKING_HEADERS = ("名次", "名称", "总分", "评定", "并列", "计分明细", "问题数", "已销号",
                   "逾期", "考核罚款（元）", "农户数", "抽查销号问题", "抽查重新打开")


def write_ranking(
    uow: UnitOfWork, clock: Clock, campaign_id: int, month: str | dt.date, out_dir: Path
) -> list[Path]:
    """Write the month's 月考评 通报 (.docx) and its breakdown (.xlsx); return the paths.

    Uses the frozen ranking when the month is frozen, else a live preview marked as such.
    """
    from duban.adapters.documents.render import render_ranking
    from duban.adapters.documents.xlsx import write_ranking_xlsx

    snap = ranking(uow, campaign_id, month) or compute_ranking(uow, clock, campaign_id, month)
    issued_on = (snap.frozen_at.astimezone(CHINA_TZ).date() if snap.frozen_at
                 else local_today(clock))
    session = uow.session
    ctx = ranking_context(session, snap, issued_on)
    out_dir = Path(out_dir)
    stem = report_file_stem(load_plan_of(session, campaign_id).name, "月考评",
                            f"{snap.month.year}年{snap.month.month}月" + ("" if snap.frozen else "（预览）"))
    docx = render_ranking(ctx, out_dir / f"{stem}.docx", template_dir=template_dir_for(campaign_id))
    rows = []
    for r in snap.ranking.rows:
        s = snap.stats_of(r.town)
        rows.append({
            "名次": r.position, "名称": r.name, "总分": float(r.score),
            "评定": r.standing_label, "并列": "并列" if r.tied else "", "计分明细": r.breakdown,
            "问题数": s.problems, "已销号": s.closed, "逾期": s.overdue,
            "考核罚款（元）": s.penalties_yuan, "农户数": s.households,
            "抽查销号问题": s.spot_checked, "抽查重新打开": s.reopened,
        })
    ranked = len(rows)
    for q in snap.ranking.quiet:  # listed apart, not ranked
        s = snap.stats_of(q.town)
        rows.append({"名次": "", "名称": q.name, "总分": "", "评定": QUIET_LABEL, "并列": "",
                     "计分明细": "", "问题数": 0, "已销号": 0, "逾期": 0,
                     "考核罚款（元）": s.penalties_yuan, "农户数": s.households,
                     "抽查销号问题": 0, "抽查重新打开": 0})
    xlsx = write_ranking_xlsx(rows, RANKING_HEADERS, out_dir / f"{stem}.xlsx", chart_rows=ranked)
    return [docx, xlsx]
