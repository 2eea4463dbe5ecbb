"""Advance a campaign: start each stage whose date has come, once (stage_run)."""

from __future__ import annotations

import time
from typing import Any

from prefect import flow

from flows.investigate import investigate_stage
from flows.rectify import rectify_stage
from flows.review import review_stage
from tasks.orchestration import begin_stage_task, due_stages_task, finish_stage_task


@flow(name="advance-campaign", log_prints=False, persist_result=False)
def advance_campaign(campaign_id: int, now: str | None = None,
                     due: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Run every due stage's flow and record its run; a finished stage never runs again.

    `due`: the due stages when the caller has just asked (the tick's lookups), else asked here.
    Each stage's entry carries its own run's seconds (a duration, not a time of day: several
    stages can fall due in one tick, and the demo shows each its own).
    """
    done = []
    for stage in due if due is not None else due_stages_task(campaign_id, now):
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
            detail = {}  # 动员: nothing for the system to do
        finish_stage_task(campaign_id, seq, {"attempt": attempt, **detail}, now)
        done.append({"seq": seq, "kind": kind, "attempt": attempt,
                     "seconds": round(time.monotonic() - started, 3)})
    return done


if __name__ == "__main__":
    import sys

    print(advance_campaign(int(sys.argv[1])))
