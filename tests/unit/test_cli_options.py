"""The root options (--now, --db) may stand anywhere in the command line."""

from __future__ import annotations

from duban.cli.base import hoist_root_options


def test_root_options_after_the_command_are_moved_before_it() -> None:
    assert hoist_root_options(["tick", "--now", "2022-09-26T09:00", "--campaign", "1"]) == [
        "--now", "2022-09-26T09:00", "tick", "--campaign", "1"]
    assert hoist_root_options(["problem", "list", "--db=sqlite:///x.db", "--now=2022-09-26"]) == [
        "--db=sqlite:///x.db", "--now=2022-09-26", "problem", "list"]
    assert hoist_root_options(["--now", "T", "tick"]) == ["--now", "T", "tick"]
    # After "--" everything is an argument, as written.
    assert hoist_root_options(["problem", "show", "--", "--now"]) == [
        "problem", "show", "--", "--now"]

