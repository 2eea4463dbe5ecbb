"""The Chinese font the project's dependencies bring (PyPI) draws every character of a chart:
matplotlib, given only that font, reports no missing glyph."""

from __future__ import annotations

import datetime as dt
import logging
import warnings

import pytest

from duban.adapters.documents.charts import (
    packaged_cjk_family,
    packaged_cjk_font,
    trend_chart_png,
)
from duban.adapters.documents.context import SeriesPoint

SERIES = [SeriesPoint(dt.date(2022, 9, d), found=d, closed=d // 2, overdue=d % 3)
          for d in range(1, 8)]
# A title with the words charts and pages use: places, offices, the ladder, 销号 …
TITLE = "沧沟乡攻坚月问题整改趋势（累计发现、累计销号、逾期）：乡建环办 关庙村 督办 通报 复核"


def _missing_glyphs(family: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        png = trend_chart_png(SERIES, TITLE, dpi=60, family=family)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    return [m for m in messages if "missing from font" in m]


def test_the_packaged_font_draws_every_chinese_character(
        caplog: pytest.LogCaptureFixture) -> None:
    path = packaged_cjk_font()
    assert path is not None and path.stat().st_size > 10_000_000  # installed with duban
    family = packaged_cjk_family()
    assert family == "Noto Sans CJK TC"
    assert _missing_glyphs(family, caplog) == []
    # The check can fail: without a Chinese font, matplotlib reports each missing glyph.
    assert _missing_glyphs("DejaVu Sans", caplog)
