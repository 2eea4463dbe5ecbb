"""A tick as its own process (issue 17, item 2): `duban tick` with nothing due against an
empty Prefect flow run started the same way, and `duban tick` with a stage due against that
stage's work measured in-process.

The floor is a Python process that starts its Prefect server the way duban does
(`flows.common.owned_prefect_server`: an owned uvicorn child, waited for until healthy),
runs one flow with no task, and stops the server: what any command running a flow pays.
The tick runs on a database with seed 002 launched and a small generated county imported, at
08:00 on the day before the campaign starts: the campaign is launched but not live yet, so
nothing is due (no stage, no notice round, no rung, no duty, no report), the outbox is empty.

The two commands run in turn, round after round (one untimed round of each first, for
Prefect's own database and the file cache; with `--quick` the floor's alone, then one round);
each figure is the median round, wall and CPU (user + system of the process and its
children, the Prefect server included). A plain `python -m bench --quick` leaves this suite
out (every round starts two Prefect servers); `--quick --only tick_process` runs it. Where
the rest goes (a profile of the process): docs/benchmarks.md, "A tick as its own process".

Server running: what a county office runs is `duban serve` all day with its Prefect server,
published in the data directory, and a `duban tick` by hand or cron beside it uses that server
(flows.common.published_server). The "server running" rows start the server as serve does
(OwnedPrefectServer(publish=True), in this process) and run the same commands with that data
directory: `duban tick` with nothing due against an empty flow run started the same way (the
same script, which finds the same server), and `duban tick` with the stage due against the
stage in-process. Their CPU adds the running server's own CPU over the command (read from
/proc), as the floors' does.

With a stage due: seed 002 and a generated county of STAGE_DUE_HOUSEHOLDS (3,000 with
`--quick`) imported once, then each round on a fresh copy of that database (SQLite's backup,
PostgreSQL's CREATE DATABASE … TEMPLATE), at 09:00 on the investigate stage's first day:
`duban --now … tick --json` as its own process, against the floor, the `advance-campaign`
flow of the same stage run in this process (server up, modules imported, one untimed round
first), as the campaign suite measures a stage. CPU: the process and its children (the
Prefect server) for the tick; this process and its children's CPU read from /proc for the
floor (the server's share included both ways).

Handed to `duban serve`, nothing due: `duban tick` beside a real `duban serve --no-web`, which
runs it, against the least a handed request costs (HANDED_NOTHING: a bare process handing a
no-op to a desk in the bench's process); the bench's CPU over the floor is counted with it.

Handed to `duban serve`: each stage-due round also starts a real `duban serve --no-web` on a
fresh copy (warmed by one nothing-due tick) and runs the same `duban tick` beside it, which
hands the tick to serve (duban.adapters.tick_desk). Its CPU is the command's plus serve's and
serve's Prefect server's over the command (read from /proc), printed whole and in those three
parts against the stage in-process.

At the county's size: the full run (not `--quick`, which could not seed it within its minute)
also gives the handed rows and their floor at COUNTY_HOUSEHOLDS (300,000, the issue's county),
two rounds: the tick's fixed cost beside a stage of a county's size. The 20,000-household rows
keep their meaning. DUBAN_BENCH_TICK_COUNTY_ONLY=1 runs only these rows (its value's rounds when
it is a number above 1; `python -m bench --only tick_process`, not with `--quick`), and
DUBAN_BENCH_TICK_COUNTY_TEMPLATE names a kept PostgreSQL database seeded as they seed theirs
(seed 002 launched, the county imported, nothing else) to copy instead of seeding one: before
and after a change, measured in turn, without the minute of seeding each time.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import Entry, scratch_database, seed_campaign

ROOT = Path(__file__).resolve().parents[1]
# The register of the stage-due rows (full run; --quick: 3,000).
STAGE_DUE_HOUSEHOLDS = 20_000
# The county rows' register (full run only).
COUNTY_HOUSEHOLDS = 300_000

EMPTY_FLOW = """
from prefect import flow
from flows.common import owned_prefect_server, run_quietly

@flow(name="empty", persist_result=False)
def empty() -> None:
    return None

# As `duban tick` does: serve's server when one is published for the data directory.
with owned_prefect_server(share=True):
    run_quietly(empty)
"""


# The handed tick's floor: the least a request handed to a warm process costs. A bare
# process hands a request to a tick desk (duban.adapters.tick_desk) in this process that does
# nothing and answers, as `duban tick` has serve run its tick. (A nothing-due tick runs no
# flow: the handed tick read 0.10× the floor before, an empty flow process on serve's server,
# and 0.71–0.80× an empty flow run handed to a warm process; neither bounded it.)
HANDED_NOTHING = """
import sys
from pathlib import Path
from duban.adapters.tick_desk import hand_off
if hand_off(Path(sys.argv[1]), sys.argv[2], None) is None:
    sys.exit("no desk answered")
"""


@contextmanager
def _idle_desk(database: str) -> Iterator[Path]:
    """A tick desk in this process that answers every request at once; yields its file."""
    from duban.adapters.tick_desk import TickDesk

    with tempfile.TemporaryDirectory(prefix="duban-bench-desk-") as folder:
        desk = TickDesk(Path(folder) / "desk.json", database, lambda _now: {})
        desk.start()
        try:
            yield desk.path
        finally:
            desk.stop()


def _run_handed_floor(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """`_run_beside` for the handed floor, with this process's CPU meanwhile (the desk's
    answer; the main thread only waits)."""
    started = time.process_time()
    wall, cpu = _run_beside(command, env)
    return wall, cpu + time.process_time() - started


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


def _run_parts(command: list[str], env: dict[str, str]) -> tuple[float, float, float, float]:
    """`_run_beside` beside a running serve, its CPU in parts: (wall, the command's CPU,
    serve's, its Prefect server's) over the command."""
    before = _descendants_cpu_by_role()
    wall, cpu = _run(command, env)
    after = _descendants_cpu_by_role()
    return (wall, cpu, after["serve"] - before["serve"],
            after["server"] - before["server"])


def _descendants_cpu_by_role() -> dict[str, float]:
    """CPU seconds of this process's live descendants: uvicorn (Prefect's server) or not."""
    from duban.adapters.children import descendants

    tick = os.sysconf("SC_CLK_TCK")
    total = {"serve": 0.0, "server": 0.0}
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                role = "server" if b"uvicorn" in fh.read() else "serve"
        except OSError:
            continue
        total[role] += (int(fields[11]) + int(fields[12])) / tick
    return total


def _run_beside(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process and its children, plus the CPU this process's
    running Prefect server spent meanwhile (the work it did for the command)."""
    before = _descendants_cpu()
    wall, cpu = _run(command, env)
    return wall, cpu + _descendants_cpu() - before


@contextmanager
def _environ_restored(*keys: str) -> Iterator[None]:
    """os.environ's `keys` as they were before the block, whatever it set."""
    saved = {k: os.environ.get(k) for k in keys}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _tick_env(home: str) -> dict[str, str]:
    """The environment of a measured `duban tick` process: its own data and Prefect home."""
    env = {**os.environ, "DUBAN_DATA_DIR": f"{home}/data",
           "PREFECT_HOME": f"{home}/prefect-tick", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    return env


@contextmanager
def _in_process_environ(home: str) -> Iterator[None]:
    """This process's environment while it measures the stage in-process, restored after."""
    with _environ_restored("DUBAN_DATABASE_URL", "DUBAN_DATA_DIR", "PREFECT_HOME",
                           "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_LOGGING_LEVEL"):
        os.environ.update({"DUBAN_DATA_DIR": f"{home}/data-in-process",
                           "PREFECT_HOME": f"{home}/prefect-in-process",
                           "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                           "PREFECT_LOGGING_LEVEL": "WARNING"})
        yield


@contextmanager
def _published_server(data: str, prefect_home: str) -> Iterator[None]:
    """A Prefect server started and published for `data` as `duban serve` does, stopped after."""
    from flows.common import OwnedPrefectServer

    with _environ_restored("DUBAN_DATA_DIR", "PREFECT_HOME"):
        os.environ.update({"DUBAN_DATA_DIR": data, "PREFECT_HOME": prefect_home})
        server = OwnedPrefectServer(publish=True)
        try:
            server.start()
            yield
        finally:
            server.stop()


@contextmanager
def _serve(env: dict[str, str]) -> Iterator[None]:
    """`duban serve --no-web` on env's database and data directory, leading its scheduler (its
    own scheduled tick a day away) with its tick desk published; stopped and reaped after."""
    import threading

    from duban.adapters.tick_desk import TICK_DESK

    desk = Path(env["DUBAN_DATA_DIR"]) / TICK_DESK
    child = subprocess.Popen([*_duban(), "serve", "--no-web", "--tick-seconds", "86400"],
                             env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    leading = threading.Event()

    def watch() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            if "本进程负责调度" in line:
                leading.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        deadline = time.monotonic() + 300
        while not (leading.is_set() and desk.exists()):
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"duban serve did not come up (exit {child.poll()})")
            time.sleep(0.2)
        yield
    finally:
        child.terminate()
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        watcher.join(5)


def quiet_moment() -> str:
    """08:00 China time on the day before seed 002's first stage: nothing due."""
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ

    plan = load_plan_file(ROOT / "plans/seed-002-shenqiu.yaml")
    day = plan.start - dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(8), tzinfo=CHINA_TZ).isoformat()


def stage_moment() -> str:
    """09:00 China time on seed 002's investigate stage's first day: that stage is due."""
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ

    plan = load_plan_file(ROOT / "plans/seed-002-shenqiu.yaml")
    stage = next(s for s in plan.stages if s.kind.value == "investigate")
    return dt.datetime.combine(stage.start, dt.time(9), tzinfo=CHINA_TZ).isoformat()


@contextmanager
def _copies(backend: str, url: str) -> Iterator[Callable[[], str]]:
    """A maker of fresh copies of the database at `url`; the copies are removed afterwards."""
    from sqlalchemy import create_engine, text

    made: list[str] = []

    def copy() -> str:
        if backend == "sqlite":
            source = url.removeprefix("sqlite:///")
            target = f"{source}.{len(made)}"
            src, dst = sqlite3.connect(source), sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                src.close()
                dst.close()
            made.append(target)
            return f"sqlite:///{target}"
        base, name = url.rsplit("/", 1)
        copy_name = f"{name}_{len(made)}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{copy_name}" TEMPLATE "{name}"'))
        admin.dispose()
        made.append(copy_name)
        return f"{base}/{copy_name}"

    try:
        yield copy
    finally:
        if backend != "sqlite" and made:
            admin = create_engine(url.rsplit("/", 1)[0] + "/postgres",
                                  isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for name in made:
                    conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      f"WHERE datname = '{name}'"))
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


def _descendants_cpu() -> float:
    """CPU seconds (user + system) of this process's live descendants, read from /proc."""
    from duban.adapters.children import descendants

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _handed(command: list[str], env: dict[str, str], home: str, url: str,
            n: int) -> tuple[float, float, float, float]:
    """`command` handed to a real `duban serve --no-web` on `url` (warmed by a tick with
    nothing due): (wall, the command's CPU, serve's, its Prefect server's)."""
    served = {**env, "DUBAN_DATABASE_URL": url, "DUBAN_DATA_DIR": f"{home}/data-served-{n}",
              "PREFECT_HOME": f"{home}/prefect-served"}
    with _serve(served):
        _run([*_duban(), "--now", quiet_moment(), "tick", "--json"], served)
        return _run_parts(command, served)


def _stage_in_process(campaign: int, moment: str, url: str) -> tuple[float, float]:
    """The stage's `advance-campaign` flow in this process on a fresh copy: wall and CPU (this
    process and its children, the Prefect server)."""
    from duban.services.root import process_root
    from flows.campaign import advance_campaign

    os.environ["DUBAN_DATABASE_URL"] = url
    process_root()  # a running worker's root is built already
    cpu = time.process_time() + _descendants_cpu()
    started = time.perf_counter()
    advance_campaign(campaign, moment)
    wall = time.perf_counter() - started
    return wall, time.process_time() + _descendants_cpu() - cpu


def _stage_due_county(backend: str, rounds: int) -> list[Entry]:
    """The handed tick with the investigate stage due at the county's size, against the
    stage in-process (the same measures as `_stage_due`'s handed rows)."""
    from flows.common import owned_prefect_server, quiet_prefect

    moment = stage_moment()
    stages: list[tuple[float, float]] = []
    handed: list[tuple[float, float]] = []
    parts: list[tuple[float, float, float]] = []
    with _county_database(backend) as (url, campaign), \
            tempfile.TemporaryDirectory() as home:
        env = _tick_env(home)
        command = [*_duban(), "--now", moment, "tick", "--json"]
        with _in_process_environ(home), _copies(backend, url) as copy, \
                owned_prefect_server(publish=True), quiet_prefect():
            for timed in [False] + [True] * rounds:
                stage = _stage_in_process(campaign, moment, copy())
                if timed:
                    stages.append(stage)
                    wall, own, serve, server = _handed(command, env, home, copy(),
                                                       len(stages))
                    handed.append((wall, own + serve + server))
                    parts.append((own, serve, server))
    stage_wall = statistics.median(w for w, _ in stages)
    stage_cpu = statistics.median(c for _, c in stages)
    handed_wall = statistics.median(w for w, _ in handed)
    handed_cpu = statistics.median(c for _, c in handed)
    own_cpu, serve_cpu, server_cpu = (statistics.median(p[i] for p in parts) for i in range(3))
    what = "duban tick process, investigate stage due at the county's size"
    return [
        Entry(f"{what}, handed to duban serve: wall (floor: the stage in-process)", backend,
              COUNTY_HOUSEHOLDS, handed_wall, "s", stage_wall, handed_wall / stage_wall),
        Entry(f"{what}, handed to duban serve: CPU with serve's (floor: the stage in-process, "
              "server included)", backend, COUNTY_HOUSEHOLDS, handed_cpu, "s", stage_cpu,
              handed_cpu / stage_cpu),
        Entry(f"{what}, handed: CPU of the command alone", backend, COUNTY_HOUSEHOLDS,
              own_cpu, "s", stage_cpu, own_cpu / stage_cpu),
        Entry(f"{what}, handed: CPU of serve over the tick", backend, COUNTY_HOUSEHOLDS,
              serve_cpu, "s", stage_cpu, serve_cpu / stage_cpu),
        Entry(f"{what}, handed: CPU of serve's Prefect server over the tick", backend,
              COUNTY_HOUSEHOLDS, server_cpu, "s", stage_cpu, server_cpu / stage_cpu),
    ]


@contextmanager
def _county_database(backend: str) -> Iterator[tuple[str, int]]:
    """The county rows' database and campaign: DUBAN_BENCH_TICK_COUNTY_TEMPLATE's (PostgreSQL,
    kept) or one seeded here (removed after)."""
    kept = os.environ.get("DUBAN_BENCH_TICK_COUNTY_TEMPLATE", "").strip()
    if kept and backend != "sqlite":
        from sqlalchemy import create_engine, text

        from bench.common import PG_ADMIN_URL

        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{kept}"
        engine = create_engine(url)
        with engine.connect() as conn:
            (campaign,) = conn.execute(text("SELECT id FROM campaign")).one()
        engine.dispose()  # CREATE DATABASE … TEMPLATE needs it unused
        yield url, int(campaign)
        return
    with scratch_database(backend) as url:
        campaign, _, _ = seed_campaign(url, "county", households=COUNTY_HOUSEHOLDS)
        yield url, campaign


def county_only() -> int | None:
    """The county rows' rounds when DUBAN_BENCH_TICK_COUNTY_ONLY asks for them alone."""
    value = os.environ.get("DUBAN_BENCH_TICK_COUNTY_ONLY", "").strip()
    if not value or value == "0":
        return None
    return int(value) if value.isdigit() and int(value) > 1 else 2


def _stage_due(backend: str, quick: bool, rounds: int) -> list[Entry]:
    """`duban tick` with the investigate stage due, against that stage's flow in-process."""
    from flows.common import owned_prefect_server, quiet_prefect

    households = 3_000 if quick else STAGE_DUE_HOUSEHOLDS
    moment = stage_moment()
    ticks: list[tuple[float, float]] = []
    shared: list[tuple[float, float]] = []
    stages: list[tuple[float, float]] = []
    handed: list[tuple[float, float]] = []
    parts: list[tuple[float, float, float]] = []  # the handed tick: command, serve, server
    with scratch_database(backend) as url, tempfile.TemporaryDirectory() as home:
        campaign, _, _ = seed_campaign(url, "county", households=households)
        env = _tick_env(home)
        command = [*_duban(), "--now", moment, "tick", "--json"]
        # The tick beside a running serve: the data directory where this process's server
        # is published.
        beside = {**env, "DUBAN_DATA_DIR": f"{home}/data-in-process"}
        with _in_process_environ(home), _copies(backend, url) as copy, \
                owned_prefect_server(publish=True), quiet_prefect():
            _run(command, {**env, "DUBAN_DATABASE_URL": copy()})  # untimed, as the floor
            _run(command, {**beside, "DUBAN_DATABASE_URL": copy()})
            for timed in [False] + [True] * rounds:
                stage = _stage_in_process(campaign, moment, copy())
                if timed:
                    stages.append(stage)
                    ticks.append(_run(command, {**env, "DUBAN_DATABASE_URL": copy()}))
                    shared.append(_run_beside(command,
                                              {**beside, "DUBAN_DATABASE_URL": copy()}))
                    wall, own, serve, server = _handed(
                        command, env, home, copy(), len(stages))
                    handed.append((wall, own + serve + server))
                    parts.append((own, serve, server))
    stage_wall = statistics.median(w for w, _ in stages)
    stage_cpu = statistics.median(c for _, c in stages)
    tick_wall = statistics.median(w for w, _ in ticks)
    tick_cpu = statistics.median(c for _, c in ticks)
    shared_wall = statistics.median(w for w, _ in shared)
    shared_cpu = statistics.median(c for _, c in shared)
    handed_wall = statistics.median(w for w, _ in handed)
    handed_cpu = statistics.median(c for _, c in handed)
    own_cpu, serve_cpu, server_cpu = (statistics.median(p[i] for p in parts) for i in range(3))
    return [
        Entry("duban tick process, investigate stage due, handed to duban serve: wall (floor: "
              "the stage in-process)", backend, households, handed_wall, "s", stage_wall,
              handed_wall / stage_wall),
        Entry("duban tick process, investigate stage due, handed to duban serve: CPU with "
              "serve's (floor: the stage in-process, server included)", backend, households,
              handed_cpu, "s", stage_cpu, handed_cpu / stage_cpu),
        # Where the handed tick's CPU goes (medians of each part; the floor is the stage's).
        Entry("duban tick process, investigate stage due, handed: CPU of the command alone",
              backend, households, own_cpu, "s", stage_cpu, own_cpu / stage_cpu),
        Entry("duban tick process, investigate stage due, handed: CPU of serve over the tick",
              backend, households, serve_cpu, "s", stage_cpu, serve_cpu / stage_cpu),
        Entry("duban tick process, investigate stage due, handed: CPU of serve's Prefect server "
              "over the tick", backend, households, server_cpu, "s", stage_cpu,
              server_cpu / stage_cpu),
        Entry("duban tick process, investigate stage due: wall (floor: the stage in-process)",
              backend, households, tick_wall, "s", stage_wall, tick_wall / stage_wall),
        Entry("duban tick process, investigate stage due: CPU with the server (floor: the "
              "stage in-process, server included)", backend, households, tick_cpu, "s",
              stage_cpu, tick_cpu / stage_cpu),
        Entry("duban tick process, investigate stage due, server running: wall (floor: the "
              "stage in-process)", backend, households, shared_wall, "s", stage_wall,
              shared_wall / stage_wall),
        Entry("duban tick process, investigate stage due, server running: CPU with the "
              "server's share (floor: the stage in-process, server included)", backend,
              households, shared_cpu, "s", stage_cpu, shared_cpu / stage_cpu),
    ]


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """The tick process against the empty flow process and, with a stage due, against the
    stage in-process; median of a few rounds, per backend."""
    # Prefect reads its settings once, when first imported: imported here, before a
    # measurement points PREFECT_HOME at a temporary directory, or every later in-process
    # server would inherit that directory's (deleted) database and fail to start.
    import prefect  # noqa: F401

    rounds = 1 if quick else 5
    entries: list[Entry] = []
    if not quick and (county_rounds := county_only()) is not None:
        return [e for backend in backends for e in _stage_due_county(backend, county_rounds)]
    for backend in backends:
        entries += _stage_due(backend, quick, 1 if quick else 3)
        if not quick:
            entries += _stage_due_county(backend, 2)
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
            times: dict[str, list[tuple[float, float]]] = {
                name: [] for name in [*commands, *(f"{n} beside" for n in commands)]}
            for _ in range(rounds):
                for name, command in commands.items():
                    times[name].append(_run(command, env))
            # The same two commands beside a running serve's published server.
            beside = {**env, "DUBAN_DATA_DIR": f"{home}/data-served"}
            with _published_server(f"{home}/data-served", f"{home}/prefect-served"):
                for command in commands.values():  # untimed, as above
                    _run(command, beside)
                for _ in range(rounds):
                    for name, command in commands.items():
                        times[f"{name} beside"].append(_run_beside(command, beside))
            # Handed to a running `duban serve` of this data directory.
            served = {**env, "DUBAN_DATA_DIR": f"{home}/data-serve",
                      "PREFECT_HOME": f"{home}/prefect-serve"}
            # Its floor: a bare process handing a request the same way to a desk in this
            # process that does nothing (HANDED_NOTHING).
            times["tick handed"], times["floor handed"] = [], []
            from duban.adapters.tick_desk import database_key

            with _serve(served), _idle_desk(database_key(url)) as desk:
                handed_floor = [sys.executable, "-c", HANDED_NOTHING, str(desk),
                                database_key(url)]
                for command in (commands["tick"], handed_floor):  # untimed, as above
                    _run_handed_floor(command, served)
                for _ in range(rounds):
                    times["tick handed"].append(_run_beside(commands["tick"], served))
                    times["floor handed"].append(_run_handed_floor(handed_floor, served))
        entries += _pair("nothing due, handed to duban serve", backend, rounds,
                         times["tick handed"], times["floor handed"],
                         "a bare process handing a no-op to a warm one")
        entries += _pair("nothing due", backend, rounds, times["tick"], times["floor"],
                         "empty flow process")
        entries += _pair("nothing due, server running", backend, rounds, times["tick beside"],
                         times["floor beside"], "empty flow process on the same server")
    return entries


def _pair(what: str, backend: str, rounds: int, tick: list[tuple[float, float]],
          floor: list[tuple[float, float]], floor_name: str) -> list[Entry]:
    """The wall and CPU rows of the tick process against its floor (medians)."""
    floor_wall = statistics.median(w for w, _ in floor)
    floor_cpu = statistics.median(c for _, c in floor)
    tick_wall = statistics.median(w for w, _ in tick)
    tick_cpu = statistics.median(c for _, c in tick)
    return [
        Entry(f"duban tick process, {what}: wall (floor: {floor_name})", backend, rounds,
              tick_wall, "s", floor_wall, tick_wall / floor_wall),
        Entry(f"duban tick process, {what}: CPU with the server (floor: {floor_name})",
              backend, rounds, tick_cpu, "s", floor_cpu, tick_cpu / floor_cpu),
    ]
