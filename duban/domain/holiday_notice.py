"""The State Council's yearly holiday notice (国务院办公厅关于YYYY年部分节假日安排的通知), read.

Each year's notice lists its festivals in numbered items of a fixed form::

    二、春节：1月27日至2月2日放假调休，共7天。1月22日（星期日）、2月4日（星期六）上班。
    一、元旦：1月1日（周三）放假1天，不调休。
    三、清明节：4月4日（周五）至6日（周日）放假，共3天。

`parse_notice` turns the text into the year's days off and worked weekend days (调休上班), checks
every weekday the notice states against the date and every "共N天" against the range, and
refuses a sentence it does not understand by quoting it. `month_grid` and `grid_text` draw the
year as month calendars with the days marked. Pure: the caller reads the file and writes the
year file (duban/adapters/calendar.py).
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import re
from dataclasses import dataclass

from duban.domain.errors import DubanError

WEEKDAYS = "一二三四五六日"
_NUMERALS = "一二三四五六七八九十"
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}

# 1月27日, 2022年12月31日, 3日 (month from the range's start), each with an optional note in
# parentheses that may state the weekday: （星期日）, （周三）, （农历除夕、周二）.
_DATE = r"(?:(?:(\d{4})年)?(\d{1,2})月)?(\d{1,2})日(?:[（(]([^）)]*)[）)])?"
_DATE_RE = re.compile(_DATE)
_ITEM = re.compile(r"^\s*([一二三四五六七八九十]{1,3})、\s*([^：:]{1,30})[：:]\s*(.*)$")
_TITLE = re.compile(r"关于\s*(\d{4})\s*年部分节假日安排的通知")
_YEAR_HINT = re.compile(r"(?:现将|将)\s*(\d{4})\s*年")
_DOC_NUMBER = re.compile(r"(国办发明电\s*〔\d{4}〕\s*\d+\s*号)")
_WEEKDAY_IN_NOTE = re.compile(r"(?:星期|周)([一二三四五六日天])")
_COUNT = re.compile(r"^共\s*(\d+|[一二三四五六七八九十]{1,3})\s*天$")
_OFF = re.compile(rf"^(?P<start>{_DATE})(?:\s*(?:至|到|-|—|－|~)\s*(?P<end>{_DATE}))?"
                  r"\s*放假(?P<adjusted>调休)?\s*(?:(?P<days>\d+|[一二三四五六七八九十]{1,3})天)?$")
_WORK = re.compile(rf"^(?P<dates>{_DATE}(?:\s*[、，,和及]\s*{_DATE})*)\s*(?:上班|调休上班)$")
# Sentences that change no day: encouragement to take leave, "与周末连休", "不调休".
_IGNORED = re.compile(r"^(?:鼓励|请|各地区|各部门|节假日期间|与周末连休|不调休|公休)")


class NoticeError(DubanError):
    """The notice's text cannot be read; the message quotes the sentence."""

    def __init__(self, message: str, sentence: str = "") -> None:
        super().__init__(message)
        self.sentence = sentence


@dataclass(frozen=True)
class Festival:
    """One item of the notice: a festival's days off and the weekend days worked for it."""

    number: int
    name: str
    holidays: tuple[dt.date, ...]
    workdays: tuple[dt.date, ...]
    text: str


@dataclass(frozen=True)
class Notice:
    """A year's holiday schedule as the notice states it."""

    year: int
    source: str
    festivals: tuple[Festival, ...]

    @property
    def holidays(self) -> frozenset[dt.date]:
        """Every day off the notice names (weekends inside a block included)."""
        return frozenset(d for f in self.festivals for d in f.holidays)

    @property
    def workdays(self) -> frozenset[dt.date]:
        """Every Saturday or Sunday the notice makes a working day (调休上班)."""
        return frozenset(d for f in self.festivals for d in f.workdays)


def _number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_DIGITS[text[1]]
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN_DIGITS[tens] * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text]


def _weekday_label(day: dt.date) -> str:
    return f"星期{WEEKDAYS[day.weekday()]}"


def cn_day(day: dt.date) -> str:
    """1月27日（星期五）."""
    return f"{day.month}月{day.day}日（{_weekday_label(day)}）"


class _Reader:
    """Reads the dates of one sentence, carrying year and month from the date before."""

    def __init__(self, year: int, sentence: str) -> None:
        self.year = year
        self.month: int | None = None
        self.sentence = sentence

    def date(self, m: re.Match[str], offset: int = 0) -> dt.date:
        year_s, month_s, day_s, note = (m.group(offset + i) for i in range(1, 5))
        if year_s:
            self.year = int(year_s)
        if month_s:
            self.month = int(month_s)
        if self.month is None:
            raise NoticeError(f"无法识别日期“{m.group(offset)}”：没有写月份。原句：{self.sentence}",
                              self.sentence)
        try:
            day = dt.date(self.year, self.month, int(day_s))
        except ValueError as exc:
            raise NoticeError(f"日期“{m.group(offset)}”不存在。原句：{self.sentence}",
                              self.sentence) from exc
        stated = _WEEKDAY_IN_NOTE.search(note or "")
        if stated:
            wanted = "日" if stated.group(1) == "天" else stated.group(1)
            if WEEKDAYS[day.weekday()] != wanted:
                raise NoticeError(
                    f"{day.year}年{day.month}月{day.day}日是{_weekday_label(day)}，"
                    f"通知写的是星期{wanted}，请核对。原句：{self.sentence}", self.sentence)
        return day


def _sentences(body: str) -> list[str]:
    return [s.strip() for s in re.split(r"[。；;]", body) if s.strip()]


def _festival(number: int, name: str, body: str, year: int) -> Festival:
    holidays: list[dt.date] = []
    workdays: list[dt.date] = []
    for sentence in _sentences(body):
        if _IGNORED.match(sentence):
            continue
        off_days: list[dt.date] = []
        stated_count: int | None = None
        for clause in (c.strip() for c in re.split(r"[，,]", sentence)):
            if not clause or _IGNORED.match(clause):
                continue
            off = _OFF.match(clause)
            if off:
                reader = _Reader(year, sentence)
                start = reader.date(off, 1)
                end = reader.date(off, 6) if off.group("end") else start
                if end < start:
                    raise NoticeError(f"{name}的放假日期结束早于开始。原句：{sentence}", sentence)
                span = (end - start).days + 1
                if span > 31:
                    raise NoticeError(f"{name}放假长达{span}天，请核对。原句：{sentence}", sentence)
                off_days.extend(start + dt.timedelta(days=i) for i in range(span))
                if off.group("days"):
                    stated_count = _number(off.group("days"))
                continue
            count = _COUNT.match(clause)
            if count:
                stated_count = _number(count.group(1))
                continue
            work = _WORK.match(clause)
            if work:
                reader = _Reader(year, sentence)
                for m in _DATE_RE.finditer(work.group("dates")):
                    day = reader.date(m)
                    if day.weekday() < 5:
                        raise NoticeError(
                            f"调休上班日 {day.year}年{cn_day(day)} 不是周六或周日，请核对。"
                            f"原句：{sentence}", sentence)
                    workdays.append(day)
                continue
            raise NoticeError(f"第{number}项（{name}）中无法识别的句子：“{sentence}”", sentence)
        if stated_count is not None:
            if not off_days:
                raise NoticeError(f"第{number}项（{name}）写了天数但没有放假日期：“{sentence}”",
                                  sentence)
            if stated_count != len(off_days):
                raise NoticeError(
                    f"{name}：{cn_day(off_days[0])}至{cn_day(off_days[-1])}共"
                    f"{len(off_days)}天，通知写的是共{stated_count}天，请核对。原句：{sentence}",
                    sentence)
        holidays.extend(off_days)
    if not holidays:
        raise NoticeError(f"第{number}项（{name}）没有放假日期：“{body.strip()}”", body.strip())
    clash = sorted(set(holidays) & set(workdays))
    if clash:
        raise NoticeError(f"{name}：{cn_day(clash[0])}既放假又上班，请核对。原句：{body.strip()}",
                          body.strip())
    return Festival(number, name.strip(), tuple(sorted(set(holidays))),
                    tuple(sorted(set(workdays))), body.strip())


def notice_year(text: str) -> int | None:
    """The year the notice is about, from its title or its opening sentence."""
    found = _TITLE.search(text) or _YEAR_HINT.search(text)
    return int(found.group(1)) if found else None


def parse_notice(text: str, year: int | None = None) -> Notice:
    """The year's schedule from the notice's text; NoticeError quotes what cannot be read.

    The year comes from the title (关于2025年部分节假日安排的通知) or the opening (现将2025年…),
    else from `year`. Only the numbered items (一、元旦：…) carry days; the other paragraphs (the
    addressees, the closing about duty rosters, the signature) are passed over.
    """
    found = notice_year(text)
    if year is not None and found is not None and found != year:
        raise NoticeError(f"通知标题是{found}年，但指定的年份是{year}年，请核对")
    the_year = year if year is not None else found
    if the_year is None:
        raise NoticeError("无法确定年份：通知中没有“关于YYYY年部分节假日安排的通知”字样，请指定年份")
    if not 1949 < the_year < 2200:
        raise NoticeError(f"年份 {the_year} 不合理")
    festivals: list[Festival] = []
    seen_numbers: set[int] = set()
    for raw in text.replace("\r", "\n").split("\n"):
        line = raw.strip().replace("\u3000", " ")
        item = _ITEM.match(line)
        if not item or not re.search(r"\d", item.group(3)):
            continue
        number = _number(item.group(1))
        if number in seen_numbers:
            raise NoticeError(f"第{number}项出现了两次：“{line}”", line)
        seen_numbers.add(number)
        festivals.append(_festival(number, item.group(2), item.group(3), the_year))
    if not festivals:
        raise NoticeError(
            "没有找到节假日安排：通知正文应有“一、元旦：1月1日放假……”这样逐项编号的句子")
    by_day: dict[dt.date, str] = {}
    for f in festivals:
        for d in (*f.holidays, *f.workdays):
            if d in by_day:
                raise NoticeError(f"{cn_day(d)}同时出现在“{by_day[d]}”和“{f.name}”中，请核对",
                                  f.text)
            by_day[d] = f.name
            if not (d.year == the_year or (d.year == the_year - 1 and d.month == 12)
                    or (d.year == the_year + 1 and d.month == 1)):
                raise NoticeError(f"{f.name}：{d.year}年{cn_day(d)}不属于{the_year}年，请核对",
                                  f.text)
    title = f"国务院办公厅关于{the_year}年部分节假日安排的通知"
    doc_number = _DOC_NUMBER.search(text)
    source = (f"{title}（{''.join(doc_number.group(1).split())}）" if doc_number else title)
    return Notice(the_year, source, tuple(festivals))


@dataclass(frozen=True)
class GridDay:
    """One cell of a month grid: the day and what it is (休 off, 班 worked weekend, "")."""

    day: dt.date
    mark: str
    weekend: bool


@dataclass(frozen=True)
class MonthGrid:
    """A month as weeks (Monday first); None pads the first and last week."""

    year: int
    month: int
    weeks: tuple[tuple[GridDay | None, ...], ...]


def month_grid(year: int, holidays: frozenset[dt.date] | set[dt.date],
               workdays: frozenset[dt.date] | set[dt.date]) -> tuple[MonthGrid, ...]:
    """The twelve months of the year with each day off (休) and worked weekend day (班) marked."""
    months: list[MonthGrid] = []
    cal = _calendar.Calendar(firstweekday=0)
    for month in range(1, 13):
        weeks: list[tuple[GridDay | None, ...]] = []
        for week in cal.monthdatescalendar(year, month):
            cells: list[GridDay | None] = []
            for d in week:
                if d.month != month:
                    cells.append(None)
                    continue
                mark = "休" if d in holidays else "班" if d in workdays else ""
                cells.append(GridDay(d, mark, d.weekday() >= 5))
            weeks.append(tuple(cells))
        months.append(MonthGrid(year, month, tuple(weeks)))
    return tuple(months)


def grid_text(year: int, holidays: frozenset[dt.date] | set[dt.date],
              workdays: frozenset[dt.date] | set[dt.date], *, per_row: int = 3) -> str:
    """The year as text: months side by side, "休" after a day off, "班" after a worked weekend."""
    months = month_grid(year, holidays, workdays)
    width = 7 * 4  # a cell is a two-digit day and a mark of two columns (a CJK character)
    lines = [f"{year}年（休：放假  班：调休上班）"]

    def pad(text: str, columns: int) -> str:
        used = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
        return text + " " * max(0, columns - used)

    for first in range(0, 12, per_row):
        block = months[first:first + per_row]
        lines.append("")
        lines.append("  ".join(pad(f"{m.month}月", width) for m in block).rstrip())
        lines.append("  ".join(pad("".join(f"{w}  " for w in WEEKDAYS), width)
                               for _ in block).rstrip())
        for row in range(max(len(m.weeks) for m in block)):
            parts = []
            for m in block:
                week = m.weeks[row] if row < len(m.weeks) else (None,) * 7
                cells = "".join("    " if c is None else f"{c.day.day:>2}{c.mark or '  '}"
                                for c in week)
                parts.append(pad(cells, width))
            lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def festival_lines(notice: Notice) -> list[str]:
    """One line per festival: its days off and worked days, in words."""
    out = []
    for f in notice.festivals:
        first, last = f.holidays[0], f.holidays[-1]
        span = cn_day(first) if first == last else f"{cn_day(first)}至{cn_day(last)}"
        line = f"{f.name}：{span}放假，共{len(f.holidays)}天"
        if f.workdays:
            line += "；" + "、".join(cn_day(d) for d in f.workdays) + "上班"
        out.append(line)
    return out
