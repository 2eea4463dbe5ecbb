"""Orchestration benchmarks: the deadline sweep at 1,000,000 open problems, and Prefect's cost.

`python -m bench.orchestration [--quick] [--explain]`; `run(quick, backends)` returns entries
{name, backend, size, value, unit, floor, ratio}.

- sweep: open problems are bulk-loaded with SQL (the ledger's own intake is measured
  elsewhere), armed once through `duban.services.reminders.arm`, then `sweep()` is timed on a
  day when nothing new is due (the scan every tick pays) and on a day when 1 in 150 problems
  reaches a rung (its 提前3个工作日 reminder). The floor is the sweep's two reads (due states,
  stale or unarmed problems) issued bare.
- county stage: a campaign with county-size counts (30,000 problems, 60 offices) runs its
  rectify stage as a Prefect flow (notices per office, ladder armed); reported are the task
  runs it took and Prefect's share of the wall time (wall minus the task bodies' own time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from typing import Any

from sqlalchemy import text

from bench.common import Entry, private_dir, private_prefect, scratch_database, stages_unpaced
from duban.domain.clock import CHINA_TZ, FixedClock

# Open problems of the quick sweep rows: the quick city sweep's total (ten campaigns of 3,000).
# It was 100,000: arming them and PostgreSQL's bulk load took ~20 s of a quick run's wall at
# load, for a sweep that reads the same two index scans at any size (the full run: 1,000,000).
QUICK_SWEEP = 30_000


def _plan(offices: int, number: int = 1) -> Any:
    """Twenty towns of 15 villages and `offices` offices, each leading its own category."""
    from duban.domain.plan import Stage, StageKind
    from duban.synth.plans import synthetic_plan

    return synthetic_plan(
        number=f"压测〔2022〕{number}号", working_days=20, extra_offices=offices, extra_towns=20,
        stages=(Stage(StageKind.INVESTIGATE, "排查", dt.date(2022, 5, 1), dt.date(2022, 5, 31)),
                Stage(StageKind.RECTIFY, "整改", dt.date(2022, 6, 1), dt.date(2022, 12, 31))))


BULK_PROBLEMS = """
INSERT INTO problem (campaign_id, code, natural_key, source, category, town_code, village_code,
    household_id, description, found_by, found_on, status, lead_office, routed_at, deadline,
    deadline_basis, reopen_count, created_at, updated_at, version)
SELECT :cid, 'W' || lpad(g::text, 7, '0'), 'bench-' || g, 'visit',
    'c' || lpad((g % :offices)::text, 2, '0'), 't' || lpad((g % 20)::text, 2, '0'),
    't' || lpad((g % 20)::text, 2, '0') || 'v' || lpad((g % 15)::text, 2, '0'),
    'H' || g, '住房存在安全隐患，需限期整改', 'cadre', date '2022-06-01', 'rectifying',
    'o' || lpad((g % :offices)::text, 2, '0'), timestamp '2022-06-01 02:00',
    date '2022-07-01' + (g % 150), 'bench', 0, timestamp '2022-06-01 02:00',
    timestamp '2022-06-01 02:00', 1
FROM generate_series(1, :n) AS g
"""


def _bulk_problems(url: str, cid: int, n: int, offices: int, *, analyze: bool = True) -> None:
    """n open problems of campaign `cid`, written by SQL; then, with `analyze`, the table
    vacuumed and its statistics refreshed (a caller loading several campaigns does it once)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(BULK_PROBLEMS), {"cid": cid, "n": n, "offices": offices})
    if analyze:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE problem"))
    engine.dispose()


def sweep_bench(url: str, n: int, explain: bool = False) -> tuple[list[Entry], dict[str, str]]:
    """Time the sweep over n open problems on an existing empty database URL."""
    from duban.services.calendars import working_calendar
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database
    from duban.services.reminders import arm, sweep

    private_dir("DUBAN_DATA_DIR", "duban-bench-data-")
    db = Database(url)
    db.migrate()
    plan = _plan(40)
    clock = FixedClock(dt.datetime(2022, 6, 1, 9, tzinfo=CHINA_TZ))
    cid = db.run(launch_campaign, clock, plan, "# bench", "bench")
    t0 = time.perf_counter()
    _bulk_problems(url, cid, n, 40)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    armed = db.run(arm, cid, plan.reminders, working_calendar())
    arm_s = time.perf_counter() - t0
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE reminder_state"))
    # Quiet day: deadlines run 2022-07-01 … 2022-11-27; on 2022-06-02 no rung is due yet.
    clock.set(dt.datetime(2022, 6, 2, 9, tzinfo=CHINA_TZ))
    db.run(sweep, clock, cid)  # warm caches
    quiet = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = db.run(sweep, clock, cid)
        quiet.append(time.perf_counter() - t0)
        assert result.fired == 0
    # Busy day: the first deadlines' 提前3天 rung falls due for 1 in 150 problems.
    clock.set(dt.datetime(2022, 6, 28, 9, tzinfo=CHINA_TZ))
    t0 = time.perf_counter()
    busy = db.run(sweep, clock, cid)
    busy_s = time.perf_counter() - t0
    floor_s, plans = _floor_and_plans(db, cid, dt.date(2022, 6, 2), explain)
    quiet_s = min(quiet)
    entries = [
        Entry("deadline sweep, nothing due (1 tick)", "postgresql", n, quiet_s, "s",
              floor_s, quiet_s / floor_s if floor_s else None),
        Entry(f"deadline sweep, {busy.fired:,} rungs due (1 tick)", "postgresql", n, busy_s,
              "s"),
        Entry("arm the ladder once (all open problems)", "postgresql", armed, arm_s, "s"),
        Entry("bulk-load open problems (SQL, setup)", "postgresql", n, load_s, "s"),
    ]
    db.dispose()
    return entries, plans


def city_sweep_bench(url: str, counties: int, per_county: int) -> list[Entry]:
    """Time a tick's deadline sweeps over every county's campaign on one database (item 6).

    The tick sweeps each live campaign in turn (plain calls in its flow run); this times those calls
    back to back on a quiet day and on a day 1 in 150 problems reaches a rung, beside the
    floor: each campaign's two sweep reads issued bare.
    """
    return city_sweep_measured(city_sweep_setup(url, counties, per_county))


CitySweep = tuple[Any, FixedClock, list[int], int, int]


def city_sweep_setup(url: str, counties: int, per_county: int) -> CitySweep:
    """The city sweep's database, untimed: the counties' campaigns launched, their open
    problems loaded and armed, the tables vacuumed and analyzed; (db, clock, campaigns,
    counties, per_county)."""
    from duban.services.calendars import working_calendar
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database
    from duban.services.reminders import arm

    private_dir("DUBAN_DATA_DIR", "duban-bench-data-")
    db = Database(url)
    db.migrate()
    clock = FixedClock(dt.datetime(2022, 6, 1, 9, tzinfo=CHINA_TZ))
    campaigns = []
    plans = [_plan(40, number=i + 1) for i in range(counties)]
    for plan in plans:
        cid = db.run(launch_campaign, clock, plan, "# bench", "bench")
        _bulk_problems(url, cid, per_county, 40, analyze=False)
        campaigns.append(cid)
    # One VACUUM ANALYZE after every campaign's problems (one per campaign vacuumed the growing
    # table ten times): the same rows and statistics when arming starts; arming writes only
    # reminder_state, analyzed after.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE problem"))
    for plan, cid in zip(plans, campaigns, strict=True):
        db.run(arm, cid, plan.reminders, working_calendar())
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE reminder_state"))
    return db, clock, campaigns, counties, per_county


def city_sweep_measured(city: CitySweep) -> list[Entry]:
    """The city sweep's figures on its set-up database (`city_sweep_setup`)."""
    from duban.services.reminders import sweep

    db, clock, campaigns, counties, per_county = city
    n = counties * per_county

    def sweep_all(day: dt.date) -> tuple[float, float, int]:
        clock.set(dt.datetime(day.year, day.month, day.day, 9, tzinfo=CHINA_TZ))
        c0, t0 = time.process_time(), time.perf_counter()
        fired = sum(db.run(sweep, clock, cid).fired for cid in campaigns)
        return time.perf_counter() - t0, time.process_time() - c0, fired

    sweep_all(dt.date(2022, 6, 2))  # warm caches
    quiet = min((sweep_all(dt.date(2022, 6, 2)) for _ in range(3)), key=lambda r: r[0])
    assert quiet[2] == 0
    busy = sweep_all(dt.date(2022, 6, 28))
    floor_s = sum(_floor_and_plans(db, cid, dt.date(2022, 6, 2), False)[0] for cid in campaigns)
    db.dispose()
    label = f"{counties} campaigns × {per_county:,}"
    return [
        Entry(f"city: a tick's sweeps, nothing due ({label})", "postgresql", n, quiet[0], "s",
              floor_s, quiet[0] / floor_s if floor_s else None),
        Entry(f"city: a tick's sweeps, nothing due, client CPU ({label})", "postgresql", n,
              quiet[1], "s"),
        Entry(f"city: a tick's sweeps, {busy[2]:,} rungs due ({label})", "postgresql", n,
              busy[0], "s"),
        Entry(f"city: a tick's sweeps, {busy[2]:,} rungs due, client CPU ({label})",
              "postgresql", n, busy[1], "s"),
    ]


def _floor_and_plans(db: Any, cid: int, today: dt.date,
                     explain: bool) -> tuple[float, dict[str, str]]:
    """The bare due-state index read (the floor) and EXPLAIN ANALYZE of the sweep's queries."""
    due = ("SELECT problem_id FROM reminder_state WHERE campaign_id = :cid "
           "AND next_due_on IS NOT NULL AND next_due_on <= :today")
    stale = ("SELECT problem.id FROM problem LEFT OUTER JOIN reminder_state "
             "ON reminder_state.problem_id = problem.id AND reminder_state.campaign_id = :cid "
             "WHERE problem.campaign_id = :cid "
             "AND problem.status IN ('routed', 'rectifying', 'disputed', "
             "'extension_requested') AND problem.lead_office IS NOT NULL "
             "AND problem.deadline IS NOT NULL AND (reminder_state.problem_id IS NULL "
             "OR reminder_state.version != problem.version)")
    params = {"cid": cid, "today": today}
    plans: dict[str, str] = {}
    with db.engine.connect() as conn:
        conn.execute(text(due), params).all()
        conn.execute(text(stale), params).all()
        # The floor: the sweep's two reads issued bare, warm (what any tick must scan).
        t0 = time.perf_counter()
        conn.execute(text(due), params).all()
        conn.execute(text(stale), params).all()
        floor_s = time.perf_counter() - t0
        if explain:
            for name, sql in (("due states", due), ("stale or unarmed problems", stale)):
                rows = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params).all()
                plans[name] = "\n".join(r[0] for r in rows)
    return floor_s, plans


def county_stage_bench(url: str, problems: int = 30_000, offices: int = 60) -> list[Entry]:
    """Run a county-size rectify stage as a Prefect flow; count task runs, Prefect's share."""
    os.environ["DUBAN_DATABASE_URL"] = url
    private_dir("DUBAN_DATA_DIR", "duban-bench-data-")
    private_prefect()
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database
    from flows.common import owned_prefect_server, quiet_prefect
    from flows.rectify import rectify_stage

    db = Database(url)
    db.migrate()
    plan = _plan(offices)
    clock = FixedClock(dt.datetime(2022, 6, 1, 9, tzinfo=CHINA_TZ))
    cid = db.run(launch_campaign, clock, plan, "# bench", "bench")
    if db.engine.dialect.name == "postgresql":
        _bulk_problems(url, cid, problems, offices)
    else:
        _sqlite_problems(db, cid, problems, offices)
    with owned_prefect_server(), quiet_prefect():
        from prefect import flow

        @flow(name="warm-up")
        def warm_up() -> int:
            return 1

        warm_up()  # the client and the server warm up here, unmeasured
        t0 = time.perf_counter()
        state = rectify_stage(cid, 2, clock.now().isoformat(), return_state=True)
        wall = time.perf_counter() - t0
        result = state.result()
        runs = _task_runs(state.state_details.flow_run_id)  # asked of the server that ran it
    task_time = sum(r for r in runs)
    backend = db.engine.dialect.name
    db.dispose()
    share = max(0.0, (wall - task_time) / wall) if wall else 0.0
    return [
        Entry("county rectify stage (flow wall time)", backend, problems, wall, "s"),
        Entry("county rectify stage: Prefect task runs", backend, problems, float(len(runs)),
              "task runs"),
        Entry("county rectify stage: Prefect's share of wall time", backend, problems,
              share * 100, "%"),
        Entry("county rectify stage: notices issued", backend, problems,
              float(len(result["notices"])), "notices"),
    ]


def _sqlite_problems(db: Any, cid: int, n: int, offices: int) -> None:
    stmt = text(BULK_PROBLEMS.replace("lpad((g % :offices)::text, 2, '0')",
                                      "printf('%02d', g % :offices)")
                .replace("lpad((g % 20)::text, 2, '0')", "printf('%02d', g % 20)")
                .replace("lpad((g % 15)::text, 2, '0')", "printf('%02d', g % 15)")
                .replace("lpad(g::text, 7, '0')", "printf('%07d', g)")
                .replace("FROM generate_series(1, :n) AS g",
                         "FROM (WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s "
                         "WHERE g < :n) SELECT g FROM s)")
                .replace("date '2022-07-01' + (g % 150)", "date('2022-07-01', '+' || (g % 150) "
                         "|| ' days')")
                .replace("date '2022-06-01'", "'2022-06-01'")
                .replace("timestamp '2022-06-01 02:00'", "'2022-06-01 02:00:00.000000'"))
    with db.engine.begin() as conn:
        conn.execute(stmt, {"cid": cid, "n": n, "offices": offices})


def _task_runs(flow_run_id: Any) -> list[float]:
    """Run seconds of every task run under a flow run and its subflows."""
    import anyio
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
    )

    async def fetch() -> list[float]:
        async with get_client() as client:
            flow_ids = [flow_run_id]
            children = await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id])))
            flow_ids += [c.id for c in children]
            out: list[float] = []
            for fid in flow_ids:
                for attempt in range(20):
                    runs = await client.read_task_runs(
                        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fid])))
                    if all(r.state and r.state.is_final() for r in runs) or attempt == 19:
                        break
                    await anyio.sleep(0.5)
                out += [r.total_run_time.total_seconds() for r in runs]
            return out

    return anyio.run(fetch)


def _city_size(quick: bool) -> int:
    """Open problems a county of the city sweep has (ten counties)."""
    return 3_000 if quick else 30_000


# The city sweep's databases set up ahead, by `quick`: each an ExitStack that holds its scratch
# database and yields the set-up (closed, the database dropped, when measured or at exit).
_prepared_city: dict[bool, Any] = {}


def prepare_city_sweep(quick: bool) -> None:
    """Set the city sweep's database up ahead (untimed: ~2.5 s of a quick run's wall, mostly
    PostgreSQL's bulk loads, VACUUM and the arming), for `run_entries` to measure."""
    import atexit
    from contextlib import ExitStack, contextmanager

    stack = ExitStack()
    atexit.register(stack.close)
    url = stack.enter_context(scratch_database("postgresql"))
    had_data_dir = "DUBAN_DATA_DIR" in os.environ
    city = city_sweep_setup(url, 10, _city_size(quick))
    if not had_data_dir:  # the suites before this one run without it, as they did
        os.environ.pop("DUBAN_DATA_DIR", None)

    @contextmanager
    def held() -> Any:
        try:
            yield city
        finally:
            stack.close()

    _prepared_city[quick] = held()


def run(quick: bool = False, backends: list[str] | None = None,
        explain: bool = False) -> list[dict[str, Any]]:
    """All orchestration figures as plain dicts."""
    return [e.as_dict() for e in run_entries(quick, backends or ["postgresql"], explain)[0]]


def run_entries(quick: bool, backends: list[str],
                explain: bool = False) -> tuple[list[Entry], dict[str, str]]:
    """The entries and, with explain, the sweep's query plans."""
    entries: list[Entry] = []
    plans: dict[str, str] = {}
    if "postgresql" in backends:
        with scratch_database("postgresql") as url:
            got, plans = sweep_bench(url, QUICK_SWEEP if quick else 1_000_000, explain)
            entries += got
        city = _prepared_city.pop(quick, None)
        if city is not None:  # set up ahead (prepare_city_sweep), dropped once measured
            with city as prepared:
                entries += city_sweep_measured(prepared)
        else:
            with scratch_database("postgresql") as url:
                entries += city_sweep_bench(url, 10, _city_size(quick))
    for backend in backends:
        with scratch_database(backend) as url:
            entries += county_stage_bench(url, 3_000 if quick else 30_000, 60)
    return entries, plans


def main(argv: list[str] | None = None) -> int:
    """Print the figures (and the sweep's EXPLAIN ANALYZE with --explain)."""
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    stages_unpaced()
    entries, plans = run_entries(args.quick, args.backend or ["postgresql"], args.explain)
    print(json.dumps([e.as_dict() for e in entries], ensure_ascii=False, indent=2))
    for name, plan in plans.items():
        print(f"\n-- {name}\n{plan}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
