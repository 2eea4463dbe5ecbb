"""Time as a dependency: the domain never reads the wall clock, it asks a `Clock`.

`SystemClock` is the only place in duban allowed to read the wall clock. Everything else takes
a `Clock` (or a date / datetime) so tests and simulated campaigns can run weeks in a second.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

# Offices work on Beijing time; working hours and working days are read in this zone.
CHINA_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """Something that tells the current time."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """The real clock, in China time."""

    def now(self) -> dt.datetime:
        """The current wall-clock time in Asia/Shanghai."""
        # The ONE place in duban that reads the wall clock; everything else is handed a Clock.
        return dt.datetime.now(CHINA_TZ)


class FixedClock:
    """A clock that stands still until moved: for tests and simulated time."""

    def __init__(self, now: dt.datetime) -> None:
        self._now = _aware(now)

    def now(self) -> dt.datetime:
        """The time the clock was set to."""
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        """Move the clock forward (or back, with a negative delta) and return the new time."""
        self._now = self._now + delta
        return self._now

    def set(self, now: dt.datetime) -> None:
        """Jump to a given (timezone-aware) time."""
        self._now = _aware(now)

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"


def local_now(clock: Clock) -> dt.datetime:
    """The clock's time converted to China time."""
    return clock.now().astimezone(CHINA_TZ)


def local_today(clock: Clock) -> dt.date:
    """The calendar date in China for the clock's time (the date the offices live in)."""
    return local_now(clock).date()


def _aware(value: dt.datetime) -> dt.datetime:
    """Refuse naive datetimes: a naive time means a bug about which zone was meant."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()}: pass a timezone-aware datetime")
    return value
