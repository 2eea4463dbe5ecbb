"""The rectify stage (整改): a 督办通知书 per office, then the reminder ladder armed."""

from __future__ import annotations

from typing import Any

from prefect import flow

from duban.services.stages import rectify_batch_prefix
from flows.common import batches
from tasks.orchestration import arm_task, issue_notices_task, offices_to_notify_task


@flow(name="rectify-stage", log_prints=False, persist_result=False)
def rectify_stage(campaign_id: int, stage_seq: int = 0, now: str | None = None) -> dict[str, Any]:
    """Issue the notices in batches of offices, then arm every open problem's ladder.

    Batch keys are derived from the stage and the offices in the batch, so a rerun after a
    kill gets the same notices back for batches that committed and issues the rest.
    """
    offices = offices_to_notify_task(campaign_id)
    numbers: list[str] = []
    for group in batches(offices):
        key = f"{rectify_batch_prefix(campaign_id, stage_seq)}{group[0]}..{group[-1]}:{len(group)}"
        numbers += issue_notices_task(campaign_id, group, key, now)
    armed = arm_task(campaign_id)
    return {"notices": numbers, "armed": armed}


if __name__ == "__main__":
    import sys

    print(rectify_stage(int(sys.argv[1])))
