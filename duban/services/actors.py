"""Who is acting: users, their roles and the offices they may act for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.clock import Clock, local_today
from duban.domain.errors import DubanError, NotFound, PermissionDenied
from duban.domain.lifecycle import ROLE_LABELS, Actor, Role
from duban.services.database import UnitOfWork
from models import (
    Campaign,
    Office,
    Substitute,
    Town,
    User,
    UserCampaignGrant,
    UserRole,
    Village,
)

SYSTEM_ACTOR = Actor(user="system", role=Role.SYSTEM, name="系统")


def resolve_actor(session: Session, username: str, on: dt.date) -> Actor:
    """The actor a username stands for on a day, with the offices it substitutes for."""
    if username == SYSTEM_ACTOR.user:
        return SYSTEM_ACTOR
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在：{username}")
    if not user.active:
        raise DubanError(f"用户已停用：{username}")
    offices = {user.office_code} if user.office_code else set()
    offices.update(
        session.scalars(
            select(Substitute.office_code).where(
                Substitute.user_id == user.id,
                Substitute.starts_on <= on,
                Substitute.ends_on >= on,
            )
        )
    )
    extra = session.scalars(select(UserRole.role).where(UserRole.user_id == user.id))
    return Actor(user=user.username, role=Role(user.role), offices=frozenset(offices),
                 name=user.name, extra_roles=frozenset(Role(r) for r in extra) - {Role(user.role)},
                 campaigns=account_campaigns(session, user))


# Accounts of these roles act for a unit of one campaign; codes repeat across campaigns.
PLACE_ROLES = frozenset({Role.OFFICE, Role.TOWN, Role.VILLAGE})


def account_campaigns(session: Session, user: User) -> frozenset[int] | None:
    """The campaigns an account may act in: None for all (county, supervisors, granted all)."""
    if Role(user.role) not in PLACE_ROLES or user.all_campaigns:
        return None
    granted = set(session.scalars(select(UserCampaignGrant.campaign_id).where(
        UserCampaignGrant.user_id == user.id)))
    if user.campaign_id is not None:
        granted.add(user.campaign_id)
    elif not granted:
        # Made before any campaign had its unit: it acts where its code names exactly one
        # unit, and nowhere once a second campaign has the code (then it must be granted).
        units = _unit_campaigns(session, Role(user.role), user.office_code, user.town_code,
                                user.village_code)
        if len(units) == 1:
            granted.update(units)
    return frozenset(granted)


def _unit_campaigns(session: Session, role: Role, office: str | None, town: str | None,
                    village: str | None) -> dict[int, str]:
    """Campaigns (id -> the unit's name there) whose office / town / village has this code."""
    if role == Role.OFFICE:
        rows = session.execute(select(Office.campaign_id, Office.name).where(Office.code == office))
    elif role == Role.TOWN:
        rows = session.execute(select(Town.campaign_id, Town.name).where(Town.code == town))
    else:
        rows = session.execute(select(Village.campaign_id, Village.name)
                               .where(Village.code == village))
    return {int(cid): name for cid, name in rows}


def _home_campaign(session: Session, role: Role, office: str | None, town: str | None,
                   village: str | None, campaign_id: int | None) -> int | None:
    """The campaign a new office, town or village account belongs to (asked or inferred)."""
    units = _unit_campaigns(session, role, office, town, village)
    code = office if role == Role.OFFICE else town if role == Role.TOWN else village
    if campaign_id is not None:
        if session.get(Campaign, campaign_id) is None:
            raise NotFound(f"行动不存在：编号 {campaign_id}")
        if campaign_id not in units:
            raise DubanError(f"行动 {campaign_id} 中没有代码为 {code} 的{ROLE_LABELS[role]}")
        return campaign_id
    if len(units) > 1:
        listed = "、".join(f"{cid} {name}" for cid, name in sorted(units.items()))
        raise DubanError(f"代码 {code} 在多项行动中都有（{listed}），是不同的单位；"
                         "请用 --campaign 指定账号所属行动（或用 --all-campaigns 明确授权全部行动）")
    # One campaign has the unit: the account is its. None yet: bound later (user grant).
    return next(iter(units), None)


def add_user(
    uow: UnitOfWork,
    clock: Clock,
    *,
    username: str,
    name: str,
    role: Role,
    office: str | None = None,
    town: str | None = None,
    village: str | None = None,
    email: str = "",
    password_hash: str | None = None,
    extra_roles: Sequence[Role] = (),
    campaign_id: int | None = None,
    all_campaigns: bool = False,
) -> int:
    """Create a user; office users need an office, town users a town, village users a village.

    `extra_roles` are roles the user holds besides `role` (兼任); the lifecycle still refuses
    them a second signature on one problem. An office, town or village account belongs to the
    campaign whose unit has its code: the one asked for, else the only one; when several
    campaigns have the code, the campaign must be given (or `all_campaigns` granted).
    """
    roles = [role, *(r for r in dict.fromkeys(extra_roles) if r != role)]
    if Role.SYSTEM in roles:
        raise DubanError(f"不能为用户设置{ROLE_LABELS[Role.SYSTEM]}角色")
    if Role.OFFICE in roles and not office:
        raise DubanError(f"{ROLE_LABELS[Role.OFFICE]}用户须指定所属办室（--office）")
    if Role.TOWN in roles and not town:
        raise DubanError(f"{ROLE_LABELS[Role.TOWN]}用户须指定所属乡镇（--town）")
    if Role.VILLAGE in roles and not village:
        raise DubanError(f"{ROLE_LABELS[Role.VILLAGE]}用户须指定所属村（--village）")
    session = uow.session
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DubanError(f"用户名已存在：{username}")
    home = None
    if role in PLACE_ROLES and not all_campaigns:
        home = _home_campaign(session, role, office, town, village, campaign_id)
    user = User(
        username=username,
        name=name,
        role=role.value,
        office_code=office,
        town_code=town,
        village_code=village,
        email=email,
        password_hash=password_hash,
        created_at=clock.now(),
        campaign_id=home,
        all_campaigns=all_campaigns and role in PLACE_ROLES,
    )
    session.add(user)
    session.flush()
    session.add_all(UserRole(user_id=user.id, role=r.value) for r in roles[1:])
    return user.id


def grant_campaign(uow: UnitOfWork, clock: Clock, username: str, campaign_id: int, reason: str,
                   granted_by: str) -> None:
    """Let an office, town or village account also act in another campaign (explicit, kept)."""
    if not reason.strip():
        raise DubanError("授权须写明原因（--reason）")
    session = uow.session
    grantor = resolve_actor(session, granted_by, local_today(clock))
    if grantor.role not in (Role.COUNTY, Role.SYSTEM):
        raise PermissionDenied(f"跨行动授权须由县级办公室办理，{grantor.name or grantor.user}"
                               f"（{ROLE_LABELS[grantor.role]}）无权办理")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在：{username}")
    role = Role(user.role)
    if role not in PLACE_ROLES:
        raise DubanError(f"{ROLE_LABELS[role]}账号不限行动，无需授权")
    units = _unit_campaigns(session, role, user.office_code, user.town_code,
                            user.village_code)
    if campaign_id not in units:
        code = user.office_code if role == Role.OFFICE else user.town_code \
            if role == Role.TOWN else user.village_code
        raise DubanError(f"行动 {campaign_id} 中没有代码为 {code} 的{ROLE_LABELS[role]}")
    if user.campaign_id == campaign_id or session.scalar(select(UserCampaignGrant.id).where(
            UserCampaignGrant.user_id == user.id,
            UserCampaignGrant.campaign_id == campaign_id)) is not None:
        raise DubanError(f"{username} 已可在行动 {campaign_id} 中办理")
    if user.campaign_id is None:
        user.campaign_id = campaign_id  # an unbound account is bound by its first grant
    # The grant row is the record of who allowed it and why, binding included.
    session.add(UserCampaignGrant(user_id=user.id, campaign_id=campaign_id,
                                  reason=reason.strip(), granted_by=grantor.user,
                                  granted_at=clock.now()))
