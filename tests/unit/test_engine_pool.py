"""duban's PostgreSQL engine keeps a connection for each of the web's request threads."""

from __future__ import annotations

from sqlalchemy.pool import QueuePool

from duban.services.database import PG_MAX_OVERFLOW, PG_POOL_SIZE, make_engine


def test_a_postgresql_engine_keeps_a_connection_per_request_thread() -> None:
    """With SQLAlchemy's default (5 kept, overflow closed on return) a busy server had
    PostgreSQL fork a backend for most requests. No connection is opened here."""
    engine = make_engine("postgresql://postgres@127.0.0.1:1/none")
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.size() == PG_POOL_SIZE >= 12 + 2  # DUBAN_WEB_THREADS' default and refreshes
    assert pool._max_overflow == PG_MAX_OVERFLOW  # QueuePool has no getter for it
    # Four web workers and serve within PostgreSQL's default max_connections (100).
    assert 5 * (PG_POOL_SIZE + PG_MAX_OVERFLOW) <= 100
    engine.dispose()
