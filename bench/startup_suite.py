"""Start-up cost of the CLI (issue 10): whole `duban` processes against a bare-import floor.

Each command is measured against the least a program doing its work pays, in the same
interpreter:

- `duban --help` against `python -c "import click"`: printing a click program's help needs
  click and nothing else. (Issue 10 set it against the floor below, `import sqlalchemy, click`,
  at ≤ 1.0×; it came out at 0.2–0.8×, under that floor, since `--help` imports no SQLAlchemy:
  a floor a command beats is not a floor, so the row's floor is click alone since issue 17.)
- `duban problem list --campaign N` on a township database against `python -c "import
  sqlalchemy, click"`: what any command of a SQLAlchemy + click program pays before it does
  anything (target ≤ 1.5×). The database is
  built by the suite through the services, so the figure is reproducible: seed 002 launched
  and a generated township (≈500 households, their visits and ledger) imported, as the demo
  does before its first stage. It is migrated before timing, as a clerk's database is;
- for reference, `python -c "import click; from models import Base"`: what the ORM and the
  mapped models cost before a command does anything (a command that reads through the ORM
  pays at least that; `problem list` reads the Core tables and does not).

The commands run in turn, round after round (one untimed round first, for the file cache,
its commands at once); each figure is the best round, in wall time and in CPU time (user +
system of the child). On a machine shared with other work the wall figures swing with the
load; the CPU figures less so.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Entry, scratch_database, seed_campaign

ROOT = Path(__file__).resolve().parents[1]
FLOOR = [sys.executable, "-c", "import sqlalchemy, click"]
HELP_FLOOR = [sys.executable, "-c", "import click"]
# Not a target: the least any command that reads through the ORM can cost (SQLAlchemy's ORM
# and duban's mapped models imported, nothing else), timed beside the others for reference.
# (`import models` alone loads neither since the mapped classes are imported on first use.)
ORM = [sys.executable, "-c", "import click; from models import Base"]


def _duban() -> list[str]:
    """The installed `duban` script beside this interpreter (what a clerk runs)."""
    script = Path(sys.executable).with_name("duban")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from duban.cli import main; sys.exit(main())"]


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process running `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def time_commands(commands: dict[str, list[str]], env: dict[str, str],
                  rounds: int, warm: frozenset[str] = frozenset()) -> dict[str, tuple[float, float]]:
    """Best wall and best CPU seconds of each command, run in turn for `rounds` rounds; one
    untimed run of each first, but of those in `warm` (run already, the same command line)."""
    # Untimed: the file cache, .pyc files; all at once (both cores), each done before a round.
    warming = [(command, subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL))
               for name, command in commands.items() if name not in warm]
    for command, process in warming:
        if process.wait() != 0:
            raise subprocess.CalledProcessError(process.returncode, command)
    best = {name: (float("inf"), float("inf")) for name in commands}
    for _ in range(rounds):
        for name, command in commands.items():
            wall, cpu = _run(command, env)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """`duban --help` and `duban problem list` against the floor, on each backend's database."""
    rounds = 2 if quick else 15
    entries: list[Entry] = []
    for n, backend in enumerate(backends):
        with scratch_database(backend) as url:
            campaign, _, problems = seed_campaign(url, "township")
            env = {**os.environ, "DUBAN_DATABASE_URL": url}
            commands = {"floor": FLOOR,
                        "list": [*_duban(), "problem", "list", "--campaign", str(campaign)]}
            if n == 0:  # these open no database: once is enough
                commands["help"] = [*_duban(), "--help"]
                commands["help floor"] = HELP_FLOOR
                commands["orm"] = ORM
            # The floor's command line is the same on every backend (it opens no database):
            # warm after the first backend's rounds.
            best = time_commands(commands, env, rounds,
                                 frozenset({"floor"}) if n else frozenset())
        names = {"help": ("duban --help vs python -c 'import click'", "none", 0, "help floor"),
                 "orm": ("reference: python -c 'import click; from models import Base'", "none",
                         0, "floor"),
                 "list": (f"duban problem list --campaign {campaign} vs python -c 'import "
                          "sqlalchemy, click'", backend, problems, "floor")}
        for key in ("help", "orm", "list"):
            if key not in best:
                continue
            label, on, size, floor = names[key]
            wall, cpu = best[key]
            floor_wall, floor_cpu = best[floor]
            entries.append(Entry(f"start-up: {label} (wall)", on, size,
                                 wall * 1000, "ms", floor_wall * 1000, wall / floor_wall))
            entries.append(Entry(f"start-up: {label} (CPU)", on, size,
                                 cpu * 1000, "ms CPU", floor_cpu * 1000, cpu / floor_cpu))
    return entries
