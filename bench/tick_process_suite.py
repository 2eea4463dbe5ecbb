"""A tick as its own process (issue 17, item 2): `duban tick` with nothing due against an
empty Prefect flow run started the same way.

The floor is a Python process that starts its Prefect server the way duban does
(`flows.common.owned_prefect_server`: an owned uvicorn child, waited for until healthy),
runs one flow with no task, and stops the server: what any command running a flow pays.
The tick runs on a database with seed 002 launched and a small generated county imported, at
08:00 on the day before the campaign starts: the campaign is live, nothing is due (no stage,
no notice round, no rung, no duty, no report before the plan's hour), the outbox is empty.

The two commands run in turn, round after round (one untimed round of each first, for
Prefect's own database and the file cache; with `--quick` the floor's alone, then one round);
each figure is the median round, wall and CPU (user + system of the process and its
children, the Prefect server included). A plain `python -m bench --quick` leaves this suite
out (every round starts two Prefect servers); `--quick --only tick_process` runs it. Where
the rest goes (a profile of the process): docs/benchmarks.md, "A tick as its own process".
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Entry, scratch_database, seed_campaign

ROOT = Path(__file__).resolve().parents[1]

EMPTY_FLOW = """
from prefect import flow
from flows.common import owned_prefect_server, run_quietly

@flow(name="empty", persist_result=False)
def empty() -> None:
    return None

with owned_prefect_server():
    run_quietly(empty)
"""


def _duban() -> list[str]:
    script = Path(sys.executable).with_name("duban")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from duban.cli import main; sys.exit(main())"]


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process and its children (the Prefect server)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def quiet_moment() -> str:
    """08:00 China time on the day before seed 002's first stage: live, nothing due."""
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ

    plan = load_plan_file(ROOT / "plans/seed-002-shenqiu.yaml")
    day = plan.start - dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(8), tzinfo=CHINA_TZ).isoformat()


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """The tick process and the empty flow process, median of a few rounds, per backend."""
    rounds = 1 if quick else 5
    entries: list[Entry] = []
    for backend in backends:
        with scratch_database(backend) as url, tempfile.TemporaryDirectory() as home:
            seed_campaign(url, "small")
            env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_DATA_DIR": f"{home}/data",
                   "PREFECT_HOME": f"{home}/prefect", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                   "PREFECT_LOGGING_LEVEL": "WARNING"}
            env.pop("PREFECT_API_URL", None)
            commands = {"floor": [sys.executable, "-c", EMPTY_FLOW],
                        "tick": [*_duban(), "--now", quiet_moment(), "tick", "--json"]}
            # Untimed: Prefect's own database is made, the file cache warmed (quick: once).
            for command in list(commands.values())[:1 if quick else 2]:
                _run(command, env)
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
            for _ in range(rounds):
                for name, command in commands.items():
                    times[name].append(_run(command, env))
        floor_wall = statistics.median(w for w, _ in times["floor"])
        floor_cpu = statistics.median(c for _, c in times["floor"])
        tick_wall = statistics.median(w for w, _ in times["tick"])
        tick_cpu = statistics.median(c for _, c in times["tick"])
        entries += [
            Entry("duban tick process, nothing due: wall (floor: empty flow process)", backend,
                  rounds, tick_wall, "s", floor_wall, tick_wall / floor_wall),
            Entry("duban tick process, nothing due: CPU with the server (floor: empty flow)",
                  backend, rounds, tick_cpu, "s", floor_cpu, tick_cpu / floor_cpu),
        ]
    return entries
