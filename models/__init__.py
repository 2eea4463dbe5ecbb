"""SQLAlchemy 2 models: the database is duban's system of record.

The schema is declared once in Core (`models.tables`); the mapped classes below are built on
those tables. Importing `models.tables` alone does not load the ORM: a command that only reads
(`duban problem list`) queries the tables and starts without `sqlalchemy.orm` (issue 10). The
mapped classes are imported together, on first use of any of them (`from models import Problem`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.base import Base
    from models.campaign import (
        Campaign,
        CampaignEvent,
        CampaignStage,
        Office,
        PlanVersion,
        Town,
        Village,
    )
    from models.duty import (
        DutyOccurrence,
        DutyReminderFired,
        MilestoneReminderFired,
        ProblemMilestone,
    )
    from models.messaging import (
        DailyReportRun,
        InboxMessage,
        OutboxMessage,
        ReminderFired,
        ReminderState,
        SchedulerLease,
        StageRun,
    )
    from models.notice import (
        DocumentNumberRegister,
        Notice,
        NoticeCopy,
        NoticeProblem,
        NoticeReceipt,
        NoticeRound,
    )
    from models.people import Substitute, User, UserCampaignGrant, UserRole
    from models.problem import AuditEvent, Evidence, Problem, ProblemCoOffice
    from models.register import Household, VillageHouseholds, Visit
    from models.reporting import DailySnapshot, MonthlyRanking
    from models.review import DelegationEvent, SpotCheck, SpotCheckDraw
    from models.web import AccountEvent, LoginAttempt, WebSession

# Every module with mapped classes: they are imported together so that the mappers (and
# Base.metadata's events) are complete whichever class is asked for first.
ORM_MODULES = ("base", "campaign", "duty", "messaging", "notice", "people", "problem", "register",
               "reporting", "review", "web")


def __getattr__(name: str) -> Any:
    """A mapped class, Base or a models submodule, after importing every module of mapped classes."""
    if name.startswith("__"):
        raise AttributeError(name)
    modules = [importlib.import_module(f"models.{module}") for module in ORM_MODULES]
    if name in __all__:
        value = next(vars(m)[name] for m in modules if name in vars(m))
        globals()[name] = value
        return value
    if name in globals():  # a submodule, set on this package by its import
        return globals()[name]
    raise AttributeError(f"module 'models' has no attribute {name!r}")


__all__ = [
    "AccountEvent",
    "AuditEvent",
    "Base",
    "Campaign",
    "CampaignEvent",
    "CampaignStage",
    "DailyReportRun",
    "DailySnapshot",
    "DelegationEvent",
    "DocumentNumberRegister",
    "DutyOccurrence",
    "DutyReminderFired",
    "Evidence",
    "Household",
    "InboxMessage",
    "LoginAttempt",
    "MilestoneReminderFired",
    "MonthlyRanking",
    "Notice",
    "NoticeCopy",
    "NoticeProblem",
    "NoticeReceipt",
    "NoticeRound",
    "Office",
    "OutboxMessage",
    "PlanVersion",
    "Problem",
    "ProblemCoOffice",
    "ProblemMilestone",
    "ReminderFired",
    "ReminderState",
    "SchedulerLease",
    "SpotCheck",
    "SpotCheckDraw",
    "StageRun",
    "Substitute",
    "Town",
    "User",
    "UserCampaignGrant",
    "UserRole",
    "Village",
    "VillageHouseholds",
    "Visit",
    "WebSession",
]
