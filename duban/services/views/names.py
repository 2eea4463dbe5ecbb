"""The one code→name lookup of a campaign: towns, villages, offices, categories, sources.

Outputs show names, never codes; every page, document and report that names a place or an
office reads it from here. The lookups are Core statements on `models.tables`, run on a
session or on a unit's bare connection: `duban problem list` names its rows without loading
the ORM.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, Table, select

from duban.domain.errors import DubanError
from duban.domain.filenames import document_file_name as file_name
from duban.domain.lifecycle import ROLE_LABELS, Role
from duban.domain.names import KINDS, did_you_mean, plan_index
from duban.domain.plan import Plan
from duban.services.database import UnitOfWork
from duban.services.plan_store import plan_in_force, plan_version_of
from models.tables import app_user, campaign, office, town, village

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


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


def names_in(db: Session | Connection, campaign_id: int, plan: Plan | None = None) -> Names:
    """The display names of a campaign's codes; pass the plan when the caller has it."""
    plan = plan or _plan(db, campaign_id)
    # Towns and offices in the order the plan lists them (their ids), which reports keep.
    towns, villages, offices = (
        {code: name for code, name in db.execute(
            select(t.c.code, t.c.name).where(t.c.campaign_id == campaign_id).order_by(t.c.id))}
        for t in (town, village, office))
    return Names(towns=towns, villages=villages, offices=offices,
                 categories={c.code: c.name for c in plan.categories},
                 sources={s.code: s.name for s in plan.sources})


def _plan(db: Session | Connection, campaign_id: int) -> Plan:
    """The campaign's plan: the session's decoded copy, else read through the connection."""
    if isinstance(db, Connection):
        return plan_in_force(db, campaign_id)
    from duban.services.campaigns import load_plan_of  # the ORM is loaded already

    return load_plan_of(db, campaign_id)


def campaign_names(uow: UnitOfWork, campaign_id: int) -> Names:
    """The display names of a campaign's codes, in a unit of work (for edges)."""
    return names_in(uow.connection, campaign_id)


def document_file_name(names: Names, number: str, office_code: str, kind_label: str,
                       taken: Container[str] = ()) -> str:
    """A notice's file name as a person receives it: 文号 and the unit's name (the kind's
    label when it has no single addressee, as a 通报), e.g. `沈督〔2022〕3号-县住建局.docx`."""
    unit = names.office(office_code) if office_code else kind_label
    return file_name(number, unit, suffix=".docx", taken=taken)


def notice_list_file_name(number: str, unit: str, title: str = "督办问题清单") -> str:
    """The spreadsheet of a notice's full list as its addressee (`unit`, by name) receives it
    and the notice names it, e.g. `沈督〔2022〕3号-县住建局-督办问题清单.xlsx`."""
    return file_name(number, unit, title, suffix=".xlsx")


SYSTEM_NAME = "系统"

# The columns of an account that say who it is and which unit it belongs to.
ACCOUNT = (app_user.c.username, app_user.c.name, app_user.c.role, app_user.c.campaign_id,
           app_user.c.office_code, app_user.c.town_code, app_user.c.village_code)


def _unit_of(db: Session | Connection, user: Row[*tuple[Any, ...]]) -> str:
    """The name of the office, town or village an account belongs to ("" for the county)."""
    role = Role(user.role)
    if user.campaign_id is None or role not in (Role.OFFICE, Role.TOWN, Role.VILLAGE):
        return ""
    units: Table
    units, code = ((office, user.office_code) if role is Role.OFFICE else
                   (town, user.town_code) if role is Role.TOWN else
                   (village, user.village_code))
    return db.scalar(select(units.c.name).where(
        units.c.campaign_id == user.campaign_id, units.c.code == code)) or ""


def person_labels(db: Session | Connection, usernames: Iterable[str | None]) -> dict[str, str]:
    """Who signed, as a person reads it: `张三（县住建局）`, `李四（县级办公室）`, 系统.

    Unknown usernames are kept as given (an account since deleted still shows who it was).
    """
    wanted = {u for u in usernames if u}
    labels = {u: u for u in wanted}
    if "system" in wanted:
        labels["system"] = SYSTEM_NAME
    for user in db.execute(select(*ACCOUNT).where(app_user.c.username.in_(wanted - {"system"}))):
        labels[user.username] = f"{user.name}（{_unit_of(db, user) or ROLE_LABELS[Role(user.role)]}）"
    return labels


def unit_labels(uow: UnitOfWork, usernames: Iterable[str]) -> dict[str, str]:
    """The unit each account belongs to, by name (全县 for county-wide accounts)."""
    wanted = set(usernames)
    db = uow.connection
    return {u.username: _unit_of(db, u) or "全县"
            for u in db.execute(select(*ACCOUNT).where(app_user.c.username.in_(wanted)))}


def people_labels(uow: UnitOfWork, usernames: Iterable[str | None]) -> dict[str, str]:
    """`person_labels` in a unit of work (for edges)."""
    return person_labels(uow.connection, usernames)


def office_labels(uow: UnitOfWork, codes: Iterable[str]) -> dict[str, str]:
    """Office names by code across campaigns (the newest campaign's name wins), for listings
    that are not tied to one campaign, such as substitutes."""
    wanted = set(codes)
    return {code: name for code, name in uow.connection.execute(
        select(office.c.code, office.c.name).where(office.c.code.in_(wanted))
        .order_by(office.c.campaign_id))}


def group_names(uow: UnitOfWork, campaign_id: int) -> dict[str, str]:
    """The campaign's supervision groups (督查组) by code."""
    return {g.code: g.name for g in _plan(uow.session, campaign_id).review.groups}


def require_campaign(uow: UnitOfWork, campaign_id: int) -> None:
    """Refuse a campaign number that names no campaign (行动不存在)."""
    plan_version_of(uow.connection, campaign_id)


def resolve_name(uow: UnitOfWork, campaign_id: int | None, kind: str, value: str,
                 option: str = "", town: str | None = None) -> str:
    """The code a filter value stands for: a name, an alias or a code of the campaign's plan
    (of any campaign when none is given), matched as `duban.domain.names` matches; an unknown
    value is refused with the closest choices. A campaign that does not exist is refused.
    A village is looked for among `town`'s villages when a town (code) is given."""
    connection = uow.connection
    if campaign_id is not None:
        ids = [campaign_id]
    else:
        ids = list(connection.scalars(select(campaign.c.id).order_by(campaign.c.id.desc())))
    indexes = [plan_index(plan_in_force(connection, cid), kind,
                          town if kind == "village" else None) for cid in ids]
    for index in indexes:
        code = index.find(value)
        if code is not None:
            return code
    what = KINDS[kind]
    where = f"{option}：" if option else ""
    close = list(dict.fromkeys(n for index in indexes for n in index.suggest(value)))[:3]
    if close:
        raise DubanError(f"{where}没有名为“{value}”的{what}，是否为{did_you_mean(close)}？")
    shown = list(dict.fromkeys(n for index in indexes for n in index.names()))
    listed = "、".join(shown[:12]) + ("等" if len(shown) > 12 else "")
    raise DubanError(f"{where}没有名为“{value}”的{what}" + (f"（可选：{listed}）" if shown else ""))
