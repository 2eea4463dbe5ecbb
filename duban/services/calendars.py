"""The working-day calendar services use, loaded once per process."""

from __future__ import annotations

from functools import cache

from duban.adapters.calendar import load_calendar
from duban.domain.workdays import WorkCalendar


@cache
def working_calendar() -> WorkCalendar:
    """China's statutory holidays and 调休 days, plus any office-supplied year files."""
    return load_calendar()
