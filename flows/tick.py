"""The tick: resume interrupted stages, close ended campaigns, advance the others, issue rolling
notices, sweep deadlines, write and deliver reports, deliver the outbox, sweep crash leftovers
from the data directory."""

from __future__ import annotations

import logging
import threading
from typing import Any

from prefect import flow

from flows.campaign import advance_campaign
from flows.common import run_quietly
from flows.review import review_day
from tasks.orchestration import (
    close_ended_task,
    daily_report_task,
    deliver_task,
    due_stages_task,
    duties_task,
    live_campaigns_task,
    notice_round_task,
    reap_task,
    stage_kinds_started_task,
    sweep_files_task,
    sweep_task,
)

log = logging.getLogger(__name__)


@flow(name="duban-tick", log_prints=False, persist_result=False)
def tick(now: str | None = None) -> dict[str, Any]:
    """One tick over every live campaign; safe to run again at any point."""
    summary: dict[str, Any] = {"campaigns": {}}
    failures: list[str] = []
    # Stage runs a gone tick left `running` (ticks run one at a time): marked crashed, and
    # resumed below since they are still due.
    summary["reaped"] = reap_task(now)
    for run in summary["reaped"]:
        log.warning("stage %s (%s) of campaign %s was interrupted at attempt %s; resuming it",
                    run["seq"], run["kind"], run["campaign_id"], run["attempt"])
    try:
        # Before anything fires: a campaign past its plan's end gets no more rungs or checks.
        summary["closed"] = close_ended_task(now)
    except Exception as exc:
        summary["closed"] = []
        failures.append(f"closing: {type(exc).__name__}: {exc}")
    for campaign_id in live_campaigns_task(now):
        entry: dict[str, Any] = {}
        summary["campaigns"][str(campaign_id)] = entry
        try:
            # A subflow run costs more than a task run: enter it only when a stage is due.
            stages = advance_campaign(campaign_id, now) if due_stages_task(campaign_id, now) \
                else []
            entry["stages"] = stages
            if "review" in stage_kinds_started_task(campaign_id) and not any(
                    s["kind"] == "review" for s in stages):
                # The stage's daily work, as task runs of the tick: a subflow run of its own
                # each tick cost more than its two tasks (twice a day in the demo).
                entry["review"] = review_day(campaign_id, now)
            # Late problems go out on the plan's rolling round before the ladder is swept.
            entry["notice_round"] = notice_round_task(campaign_id, now)
            entry["sweep"] = sweep_task(campaign_id, now)
            entry["duties"] = duties_task(campaign_id, now)
            entry["daily_report"] = daily_report_task(campaign_id, now)
        except Exception as exc:  # one campaign's failure must not stop the others' reminders
            entry["error"] = f"{type(exc).__name__}: {exc}"
            failures.append(f"campaign {campaign_id}: {entry['error']}")
    summary["delivery"] = deliver_task(now)
    try:
        summary["files"] = files = sweep_files_task()
        if files["removed_temporary"] or files["removed_orphans"]:
            log.warning("file sweep removed %d temporary file(s) and %d unreferenced document(s)"
                        " (%d bytes): %s", len(files["removed_temporary"]),
                        len(files["removed_orphans"]), files["freed_bytes"],
                        ", ".join(files["removed_temporary"] + files["removed_orphans"]))
    except Exception as exc:  # housekeeping must not fail the tick's promises
        failures.append(f"file sweep: {type(exc).__name__}: {exc}")
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
