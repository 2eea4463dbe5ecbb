"""The documents name the plan's own places: 乡镇（开发区） for seed 004, 全乡 for a one-town
campaign (seed 000's 通报 said 全县共有… and 涉及1个乡镇（办事处）), and a ranking of offices heads
its column 责任单位 (seed 000's 月考评 headed its offices 乡镇（办事处）)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from docx import Document

from duban.adapters.documents import (
    render_bulletin,
    render_daily_report,
    render_notice,
    render_ranking,
)
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.plan import area_word, towns_addressee, towns_word
from tests.integration.test_documents_fixtures import (
    body_paragraphs,
    bulletin_context,
    daily_context,
    notice_context,
    para_text,
    ranking_context,
)

PLANS = Path(__file__).resolve().parents[2] / "plans"


def _text(path: Path) -> str:
    return "\n".join(para_text(p) for p in body_paragraphs(Document(str(path))))


def test_each_seed_plans_words_for_its_places() -> None:
    words = {f.name[:8]: (towns_word(p), area_word(p), towns_addressee(p))
             for f in sorted(PLANS.glob("seed-*.yaml")) for p in [load_plan_file(f)]}
    assert words == {
        "seed-000": ("乡镇", "全乡", "各村（社区）"),
        "seed-001": ("乡镇（街道）", "全县", "各乡镇（街道）"),
        "seed-002": ("乡镇（办事处）", "全县", "各乡镇（办事处）"),
        "seed-003": ("乡镇", "全镇", "各村（社区）"),
        "seed-004": ("乡镇（开发区）", "全县", "各乡镇（开发区）"),
    }


def test_bulletin_daily_report_and_notice_use_the_plans_words(tmp_path: Path) -> None:
    words = {"place_word": "乡镇（开发区）", "area_word": "全乡"}
    bulletin = _text(render_bulletin(dataclasses.replace(bulletin_context(), **words),
                                     tmp_path / "b.docx"))
    assert "全乡共有逾期未整改问题" in bulletin and "二、乡镇（开发区）逾期情况" in bulletin
    assert "全县共有" not in bulletin and "个乡镇（办事处）" not in bulletin
    daily = _text(render_daily_report(dataclasses.replace(daily_context(), **words),
                                      tmp_path / "d.docx"))
    assert "一、乡镇（开发区）整改进度" in daily
    notice = _text(render_notice(notice_context(3, **words), tmp_path / "n.docx"))
    assert "个乡镇（开发区）" in notice and "个乡镇（办事处）" not in notice


def test_a_ranking_of_offices_heads_its_column_with_offices(tmp_path: Path) -> None:
    ctx = dataclasses.replace(ranking_context(), unit_label="责任单位", area_word="全乡")
    doc = Document(str(render_ranking(ctx, tmp_path / "r.docx")))
    assert [c.text for c in doc.tables[0].rows[0].cells][1] == "责任单位"
    assert "全乡推进会" in _text(tmp_path / "r.docx")
    towns = Document(str(render_ranking(ranking_context(), tmp_path / "t.docx")))
    assert [c.text for c in towns.tables[0].rows[0].cells][1] == "乡镇（办事处）"
