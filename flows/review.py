"""The review stage (复核): daily spot checks, closing what passed review, monthly ranking."""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks.orchestration import (
    close_reviewed_task,
    monthly_ranking_task,
    review_day_due,
    spot_checks_task,
)


def review_day(campaign_id: int, now: str | None = None,
               closer: str | None = None) -> dict[str, Any]:
    """One day of review work as task runs of the calling flow; every step is idempotent per
    day or per item.

    Closing (销号) is signed by a person: only when `closer` names a county user are the
    reviewed problems closed here; otherwise reviewers close them in the web app.
    """
    result: dict[str, Any] = {"spot_checks": spot_checks_task(campaign_id, now)}
    if closer:
        result["closed"] = close_reviewed_task(campaign_id, closer, now)
    result["ranking"] = monthly_ranking_task(campaign_id, now)
    return result


def review_day_in_tick(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    """The review stage's daily work in a tick: each step a task run of the tick only when it
    has something to do today (review_day_due: the services' own rules), else what the step
    would have returned, read in the same check.

    The tick runs this every time once 复核 has started (every few minutes under serve), and
    the day's draw and the month's ranking are made once: two task runs a tick of nothing,
    each costing serve's Prefect server ~20 ms of CPU (docs/benchmarks.md, "A tick handed to
    serve, ninth pass").
    """
    due = review_day_due(campaign_id, now)
    drawn = due["spot_checks"]
    return {"spot_checks": spot_checks_task(campaign_id, now) if drawn is None else len(drawn),
            "ranking": (monthly_ranking_task(campaign_id, now) if due["ranking_due"]
                        else due["ranking_month"])}


@flow(name="review-stage", log_prints=False, persist_result=False)
def review_stage(campaign_id: int, now: str | None = None,
                 closer: str | None = None) -> dict[str, Any]:
    """The review stage's run: its first day of review work (review_day)."""
    return review_day(campaign_id, now, closer)


if __name__ == "__main__":
    import sys

    print(review_stage(int(sys.argv[1])))
