"""Help screens laid out in a terminal's columns: a Chinese character takes two.

click counts characters, so Chinese metavars pushed the option help out of line, Chinese help
ran past the terminal's edge unbroken (its wrapper breaks at spaces only), and a command whose
first sentence had no space was listed as "doctor ...".
"""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from duban.cli import base, cli, zh

WIDTH = 80


def _every_command() -> list[list[str]]:
    """The argv of every command's and group's --help, loading every command module."""
    ctx = click.Context(cli)
    paths: list[list[str]] = [[]]

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return paths


def _help(path: list[str]) -> str:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=WIDTH)
    assert result.exit_code == 0, result.output
    return result.output


def test_display_width_counts_chinese_as_two_columns() -> None:
    assert zh.display_width("duban") == 5
    assert zh.display_width("--db 地址") == 9
    assert zh.display_width("（默认：SQLite）") == 16
    assert zh.display_width(click.style("红色", fg="red")) == 4


def test_chinese_text_wraps_between_characters_within_the_width() -> None:
    text = "数据库地址（默认：数据目录中的 SQLite 文件；也可用环境变量 DUBAN_DATABASE_URL）。"
    lines = zh.wrap_text(text, 30).splitlines()
    assert len(lines) > 1
    assert "".join(line.replace(" ", "") for line in lines) == text.replace(" ", "")
    # Every line fits; a closing mark never starts a line, an opening one never ends one.
    assert all(zh.display_width(line) <= 30 for line in lines)
    assert not any(line[0] in zh.NO_LINE_START for line in lines[1:])
    assert not any(line[-1] in zh.NO_LINE_END for line in lines)
    # English is left to click's own wrapper.
    english = "Show this message and exit."
    assert zh.wrap_text(english, 12) == zh._click_wrap_text(english, 12) == (
        "Show this\nmessage and\nexit.")


def test_short_help_is_the_first_sentence_cut_at_a_clause() -> None:
    assert zh.short_help("办理记录（只增不改）。其余说明。", 40) == "办理记录（只增不改）。"
    cut = zh.short_help("检查并清理数据目录：删除崩溃遗留的临时文件和没有任何记录引用的通知书文件"
                        "（只删除超过宽限期的文件），并报告删除了什么。", 40)
    assert cut == "检查并清理数据目录…"
    assert zh.display_width(cut) <= 40
    # A sentence without any clause mark is cut at the width.
    long = "按" * 50 + "。"
    assert zh.short_help(long, 20) == "按" * 9 + "…"


def test_every_help_screen_fits_an_80_column_terminal() -> None:
    """Each line of every command's help fits, except an option or command name that is
    longer than the line by itself (click puts it alone on its line)."""
    for path in _every_command():
        for line in _help(path).splitlines():
            words = line.split()
            if len(words) == 1 or (words and words[0].startswith("-") and len(words) <= 2
                                   and "[" in line):
                continue
            assert zh.display_width(line) <= WIDTH, (path, line)


def test_every_command_is_listed_with_words_not_dots() -> None:
    for path in _every_command():
        out = _help(path)
        if "命令:" not in out:
            continue
        for line in out.split("命令:", 1)[1].splitlines():
            if line.strip():
                _, _, summary = line.strip().partition(" ")
                assert summary.strip() and summary.strip() != "...", (path, line)


@pytest.mark.parametrize("name", sorted(base.SUMMARIES))
def test_each_summary_fits_the_root_list(name: str) -> None:
    limit = WIDTH - 2 - 6 - max(map(len, base.SUMMARIES))
    assert zh.display_width(base.SUMMARIES[name]) <= limit, name


def test_no_help_screen_shows_click_english_metavars() -> None:
    """Options and arguments read in Chinese (整数, 日期, 问题编号), never TEXT, INTEGER RANGE,
    [%Y-%m-%d] or PROBLEM; click's own [required] reads [必填]."""
    import re

    english = re.compile(r"^\s+--?[\w-]+(?:, --[\w-]+)? [A-Z][A-Z_ ]+\b|\[%Y|\[required\]")
    for path in _every_command():
        out = _help(path)
        usage = out.splitlines()[0]
        assert not re.search(r"\b[A-Z][A-Z_]{2,}\b", usage.replace("SHA-256", "")), (path, usage)
        for line in out.splitlines():
            assert not english.search(line), (path, line)
