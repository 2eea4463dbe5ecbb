"""Clocks: the fixed clock moves only when told; the system clock is aware and in China time."""

from __future__ import annotations

import datetime as dt

import pytest

from duban.domain.clock import (
    CHINA_TZ,
    Clock,
    FixedClock,
    SystemClock,
    local_now,
    local_today,
)


def test_fixed_clock_stands_still_until_moved() -> None:
    start = dt.datetime(2020, 6, 15, 9, 0, tzinfo=CHINA_TZ)
    clock = FixedClock(start)
    assert clock.now() == start
    assert clock.now() == start
    assert clock.advance(dt.timedelta(hours=8, minutes=30)) == start.replace(hour=17, minute=30)
    assert clock.now() == start.replace(hour=17, minute=30)
    clock.set(dt.datetime(2020, 10, 10, 8, 30, tzinfo=CHINA_TZ))
    assert clock.now() == dt.datetime(2020, 10, 10, 8, 30, tzinfo=CHINA_TZ)


def test_fixed_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError):
        FixedClock(dt.datetime(2020, 6, 15, 9, 0))
    clock = FixedClock(dt.datetime(2020, 6, 15, 9, 0, tzinfo=CHINA_TZ))
    with pytest.raises(ValueError):
        clock.set(dt.datetime(2020, 6, 15, 9, 0))


def test_local_today_is_the_date_in_china() -> None:
    # 17:00 UTC on 6/14 is already 01:00 on 6/15 in Beijing.
    clock = FixedClock(dt.datetime(2020, 6, 14, 17, 0, tzinfo=dt.UTC))
    assert local_today(clock) == dt.date(2020, 6, 15)
    assert local_now(clock).utcoffset() == dt.timedelta(hours=8)


def test_system_clock_is_aware_and_in_china_time() -> None:
    clock: Clock = SystemClock()
    before = dt.datetime.now(dt.UTC)
    now = clock.now()
    after = dt.datetime.now(dt.UTC)
    assert now.tzinfo is CHINA_TZ
    assert now.utcoffset() == dt.timedelta(hours=8)  # China has no daylight saving time
    assert before <= now <= after


def test_fixed_clock_satisfies_the_protocol() -> None:
    clock: Clock = FixedClock(dt.datetime(2020, 1, 1, tzinfo=CHINA_TZ))
    assert clock.now().year == 2020
