"""When a rolling round of 督办通知书 for late problems is due (滚动下发).

A problem found after the rectify stage began goes out on the next round: each working day,
or once a week on the plan's weekday (the first working day on or after it in that week).
Standard library only.
"""

from __future__ import annotations

import datetime as dt

from duban.domain.plan import NoticePolicy, NoticeRhythm
from duban.domain.reminders import WorkdayCalendar


def round_day(policy: NoticePolicy, day: dt.date, calendar: WorkdayCalendar) -> dt.date | None:
    """The day of the round that `day` belongs to, None when its week (or day) has none."""
    if policy.rolling is NoticeRhythm.MANUAL:
        return None
    if policy.rolling is NoticeRhythm.DAILY:
        return day if calendar.is_workday(day) else None
    monday = day - dt.timedelta(days=day.isoweekday() - 1)
    target = monday + dt.timedelta(days=policy.week_day - 1)
    # A holiday on the weekday moves the round to the next working day of the same week.
    for offset in range(7 - policy.week_day + 1):
        candidate = target + dt.timedelta(days=offset)
        if calendar.is_workday(candidate):
            return candidate
    return None


def due_round(policy: NoticePolicy, work_start: dt.time, local_now: dt.datetime,
              calendar: WorkdayCalendar) -> str | None:
    """The key of the round due at this local moment (2022-09-27, 2022-W39), or None.

    A weekly round missed on its day (the server was down) is still due later that week.
    """
    day = local_now.date()
    when = round_day(policy, day, calendar)
    if when is None or when > day or not calendar.is_workday(day):
        return None
    if local_now.time() < (policy.at or work_start):
        return None
    if policy.rolling is NoticeRhythm.DAILY:
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
