"""What every task needs: the database (opened once per process) and the clock."""

from __future__ import annotations

from functools import cache

from duban.domain.clock import Clock, FixedClock, SystemClock
from duban.services.database import Database, database_url
from duban.services.stages import as_clock_time


@cache
def _database(url: str) -> Database:
    return Database(url)


def database() -> Database:
    """The process's Database for $DUBAN_DATABASE_URL (tasks take IDs, never sessions)."""
    return _database(database_url())


def clock_at(now: str | None) -> Clock:
    """A fixed clock at an ISO moment (simulated time), else the system clock."""
    moment = as_clock_time(now)
    return FixedClock(moment) if moment is not None else SystemClock()
