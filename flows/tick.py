"""The tick: resume interrupted stages, close ended campaigns, advance the others, issue rolling
notices, sweep deadlines, write and deliver reports, deliver the outbox, sweep crash leftovers
from the data directory.

The tick's own steps (the lookups, each campaign's sweeps, delivery and the file sweep) are plain
calls in its flow run, each its own transaction, not task runs: a task run cost serve's Prefect
server ~20 ms of CPU, and the client's engine its own, more than most of these steps when
nothing of them is due, and they were what a tick with a stage due paid on top of the stage
(tasks/orchestration.py; docs/benchmarks.md, "A tick handed to serve, eighth pass"). A failing
step fails the tick or is reported by it as before. The stages keep their subflow runs and their
work's task runs (per office or batch).

A due stage runs as its own flow run keyed by campaign (`investigate-stage`, …) inside the
tick's flow run, between its stage run's `begin-stage` and `finish-stage` task runs
(flows.campaign.run_due_stages), not inside an `advance-campaign` subflow run: that run carried
no work of its own, and it and its tracking task run cost serve's Prefect server about a third
of its CPU over a tick with a stage due (docs/benchmarks.md, "A tick handed to serve, ninth
pass"). What Prefect shows for such a tick: the tick's flow run, under it the stage runs'
task runs and each stage's flow run; a failing stage fails its own flow run, the tick names
the campaign in its failure after the others ran, as before. In the scaled mode a stage's
flow run is retried once (the flow runs' default), then the tick's whole run once; the
`advance-campaign` layer's own retry of the stage is gone (deploy/README.md).

The review stage's daily steps (the day's spot checks, the month's ranking) are task runs of the
tick only on the ticks that have them to do, asked first with the services' own rules
(flows.review.review_day_in_tick); on the others the tick reports what they would return.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prefect import flow

from flows.campaign import run_due_stages
from flows.common import run_quietly
from flows.review import review_day_in_tick
from tasks.orchestration import campaign_sweeps, deliver_and_sweep_files, tick_lookups

log = logging.getLogger(__name__)


@flow(name="duban-tick", log_prints=False, persist_result=False)
def tick(now: str | None = None) -> dict[str, Any]:
    """One tick over every live campaign; safe to run again at any point."""
    summary: dict[str, Any] = {"campaigns": {}}
    failures: list[str] = []
    # Stage runs a gone tick left `running` (ticks run one at a time) are marked crashed and
    # resumed below, since they are still due; a campaign past its plan's end is closed
    # before anything fires (no more rungs or checks).
    looked = tick_lookups(now)
    summary["reaped"] = looked["reaped"]
    for run in summary["reaped"]:
        log.warning("stage %s (%s) of campaign %s was interrupted at attempt %s; resuming it",
                    run["seq"], run["kind"], run["campaign_id"], run["attempt"])
    summary["closed"] = looked["closed"]
    if looked["closing_error"]:
        failures.append(f"closing: {looked['closing_error']}")
    for campaign in looked["campaigns"]:
        campaign_id = campaign["id"]
        entry: dict[str, Any] = {}
        summary["campaigns"][str(campaign_id)] = entry
        if "error" in campaign:  # its lookup failed (the others go on)
            entry["error"] = campaign["error"]
            failures.append(f"campaign {campaign_id}: {entry['error']}")
            continue
        try:
            # Each due stage's flow run (keyed by campaign) and its run's opening and closing
            # task runs, in this flow run: no `advance-campaign` run around them (see above).
            stages = run_due_stages(campaign_id, now, campaign["due"])
            entry["stages"] = stages
            # Kinds started before the stages above ran, with theirs: as asked after them.
            if "review" in campaign["started"] and not any(
                    s["kind"] == "review" for s in stages):
                # The stage's daily work, as task runs of the tick when it has something to
                # do (a subflow run of its own each tick cost more than its two tasks).
                entry["review"] = review_day_in_tick(campaign_id, now)
            # Late problems go out on the plan's rolling round before the ladder is swept.
            entry.update(campaign_sweeps(campaign_id, now))
        except Exception as exc:  # one campaign's failure must not stop the others' reminders
            entry["error"] = f"{type(exc).__name__}: {exc}"
            failures.append(f"campaign {campaign_id}: {entry['error']}")
    ended = deliver_and_sweep_files(now)
    summary["delivery"] = ended["delivery"]
    if ended["files_error"]:  # housekeeping must not fail the tick's promises
        failures.append(f"file sweep: {ended['files_error']}")
    else:
        summary["files"] = files = ended["files"]
        if files["removed_temporary"] or files["removed_orphans"]:
            log.warning("file sweep removed %d temporary file(s) and %d unreferenced document(s)"
                        " (%d bytes): %s", len(files["removed_temporary"]),
                        len(files["removed_orphans"]), files["freed_bytes"],
                        ", ".join(files["removed_temporary"] + files["removed_orphans"]))
    if failures:
        # The run is marked failed (visible in Prefect and `duban tick`) after the others ran.
        raise TickFailed("; ".join(failures))
    return summary


class TickFailed(RuntimeError):
    """Some campaigns failed in a tick; the others were handled."""


# One tick at a time in a process: serve's scheduled ticks and the ticks `duban tick` hands to
# it (duban.adapters.tick_desk) take it, so the reaper never meets a live stage run of serve's.
TICK_LOCK = threading.Lock()


def run_tick(now: str | None = None) -> dict[str, Any]:
    """The scheduler's job: one tick, heartbeat off, one at a time in this process."""
    with TICK_LOCK:
        return run_quietly(tick, now)


if __name__ == "__main__":
    import json

    print(json.dumps(run_tick(), ensure_ascii=False, indent=2))
