"""Users and the offices they act for, including substitutes (代理)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class User(Base):
    """A person who signs moves; role and scope decide what they may see and do."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))
    office_code: Mapped[str | None] = mapped_column(String(80))
    town_code: Mapped[str | None] = mapped_column(String(50))
    village_code: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime]
    # Office, town and village accounts belong to one campaign's unit (codes repeat across
    # campaigns); more campaigns only by an explicit grant (UserCampaignGrant, all_campaigns).
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="SET NULL"))
    all_campaigns: Mapped[bool] = mapped_column(default=False, server_default=false())


class UserCampaignGrant(Base):
    """An explicit grant: an office, town or village account may also act in this campaign."""

    __tablename__ = "user_campaign_grant"
    __table_args__ = (UniqueConstraint("user_id", "campaign_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(200))
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[dt.datetime]


class Substitute(Base):
    """A user standing in (代理) for an office while its people are away."""

    __tablename__ = "substitute"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    office_code: Mapped[str] = mapped_column(String(80))
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(String(200))
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[dt.datetime]


class UserRole(Base):
    """A role a user holds besides their main one (兼任), e.g. a county clerk on a 督查组.

    The lifecycle lets such a user act in either role but never sign twice for one problem:
    whoever rectified it may not review or close it (谁整改谁签字，谁督查谁签字).
    """

    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
