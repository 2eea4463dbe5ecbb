"""Intake benchmarks (issue 3): imports against their floors, and detection on each backend.

For each backend: a 300,000-row household register and a ~30,000-row ledger are imported with
`duban.services.intake.import_file` (read, validate, write, one transaction). The floor, in the
same run on the same file, is the fastest reader alone (python-calamine) plus writing exactly
the rows the import wrote by the backend's fastest path (`_FLOOR`). Each step runs in its own
process so its peak memory is its own (the import's started for it, as its peak memory is a row:
started ahead, all four at once, each waiting with its imports done, `forked.Ahead`; the floors
and detection forked from one that imported their modules once, bench/forked.py); CPU is that
process's plus, on PostgreSQL, its server backend's, so a ratio can be read on a loaded machine;
on PostgreSQL the two parts are also printed apart. The import is measured to its commit: the
planner statistics it refreshes after the commit for the stages after it (ANALYZE, which the
floor does not run) are a row of their own, with the ratio they would make counted in.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from bench.common import QUICK_HOUSEHOLDS, Entry, copied_database, scratch_database
from bench.floor_script import CPU, PEAK, ROWS, SETTLE
from bench.forked import Ahead, Forker

ROOT = Path(__file__).resolve().parents[1]

_IMPORT = CPU + SETTLE + PEAK + r"""
import json, sys, time, datetime as dt
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.database import Database
from duban.services.intake import import_file
url, campaign, kind, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
db = Database(url)
clock = FixedClock(dt.datetime(2022, 9, 16, 9, tzinfo=CHINA_TZ))
# Warm as a running worker is, and as the floor's process is before its clock: the mappers
# configured, a pooled connection open, the reader imported (one-off costs of a process).
import python_calamine
from sqlalchemy import text
from sqlalchemy.orm import configure_mappers
configure_mappers()
with db.engine.connect() as conn:
    conn.execute(text("SELECT 1"))
    settle(conn)
state = {}
def mark(name):
    state[name] = (time.process_time(), backend_cpu(state.get("pid")), time.perf_counter())
def imported(uow):
    if uow.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text
        state["pid"] = uow.session.scalar(text("SELECT pg_backend_pid()"))
    mark("start")
    # The first callback after the commit, so before the statistics the import refreshes
    # for the stages after it (ANALYZE, on the same pooled backend: counted apart below).
    uow.after_commit(lambda: mark("committed"))
    return import_file(uow, clock, campaign, kind, path, imported_by="bench")
r = db.run(imported)
mark("end")
(c0, s0, t0), (c1, s1, t1), (c2, s2, t2) = state["start"], state["committed"], state["end"]
print(json.dumps({"seconds": t1 - t0, "cpu": c1 - c0 + s1 - s0, "client": c1 - c0,
                  "server": s1 - s0, "stats_seconds": t2 - t1, "stats_cpu": c2 - c1 + s2 - s1,
                  "created": r.created,
                  "peak_mib": peak_mib()}))
"""

# The floor (issue 17): the fastest reader's time for the file (python-calamine, every cell),
# plus writing exactly the rows the import wrote (bench/floor_script.py's ROWS), read back
# from the import's database and written, same campaign and same ids, into a mirror of that
# database as it was before the import (a copy taken after the campaign's launch, which the
# floor of the register then brings to the state the ledger's import starts from): the same
# storage work into the same tables, indexes and constraints in the same state. So import /
# floor is what reading the file's cells into records, checking, routing, numbering and
# converting cost. (A twin campaign in the import's own database, as before 2026-12-04
# evening, wrote into tables already holding the import's rows: its server CPU was up to a
# quarter above the import's own COPY of the same rows.)
_FLOOR = ROWS + r"""
import json, sys, time
import python_calamine as pc
from duban.services.database import make_engine
from models import tables as T
url, mirror, path, kind, campaign = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
source, engine = make_engine(url), make_engine(mirror)
pg = engine.dialect.name == "postgresql"
if kind == "households":
    plans = [plan(T.household, "household t", f"t.campaign_id = {campaign}"),
             plan(T.village_households, "village_households t", f"t.campaign_id = {campaign}")]
else:
    plans = [plan(T.problem, "problem t", f"t.campaign_id = {campaign}", id="t.id"),
             plan(T.problem_co_office, "problem_co_office t JOIN problem p ON p.id = t.problem_id",
                  f"p.campaign_id = {campaign}"),
             plan(T.audit_event, "audit_event t", f"t.campaign_id = {campaign}")]
raw, cur, _ = connect(source)
prepared = prepare(cur, pg, plans)
raw.commit()
raw.close()
raw, cur, pid = connect(engine)
if pg:
    cur.execute("CHECKPOINT")  # as before the import's clock (SETTLE)
    raw.commit()
c, s, t = time.process_time(), backend_cpu(pid), time.perf_counter()
rows_read = pc.load_workbook(path).get_sheet_by_index(0).to_python(skip_empty_area=True)
c1, s1, t1 = time.process_time(), backend_cpu(pid), time.perf_counter()
write(cur, pg, prepared)
raw.commit()
c2, s2, t2 = time.process_time(), backend_cpu(pid), time.perf_counter()
read_s, read_cpu, write_s, write_cpu = t1 - t, c1 - c + s1 - s, t2 - t1, c2 - c1 + s2 - s1
if pg and kind == "problems":
    resync_problem_ids(cur)
    raw.commit()
raw.close()
print(json.dumps({"read": read_s, "insert": write_s, "cpu": read_cpu + write_cpu,
                  "client": c2 - c, "server": s2 - s, "rows": sum(n for *_, n in prepared)}))
"""

_DETECT = r"""
import json, sys, time, datetime as dt
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.database import Database
from duban.services.intake import detect_problems
url, campaign = sys.argv[1], int(sys.argv[2])
clock = FixedClock(dt.datetime(2022, 9, 20, 9, tzinfo=CHINA_TZ))
t = time.perf_counter()
r = Database(url).run(detect_problems, clock, campaign)
print(json.dumps({"seconds": time.perf_counter() - t, "created": r.created}))
"""


# What the floors' and detection's scripts import, once, in the process they are forked from.
PRELOAD = """
import datetime, io, json, time
import python_calamine
import sqlalchemy, sqlalchemy.orm
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.database import Database, make_engine
from duban.services.intake import detect_problems, import_file
from models import tables
"""


def _launch(url: str) -> int:
    """Seed 002 launched on the database, in this process (set-up: a child cost ~1 s of CPU)."""
    import datetime as dt

    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ, FixedClock
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database

    path = ROOT / "plans/seed-002-shenqiu.yaml"
    db = Database(url)
    db.migrate()
    clock = FixedClock(dt.datetime(2022, 9, 16, 9, tzinfo=CHINA_TZ))
    try:
        return int(db.run(launch_campaign, clock, load_plan_file(path),
                          path.read_text(encoding="utf-8"), "bench"))
    finally:
        db.dispose()  # nobody connected: the floor's mirror is copied from it next


def make_files(directory: Path, households: int) -> tuple[Path, Path, int, int]:
    """Generate a county over seed 002's scope and write the register and ledger files."""
    from bench.intake_read import write_xlsx
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.columns import HOUSEHOLD_COLUMNS, PROBLEM_COLUMNS
    from duban.synth import generate_for_plan, iter_household_rows, iter_problem_rows

    plan = load_plan_file(ROOT / "plans/seed-002-shenqiu.yaml")
    county = generate_for_plan(plan, "county", seed=2022, households=households)
    hh = write_xlsx(directory / "households.xlsx", HOUSEHOLD_COLUMNS,
                    ([row[h] for h in HOUSEHOLD_COLUMNS] for row in iter_household_rows(county)))
    pp = write_xlsx(directory / "problems.xlsx", PROBLEM_COLUMNS,
                    ([row[h] for h in PROBLEM_COLUMNS] for row in iter_problem_rows(county)))
    return hh, pp, len(county.households), len(county.problems)


# The register and ledger files made ahead (`prepare`), by households; each in a directory
# removed at exit. And the forking process started ahead.
_prepared: dict[int, tuple[Path, Path, int, int]] = {}
_forkers: list[Forker] = []


def _households(quick: bool) -> int:
    return QUICK_HOUSEHOLDS if quick else 300_000


def prepare(quick: bool, backends: list[str]) -> None:
    """The files the imports read, written ahead (bench.__main__.prepare): untimed set-up."""
    import atexit
    import shutil

    n = _households(quick)
    forker = Forker(PRELOAD)  # its imports meanwhile, in a process of its own
    atexit.register(forker.close)
    _forkers.append(forker)
    directory = tempfile.mkdtemp(prefix="duban-bench-intake-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    _prepared[n] = make_files(Path(directory), n)


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """Import and detection figures on each backend, with floors."""
    n = _households(quick)
    entries: list[Entry] = []
    with tempfile.TemporaryDirectory(prefix="duban-bench-intake-") as tmp, \
            (_forkers.pop() if _forkers else Forker(PRELOAD)) as forker, \
            contextlib.ExitStack() as started:
        _child = forker.run
        # The imports each in a process of its own, as its peak memory is a row (a process of
        # its own peaks while importing, which a forked child does not repeat: it read 15–27
        # MiB lower): all started at once (their imports on both cores) and waiting with their
        # imports done; none imports beside a timed step.
        importers = {(backend, kind): Ahead(PRELOAD, _IMPORT) for backend in backends
                     for kind in ("households", "problems")}
        for importer in importers.values():
            started.callback(importer.close)
        made = _prepared.pop(n, None)
        hh, pp, n_households, n_problems = made or make_files(Path(tmp), n)
        forker.ready()  # its imports done before the first import is timed
        for importer in importers.values():
            importer.ready()
        for backend in backends:
            with scratch_database(backend) as url:
                campaign = _launch(url)
                stack = contextlib.ExitStack()
                mirror = stack.enter_context(copied_database(url))
                for kind, path, size, label in (("households", hh, n_households, "household register"),
                                                ("problems", pp, n_problems, "problem ledger")):
                    imported = importers[backend, kind].run(url, campaign, kind, path)
                    written = _child(_FLOOR, url, mirror, path, kind, campaign)
                    floor_s = written["read"] + written["insert"]
                    entries.append(Entry(
                        f"import {label} vs floor (calamine read + "
                        f"{'COPY' if backend == 'postgresql' else 'raw executemany'} "
                        "of the rows it wrote)",
                        backend, size, imported["seconds"], "s", floor_s,
                        imported["seconds"] / floor_s))
                    cpu_note = " (client + server backend)" if backend == "postgresql" else ""
                    entries.append(Entry(f"import {label}: CPU vs the floor's CPU{cpu_note}",
                                         backend, size, imported["cpu"], "s", written["cpu"],
                                         imported["cpu"] / written["cpu"]
                                         if written["cpu"] else None))
                    if backend == "postgresql":
                        for part in ("client", "server"):
                            entries.append(Entry(
                                f"import {label}: {part} CPU vs the floor's {part} CPU",
                                backend, size, imported[part], "s", written[part],
                                imported[part] / written[part] if written[part] else None))
                        # Not storage work: the planner's statistics for the next stage,
                        # refreshed after the commit; shown apart, and with the import.
                        entries.append(Entry(
                            f"import {label}: ANALYZE after the commit, CPU (not in the "
                            "floor; with it, vs the floor's CPU)", backend, size,
                            imported["stats_cpu"], "s", written["cpu"],
                            (imported["cpu"] + imported["stats_cpu"]) / written["cpu"]
                            if written["cpu"] else None))
                    entries.append(Entry(f"import {label}: floor's read", backend, size,
                                         written["read"], "s"))
                    entries.append(Entry(f"import {label}: floor's write", backend, size,
                                         written["insert"], "s"))
                    entries.append(Entry(f"import {label}: rows written", backend, size,
                                         written["rows"], "rows"))
                    entries.append(Entry(f"import {label}: peak memory", backend, size,
                                         imported["peak_mib"], "MiB"))
                stack.close()
                detected = _child(_DETECT, url, campaign)
                entries.append(Entry("detect+route+deadline+write (service)", backend,
                                     n_households, n_households / detected["seconds"],
                                     "households/s"))
    return entries
