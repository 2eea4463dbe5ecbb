"""SQLAlchemy 2 models: the database is duban's system of record."""

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
from models.register import Household, Visit
from models.reporting import DailySnapshot, MonthlyRanking
from models.review import DelegationEvent, SpotCheck, SpotCheckDraw
from models.web import AccountEvent, LoginAttempt, WebSession

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
    "Visit",
    "WebSession",
]
