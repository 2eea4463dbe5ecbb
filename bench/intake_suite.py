"""Intake benchmarks (issue 3): imports against their floors, and detection on each backend.

For each backend: a 300,000-row household register and a ~30,000-row ledger are imported with
`duban.services.intake.import_file` (read, validate, write, one transaction). The floor, in the
same run on the same file, is the fastest reader alone (python-calamine) plus a bare
`executemany` INSERT of the same raw rows into a plain table. Each step runs in its own process
so its peak memory is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Entry, scratch_database

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

_IMPORT = r"""
import json, resource, sys, time, datetime as dt
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.database import Database
from duban.services.intake import import_file
url, campaign, kind, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
db = Database(url)
clock = FixedClock(dt.datetime(2022, 9, 16, 9, tzinfo=CHINA_TZ))
t = time.perf_counter()
r = db.run(import_file, clock, campaign, kind, path, imported_by="bench")
print(json.dumps({"seconds": time.perf_counter() - t, "created": r.created,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# The floor: calamine's read of every cell, then one executemany of the same raw rows.
_FLOOR = r"""
import json, resource, sys, time
import python_calamine as pc
from sqlalchemy import Column, MetaData, Table, Text, insert
from duban.services.database import make_engine
url, path, table = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.perf_counter()
rows = pc.load_workbook(path).get_sheet_by_index(0).to_python(skip_empty_area=True)
read_s = time.perf_counter() - t
header, data = rows[0], rows[1:]
meta = MetaData()
tbl = Table(table, meta, *[Column(f"c{i}", Text) for i in range(len(header))])
engine = make_engine(url)
meta.create_all(engine)
params = [{f"c{i}": (None if v == "" else str(v)) for i, v in enumerate(r)} for r in data]
t = time.perf_counter()
with engine.begin() as conn:
    for i in range(0, len(params), 10000):
        conn.execute(insert(tbl), params[i:i + 10000])
insert_s = time.perf_counter() - t
print(json.dumps({"read": read_s, "insert": insert_s, "rows": len(data),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# The write floor: the same read, then bare executemany of exactly the rows the import wrote
# (a ledger row becomes a problem, its co-offices and two audit events) into the real, indexed
# tables, as a second campaign launched from the same plan. It prices what the import must
# store, so import / write floor is the cost of checking, routing and numbering.
_WRITE_FLOOR = r"""
import json, sys, time
import python_calamine as pc
from sqlalchemy import func, insert, select
from duban.services.database import make_engine
from models import AuditEvent, Household, Problem, ProblemCoOffice
url, path, kind, source, target = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
engine = make_engine(url)
H, P, C, A = (m.__table__ for m in (Household, Problem, ProblemCoOffice, AuditEvent))
with engine.connect() as conn:
    if kind == "households":
        batches = [(H, [{**r._asdict(), "campaign_id": target} | {"id": None}
                        for r in conn.execute(select(H).where(H.c.campaign_id == source))])]
    else:
        top = conn.scalar(select(func.max(P.c.id)))
        problems = [{**r._asdict(), "campaign_id": target, "id": r.id + top}
                    for r in conn.execute(select(P).where(P.c.campaign_id == source))]
        co = [{"problem_id": r.problem_id + top, "office_code": r.office_code}
              for r in conn.execute(select(C).join(P, P.c.id == C.c.problem_id)
                                    .where(P.c.campaign_id == source))]
        events = [{**r._asdict(), "campaign_id": target, "problem_id": r.problem_id + top}
                  for r in conn.execute(select(A).where(A.c.campaign_id == source))]
        for e in events:
            del e["id"]
        batches = [(P, problems), (C, co), (A, events)]
for table, rows in batches:
    if "id" in rows[0] and rows[0]["id"] is None:
        for r in rows:
            del r["id"]
t = time.perf_counter()
rows_read = pc.load_workbook(path).get_sheet_by_index(0).to_python(skip_empty_area=True)
read_s = time.perf_counter() - t
t = time.perf_counter()
with engine.begin() as conn:
    for table, rows in batches:
        for i in range(0, len(rows), 10000):
            conn.execute(insert(table), rows[i:i + 10000])
insert_s = time.perf_counter() - t
if engine.dialect.name == "postgresql" and kind == "problems":  # explicit ids passed the sequence
    from sqlalchemy import text
    with engine.begin() as conn:
        conn.execute(text("SELECT setval(pg_get_serial_sequence('problem', 'id'), max(id)) "
                          "FROM problem"))
print(json.dumps({"read": read_s, "insert": insert_s,
                  "rows": sum(len(rows) for _, rows in batches)}))
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
                    floor = _child(_FLOOR, url, path, f"floor_{kind}")
                    floor_s = floor["read"] + floor["insert"]
                    entries.append(Entry(f"import {label} (read+validate+write)", backend, size,
                                         imported["seconds"], "s", floor_s,
                                         imported["seconds"] / floor_s))
                    twin = _child(_SETUP, url, ROOT / "plans/seed-002-shenqiu.yaml",
                                  f"-floor-{kind}")["campaign"]
                    written = _child(_WRITE_FLOOR, url, path, kind, campaign, twin)
                    write_s = written["read"] + written["insert"]
                    entries.append(Entry(
                        f"import {label} vs write floor (bare inserts of the rows it wrote)",
                        backend, size, imported["seconds"], "s", write_s,
                        imported["seconds"] / write_s))
                    entries.append(Entry(f"import {label}: rows written", backend, size,
                                         written["rows"], "rows"))
                    entries.append(Entry(f"import {label}: peak memory", backend, size,
                                         imported["peak_mib"], "MiB"))
                detected = _child(_DETECT, url, campaign)
                entries.append(Entry("detect+route+deadline+write (service)", backend,
                                     n_households, n_households / detected["seconds"],
                                     "households/s"))
    return entries
