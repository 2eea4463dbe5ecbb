"""Kept counts shared by the web server's processes: a slow aggregate (the ledger cube, an
office's co-office cells) is counted by one process and read by the others while it is young.

Each worker process of the web server used to count the whole ledger every `cache_seconds`
on its own (about 1.4 s of PostgreSQL for a million problems, and the co-office cubes after
it): with two workers, twice. Now the first process to find the copy too old takes the
counting turn (a transaction-scoped advisory lock on PostgreSQL), counts and stores the
copy; the others wait for that turn to end and read what it stored. A copy's age is measured
by the database's own clock, so processes (and hosts) agree on it; it only decides when to
count again, like the web cache's monotonic clock, and is never shown as a date.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, func, insert, literal_column, select
from sqlalchemy.orm import Session

from duban.services.database import UnitOfWork
from models.tables import kept_count

T = TypeVar("T")


def _now(session: Session) -> ColumnElement[Any]:
    """The database's clock in seconds since the epoch (a SQL expression)."""
    if session.get_bind().dialect.name == "postgresql":
        # clock_timestamp(), not now(): the transaction may have waited for the turn.
        return func.extract("epoch", func.clock_timestamp())
    return (func.julianday("now") - 2440587.5) * 86400.0


def kept_copy(session: Session, key: str, max_age: float) -> tuple[bytes, float] | None:
    """The stored copy of `key` and its age in seconds, when it is at most `max_age` old."""
    row = session.execute(select(kept_count.c.payload,
                                 (_now(session) - kept_count.c.counted_at).label("age"))
                          .where(kept_count.c.key == key)).first()
    if row is None or row.age > max_age:
        return None
    return bytes(row.payload), max(float(row.age), 0.0)


def keep_copy(session: Session, key: str, payload: bytes) -> None:
    """Store `payload` as the copy of `key`, counted now (by the database's clock)."""
    session.execute(delete(kept_count).where(kept_count.c.key == key))
    session.execute(insert(kept_count).values(key=key, counted_at=_now(session),
                                              payload=payload))


def forget_kept(session: Session, campaign_id: int | None = None) -> None:
    """Drop the kept copies of a campaign's counts (every campaign's when None), in the
    caller's transaction: what an import wrote shows at once in every process, not after the
    copy ages out (the web's own cache is cleared too, but a copy up to its ttl old was read
    back from here)."""
    stmt = delete(kept_count)
    if campaign_id is not None:
        # Keys read `what:campaign:day:version` (pages.shared_of); `what` may hold colons.
        stmt = stmt.where(kept_count.c.key.like(f"%:{campaign_id}:____-__-__:%"))
    session.execute(stmt)


def counting_turn(session: Session, key: str) -> None:
    """Wait until no other process is counting `key`, then count it ourselves: the turn ends
    with this transaction. SQLite serialises its writers anyway: nothing to wait for."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(
            func.hashtextextended(literal_column(f"'kept:{_quoted(key)}'"), 0))))


def _quoted(key: str) -> str:
    return key.replace("'", "''")


def shared_count(uow: UnitOfWork, key: str, count: Callable[[Session], T], *,
                 max_age: float, worth_keeping: float, encode: Callable[[T], bytes],
                 decode: Callable[[bytes], T]) -> tuple[T, float | None]:
    """The aggregate `key` and its age: a copy at most `max_age` seconds old, else counted
    here (after any other process's count of it ends) and stored for the others when it
    took `worth_keeping` seconds or more (the caller commits). Age None: counted by this
    call. The turn is held until the caller's transaction ends."""
    session = uow.session
    found = kept_copy(session, key, max_age)
    if found is None:
        counting_turn(session, key)
        found = kept_copy(session, key, max_age)  # the process we waited for stored it
    if found is not None:
        payload, age = found
        return decode(zlib.decompress(payload)), age
    # Monotonic time only decides whether the count is worth sharing; never stored.
    started = time.monotonic()
    value = count(session)
    if time.monotonic() - started >= worth_keeping:
        keep_copy(session, key, zlib.compress(encode(value), 1))
    return value, None
