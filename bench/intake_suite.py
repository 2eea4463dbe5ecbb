"""Intake benchmarks (issue 3): imports against their floors, and detection on each backend.

For each backend: a 300,000-row household register and a ~30,000-row ledger are imported with
`duban.services.intake.import_file` (read, validate, write, one transaction). The floor, in the
same run on the same file, is the fastest reader alone (python-calamine) plus writing exactly
the rows the import wrote by the backend's fastest path (`_FLOOR`). Each step runs in its own
process so its peak memory is its own; CPU is that process's plus, on PostgreSQL, its server
backend's, so a ratio can be read on a loaded machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Entry, scratch_database
from bench.floor_script import CPU, ROWS, SETTLE

ROOT = Path(__file__).resolve().parents[1]

_SETUP = r"""
import json, sys
from pathlib import Path
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
import datetime as dt
url, plan_path = sys.argv[1], Path(sys.argv[2])
db = Database(url); db.migrate()
plan = load_plan_file(plan_path)
if len(sys.argv) > 3:  # a twin of the campaign under another document number
    import dataclasses
    plan = dataclasses.replace(plan, document_number=plan.document_number + sys.argv[3])
clock = FixedClock(dt.datetime(2022, 9, 16, 9, tzinfo=CHINA_TZ))
print(json.dumps({"campaign": db.run(launch_campaign, clock, plan, plan_path.read_text(), "bench")}))
"""

_IMPORT = CPU + SETTLE + r"""
import json, resource, sys, time, datetime as dt
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
def imported(uow):
    if uow.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text
        state["pid"] = uow.session.scalar(text("SELECT pg_backend_pid()"))
    state["cpu"], state["t"] = cpu(state.get("pid")), time.perf_counter()
    return import_file(uow, clock, campaign, kind, path, imported_by="bench")
r = db.run(imported)
print(json.dumps({"seconds": time.perf_counter() - state["t"],
                  "cpu": cpu(state.get("pid")) - state["cpu"], "created": r.created,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# The floor (issue 17): the fastest reader's time for the file (python-calamine, every cell),
# plus writing exactly the rows the import wrote (bench/floor_script.py's ROWS): read back
# from its campaign (a ledger row becomes a problem, its co-offices and two audit events) and
# written to a twin campaign launched from the same plan; so import / floor is what checking,
# routing, numbering and converting cost.
_FLOOR = ROWS + r"""
import json, sys, time
import python_calamine as pc
from sqlalchemy import func, select
from duban.services.database import make_engine
from models import tables as T
url, path, kind, source, target = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
engine = make_engine(url)
pg = engine.dialect.name == "postgresql"
with engine.connect() as conn:
    top = conn.scalar(select(func.max(T.problem.c.id))) or 0
if kind == "households":
    plans = [plan(T.household, "household t", f"t.campaign_id = {source}",
                  campaign_id=str(target))]
else:
    plans = [plan(T.problem, "problem t", f"t.campaign_id = {source}",
                  id=f"t.id + {top}", campaign_id=str(target)),
             plan(T.problem_co_office, "problem_co_office t JOIN problem p ON p.id = t.problem_id",
                  f"p.campaign_id = {source}", problem_id=f"t.problem_id + {top}"),
             plan(T.audit_event, "audit_event t", f"t.campaign_id = {source}",
                  campaign_id=str(target), problem_id=f"t.problem_id + {top}")]
raw, cur, pid = connect(engine)
prepared = prepare(cur, pg, plans)
raw.commit()
if pg:
    cur.execute("CHECKPOINT")  # as before the import's clock (SETTLE)
c, t = cpu(pid), time.perf_counter()
rows_read = pc.load_workbook(path).get_sheet_by_index(0).to_python(skip_empty_area=True)
read_s, read_cpu = time.perf_counter() - t, cpu(pid) - c
c, t = cpu(pid), time.perf_counter()
write(cur, pg, prepared)
raw.commit()
write_s, write_cpu = time.perf_counter() - t, cpu(pid) - c
if pg and kind == "problems":
    resync_problem_ids(cur)
    raw.commit()
raw.close()
print(json.dumps({"read": read_s, "insert": write_s, "cpu": read_cpu + write_cpu,
                  "rows": sum(n for *_, n in prepared)}))
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


def _child(code: str, *args: object) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


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


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """Import and detection figures on each backend, with floors."""
    n = 20_000 if quick else 300_000
    entries: list[Entry] = []
    with tempfile.TemporaryDirectory(prefix="duban-bench-intake-") as tmp:
        hh, pp, n_households, n_problems = make_files(Path(tmp), n)
        for backend in backends:
            with scratch_database(backend) as url:
                campaign = _child(_SETUP, url, ROOT / "plans/seed-002-shenqiu.yaml")["campaign"]
                for kind, path, size, label in (("households", hh, n_households, "household register"),
                                                ("problems", pp, n_problems, "problem ledger")):
                    imported = _child(_IMPORT, url, campaign, kind, path)
                    twin = _child(_SETUP, url, ROOT / "plans/seed-002-shenqiu.yaml",
                                  f"-floor-{kind}")["campaign"]
                    written = _child(_FLOOR, url, path, kind, campaign, twin)
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
                    entries.append(Entry(f"import {label}: floor's read", backend, size,
                                         written["read"], "s"))
                    entries.append(Entry(f"import {label}: floor's write", backend, size,
                                         written["insert"], "s"))
                    entries.append(Entry(f"import {label}: rows written", backend, size,
                                         written["rows"], "rows"))
                    entries.append(Entry(f"import {label}: peak memory", backend, size,
                                         imported["peak_mib"], "MiB"))
                detected = _child(_DETECT, url, campaign)
                entries.append(Entry("detect+route+deadline+write (service)", backend,
                                     n_households, n_households / detected["seconds"],
                                     "households/s"))
    return entries
