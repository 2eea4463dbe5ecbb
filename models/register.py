"""The household register (农户信息) and visits (走访记录)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Household(Base):
    """One household of the register, keyed by its 户编号 within a campaign."""

    __tablename__ = "household"
    __table_args__ = (
        UniqueConstraint("campaign_id", "household_id"),
        Index("ix_household_campaign_village", "campaign_id", "village_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    household_id: Mapped[str] = mapped_column(String(50))
    town_code: Mapped[str] = mapped_column(String(50))
    village_code: Mapped[str] = mapped_column(String(50))
    head: Mapped[str] = mapped_column(String(50))
    members: Mapped[int]
    category: Mapped[str] = mapped_column(String(20))
    monitoring_type: Mapped[str | None] = mapped_column(String(20))
    income_per_person: Mapped[int]
    house_grade: Mapped[str] = mapped_column(String(1))
    tap_water: Mapped[bool]
    school_age_children: Mapped[int]
    children_out_of_school: Mapped[int]
    medical_insurance: Mapped[bool]
    sanitary_toilet: Mapped[bool]
    # The facts the plan's `household.fields` define, by field key (a multiple choice as a
    # list); {} when the plan defines none.
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Visit(Base):
    """A household visit; one per household, visitor and day."""

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("campaign_id", "household_id", "visited_on", "visitor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    household_id: Mapped[str] = mapped_column(String(50))
    visitor: Mapped[str] = mapped_column(String(50))
    visited_on: Mapped[dt.date]
    mode: Mapped[str] = mapped_column(String(20))
    answered_by: Mapped[str] = mapped_column(String(50), default="")
    findings: Mapped[str] = mapped_column(Text, default="")
