"""The schema the migrations build is the schema `models.tables` declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from duban.services.database import Database
from models.tables import metadata


def test_the_migrated_schema_is_the_declared_one(db: Database) -> None:
    connection = db.connect()  # the fixture's database, migrated to the newest revision
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    assert compare_metadata(context, metadata) == []
