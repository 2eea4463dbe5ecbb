"""Where the database is, how to open it, and how to migrate it."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from duban.domain.errors import ConflictError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def data_dir() -> Path:
    """The data directory: $DUBAN_DATA_DIR, else ./data beside where duban runs."""
    return Path(os.environ.get("DUBAN_DATA_DIR", "data")).resolve()


def database_url() -> str:
    """$DUBAN_DATABASE_URL, else a SQLite file in the data directory (the embedded default)."""
    url = os.environ.get("DUBAN_DATABASE_URL")
    if url:
        return url
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'duban.sqlite3'}"


@cache
def schema_head() -> str | None:
    """The newest migration's revision, read from migrations/versions without Alembic.

    None when the files do not name one clear head (a merge written over several lines, a file
    this reading does not understand): then `migrate` asks Alembic, which knows for sure.
    """
    files = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in files:
        source = path.read_text(encoding="utf-8")
        revision = re.search(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", source, re.MULTILINE)
        down = re.search(r"^down_revision\b[^=]*=(.*)$", source, re.MULTILINE)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 and len(revisions) == len(files) else None


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # WAL lets the scheduler and the web app read while one writes; foreign keys are off by
    # default in SQLite; busy_timeout turns lock contention into waiting instead of errors.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for the URL, with SQLite tuned for one writer and many readers."""
    url = url or database_url()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """An engine and its session factory; the one way services reach the database."""

    def __init__(self, url: str | None = None, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The engine's URL with the password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits when the block ends normally, rolls back otherwise."""
        try:
            with self.sessions() as session, session.begin():
                yield session
        except StaleDataError as exc:
            # An optimistic-lock miss: someone committed a change to the same row first.
            raise ConflictError("记录已被他人同时修改，本次操作未保存，请刷新后重试") from exc

    def at_head(self) -> bool:
        """Whether the schema is at the newest revision already (read without Alembic)."""
        head = schema_head()
        if head is None:
            return False
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            versions = connection.execute(text("SELECT version_num FROM alembic_version"))
            return list(versions.scalars()) == [head]

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        # Every CLI command migrates first; importing Alembic and its scripts costs ~1 s, so
        # a schema that is at the newest revision already is left without asking Alembic.
        if self.at_head():
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        sqlite = self.engine.dialect.name == "sqlite"
        with self.engine.connect() as connection:
            if sqlite:
                # A batch migration copies a table and drops the old one; with foreign keys on,
                # SQLite's DROP TABLE deletes every row that references it (ON DELETE CASCADE).
                # The pragma only takes effect outside a transaction, hence before begin().
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
