"""Cell-value cleaning: spaces, full-width characters, numbers stored as text, dates."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation


class CellProblem(ValueError):
    """A cell value that cannot be read; `reason` is Chinese and shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_ALL_SPACE_RE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
_EDGE_CHARS = " \t\r\n\u3000\xa0\u200b\u200c\u200d\u2060\ufeff\u2002\u2003\u2009"

# Excel's day 0 in the 1900 date system, counting its phantom 1900-02-29.
_EXCEL_EPOCH = dt.date(1899, 12, 30)
# Serial numbers for 1950-01-01 .. 2099-12-31: anything else is not a plausible date.
_SERIAL_MIN = 18264
_SERIAL_MAX = 73050


def clean_text(raw: object) -> str:
    """Text with surrounding spaces (incl. full-width and non-breaking) removed."""
    if raw is None:
        return ""
    if raw.__class__ is str:
        return raw.strip(_EDGE_CHARS)
    return display(raw)


def compact(raw: object) -> str:
    """Text with every space removed, for names such as 张　三."""
    if raw.__class__ is str and raw.isalnum():
        return raw
    s = clean_text(raw)
    if " " in s or not s.isascii():
        s = _ALL_SPACE_RE.sub("", s)
    return s


def fold(raw: object) -> str:
    """Text for matching codes and enumerations: NFKC (full-width to half-width), no spaces."""
    s = clean_text(raw)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    if " " in s or "\t" in s:
        s = _ALL_SPACE_RE.sub("", s)
    return s


def display(raw: object) -> str:
    """A cell value as the user would read it (for error messages)."""
    if raw is None:
        return ""
    if raw.__class__ is str:
        return raw
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float):
        if raw.is_integer() and abs(raw) < 1e15:
            return str(int(raw))
        return repr(raw)
    if isinstance(raw, dt.datetime):
        if raw.time() == dt.time(0):
            return raw.date().isoformat()
        return raw.isoformat(sep=" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return str(raw)


def code_text(raw: object) -> str:
    """A code-like cell (户编号, 乡镇 code) as text; numbers keep every digit or are refused."""
    if isinstance(raw, float) and not isinstance(raw, bool):
        if not raw.is_integer():
            raise CellProblem("编号不应是小数")
        if abs(raw) >= 1e15:
            # Excel keeps 15 significant digits; longer numbers have lost their tail.
            raise CellProblem("编号被存成了数字，末尾几位已丢失；请把该列设为文本格式后重新填写")
        return str(int(raw))
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    if raw.__class__ is str and raw.isascii() and raw.isalnum():
        return raw
    s = fold(raw)
    if s and ("E+" in s or "e+" in s) and _SCI_RE.match(s):
        raise CellProblem(
            "编号是科学计数法（如4.1E+17），末尾几位已丢失；请把该列设为文本格式后重新填写"
        )
    return s


_SCI_RE = re.compile(r"^\d(\.\d+)?[eE]\+\d+$")
_UNIT_RE = re.compile(r"(元|人|口|个|名|户|岁|万元)$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def parse_decimal(raw: object) -> Decimal:
    """A number from a numeric cell or from text such as "6,900", "６９００元", "6900.5"."""
    if isinstance(raw, bool):
        raise CellProblem("应为数字，不是逻辑值")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise CellProblem("不是有效的数字")
        return Decimal(repr(raw))
    if not isinstance(raw, str):
        raise CellProblem("应为数字")
    s = fold(raw)
    scale = 1
    m = _UNIT_RE.search(s)
    if m:
        if m.group(1) == "万元":
            scale = 10000
        s = s[: m.start()]
    s = s.replace(",", "").replace("，", "")
    if s.startswith("¥") or s.startswith("￥"):
        s = s[1:]
    if not _NUMBER_RE.match(s):
        raise CellProblem("应为数字")
    try:
        return Decimal(s) * scale
    except InvalidOperation:
        raise CellProblem("应为数字") from None


def parse_int(raw: object) -> int:
    """A whole number; 4.0 is fine, 4.5 is not."""
    d = parse_decimal(raw)
    if d != d.to_integral_value():
        raise CellProblem("应为整数")
    return int(d)


def parse_money(raw: object) -> int:
    """A yuan amount rounded half-up to whole yuan."""
    d = parse_decimal(raw)
    return int(d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[T\s]*\d{1,2}[:时]\d{1,2}(?:[:分]\d{1,2}(?:\.\d+)?秒?)?)?$"
)
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _from_serial(serial: float) -> dt.date:
    if not (_SERIAL_MIN <= serial <= _SERIAL_MAX):
        raise CellProblem("不是有效的日期")
    return _EXCEL_EPOCH + dt.timedelta(days=int(serial))


def _ymd(y: str, m: str, d: str) -> dt.date:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        raise CellProblem("日期不存在（月或日超出范围）") from None


def parse_date(raw: object) -> dt.date:
    """A date from a date cell, an Excel serial, or text such as 2022/5/6 or 2022年5月6日."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, bool):
        raise CellProblem("应为日期")
    if isinstance(raw, int | float):
        f = float(raw)
        if f.is_integer() and 19000101 <= f <= 29991231:
            return parse_date(str(int(f)))
        return _from_serial(f)
    if not isinstance(raw, str):
        raise CellProblem("应为日期")
    # Keep inner spaces: they separate the date from a time of day.
    s = clean_text(raw)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s).strip()
    s = _ALL_SPACE_RE.sub(" ", s)
    m = _DATE_RE.match(s)
    if m:
        return _ymd(*m.groups())
    m = _COMPACT_DATE_RE.match(s)
    if m:
        return _ymd(*m.groups())
    if s.isdigit() and len(s) == 5:
        return _from_serial(float(s))
    raise CellProblem("不是可识别的日期，请写成2022-05-06")


_TRUE = frozenset(
    {
        "是",
        "有",
        "y",
        "yes",
        "true",
        "1",
        "√",
        "✓",
        "✔",
        "对",
        "已通",
        "已参加",
        "已参保",
        "通",
        "参加",
        "参保",
        "是的",
    }
)
_FALSE = frozenset(
    {
        "否",
        "无",
        "n",
        "no",
        "false",
        "0",
        "×",
        "✗",
        "✘",
        "x",
        "没有",
        "未通",
        "未参加",
        "未参保",
        "不是",
        "不通",
        "未",
    }
)


def parse_bool(raw: object) -> bool:
    """是/否 and their usual spellings (有/无, √/×, Y/N, TRUE/FALSE, 1/0)."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        if raw == 1:
            return True
        if raw == 0:
            return False
        raise CellProblem("应填“是”或“否”")
    s = fold(raw).lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise CellProblem("应填“是”或“否”")
