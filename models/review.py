"""Daily spot checks (随机抽查) and the append-only log of delegations (代理, 批量改派)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class SpotCheckDraw(Base):
    """One day's draw for a campaign; its unique key makes a rerun return the same draw."""

    __tablename__ = "spot_check_draw"
    __table_args__ = (UniqueConstraint("campaign_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    day: Mapped[dt.date]
    # The campaign-level seed; each group and kind derives its own from it.
    seed: Mapped[int] = mapped_column(BigInteger)
    drawn_by: Mapped[str] = mapped_column(String(100))
    drawn_at: Mapped[dt.datetime]
    checks: Mapped[int]  # how many spot checks the draw made
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # pool sizes, quota shortfall


class SpotCheck(Base):
    """One drawn spot check: a supervision group checks a closed problem, household or village."""

    __tablename__ = "spot_check"
    __table_args__ = (
        UniqueConstraint("campaign_id", "day", "group_code", "kind", "item_id"),
        Index("ix_spot_check_campaign_day", "campaign_id", "day"),
        Index("ix_spot_check_campaign_problem", "campaign_id", "problem_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    # None for a check a supervisor made outside the daily draw (不定期抽查).
    draw_id: Mapped[int | None] = mapped_column(
        ForeignKey("spot_check_draw.id", ondelete="CASCADE"))
    day: Mapped[dt.date]
    group_code: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))  # closed_problem / household / village
    item_id: Mapped[str] = mapped_column(String(50))  # problem id, household id or village code
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problem.id", ondelete="CASCADE"))
    household_id: Mapped[str | None] = mapped_column(String(50))
    town_code: Mapped[str] = mapped_column(String(50))
    village_code: Mapped[str | None] = mapped_column(String(50))
    draw_seed: Mapped[str] = mapped_column(String(200))  # the derived seed that drew it; "" ad hoc
    # The plan's name of a further household draw (seed 004: 专班排查入户); "" for the main ones.
    purpose: Mapped[str] = mapped_column(String(100), default="", server_default="")
    result: Mapped[str] = mapped_column(String(10), default="pending")  # pending/passed/failed
    checked_by: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[dt.datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")
    # The problem a failed household or village check recorded (a closed problem reopens).
    raised_problem_id: Mapped[int | None] = mapped_column(
        ForeignKey("problem.id", ondelete="SET NULL"))


class DelegationEvent(Base):
    """A substitute granted or ended, or an office's problems reassigned in bulk. Append-only."""

    __tablename__ = "delegation_event"
    __table_args__ = (Index("ix_delegation_event_office_at", "office_code", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # substitute_add / substitute_end / reassign_all
    office_code: Mapped[str] = mapped_column(String(80))
    to_office: Mapped[str | None] = mapped_column(String(80))
    subject: Mapped[str | None] = mapped_column(String(100))  # the substitute's username
    substitute_id: Mapped[int | None]  # no FK: the log outlives the substitute row
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


@event.listens_for(DelegationEvent, "before_update")
def _refuse_update(*_: object) -> None:
    raise PermissionError("delegation events are append-only")


@event.listens_for(DelegationEvent, "before_delete")
def _refuse_delete(*_: object) -> None:
    raise PermissionError("delegation events are append-only")
