"""排查 against its floor (issue 17, item 1): detection over the register, routing, writes.

On each backend: seed 002 over a generated county (300,000 households; 10,000 with --quick)
written through the intake service, then the investigate stage's service call
(`duban.services.intake.detect_problems`, what the stage's Prefect task runs) in its own
process (forked from one that imported its modules once: bench/forked.py). The floor, in the
same run on the same database, is the storage work the stage cannot avoid, each part by the
backend's fastest path:

- reading the register rows the stage reads (its own statement, `register_read`: its columns,
  the households some rule fires on, in id order) with a raw DBAPI cursor, `fetchall`;
- writing exactly the rows the stage wrote (its problems, their co-offices and audit events),
  read back from the campaign and written, same campaign and same ids, into a copy of the
  database taken before the stage (`bench.common.copied_database`): the same tables, indexes,
  constraints and register in the same state: `COPY … FROM STDIN` of PostgreSQL's own text
  form of the rows, one raw `executemany` of the stored values on SQLite, in one transaction,
  the rows prepared before the clock starts (bench/floor_script.py, shared with the intake
  floors). The register read is made in the copy too. (Until 2026-12-05 the floor wrote to a
  twin campaign in the stage's own database, into tables already holding the stage's rows.)

On PostgreSQL both the stage and the floor start settled: a CHECKPOINT before each clock, so
neither writes back pages the step before it left dirty.

So stage / floor is what detecting, routing, setting deadlines, numbering and converting cost
on top of moving the rows. CPU is the measuring process's, plus on PostgreSQL its server
backend's (read from /proc, the server being local).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import QUICK_HOUSEHOLDS, Entry, copied_database, scratch_database
from bench.floor_script import CPU, ROWS, SETTLE
from bench.forked import Forker

ROOT = Path(__file__).resolve().parents[1]

# Seed 002 launched and a generated county imported; prints the campaign.
_SEED = r"""
import json, sys
from bench.common import seed_campaign
url, households = sys.argv[1], int(sys.argv[2])
campaign, seconds, problems = seed_campaign(url, "county", households=households)
print(json.dumps({"campaign": campaign, "problems": problems}))
"""

# The stage's service call, as the investigate stage's task makes it, on its first day.
_STAGE = CPU + SETTLE + r"""
import json, sys, datetime as dt
from sqlalchemy import func, select, text
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.database import Database
from duban.services.intake import detect_problems
from models import tables as T
url, campaign = sys.argv[1], int(sys.argv[2])
db = Database(url)
clock = FixedClock(dt.datetime(2022, 9, 20, 9, tzinfo=CHINA_TZ))
# Warm as a running worker is, and as the floor's process is before its clock: the mappers
# configured, a pooled connection open (one-off costs of a process, not of the stage).
from sqlalchemy.orm import configure_mappers
configure_mappers()
with db.engine.connect() as conn:
    first = (conn.scalar(select(func.max(T.problem.c.id))) or 0) + 1
    settle(conn)
state = {}
def stage(uow):
    if uow.session.get_bind().dialect.name == "postgresql":
        state["pid"] = uow.session.scalar(text("SELECT pg_backend_pid()"))
    state["cpu"], state["t"] = cpu(state.get("pid")), time.perf_counter()
    return detect_problems(uow, clock, campaign)
r = db.run(stage)
wall = time.perf_counter() - state["t"]
print(json.dumps({"seconds": wall, "cpu": cpu(state.get("pid")) - state["cpu"],
                  "created": r.created, "first": first}))
"""

# The floor: the raw read of the register rows the stage reads, and the raw write of the rows
# it wrote (problems from `first` on, their co-offices and events), same campaign and same
# ids, both in the copy of the database taken before the stage (`mirror`).
_FLOOR = ROWS + r"""
import json, sys
from duban.services.database import make_engine
from sqlalchemy.orm import Session
from duban.services.campaigns import load_plan_of
from duban.services.intake import register_read
from models import tables as T
url, mirror, campaign, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
source, engine = make_engine(url), make_engine(mirror)
pg = engine.dialect.name == "postgresql"
written = f"t.campaign_id = {campaign} AND t.id >= {first}"
plans = [plan(T.problem, "problem t", written, id="t.id"),
         plan(T.problem_co_office, "problem_co_office t JOIN problem p ON p.id = t.problem_id",
              f"p.campaign_id = {campaign} AND p.id >= {first}"),
         plan(T.audit_event, "audit_event t",
              f"t.campaign_id = {campaign} AND t.problem_id >= {first}")]
raw, cur, _ = connect(source)
prepared = prepare(cur, pg, plans)
raw.commit()
raw.close()
with Session(engine) as session:  # the stage's own statement, its values inlined
    stmt = register_read(load_plan_of(session, campaign), campaign)
read_sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
raw, cur, pid = connect(engine)
if pg:
    cur.execute("CHECKPOINT")  # as before the stage's clock (SETTLE)
    raw.commit()
c, t = cpu(pid), time.perf_counter()
cur.execute(read_sql)
households = len(cur.fetchall())
raw.commit()
read_s, read_cpu = time.perf_counter() - t, cpu(pid) - c
c, t = cpu(pid), time.perf_counter()
write(cur, pg, prepared)
raw.commit()
write_s, write_cpu = time.perf_counter() - t, cpu(pid) - c
if pg:
    resync_problem_ids(cur)
    raw.commit()
raw.close()
print(json.dumps({"read": read_s, "read_cpu": read_cpu, "write": write_s,
                  "write_cpu": write_cpu, "households": households,
                  "rows": {name: n for name, _, _, n in prepared}}))
"""


# What the scripts above import, once, in the process their children are forked from.
PRELOAD = """
import datetime, io, json, time
import sqlalchemy, sqlalchemy.orm
from bench.common import seed_campaign
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.campaigns import load_plan_of
from duban.services.database import Database, make_engine
from duban.services.intake import detect_problems, register_read
from models import tables
"""


def measure(url: str, households: int,
            forker: Forker | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stage's service call and its floor on a fresh database: (stage, floor); each in a
    process of its own, forked by `forker` (else by one made for this call)."""
    if forker is None:
        with Forker(PRELOAD) as own:
            return measure(url, households, own)
    _child = forker.run
    seeded = _child(_SEED, url, households)
    with copied_database(url) as mirror:  # the database as the stage finds it
        stage = _child(_STAGE, url, seeded["campaign"])
        floor = _child(_FLOOR, url, mirror, seeded["campaign"], stage["first"])
    return stage, floor


def entries_for(backend: str, households: int, stage: dict[str, Any],
                floor: dict[str, Any]) -> list[Entry]:
    """The table rows of one measurement: wall and CPU against the floor's, and its parts."""
    path = "COPY" if backend == "postgresql" else "raw executemany"
    floor_s = floor["read"] + floor["write"]
    floor_cpu = floor["read_cpu"] + floor["write_cpu"]
    cpu_note = " (client + server backend)" if backend == "postgresql" else ""
    rows = floor["rows"]
    return [
        Entry(f"排查 detect_problems vs floor (raw read of the register + {path} of the rows "
              "it wrote)", backend, households, stage["seconds"], "s", floor_s,
              stage["seconds"] / floor_s),
        Entry(f"排查 detect_problems: CPU vs the floor's CPU{cpu_note}", backend, households,
              stage["cpu"], "s", floor_cpu, stage["cpu"] / floor_cpu if floor_cpu else None),
        Entry("排查 floor's read of the register", backend, households, floor["read"], "s"),
        Entry("排查 floor's write", backend, households, floor["write"], "s"),
        Entry("排查 problems written", backend, households, rows["problem"], "rows"),
        Entry("排查 rows written (problems, co-offices, audit events)", backend, households,
              sum(rows.values()), "rows"),
    ]


# The forking process started ahead (`prepare`).
_forkers: list[Forker] = []


def prepare(quick: bool, backends: list[str]) -> None:
    """Start the forking process ahead (bench.__main__.prepare): its imports are set-up."""
    import atexit

    forker = Forker(PRELOAD)
    atexit.register(forker.close)
    _forkers.append(forker)


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """排查's service call against its floor on each backend."""
    households = QUICK_HOUSEHOLDS if quick else 300_000
    entries: list[Entry] = []
    with _forkers.pop() if _forkers else Forker(PRELOAD) as forker:
        for backend in backends:
            with scratch_database(backend) as url:
                stage, floor = measure(url, households, forker)
                entries += entries_for(backend, households, stage, floor)
    return entries
