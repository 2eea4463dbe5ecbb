"""The working-day calendar services use, loaded once per process, and the year's notice.

`working_calendar()` is China's statutory holidays and 调休 days plus the office's year files.
`read_notice` / `save_notice` turn the State Council's holiday notice into a year file
(`duban calendar import`, the web's 节假日 page); saving reloads this process's calendar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from duban.adapters.calendar import (
    REPO_CALENDAR_DIR,
    YearSchedule,
    build_calendar,
    calendar_dirs,
    default_calendar_dir,
    load_calendar,
    read_year_files,
    write_year_file,
)
from duban.domain.holiday_notice import Notice, parse_notice
from duban.domain.workdays import CalendarNotCovered, WorkCalendar


@cache
def working_calendar() -> WorkCalendar:
    """China's statutory holidays and 调休 days, plus any office-supplied year files."""
    return load_calendar()


@dataclass(frozen=True)
class CalendarYear:
    """One covered year's days off and worked weekend days, as the working calendar has them."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    working_days: int


def calendar_year(year: int, calendar: WorkCalendar | None = None) -> CalendarYear:
    """The year in the working calendar; CalendarNotCovered for a year it does not know."""
    cal = calendar or working_calendar()
    if not cal.first_year <= year <= cal.last_year:
        raise CalendarNotCovered(year, cal.first_year, cal.last_year)
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return CalendarYear(
        year,
        frozenset(d for d in cal.holidays if d.year == year),
        frozenset(d for d in cal.makeup_workdays if d.year == year),
        sum(1 for d in days if cal.is_workday(d)),
    )


def read_notice(text: str, year: int | None = None) -> Notice:
    """The notice's schedule (NoticeError quotes the sentence it cannot read)."""
    return parse_notice(text, year)


@dataclass(frozen=True)
class SaveTarget:
    """Where a notice's year file would go, and what a reader should know first."""

    path: Path
    replaces: bool  # a file for the year is there already
    loaded: bool  # duban reads this folder (the repository's calendars/ or DUBAN_CALENDAR_DIR)


def save_target(notice: Notice, folder: Path | None = None) -> SaveTarget:
    """Where save_notice would write; checks the calendar would still load with the year."""
    target_dir = folder or default_calendar_dir()
    dirs = calendar_dirs()
    loaded = any(_same(target_dir, d) for d in dirs) or _same(target_dir, REPO_CALENDAR_DIR)
    schedules = read_year_files(dirs)
    schedules[notice.year] = YearSchedule(notice.year, notice.holidays, notice.workdays,
                                          notice.source, target_dir / f"{notice.year}.yaml")
    build_calendar(schedules)  # a gap (2028 without 2027) is refused before anything is written
    path = target_dir / f"{notice.year}.yaml"
    return SaveTarget(path, path.exists(), loaded)


def save_notice(notice: Notice, folder: Path | None = None) -> Path:
    """Write the year file for the notice and reload this process's working calendar."""
    target = save_target(notice, folder)
    path = write_year_file(notice, target.path.parent)
    working_calendar.cache_clear()
    return path


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
