"""Users and the offices they act for, including substitutes (代理)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class User(Base):
    """A person who signs moves; role and scope decide what they may see and do."""

    __table__ = tables.app_user

    id: Mapped[int]
    username: Mapped[str]
    name: Mapped[str]
    role: Mapped[str]
    office_code: Mapped[str | None]
    town_code: Mapped[str | None]
    village_code: Mapped[str | None]
    email: Mapped[str]
    password_hash: Mapped[str | None]
    active: Mapped[bool]
    created_at: Mapped[dt.datetime]
    campaign_id: Mapped[int | None]
    all_campaigns: Mapped[bool]


class UserCampaignGrant(Base):
    """An explicit grant: an office, town or village account may also act in this campaign."""

    __table__ = tables.user_campaign_grant

    id: Mapped[int]
    user_id: Mapped[int]
    campaign_id: Mapped[int]
    reason: Mapped[str]
    granted_by: Mapped[str]
    granted_at: Mapped[dt.datetime]


class Substitute(Base):
    """A user standing in (代理) for an office while its people are away."""

    __table__ = tables.substitute

    id: Mapped[int]
    user_id: Mapped[int]
    office_code: Mapped[str]
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    reason: Mapped[str]
    granted_by: Mapped[str]
    granted_at: Mapped[dt.datetime]


class UserRole(Base):
    """A role a user holds besides their main one (兼任), e.g. a county clerk on a 督查组.

    The lifecycle lets such a user act in either role but never sign twice for one problem:
    whoever rectified it may not review or close it (谁整改谁签字，谁督查谁签字).
    """

    __table__ = tables.user_role

    user_id: Mapped[int]
    role: Mapped[str]
