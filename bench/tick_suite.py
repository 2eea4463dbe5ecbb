"""A tick's cost against the size of the register (issue 17, item 5): the same work due at
30,000, 300,000 (and, with `--only tick` and DUBAN_BENCH_TICK_3M=1, 3,000,000) households.

For each size, on each backend: seed 002 launched with seed 004's spot-check quota (eight
groups, each 5 closed problems, 10 households and 2 villages a day), a generated register of
that size written through the intake service, and the same 600 problems (100 with `--quick`,
whose smallest register of 1,000 households generates no more) — the first of the generated
ledger — of which half are closed. The investigate and rectify stages are recorded as
done and the review stage is due (the first tick starts it), so a tick after that does only the
daily work: the spot-check draw over the register and the closed problems, the rolling notice
round, the deadline sweep, the recurring duties, the daily report and the outbox. A first tick on one working day warms
Prefect and the caches; the tick measured is the next working day's, in-process, as the demo
runs it (wall time and this process's CPU time). The floor of each row is the same tick at the
smallest size, so the ratio is how a tick grows with the register alone. The draw is also
timed alone through the service.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Entry, private_prefect, scratch_database

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = 600
QUICK_PROBLEMS = 100  # the ledger generated with the quick run's smallest register


def _generated(households: int, kept: dict[int, Any] | None) -> Any:
    """The generated county of a size, kept in `kept` (the quick run's; the full run's are large)."""
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.synth import generate_for_plan

    if kept is not None and households in kept:
        return kept[households]
    plan = load_plan_file(ROOT / "plans/seed-002-shenqiu.yaml")
    county = generate_for_plan(plan, "county", seed=2022, households=households)
    if kept is not None:
        kept[households] = county
    return county


def _seed(url: str, households: int, problems: int,
          kept: dict[int, Any] | None = None) -> tuple[int, dt.date]:
    """The campaign at the given register size, in its review stage; (campaign, a tick day)."""
    from sqlalchemy import select, text, update

    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ, FixedClock
    from duban.domain.lifecycle import Status
    from duban.domain.plan import SpotCheckQuota
    from duban.services.calendars import working_calendar
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database
    from duban.services.intake import import_records
    from duban.services.stages import begin_stage_run, finish_stage_run
    from models import Problem

    path = ROOT / "plans/seed-002-shenqiu.yaml"
    plan = load_plan_file(path)
    plan = dataclasses.replace(plan, review=dataclasses.replace(
        plan.review, quota=SpotCheckQuota(closed_problems=5, households=10, villages=2)))
    db = Database(url)
    db.migrate()
    clock = FixedClock(dt.datetime.combine(plan.start, dt.time(9), tzinfo=CHINA_TZ))
    campaign = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "bench")
    county = _generated(households, kept)
    if len(county.problems) < problems:  # every size must carry the same work due
        raise ValueError(f"{households} households generate {len(county.problems)} problems, "
                         f"not {problems}")
    db.run(import_records, clock, campaign, households=county.households,
           problems=county.problems[:problems], imported_by="bench")
    with db.transaction() as s:
        ids = list(s.scalars(select(Problem.id).where(Problem.campaign_id == campaign)
                             .order_by(Problem.id)))
        s.execute(update(Problem).where(Problem.id.in_(ids[::2])).values(
            status=Status.CLOSED.value, closed_at=clock.now())
            .execution_options(synchronize_session=False))
    # Every stage before review recorded as done; review is left due, not begun, so the first
    # tick starts it as a tick does on its first day (begun and left running here, that tick
    # reaped it as interrupted and resumed it: the same work, and a warning in every run).
    review = plan.stages[-1]
    for seq, stage in enumerate(plan.stages[:-1], 1):
        db.run(begin_stage_run, clock, campaign, seq, stage.kind.value)
        db.run(finish_stage_run, clock, campaign, seq, {})
    if db.engine.dialect.name == "postgresql":
        # Weeks lie between the register's import and the review stage, and autovacuum
        # visits the tables in them; this machine's test server runs without it, which left
        # every index-only scan of the register (a drawn household's position in its
        # village) reading the table too: 24,000 heap fetches a pick at 3,000,000.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE household"))
            conn.execute(text("VACUUM ANALYZE problem"))
    db.dispose()
    day = working_calendar().add_workdays(review.start, 2)
    return campaign, day


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """A tick and the spot-check draw at each register size, against the smallest."""
    sizes = [1_000, 10_000] if quick else [30_000, 300_000]
    problems = QUICK_PROBLEMS if quick else PROBLEMS
    if not quick and os.environ.get("DUBAN_BENCH_TICK_3M"):
        sizes.append(3_000_000)
    private_prefect()
    from duban.domain.clock import CHINA_TZ, FixedClock
    from duban.services.calendars import working_calendar
    from duban.services.database import Database
    from duban.services.reviews import draw_daily_spot_checks
    from duban.services.root import build_root, install_root
    from flows.common import flow_session
    from flows.tick import run_tick

    entries: list[Entry] = []
    kept: dict[int, Any] | None = {} if quick else None
    for backend in backends:
        floor: dict[str, float] = {}
        for step, households in enumerate(sizes):
            scale = "smallest register" if step == 0 else f"{households // sizes[0]}× register"
            with scratch_database(backend) as url, tempfile.TemporaryDirectory() as data:
                os.environ["DUBAN_DATA_DIR"] = data
                campaign, day = _seed(url, households, problems, kept)
                db = Database(url)
                install_root(build_root(db=db))
                try:
                    evening = dt.time(18, 30)
                    with flow_session():
                        run_tick(dt.datetime.combine(day, evening, CHINA_TZ).isoformat())
                        day = working_calendar().add_workdays(day, 1)
                        wall, cpu = time.perf_counter(), time.process_time()
                        run_tick(dt.datetime.combine(day, evening, CHINA_TZ).isoformat())
                        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    draw_day = working_calendar().add_workdays(day, 1)
                    clock = FixedClock(dt.datetime.combine(draw_day, dt.time(9), CHINA_TZ))
                    draw = time.perf_counter()
                    drawn = db.run(draw_daily_spot_checks, clock, campaign)
                    draw = time.perf_counter() - draw
                finally:
                    install_root(None)
                    db.dispose()
            for name, value in (("tick wall", wall), ("tick CPU", cpu), ("draw", draw)):
                floor.setdefault(name, value)
            entries += [
                Entry(f"tick, review day, {problems} problems, {scale}: wall (floor: smallest)",
                      backend, households, wall, "s", floor["tick wall"],
                      wall / floor["tick wall"]),
                Entry(f"tick, review day, {problems} problems, {scale}: CPU (floor: smallest)",
                      backend, households, cpu, "s", floor["tick CPU"], cpu / floor["tick CPU"]),
                Entry(f"spot-check draw ({len(drawn)} checks), {scale} (floor: smallest)",
                      backend, households, draw, "s", floor["draw"], draw / floor["draw"]),
            ]
    return entries
