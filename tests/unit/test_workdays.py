"""Working-day arithmetic across holidays and 调休, and the office-supplied year files."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duban.adapters.calendar import (
    ENV_VAR,
    CalendarFileError,
    load_calendar,
    package_schedule,
    read_year_file,
)
from duban.domain.errors import DubanError
from duban.domain.workdays import CalendarMergeError, CalendarNotCovered, WorkCalendar

D = dt.date
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "calendars"
FIRST, LAST, _, _ = package_schedule()


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return load_calendar(env={})


def naive_add(d: dt.date, n: int) -> dt.date:
    """Reference: step day by day with chinesecalendar's own is_workday."""
    step = 1 if n > 0 else -1
    left = abs(n)
    while left:
        d += dt.timedelta(days=step)
        if chinese_calendar.is_workday(d):
            left -= 1
    return d


# Dates well inside the package's years, so that 40 working days either way stay covered.
inner_dates = st.dates(min_value=D(FIRST, 3, 1), max_value=D(LAST, 10, 31))


def test_agrees_with_chinesecalendar_on_every_covered_day(cal: WorkCalendar) -> None:
    d = D(FIRST, 1, 1)
    mismatches = []
    while d.year <= LAST:
        if cal.is_workday(d) != chinese_calendar.is_workday(d):
            mismatches.append(d)
        d += dt.timedelta(days=1)
    assert mismatches == []


def test_national_day_2020_with_its_adjusted_weekends(cal: WorkCalendar) -> None:
    # 2020: 10/1-10/8 off; Sunday 9/27 and Saturday 10/10 are working days.
    assert cal.is_workday(D(2020, 9, 27))
    assert cal.is_workday(D(2020, 10, 10))
    assert not any(cal.is_workday(D(2020, 10, day)) for day in range(1, 9))
    assert cal.add_workdays(D(2020, 9, 26), 1) == D(2020, 9, 27)
    assert cal.add_workdays(D(2020, 9, 30), 1) == D(2020, 10, 9)
    assert cal.add_workdays(D(2020, 9, 30), 2) == D(2020, 10, 10)
    assert cal.add_workdays(D(2020, 9, 30), 3) == D(2020, 10, 12)
    assert cal.add_workdays(D(2020, 10, 9), -1) == D(2020, 9, 30)
    assert cal.workdays_between(D(2020, 9, 30), D(2020, 10, 12)) == 3
    assert cal.next_workday(D(2020, 10, 3)) == D(2020, 10, 9)


def test_spring_festival_2022_with_its_adjusted_weekends(cal: WorkCalendar) -> None:
    # 2022: 1/31-2/6 off; Saturday 1/29 and Sunday 1/30 are working days.
    assert cal.add_workdays(D(2022, 1, 28), 1) == D(2022, 1, 29)
    assert cal.add_workdays(D(2022, 1, 28), 2) == D(2022, 1, 30)
    assert cal.add_workdays(D(2022, 1, 28), 3) == D(2022, 2, 7)
    assert cal.workdays_between(D(2022, 1, 28), D(2022, 2, 7)) == 3
    assert cal.workdays_between(D(2022, 2, 7), D(2022, 1, 28)) == -3


def test_zero_offset_and_next_workday(cal: WorkCalendar) -> None:
    assert cal.add_workdays(D(2022, 2, 5), 0) == D(2022, 2, 5)
    assert cal.next_workday(D(2022, 2, 5)) == D(2022, 2, 7)
    assert cal.next_workday(D(2022, 2, 7)) == D(2022, 2, 7)


@settings(max_examples=300, deadline=None)
@given(d=inner_dates, n=st.integers(min_value=-40, max_value=40))
def test_add_workdays_matches_day_by_day_stepping(cal: WorkCalendar, d: dt.date, n: int) -> None:
    assert cal.add_workdays(d, n) == naive_add(d, n)


@settings(max_examples=300, deadline=None)
@given(d=inner_dates, n=st.integers(min_value=-40, max_value=40))
def test_workdays_between_inverts_add_workdays(cal: WorkCalendar, d: dt.date, n: int) -> None:
    assert cal.workdays_between(d, cal.add_workdays(d, n)) == n


@settings(max_examples=300, deadline=None)
@given(a=inner_dates, b=inner_dates)
def test_add_workdays_reaches_any_working_day(cal: WorkCalendar, a: dt.date, b: dt.date) -> None:
    target = cal.next_workday(b)
    assert cal.add_workdays(a, cal.workdays_between(a, target)) == target


def test_year_beyond_the_calendar_fails_clearly(cal: WorkCalendar) -> None:
    beyond = LAST + 1
    assert not cal.covers(D(beyond, 1, 4))
    with pytest.raises(CalendarNotCovered) as info:
        cal.is_workday(D(beyond, 1, 4))
    assert info.value.year == beyond
    assert f"{beyond}年" in str(info.value)
    assert f"{beyond}.yaml" in str(info.value)
    assert ENV_VAR in str(info.value)
    assert isinstance(info.value, DubanError)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.year, str(copy)) == (info.value.year, str(info.value))
    # Stepping over the year end fails too, naming the year that is missing.
    with pytest.raises(CalendarNotCovered) as info:
        cal.add_workdays(D(LAST, 12, 30), 5)
    assert info.value.year == beyond
    with pytest.raises(CalendarNotCovered) as info:
        cal.add_workdays(D(FIRST, 1, 5), -5)
    assert info.value.year == FIRST - 1


def test_office_file_extends_coverage() -> None:
    cal = load_calendar([FIXTURES], env={})
    sched = read_year_file(FIXTURES / "2027.yaml")
    assert cal.last_year == sched.year == LAST + 1
    # Every listed day off is off and every listed 调休 day is on, as the file says.
    assert not any(cal.is_workday(d) for d in sched.holidays)
    assert all(cal.is_workday(d) for d in sched.workdays)
    # Counting runs across the old year end into the new year.
    start = D(LAST, 12, 24)
    end = cal.add_workdays(start, 10)
    assert end.year == LAST + 1
    assert cal.workdays_between(start, end) == 10


def test_environment_variable_adds_a_folder() -> None:
    cal = load_calendar(env={ENV_VAR: str(FIXTURES)})
    assert cal.covers(D(LAST + 1, 6, 1))


def test_file_replaces_package_data_for_its_year(tmp_path: Path) -> None:
    # An office correction: declare 2020-10-09 (a Friday) a holiday as well.
    (tmp_path / "2020.yaml").write_text(
        "year: 2020\nsource: 更正测试\nholidays:\n"
        "  - 2020-01-01\n  - 2020-10-01..2020-10-09\nworkdays: [2020-09-27]\n",
        encoding="utf-8",
    )
    cal = load_calendar([tmp_path], env={})
    assert not cal.is_workday(D(2020, 10, 9))
    assert cal.is_workday(D(2020, 9, 27))
    # The package's 10/10 make-up day is not in the file, so it is an ordinary Saturday now.
    assert not cal.is_workday(D(2020, 10, 10))
    # Other years keep the package data.
    assert cal.is_workday(D(2022, 1, 29))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "year: 2027\nsource: x\nholidays: [2027-01-01, 2027-13-01]\n",
            ["holidays", "第2项", "2027-13-01"],
        ),
        (
            "year: 2027\nsource: x\nholidays: [2027-01-01]\nworkdays: [2027-02-03]\n",
            ["workdays", "2027-02-03", "星期三"],
        ),
        ("year: 2027\nsource: x\nholiday: [2027-01-01]\n", ["holiday", "不认识的字段"]),
        ("year: 2028\nsource: x\nholidays: [2028-01-01]\n", ["文件名", "2028"]),
        ("year: 2027\nholidays: [2027-01-01]\n", ["source"]),
        ("year: 2027\nsource: x\nholidays: [2027-02-10..2027-02-01]\n", ["第1项", "早于"]),
        ("year: 2027\nsource: x\nholidays: [2026-06-01]\n", ["2026-06-01", "不属于2027年"]),
        (
            "year: 2027\nsource: x\nholidays: [2027-02-06]\nworkdays: [2027-02-06]\n",
            ["2027-02-06", "同时"],
        ),
        ("year: 2027\nsource: x\nholidays: [{start: 2027-02-01}]\n", ["第1项", "start"]),
        ("year: [2027\n", ["YAML", "第"]),
    ],
)
def test_malformed_file_names_file_and_entry(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    write(tmp_path, "2027.yaml", text)
    with pytest.raises(CalendarFileError) as info:
        load_calendar([tmp_path], env={})
    message = str(info.value)
    assert "2027.yaml" in message
    for fragment in fragments:
        assert fragment in message


def test_gap_between_package_and_file_is_refused(tmp_path: Path) -> None:
    gap_year = LAST + 2
    write(
        tmp_path,
        f"{gap_year}.yaml",
        f"year: {gap_year}\nsource: x\nholidays: [{gap_year}-01-01]\n",
    )
    with pytest.raises(CalendarFileError) as info:
        load_calendar([tmp_path], env={})
    assert f"缺少{LAST + 1}年" in str(info.value)


def test_two_files_for_one_year_in_a_folder_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "2027.yaml", (FIXTURES / "2027.yaml").read_text(encoding="utf-8"))
    write(tmp_path, "notice-2027.yml", (FIXTURES / "2027.yaml").read_text(encoding="utf-8"))
    with pytest.raises(CalendarFileError, match="只保留一个"):
        load_calendar([tmp_path], env={})


def test_missing_configured_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CalendarFileError, match="不存在"):
        load_calendar(env={ENV_VAR: str(tmp_path / "nope")})


def test_merge_adjacent_years_and_refuse_gaps() -> None:
    a = WorkCalendar([D(2030, 1, 1)], [], 2030, 2030)
    b = WorkCalendar([D(2031, 1, 1)], [D(2031, 1, 4)], 2031, 2031)
    merged = a.merge(b)
    assert (merged.first_year, merged.last_year) == (2030, 2031)
    assert not merged.is_workday(D(2030, 1, 1))
    assert merged.is_workday(D(2031, 1, 4))  # a Saturday made a working day
    assert merged.add_workdays(D(2030, 12, 31), 1) == D(2031, 1, 2)
    assert merged == b.merge(a)
    c = WorkCalendar([], [], 2033, 2033)
    with pytest.raises(CalendarMergeError, match="2032"):
        a.merge(c)


def test_merge_lets_the_other_calendar_win_its_years() -> None:
    old = WorkCalendar([D(2030, 5, 1), D(2030, 5, 2)], [], 2030, 2030)
    fix = WorkCalendar([D(2030, 5, 1)], [], 2030, 2030)
    assert fix.is_workday(D(2030, 5, 2))
    assert old.merge(fix).is_workday(D(2030, 5, 2))


def test_day_both_off_and_on_is_refused() -> None:
    with pytest.raises(DubanError, match="2030-01-05"):
        WorkCalendar([D(2030, 1, 5)], [D(2030, 1, 5)], 2030, 2030)
