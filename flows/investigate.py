"""The investigate stage (排查): detect problems on the household register, route them."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.orchestration import detect_task


@flow(name="investigate-stage", log_prints=False, persist_result=False)
def investigate_stage(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    """Run the plan's detection rules; each found problem is routed with its deadline.

    Imports of visit and register files happen when offices upload them (duban intake),
    so the stage detects over whatever the register holds; detection is idempotent.
    """
    return {"detected": detect_task(campaign_id, now)}


if __name__ == "__main__":
    import sys

    print(investigate_stage(int(sys.argv[1])))
