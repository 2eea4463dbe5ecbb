"""Working-day arithmetic (工作日) over statutory holidays and adjusted working weekends (调休).

A `WorkCalendar` is plain data: the holidays, the make-up working days and the years the data
covers. It precomputes, for every covered day, how many working days come before it, so that
`add_workdays` and `workdays_between` are O(1) list look-ups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from duban.domain.errors import DubanError


class CalendarNotCovered(DubanError):
    """A date falls in a year for which no holiday schedule is known."""

    def __init__(self, year: int, first_year: int, last_year: int) -> None:
        super().__init__(
            f"工作日历未覆盖{year}年（现有{first_year}年至{last_year}年的节假日数据），"
            f"无法计算工作日。请用 duban calendar import 导入《国务院办公厅关于{year}年部分节假日"
            f"安排的通知》的原文（或在网页“节假日”中粘贴），或按通知"
            f"编写 {year}.yaml（写明 year、holidays 放假日期、workdays 调休上班日期、"
            f"source 通知标题），放入 calendars/ 目录或环境变量 DUBAN_CALENDAR_DIR 指定的目录，"
            f"格式见 calendars/README.md。"
        )
        self.year = year
        self._range = (first_year, last_year)

    def __reduce__(self) -> tuple[type[CalendarNotCovered], tuple[int, int, int]]:
        # Rebuild from the year, not the message, so the error survives pickling (task runners).
        return (CalendarNotCovered, (self.year, *self._range))


class CalendarMergeError(DubanError):
    """Two calendars cannot be combined because years between them are missing."""


def _year_start(year: int) -> int:
    return dt.date(year, 1, 1).toordinal()


class WorkCalendar:
    """Working days for the years first_year..last_year (inclusive).

    A day is a working day when it is a Monday-Friday that is not a holiday, or a make-up
    working day (调休上班). Dates outside the covered years raise `CalendarNotCovered`.
    Holiday or make-up dates outside the covered years are kept (a notice for one year may
    name the last day of the year before) and take effect when calendars are merged.
    """

    __slots__ = (
        "_base",
        "_cum",
        "_end",
        "_flags",
        "_wd_dates",
        "first_year",
        "holidays",
        "last_year",
        "makeup_workdays",
    )

    def __init__(
        self,
        holidays: Iterable[dt.date],
        makeup_workdays: Iterable[dt.date],
        first_year: int,
        last_year: int,
    ) -> None:
        if first_year > last_year:
            raise ValueError(f"first_year {first_year} is after last_year {last_year}")
        self.holidays: frozenset[dt.date] = frozenset(holidays)
        self.makeup_workdays: frozenset[dt.date] = frozenset(makeup_workdays)
        clash = self.holidays & self.makeup_workdays
        if clash:
            day = min(clash)
            raise DubanError(f"日期 {day.isoformat()} 同时被列为放假日和调休上班日")
        self.first_year = first_year
        self.last_year = last_year
        base = _year_start(first_year)
        end = _year_start(last_year + 1)
        self._base = base
        self._end = end
        ndays = end - base
        flags = bytearray(ndays)
        # cum[i] = working days strictly before day i; cum has ndays + 1 entries.
        cum = [0] * (ndays + 1)
        wd_dates: list[dt.date] = []
        hol = {d.toordinal() for d in self.holidays}
        mk = {d.toordinal() for d in self.makeup_workdays}
        count = 0
        for i in range(ndays):
            o = base + i
            # date.fromordinal(1) is a Monday, so (o - 1) % 7 is the weekday (Monday = 0).
            working = o in mk or ((o - 1) % 7 < 5 and o not in hol)
            cum[i] = count
            if working:
                flags[i] = 1
                wd_dates.append(dt.date.fromordinal(o))
                count += 1
        cum[ndays] = count
        self._flags = bytes(flags)
        self._cum = cum
        self._wd_dates = wd_dates

    def __repr__(self) -> str:
        return f"WorkCalendar({self.first_year}-{self.last_year})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WorkCalendar):
            return NotImplemented
        return (
            self.first_year == other.first_year
            and self.last_year == other.last_year
            and self._flags == other._flags
        )

    def __hash__(self) -> int:
        return hash((self.first_year, self.last_year, self._flags))

    def _index(self, d: dt.date) -> int:
        i = d.toordinal() - self._base
        if i < 0 or i >= len(self._flags):
            raise CalendarNotCovered(d.year, self.first_year, self.last_year)
        return i

    def covers(self, d: dt.date) -> bool:
        """Whether the calendar knows the holidays of d's year."""
        return self.first_year <= d.year <= self.last_year

    def is_workday(self, d: dt.date) -> bool:
        """Whether d is a working day."""
        return self._flags[self._index(d)] == 1

    def next_workday(self, d: dt.date) -> dt.date:
        """d itself if it is a working day, else the first working day after it."""
        i = self._index(d)
        if self._flags[i]:
            return d
        k = self._cum[i]
        if k >= len(self._wd_dates):
            raise CalendarNotCovered(self.last_year + 1, self.first_year, self.last_year)
        return self._wd_dates[k]

    def add_workdays(self, d: dt.date, n: int) -> dt.date:
        """The n-th working day after d (n > 0), before d (n < 0), or d itself (n == 0).

        Counting never includes d: add_workdays(Friday, 1) is the next Monday, and
        add_workdays(Monday, -1) is the Friday before.
        """
        i = self._index(d)
        if n > 0:
            k = self._cum[i + 1] + n - 1
            if k >= len(self._wd_dates):
                raise CalendarNotCovered(self.last_year + 1, self.first_year, self.last_year)
        elif n < 0:
            k = self._cum[i] + n
            if k < 0:
                raise CalendarNotCovered(self.first_year - 1, self.first_year, self.last_year)
        else:
            return d
        return self._wd_dates[k]

    def workdays_between(self, a: dt.date, b: dt.date) -> int:
        """Signed working days from a to b: the n for which add_workdays(a, n) == b.

        For b >= a it counts working days in (a, b]; for b < a it is minus the working days in
        [b, a). So workdays_between(deadline, today) is how many working days are overdue.
        """
        i = self._index(a)
        j = self._index(b)
        cum = self._cum
        if j >= i:
            return cum[j + 1] - cum[i + 1]
        return cum[j] - cum[i]

    def merge(self, other: WorkCalendar) -> WorkCalendar:
        """A calendar covering both; for the years `other` covers, `other`'s data wins.

        The two ranges must overlap or be adjacent, so that no year in between is unknown.
        """
        if other.first_year > self.last_year + 1 or self.first_year > other.last_year + 1:
            lo = min(self.last_year, other.last_year) + 1
            hi = max(self.first_year, other.first_year) - 1
            missing = f"{lo}年" if lo == hi else f"{lo}年至{hi}年"
            raise CalendarMergeError(
                f"工作日历年份不连续：缺少{missing}的节假日数据"
                f"（已有{self.first_year}-{self.last_year}年和"
                f"{other.first_year}-{other.last_year}年），请补充缺少年份的节假日文件"
            )

        def outside_other(d: dt.date) -> bool:
            return not other.first_year <= d.year <= other.last_year

        # A date that `other` marks explicitly (even outside its years) overrides our mark.
        other_marked = other.holidays | other.makeup_workdays
        holidays = {
            d for d in self.holidays if outside_other(d) and d not in other_marked
        } | other.holidays
        makeup = {
            d for d in self.makeup_workdays if outside_other(d) and d not in other_marked
        } | other.makeup_workdays
        return WorkCalendar(
            holidays,
            makeup,
            min(self.first_year, other.first_year),
            max(self.last_year, other.last_year),
        )
