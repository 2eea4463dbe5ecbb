"""The root options (--now, --db) may stand anywhere in the command line."""

from __future__ import annotations

import click
import pytest

from duban.cli.base import NamedChoice, hoist_root_options
from duban.domain.lifecycle import STATUS_LABELS, Status


def test_root_options_after_the_command_are_moved_before_it() -> None:
    assert hoist_root_options(["tick", "--now", "2022-09-26T09:00", "--campaign", "1"]) == [
        "--now", "2022-09-26T09:00", "tick", "--campaign", "1"]
    assert hoist_root_options(["problem", "list", "--db=sqlite:///x.db", "--now=2022-09-26"]) == [
        "--db=sqlite:///x.db", "--now=2022-09-26", "problem", "list"]
    assert hoist_root_options(["--now", "T", "tick"]) == ["--now", "T", "tick"]
    # After "--" everything is an argument, as written.
    assert hoist_root_options(["problem", "show", "--", "--now"]) == [
        "problem", "show", "--", "--now"]



def test_a_choice_is_given_by_its_chinese_name_or_its_code() -> None:
    statuses = NamedChoice({s.value: STATUS_LABELS[s] for s in Status})

    @click.command()
    @click.option("--status", type=statuses)
    def show(status: str | None) -> None:
        click.echo(f"status={status}")

    from click.testing import CliRunner

    runner = CliRunner()
    assert runner.invoke(show, ["--status", "整改中"]).output == "status=rectifying\n"
    assert runner.invoke(show, ["--status", "rectifying"]).output == "status=rectifying\n"
    refused = runner.invoke(show, ["--status", "整改"])
    assert refused.exit_code == 2
    assert "“整改”不是可选的值，可选：待交办、已交办、整改中" in refused.output
    assert "[待交办|已交办|整改中|" in runner.invoke(show, ["--help"]).output


@pytest.mark.parametrize("names", [{"a": "甲", "b": "乙"}])
def test_a_named_choice_lists_names_not_codes(names: dict[str, str]) -> None:
    assert NamedChoice(names).get_metavar(click.Option(["--x"]), click.Context(click.Command("x"))) == "[甲|乙]"
