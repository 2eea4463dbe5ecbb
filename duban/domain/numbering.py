"""Document numbers (文号) and the date and ordinal forms official documents print.

GB/T 9704-2012 7.2.5: the year goes in 六角括号 〔〕 in full, the sequence number has no
leading zeros (1, not 001) and no 第. 7.3.5.4: dates use Arabic numerals with the year in full
and no leading zeros in month or day (2022年9月26日).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from duban.domain.errors import DubanError

_OPEN = "〔"
_CLOSE = "〕"
# Brackets people type instead of 〔〕; accepted when parsing, never produced.
_LOOKALIKE_BRACKETS = "[［(（【"
_LOOKALIKE_CLOSING = "]］)）】"

_NUMBER_RE = re.compile(r"^(?P<prefix>.+?)〔(?P<year>\d{4})〕(?P<seq>\d+)号$")


class DocumentNumberError(DubanError):
    """A document number (文号) that breaks the GB/T 9704 form."""


@dataclass(frozen=True)
class DocumentNumber:
    """A parsed 文号: 机关代字, year and sequence number."""

    prefix: str
    year: int
    seq: int

    def __str__(self) -> str:
        return format_document_number(self.prefix, self.year, self.seq)


NO_DOCUMENT_NUMBER = "无文号"


def document_label(number: str | None) -> str:
    """A 文号 as pages and messages print it: the number, or 无文号 when the plan has none."""
    return (number or "").strip() or NO_DOCUMENT_NUMBER


def format_document_number(prefix: str, year: int, seq: int) -> str:
    """Return the 文号 `prefix〔year〕seq号`, e.g. 沈巩督〔2022〕12号."""
    prefix = prefix.strip()
    if not prefix:
        raise DocumentNumberError("文号的机关代字不能为空")
    if any(ch in prefix for ch in _OPEN + _CLOSE + _LOOKALIKE_BRACKETS + _LOOKALIKE_CLOSING):
        raise DocumentNumberError(f"文号的机关代字“{prefix}”不能包含括号")
    if isinstance(year, bool) or not isinstance(year, int) or not 1000 <= year <= 9999:
        raise DocumentNumberError(f"文号年份“{year}”应为四位完整年份")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise DocumentNumberError(f"文号序号“{seq}”应为不小于1的整数")
    return f"{prefix}{_OPEN}{year}{_CLOSE}{seq}号"


def parse_document_number(text: str) -> DocumentNumber:
    """Parse a 文号 such as 沈巩督〔2022〕12号; reject leading zeros and wrong brackets."""
    s = text.strip()
    for wrong_open, wrong_close in zip(_LOOKALIKE_BRACKETS, _LOOKALIKE_CLOSING, strict=True):
        if re.search(re.escape(wrong_open) + r"\d{4}" + re.escape(wrong_close), s):
            raise DocumentNumberError(
                f"文号“{text}”的年份应使用六角括号〔〕，不能使用“{wrong_open}{wrong_close}”"
            )
    m = _NUMBER_RE.match(s)
    if m is None:
        raise DocumentNumberError(f"文号“{text}”格式不正确，应形如“沈巩督〔2022〕12号”")
    seq_text = m.group("seq")
    if seq_text.startswith("0"):
        raise DocumentNumberError(f"文号“{text}”的序号不能编虚位（如 1 不编为 01）")
    return DocumentNumber(m.group("prefix"), int(m.group("year")), int(seq_text))


def format_date_cn(day: dt.date) -> str:
    """Return a date as official documents print it: 2022年9月26日."""
    return f"{day.year}年{day.month}月{day.day}日"


_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """Return 1..99 as Chinese numerals (一, 十, 十二, 二十一) for 一、 and （一） headings."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 99:
        raise DocumentNumberError(f"序号“{n}”超出一至九十九的范围")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    head = "" if tens == 1 else _DIGITS[tens]
    return head + "十" + (_DIGITS[ones] if ones else "")
