"""Daily spot checks (随机抽查) and the append-only log of delegations (代理, 批量改派)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class SpotCheckDraw(Base):
    """One day's draw for a campaign; its unique key makes a rerun return the same draw."""

    __table__ = tables.spot_check_draw

    id: Mapped[int]
    campaign_id: Mapped[int]
    day: Mapped[dt.date]
    seed: Mapped[int]
    drawn_by: Mapped[str]
    drawn_at: Mapped[dt.datetime]
    checks: Mapped[int]  # how many spot checks the draw made
    data: Mapped[dict[str, Any]]  # pool sizes, quota shortfall


class SpotCheck(Base):
    """One drawn spot check: a supervision group checks a closed problem, household or village."""

    __table__ = tables.spot_check

    id: Mapped[int]
    campaign_id: Mapped[int]
    draw_id: Mapped[int | None]
    day: Mapped[dt.date]
    group_code: Mapped[str]
    kind: Mapped[str]  # closed_problem / household / village
    item_id: Mapped[str]  # problem id, household id or village code
    problem_id: Mapped[int | None]
    household_id: Mapped[str | None]
    town_code: Mapped[str]
    village_code: Mapped[str | None]
    draw_seed: Mapped[str]  # the derived seed that drew it; "" ad hoc
    purpose: Mapped[str]
    result: Mapped[str]  # pending/passed/failed
    checked_by: Mapped[str | None]
    checked_at: Mapped[dt.datetime | None]
    note: Mapped[str]
    raised_problem_id: Mapped[int | None]


class DelegationEvent(Base):
    """A substitute granted or ended, or an office's problems reassigned in bulk. Append-only."""

    __table__ = tables.delegation_event

    id: Mapped[int]
    campaign_id: Mapped[int | None]
    kind: Mapped[str]  # substitute_add / substitute_end / reassign_all
    office_code: Mapped[str]
    to_office: Mapped[str | None]
    subject: Mapped[str | None]  # the substitute's username
    substitute_id: Mapped[int | None]  # no FK: the log outlives the substitute row
    actor: Mapped[str]
    at: Mapped[dt.datetime]
    note: Mapped[str]
    data: Mapped[dict[str, Any]]


@event.listens_for(DelegationEvent, "before_update")
def _refuse_update(*_: object) -> None:
    raise PermissionError("delegation events are append-only")


@event.listens_for(DelegationEvent, "before_delete")
def _refuse_delete(*_: object) -> None:
    raise PermissionError("delegation events are append-only")
