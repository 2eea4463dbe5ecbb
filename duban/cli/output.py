"""Plain-text tables that line up with Chinese (double-width) characters."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def width(text: str) -> int:
    """Terminal columns a string takes: CJK and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table with a header rule; cells are str()-ed and left-aligned."""
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(width(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(_pad(c, w) for c, w in zip(cells[0], widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in cells[1:]]
    return "\n".join(lines)


def as_json(data: object) -> str:
    """What `--json` prints: codes as stored, dates as ISO text, Chinese as written."""
    import dataclasses
    import enum
    import json

    def plain(value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        if isinstance(value, set | frozenset | tuple):
            return list(value)
        return str(value)

    return json.dumps(data, ensure_ascii=False, indent=2, default=plain)


def json_option(command: F) -> F:
    """`--json` (parameter `json_out`): what a list or show command prints for scripts, with codes."""
    return click.option("--json", "json_out", is_flag=True,
                        help="以 JSON 输出（含代码，供脚本使用）。")(command)


def echo_json(data: object) -> None:
    """Print `data` as `--json` does."""
    click.echo(as_json(data))
