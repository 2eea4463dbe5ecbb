"""Who is acting: users, their roles and the offices they may act for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.clock import Clock
from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import ROLE_LABELS, Actor, Role
from duban.services.database import Database
from models import Substitute, User, UserRole

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
                 name=user.name, extra_roles=frozenset(Role(r) for r in extra) - {Role(user.role)})


def add_user(
    db: Database,
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
) -> int:
    """Create a user; office users need an office, town users a town, village users a village.

    `extra_roles` are roles the user holds besides `role` (兼任); the lifecycle still refuses
    them a second signature on one problem.
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
    with db.transaction() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise DubanError(f"用户名已存在：{username}")
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
        )
        session.add(user)
        session.flush()
        session.add_all(UserRole(user_id=user.id, role=r.value) for r in roles[1:])
        return user.id
