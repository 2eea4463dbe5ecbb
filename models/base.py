"""The declarative base: ORM classes are mapped onto the Core tables of `models.tables`."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from models.tables import metadata
from models.types import NAMING_CONVENTION, EmptyAsNull, UTCDateTime

# Migrations name the column types as models.base.UTCDateTime (Alembic wrote them so).
__all__ = ["NAMING_CONVENTION", "Base", "EmptyAsNull", "UTCDateTime"]


class Base(DeclarativeBase):
    """Base class of all duban's mapped classes; each names its table with `__table__`."""

    metadata = metadata
