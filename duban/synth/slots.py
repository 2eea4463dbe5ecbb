"""Filling description templates: each slot name maps to a small seeded provider.

Slots of the household (need a household): head, members, members_other, income, grade,
children, dropouts, mtype, member. Place and detail slots (always available): village, town,
school, coop, project, cadre, line, year, lastyear, month, date, amount, subsidy, cost, loan,
fund, count, bigcount, days, distance, quarter, percent, crop, livestock, post, illness, place.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from string import Formatter

from duban.domain.household import MONITORING_TYPE_LABELS, HouseholdFacts
from duban.synth import names, templates

HOUSEHOLD_SLOTS = frozenset(
    {
        "head",
        "members",
        "members_other",
        "income",
        "grade",
        "children",
        "dropouts",
        "mtype",
        "member",
    }
)

_FIELDS_CACHE: dict[str, tuple[str, ...]] = {}


def template_fields(text: str) -> tuple[str, ...]:
    """The slot names a template uses, in order of first use."""
    cached = _FIELDS_CACHE.get(text)
    if cached is None:
        seen: list[str] = []
        for _, field, _, _ in Formatter().parse(text):
            if field and field not in seen:
                seen.append(field)
        cached = _FIELDS_CACHE[text] = tuple(seen)
    return cached


def strip_place_suffix(name: str) -> str:
    """A place name without its 镇/乡/街道/村/社区 suffix (石桥镇 → 石桥)."""
    for suffix in ("街道", "社区", "镇", "乡", "村"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(slots=True)
class SlotContext:
    """Everything a template may draw on for one problem."""

    rng: random.Random
    town: str  # town name
    village: str  # village name ("" for town-scope problems)
    found_on: dt.date
    monitoring_line: int
    cadres: Sequence[str]
    household: HouseholdFacts | None = None


def _member(c: SlotContext) -> str:
    surname = c.household.head[0] if c.household else None
    return names.person_name(c.rng, surname)


def _members_other(c: SlotContext) -> int:
    assert c.household is not None
    m = c.household.members
    return m + 1 if m == 1 or c.rng.random() < 0.5 else m - 1


def _month(c: SlotContext) -> int:
    last = c.found_on.month - 1
    return c.rng.randint(1, last) if last >= 1 else 12


def _date(c: SlotContext) -> str:
    d = c.found_on - dt.timedelta(days=c.rng.randint(1, 60))
    return f"{d.month}月{d.day}日"


def _school(c: SlotContext) -> str:
    if c.village and c.rng.random() < 0.3:
        return strip_place_suffix(c.village) + "村小"
    return strip_place_suffix(c.town) + _pick(templates.SCHOOL_KINDS)(c)


def _hh(c: SlotContext) -> HouseholdFacts:
    assert c.household is not None, "household slot used without a household"
    return c.household


def _pick(pool: Sequence[str]) -> Callable[[SlotContext], str]:
    return lambda c: pool[int(c.rng.random() * len(pool))]


def _village_or_town(c: SlotContext) -> str:
    return strip_place_suffix(c.village or c.town)


PROVIDERS: dict[str, Callable[[SlotContext], object]] = {
    "head": lambda c: _hh(c).head,
    "members": lambda c: _hh(c).members,
    "members_other": _members_other,
    "income": lambda c: _hh(c).income_per_person,
    "grade": lambda c: _hh(c).house_grade,
    "children": lambda c: _hh(c).school_age_children,
    "dropouts": lambda c: _hh(c).children_out_of_school,
    "mtype": lambda c: MONITORING_TYPE_LABELS[m] if (m := _hh(c).monitoring_type) else "监测对象",
    "member": _member,
    "village": lambda c: c.village or c.town,
    "town": lambda c: c.town,
    "school": _school,
    "coop": lambda c: _village_or_town(c) + _pick(templates.CROPS)(c) + "专业合作社",
    "project": lambda c: (
        f"{c.found_on.year - 1}年{c.village or c.town}{_pick(templates.PROJECT_KINDS)(c)}"
    ),
    "cadre": lambda c: _pick(c.cadres)(c) if c.cadres else names.cadre_name(c.rng),
    "line": lambda c: c.monitoring_line,
    "year": lambda c: c.found_on.year,
    "lastyear": lambda c: c.found_on.year - 1,
    "month": _month,
    "date": _date,
    "amount": lambda c: 100 * c.rng.randint(2, 50),
    "subsidy": lambda c: 500 * c.rng.randint(10, 70),
    "cost": lambda c: 100 * c.rng.randint(80, 1200),
    "loan": lambda c: c.rng.randint(1, 5),
    "fund": lambda c: c.rng.randint(3, 300),
    "count": lambda c: c.rng.randint(2, 12),
    "bigcount": lambda c: c.rng.randint(10, 90),
    "days": lambda c: c.rng.randint(3, 30),
    "distance": lambda c: 50 * c.rng.randint(4, 30),
    "quarter": lambda c: c.rng.randint(1, 4),
    "percent": lambda c: c.rng.randint(15, 60),
    "crop": _pick(templates.CROPS),
    "livestock": _pick(templates.LIVESTOCK),
    "post": _pick(templates.PUBLIC_POSTS),
    "illness": _pick(templates.ILLNESSES),
    "place": _pick(names.WORK_PLACES),
}


def fill(text: str, ctx: SlotContext) -> str:
    """The template with every slot filled from the context."""
    fields = template_fields(text)
    if not fields:
        return text
    return text.format_map({f: PROVIDERS[f](ctx) for f in fields})
