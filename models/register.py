"""The household register (农户信息) and visits (走访记录)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class Household(Base):
    """One household of the register, keyed by its 户编号 within a campaign."""

    __table__ = tables.household

    id: Mapped[int]
    campaign_id: Mapped[int]
    household_id: Mapped[str]
    town_code: Mapped[str]
    village_code: Mapped[str]
    head: Mapped[str]
    members: Mapped[int]
    category: Mapped[str]
    monitoring_type: Mapped[str | None]
    income_per_person: Mapped[int]
    house_grade: Mapped[str]
    tap_water: Mapped[bool]
    school_age_children: Mapped[int]
    children_out_of_school: Mapped[int]
    medical_insurance: Mapped[bool]
    sanitary_toilet: Mapped[bool]
    facts: Mapped[dict[str, Any]]  # by the plan's `household.fields` keys; {} when none


class VillageHouseholds(Base):
    """How many households a village has in a campaign's register (kept by the intake)."""

    __table__ = tables.village_households

    campaign_id: Mapped[int]
    town_code: Mapped[str]
    village_code: Mapped[str]
    households: Mapped[int]
    marks: Mapped[list[str]]  # every MARK_EVERY-th 户编号 of the village, from the first


class Visit(Base):
    """A household visit; one per household, visitor and day."""

    __table__ = tables.visit

    id: Mapped[int]
    campaign_id: Mapped[int]
    household_id: Mapped[str]
    visitor: Mapped[str]
    visited_on: Mapped[dt.date]
    mode: Mapped[str]
    answered_by: Mapped[str]
    findings: Mapped[str]
