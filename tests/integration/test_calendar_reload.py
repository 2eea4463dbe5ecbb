"""A year file another process wrote is read by a long-running one (serve's scheduler beside
a web worker that saved the 节假日 page, the other workers) without a restart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from duban.adapters.calendar import write_year_file
from duban.domain.holiday_notice import Festival, Notice
from duban.services import calendars
from duban.services.calendars import working_calendar
from duban.services.root import Root

# A 2027 the package does not know: New Year's Day off, Saturday 2027-01-09 worked.
NOTICE = Notice(year=2027, source="测试通知", festivals=(
    Festival(1, "元旦", (dt.date(2027, 1, 1), dt.date(2027, 1, 2), dt.date(2027, 1, 3)),
             (dt.date(2027, 1, 9),), "一、元旦：1月1日至3日放假，共3天。1月9日（周六）上班。"),))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DUBAN_CALENDAR_DIR", str(tmp_path))
    working_calendar.cache_clear()
    yield tmp_path
    working_calendar.cache_clear()


def test_a_year_file_written_elsewhere_is_read_after_the_recheck(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = working_calendar()
    assert before.last_year < 2027
    # Written as another process writes it: this one's calendar is not told.
    write_year_file(NOTICE, folder)
    assert working_calendar() is before  # looked at again only after RECHECK_S
    monkeypatch.setattr(calendars, "RECHECK_S", 0.0)
    after = working_calendar()
    assert after.last_year == 2027
    assert after.is_workday(dt.date(2027, 1, 9)) and not after.is_workday(dt.date(2027, 1, 1))
    assert working_calendar() is after  # unchanged files: the same calendar, not read again


def test_the_root_s_calendar_follows_the_files(folder: Path, db: object,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from duban.domain.clock import FixedClock

    root = Root(db=db, clock=FixedClock(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)))  # type: ignore[arg-type]
    assert root.calendar.last_year < 2027
    monkeypatch.setattr(calendars, "RECHECK_S", 0.0)
    write_year_file(NOTICE, folder)
    assert root.calendar.last_year == 2027
