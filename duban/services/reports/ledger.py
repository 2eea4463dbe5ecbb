"""The full ledger (整改台账) as a workbook, in words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ
from duban.domain.lifecycle import STATUS_LABELS, Status
from duban.domain.plan import towns_word
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.duties import milestone_text, milestones_of, reached_milestones
from duban.services.duty_reports import DUTY_HEADERS, duty_sheet_rows
from duban.services.reports.figures import OPEN_CODES
from duban.services.views.common import campaign_row
from duban.services.views.names import names_in
from models import AuditEvent, Problem, User

LEDGER_HEADERS = (
    "问题编号", "乡镇", "村", "户编号", "问题来源", "问题类别", "类别分组", "问题描述",
    "牵头责任单位", "协办单位", "状态", "整改时限", "时限依据", "是否逾期", "排查人", "发现日期",
    "整改人", "复核人", "销号时间", "重新整改次数",
)


MILESTONE_HEADER = "整改节点"  # 开工 2020-09-15 已完成；完工 2020-11-30 未到期
DUTY_SHEET = "常态化工作"


def ledger_rows(session: Session, campaign_id: int, as_of: dt.date) -> Iterator[dict[str, Any]]:
    """The ledger in words, one dict per problem keyed by Chinese header, by problem code."""
    from models import ProblemCoOffice

    plan = load_plan_of(session, campaign_id)
    categories = {c.code: c for c in plan.categories}
    names = names_in(session, campaign_id, plan)
    sources, town_names, office_names, villages = (names.sources, names.towns, names.offices,
                                                    names.villages)
    users = dict(session.execute(select(User.username, User.name)).all())
    co: dict[int, list[str]] = {}
    for pid, office in session.execute(
        select(ProblemCoOffice.problem_id, ProblemCoOffice.office_code)
        .join(Problem, Problem.id == ProblemCoOffice.problem_id)
        .where(Problem.campaign_id == campaign_id, ProblemCoOffice.campaign_id == campaign_id)
        .order_by(ProblemCoOffice.problem_id, ProblemCoOffice.office_code)
    ):
        co.setdefault(pid, []).append(office_names.get(office, office))
    with_stones = any(r.milestones for r in plan.deadlines.rules)
    reached = reached_milestones(session, campaign_id) if with_stones else {}
    open_codes = set(OPEN_CODES)
    stmt = (select(Problem).where(Problem.campaign_id == campaign_id)
            .order_by(Problem.code).execution_options(yield_per=2000))
    for p in session.scalars(stmt):
        category = categories.get(p.category)
        overdue = p.status in open_codes and p.deadline is not None and p.deadline < as_of
        row: dict[str, Any] = {
            "问题编号": p.code,
            "乡镇": town_names.get(p.town_code, p.town_code),
            "村": villages.get(p.village_code, p.village_code) if p.village_code else "",
            "户编号": p.household_id or "",
            "问题来源": sources.get(p.source, p.source),
            "问题类别": category.name if category else p.category,
            "类别分组": category.group if category else "",
            "问题描述": p.description,
            "牵头责任单位": office_names.get(p.lead_office, p.lead_office) if p.lead_office
            else "（待交办）",
            "协办单位": "、".join(co.get(p.id, [])),
            "状态": STATUS_LABELS[Status(p.status)],
            "整改时限": p.deadline,
            "时限依据": p.deadline_basis or (p.unrouted_reason or ""),
            "是否逾期": overdue,
            "排查人": users.get(p.found_by, p.found_by),
            "发现日期": p.found_on,
            "整改人": users.get(p.rectified_by, p.rectified_by) if p.rectified_by else "",
            "复核人": users.get(p.review_passed_by, p.review_passed_by)
            if p.review_passed_by else "",
            # a date-time cell like the other dates (local time, to the minute), not text
            "销号时间": p.closed_at.astimezone(CHINA_TZ).replace(
                tzinfo=None, second=0, microsecond=0) if p.closed_at else None,
            "重新整改次数": p.reopen_count,
        }
        if with_stones:
            row[MILESTONE_HEADER] = milestone_text(
                milestones_of(session, plan, p, as_of, reached.get(p.id, {})))
        yield row


def write_ledger(uow: UnitOfWork, campaign_id: int, out_path: Path,
                 as_of: dt.date | None = None) -> Path:
    """Write the whole 整改台账 (.xlsx): names, not codes; a filter and a frozen header.

    `as_of` is the day the 是否逾期 column is judged on; by default the day of the newest
    move on the ledger (callers with a clock pass local_today(clock)).
    """
    from duban.adapters.documents.xlsx import write_ledger_xlsx

    session = uow.session
    campaign_row(session, campaign_id)
    if as_of is None:
        newest = session.scalar(
            select(func.max(AuditEvent.at)).where(AuditEvent.campaign_id == campaign_id)
        )
        as_of = newest.astimezone(CHINA_TZ).date() if newest else dt.date.min
    plan = load_plan_of(session, campaign_id)
    headers = (*LEDGER_HEADERS, MILESTONE_HEADER) if any(
        r.milestones for r in plan.deadlines.rules) else LEDGER_HEADERS
    duties = duty_sheet_rows(session, campaign_id, as_of)
    return write_ledger_xlsx(ledger_rows(session, campaign_id, as_of), Path(out_path),
                             headers=headers,
                             more=[(DUTY_SHEET, DUTY_HEADERS, duties)] if plan.duties else [])


def write_ledger_document(uow: UnitOfWork, campaign_id: int, out_path: Path,
                          as_of: dt.date) -> Path:
    """Write the 整改台账 to print (.docx): a 横排 A4 table of every problem under its title.

    The workbook (`write_ledger`) is the ledger to work with; this is the copy to sign and file,
    in GB/T 9704 table layout (see docs/gbt9704.md). `as_of` is the day it is printed for.
    """
    from duban.adapters.documents import LedgerContext, LedgerItem, render_ledger
    from duban.services.notices.documents import letterhead

    session = uow.session
    campaign_row(session, campaign_id)
    plan = load_plan_of(session, campaign_id)
    items = [
        LedgerItem(
            code=r["问题编号"], town=r["乡镇"], village=r["村"], category=r["问题类别"],
            description=r["问题描述"], office=r["牵头责任单位"], status=r["状态"],
            deadline=r["整改时限"],
            closed_on=r["销号时间"].date() if r["销号时间"] is not None else None,
            overdue=bool(r["是否逾期"]),
        )
        for r in ledger_rows(session, campaign_id, as_of)
    ]
    head = letterhead(plan)
    ctx = LedgerContext(
        issuer=head["issuer"], issuer_mark=head["issuer_mark"],
        title=f"{plan.name}问题整改台账", as_of=as_of, scope=f"全部{towns_word(plan)}",
        items=items, issued_on=as_of,
    )
    return render_ledger(ctx, Path(out_path))
