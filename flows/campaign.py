"""Advance a campaign: start each stage whose date has come, once (stage_run).

Each stage runs as its own flow run keyed by campaign (`investigate-stage`, `rectify-stage`,
`review-stage`, `mobilise-stage`), between its run's opening and closing task runs
(`begin-stage`, `finish-stage`): `run_due_stages`, called by the tick's flow run directly and
by the `advance-campaign` flow (a campaign's stages run on their own: the benchmarks, by hand).
The tick does not wrap them in an `advance-campaign` subflow run of its own: that run carried
no work (its stages' runs and their task runs record each stage) and cost serve's Prefect
server a flow run and its tracking task run on every tick with a stage due (docs/benchmarks.md,
"A tick handed to serve, ninth pass").
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow

from flows.investigate import investigate_stage
from flows.rectify import rectify_stage
from flows.review import review_stage
from tasks.orchestration import begin_stage_task, due_stages_task, finish_stage_task


@flow(name="mobilise-stage", log_prints=False, persist_result=False)
def mobilise_stage(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    """The mobilisation stage's run (动员): nothing for the system to do but record it."""
    return {}


def run_due_stages(campaign_id: int, now: str | None,
                   due: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run each due stage's flow and record its run, in the calling flow run; a finished stage
    never runs again.

    Each stage's entry carries its own run's seconds (a duration, not a time of day: several
    stages can fall due in one tick, and the demo shows each its own).
    """
    done = []
    for stage in due:
        seq, kind = int(stage["seq"]), str(stage["kind"])
        started = time.monotonic()
        attempt = begin_stage_task(campaign_id, seq, kind, now)
        if kind == "investigate":
            detail = investigate_stage(campaign_id, now)
        elif kind == "rectify":
            detail = rectify_stage(campaign_id, seq, now)
        elif kind == "review":
            detail = review_stage(campaign_id, now)
        else:
            detail = mobilise_stage(campaign_id, now)
        finish_stage_task(campaign_id, seq, {"attempt": attempt, **detail}, now)
        done.append({"seq": seq, "kind": kind, "attempt": attempt,
                     "seconds": round(time.monotonic() - started, 3)})
    return done


@flow(name="advance-campaign", log_prints=False, persist_result=False)
def advance_campaign(campaign_id: int, now: str | None = None,
                     due: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Run every due stage of one campaign (run_due_stages).

    `due`: the due stages when the caller has just asked, else asked here.
    """
    return run_due_stages(campaign_id, now,
                          due if due is not None else due_stages_task(campaign_id, now))


if __name__ == "__main__":
    import sys

    print(advance_campaign(int(sys.argv[1])))
