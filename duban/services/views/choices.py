"""Small lookups for the pages: the campaign selector and the filter drop-downs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.bands import BAND_ORDER
from duban.domain.lifecycle import STATUS_LABELS, Role, Status
from duban.services.scoping import Scope, village_clause
from duban.services.views.names import Names, names_in
from models import Campaign, Office, Village


@dataclass(frozen=True)
class Choice:
    """A code and its label, for filter drop-downs."""

    code: str
    label: str


def filter_choices(session: Session, scope: Scope, campaign_id: int, *,
                   names: Names | None = None) -> dict[str, list[Choice]]:
    """The towns, villages, offices, categories and sources a scope may filter by."""
    names = names or names_in(session, campaign_id)
    villages = session.scalars(
        select(Village.code).where(Village.campaign_id == campaign_id, village_clause(scope))
        .order_by(Village.town_code, Village.code)).all()
    town_codes = session.scalars(
        select(Village.town_code).where(Village.campaign_id == campaign_id,
                                        village_clause(scope)).distinct()).all()
    offices = session.scalars(
        select(Office.code).where(Office.campaign_id == campaign_id, Office.level != "village")
        .order_by(Office.level, Office.code)).all()
    if scope.role == Role.OFFICE:
        offices = [o for o in offices if o in scope.offices]
    return {
        "towns": [Choice(t, names.town(t)) for t in sorted(town_codes)],
        "villages": [Choice(v, names.village(v)) for v in villages],
        "offices": [Choice(o, names.office(o)) for o in offices],
        "categories": [Choice(c, n) for c, n in names.categories.items()],
        "sources": [Choice(c, n) for c, n in names.sources.items()],
        "statuses": [Choice(s.value, STATUS_LABELS[s]) for s in Status],
        "bands": [Choice(b.value, b.label) for b in reversed(BAND_ORDER)],
    }


@dataclass(frozen=True)
class CampaignChoice:
    """A campaign in the selector."""

    id: int
    name: str
    document_number: str


def campaign_choices(session: Session) -> list[CampaignChoice]:
    """All campaigns, newest first (cheap: no counts)."""
    return [CampaignChoice(id=i, name=n, document_number=d) for i, n, d in session.execute(
        select(Campaign.id, Campaign.name, Campaign.document_number)
        .order_by(Campaign.id.desc()))]
