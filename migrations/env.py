"""Alembic environment: runs on the connection duban hands in, or on DUBAN_DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from duban.services.database import make_engine
from models import Base
from models.tables import include_object

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine()
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # As in Database.migrate: a batch table copy must not cascade-delete referencing rows.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            _run(conn)
