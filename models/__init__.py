"""SQLAlchemy 2 models: the database is duban's system of record."""

from models.base import Base
from models.campaign import Campaign, CampaignStage, Office, Town, Village
from models.people import Substitute, User
from models.problem import AuditEvent, Evidence, Problem, ProblemCoOffice
from models.register import Household, Visit

__all__ = [
    "AuditEvent",
    "Base",
    "Campaign",
    "CampaignStage",
    "Evidence",
    "Household",
    "Office",
    "Problem",
    "ProblemCoOffice",
    "Substitute",
    "Town",
    "User",
    "Village",
    "Visit",
]
