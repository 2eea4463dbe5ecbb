"""The working-day calendar: the `chinesecalendar` package plus office-supplied year files.

`chinesecalendar` carries the State Council's holiday schedules (国务院办公厅关于部分节假日安排的
通知) for the years it knows. A year it does not know yet is added by a YAML file per year in
the repository's `calendars/` folder, in the folders named by DUBAN_CALENDAR_DIR (separated by
os.pathsep) or in `extra_dirs`; the format is described in calendars/README.md. A file for a
year the package already knows replaces the package's data for that year, and a later folder
wins over an earlier one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from duban.adapters.resources import resource_dir
from duban.domain.errors import DubanError
from duban.domain.holiday_notice import Notice
from duban.domain.workdays import WorkCalendar

ENV_VAR = "DUBAN_CALENDAR_DIR"
REPO_CALENDAR_DIR = resource_dir("calendars")

_KEYS = frozenset({"year", "source", "holidays", "workdays", "notes"})
_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*(?:\.\.|~|至)\s*(\d{4}-\d{2}-\d{2})\s*$")
_WEEKDAYS = "一二三四五六日"
_MAX_RANGE_DAYS = 31


@cache
def _loader() -> Any:
    """A SafeLoader that leaves dates as strings, so a bad date gets our message, not a crash."""
    # Built on first use: PyYAML and chinesecalendar cost ~0.25 s to import, which every CLI
    # command that merely imports the services would otherwise pay.
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return _Loader


class CalendarFileError(DubanError):
    """An office-supplied holiday file is malformed; the message names the file and entry."""


@dataclass(frozen=True)
class YearSchedule:
    """One year's holidays and make-up working days (调休上班) as a notice states them."""

    year: int
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]
    source: str
    path: Path | None = None


@cache  # the package's data cannot change in a process; every import and 排查 asked again
def package_schedule() -> tuple[int, int, frozenset[dt.date], frozenset[dt.date]]:
    """The first and last year `chinesecalendar` covers, with its holidays and 调休 workdays."""
    import chinese_calendar

    holidays = frozenset(chinese_calendar.holidays)
    workdays = frozenset(chinese_calendar.workdays)
    return min(d.year for d in holidays), max(d.year for d in holidays), holidays, workdays


def _parse_day(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise CalendarFileError(f"{where}：{value!r} 带有时间，应只写日期 YYYY-MM-DD")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CalendarFileError(f"{where}：无法识别的日期 {value!r}，应写成 YYYY-MM-DD")


def _expand(start: dt.date, end: dt.date, where: str) -> list[dt.date]:
    if end < start:
        raise CalendarFileError(f"{where}：结束日期 {end} 早于开始日期 {start}")
    span = (end - start).days + 1
    if span > _MAX_RANGE_DAYS:
        raise CalendarFileError(f"{where}：日期范围 {start} 至 {end} 长达{span}天，请检查")
    return [start + dt.timedelta(days=i) for i in range(span)]


def _parse_entry(entry: object, where: str) -> list[dt.date]:
    """One list entry: a date, "A..B" (also "A~B", "A至B"), {date: D} or {start: A, end: B}."""
    if isinstance(entry, str):
        m = _RANGE.match(entry)
        if m:
            start = _parse_day(m.group(1), where)
            end = _parse_day(m.group(2), where)
            return _expand(start, end, where)
        return [_parse_day(entry, where)]
    if isinstance(entry, Mapping):
        keys = set(entry)
        if keys - {"date", "start", "end", "name"}:
            extra = "、".join(sorted(str(k) for k in keys - {"date", "start", "end", "name"}))
            raise CalendarFileError(f"{where}：不认识的字段 {extra}（可用 date、start、end、name）")
        if "date" in entry and not keys & {"start", "end"}:
            return [_parse_day(entry["date"], where)]
        if {"start", "end"} <= keys and "date" not in entry:
            start = _parse_day(entry["start"], where)
            end = _parse_day(entry["end"], where)
            return _expand(start, end, where)
        raise CalendarFileError(f"{where}：应写 date，或同时写 start 和 end")
    return [_parse_day(entry, where)]


def _parse_list(raw: object, field: str, label: str, path: Path, year: int) -> set[dt.date]:
    if raw is None:
        return set()
    if not isinstance(raw, list):
        raise CalendarFileError(f"节假日文件 {path}：{field}（{label}）应为列表")
    days: set[dt.date] = set()
    for n, entry in enumerate(raw, start=1):
        where = f"节假日文件 {path} 的 {field}（{label}）第{n}项"
        for d in _parse_entry(entry, where):
            # A notice may name days next to the year, e.g. a 调休 Saturday on 12/31 before.
            if not (
                d.year == year
                or (d.year == year - 1 and d.month == 12)
                or (d.year == year + 1 and d.month == 1)
            ):
                raise CalendarFileError(f"{where}：日期 {d} 不属于{year}年")
            days.add(d)
    return days


def read_year_file(path: Path) -> YearSchedule:
    """Parse and check one office-supplied year file (calendars/2027.yaml)."""
    import yaml

    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_loader())  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"第{mark.line + 1}行" if mark is not None else ""
        raise CalendarFileError(f"节假日文件 {path} {line}不是合法的 YAML：{exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarFileError(f"无法读取节假日文件 {path}：{exc}") from exc
    if not isinstance(raw, Mapping):
        raise CalendarFileError(
            f"节假日文件 {path}：内容应为 year、source、holidays、workdays 等字段"
        )
    unknown = set(raw) - _KEYS
    if unknown:
        names = "、".join(sorted(str(k) for k in unknown))
        raise CalendarFileError(
            f"节假日文件 {path}：不认识的字段 {names}"
            f"（可用 year、source、holidays、workdays、notes）"
        )
    year = raw.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1949 < year < 2200:
        raise CalendarFileError(f"节假日文件 {path}：year（年份）应为四位整数，实际为 {year!r}")
    if re.fullmatch(r"\d{4}", path.stem) and int(path.stem) != year:
        raise CalendarFileError(f"节假日文件 {path}：文件名是{path.stem}年，但 year 写的是{year}")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise CalendarFileError(
            f"节假日文件 {path}：缺少 source（数据来源，"
            f"例如《国务院办公厅关于{year}年部分节假日安排的通知》）"
        )
    if "holidays" not in raw:
        raise CalendarFileError(f"节假日文件 {path}：缺少 holidays（放假日期）")
    holidays = _parse_list(raw["holidays"], "holidays", "放假日期", path, year)
    if not holidays:
        raise CalendarFileError(f"节假日文件 {path}：holidays（放假日期）不能为空")
    workdays = _parse_list(raw.get("workdays"), "workdays", "调休上班日期", path, year)
    for d in sorted(workdays):
        if d.weekday() < 5:
            raise CalendarFileError(
                f"节假日文件 {path} 的 workdays（调休上班日期）："
                f"{d} 是星期{_WEEKDAYS[d.weekday()]}，"
                f"调休上班日应为周六或周日"
            )
    both = holidays & workdays
    if both:
        raise CalendarFileError(
            f"节假日文件 {path}：{min(both)} 同时出现在 holidays（放假）和 workdays（调休上班）中"
        )
    return YearSchedule(year, frozenset(holidays), frozenset(workdays), source.strip(), path)


def calendar_dirs(
    extra_dirs: Sequence[Path] = (), env: Mapping[str, str] | None = None
) -> list[Path]:
    """The folders searched for year files, lowest precedence first."""
    environ = os.environ if env is None else env
    dirs: list[Path] = []
    if REPO_CALENDAR_DIR.is_dir():
        dirs.append(REPO_CALENDAR_DIR)
    configured = [Path(p) for p in environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    for d in [*configured, *(Path(p) for p in extra_dirs)]:
        if not d.is_dir():
            raise CalendarFileError(f"节假日文件目录 {d} 不存在（来自 {ENV_VAR} 或启动参数）")
        dirs.append(d)
    return dirs


def year_files_stamp(dirs: Sequence[Path]) -> object:
    """What changes when a year file is added to, removed from or rewritten in the folders
    (names, sizes, modification times and inodes), for a process that keeps a calendar."""
    stamp = []
    for folder in dirs:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            entries = []
        files = []
        for entry in entries:
            if entry.name.endswith((".yaml", ".yml")):
                with contextlib.suppress(OSError):  # removed meanwhile: left out
                    st = entry.stat()
                    files.append((entry.name, st.st_mtime_ns, st.st_size, st.st_ino))
        stamp.append((str(folder), tuple(files)))
    return tuple(stamp)


def read_year_files(dirs: Sequence[Path]) -> dict[int, YearSchedule]:
    """All year files in the folders; a later folder wins, two files in one folder clash."""
    schedules: dict[int, YearSchedule] = {}
    for folder in dirs:
        seen: dict[int, Path] = {}
        files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
        for path in files:
            sched = read_year_file(path)
            if sched.year in seen:
                raise CalendarFileError(
                    f"目录 {folder} 中 {seen[sched.year].name} 和 {path.name} "
                    f"都是{sched.year}年的节假日文件，请只保留一个"
                )
            seen[sched.year] = path
            schedules[sched.year] = sched
    return schedules


def build_calendar(
    schedules: Mapping[int, YearSchedule], *, use_package: bool = True
) -> WorkCalendar:
    """One calendar from the package data and year schedules; covered years must be contiguous."""
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    years: set[int] = set()
    if use_package:
        first, last, pkg_holidays, pkg_workdays = package_schedule()
        years.update(range(first, last + 1))
        holidays.update(d for d in pkg_holidays if d.year not in schedules)
        workdays.update(d for d in pkg_workdays if d.year not in schedules)
    for year in sorted(schedules):
        sched = schedules[year]
        years.add(year)
        # The notice's own days replace whatever was known for them, even next to its year.
        holidays.difference_update(sched.workdays)
        workdays.difference_update(sched.holidays)
        holidays.update(sched.holidays)
        workdays.update(sched.workdays)
    if not years:
        raise CalendarFileError("没有任何节假日数据：chinesecalendar 未启用且没有节假日文件")
    first_year, last_year = min(years), max(years)
    missing = sorted(set(range(first_year, last_year + 1)) - years)
    if missing:
        after = [s for y, s in sorted(schedules.items()) if y > missing[0]]
        where = f"（{after[0].path} 之前）" if after and after[0].path else ""
        gap = "、".join(f"{y}年" for y in missing)
        raise CalendarFileError(f"工作日历年份不连续{where}：缺少{gap}的节假日文件，请补充后再启动")
    return WorkCalendar(holidays, workdays, first_year, last_year)


def load_calendar(
    extra_dirs: Sequence[Path] = (), *, env: Mapping[str, str] | None = None
) -> WorkCalendar:
    """The working-day calendar: chinesecalendar plus year files from every configured folder."""
    return build_calendar(read_year_files(calendar_dirs(extra_dirs, env)))


def _flow(value: str) -> str:
    """A YAML scalar for a name: JSON's quoting is valid YAML."""
    import json

    return json.dumps(value, ensure_ascii=False)


def year_file_text(notice: Notice) -> str:
    """The year file (calendars/README.md's format) for a parsed notice, one entry per block."""
    lines = [f"year: {notice.year}", f"source: {_flow(notice.source)}", "holidays:"]
    for f in notice.festivals:
        days = list(f.holidays)
        start = days[0]
        for i, day in enumerate(days, start=1):
            # one entry per run of consecutive days (a notice's block is one run)
            if i < len(days) and days[i] == day + dt.timedelta(days=1):
                continue
            if start == day:
                lines.append(f"  - {{date: {day.isoformat()}, name: {_flow(f.name)}}}")
            else:
                lines.append(f"  - {{start: {start.isoformat()}, end: {day.isoformat()}, "
                             f"name: {_flow(f.name)}}}")
            if i < len(days):
                start = days[i]
    workdays = [(d, f.name) for f in notice.festivals for d in f.workdays]
    if workdays:
        lines.append("workdays:")
        lines.extend(f"  - {{date: {d.isoformat()}, name: {_flow(name + '调休')}}}"
                     for d, name in sorted(workdays))
    lines.append(f"notes: {_flow('由 duban calendar import 据通知原文生成')}")
    return "\n".join(lines) + "\n"


def default_calendar_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where `duban calendar import` writes: the first folder of DUBAN_CALENDAR_DIR, else calendars/."""
    environ = os.environ if env is None else env
    configured = [p for p in environ.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
    return Path(configured[0]) if configured else REPO_CALENDAR_DIR


def write_year_file(notice: Notice, folder: Path) -> Path:
    """Write DIR/YYYY.yaml for the notice, checked by reading it back; refuses a clashing file.

    A file for the year under another name (2027.yml) in the folder would make two files for
    one year; it is refused rather than shadowed.
    """
    if not folder.is_dir():
        raise CalendarFileError(f"节假日文件目录 {folder} 不存在")
    target = folder / f"{notice.year}.yaml"
    for other in [*folder.glob("*.yaml"), *folder.glob("*.yml")]:
        if other == target:
            continue
        try:
            year = read_year_file(other).year
        except CalendarFileError:
            continue
        if year == notice.year:
            raise CalendarFileError(
                f"目录 {folder} 中已有{notice.year}年的节假日文件 {other.name}，请先删除或改名")
    text = year_file_text(notice)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        written = read_year_file(tmp)
        if written.holidays != notice.holidays or written.workdays != notice.workdays:
            raise CalendarFileError(f"写出的节假日文件与通知不一致：{target}")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
