"""The State Council's holiday notice, read: past years reproduce the packaged calendar exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from duban.adapters.calendar import (
    CalendarFileError,
    build_calendar,
    package_schedule,
    read_year_file,
    read_year_files,
    write_year_file,
)
from duban.cli import cli
from duban.domain.holiday_notice import NoticeError, grid_text, month_grid, parse_notice

NOTICES = Path(__file__).resolve().parents[1] / "data" / "notices"
YEARS = (2022, 2023, 2024, 2025, 2026)


def _notice_text(year: int) -> str:
    return (NOTICES / f"{year}.txt").read_text(encoding="utf-8")


def _days(year: int) -> list[dt.date]:
    first = dt.date(year, 1, 1)
    return [first + dt.timedelta(days=i) for i in range((dt.date(year, 12, 31) - first).days + 1)]


@pytest.mark.parametrize("year", YEARS)
def test_a_past_notice_reproduces_the_package_day_for_day(year: int, tmp_path: Path) -> None:
    notice = parse_notice(_notice_text(year))
    assert notice.year == year
    _, _, pkg_holidays, pkg_workdays = package_schedule()
    # Every day the notice names is what the package says it is ...
    assert notice.holidays <= pkg_holidays
    assert notice.workdays <= pkg_workdays
    # ... and over the year the package has the same days off, except days another year's
    # notice names: 2022-12-31 (2023's 元旦) and 2023-12-30/31, the weekend the package adds
    # before 2024's 元旦 (that notice says only "1月1日放假，与周末连休").
    in_year = {d for d in notice.holidays if d.year == year}
    pkg_in_year = {d for d in pkg_holidays if d.year == year}
    assert in_year <= pkg_in_year
    assert pkg_in_year - in_year == {
        2022: {dt.date(2022, 12, 31)},
        2023: {dt.date(2023, 12, 30), dt.date(2023, 12, 31)},
    }.get(year, set())
    assert {d for d in notice.workdays if d.year == year} == {
        d for d in pkg_workdays if d.year == year}
    # The year file written from the notice gives the same working days as the package.
    path = write_year_file(notice, tmp_path)
    assert path == tmp_path / f"{year}.yaml"
    schedule = read_year_file(path)
    assert (schedule.holidays, schedule.workdays) == (notice.holidays, notice.workdays)
    from_notice = build_calendar(read_year_files([tmp_path]), use_package=False)
    from_package = build_calendar({})
    assert [from_notice.is_workday(d) for d in _days(year)] == [
        from_package.is_workday(d) for d in _days(year)]


def test_the_issue_example_and_its_stated_weekdays() -> None:
    notice = parse_notice("二、春节：1月27日至2月2日放假调休，共7天。1月22日（星期日）、2月4日（星期六）上班。",
                          2017)
    (festival,) = notice.festivals
    assert festival.name == "春节"
    assert festival.holidays[0] == dt.date(2017, 1, 27) and len(festival.holidays) == 7
    assert festival.workdays == (dt.date(2017, 1, 22), dt.date(2017, 2, 4))


def test_a_wrong_weekday_is_refused_naming_the_sentence() -> None:
    text = "一、春节：1月27日至2月2日放假调休，共7天。1月22日（星期六）、2月4日（星期六）上班。"
    with pytest.raises(NoticeError) as caught:
        parse_notice(text, 2017)
    assert "2017年1月22日是星期日，通知写的是星期六" in caught.value.message
    assert caught.value.sentence == "1月22日（星期六）、2月4日（星期六）上班"


def test_a_wrong_day_count_is_refused() -> None:
    with pytest.raises(NoticeError, match="共7天，通知写的是共8天"):
        parse_notice("二、春节：1月27日至2月2日放假调休，共8天。", 2017)


def test_a_sentence_it_cannot_read_is_refused_by_quoting_it() -> None:
    text = _notice_text(2024).replace("6月10日放假，与周末连休", "6月10日前后酌情安排休息")
    with pytest.raises(NoticeError) as caught:
        parse_notice(text)
    assert "第5项（端午节）中无法识别的句子：“6月10日前后酌情安排休息”" in caught.value.message


def test_a_worked_weekday_and_a_text_without_items_are_refused() -> None:
    with pytest.raises(NoticeError, match="不是周六或周日"):
        parse_notice("一、春节：1月27日至2月2日放假调休。1月23日上班。", 2017)
    with pytest.raises(NoticeError, match="没有找到节假日安排"):
        parse_notice("国务院办公厅关于2027年部分节假日安排的通知\n各地区要妥善安排值班。")
    with pytest.raises(NoticeError, match="无法确定年份"):
        parse_notice("一、元旦：1月1日放假。")


def test_the_grid_marks_days_off_and_worked_weekends() -> None:
    notice = parse_notice(_notice_text(2025))
    months = month_grid(2025, notice.holidays, notice.workdays)
    cells = {c.day: c.mark for m in months for w in m.weeks for c in w if c is not None}
    assert len(cells) == 365
    assert cells[dt.date(2025, 1, 28)] == "休" and cells[dt.date(2025, 1, 26)] == "班"
    assert cells[dt.date(2025, 3, 3)] == ""
    text = grid_text(2025, notice.holidays, notice.workdays)
    assert "26班" in text and "28休" in text


def test_cli_imports_after_confirmation_and_shows_a_year(tmp_path: Path) -> None:
    runner = CliRunner()
    notice = str(NOTICES / "2026.txt")
    refused = runner.invoke(cli, ["calendar", "import", notice, "--dir", str(tmp_path)], input="n\n")
    assert refused.exit_code == 0, refused.output
    assert "春节：2月15日（星期日）至2月23日（星期一）放假，共9天" in refused.output
    assert "未写入" in refused.output and not (tmp_path / "2026.yaml").exists()
    done = runner.invoke(cli, ["calendar", "import", notice, "--dir", str(tmp_path)], input="y\n")
    assert done.exit_code == 0, done.output
    assert read_year_file(tmp_path / "2026.yaml").workdays == parse_notice(
        _notice_text(2026)).workdays
    again = runner.invoke(cli, ["calendar", "import", "-", "--dir", str(tmp_path), "--yes"],
                          input=_notice_text(2026))
    assert again.exit_code == 0 and "已写入" in again.output
    shown = runner.invoke(cli, ["calendar", "show", "2024"])
    assert shown.exit_code == 0 and "全年工作日 251 天" in shown.output


def test_a_clashing_file_for_the_year_is_refused(tmp_path: Path) -> None:
    notice = parse_notice(_notice_text(2025))
    (tmp_path / "holidays-2025.yml").write_text(
        "year: 2025\nsource: x\nholidays: [2025-01-01]\n", encoding="utf-8")
    with pytest.raises(CalendarFileError, match=r"已有2025年的节假日文件 holidays-2025\.yml"):
        write_year_file(notice, tmp_path)
