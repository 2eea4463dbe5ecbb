"""A city on one deployment (issue 17 item 6): one county's 排查 against another county's pages,
and how each stage grows with the register.

    python -m bench.city_suite [--quick] [--part interference|growth]

**Interference.** One PostgreSQL database holds a city of ten counties
(DUBAN_BENCH_CITY_COUNTIES): county B (seed 002 with 30,000 problems written as `bench.web_load
setup` writes them: mid-rectification statuses, co-offices, the web bench's users) and nine A
counties (seed 002, a generated register of 300,000 households each, its visits and ledger
through the intake service, waiting for their 排查 stage). It is built once (`city_bench_…`,
dropped afterwards; DUBAN_BENCH_CITY_TEMPLATE names a kept one instead) and each round runs on
a fresh copy of it (CREATE DATABASE … TEMPLATE). A duban web server (uvicorn, two workers, as
`bench.web_load run` starts it) serves 50 clerks (think 1–3 s, mean 2 s) reading B's
dashboard and ledger pages for the whole round. Windows alternate: A idle, then three A
counties' 排查 in turn (DUBAN_BENCH_CITY_PER_WINDOW) in one process, each an
`advance-campaign` flow run on the bench's Prefect server, as a tick's flow run on a
scaled-mode worker runs its campaigns' due stages; the busy window is from the process's
"start" line to its last result, and each idle window lasts as long as the busy window before
it (the first 20 s). Three pairs a round use the nine A counties. The pairs alternate the
stage's modes (DUBAN_BENCH_CITY_MODES), each of DUBAN_BENCH_CITY_ROUNDS rounds (default 2)
starting with the next mode: "plain" (nice 0, DUBAN_STAGE_DUTY=1, the stage as before) and
"deployed" (the scaled mode's own behaviour: the worker's niceness, DUBAN_WORKER_NICE, default
10, and the stage's duty, the worker's default 0.1 or DUBAN_BENCH_CITY_DUTY); "main" is plain
with duban's code from DUBAN_BENCH_CITY_BASE (a checkout of main). Per window: B's page p50 / p95 / p99,
requests, errors, the web server's CPU per request and the load average; per pair the busy
p95 over the idle p95; per mode every window's requests pooled, as the clerks saw them and
as the server took them (its Server-Timing header). The clerks stand for browsers on other
machines: their event loop runs at real-time priority where the system allows it (root;
recorded), so a wait of theirs for the stage is not counted as B's page being slow.
`--quick`: B with 3,000 problems, two A counties of 20,000 households, 20 clerks, one pair
per mode.

**Growth.** The county campaign (`bench.campaign_suite`'s stages) on PostgreSQL at 30,000 and
300,000 households (`--quick`: 2,000 and 20,000; DUBAN_BENCH_CITY_3M=1 adds 3,000,000), each in
a fresh database: intake, 排查, 整改, 提升 (复核), wall and CPU (this process and render workers).
Each size's figure has the same figure at one tenth of the size as its floor: a ratio of 10 is
linear growth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    PG_ADMIN_URL,
    Entry,
    private_prefect,
    scratch_pg,
    seed_campaign_timed,
    stages_unpaced,
)

PORT = int(os.environ.get("DUBAN_BENCH_CITY_PORT", "8401"))
PLAN = ROOT / "plans" / "seed-002-shenqiu.yaml"


def _stage_moment(kind: str) -> str:
    """The 09:00 China time of the first day of seed 002's stage of this kind."""
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ

    plan = load_plan_file(PLAN)
    stage = next(s for s in plan.stages if s.kind.value == kind)
    return dt.datetime.combine(stage.start, dt.time(9), tzinfo=CHINA_TZ).isoformat()


# ---- the stage as its own process ----------------------------------------------------------

# How A's stages run in a busy window. "deployed" is the scaled mode's own behaviour: a flow run
# of `duban worker` runs at its CPU priority (DUBAN_WORKER_NICE, default 10 below the web app)
# and the stage works DUBAN_STAGE_DUTY of the time (the worker's default, 0.1); "plain" is
# neither (nice 0, duty 1), the stage as it ran before.
# "main" is "plain" with the stage's code from another checkout (DUBAN_BENCH_CITY_BASE, e.g. a
# worktree of main), for measuring a change back to back with what it changes.
MODES = ("plain", "deployed", "main")
DEFAULT_MODES = ("plain", "deployed")


def _mode_settings(mode: str) -> tuple[int, dict[str, str]]:
    """The niceness and the environment of the stage process in this mode."""
    from duban.cli.worker import worker_nice

    if mode == "plain":
        return 0, {"DUBAN_STAGE_DUTY": "1"}
    if mode == "main":
        base = os.environ.get("DUBAN_BENCH_CITY_BASE", "").strip()
        if not base:
            raise SystemExit("mode main: DUBAN_BENCH_CITY_BASE names no checkout")
        return 0, {"DUBAN_STAGE_DUTY": "1", "DUBAN_BENCH_CITY_CODE": base}
    # What `duban worker` gives its flow runs, or DUBAN_BENCH_CITY_DUTY / DUBAN_WORKER_NICE to
    # try others. (DUBAN_STAGE_DUTY itself is not read: the benches' entry points set it to 1
    # for the other suites, bench.common.stages_unpaced.)
    from duban.cli.worker import flow_run_environment

    duty = os.environ.get("DUBAN_BENCH_CITY_DUTY", "").strip()
    given = {"DUBAN_STAGE_DUTY": duty} if duty else {}
    return worker_nice(os.environ), {
        "DUBAN_STAGE_DUTY": flow_run_environment(given)["DUBAN_STAGE_DUTY"]}


def stage_child(campaigns: list[int], moment: str) -> int:
    """Run each campaign's due stages in turn, each an advance-campaign flow run on
    $PREFECT_API_URL (as a tick runs its campaigns' due stages), printing "start" first and
    each run's wall and CPU as a JSON line."""
    code = os.environ.get("DUBAN_BENCH_CITY_CODE")
    if code:  # mode "main": duban, tasks and flows from that checkout
        sys.path.insert(0, code)
    from flows.campaign import advance_campaign
    from flows.common import quiet_prefect

    if code:
        import duban
        import flows

        for module in (duban, flows):
            assert Path(str(module.__file__)).resolve().is_relative_to(Path(code).resolve())
    backend_nice = _backend_nice()
    with quiet_prefect():
        print("start", flush=True)
        for campaign in campaigns:
            cpu, started = time.process_time(), time.perf_counter()
            state = advance_campaign(campaign, moment, return_state=True)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            done = state.result()
            print(json.dumps({"campaign": campaign, "wall": wall, "cpu": cpu,
                              "nice": os.nice(0), "backend_nice": backend_nice,
                              "duty": os.environ.get("DUBAN_STAGE_DUTY"),
                              "stages": [d["kind"] for d in done]}),
                  flush=True)
    return 0


def _backend_nice() -> int | None:
    """The niceness this process's PostgreSQL backends run at (duban's engine renices them to
    the process's own where the database has the `prioritize` extension; the bench's server
    is this machine's), or None when it cannot be read."""
    from sqlalchemy import text

    from duban.services.database import make_engine

    engine = make_engine(os.environ["DUBAN_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        return os.getpriority(os.PRIO_PROCESS, int(pid or 0))
    except OSError:
        return None
    finally:
        engine.dispose()


# ---- interference --------------------------------------------------------------------------


# A request of a clerk: when it was sent (perf_counter), its kind, the seconds to its answer
# as the clerk saw it, its status, and the server's own seconds (its Server-Timing header).
Sample = tuple[float, str, float, int, float]


def _window_stats(samples: list[Sample], start: float,
                  end: float) -> dict[str, Any]:
    """B's page latencies for requests started inside [start, end)."""
    from bench.web_load import pct

    inside = [s for s in samples if start <= s[0] < end]
    took = [s[2] for s in inside]
    served = [s[4] for s in inside if not math.isnan(s[4])]
    return {"took": took, "served": served, "span": (start, end),
            "seconds": round(end - start, 1),
            "requests": len(took), "errors": sum(1 for s in inside if s[3] != 200),
            "p50_ms": round(pct(took, 50) * 1000, 1), "p95_ms": round(pct(took, 95) * 1000, 1),
            "p99_ms": round(pct(took, 99) * 1000, 1),
            "mean_ms": round(statistics.fmean(took) * 1000, 1) if took else float("nan"),
            "server_p95_ms": round(pct(served, 95) * 1000, 1)}


def _server_seconds(header: str | None) -> float:
    """The app's own time from a Server-Timing header ("app;dur=12.3", milliseconds)."""
    if not header or not header.startswith("app;dur="):
        return float("nan")
    return float(header.removeprefix("app;dur=")) / 1000


def _clerks_first() -> str:
    """Run this process's (the clerks') event loop ahead of everything else on the machine,
    where it may: real-time FIFO, dropped by every process it starts.

    The clerks stand for browsers on other machines. On the bench's two cores their loop
    waited for the A county's stage like any process, and every such wait was counted as B's
    page being slow. The policy it got is recorded with each window ("SCHED_FIFO", or
    "SCHED_OTHER" where the system refused)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(1))
    except (AttributeError, PermissionError, OSError):
        return "SCHED_OTHER"
    return "SCHED_FIFO"


def _clerks_as_before() -> None:
    """The clerks' loop back to the default policy."""
    with contextlib.suppress(AttributeError, PermissionError, OSError):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def _show(window: dict[str, Any]) -> None:
    """A window's figures on stderr as they come."""
    shown = {k: v for k, v in window.items() if k not in ("took", "served", "span")}
    print(f"  {shown}", file=sys.stderr, flush=True)


async def _busy(campaigns: list[int], moment: str, mode: str, child_env: dict[str, str],
                server_pid: int, samples: list[Sample]
                ) -> dict[str, Any]:
    """One busy window: the A counties' 排查 in turn in one process, started as a worker
    starts a flow run in this mode; B's figures from its "start" to its last result."""
    from bench.web_load import tree_cpu

    nice, extra = _mode_settings(mode)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.city_suite", "stage", ",".join(map(str, campaigns)),
        moment, cwd=ROOT, env={**{k: v for k, v in child_env.items() if k != "DUBAN_STAGE_DUTY"},
                               **extra}, stdout=asyncio.subprocess.PIPE,
        # A session of its own, as Prefect's process worker starts each flow run.
        start_new_session=True, preexec_fn=(lambda: os.nice(nice)) if nice else None)
    try:
        assert child.stdout is not None
        line = "-"
        while line and line != "start":  # anything Prefect prints before it
            line = (await child.stdout.readline()).decode().strip()
        if line != "start":
            raise RuntimeError(f"county A's stage process ended (rc {child.returncode})")
        load = os.getloadavg()[0]
        cpu0 = await asyncio.to_thread(tree_cpu, server_pid)
        start = time.perf_counter()
        runs: list[dict[str, Any]] = []
        while len(runs) < len(campaigns):
            result = (await child.stdout.readline()).decode().strip()
            if not result:
                break
            if result.startswith("{"):
                runs.append(json.loads(result))
        end = time.perf_counter()
        cpu1 = await asyncio.to_thread(tree_cpu, server_pid)
        if await child.wait() != 0 or len(runs) != len(campaigns):
            raise RuntimeError(f"county A's stage process failed (rc {child.returncode})")
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    for run in runs:
        if "investigate" not in run["stages"] or run["nice"] != nice:
            raise RuntimeError(f"the stage process ran {run}, not 排查 at nice {nice}")
    busy = {"side": "busy", "load": round(load, 1), "counties": len(runs),
            "duty": runs[0]["duty"],
            "stage_wall_s": [round(r["wall"], 1) for r in runs],
            "stage_cpu_s": [round(r["cpu"], 2) for r in runs], "nice": nice,
            "backend_nice": runs[0].get("backend_nice"),
            **_window_stats(samples, start, end)}
    busy["server_cpu_ms_per_request"] = round((cpu1 - cpu0) * 1000 / max(busy["requests"], 1),
                                              1)
    return busy


async def _alternate(base: str, url: str, b_campaign: int, a_campaigns: list[int],
                     per_window: int, modes: list[str], clients: int, think: float,
                     warmup: float,
                     window: float, gap: float, child_env: dict[str, str],
                     server_pid: int) -> list[dict[str, Any]]:
    """Clerks on B's pages throughout; windows alternate A idle / A counties' 排查 running,
    `per_window` counties in turn per busy window, pair i's stage in mode modes[i % n]; each
    idle window lasts as long as the busy window before it (the first `window` seconds)."""
    import httpx

    from bench.web_load import pick_request, sign_in, tree_cpu, users

    accounts = users(url)
    rng = random.Random(7)
    towns = [u.removeprefix("town-") for u, r in accounts if r == "town"]
    offices = [u.removeprefix("office-") for u, r in accounts if r == "office"]
    cast = [accounts[0], accounts[1], *rng.sample(accounts[2:], k=min(len(accounts) - 2, 48))]
    while len(cast) < clients:
        cast.append(rng.choice(accounts))
    cast = cast[:clients]
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    sessions = [httpx.AsyncClient(base_url=base, limits=limits, timeout=60) for _ in cast]
    gate = asyncio.Semaphore(4)

    async def signed_in(client: httpx.AsyncClient, username: str) -> None:
        # A few at a time, again if the connection drops: 50 password checks at once kept a
        # worker's loop busy past uvicorn's health check on a loaded machine, which restarted it.
        async with gate:
            for attempt in range(3):
                try:
                    await sign_in(client, username)
                    return
                except httpx.TransportError:
                    if attempt == 2:
                        raise
                    await asyncio.sleep(2)

    await asyncio.gather(*(signed_in(c, u) for c, (u, _) in zip(sessions, cast, strict=True)))
    samples: list[Sample] = []
    stopping = False

    async def clerk(i: int) -> None:
        local = random.Random(7000 + i)
        await asyncio.sleep(local.uniform(0, think))  # clerks do not all start at once
        while not stopping:
            kind, path = pick_request(local, b_campaign, towns, offices)
            t0 = time.perf_counter()
            try:
                answer = await sessions[i].get(path)
                status, server = answer.status_code, answer.headers.get("server-timing")
            except httpx.HTTPError:
                status, server = 0, None
            samples.append((t0, kind, time.perf_counter() - t0, status,
                            _server_seconds(server)))
            await asyncio.sleep(local.uniform(think / 2, think * 3 / 2))

    vacuums: list[tuple[float, int]] = []  # (when, autovacuum workers on the database)

    async def watch_autovacuum() -> None:
        # What A's writes set off after its stage ends (autovacuum over its problems and
        # their indexes) may run into the next idle window: each window says how long.
        from sqlalchemy import create_engine, text

        engine = create_engine(url, pool_size=1)
        query = text("SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                     "'autovacuum worker' AND datname = current_database()")

        def count() -> int:
            with engine.connect() as conn:
                return int(conn.scalar(query) or 0)
        try:
            while not stopping:
                vacuums.append((time.perf_counter(), await asyncio.to_thread(count)))
                await asyncio.sleep(0.5)
        finally:
            engine.dispose()

    policy = _clerks_first()
    workers = [asyncio.create_task(clerk(i)) for i in range(len(cast))]
    workers.append(asyncio.create_task(watch_autovacuum()))
    moment = _stage_moment("investigate")
    windows: list[dict[str, Any]] = []
    groups = [a_campaigns[i:i + per_window]
              for i in range(0, len(a_campaigns) - per_window + 1, per_window)]
    try:
        await asyncio.sleep(warmup)
        for pair, group in enumerate(groups, start=1):
            mode = modes[(pair - 1) % len(modes)]
            load = os.getloadavg()[0]
            cpu0 = await asyncio.to_thread(tree_cpu, server_pid)
            start = time.perf_counter()
            await asyncio.sleep(window)
            end = time.perf_counter()
            cpu1 = await asyncio.to_thread(tree_cpu, server_pid)
            idle = {"mode": mode, "pair": pair, "side": "idle", "load": round(load, 1),
                    **_window_stats(samples, start, end)}
            idle["server_cpu_ms_per_request"] = round(
                (cpu1 - cpu0) * 1000 / max(idle["requests"], 1), 1)
            windows.append(idle)
            _show(idle)
            busy = {"mode": mode, "pair": pair, **await _busy(
                group, moment, mode, child_env, server_pid, samples)}
            windows.append(busy)
            _show(busy)
            window = busy["seconds"]  # the next idle window as long as this busy one
            await asyncio.sleep(gap)  # A's writes settle before the next idle window
    finally:
        stopping = True
        await asyncio.gather(*workers, return_exceptions=True)
        _clerks_as_before()
        for c in sessions:
            await c.aclose()
    return [{**w, "clerks": policy, "autovacuum_s": _autovacuum_seconds(vacuums, *w["span"])}
            for w in windows]


def _autovacuum_seconds(vacuums: list[tuple[float, int]], start: float, end: float) -> float:
    """Seconds of [start, end) with an autovacuum worker on the database (0.5 s samples)."""
    return round(0.5 * sum(1 for at, n in vacuums if start <= at < end and n), 1)


def build_city(url: str, b_problems: int, counties: int,
               a_households: int) -> tuple[int, list[int]]:
    """County B (as `bench.web_load setup` writes it) and counties - 1 A counties waiting for
    their 排查 on the database at `url`; returns B's campaign and the A counties'."""
    from sqlalchemy import create_engine, text

    from bench import web_load

    started = time.perf_counter()
    web_load.setup(url, b_problems, fresh=False)  # county B: campaign 1, users
    b_campaign = 1
    a_campaigns = []
    for i in range(counties - 1):
        campaign, seconds, _, ledger = seed_campaign_timed(url, "county",
                                                           households=a_households)
        a_campaigns.append(campaign)
        print(f"  county A{i + 1} (campaign {campaign}): {a_households:,} households, "
              f"{ledger:,} ledger problems, intake {seconds:.1f} s", file=sys.stderr,
              flush=True)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        # As the scaled mode's deployment guide sets it up where the server has it
        # (deploy/README.md): the worker's niced flow runs renice their backends too.
        if conn.scalar(text("SELECT count(*) FROM pg_available_extensions "
                            "WHERE name = 'prioritize'")):
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS prioritize"))
        conn.execute(text("ANALYZE"))
        households = conn.scalar(text("select count(*) from household"))
        problems = conn.scalar(text("select count(*) from problem"))
    engine.dispose()
    print(f"  city database loaded in {time.perf_counter() - started:.0f} s: "
          f"{households:,} households, {problems:,} problems", file=sys.stderr, flush=True)
    return b_campaign, a_campaigns


@contextlib.contextmanager
def _city_template(quick: bool, b_problems: int, counties: int,
                   a_households: int) -> Iterator[tuple[str, int, list[int]]]:
    """The city's database, built once (or DUBAN_BENCH_CITY_TEMPLATE's, kept), to copy from."""
    kept = os.environ.get("DUBAN_BENCH_CITY_TEMPLATE", "").strip()
    if kept and not quick:
        from sqlalchemy import create_engine, text

        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{kept}"
        engine = create_engine(url)
        with engine.connect() as conn:
            ids = list(conn.scalars(text("select id from campaign order by id")))
        engine.dispose()
        yield url, ids[0], ids[1:counties]
        return
    with scratch_pg(PG_ADMIN_URL, "city_bench") as url, \
            tempfile.TemporaryDirectory(prefix="duban-bench-city-") as data:
        os.environ["DUBAN_DATABASE_URL"] = url
        os.environ["DUBAN_DATA_DIR"] = data
        b_campaign, a_campaigns = build_city(url, b_problems, counties, a_households)
        yield url, b_campaign, a_campaigns


@contextlib.contextmanager
def _copy_of(template_url: str) -> Iterator[str]:
    """A fresh copy of the city's database (CREATE DATABASE … TEMPLATE), dropped after."""
    from sqlalchemy import create_engine, text

    template = template_url.rsplit("/", 1)[1]
    name = f"{os.environ.get('DUBAN_PG_NAME_PREFIX') or 'city_bench'}_run_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield template_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              f"WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def interference(quick: bool) -> list[Entry]:
    """County B's page p95 with A idle and with A counties' 排查 running, pairs alternating
    the stage's modes (plain, deployed), each round on a fresh copy of one city database."""
    private_prefect()
    from bench import web_load
    from bench.web_load import pct
    from flows.common import owned_prefect_server

    b_problems = 3_000 if quick else 30_000
    a_households = 20_000 if quick else 300_000
    # A counties' 排查 per busy window, one after another (a busy window of one county was
    # ~4 s and ~100 requests on a quiet machine: its p95 was the fifth slowest request).
    per_window = 1 if quick else int(os.environ.get("DUBAN_BENCH_CITY_PER_WINDOW", "3"))
    counties = 3 if quick else int(os.environ.get("DUBAN_BENCH_CITY_COUNTIES", "10"))
    rounds = 1 if quick else int(os.environ.get("DUBAN_BENCH_CITY_ROUNDS", "2"))
    modes = [m.strip() for m in os.environ.get("DUBAN_BENCH_CITY_MODES", ",".join(DEFAULT_MODES))
             .split(",") if m.strip()]
    if set(modes) - set(MODES):
        raise SystemExit(f"DUBAN_BENCH_CITY_MODES: {modes}, not of {MODES}")
    clients, think = (20, 2.0) if quick else (50, 2.0)
    warmup, window, gap = (5.0, 8.0, 1.0) if quick else (20.0, 20.0, 5.0)
    windows: list[dict[str, Any]] = []
    with _city_template(quick, b_problems, counties, a_households) as (template, b_campaign,
                                                                       a_campaigns), \
            owned_prefect_server() as api_url, \
            tempfile.TemporaryDirectory(prefix="duban-bench-city-") as data:
        for number in range(1, rounds + 1):
            # Modes alternate pair by pair (the machine's load drifts less between neighbours
            # than between rounds), each round starting with the next mode.
            order = modes[number - 1:] + modes[:number - 1]
            with _copy_of(template) as url:
                print(f"  round {number}: {', '.join(order)}, … (load "
                      f"{os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
                child_env = {**os.environ, "PREFECT_API_URL": str(api_url),
                             "DUBAN_DATABASE_URL": url, "DUBAN_DATA_DIR": data}
                server = web_load.start_server(url, PORT, workers=2, cache=30.0, pool=20)
                try:
                    found = asyncio.run(_alternate(
                        f"http://127.0.0.1:{PORT}", url, b_campaign, a_campaigns, per_window,
                        order, clients, think, warmup, window, gap, child_env, server.pid))
                finally:
                    web_load.stop_server(server)
            windows += [{**w, "round": number} for w in found]
    size = b_problems
    entries: list[Entry] = []
    for number in sorted({w["round"] for w in windows}):
        for pair in sorted({w["pair"] for w in windows if w["round"] == number}):
            idle, busy = (next(w for w in windows if w["round"] == number
                               and w["pair"] == pair and w["side"] == side)
                          for side in ("idle", "busy"))
            mode = busy["mode"]
            label = f"city [{mode}, round {number}, pair {pair}]"
            entries += [
                Entry(f"{label} B's p95, A's 排查 ({busy['counties']} × {a_households:,} "
                      "households) / A idle", "postgresql", size, busy["p95_ms"], "ms",
                      floor=idle["p95_ms"],
                      ratio=busy["p95_ms"] / idle["p95_ms"] if idle["p95_ms"] else None),
                Entry(f"{label} requests busy / idle", "postgresql", size,
                      float(busy["requests"]), "requests", floor=float(idle["requests"])),
                Entry(f"{label} window busy / idle", "postgresql", size, busy["seconds"], "s",
                      floor=idle["seconds"]),
                Entry(f"{label} load average busy / idle", "postgresql", size, busy["load"],
                      "1-min", floor=idle["load"]),
                Entry(f"{label} web server CPU per request busy / idle", "postgresql", size,
                      busy["server_cpu_ms_per_request"], "ms",
                      floor=idle["server_cpu_ms_per_request"]),
                Entry(f"{label} A's 排查 per county, wall (floor: CPU)", "postgresql",
                      a_households, statistics.fmean(busy["stage_wall_s"]), "s",
                      floor=statistics.fmean(busy["stage_cpu_s"])),
            ]
    for mode in modes:
        of_mode = [w for w in windows if w["mode"] == mode]
        pooled = {side: pct([t for w in of_mode if w["side"] == side for t in w["took"]], 95)
                  * 1000 for side in ("idle", "busy")}
        ratios = [e.ratio for e in entries if e.ratio is not None and f"[{mode}," in e.name]
        if ratios:
            entries.append(Entry(f"city [{mode}] B's p95 busy / idle, median of the pairs",
                                 "postgresql", size, statistics.median(ratios), "×"))
        entries.append(Entry(f"city [{mode}] B's p95 busy / idle, every window pooled",
                             "postgresql", size, pooled["busy"], "ms", floor=pooled["idle"],
                             ratio=pooled["busy"] / pooled["idle"] if pooled["idle"] else None))
        # A mode's own idle windows follow the other mode's busy ones (and what those leave
        # behind); every idle window of the run pooled is the same baseline for each mode.
        every_idle = pct([t for w in windows if w["side"] == "idle" for t in w["took"]], 95) * 1000
        entries.append(Entry(f"city [{mode}] B's p95 busy / every idle window of the run pooled",
                             "postgresql", size, pooled["busy"], "ms", floor=every_idle,
                             ratio=pooled["busy"] / every_idle if every_idle else None))
        served = {side: pct([t for w in of_mode if w["side"] == side for t in w["served"]], 95)
                  * 1000 for side in ("idle", "busy")}
        entries.append(Entry(f"city [{mode}] B's p95 in the server (Server-Timing) busy / "
                             "idle, every window pooled", "postgresql", size, served["busy"],
                             "ms", floor=served["idle"],
                             ratio=served["busy"] / served["idle"] if served["idle"] else None))
        entries.append(Entry(f"city [{mode}] seconds with autovacuum on the database, busy "
                             "/ idle windows", "postgresql", size,
                             sum(w["autovacuum_s"] for w in of_mode if w["side"] == "busy"),
                             "s", floor=sum(w["autovacuum_s"] for w in of_mode
                                            if w["side"] == "idle")))
        entries.append(Entry(f"city [{mode}] requests pooled busy / idle", "postgresql", size,
                             float(sum(w["requests"] for w in of_mode if w["side"] == "busy")),
                             "requests",
                             floor=float(sum(w["requests"] for w in of_mode
                                             if w["side"] == "idle"))))
        backend = [w["backend_nice"] for w in of_mode
                   if w["side"] == "busy" and w.get("backend_nice") is not None]
        if backend:
            entries.append(Entry(f"city [{mode}] A's database backend niceness (process: "
                                 "floor)", "postgresql", a_households, float(max(backend)),
                                 "nice", floor=float(next(w["nice"] for w in of_mode
                                                          if w["side"] == "busy"))))
        walls = [x for w in of_mode if w["side"] == "busy" for x in w["stage_wall_s"]]
        cpus = [x for w in of_mode if w["side"] == "busy" for x in w["stage_cpu_s"]]
        if walls:
            entries.append(Entry(f"city [{mode}] A's 排查 per county, median wall (floor: "
                                 "median CPU)", "postgresql", a_households,
                                 statistics.median(walls), "s", floor=statistics.median(cpus)))
    # The measurement's own spread: the idle windows in time order, alternately in two pools
    # (nothing runs beside the clerks in either), the larger pooled p95 over the smaller.
    idles = sorted((w for w in windows if w["side"] == "idle"),
                   key=lambda w: (w["round"], w["pair"]))
    halves = [pct([t for w in idles[i::2] for t in w["took"]], 95) * 1000 for i in (0, 1)]
    if len(idles) >= 2 and min(halves) > 0:
        entries.append(Entry("city [control] B's p95, idle windows alternately pooled, larger "
                             "/ smaller", "postgresql", size, max(halves), "ms",
                             floor=min(halves), ratio=max(halves) / min(halves)))
    entries.append(Entry("city: the clerks' loop ran at real-time priority (1 yes, 0 no)",
                         "postgresql", size, float(all(w["clerks"] == "SCHED_FIFO"
                                                       for w in windows)), "flag"))
    entries.append(Entry("city: counties on the database (B + A counties)", "postgresql",
                         size, float(counties), "counties"))
    entries.append(Entry("city: errors on B's pages (all windows)", "postgresql", size,
                         float(sum(w["errors"] for w in windows)), "requests"))
    return entries


# ---- growth --------------------------------------------------------------------------------


def growth(quick: bool) -> list[Entry]:
    """Each stage's wall and CPU at register sizes ten times apart, on PostgreSQL."""
    private_prefect()
    from duban.adapters.documents.parallel import worker_cpu_seconds
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ
    from flows.campaign import advance_campaign
    from flows.common import owned_prefect_server, quiet_prefect

    sizes = [2_000, 20_000] if quick else [30_000, 300_000]
    if os.environ.get("DUBAN_BENCH_CITY_3M") == "1" and not quick:
        sizes.append(3_000_000)
    plan = load_plan_file(PLAN)
    figures: dict[tuple[str, int], tuple[float, float, float]] = {}
    sizes_mb: dict[int, float] = {}
    with owned_prefect_server(), quiet_prefect():
        # The first campaign of a process pays imports, template loads and Prefect's first
        # flow runs: a small campaign runs first, unmeasured.
        for households in [1_000, *sizes]:
            with scratch_pg(PG_ADMIN_URL, "city_bench") as url, \
                    tempfile.TemporaryDirectory(prefix="duban-bench-city-") as data:
                os.environ["DUBAN_DATABASE_URL"] = url
                os.environ["DUBAN_DATA_DIR"] = data
                load = os.getloadavg()[0]
                campaign, wall, cpu, ledger = seed_campaign_timed(url, "county",
                                                                  households=households)
                figures["intake", households] = (wall, cpu, load)
                print(f"  {households:,} households: intake {wall:.1f} s / {cpu:.1f} s CPU "
                      f"(load {load:.1f})", file=sys.stderr, flush=True)
                for stage in plan.stages:
                    moment = dt.datetime.combine(stage.start, dt.time(9), tzinfo=CHINA_TZ)
                    load = os.getloadavg()[0]
                    cpu = time.process_time() + worker_cpu_seconds()
                    started = time.perf_counter()
                    state = advance_campaign(campaign, moment.isoformat(), return_state=True)
                    wall = time.perf_counter() - started
                    cpu = time.process_time() + worker_cpu_seconds() - cpu
                    state.result()  # raises if the stage failed
                    figures[stage.name, households] = (wall, cpu, load)
                    print(f"  {households:,} households: {stage.name} {wall:.1f} s / "
                          f"{cpu:.1f} s CPU (load {load:.1f})", file=sys.stderr, flush=True)
                if households == 1_000:
                    figures = {k: v for k, v in figures.items() if k[1] != 1_000}
                    continue
                sizes_mb[households] = _database_mb(url)
                print(f"  {households:,} households ({ledger:,} ledger problems): "
                      + ", ".join(f"{k} {v[0]:.1f} s / {v[1]:.1f} s CPU (load {v[2]:.1f})"
                                  for (k, n), v in figures.items() if n == households),
                      file=sys.stderr, flush=True)
    entries: list[Entry] = []
    for (stage_name, households), (wall, cpu, load) in figures.items():
        tenth = figures.get((stage_name, households // 10))
        for what, value, index in (("wall", wall, 0), ("CPU", cpu, 1)):
            floor = tenth[index] if tenth else None
            entries.append(Entry(
                f"city growth: {stage_name} {what} at {households:,} households "
                "(floor: the same at a tenth)", "postgresql", households, value, "s",
                floor=floor, ratio=value / floor if floor else None))
        entries.append(Entry(f"city growth: {stage_name} load at {households:,} households",
                             "postgresql", households, load, "1-min"))
    for households, mb in sizes_mb.items():
        tenth_mb = sizes_mb.get(households // 10)
        entries.append(Entry(f"city growth: database size after the campaign at {households:,} "
                             "households (floor: the same at a tenth)", "postgresql",
                             households, mb, "MB", floor=tenth_mb,
                             ratio=mb / tenth_mb if tenth_mb else None))
    return entries


def _database_mb(url: str) -> float:
    """The database's size on disk (tables, indexes, TOAST), in MB."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        size = conn.scalar(text("select pg_database_size(current_database())"))
    engine.dispose()
    return float(size) / 1e6


def run_suite(quick: bool, backends: list[str], part: str | None = None) -> list[Entry]:
    """Both parts on PostgreSQL (a city is one PostgreSQL); nothing without it."""
    if "postgresql" not in backends:
        return []
    entries: list[Entry] = []
    if part in (None, "interference"):
        entries += interference(quick)
    if part in (None, "growth"):
        entries += growth(quick)
    return entries


def main(argv: list[str] | None = None) -> int:
    """Run the city suite (or, as a child, one stage), print the table, merge results.json."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["stage"]:
        return stage_child([int(c) for c in argv[1].split(",")], argv[2])
    parser = argparse.ArgumentParser(prog="python -m bench.city_suite")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=["interference", "growth"])
    args = parser.parse_args(argv)
    stages_unpaced()
    from bench.__main__ import render, write_results
    from duban.adapters.children import exit_on_signals

    with exit_on_signals():  # SIGTERM stops the web server and drops the databases too
        entries = run_suite(args.quick, ["postgresql"], args.part)
    print(render(entries))
    print(f"wrote {write_results(entries, args.quick)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
