"""When a rolling round of notices for late problems is due (pure: no database)."""

from __future__ import annotations

import datetime as dt

from duban.domain.clock import CHINA_TZ
from duban.domain.plan import NoticePolicy, NoticeRhythm
from duban.domain.rounds import due_round, round_day
from duban.domain.workdays import WorkCalendar

START = dt.time(8, 30)


def cal() -> WorkCalendar:
    from duban.adapters.calendar import load_calendar

    return load_calendar()


def moment(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def test_daily_round_each_working_day_from_the_hour() -> None:
    daily = NoticePolicy()
    assert due_round(daily, START, moment(2022, 9, 27, 8, 29), cal()) is None
    assert due_round(daily, START, moment(2022, 9, 27, 8, 30), cal()) == "2022-09-27"
    assert due_round(daily, START, moment(2022, 10, 3, 10), cal()) is None  # 国庆
    assert due_round(daily, START, moment(2022, 10, 8, 10), cal()) == "2022-10-08"  # 调休 Sat
    late = NoticePolicy(at=dt.time(16, 0))
    assert due_round(late, START, moment(2022, 9, 27, 15, 59), cal()) is None
    assert due_round(late, START, moment(2022, 9, 27, 16), cal()) == "2022-09-27"


def test_weekly_round_on_its_weekday_or_the_next_working_day_that_week() -> None:
    friday = NoticePolicy(rolling=NoticeRhythm.WEEKLY, weekday=5)
    assert due_round(friday, START, moment(2022, 9, 29, 10), cal()) is None  # Thursday
    assert due_round(friday, START, moment(2022, 9, 30, 10), cal()) == "2022-W39"
    # Missed on Friday (server down): Saturday is no working day, so nothing until next week.
    assert due_round(friday, START, moment(2022, 10, 1, 10), cal()) is None
    monday = NoticePolicy(rolling=NoticeRhythm.WEEKLY)
    # Monday 2022-10-03 is 国庆: the round moves to the next working day of that week, 10/8.
    assert round_day(monday, dt.date(2022, 10, 5), cal()) == dt.date(2022, 10, 8)
    assert due_round(monday, START, moment(2022, 10, 7, 10), cal()) is None
    assert due_round(monday, START, moment(2022, 10, 8, 10), cal()) == "2022-W40"
    # A round missed on Monday is still due on Tuesday, with the same key.
    assert due_round(monday, START, moment(2022, 9, 27, 10), cal()) == "2022-W39"


def test_manual_never_due() -> None:
    manual = NoticePolicy(rolling=NoticeRhythm.MANUAL)
    assert due_round(manual, START, moment(2022, 9, 27, 10), cal()) is None
