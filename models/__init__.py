"""SQLAlchemy 2 models: the database is duban's system of record."""

from models.base import Base
from models.campaign import Campaign, CampaignStage, Office, Town, Village
from models.people import Substitute, User
from models.problem import AuditEvent, Evidence, Problem, ProblemCoOffice
from models.register import Household, Visit
from models.reporting import DailySnapshot, MonthlyRanking

__all__ = [
    "AuditEvent",
    "Base",
    "Campaign",
    "CampaignStage",
    "DailySnapshot",
    "Evidence",
    "Household",
    "MonthlyRanking",
    "Office",
    "Problem",
    "ProblemCoOffice",
    "Substitute",
    "Town",
    "User",
    "Village",
    "Visit",
]
