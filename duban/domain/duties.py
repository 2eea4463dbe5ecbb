"""Recurring duties (常态化工作): which occurrences fall due when, and which units answer them.

Pure functions of a plan's `Duty`, a working-day calendar and dates handed in.

Decisions, so the services and the docs agree:

* A duty's scheduled days lie in [start, end] (the duty's own, else the campaign's): every day
  (daily), each given weekday (weekly), the given day of each month, the last day of a shorter
  month (monthly), or the one date (once).
* With `working_days`, a daily duty falls on working days only; a weekly, monthly or once duty
  whose day is a rest day moves to the next working day (遇节假日顺延).
* An occurrence covers a period: it opens the day after the previous occurrence's day (the
  first opens on the duty's start) and is due `within_working_days` working days after its
  day (0: on the day). The reminder ladder chases it like a problem assigned on its opening
  day with its due day as deadline.
* Occurrences are keyed by (duty, unit, day): a tick that creates every occurrence opened by
  today creates each exactly once however often it runs.
"""

from __future__ import annotations

import calendar as _months
import datetime as dt
from dataclasses import dataclass

from duban.domain.plan import (
    OWN_TOWN,
    OWN_VILLAGE,
    RECURRENCE_LABELS,
    WEEKDAY_LABELS,
    Duty,
    Plan,
    Recurrence,
)
from duban.domain.reminders import WorkdayCalendar


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One time a duty falls due: its day, the day its period opens, the day it is due."""

    duty: str
    day: dt.date
    opens_on: dt.date
    due_on: dt.date


@dataclass(frozen=True, slots=True)
class DutyUnit:
    """Who answers one occurrence: an office, for itself or for one of its villages."""

    office: str
    town: str = ""
    village: str = ""


# A plan with a stage that has no end (seed 004, 适时调整) has no last day; its duties are
# scheduled this far past its last dated day, and stop when the campaign is closed.
OPEN_ENDED_DUTY_DAYS = 366


def duty_window(duty: Duty, plan: Plan) -> tuple[dt.date, dt.date]:
    """The first and last day a duty can fall due."""
    last = plan.end or plan.last_dated_day + dt.timedelta(days=OPEN_ENDED_DUTY_DAYS)
    return duty.start or plan.start, duty.end or last


def _shift(duty: Duty, day: dt.date, calendar: WorkdayCalendar) -> dt.date:
    if duty.working_days and not calendar.is_workday(day):
        return calendar.add_workdays(day, 1)
    return day


def _month_days(duty: Duty, start: dt.date, end: dt.date) -> list[dt.date]:
    out: list[dt.date] = []
    year, month = start.year, start.month
    wanted = duty.day or 1
    while (year, month) <= (end.year, end.month):
        last = _months.monthrange(year, month)[1]
        out.append(dt.date(year, month, min(wanted, last)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [d for d in out if start <= d <= end]


def scheduled_days(duty: Duty, start: dt.date, end: dt.date,
                   calendar: WorkdayCalendar) -> list[dt.date]:
    """The days a duty falls due in [start, end], after moving rest days where asked."""
    if duty.recurrence is Recurrence.ONCE:
        return [_shift(duty, duty.date, calendar)] if duty.date is not None else []
    if duty.recurrence is Recurrence.MONTHLY:
        raw = _month_days(duty, start, end)
    else:
        raw = []
        day = start
        if duty.recurrence is Recurrence.WEEKLY:
            wanted = duty.weekday or 1
            day = start + dt.timedelta(days=(wanted - start.isoweekday()) % 7)
        step = dt.timedelta(days=7 if duty.recurrence is Recurrence.WEEKLY else 1)
        while day <= end:
            raw.append(day)
            day += step
        if duty.recurrence is Recurrence.DAILY and duty.working_days:
            return [d for d in raw if calendar.is_workday(d)]
    days: list[dt.date] = []
    for d in raw:
        moved = _shift(duty, d, calendar)
        if not days or moved > days[-1]:  # two rest-day shifts onto one day count once
            days.append(moved)
    return days


def occurrences(duty: Duty, plan: Plan, calendar: WorkdayCalendar) -> list[Occurrence]:
    """Every occurrence of a duty over its window, in order."""
    start, end = duty_window(duty, plan)
    out: list[Occurrence] = []
    opens = start
    for day in scheduled_days(duty, start, end, calendar):
        due = calendar.add_workdays(day, duty.within_working_days) \
            if duty.within_working_days else day
        out.append(Occurrence(duty.code, day, min(opens, day), due))
        opens = day + dt.timedelta(days=1)
    return out


def opened_by(duty: Duty, plan: Plan, calendar: WorkdayCalendar,
              today: dt.date) -> list[Occurrence]:
    """The occurrences whose period has opened by `today` (the tick creates these)."""
    return [o for o in occurrences(duty, plan, calendar) if o.opens_on <= today]


def due_on(duty: Duty, plan: Plan, calendar: WorkdayCalendar, day: dt.date) -> list[Occurrence]:
    """The occurrences of a duty due on `day`."""
    return [o for o in occurrences(duty, plan, calendar) if o.due_on == day]


def duty_units(duty: Duty, plan: Plan) -> list[DutyUnit]:
    """The units a duty is assigned to, with 各乡镇 and 各村 expanded over the plan's scope."""
    out: list[DutyUnit] = []
    for ref in duty.units:
        if ref in (OWN_TOWN, OWN_VILLAGE):
            for town in plan.towns:
                office = plan.town_office(town.code)
                if office is None:
                    continue  # check_plan refuses such a plan; a partial one skips the town
                if ref == OWN_TOWN:
                    out.append(DutyUnit(office.code, town.code))
                else:
                    out.extend(DutyUnit(office.code, town.code, v.code) for v in town.villages)
        else:
            office = plan.office(ref)
            out.append(DutyUnit(ref, office.town or "" if office else ""))
    return list(dict.fromkeys(out))  # a unit named twice (乡建环办 and 各乡镇) answers once


def recurrence_text(duty: Duty) -> str:
    """How often a duty falls due, in words: 每周五, 每月25日, 2020-12-10前."""
    if duty.recurrence is Recurrence.WEEKLY and duty.weekday:
        text = "每" + WEEKDAY_LABELS[duty.weekday - 1]
    elif duty.recurrence is Recurrence.MONTHLY and duty.day:
        text = f"每月{duty.day}日"
    elif duty.recurrence is Recurrence.ONCE and duty.date:
        text = f"{duty.date.isoformat()}前"
    else:
        text = RECURRENCE_LABELS[duty.recurrence]
    if duty.working_days:
        text += "（工作日）"
    if duty.within_working_days:
        text += f"，{duty.within_working_days}个工作日内报送"
    return text
