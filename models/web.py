"""Web sign-in state: server-side sessions and the login attempts that throttle guessing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.problem import Problem


class WebSession(Base):
    """A signed-in browser; the cookie holds a random token, the table only its hash."""

    __tablename__ = "web_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    revoked_at: Mapped[dt.datetime | None]


class LoginAttempt(Base):
    """One sign-in attempt; recent failures by username and address lock further tries."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_ip_at", "username", "ip", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    success: Mapped[bool]


class AccountEvent(Base):
    """An account change (password set, user disabled or enabled) and who made it; append-only."""

    __tablename__ = "account_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(50), index=True)
    note: Mapped[str] = mapped_column(String(300), default="")


@event.listens_for(AccountEvent, "before_update")
def _refuse_update(*_: object) -> None:
    raise PermissionError("account events are append-only")


@event.listens_for(AccountEvent, "before_delete")
def _refuse_delete(*_: object) -> None:
    raise PermissionError("account events are append-only")


# The ledger pages filter a campaign's problems by place, office, status or category and sort
# them by deadline, date or last move. Without an index to walk, a page of 50 out of a million
# rows means sorting them all; with a filter, the place and office indexes keep the walk to
# that slice (docs/web.md, "Load").
LEDGER_INDEXES = (
    Index("ix_problem_campaign_deadline_id", Problem.campaign_id, Problem.deadline, Problem.id),
    Index("ix_problem_campaign_found_on_id", Problem.campaign_id, Problem.found_on, Problem.id),
    Index("ix_problem_campaign_updated_at_id", Problem.campaign_id, Problem.updated_at,
          Problem.id),
    Index("ix_problem_campaign_village", Problem.campaign_id, Problem.village_code),
    Index("ix_problem_campaign_town_deadline", Problem.campaign_id, Problem.town_code,
          Problem.deadline, Problem.id),
    Index("ix_problem_campaign_lead_deadline", Problem.campaign_id, Problem.lead_office,
          Problem.deadline, Problem.id),
    Index("ix_problem_campaign_category", Problem.campaign_id, Problem.category),
    # Codes follow import order and imports come town by town: a town's codes are one
    # stretch of the campaign's code order, which only an index of its own walks well.
    Index("ix_problem_campaign_town_code", Problem.campaign_id, Problem.town_code, Problem.code),
)
