"""Prefect deployments for the scaled mode: a process work pool and cron schedules.

`python -m deploy.deployments [--pool duban-pool] [--cron "*/5 * * * *"] [--source DIR]`
creates the work pool if it is missing and registers duban-tick/tick: the tick (advance
campaigns, sweep deadlines, daily report, deliver) on a cron schedule, one at a time over the
whole pool (concurrency limit 1), run by any worker of the pool (`duban worker`), with
retries on its flow and task runs and flow-run heartbeats every 30 s; and the automation that
marks a flow run crashed when its heartbeats stop (a worker lost with its host), which frees
the tick's concurrency slot for the next tick, which resumes the stage (flows/tick.py).

Workers run the flows from `--source` (this checkout by default); each worker process needs
DUBAN_DATABASE_URL (duban's database) and DUBAN_DATA_DIR in its environment (`duban worker`
refuses to start without the first).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POOL = "duban-pool"
TICK_CRON = "*/5 * * * *"
TIMEZONE = "Asia/Shanghai"

# Flow runs of the deployment send a heartbeat event every HEARTBEAT_SECONDS (Prefect's
# minimum, 30); the automation marks a run crashed after ZOMBIE_SECONDS without one.
HEARTBEAT_SECONDS = 30
ZOMBIE_SECONDS = 3 * HEARTBEAT_SECONDS
ZOMBIE_AUTOMATION = "duban: crash flow runs without heartbeats"
# Retries in scaled mode (Prefect settings, in the flow-run processes' environment): a
# transient failure (the database restarted, a lost connection) is tried again. Safe: every
# task is idempotent (tasks/orchestration.py) and each runs in one transaction.
RUN_ENV = {
    "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
    "PREFECT_TASKS_DEFAULT_RETRIES": "2",
    "PREFECT_TASKS_DEFAULT_RETRY_DELAY_SECONDS": "10",
    "PREFECT_FLOWS_DEFAULT_RETRIES": "1",
    "PREFECT_FLOWS_DEFAULT_RETRY_DELAY_SECONDS": "30",
}

# The scaled mode's processes, as deploy/compose.yaml runs them and the slow test
# tests/orchestration/test_scaled_mode.py starts them (a test checks they agree).
SERVER_COMMAND = ("prefect", "server", "start", "--host", "0.0.0.0", "--port", "4200")
DEPLOY_COMMAND = ("python", "-m", "deploy.deployments")


def worker_command(n: int, pool: str = POOL) -> tuple[str, ...]:
    """The command of the n-th worker of the pool (duban/cli/worker.py)."""
    return ("duban", "worker", "--pool", pool, "--name", f"duban-worker-{n}")


def ensure_pool(name: str = POOL) -> None:
    """Create the process work pool when it does not exist."""
    import anyio
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    async def create() -> None:
        async with get_client() as client:
            try:
                await client.read_work_pool(name)
                return
            except ObjectNotFound:
                pass
            with contextlib.suppress(ObjectAlreadyExists):  # another deployer won the race
                await client.create_work_pool(WorkPoolCreate(name=name, type="process"))

    anyio.run(create)


def ensure_zombie_automation() -> None:
    """The automation of Prefect's "detect zombie flows": a running flow run whose heartbeats
    stop for ZOMBIE_SECONDS is marked crashed (created once, by name)."""
    import anyio
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    async def exists() -> bool:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            return bool(await client.read_automations_by_name(ZOMBIE_AUTOMATION))

    if anyio.run(exists):
        return
    Automation(
        name=ZOMBIE_AUTOMATION,
        description="督办：flow run 停止心跳（worker 或其主机丢失）即标记为崩溃，释放调度的并发名额。",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
                    "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=dt.timedelta(seconds=ZOMBIE_SECONDS),
        ),
        actions=[ChangeFlowRunState(
            state=StateType.CRASHED, name=None, force=False,
            message=f"{ZOMBIE_SECONDS} 秒没有心跳：运行它的 worker 已丢失")],
    ).create()


def deploy_all(*, pool: str = POOL, cron: str | None = TICK_CRON,
               source: Path = ROOT, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Register the deployments; returns their ids by name."""
    from prefect import flow
    from prefect.schedules import Cron

    ensure_pool(pool)
    ensure_zombie_automation()
    job_variables: dict[str, Any] = {"working_dir": str(source), "env": {**RUN_ENV, **(env or {})}}
    ids: dict[str, Any] = {}
    tick = flow.from_source(source=str(source), entrypoint="flows/tick.py:tick")
    ids["duban-tick/tick"] = tick.deploy(  # type: ignore[union-attr]
        name="tick", work_pool_name=pool, job_variables=job_variables,
        schedules=[Cron(cron, timezone=TIMEZONE)] if cron else [],
        # One tick at a time over the whole pool: two at once raced on reminder_state.
        concurrency_limit=1,
        description="督办调度：推进行动阶段、扫描时限、发送提醒、写日报、投递消息。",
        print_next_steps=False,
    )
    return ids


def main(argv: list[str] | None = None) -> int:
    """Register the deployments against $PREFECT_API_URL."""
    parser = argparse.ArgumentParser(prog="python -m deploy.deployments")
    parser.add_argument("--pool", default=POOL)
    parser.add_argument("--cron", default=TICK_CRON, help='cron of the tick; "" for none')
    parser.add_argument("--source", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    ids = deploy_all(pool=args.pool, cron=args.cron or None, source=args.source)
    for name, ident in ids.items():
        print(f"{name}: {ident}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
