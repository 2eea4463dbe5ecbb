"""The working-day calendar services use, kept per process, and the year's notice.

`working_calendar()` is China's statutory holidays and 调休 days plus the office's year files.
`read_notice` / `save_notice` turn the State Council's holiday notice into a year file
(`duban calendar import`, the web's 节假日 page); saving reloads this process's calendar, and
every other process (serve's scheduler, the other web workers) reads the new file within
RECHECK_S seconds.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
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
    year_files_stamp,
)
from duban.domain.holiday_notice import Notice, parse_notice
from duban.domain.workdays import CalendarNotCovered, WorkCalendar

# A year file written by another process (a web worker's 节假日 page beside serve's scheduler
# and the other workers, `duban calendar import` beside a running serve) is read here within
# this many seconds: the folders' year files (names, sizes, times) are looked at again.
RECHECK_S = 5.0


class _WorkingCalendar:
    """The calendar of the year files as they are now, looked at again every RECHECK_S."""

    def __init__(self) -> None:
        self._kept: tuple[object, WorkCalendar, float] | None = None

    def __call__(self) -> WorkCalendar:
        """China's statutory holidays and 调休 days, plus any office-supplied year files."""
        kept = self._kept
        # Monotonic time only decides when to look at the folders again; it is never a date.
        now = time.monotonic()
        if kept is not None and now - kept[2] < RECHECK_S:
            return kept[1]
        stamp = year_files_stamp(calendar_dirs())
        if kept is not None and kept[0] == stamp:
            self._kept = (stamp, kept[1], now)
            return kept[1]
        calendar = load_calendar()
        self._kept = (stamp, calendar, now)
        return calendar

    def cache_clear(self) -> None:
        """Read the year files again on the next call (this process just wrote one)."""
        self._kept = None


working_calendar = _WorkingCalendar()


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
