"""Title lines: the 行首行尾禁则 (no line starts with closing punctuation or ends with an
opening mark) and quoted slogans kept whole when they fit."""

from __future__ import annotations

import pytest

from duban.adapters.documents.lines import _even, balanced_lines, word_boundaries

SEED_TITLES = [
    "全县脱贫攻坚“抓整改、严责任、促攻坚”活动工作总结报告",  # seed 004's closing report
    "少云镇2022年“大走访大排查大整改”行动工作总结报告",
    "沧沟乡脱贫攻坚决战收官攻坚月（三排查三清零）工作总结报告",
    "关于限期整改沈丘县巩固拓展脱贫攻坚成果同乡村振兴有效衔接工作集中整改提升专项行动存在问题的督办通知书",
]


@pytest.mark.parametrize("title", SEED_TITLES)
@pytest.mark.parametrize("width", [12, 16, 20])
def test_no_line_starts_with_closing_or_ends_with_opening_punctuation(title: str,
                                                                      width: int) -> None:
    lines = balanced_lines(title, width)
    assert "".join(lines) == title
    for line in lines[1:]:
        assert line[0] not in "、，。；：？！）》”’", lines
    for line in lines[:-1]:
        assert line[-1] not in "（《“‘", lines


def test_a_quoted_slogan_that_fits_stays_on_one_line() -> None:
    # Before: 全县脱贫攻坚“抓整改、严责任 / 、促攻坚”活动工作总结报告 (a line began with 、).
    assert balanced_lines(SEED_TITLES[0], 20) == [
        "全县脱贫攻坚“抓整改、严责任、促攻坚”", "活动工作总结报告"]


def test_word_boundaries_exclude_punctuation_breaks() -> None:
    title = SEED_TITLES[0]
    for cut in word_boundaries(title):
        assert title[cut] not in "、”" and title[cut - 1] != "“"


def test_character_fallback_keeps_punctuation_with_its_line() -> None:
    assert _even("一二三四、五六七八（九十）", 2) == ("一二三四、五六", "七八（九十）")
    assert _even("一二三四五六、七八九十", 2) == ("一二三四五", "六、七八九十")


def test_a_number_stays_with_its_unit() -> None:
    # Before: 关于限期整改少云镇2022 / 年“大走访大排查大整改” / … (seed 003's notice).
    title = "关于限期整改少云镇2022年“大走访大排查大整改”行动排查问题的督办通知书"
    for width in (12, 16, 20):
        lines = balanced_lines(title, width)
        assert all(not a[-1].isdigit() for a in lines[:-1]), lines


def test_chinese_quotes_are_measured_full_width() -> None:
    from duban.adapters.documents.lines import text_width_chars

    # The fonts set “” a full em wide; half-width quotes let seed 003's mark overflow its
    # line at 92 % (少云镇“大走访大排查大整改”工作专 / 班).
    assert text_width_chars("“大走访”") == 5.0
    assert text_width_chars("2022年") == 3.0


def test_seed_003s_mark_is_condensed_to_fit_its_line() -> None:
    from duban.adapters.documents.render import _MARK_MIN_PT, _TEXT_W_PT, mark_layout

    lines, size, scale = mark_layout("少云镇“大走访大排查大整改”工作专班")
    assert lines == ["少云镇“大走访大排查大整改”工作专班"] and size == _MARK_MIN_PT
    assert 18 * size * scale / 100 <= _TEXT_W_PT  # 18 full-width characters, quotes included
