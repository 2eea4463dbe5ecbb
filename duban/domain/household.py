"""Household facts (农户信息) and visits (走访记录): the inputs detection rules read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# A plan-defined fact's value: a choice or text (str), a date as 2022-05-06 (str), an integer,
# yes/no (bool), or the values of a multiple choice in the plan's order (tuple).
FactValue = str | int | bool | tuple[str, ...]


class HouseholdCategory(StrEnum):
    """Registration category of a household."""

    LIFTED = "lifted"  # 建档立卡脱贫户
    MONITORED = "monitored"  # 监测对象
    ORDINARY = "ordinary"  # 一般农户


HOUSEHOLD_CATEGORY_LABELS: dict[HouseholdCategory, str] = {
    HouseholdCategory.LIFTED: "建档立卡脱贫户",
    HouseholdCategory.MONITORED: "监测对象",
    HouseholdCategory.ORDINARY: "一般农户",
}


class MonitoringType(StrEnum):
    """The three kinds of monitored household (监测对象)."""

    UNSTABLE = "unstable"  # 脱贫不稳定户
    MARGINAL = "marginal"  # 边缘易致贫户
    SUDDEN_HARDSHIP = "sudden_hardship"  # 突发严重困难户


MONITORING_TYPE_LABELS: dict[MonitoringType, str] = {
    MonitoringType.UNSTABLE: "脱贫不稳定户",
    MonitoringType.MARGINAL: "边缘易致贫户",
    MonitoringType.SUDDEN_HARDSHIP: "突发严重困难户",
}

# House safety grades per the appraisal standard: A/B safe, C/D unsafe (危房).
HOUSE_GRADES = ("A", "B", "C", "D")
UNSAFE_HOUSE_GRADES = frozenset({"C", "D"})


class VisitMode(StrEnum):
    """How a household was visited (seed 003)."""

    IN_PERSON = "in_person"  # 面访
    PHONE = "phone"  # 电访
    PROXY = "proxy"  # 代答


VISIT_MODE_LABELS: dict[VisitMode, str] = {
    VisitMode.IN_PERSON: "面访",
    VisitMode.PHONE: "电访",
    VisitMode.PROXY: "代答",
}


@dataclass(frozen=True, slots=True)
class HouseholdFacts:
    """One household as the register (农户信息表) records it."""

    household_id: str  # 户编号, natural key
    town: str  # town code
    village: str  # village code
    head: str  # 户主姓名
    members: int
    category: HouseholdCategory
    monitoring_type: MonitoringType | None
    income_per_person: int  # 年人均纯收入, yuan
    house_grade: str  # A/B/C/D
    tap_water: bool
    school_age_children: int
    children_out_of_school: int
    medical_insurance: bool  # every member has basic medical insurance
    sanitary_toilet: bool
    # The facts the plan's `household.fields` define, by field key; a blank fact is absent.
    plan_facts: Mapping[str, FactValue] = field(default_factory=dict)

    @property
    def is_monitored(self) -> bool:
        """Whether the household is already a monitored household (监测对象)."""
        return self.category == HouseholdCategory.MONITORED


@dataclass(frozen=True, slots=True)
class VisitRecord:
    """One household visit (走访记录)."""

    household_id: str
    visitor: str
    visited_on: dt.date
    mode: VisitMode
    answered_by: str = ""  # who answered when mode is 代答
    findings: str = ""


@dataclass(frozen=True, slots=True)
class ReportedProblem:
    """A problem as found and reported (问题台账 row, or a detection), before it is routed."""

    source: str  # source code
    category: str  # category code
    town: str  # town code
    village: str | None  # village code
    household_id: str | None
    description: str
    found_by: str  # 谁排查谁签字: the finder signs
    found_on: dt.date
    tier: str | None = None  # deadline tier code, when the ledger gives one
    deadline: dt.date | None = None  # explicit deadline, when the ledger gives one
