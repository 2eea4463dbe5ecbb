"""Stage runs and the tick's bookkeeping: which stages are due, which campaigns are live.

A stage run is keyed by (campaign, stage seq). Starting one that exists already (a rerun
after a crash or a kill) returns it with one more attempt; every step a stage flow takes is
idempotent on its own, so the rerun only does what is missing.

Ticks run one at a time (the embedded scheduler's lease; the tick deployment's concurrency
limit of one in scaled mode) and stages run only inside a tick, so a stage run still
`running` when a tick starts belongs to a tick that is gone (its process or its worker's host
killed): the reaper marks it `crashed`, and the same tick resumes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from duban.domain.clock import CHINA_TZ, Clock, local_now, local_today
from duban.services.campaigns import CLOSED, load_plan_of
from duban.services.database import UnitOfWork, data_dir, insert_or_skip
from models import Campaign, CampaignStage, DailyReportRun, Notice, StageRun

RUNNING = "running"
DONE = "done"
CRASHED = "crashed"  # its tick is gone; the next tick resumes it


def rectify_batch_prefix(campaign_id: int, seq: int) -> str:
    """The batch key prefix of every 督办通知书 a rectify stage run issues (flows/rectify.py)."""
    return f"rectify:{campaign_id}:{seq}:"


def stage_notices(uow: UnitOfWork, campaign_id: int, seq: int) -> list[str]:
    """The 文号 a rectify stage issued over all its attempts, in number order."""
    prefix = rectify_batch_prefix(campaign_id, seq)
    return list(uow.session.scalars(
        select(Notice.number).where(Notice.campaign_id == campaign_id,
                                    Notice.batch_key.startswith(prefix, autoescape=True))
        .order_by(Notice.year, Notice.seq)))


@dataclass(frozen=True)
class StageDue:
    """A stage whose start date has come and whose run is not done."""

    campaign_id: int
    seq: int
    kind: str
    name: str
    start: dt.date
    end: dt.date | None  # None: runs until the campaign is closed


def live_campaigns(uow: UnitOfWork, clock: Clock) -> list[int]:
    """Campaigns the tick looks after: started and not closed (总结).

    A campaign whose plan has ended is closed by the tick first (services.closing), so it
    is no longer live; one reopened by command stays live until it is closed again.
    """
    today = local_today(clock)
    session = uow.session
    rows = session.execute(select(Campaign.id).where(Campaign.status != CLOSED)
                           .order_by(Campaign.id)).scalars().all()
    out = []
    for cid in rows:
        first = session.scalar(select(func.min(CampaignStage.start))
                               .where(CampaignStage.campaign_id == cid))
        if first is not None and first <= today:
            out.append(cid)
    return out


def due_stages(uow: UnitOfWork, clock: Clock, campaign_id: int) -> list[StageDue]:
    """Stages that have started by today and have no finished run, in order."""
    today = local_today(clock)
    session = uow.session
    done = select(StageRun.stage_seq).where(StageRun.campaign_id == campaign_id,
                                            StageRun.status == DONE)
    stages = session.scalars(
        select(CampaignStage)
        .where(CampaignStage.campaign_id == campaign_id, CampaignStage.start <= today,
               CampaignStage.seq.not_in(done))
        .order_by(CampaignStage.seq)
    ).all()
    return [StageDue(campaign_id, s.seq, s.kind, s.name, s.start, s.end) for s in stages]


def begin_stage_run(uow: UnitOfWork, clock: Clock, campaign_id: int, seq: int,
                    kind: str) -> tuple[int, int]:
    """Open (or reopen) the run of a stage; returns (run id, attempt number)."""
    now = clock.now()
    session = uow.session
    # A concurrent starter may insert the row first: then this INSERT adds nothing and the
    # row read below is theirs.
    created = session.execute(insert_or_skip(session, StageRun).values(
        campaign_id=campaign_id, stage_seq=seq, kind=kind, status=RUNNING, attempts=1,
        started_at=now, detail={}, last_error=None,
    ).on_conflict_do_nothing(index_elements=["campaign_id", "stage_seq"])
        .returning(StageRun.__table__.c.id)).first() is not None
    run = session.scalar(select(StageRun).where(
        StageRun.campaign_id == campaign_id, StageRun.stage_seq == seq))
    assert run is not None
    if created:
        stage = session.scalar(select(CampaignStage).where(
            CampaignStage.campaign_id == campaign_id, CampaignStage.seq == seq))
        if stage is not None and stage.started_at is None:
            stage.started_at = now
    elif run.status != DONE:
        run.attempts += 1
        run.status = RUNNING
        run.last_error = None
    session.flush()
    return run.id, run.attempts


def finish_stage_run(uow: UnitOfWork, clock: Clock, campaign_id: int, seq: int,
                     detail: dict[str, Any]) -> None:
    """Mark a stage run done with what it did."""
    now = clock.now()
    session = uow.session
    run = session.scalar(select(StageRun).where(
        StageRun.campaign_id == campaign_id, StageRun.stage_seq == seq))
    if run is None:
        return
    run.status = DONE
    run.finished_at = now
    if run.kind == "rectify":
        # A rerun issues only what earlier attempts did not: the log lists them all.
        detail = {**detail, "notices": stage_notices(uow, campaign_id, seq)}
    run.detail = {**(run.detail or {}), **detail}
    stage = session.scalar(select(CampaignStage).where(
        CampaignStage.campaign_id == campaign_id, CampaignStage.seq == seq))
    if stage is not None:
        stage.completed_at = now


def reap_stage_runs(uow: UnitOfWork, clock: Clock) -> list[dict[str, Any]]:
    """Mark every stage run left `running` as crashed; returns what was marked.

    Called at the start of a tick, when no other tick runs (see the module's docstring). The
    interrupted attempt is kept in the run's log (`detail["interrupted"]`); the stage stays
    due, so the tick that reaped it runs it again, doing only what is missing.
    """
    now = clock.now()
    reaped = []
    for run in uow.session.scalars(select(StageRun).where(StageRun.status == RUNNING)
                                   .order_by(StageRun.campaign_id, StageRun.stage_seq)):
        run.status = CRASHED
        run.last_error = (f"第 {run.attempts} 次运行未完成（进程或其所在的 worker 中断，"
                          "或运行出错），由下一次调度接续")
        detail = dict(run.detail or {})
        detail["interrupted"] = [*detail.get("interrupted", []),
                                 {"attempt": run.attempts, "reaped_at": now.isoformat()}]
        run.detail = detail
        reaped.append({"campaign_id": run.campaign_id, "seq": run.stage_seq,
                       "kind": run.kind, "attempt": run.attempts})
    uow.session.flush()
    return reaped


@dataclass(frozen=True)
class StageRunLine:
    """A stage run as the CLI lists it."""

    campaign_id: int
    seq: int
    kind: str
    status: str
    attempts: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    detail: dict[str, Any]


def stage_runs(uow: UnitOfWork, campaign_id: int) -> list[StageRunLine]:
    """A campaign's stage runs in stage order."""
    session = uow.session
    return [StageRunLine(r.campaign_id, r.stage_seq, r.kind, r.status, r.attempts,
                         r.started_at, r.finished_at, dict(r.detail or {}))
            for r in session.scalars(select(StageRun).where(
                StageRun.campaign_id == campaign_id).order_by(StageRun.stage_seq))]


# ------------------------------------------------------------------------------ daily report


def daily_report_due(uow: UnitOfWork, clock: Clock, campaign_id: int) -> dt.date | None:
    """Today, when the plan's report hour has passed and today's report is not written."""
    now = local_now(clock)
    today = now.date()
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    # A stage without an end runs until the campaign closes (checked below).
    if not plan.start <= today <= (plan.end or dt.date.max):
        return None
    if session.scalar(select(Campaign.status).where(Campaign.id == campaign_id)) == CLOSED:
        return None
    if now.time() < plan.reports.daily_at:
        return None
    written = session.scalar(select(DailyReportRun.id).where(
        DailyReportRun.campaign_id == campaign_id, DailyReportRun.report_date == today))
    return None if written is not None else today


def reports_dir(campaign_id: int) -> Path:
    """Where a campaign's daily reports go."""
    return data_dir() / "reports" / str(campaign_id)


def record_daily_report(uow: UnitOfWork, clock: Clock, campaign_id: int, day: dt.date,
                        docx: Path | None, sha256: str | None) -> bool:
    """Record that a day's report is written; False when another run recorded it first."""
    done = uow.session.execute(insert_or_skip(uow.session, DailyReportRun).values(
        campaign_id=campaign_id, report_date=day, written_at=clock.now(), sha256=sha256,
        file_path=str(docx) if docx else None,
    ).on_conflict_do_nothing(index_elements=["campaign_id", "report_date"])
    .returning(DailyReportRun.__table__.c.id))
    return done.first() is not None


def as_clock_time(value: str | None) -> dt.datetime | None:
    """Parse an ISO moment handed to a flow; naive means China time."""
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
