"""Chinese for click's own words (Usage, Options, errors), so `duban --help` reads in Chinese.

click marks its strings with gettext but ships no translations and reads the locale from the
environment; county machines vary, so we hand click a fixed table instead.
"""

from __future__ import annotations

import click
import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.termui
import click.types

MESSAGES: dict[str, str] = {
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "位置参数",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本并退出。",
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "Aborted!": "已中止。",
    "Error: {message}": "错误：{message}",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing command.": "缺少命令。",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "No such command {name!r}.": "没有这个命令：{name!r}。",
    "No such option {name!r}.": "没有这个选项：{name!r}。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不带值。",
    "Try '{command} {option}' for help.": "运行 '{command} {option}' 查看帮助。",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是目录。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 不可读。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 不可写。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "default: {default}": "默认：{default}",
    "env var: {var}": "环境变量：{var}",
    "file": "文件",
    "directory": "目录",
    "path": "路径",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Do you want to continue?": "是否继续？",
    "Confirm the action without prompting.": "不询问，直接确认。",
    "unknown error": "未知错误",
    "deprecated": "已弃用",
    "required": "必填",
}


def _translate(message: str) -> str:
    return MESSAGES.get(message, message)


def _missing_message(self: click.exceptions.MissingParameter) -> str:
    """click's "缺少参数 '问题编号'." with a Chinese full stop (its format adds a "." of its own)."""
    english = self._english_message()  # type: ignore[attr-defined]
    return str(english).replace("'.", "'。", 1)


def install() -> None:
    """Point click's gettext hooks at the table."""
    for module in (click.core, click.decorators, click.exceptions, click.formatting,
                   click.parser, click.termui, click.types):
        if hasattr(module, "_"):
            module._ = _translate  # type: ignore[attr-defined]
    if not hasattr(click.exceptions.MissingParameter, "_english_message"):
        missing = click.exceptions.MissingParameter
        missing._english_message = missing.format_message  # type: ignore[attr-defined]
        missing.format_message = _missing_message  # type: ignore[method-assign]
    # Columns, not characters, in every help screen's layout.
    click.formatting.term_len = display_width  # type: ignore[assignment]  # (its parameter is x)
    click.formatting.wrap_text = wrap_text


# ---- width: a Chinese character takes two columns of a terminal -----------------------------

# Punctuation that never starts a line, and opening brackets that never end one (避头尾).
NO_LINE_START = frozenset("，。、；：！？）》」』”’,.;:!?)")
NO_LINE_END = frozenset("（《「『“‘(")
SENTENCE_END = "。"
CLAUSE_ENDS = "；，、："


def display_width(text: str) -> int:
    """Columns a terminal gives the text (click counts characters: a Chinese option's
    metavar pushed its help two columns right per character)."""
    text = click.unstyle(text) if "\x1b" in text else text
    if text.isascii():
        return len(text)
    from unicodedata import east_asian_width

    return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)


def _tokens(text: str) -> list[str]:
    """Units a line breaks between: each wide character, each run of spaces, each word."""
    from unicodedata import east_asian_width

    tokens: list[str] = []
    word = ""
    for ch in text:
        if ch.isspace() or east_asian_width(ch) in "WF" or ch in NO_LINE_START:
            if word:
                tokens.append(word)
                word = ""
            tokens.append(" " if ch.isspace() else ch)
        else:
            word += ch
    if word:
        tokens.append(word)
    return tokens


def _fill(text: str, width: int, first: str, rest: str) -> str:
    """One paragraph broken into lines of at most `width` columns (indents included); a
    closing mark never starts a line and an opening one never ends one (避头尾): the word
    before it moves down with it."""
    lines: list[list[str]] = [[]]
    used = display_width(first)
    for token in _tokens(" ".join(text.split())):
        line = lines[-1]
        size = display_width(token)
        if token == " " and not line:
            continue
        if line and used + size > width and token != " ":
            carried: list[str] = []
            if token in NO_LINE_START:
                while len(line) > 1 and line[-1] in NO_LINE_START:
                    carried.insert(0, line.pop())
                if len(line) > 1:
                    carried.insert(0, line.pop())
            while len(line) > 1 and line[-1] in NO_LINE_END:
                carried.insert(0, line.pop())
            while line and line[-1] == " ":
                line.pop()
            while carried and carried[0] == " ":
                carried.pop(0)
            lines.append(carried)
            line = lines[-1]
            used = display_width(rest) + sum(map(display_width, carried))
        line.append(token)
        used += size
    return "\n".join((first if i == 0 else rest) + "".join(line).rstrip()
                     for i, line in enumerate(lines))


_click_wrap_text = click.formatting.wrap_text


def wrap_text(text: str, width: int = 78, initial_indent: str = "",
              subsequent_indent: str = "", preserve_paragraphs: bool = False) -> str:
    """click's wrap_text, measuring columns: text with Chinese is broken between characters
    (click's wrapper breaks at spaces only, and counted a Chinese character as one column)."""
    if text.isascii():
        return _click_wrap_text(text, width, initial_indent, subsequent_indent,
                                preserve_paragraphs)
    if not preserve_paragraphs:
        return _fill(text, width, initial_indent, subsequent_indent)
    out = []
    for paragraph in text.split("\n\n"):
        stripped = paragraph.lstrip("\n")
        indent = " " * (len(stripped) - len(stripped.lstrip(" ")))
        if stripped.startswith("\b"):  # click's marker: keep this paragraph's lines as written
            out.append("\n".join(indent + line for line in stripped.splitlines()[1:]))
        else:
            out.append(_fill(stripped, width, initial_indent + indent,
                             subsequent_indent + indent))
    return "\n\n".join(out)


def short_help(text: str, limit: int) -> str:
    """A command's line in its group's list: the first sentence of its help, cut at a clause
    within `limit` columns (with …) when longer (click's own shortener cuts at spaces, and
    gave "doctor ..." for a Chinese sentence without any)."""
    paragraph = " ".join(text.partition("\n\n")[0].split())
    end = paragraph.find(SENTENCE_END)
    sentence = paragraph if end < 0 else paragraph[: end + 1]
    if display_width(sentence) <= limit:
        return sentence
    cut = ""
    for i, ch in enumerate(sentence):
        if display_width(sentence[: i + 1]) > limit - 2:
            break
        if ch in CLAUSE_ENDS:
            cut = sentence[:i]
    if not cut:
        cut = sentence
        while display_width(cut) > limit - 2:
            cut = cut[:-1]
    return cut + "…"
