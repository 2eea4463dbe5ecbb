"""文号 formatting and parsing, dates and Chinese ordinals (GB/T 9704-2012 7.2.5, 7.3.5.4)."""

from __future__ import annotations

import datetime as dt

import pytest

from duban.domain.errors import DubanError
from duban.domain.numbering import (
    DocumentNumber,
    DocumentNumberError,
    chinese_numeral,
    format_date_cn,
    format_document_number,
    parse_document_number,
)


def test_format_document_number() -> None:
    assert format_document_number("沈巩督", 2022, 12) == "沈巩督〔2022〕12号"
    assert format_document_number("沧沟委发", 2020, 53) == "沧沟委发〔2020〕53号"
    assert format_document_number(" 沈巩办 ", 2022, 1) == "沈巩办〔2022〕1号"


@pytest.mark.parametrize(("prefix", "year", "seq"), [
    ("沈巩督", 2022, 0), ("沈巩督", 2022, -3), ("", 2022, 1), ("沈巩督", 22, 1),
    ("沈巩督", 2022, True), ("沈[巩]督", 2022, 1), ("沈巩督", 20222, 1),
])
def test_format_rejects_bad_parts(prefix: str, year: int, seq: int) -> None:
    with pytest.raises(DocumentNumberError) as info:
        format_document_number(prefix, year, seq)
    assert isinstance(info.value, DubanError)
    assert "文号" in info.value.message


def test_parse_round_trip() -> None:
    for s in ("沈巩督〔2022〕12号", "沧沟委发〔2020〕53号", "云阳扶组办〔2020〕1号"):
        n = parse_document_number(s)
        assert str(n) == s
    assert parse_document_number("沈巩督〔2022〕12号") == DocumentNumber("沈巩督", 2022, 12)


@pytest.mark.parametrize(("text", "word"), [
    ("沈巩督〔2022〕012号", "虚位"),
    ("沈巩督〔2022〕0号", "虚位"),
    ("沈巩督[2022]12号", "六角括号"),
    ("沈巩督（2022）12号", "六角括号"),
    ("沈巩督【2022】12号", "六角括号"),
    ("沈巩督〔22〕12号", "格式不正确"),
    ("沈巩督〔2022〕第12号", "格式不正确"),
    ("〔2022〕12号", "格式不正确"),
])
def test_parse_rejects(text: str, word: str) -> None:
    with pytest.raises(DocumentNumberError) as info:
        parse_document_number(text)
    assert word in info.value.message


def test_dates_have_no_leading_zeros() -> None:
    assert format_date_cn(dt.date(2022, 9, 26)) == "2022年9月26日"
    assert format_date_cn(dt.date(2022, 10, 1)) == "2022年10月1日"
    assert format_date_cn(dt.date(2023, 1, 9)) == "2023年1月9日"


def test_chinese_numerals() -> None:
    expected = {1: "一", 9: "九", 10: "十", 11: "十一", 20: "二十", 21: "二十一", 99: "九十九"}
    for n, s in expected.items():
        assert chinese_numeral(n) == s
    for bad in (0, 100, -1):
        with pytest.raises(DocumentNumberError):
            chinese_numeral(bad)
