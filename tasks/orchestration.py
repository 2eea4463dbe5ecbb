"""Prefect tasks of the campaign flows: IDs in, plain dicts out, one service call each.

Every task is safe to run again: the services they call are idempotent (natural keys,
batch keys, unique constraints), so a retried or re-run task adds nothing twice.
`now` is an ISO moment for simulated time, or None for the system clock.

The tick runs its small steps as plain calls inside its flow, not as task runs
(`tick_lookups`, `campaign_sweeps`, `deliver_and_sweep_files`, at the end): a task run costs
the Prefect server ~20 ms of CPU, and the client's engine its own, more than most of these
steps when nothing of them is due, and a tick with a stage due handed to `duban serve`
paid three of them on top of the stage (docs/benchmarks.md, "A tick handed to serve, eighth
pass"). Each step is still its own transaction and keeps its failure isolation (a closing or
file-sweep error, one campaign's failure, reported by the tick while the others go on); each
is called as `step.fn` so that a test's hook on a step (tests/orchestration/fault_child.py)
sees every call. What they give up: their own rows in Prefect's records (the tick's flow run
and its state stand for them: a failing step fails it or is named in its failure) and, in the
scaled mode, the task retries (a failed step fails the tick, whose flow run is retried whole;
every step is idempotent). The stages' work (subflows, per office or batch) stays in task runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from prefect import task

from duban.domain.clock import SystemClock
from tasks.common import clock_at, database, root

log = logging.getLogger(__name__)

# Prefect's result cache would skip a re-run task; our idempotence lives in the database.
OPTS: dict[str, Any] = {"cache_policy": None, "persist_result": False, "log_prints": False}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


@task(name="close-ended-campaigns", **OPTS)
def close_ended_task(now: str | None = None) -> list[int]:
    """Close (总结) every campaign whose plan has ended: final ranking, closing report."""
    from duban.services.closing import close_ended_campaigns

    return database().run(close_ended_campaigns, clock_at(now))


@task(name="reap-stage-runs", **OPTS)
def reap_task(now: str | None = None) -> list[dict[str, Any]]:
    """Mark stage runs whose tick is gone as crashed (this tick resumes them)."""
    from duban.services.stages import reap_stage_runs

    return database().run(reap_stage_runs, clock_at(now))


@task(name="sweep-files", **OPTS)
def sweep_files_task() -> dict[str, Any]:
    """Remove what a crash left in the data directory (temporary files, documents no row
    names) once older than the grace period.

    Files are dated by the machine's clock, so the sweep compares them with the system clock,
    also in a simulated tick.
    """
    from duban.services.files import sweep_files

    with database().unit_of_work() as uow:
        result = sweep_files(uow, SystemClock().now())
    return {"removed_temporary": result.removed_temporary,
            "removed_orphans": result.removed_orphans, "kept_young": result.kept_young,
            "freed_bytes": result.freed_bytes}


@task(name="live-campaigns", **OPTS)
def live_campaigns_task(now: str | None = None) -> list[int]:
    """Campaigns the tick looks after."""
    from duban.services.stages import live_campaigns

    return database().run(live_campaigns, clock_at(now))


@task(name="due-stages", **OPTS)
def due_stages_task(campaign_id: int, now: str | None = None) -> list[dict[str, Any]]:
    """Stages whose start has come and whose run is not done."""
    from duban.services.stages import due_stages

    return [_plain(s) for s in database().run(due_stages, clock_at(now), campaign_id)]


@task(name="begin-stage", **OPTS)
def begin_stage_task(campaign_id: int, seq: int, kind: str, now: str | None = None) -> int:
    """Open the stage run; returns the attempt number."""
    from duban.services.stages import begin_stage_run

    return database().run(begin_stage_run, clock_at(now), campaign_id, seq, kind)[1]


@task(name="finish-stage", **OPTS)
def finish_stage_task(campaign_id: int, seq: int, detail: dict[str, Any],
                      now: str | None = None) -> None:
    """Close the stage run."""
    from duban.services.stages import finish_stage_run

    database().run(finish_stage_run, clock_at(now), campaign_id, seq, detail)


@task(name="detect-problems", **OPTS)
def detect_task(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    """Run the plan's detection rules over the household register (idempotent by natural key),
    at the deployment's pace: a background stage leaves room for the clerks' pages."""
    from duban.adapters.pacing import stage_pace
    from duban.services.intake import detect_problems

    pace = stage_pace()
    if pace is not None:
        pace.start()
    result = database().run(detect_problems, clock_at(now), campaign_id, pace=pace)
    return {"created": result.created, "skipped": result.skipped_duplicates,
            "routed": result.routed, "unrouted": result.unrouted}


@task(name="offices-to-notify", **OPTS)
def offices_to_notify_task(campaign_id: int) -> list[str]:
    """Lead offices with open problems not yet on a 督办通知书."""
    from duban.services.notices.issuing import offices_without_notice

    return database().run(offices_without_notice, campaign_id)


@task(name="issue-notices", **OPTS)
def issue_notices_task(campaign_id: int, offices: Sequence[str], batch_key: str,
                       now: str | None = None) -> list[str]:
    """Issue the notices of a batch of offices; a retry returns the same 文号."""
    from duban.services.notices.issuing import issue_notices

    rows = database().run(issue_notices, clock_at(now), campaign_id, issued_by="system",
                         batch_key=batch_key, offices=list(offices))
    return [r.number for r in rows]


@task(name="notice-round", **OPTS)
def notice_round_task(campaign_id: int, now: str | None = None) -> dict[str, Any] | None:
    """Issue the rolling round of notices for late problems when the plan's rhythm says so."""
    from duban.services.notices.rolling import issue_round

    result = database().run(issue_round, clock_at(now), campaign_id)
    return _plain(result) if result is not None else None


@task(name="arm-ladder", **OPTS)
def arm_task(campaign_id: int) -> int:
    """Compute when each open problem's next reminder rung falls due."""
    from duban.services.calendars import working_calendar
    from duban.services.campaigns import load_plan_of
    from duban.services.reminders import arm

    with database().unit_of_work() as uow:
        plan = load_plan_of(uow.session, campaign_id)
        armed = arm(uow, campaign_id, plan.reminders, working_calendar())
        uow.commit()
    return armed


@task(name="sweep-deadlines", **OPTS)
def sweep_task(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    """Fire due rungs and write one digest per office and audience."""
    from duban.services.reminders import sweep

    return _plain(database().run(sweep, clock_at(now), campaign_id))


@task(name="recurring-duties", **OPTS)
def duties_task(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    """Create the duty occurrences opened by today (once each) and chase missed ones and
    milestones not reached with the ladder."""
    from duban.services.duties import create_occurrences, sweep_duties

    r = root(now)
    with r.unit_of_work() as uow:
        created = create_occurrences(uow, r.clock, campaign_id, r.calendar)
        swept = sweep_duties(uow, r.clock, campaign_id, r.calendar)
        uow.commit()
    return {"created": created, **_plain(swept)}


@task(name="deliver-outbox", **OPTS)
def deliver_task(now: str | None = None) -> dict[str, Any]:
    """Send what the outbox holds and whose time has come."""
    from tasks.delivery import deliver

    result = deliver(database(), clock_at(now))
    return {"claimed": result.claimed, "sent": result.sent, "retrying": result.retrying,
            "failed": result.failed, "off": result.off}


@task(name="daily-report", **OPTS)
def daily_report_task(campaign_id: int, now: str | None = None) -> str | None:
    """Write today's report once the plan's hour has passed; returns its path."""
    from duban.services.reports.delivery import publish_daily_report

    clock = clock_at(now)
    with database().unit_of_work() as uow:
        published = publish_daily_report(uow, clock, campaign_id)
        if published is None:
            return None
        uow.commit()
    docx = published[1]
    return str(docx) if docx else None


@task(name="spot-checks", **OPTS)
def spot_checks_task(campaign_id: int, now: str | None = None) -> int:
    """Draw today's spot checks for every supervision group (once per day)."""
    from duban.services.reviews import draw_daily_spot_checks

    return len(database().run(draw_daily_spot_checks, clock_at(now), campaign_id))


@task(name="close-reviewed", **OPTS)
def close_reviewed_task(campaign_id: int, username: str, now: str | None = None) -> dict[str, Any]:
    """Close every reviewed problem whose three signatures are complete."""
    from duban.services.reviews import close_reviewed

    return _plain(database().run(close_reviewed, clock_at(now), campaign_id, username))


@task(name="monthly-ranking", **OPTS)
def monthly_ranking_task(campaign_id: int, now: str | None = None) -> str | None:
    """Freeze last month's ranking once the plan's monthly day has come, and deliver it."""
    from duban.services.reports.delivery import deliver_due_ranking
    from duban.services.scoring.monthly import freeze_due_month
    from duban.services.stages import reports_dir

    clock = clock_at(now)
    with database().unit_of_work() as uow:
        month = freeze_due_month(uow, clock, campaign_id)
        # The latest frozen month goes out once, also when an earlier run froze it.
        deliver_due_ranking(uow, clock, campaign_id, reports_dir(campaign_id))
        uow.commit()
    return month.strftime("%Y-%m") if month else None


def review_day_due(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    """What of the review stage's daily work has something to do today, asked in one read
    transaction with the services' own rules, called in the tick's flow (flows.review):
    `spot_checks` the day's drawn checks' ids, None while the draw is due
    (drawn_spot_checks); `ranking_due` whether a month is to be frozen or a frozen ranking
    sent, `ranking_month` the month freeze_due_month reports (monthly_ranking_due)."""
    from duban.services.reports.delivery import monthly_ranking_due
    from duban.services.reviews import drawn_spot_checks

    clock = clock_at(now)
    with database().unit_of_work(read_only=True) as uow:
        drawn = drawn_spot_checks(uow, clock, campaign_id)
        ranking_due, month = monthly_ranking_due(uow, clock, campaign_id)
    return {"spot_checks": drawn, "ranking_due": ranking_due,
            "ranking_month": month.strftime("%Y-%m") if month else None}


@task(name="stages-started", **OPTS)
def stage_kinds_started_task(campaign_id: int) -> list[str]:
    """Kinds of the stages that have a run."""
    from duban.services.stages import stage_runs

    return sorted({r.kind for r in database().run(stage_runs, campaign_id)})


def _failure(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def tick_lookups(now: str | None = None) -> dict[str, Any]:
    """The tick's first steps, called in its flow: reap interrupted stage runs, close ended
    campaigns, then each live campaign's due stages and the kinds of its started stages.

    A reaping or listing failure raises (the tick cannot go on); closing's and one
    campaign's failures are returned, as the tick reports them, and the others go on.
    """
    out: dict[str, Any] = {"reaped": reap_task.fn(now), "closed": [], "closing_error": None,
                           "campaigns": []}
    try:
        out["closed"] = close_ended_task.fn(now)
    except Exception as exc:
        log.exception("closing ended campaigns failed")
        out["closing_error"] = _failure(exc)
    for campaign_id in live_campaigns_task.fn(now):
        entry: dict[str, Any] = {"id": campaign_id}
        try:
            entry["due"] = due_stages_task.fn(campaign_id, now)
            entry["started"] = stage_kinds_started_task.fn(campaign_id)
        except Exception as exc:
            log.exception("looking up the stages of campaign %s failed", campaign_id)
            entry["error"] = _failure(exc)
        out["campaigns"].append(entry)
    return out


def campaign_sweeps(campaign_id: int, now: str | None = None) -> dict[str, Any]:
    """A campaign's daily steps, called in the tick's flow, each its own transaction: the
    rolling round of late problems' notices before the ladder's sweep, the duties, the daily
    report."""
    return {"notice_round": notice_round_task.fn(campaign_id, now),
            "sweep": sweep_task.fn(campaign_id, now),
            "duties": duties_task.fn(campaign_id, now),
            "daily_report": daily_report_task.fn(campaign_id, now)}


def deliver_and_sweep_files(now: str | None = None) -> dict[str, Any]:
    """The tick's last steps, called in its flow: deliver the outbox (its failure raises),
    then sweep the data directory (its failure is returned: housekeeping must not fail the
    tick's promises)."""
    out: dict[str, Any] = {"delivery": deliver_task.fn(now), "files": None, "files_error": None}
    try:
        out["files"] = sweep_files_task.fn()
    except Exception as exc:
        log.exception("the file sweep failed")
        out["files_error"] = _failure(exc)
    return out
