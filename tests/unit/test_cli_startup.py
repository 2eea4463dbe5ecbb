"""Start-up cost: a clerk's command imports only what it needs (issue 10, section 6).

Not timed (bench/startup_suite.py times it); these check which modules a command loads, in a
fresh interpreter, so a top-level import of a heavy library anywhere on the path fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from duban.domain.clock import FixedClock
from duban.services.database import MIGRATIONS_DIR, Database, schema_head
from models import ORM_MODULES
from tests.orchestration.helpers import add_problems, launch

ROOT = Path(__file__).resolve().parents[2]

# Libraries only some commands need: documents, charts, Excel, orchestration, the web, YAML
# plans on disk, the holiday calendar, and Alembic (the schema is at head already).
HEAVY = ("prefect", "matplotlib", "docx", "docxtpl", "openpyxl", "fastapi", "starlette",
         "uvicorn", "apscheduler", "PIL", "numpy", "alembic", "chinese_calendar", "yaml")


def _run(code: str, *args: str) -> dict[str, object]:
    """Run `code` in a fresh interpreter; it prints one JSON object on its last line."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def _heavy_loaded(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return sorted({m.split(".")[0] for m in modules} & set(HEAVY))


def test_help_imports_neither_the_database_layer_nor_heavy_libraries() -> None:
    loaded = _run("""
        import json, sys
        from click.testing import CliRunner
        from duban.cli import cli
        result = CliRunner().invoke(cli, ["--help"])
        assert result.exit_code == 0, result.output
        assert "problem" in result.output and "report" in result.output
        print(json.dumps(sorted(sys.modules)))
    """)
    assert isinstance(loaded, list)
    assert _heavy_loaded(loaded) == []
    assert "sqlalchemy" not in loaded and "models" not in loaded
    # The commands are listed from base.SUMMARIES: no command's module is imported (importing
    # them all for their short help was ~60 % of `duban --help`).
    from duban.cli.base import COMMAND_MODULES

    modules = {f"duban.cli.{m}" for ms in COMMAND_MODULES.values() for m in ms}
    assert sorted(modules & set(loaded)) == []
    assert "duban.domain.plan" not in loaded


def test_problem_list_imports_no_heavy_library(tmp_path: Path, clock: FixedClock) -> None:
    url = f"sqlite:///{tmp_path / 'duban.sqlite3'}"
    db = Database(url)
    db.migrate()
    campaign = launch(db, clock)
    add_problems(db, clock, campaign, 2)  # rows to name: towns, villages, offices, categories
    db.dispose()
    loaded = _run("""
        import json, sys
        from click.testing import CliRunner
        import duban.cli
        result = CliRunner().invoke(duban.cli.cli, ["--db", sys.argv[1], "problem", "list",
                                                    "--campaign", sys.argv[2]])
        assert result.exit_code == 0, result.output
        assert "共 2 条" in result.output, result.output
        print(json.dumps(sorted(sys.modules)))
    """, url, str(campaign))
    assert _heavy_loaded(loaded) == []
    assert isinstance(loaded, list) and "duban.services.listing" in loaded
    # Listing reads and decodes the stored plan for its names (categories, sources); the
    # plan's rules and the write side of the ledger stay unloaded.
    assert "duban.services.views.names" in loaded
    assert not {"duban.domain.routing", "duban.domain.sampling",
                "duban.services.problems", "duban.services.campaigns"} & set(loaded)
    # On SQLite no other database's dialect is imported (the models name no dialect keyword).
    assert "sqlalchemy.dialects.sqlite" in loaded
    assert not [m for m in loaded if m.startswith("sqlalchemy.dialects.postgresql")]
    # The list reads the Core tables: neither SQLAlchemy's ORM nor a mapped class is loaded.
    assert "models.tables" in loaded
    assert not [m for m in loaded if m == "sqlalchemy.orm" or m.startswith("sqlalchemy.orm.")]
    assert not {f"models.{module}" for module in ORM_MODULES} & set(loaded)


def test_every_command_is_found_by_its_modules_alone() -> None:
    """COMMAND_MODULES names every module that adds to a command, and no command is missing.

    Each command is looked up in a fresh import of the CLI package, so a subcommand that
    another module registers (problem submit, from review.py) is only found when the table
    names that module too.
    """
    found = _run("""
        import importlib, json, sys
        import click

        def fresh():
            for name in [m for m in sys.modules if m.startswith("duban.cli")]:
                del sys.modules[name]
            return importlib.import_module("duban.cli.base")

        def shape(command):
            if isinstance(command, click.Group):
                return sorted(command.commands)
            return []

        lazy = {}
        for name in sorted(fresh().COMMAND_MODULES):
            base = fresh()
            ctx = click.Context(base.cli)
            lazy[name] = shape(base.cli.get_command(ctx, name))
        base = fresh()
        for module in {m for ms in base.COMMAND_MODULES.values() for m in ms}:
            importlib.import_module(f"duban.cli.{module}")
        eager = {name: shape(command) for name, command in base.cli.commands.items()}
        print(json.dumps({"lazy": lazy, "eager": eager}))
    """)
    eager, lazy = found["eager"], found["lazy"]
    assert isinstance(eager, dict) and isinstance(lazy, dict)
    assert lazy == {name: subs for name, subs in eager.items() if name != "init"}
    assert "submit" in lazy["problem"]
    # Every command has its line in `duban --help`'s list, and no line names a lost command.
    from duban.cli.base import SUMMARIES

    assert sorted(SUMMARIES) == sorted(eager)


def test_schema_head_agrees_with_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert [schema_head()] == ScriptDirectory.from_config(config).get_heads()


@pytest.mark.parametrize("migrated", [False, True])
def test_at_head_only_after_migrating(tmp_path: Path, migrated: bool) -> None:
    database = Database(f"sqlite:///{tmp_path / 'duban.sqlite3'}")
    if migrated:
        database.migrate()
    assert database.at_head() is migrated
    database.dispose()


def test_a_sweep_that_escalates_nothing_does_not_import_the_renderer(
        tmp_path: Path, clock: FixedClock) -> None:
    # The ladder of the synthetic plan numbers 催办 and 通报, so the sweep looks for documents
    # to issue; with no deadline passed there are none, and the renderer (python-docx, lxml,
    # jinja2) stays unloaded: a tick's first sweep in `duban serve` used to import it.
    url = f"sqlite:///{tmp_path / 'duban.sqlite3'}"
    db = Database(url)
    db.migrate()
    campaign = launch(db, clock)
    add_problems(db, clock, campaign, 3)  # deadlines weeks away: no rung due today
    db.dispose()
    loaded = _run("""
        import datetime as dt, json, sys
        from duban.domain.clock import CHINA_TZ, FixedClock
        from duban.services.database import Database
        from duban.services.reminders import sweep
        clock = FixedClock(dt.datetime(2022, 9, 26, 10, 0, tzinfo=CHINA_TZ))
        result = Database(sys.argv[1]).run(sweep, clock, int(sys.argv[2]))
        assert result.documents == [], result
        print(json.dumps(sorted(sys.modules)))
    """, url, str(campaign))
    assert isinstance(loaded, list)
    assert "duban.services.reminders" in loaded
    assert "duban.adapters.documents.render" not in loaded
    assert "docx" not in loaded and "docxtpl" not in loaded
