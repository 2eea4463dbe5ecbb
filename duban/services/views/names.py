"""The one code→name lookup of a campaign: towns, villages, offices, categories, sources.

Outputs show names, never codes; every page, document and report that names a place or an
office reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.plan import Plan
from duban.services.campaigns import load_plan_of
from models import Office, Town, Village


@dataclass(frozen=True)
class Names:
    """Display names of a campaign's codes (towns, villages, offices, categories, sources)."""

    towns: dict[str, str]
    villages: dict[str, str]
    offices: dict[str, str]
    categories: dict[str, str]
    sources: dict[str, str]

    def town(self, code: str | None) -> str:
        """A town's name, or its code when unknown."""
        return self.towns.get(code or "", code or "")

    def village(self, code: str | None) -> str:
        """A village's name, or its code when unknown."""
        return self.villages.get(code or "", code or "")

    def office(self, code: str | None) -> str:
        """An office's name, or its code when unknown."""
        return self.offices.get(code or "", code or "")

    def category(self, code: str | None) -> str:
        """A category's name, or its code when unknown."""
        return self.categories.get(code or "", code or "")

    def source(self, code: str | None) -> str:
        """A source's name, or its code when unknown."""
        return self.sources.get(code or "", code or "")


def names_in(session: Session, campaign_id: int, plan: Plan | None = None) -> Names:
    """The display names of a campaign's codes; pass the plan when the caller has it."""
    plan = plan or load_plan_of(session, campaign_id)
    # Towns and offices in the order the plan lists them (their ids), which reports keep.
    towns = dict(session.execute(
        select(Town.code, Town.name).where(Town.campaign_id == campaign_id)
        .order_by(Town.id)).all())
    villages = dict(session.execute(
        select(Village.code, Village.name).where(Village.campaign_id == campaign_id)
        .order_by(Village.id)).all())
    offices = dict(session.execute(
        select(Office.code, Office.name).where(Office.campaign_id == campaign_id)
        .order_by(Office.id)).all())
    return Names(towns=towns, villages=villages, offices=offices,
                 categories={c.code: c.name for c in plan.categories},
                 sources={s.code: s.name for s in plan.sources})
