"""The waiting board (待办看板): every pending item, whose move it is and since when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.domain.bands import Bands
from duban.domain.lifecycle import Status
from duban.services.campaigns import load_plan_of
from duban.services.scoping import Scope, problem_clause
from duban.services.views.common import PENDING, plan_bands
from duban.services.views.ledger import LedgerRow, ledger_row
from duban.services.views.names import Names, names_in
from models import Problem

# Whose move it is in each pending status: the lead office, or a county role (by label).
WAITING_STEP: dict[Status, tuple[str | None, str]] = {
    Status.UNROUTED: ("县级办公室", "交办"),
    Status.ROUTED: (None, "签收"),
    Status.RECTIFYING: (None, "整改"),
    Status.DISPUTED: ("县级办公室", "裁定改派申请"),
    Status.EXTENSION_REQUESTED: ("县级办公室", "审批延期"),
    Status.SUBMITTED: ("复核人（督查组／县级办公室）", "复核"),
    Status.REVIEWED: ("县级办公室", "销号"),
}


@dataclass(frozen=True)
class WaitingItem:
    """An item on someone's desk, with whose move it is and since when."""

    row: LedgerRow
    party: str
    step: str
    since: dt.datetime


def waiting_items(session: Session, scope: Scope, campaign_id: int, today: dt.date, *,
                  office: str | None = None, status: Status | None = None,
                  page: int = 1, per_page: int = 50, bands: Bands | None = None,
                  names: Names | None = None) -> tuple[int, list[WaitingItem]]:
    """Pending items in the scope, longest-waiting first, with whose move it is."""
    if bands is None or names is None:
        plan = load_plan_of(session, campaign_id)
        bands = bands or plan_bands(plan, today)
        names = names or names_in(session, campaign_id, plan)
    stmt = select(Problem).where(Problem.campaign_id == campaign_id,
                                 problem_clause(scope, campaign_id=campaign_id),
                                 Problem.status.in_(PENDING))
    if office:
        stmt = stmt.where(Problem.lead_office == office)
    if status is not None:
        stmt = stmt.where(Problem.status == status.value)
    total = int(session.scalar(select(func.count()).select_from(
        stmt.with_only_columns(Problem.id).subquery())) or 0)
    rows = session.scalars(stmt.order_by(Problem.updated_at, Problem.id)
                           .limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    items = []
    for p in rows:
        who, step = WAITING_STEP[Status(p.status)]
        items.append(WaitingItem(row=ledger_row(p, bands), party=who or names.office(p.lead_office),
                                 step=step, since=p.updated_at))
    return total, items
