"""Accounts: passwords (Argon2), sign-in with throttling, server-side sessions, substitutes."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Select, bindparam, delete, func, select, true, update
from sqlalchemy.orm import Session

from duban.domain.clock import Clock
from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import ROLE_LABELS, Role
from duban.services.actors import account_campaigns
from duban.services.database import UnitOfWork
from models import User, UserRole
from models.tables import campaign
from models.web import AccountEvent, LoginAttempt, WebSession

# Throttling: this many failures for one username from one address within the window lock
# that pair until the window has passed; an address failing on many usernames is locked too.
MAX_FAILURES = 5
MAX_FAILURES_PER_IP = 30
FAILURE_WINDOW = dt.timedelta(minutes=15)
# Sessions end after this long in total, or after this long unused.
SESSION_LIFETIME = dt.timedelta(hours=12)
SESSION_IDLE = dt.timedelta(hours=2)
# last_seen_at is written at most this often, so reading pages does not write on every request.
TOUCH_EVERY = dt.timedelta(minutes=5)
MIN_PASSWORD_LENGTH = 8


class LoginFailed(DubanError):
    """Wrong username or password (the message does not say which)."""


class LoginThrottled(DubanError):
    """Too many recent failures for this username from this address."""


class WeakPassword(DubanError):
    """A password too short or too plain to accept."""


@cache
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    """An Argon2id hash of a password."""
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether a password matches a stored hash (False for users without a password)."""
    if not password_hash:
        # Spend the same time as a real check so a missing account cannot be told by timing.
        _hasher().verify(password, _dummy_hash())
        return False
    try:
        return bool(_hasher().verify(password, password_hash))
    except Exception:  # a malformed stored hash is a failed login, not a crash
        return False


def _verify_and_update(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Whether the password matches, and a new hash when the stored one used old parameters."""
    if not password_hash:
        verify_password(password, None)  # same time as a real check
        return False, None
    try:
        valid, updated = _hasher().verify_and_update(password, password_hash)
    except Exception:  # a malformed stored hash is a failed login, not a crash
        return False, None
    return bool(valid), updated if valid else None


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_hex(16))


def check_password(password: str, username: str = "") -> None:
    """Refuse passwords that are too short, all one character, or the username itself."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"密码至少须 {MIN_PASSWORD_LENGTH} 位")
    if len(set(password)) < 3:
        raise WeakPassword("密码过于简单：须包含至少 3 个不同字符")
    if username and password.lower() == username.lower():
        raise WeakPassword("密码不能与用户名相同")


def token_hash(token: str) -> str:
    """The stored form of a session token (the token itself never reaches the database)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionUser:
    """The signed-in user of a request, as the web layer needs it."""

    session_id: int
    token_hash: str
    user_id: int
    username: str
    name: str
    role: Role
    office_code: str | None
    town_code: str | None
    village_code: str | None
    # Whether the session's last-seen time was due: session_user wrote it (the caller
    # commits); signing_in leaves it to the caller (touch_session).
    touched: bool = False

    @property
    def role_label(self) -> str:
        """The role in Chinese."""
        return ROLE_LABELS[self.role]


def _recent_failures(session: Session, username: str, ip: str,
                     since: dt.datetime) -> tuple[int, int]:
    pair = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.username == username, LoginAttempt.ip == ip,
            LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    ) or 0
    by_ip = session.scalar(
        select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.ip == ip, LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    ) or 0
    return int(pair), int(by_ip)


def authenticate(uow: UnitOfWork, clock: Clock, username: str, password: str, ip: str) -> int:
    """Check a username and password from an address; returns the user id or raises.

    Every attempt is recorded, a failed one too: on LoginFailed the edge commits the unit
    before passing the refusal on. A locked username+address pair is refused before the
    password is checked, so guessing stays locked even with the right password. The
    (deliberately slow) hash check runs between two transactions, holding no connection.
    """
    now = clock.now()
    username = username.strip()
    session = uow.session
    pair, by_ip = _recent_failures(session, username, ip, now - FAILURE_WINDOW)
    row = session.execute(select(User.id, User.password_hash, User.active)
                          .where(User.username == username)).first()
    # Only reads so far: end them, so the slow hash check holds no pooled connection.
    uow.rollback()
    if pair >= MAX_FAILURES or by_ip >= MAX_FAILURES_PER_IP:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        raise LoginThrottled(f"登录失败次数过多，请 {minutes} 分钟后再试")
    stored = row.password_hash if row is not None else None
    valid, rehash = _verify_and_update(password, stored)
    ok = valid and row is not None and bool(row.active)
    session.add(LoginAttempt(username=username[:50], ip=ip[:64], at=now, success=ok))
    if ok and row is not None:
        if rehash:
            session.execute(update(User).where(User.id == row.id)
                            .values(password_hash=rehash))
        return int(row.id)
    if valid and row is not None:
        # The right password of a disabled account: say so (guessing is no nearer for it).
        raise LoginFailed("该账号已停用，不能登录，请联系县级办公室")
    left = MAX_FAILURES - pair - 1
    hint = f"，再错 {left} 次将暂时锁定" if 0 < left < MAX_FAILURES - 1 else ""
    raise LoginFailed(f"用户名或密码错误{hint}")


def open_session(uow: UnitOfWork, clock: Clock, user_id: int, *, ip: str = "",
                 user_agent: str = "") -> str:
    """Start a session for a user; returns the token to put in the (signed) cookie."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    session = uow.session
    session.add(WebSession(token_hash=token_hash(token), user_id=user_id, created_at=now,
                           last_seen_at=now, expires_at=now + SESSION_LIFETIME,
                           ip=ip[:64], user_agent=user_agent[:300]))
    return token


def _session_columns() -> tuple[Any, ...]:
    # Plain columns, not ORM objects: this runs on every request.
    return (WebSession.id, WebSession.expires_at, WebSession.last_seen_at, WebSession.revoked_at,
            User.id.label("user_id"), User.username, User.name, User.role, User.office_code,
            User.town_code, User.village_code, User.active)


def _live_user(row: Any, now: dt.datetime, digest: str) -> SessionUser | None:
    """The session's user when the row is a live session (not revoked, expired or idle too
    long, its user active); `touched` says its last-seen time is due to be written."""
    if (row.revoked_at is not None or row.expires_at <= now or not row.active
            or row.last_seen_at + SESSION_IDLE <= now):
        return None
    return SessionUser(
        session_id=row.id, token_hash=digest, user_id=row.user_id, username=row.username,
        name=row.name, role=Role(row.role), office_code=row.office_code,
        town_code=row.town_code, village_code=row.village_code,
        touched=now - row.last_seen_at >= TOUCH_EVERY,
    )


def session_user(uow: UnitOfWork, clock: Clock, token: str) -> SessionUser | None:
    """The user of a live session token, or None (unknown, expired, revoked, user disabled);
    its last-seen time written when due (`touched`: the caller commits)."""
    session = uow.session
    now = clock.now()
    digest = token_hash(token)
    row = session.execute(select(*_session_columns()).join(User, User.id == WebSession.user_id)
                          .where(WebSession.token_hash == digest)).first()
    user = None if row is None else _live_user(row, now, digest)
    if user is not None and user.touched:
        touch_session(uow, clock, user.session_id)
    return user


def touch_session(uow: UnitOfWork, clock: Clock, session_id: int) -> None:
    """Write a session's last-seen time (the caller commits)."""
    uow.session.execute(update(WebSession).where(WebSession.id == session_id)
                        .values(last_seen_at=clock.now()))


@cache
def _signing_in() -> Select[Any]:
    # A row per campaign (its plan version in force), the session's columns on each; one
    # row with no campaign when there is none. Built once: the token is a parameter.
    return (select(*_session_columns(), campaign.c.id.label("campaign_id"),
                   campaign.c.plan_version)
            .select_from(WebSession)
            .join(User, User.id == WebSession.user_id)
            .outerjoin(campaign, true())
            .where(WebSession.token_hash == bindparam("digest")))


def signing_in(uow: UnitOfWork, clock: Clock,
               token: str) -> tuple[SessionUser | None, dict[int, int]]:
    """A page's sign-in in one statement: the user of a live session token (as session_user,
    but its last-seen time is left to the caller: `touched`, then touch_session) and the plan
    version each campaign runs on (plan_store.plan_versions), which every page wants.

    Was two statements, each a round trip to PostgreSQL, on every page."""
    digest = token_hash(token)
    rows = uow.session.execute(_signing_in(), {"digest": digest}).all()
    if not rows:
        return None, {}
    versions = {int(r.campaign_id): int(r.plan_version) for r in rows
                if r.campaign_id is not None}
    return _live_user(rows[0], clock.now(), digest), versions


def close_session(uow: UnitOfWork, clock: Clock, token: str) -> None:
    """Sign out: revoke the session so a copied cookie stops working too."""
    session = uow.session
    session.execute(update(WebSession).where(WebSession.token_hash == token_hash(token),
                                             WebSession.revoked_at.is_(None))
                    .values(revoked_at=clock.now()))


# ---- administration ---------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    """One line of the user list."""

    username: str
    name: str
    role: Role
    office_code: str | None
    town_code: str | None
    village_code: str | None
    email: str
    active: bool
    has_password: bool
    extra_roles: tuple[Role, ...] = ()  # 兼任
    campaigns: str = ""  # the campaigns an office, town or village account acts in

    @property
    def role_label(self) -> str:
        """The role in Chinese, with any roles held besides it (兼任)."""
        return "、".join(ROLE_LABELS[r] for r in (self.role, *self.extra_roles))

    @property
    def scope(self) -> str:
        """The office, town or village the user belongs to, for display."""
        return self.office_code or self.village_code or self.town_code or "全县"


def list_users(uow: UnitOfWork, *, role: Role | None = None,
               include_disabled: bool = True) -> list[UserRow]:
    """Users ordered by role then username."""
    session = uow.session
    stmt = select(User).order_by(User.role, User.username)
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    if not include_disabled:
        stmt = stmt.where(User.active.is_(True))
    users = list(session.scalars(stmt))
    extra: dict[int, list[Role]] = {}
    for user_id, role_value in session.execute(
            select(UserRole.user_id, UserRole.role).order_by(UserRole.role)):
        extra.setdefault(user_id, []).append(Role(role_value))
    return [
        UserRow(username=u.username, name=u.name, role=Role(u.role),
                office_code=u.office_code, town_code=u.town_code,
                village_code=u.village_code, email=u.email, active=u.active,
                has_password=bool(u.password_hash),
                extra_roles=tuple(r for r in extra.get(u.id, ()) if r != Role(u.role)),
                campaigns=_campaigns_text(account_campaigns(session, u)))
        for u in users
    ]


def _campaigns_text(campaigns: frozenset[int] | None) -> str:
    if campaigns is None:
        return "全部行动"
    if not campaigns:
        return "未归属行动"
    return "、".join(f"行动{c}" for c in sorted(campaigns))


def set_password(uow: UnitOfWork, clock: Clock, username: str, password: str, *, by: str) -> None:
    """Set a user's password (checked for strength), end their sessions, record who did it."""
    check_password(password, username)
    digest = hash_password(password)
    session = uow.session
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在：{username}")
    user.password_hash = digest
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.add(AccountEvent(at=clock.now(), actor=by, action="set_password",
                             subject=username))


def set_active(uow: UnitOfWork, clock: Clock, username: str, active: bool, *, by: str) -> None:
    """Enable or disable a user; disabling ends their sessions at once. Recorded with who."""
    session = uow.session
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户不存在：{username}")
    if user.active == active:
        raise DubanError(f"用户 {username} 已{'启用' if active else '停用'}")
    user.active = active
    if not active:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.add(AccountEvent(at=clock.now(), actor=by,
                             action="enable" if active else "disable", subject=username))


@dataclass(frozen=True)
class AccountEventRow:
    """One account change."""

    at: dt.datetime
    actor: str
    action: str
    subject: str
    note: str
