"""The daily report's trend chart, drawn with matplotlib in a Chinese font.

A fresh machine may have no CJK font at all: the project's own dependencies bring one from
PyPI (`cvttf-notosanscjk-regular`: Noto Sans CJK, SIL Open Font License), used when no
system Chinese font (fonts-noto-cjk …) is installed, so charts never show boxes and matplotlib
prints no "Glyph … missing" warning.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot

from matplotlib import font_manager
from matplotlib.figure import Figure

from duban.adapters.documents.context import SeriesPoint

log = logging.getLogger(__name__)

# Sans-serif CJK families in order of preference (Debian: fonts-noto-cjk, fonts-wqy-zenhei;
# Windows: Microsoft YaHei, SimHei).
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "Noto Serif CJK SC",
    "AR PL UKai CN",
    "Noto Sans CJK TC",  # the packaged font (PACKAGED_FONT): every CJK glyph, TC forms
)

# The Chinese font that comes with duban's dependencies (a PyPI package holding the file).
PACKAGED_FONT_MODULE = "cvttf_NotoSansCJK_Regular"
PACKAGED_FONT_FILE = "NotoSansCJKtc-Regular.otf"


def packaged_cjk_font() -> Path | None:
    """The font file the project's dependencies install, or None when it is missing."""
    spec = importlib.util.find_spec(PACKAGED_FONT_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / PACKAGED_FONT_FILE
        if path.is_file():
            return path
    return None


def packaged_cjk_family() -> str | None:
    """Register the packaged font with matplotlib; its family name, or None."""
    path = packaged_cjk_font()
    if path is None:
        return None
    if not any(f.fname == str(path) for f in font_manager.fontManager.ttflist):
        font_manager.fontManager.addfont(str(path))
    return next((f.name for f in font_manager.fontManager.ttflist if f.fname == str(path)),
                None)


@functools.cache
def cjk_font_family() -> str | None:
    """The first installed Chinese font family matplotlib can use, or None."""
    family = _first_known_cjk_family()
    if family is None:
        # matplotlib caches its font list on first use; fonts installed after that (the usual
        # order on a new server: duban first, fonts-noto-cjk later) are not in it.
        known = {f.fname for f in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a font file FreeType cannot read
                    continue
        family = _first_known_cjk_family()
    if family is None or family == "Noto Sans CJK TC":
        family = packaged_cjk_family() or family
    if family is None:
        log.warning("no Chinese font found for charts; reinstall duban (its dependencies "
                    "bring %s) or install fonts-noto-cjk", PACKAGED_FONT_MODULE)
    return family


def _first_known_cjk_family() -> str | None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES[:-1] if family in installed), None)


def trend_chart_png(series: Sequence[SeriesPoint], title: str, *, dpi: int = 200,
                    family: str | None = None) -> bytes:
    """Cumulative found and closed problems and the overdue count per day, as a PNG; in
    `family` when given, else the first Chinese font found (`cjk_font_family`)."""
    family = family or cjk_font_family()
    rc: dict[str, Any] = {"font.family": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
          "axes.unicode_minus": False}
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = Figure(figsize=(6.0, 3.0), dpi=dpi)
        ax = fig.add_subplot()
        days = [p.day for p in series]
        labels = [f"{d.month}/{d.day}" for d in days]
        xs = list(range(len(series)))
        # A marker a day reads on a month; over a whole campaign the markers would merge.
        few = len(xs) <= 45
        ax.plot(xs, [p.found for p in series], marker="o" if few else None, ms=3, lw=1.6,
                color="#1f4e9c", label="累计发现")
        ax.plot(xs, [p.closed for p in series], marker="s" if few else None, ms=3, lw=1.6,
                color="#2e8b57", label="累计销号")
        ax.bar(xs, [p.overdue for p in series], width=0.5, color="#d62728", alpha=0.55,
               label="逾期")
        step = max(1, len(xs) // 10)
        ax.set_xticks(xs[::step], labels[::step])
        ax.set_title(title, fontsize=11, pad=22)
        ax.set_ylabel("问题数（个）", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        if series:
            # Above the plot, under the title: no line or bar runs through the legend.
            ax.legend(fontsize=8, frameon=False, loc="lower center", ncols=3,
                      bbox_to_anchor=(0.5, 1.0), borderaxespad=0.3)
        else:
            ax.text(0.5, 0.5, "暂无数据", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()
