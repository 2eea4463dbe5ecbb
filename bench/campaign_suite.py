"""A county campaign end to end (issue 5): seed 002 over a generated county, stage by stage.

On each backend: launch plans/seed-002-shenqiu.yaml, write a generated county's register,
visits and ledger (300,000 households, ~30,000 ledger problems) through the intake service, then
advance the campaign on each stage's first day with the `advance-campaign` Prefect flow, as the
tick does: investigate (detection over the register and routing), rectify (a 督办通知书 per
office, the reminder ladder armed), review (spot checks, closing, the monthly ranking). For each
stage: wall time, CPU time (this process's threads and the render workers' jobs; Prefect's
server is a process of its own and not counted), the load average when it started, Prefect task
runs, and Prefect's share of the wall time. DUBAN_RENDER_PROCESSES=1 renders the notices in this
process, one after the other (the figure before the render pool).

Prefect's share is estimated from its own costs measured in the same process: the wall time of
an empty flow and of a flow of 20 no-op tasks give a cost per flow run and per task run; a
stage's Prefect time is (flow runs × flow cost + task runs × task cost), over the stage's wall
time. (Subtracting the task runs' recorded run time from the wall time undercounts: Prefect
records a task's run time including its own orchestration inside the task run.)
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from bench.common import (
    QUICK_HOUSEHOLDS,
    Entry,
    ServerCpu,
    private_prefect,
    scratch_database,
    seed_campaign_measured,
)

ROOT = Path(__file__).resolve().parents[1]
# Issue 17 item 1: a county campaign end to end (intake, 排查, 整改, 复核) within these seconds.
TARGET_S = {"sqlite": 30.0, "postgresql": 35.0}
# The stages the end-to-end figure adds up (动员 and the like do no work of duban's).
WORKING_STAGES = {"investigate", "rectify", "review"}


def _prefect_costs() -> tuple[float, float]:
    """Seconds per flow run and per task run, measured with no-op flows (best of three)."""
    from prefect import flow, task

    @task(name="noop")
    def noop(i: int) -> int:
        return i

    @flow(name="empty")
    def empty() -> int:
        return 0

    @flow(name="twenty-tasks")
    def twenty() -> int:
        return sum(noop(i) for i in range(20))

    def best(fn: object) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return min(times)

    per_flow = best(empty)
    per_task = max(0.0, (best(twenty) - per_flow) / 20)
    return per_flow, per_task


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """Per stage: wall seconds, task runs and Prefect's share, on each backend."""
    households = QUICK_HOUSEHOLDS if quick else 300_000
    private_prefect()
    from bench.orchestration import _task_runs
    from duban.adapters.documents.parallel import worker_cpu_seconds
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ
    from flows.campaign import advance_campaign
    from flows.common import owned_prefect_server, quiet_prefect

    plan = load_plan_file(ROOT / "plans/seed-002-shenqiu.yaml")
    entries: list[Entry] = []
    for backend in backends:
        with scratch_database(backend) as url, tempfile.TemporaryDirectory() as data:
            os.environ["DUBAN_DATABASE_URL"] = url
            os.environ["DUBAN_DATA_DIR"] = data
            campaign, intake_s, intake_cpu, intake_server, ledger = seed_campaign_measured(
                url, "county", households=households)
            end_to_end_wall, end_to_end_cpu, end_to_end_server = intake_s, intake_cpu, intake_server
            entries.append(Entry("county: register, visits and ledger written (intake service)",
                                 backend, households, intake_s, "s"))
            total_wall = total_tasks = 0.0
            total_runs = 0
            with owned_prefect_server(), quiet_prefect():
                from prefect import flow

                @flow(name="warm-up")
                def warm_up() -> int:
                    return 1

                warm_up()  # the client and the server warm up here, unmeasured
                flow_cost, task_cost = _prefect_costs()
                entries += [Entry("Prefect cost per flow run (empty flow)", backend, 1,
                                  flow_cost * 1000, "ms"),
                            Entry("Prefect cost per task run (no-op task)", backend, 20,
                                  task_cost * 1000, "ms")]
                for stage in plan.stages:
                    moment = dt.datetime.combine(stage.start, dt.time(9), tzinfo=CHINA_TZ)
                    load = os.getloadavg()[0]
                    with ServerCpu(url) as server:
                        cpu = time.process_time() + worker_cpu_seconds()
                        started = time.perf_counter()
                        state = advance_campaign(campaign, moment.isoformat(), return_state=True)
                        wall = time.perf_counter() - started
                        cpu = time.process_time() + worker_cpu_seconds() - cpu
                    state.result()  # raises if the stage failed
                    runs = _task_runs(state.state_details.flow_run_id)
                    # advance-campaign and the stage's own flow: two flow runs per stage
                    prefect_s = 2 * flow_cost + len(runs) * task_cost
                    if stage.kind.value in WORKING_STAGES:
                        end_to_end_wall += wall
                        end_to_end_cpu += cpu
                        end_to_end_server += server.seconds
                    total_wall, total_tasks, total_runs = (total_wall + wall,
                                                           total_tasks + prefect_s,
                                                           total_runs + len(runs))
                    share = prefect_s / wall * 100 if wall else 0.0
                    label = f"county {stage.kind.value} stage ({stage.name})"
                    entries += [Entry(f"{label}: wall time", backend, households, wall, "s"),
                                Entry(f"{label}: CPU time (this process and render workers)",
                                      backend, households, cpu, "s"),
                                *([Entry(f"{label}: CPU time of the server's backends",
                                         backend, households, server.seconds, "s")]
                                  if backend == "postgresql" else []),
                                Entry(f"{label}: load average at its start", backend,
                                      households, load, "1-min"),
                                Entry(f"{label}: Prefect task runs", backend, households,
                                      float(len(runs)), "task runs"),
                                Entry(f"{label}: Prefect's share", backend, households, share,
                                      "%")]
            # The target is the reference (its "floor" column), not a floor of duban's.
            target = TARGET_S[backend]
            whole = "county campaign end to end (intake+排查+整改+复核)"
            entries += [
                Entry(f"{whole}: wall vs target", backend, households, end_to_end_wall, "s",
                      target, end_to_end_wall / target),
                Entry(f"{whole}: CPU vs target (process + render workers)", backend,
                      households, end_to_end_cpu, "s", target, end_to_end_cpu / target)]
            if backend == "postgresql":
                entries += [
                    Entry("county: intake's CPU time of the server's backends", backend,
                          households, intake_server, "s"),
                    Entry(f"{whole}: CPU of the server's backends", backend, households,
                          end_to_end_server, "s")]
            entries.append(Entry("county campaign, all stages: Prefect's share", backend,
                                 households, total_tasks / total_wall * 100, "%"))
            entries.append(Entry("county campaign, all stages: Prefect task runs", backend,
                                 households, float(total_runs), "task runs"))
            entries.append(Entry("county campaign: ledger problems imported", backend,
                                 households, float(ledger), "problems"))
    return entries
