"""SQLAlchemy 2 models: the database is duban's system of record."""

from models.base import Base
from models.campaign import Campaign, CampaignStage, Office, Town, Village
from models.people import Substitute, User
from models.problem import AuditEvent, Evidence, Problem, ProblemCoOffice
from models.register import Household, Visit
from models.reporting import DailySnapshot, MonthlyRanking
from models.review import DelegationEvent, SpotCheck, SpotCheckDraw

__all__ = [
    "AuditEvent",
    "Base",
    "Campaign",
    "CampaignStage",
    "DailySnapshot",
    "DelegationEvent",
    "Evidence",
    "Household",
    "MonthlyRanking",
    "Office",
    "Problem",
    "ProblemCoOffice",
    "SpotCheck",
    "SpotCheckDraw",
    "Substitute",
    "Town",
    "User",
    "Village",
    "Visit",
]
