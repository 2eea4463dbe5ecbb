"""Web sign-in state: server-side sessions and the login attempts that throttle guessing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event
from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class WebSession(Base):
    """A signed-in browser; the cookie holds a random token, the table only its hash."""

    __table__ = tables.web_session

    id: Mapped[int]
    token_hash: Mapped[str]
    user_id: Mapped[int]
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    ip: Mapped[str]
    user_agent: Mapped[str]
    revoked_at: Mapped[dt.datetime | None]


class LoginAttempt(Base):
    """One sign-in attempt; recent failures by username and address lock further tries."""

    __table__ = tables.login_attempt

    id: Mapped[int]
    username: Mapped[str]
    ip: Mapped[str]
    at: Mapped[dt.datetime]
    success: Mapped[bool]


class AccountEvent(Base):
    """An account change (password set, user disabled or enabled) and who made it; append-only."""

    __table__ = tables.account_event

    id: Mapped[int]
    at: Mapped[dt.datetime]
    actor: Mapped[str]
    action: Mapped[str]
    subject: Mapped[str]
    note: Mapped[str]


@event.listens_for(AccountEvent, "before_update")
def _refuse_update(*_: object) -> None:
    raise PermissionError("account events are append-only")


@event.listens_for(AccountEvent, "before_delete")
def _refuse_delete(*_: object) -> None:
    raise PermissionError("account events are append-only")
