"""Run duban's benchmarks: `python -m bench [--quick] [--only NAME] [--backend sqlite|postgresql]`.

Prints a table and writes bench/results.json: a list of entries
{"name", "backend", "size", "value", "unit", "floor", "ratio"} (floor and ratio where a floor
is named); on stderr each suite's wall and CPU seconds (this process and its ended children).
`--quick` runs every benchmark at a smaller size; its entries go to bench/results-quick.json, so
a quick run never replaces the full figures. It is not yet the minute issue 17 asks: 112 s on a
quiet fast 2-core machine (2026-12-05 07:18, calibration loop 1.03–1.28 s) before the fifteenth
session; then Prefect's migrated database kept per Prefect version and copied into a fresh home
(flows/prefect_db.py), each scratch database a copy of one migrated per process, data made
once (helper `quick`), and smaller quick sizes (the county suites over 10,000 households, 20
offices' notices, the start-up suite's best of 2 rounds): 108.6 s wall, 98.9 s of CPU on a quiet
machine reading the calibration loop at ~2.0 s (docs/benchmarks.md, "On a quiet machine,
2026-12-05 11:22–11:36 UTC"); 88.8 s on the fast quiet machine (main 4deb51f). Then helper
quick3: the intake and 排查 suites' steps forked from a process that imported their modules
once (bench/forked.py; the intake's import keeps a process of its own, its peak memory a row),
the field suite on a copied database, serve's start polled without a TLS context per probe:
the run's CPU 78.5 → 67.6 s and 81.5 → 70.1 s back to back at load 16–21 (0.86×); measured
quiet on the fast machine after the session's passes, 73.3 s twice, then 62.3 and 60.0 s with
the measured children starting from cached bytecode (`_cached_bytecode`; docs/benchmarks.md,
"On a quiet machine, 2026-12-05 12:56–14:27 UTC"). Then helper quick4: the suites' untimed
set-up made while the shared Prefect server starts (`prepare`: the migrated databases, the city
sweep's database, the intake's files, the forking processes), the intake's four import
processes started at once ahead (bench/forked.py `Ahead`), the start-up suite's warm-up round
at once (docs/benchmarks.md, "Quick run: set-up while the server starts"); measured quiet on
a machine reading the calibration loop at 1.29–1.51 s, 62.2 and 64.3 s (the suites 60.4 and
62.4 s; docs/benchmarks.md, "On a quiet machine, 2026-12-05 17:17–17:31 UTC"). On the next
session's machine, whose loop read 2.46–3.01 s, 88.8 and 90.2 s after a first review day's
snapshot and duty inserts were compiled once; 65.4–68.5 s when it read 1.65–2.19 s, with a
launch's scope rows written by one INSERT per table (docs/benchmarks.md, "A slow day").
What is left is measurement and its state: the tick suite's first tick on each database (the
measured tick's state), the field suite's `duban serve` starts, the start-up suite's processes.

`tick_process` and `city` stay out of a plain `--quick` (SLOW_STARTS): each alone takes more
than the minute at its quick size, see SLOW_STARTS.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Entry, pg_available, private_prefect, stages_unpaced

RESULTS = Path(__file__).with_name("results.json")
QUICK_RESULTS = Path(__file__).with_name("results-quick.json")

Suite = Callable[[bool, list[str]], list[Entry]]

# Suites left out of a plain `--quick` run (`--quick --only NAME` runs them), each over the
# minute alone even with Prefect's database copied in (helper `quick`, 2026-12-05):
# - tick_process measures processes that start their own Prefect server: 9 starts a backend at
#   its quick size (the ticks and empty flows in homes of their own, serve's, the published
#   one), each still ~6.6 s of CPU on today's machine (~3 s on the fast one; Prefect's server
#   imports are ~85% of a start once the migrations are skipped). Joining would take a server
#   start under ~0.5 s, which would no longer be what "a tick as its own process" measures.
# - city is time-bound by construction: per mode a 5 s warm-up, an idle window of at least 8 s
#   and a busy one (a 排查 of 20,000 households as its own process), two modes, 20 clerks on a
#   web server of its own, two 20,000-household counties seeded, and its growth part (the
#   county campaign on PostgreSQL at 2,000 and 20,000 households).
SLOW_STARTS = {"tick_process", "city"}
# Suites whose flows run on an owned Prefect server (one each, unless one is running).
FLOW_SUITES = {"orchestration", "campaign", "tick"}


def _core(quick: bool, backends: list[str]) -> list[Entry]:
    from bench import core_throughput

    n = 20_000 if quick else 200_000
    r = core_throughput.run(n)
    return [
        Entry("detection + routing + deadlines", "none", n,
              r["route_deadline_problems_per_s"], "problems/s"),
        Entry("detection over households", "none", n, r["detect_households_per_s"],
              "households/s"),
    ]


def suites() -> dict[str, Suite]:
    """Every benchmark suite, by name; each module is imported only when it runs."""
    found: dict[str, Suite] = {"core": _core}
    for name in ("intake", "investigate", "documents", "orchestration", "campaign", "tick",
                 "tick_process",
                 "startup", "field", "city"):
        try:
            module = __import__(f"bench.{name}_suite", fromlist=["run_suite"])
        except ModuleNotFoundError:
            continue
        found[name] = module.run_suite
    return found


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def render(entries: list[Entry]) -> str:
    """The results as an aligned plain-text table."""
    headers = ["benchmark", "backend", "size", "value", "unit", "floor", "ratio"]
    rows = [[e.name, e.backend, f"{e.size:,}", f"{e.value:,.1f}", e.unit,
             "" if e.floor is None else f"{e.floor:,.1f}",
             "" if e.ratio is None else f"{e.ratio:.2f}×"] for e in entries]
    widths = [max(_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def merge(earlier: list[dict[str, Any]], fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fresh entries replace earlier ones of the same name and backend; the rest are kept.

    So `--only intake` refreshes the intake figures without dropping the other suites'.
    """
    def key(entry: dict[str, Any]) -> tuple[str, str]:
        return entry["name"], entry["backend"]

    replaced = {key(e): e for e in fresh}
    kept = [replaced.pop(key(e), e) for e in earlier]
    return kept + [e for e in fresh if key(e) in replaced]


def results_path(quick: bool) -> Path:
    """Where a run's entries go: a quick run's small sizes are kept apart from the full ones
    (many entries name no size, so merging them would replace a full figure by a quick one)."""
    return QUICK_RESULTS if quick else RESULTS


def write_results(entries: list[Entry], quick: bool, path: Path | None = None) -> Path:
    """Merge `entries` into the run's results file (full or quick, or `path`); return it."""
    path = path or results_path(quick)
    earlier = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    payload = merge(earlier, [e.as_dict() for e in entries])
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def shares_one_server(quick: bool, chosen: set[str]) -> bool:
    """Whether the run's suites share one owned Prefect server: a quick run with two or more
    flow suites (each start costs 9–22 s; a full run keeps a server per measurement, as its
    figures were taken), and none that starts or publishes a server of its own."""
    return quick and len(chosen & FLOW_SUITES) > 1 and not chosen & SLOW_STARTS


def prepare(chosen: set[str], quick: bool, backends: list[str]) -> None:
    """The suites' set-up that no figure times, made ahead: each backend's migrated database,
    and what a suite's `prepare(quick, backends)` makes (kept until that suite runs)."""
    from bench.common import migrated_template

    for backend in backends:
        migrated_template(backend)
    for name in sorted(chosen):
        try:
            module = __import__(f"bench.{name}_suite", fromlist=["run_suite"])
        except ModuleNotFoundError:  # core is defined here
            continue
        ahead = getattr(module, "prepare", None)
        if ahead is not None:
            ahead(quick, backends)


@contextmanager
def _one_prefect_server(share: bool, ahead: Callable[[], None]) -> Iterator[None]:
    """One owned Prefect server for the suites' flows, when they share one; while it starts
    (4–5 s of wall, mostly its own imports in a process of its own) this process makes the
    suites' untimed set-up (`ahead`) on the other core. Nothing is timed until both are done."""
    if not share:
        yield
        return
    private_prefect()
    from flows.common import owned_prefect_server

    failed: list[BaseException] = []

    def make() -> None:
        try:
            ahead()
        except BaseException as exc:  # raised in the main thread, below
            failed.append(exc)

    started = time.perf_counter()
    maker = threading.Thread(target=make, name="bench-prepare")
    maker.start()
    try:
        with owned_prefect_server():
            up = time.perf_counter() - started
            maker.join()
            if failed:
                raise failed[0]
            print(f"  one Prefect server for the flow suites: up in {up:.1f} s; the suites' "
                  f"set-up made meanwhile, both done in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)
            yield
    finally:
        maker.join()


def _cpu() -> float:
    """CPU seconds of this process and its children that ended (the suites' child processes,
    their servers); PostgreSQL's backends are not counted."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime


def _cached_bytecode() -> None:
    """Let the measured processes start from cached bytecode, as an installed duban does.

    A shell that sets PYTHONDONTWRITEBYTECODE (some sandboxes do) made every child process
    compile duban's modules from source: ~45 ms of a `duban --help`'s 125 ms. duban is
    installed editable, so pip compiled none of its own modules: they are compiled here
    (nothing to do when they are current)."""
    import compileall

    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    root = Path(__file__).resolve().parents[1]
    for package in ("duban", "models", "flows", "tasks", "bench"):
        compileall.compile_dir(root / package, quiet=1)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen suites, print the table, write results.json."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--only", action="append", help="run only these suites")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    stages_unpaced()
    backends = args.backend or ["sqlite", "postgresql"]
    if "postgresql" in backends and not pg_available():
        print("PostgreSQL not reachable at 127.0.0.1:5432: skipping its runs", file=sys.stderr)
        backends = [b for b in backends if b != "postgresql"]
    chosen = {name: suite for name, suite in suites().items()
              if not args.only or name in args.only}
    if args.quick and not args.only:
        for name in SLOW_STARTS & chosen.keys():
            print(f"skipping {name} with --quick (name it with --only)", file=sys.stderr)
            del chosen[name]
    _cached_bytecode()
    entries: list[Entry] = []
    run_started, run_cpu = time.perf_counter(), _cpu()
    share = shares_one_server(args.quick, set(chosen))
    with _one_prefect_server(share, lambda: prepare(set(chosen), args.quick, backends)):
        for name, suite in chosen.items():
            started, cpu = time.perf_counter(), _cpu()
            print(f"running {name} …", file=sys.stderr, flush=True)
            entries.extend(suite(args.quick, backends))
            print(f"  {name}: {time.perf_counter() - started:.1f} s, CPU {_cpu() - cpu:.1f} s "
                  f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    # After the shared Prefect server stopped: its CPU is counted here, in no suite's.
    print(f"all suites: {time.perf_counter() - run_started:.1f} s, CPU {_cpu() - run_cpu:.1f} s "
          f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    print(render(entries))
    written = write_results(entries, args.quick)
    print(f"\nwrote {written}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
