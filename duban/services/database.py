"""Where the database is, how to open it, and how to migrate it."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, Transaction, create_engine, event, inspect, text

from duban.adapters.resources import migrations_dir
from duban.domain.errors import ConflictError

# Re-exported: where the data and the database are (stdlib only, for the tick's hand-off).
from duban.services.locations import data_dir as data_dir
from duban.services.locations import database_url as database_url
from duban.services.locations import private_data_dir as private_data_dir
from duban.services.locations import private_dir as private_dir

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = migrations_dir()


def _private_sqlite_file(url: str) -> None:
    """Create a SQLite database file owner-only (0600) before SQLite does (it would follow the
    umask, often 0644); its journal and WAL files take the file's permissions."""
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if path.exists() or not path.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):  # another process created it first
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


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


# PostgreSQL connections a process keeps: as many as the web's worker threads use at once (12,
# DUBAN_WEB_THREADS) and the cache's background refreshes. SQLAlchemy's default keeps 5 and
# closes each overflow connection on return, so a busy `duban serve` had PostgreSQL fork a
# backend for most requests: its CPU a request was 7.1 ms against 3.2 ms with a pool this size
# (web bench, `--server serve` against uvicorn with the bench's pool, 2026-12-05). At most 18
# a process: four web workers and serve stay within PostgreSQL's default max_connections (100).
PG_POOL_SIZE = 14
PG_MAX_OVERFLOW = 4


# psycopg prepares a statement on a connection once it has run this many times there, and then
# PostgreSQL keeps its plan across calls (a generic plan, when it costs no more than the custom
# ones it made first). Only transactions that end in COMMIT keep them: psycopg forgets every
# prepared statement of a connection on each ROLLBACK, which is why a page's read-only unit
# commits (UnitOfWork, read_only). Every statement's text is fixed with its values bound, so
# a statement repeated on a connection is prepared the third time; a connection keeps at most
# PG_PREPARED_MAX of them (the least recently used one is deallocated).
PG_PREPARE_THRESHOLD = 2
PG_PREPARED_MAX = 200


def _pg_alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool checkout: replace a pooled connection the server has closed, without a round trip.

    An idle pooled connection has nothing to read; when PostgreSQL stops, restarts or ends a
    backend it sends an error and closes the socket, which then polls readable. Only then is
    it pinged (in autocommit: no transaction is left open) and, if the ping fails, replaced
    (the pool retries with a new connection). Instead of the pool's pre-ping, which spent a
    round trip (`;`) on every checkout, a page's among them. A host that vanished without
    closing the socket is found by the next statement, which fails after TCP's timeout (the
    ping waited as long).
    """
    import select

    from sqlalchemy.exc import DisconnectionError

    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    if not poller.poll(0):
        return
    try:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute(";")
        dbapi_connection.autocommit = autocommit
    except Exception as exc:  # psycopg's errors: whatever it is, take a new connection
        raise DisconnectionError(f"the connection did not answer: {exc}") from exc


def make_engine(url: str | None = None, *, savepoints: bool = False,
                pool_size: int = PG_POOL_SIZE, max_overflow: int = PG_MAX_OVERFLOW) -> Engine:
    """An engine for the URL, with SQLite tuned for one writer and many readers.

    savepoints=True is for tests that run inside one outer transaction: SQLite then nests
    SAVEPOINTs properly and lets the test's TestClient threads share its connection.
    PostgreSQL's pool keeps `pool_size` (+ `max_overflow`) connections; a connection the
    server closed is replaced on checkout (`_pg_alive`); statements are prepared when they
    repeat on a connection (PG_PREPARE_THRESHOLD). One configuration for the web, the CLI,
    the tick and the flows.
    """
    url = url or database_url()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        connect_args: dict[str, Any] = {"timeout": 30}
        if savepoints:
            connect_args["check_same_thread"] = False
        engine = create_engine(url, connect_args=connect_args)
        event.listen(engine, "connect", _sqlite_pragmas)
        if savepoints:
            sqlite_savepoints(engine)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow,
                           connect_args={"prepare_threshold": PG_PREPARE_THRESHOLD})
    event.listen(engine, "connect", _pg_prepared_max)
    event.listen(engine, "connect", _pg_backend_nice)
    event.listen(engine, "checkout", _pg_alive)
    return engine


def _pg_prepared_max(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.prepared_max = PG_PREPARED_MAX


# The `prioritize` extension's renice of a backend (Debian's postgresql-NN-prioritize): a role
# may lower its own backends' priority, never raise it.
_HAS_PRIORITIZE = "SELECT to_regprocedure('set_backend_priority(integer,integer)') IS NOT NULL"
_RENICE_BACKEND = ("SELECT set_backend_priority(pg_backend_pid(), %(nice)s) "
                   "WHERE get_backend_priority(pg_backend_pid()) < %(nice)s")


def _pg_backend_nice(dbapi_connection: Any, _: Any) -> None:
    """A new connection of a process running below the default CPU priority (a worker's flow
    run, DUBAN_WORKER_NICE) has its PostgreSQL backend run at the same niceness, where the
    database has the `prioritize` extension: a stage's backend then gives way to the web's as
    its process does (the backend did a county's 排查 writes at full priority). Without the
    extension, or at niceness 0, nothing is sent."""
    nice = os.nice(0)
    if nice <= 0:
        return
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # no transaction left open on the new connection
    try:
        if dbapi_connection.execute(_HAS_PRIORITIZE).fetchone()[0]:
            dbapi_connection.execute(_RENICE_BACKEND, {"nice": nice})
    except Exception as exc:  # psycopg's errors: a refused renice must not refuse the connection
        logging.getLogger(__name__).warning(
            "could not lower the database backend's CPU priority: %s", exc)
    finally:
        dbapi_connection.autocommit = autocommit


def sqlite_savepoints(engine: Engine) -> None:
    """Let a SQLite engine nest SAVEPOINTs inside an outer transaction (for rolled-back tests).

    pysqlite begins transactions lazily and lets a SAVEPOINT start (and RELEASE end) one of
    its own; SQLAlchemy's documented fix is to switch its handling off and emit BEGIN ourselves.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def insert_or_skip(session: Session, model: Any) -> Any:
    """An INSERT of the session's dialect that can skip rows whose unique key exists.

    For claims that may race (a day's draw or snapshot, a stage run, a numbering register
    row): `.on_conflict_do_nothing(...)` waits for a concurrent claimant and then skips.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    table = getattr(model, "__table__", model)
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_new(session: Session, model: Any, rows: Sequence[Mapping[str, Any]],
               unique: Sequence[str] | None = None) -> int:
    """Insert `rows`, skipping those whose unique key (`unique`, else any) exists already or
    a concurrent writer inserts first; returns how many went in (counted from RETURNING:
    rowcount is -1 on some drivers).

    One statement executed with the rows, which SQLAlchemy sends as multi-row statements
    compiled once per process: built with the rows as its values it was compiled again for
    every count of rows (a report rebuilding 29 missing days compiled its INSERT 29 times).
    """
    if not rows:
        return 0
    key = next(iter(getattr(model, "__table__", model).primary_key.columns))
    stmt = insert_or_skip(session, model).on_conflict_do_nothing(
        index_elements=list(unique) if unique else None).returning(key)
    return len(session.execute(stmt, list(rows)).all())


P = ParamSpec("P")
R = TypeVar("R")

CONFLICT = "记录已被他人同时修改，本次操作未保存，请刷新后重试"


def _stale(exc: BaseException | None) -> bool:
    """Whether exc is the ORM's optimistic-lock miss (only a session can raise one)."""
    from sqlalchemy.orm.exc import StaleDataError

    return isinstance(exc, StaleDataError)


class UnitOfWork:
    """One transaction owned by the edge that opened it: rolls back on exit unless committed.

    Services take a unit of work and use its session, or its connection for Core statements on
    `models.tables` (a read that needs no mapped objects, such as `duban problem list`, then
    never imports the ORM). Only edges (CLI commands, web routes, Prefect tasks, the demo,
    tests) call commit(). Side effects that must only happen once the data is durable (waking
    the outbox, say) are registered with after_commit().
    """

    def __init__(self, db: Database, *, read_only: bool = False) -> None:
        self._db = db
        # A unit that only reads, on PostgreSQL outside the tests' outer connection: its
        # transaction is READ ONLY (a write fails) and ends in COMMIT when the block ends
        # normally, which on a read-only transaction undoes nothing a ROLLBACK would, and
        # keeps the connection's prepared statements (psycopg forgets them on each ROLLBACK).
        self._read_only = read_only and db.read_only_units
        # Elsewhere (SQLite, the tests' outer transaction) it commits all the same: what units
        # inside it committed (a kept count, a last-seen time) stays, as on PostgreSQL, where
        # they run on connections of their own.
        self._commits_at_end = read_only
        self._session: Session | None = None
        # Set when Core work came first: the unit's own connection and transaction, which a
        # session asked for later joins (through a SAVEPOINT), so both commit or neither.
        self._connection: Connection | None = None
        self._transaction: Transaction | None = None
        self._after_commit: list[Callable[[], None]] = []

    @property
    def session(self) -> Session:
        """The unit's ORM session (the ORM is imported on first use)."""
        if self._session is None:
            if self._read_only:
                # In the unit's own transaction, as it is (no SAVEPOINT).
                self._session = self._db.new_session(self.connection, savepoint=False)
            else:
                self._session = self._db.new_session(self._connection)
        return self._session

    @property
    def connection(self) -> Connection:
        """The unit's connection, for Core statements, in the same transaction as its session
        and seeing its pending changes (flushed first, as an ORM query's autoflush would)."""
        if self._session is not None:
            self._session.flush()  # returns at once when nothing is pending
            return self._session.connection()
        if self._connection is None:
            self._connection = self._db.connect()
            if self._read_only:
                self._connection.execution_options(postgresql_readonly=True)
        if self._transaction is None or not self._transaction.is_active:
            self._transaction = self._db.begin(self._connection)
        return self._connection

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._after_commit.clear()
        try:
            if self._read_only and exc_type is None:
                if self._session is not None:
                    self._session.close()
                if self._transaction is not None and self._transaction.is_active:
                    self._transaction.commit()  # READ ONLY: nothing to keep but the plans
            elif self._commits_at_end and exc_type is None:
                self.commit()
            if self._session is not None:
                try:
                    self._session.rollback()
                finally:
                    self._session.close()
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            if self._connection is not None:
                self._db.release(self._connection)
        if self._session is not None and _stale(exc):
            # A flush inside the block missed its optimistic lock.
            raise ConflictError(CONFLICT) from exc

    def commit(self) -> None:
        """Make the work durable, then run the after-commit callbacks; the unit stays usable."""
        if self._session is not None:
            try:
                self._session.commit()
            except Exception as exc:
                if not _stale(exc):
                    raise
                # An optimistic-lock miss: someone committed a change to the same row first.
                self.rollback()
                raise ConflictError(CONFLICT) from exc
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.commit()
            if self._session is not None and self._connection is not None:
                # The session's next work needs a transaction of ours to nest in.
                self._transaction = self._db.begin(self._connection)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        """Forget the work since the last commit and its pending callbacks."""
        self._after_commit.clear()
        if self._read_only and self._session is not None:
            # The session is in the unit's own transaction: begun again with its next read.
            self._session.close()
            self._session = None
        if self._session is not None:
            self._session.rollback()
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()
            if self._session is not None and self._connection is not None:
                self._transaction = self._db.begin(self._connection)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the unit that may fail alone: its changes are undone, the unit goes on."""
        try:
            with self.session.begin_nested():
                yield
        except Exception as exc:
            if _stale(exc):
                raise ConflictError(CONFLICT) from exc
            raise

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run callback once the next commit() has succeeded (never if the work rolls back)."""
        self._after_commit.append(callback)

    def analyze_after_commit(self, table: str, *columns: str) -> None:
        """Refresh PostgreSQL's planner statistics of `table` (of `columns`, else all) once the
        next commit succeeded.

        For bulk writes that the next stage reads at once: until autovacuum's analyze comes
        round the planner takes a freshly filled table for empty and picks nested loops and
        filtered scans (~3 s of the server's CPU in a county's rectify stage, issue 17). Only
        the columns the next reads filter and join on: all of a problem's cost 0.9 s, these
        0.2 s. SQLite needs nothing.
        """
        if self._db.engine.dialect.name == "postgresql":
            self.after_commit(lambda: self._db.analyze(table, *columns))


class Database:
    """An engine and its session factory; the one way services reach the database."""

    def __init__(self, url: str | None = None, engine: Engine | None = None, *,
                 connection: Connection | None = None) -> None:
        self.engine = engine or make_engine(url)
        # Tests: every unit joins this connection's outer transaction through a SAVEPOINT, so
        # a commit is only a RELEASE and the test's rollback undoes it all.
        self._outer = connection
        self._sessions: sessionmaker[Session] | None = None

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory (the ORM is imported when it is first asked for)."""
        if self._sessions is None:
            from sqlalchemy.orm import sessionmaker

            if self._outer is None:
                self._sessions = sessionmaker(self.engine, expire_on_commit=False)
            else:
                self._sessions = sessionmaker(bind=self._outer, expire_on_commit=False,
                                              join_transaction_mode="create_savepoint")
        return self._sessions

    def new_session(self, connection: Connection | None = None, *,
                    savepoint: bool = True) -> Session:
        """A session; on `connection` (a unit's, in its transaction) through a SAVEPOINT, or
        (savepoint=False, a read-only unit's) in that transaction as it is."""
        if connection is None:
            return self.sessions()
        if not savepoint:
            return self.sessions(bind=connection, join_transaction_mode="rollback_only")
        return self.sessions(bind=connection, join_transaction_mode="create_savepoint")

    def connect(self) -> Connection:
        """A connection for a unit's Core work (the tests' outer connection when there is one)."""
        return self._outer if self._outer is not None else self.engine.connect()

    def begin(self, connection: Connection) -> Transaction:
        """A unit's transaction on `connection`: a SAVEPOINT inside the tests' outer one."""
        if connection is self._outer:
            return connection.begin_nested()
        return connection.begin()

    def release(self, connection: Connection) -> None:
        """Give back a connection from connect() (the tests' outer one stays open)."""
        if connection is not self._outer:
            connection.close()

    @property
    def read_only_units(self) -> bool:
        """Whether a unit asked for as read-only gets a READ ONLY transaction that commits
        (PostgreSQL, not inside the tests' outer transaction); else it rolls back as any."""
        return self._outer is None and self.engine.dialect.name == "postgresql"

    def unit_of_work(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work: use it in a with block and commit() to keep what it did.

        read_only=True: the unit only reads (a page's views) and ends in COMMIT when its block
        ends normally; on PostgreSQL its transaction is READ ONLY (a write in it fails) and
        the COMMIT keeps the connection's prepared statements."""
        return UnitOfWork(self, read_only=read_only)

    def run(self, use_case: Callable[Concatenate[UnitOfWork, P], R],
            *args: P.args, **kwargs: P.kwargs) -> R:
        """One use case in its own unit of work, committed if it returns (an edge's shorthand)."""
        with self.unit_of_work() as uow:
            result = use_case(uow, *args, **kwargs)
            uow.commit()
            return result

    def analyze(self, table: str, *columns: str) -> None:
        """ANALYZE `table` (of `columns`, else all) on PostgreSQL, outside any transaction (in
        the tests' outer one)."""
        quote = self.engine.dialect.identifier_preparer.quote
        named = f" ({', '.join(map(quote, columns))})" if columns else ""
        statement = text(f"ANALYZE {quote(table)}{named}")
        if self._outer is not None:
            self._outer.execute(statement)
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(statement)

    @property
    def url(self) -> str:
        """The engine's URL with the password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work committed when the block ends normally (for edges and tests)."""
        with self.unit_of_work() as uow:
            yield uow.session
            uow.commit()

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
