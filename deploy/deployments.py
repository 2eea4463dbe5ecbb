"""Prefect deployments for the scaled mode: a process work pool and cron schedules.

`python -m deploy.deployments [--pool duban-pool] [--cron "*/5 * * * *"] [--source DIR]`
creates the work pool if it is missing and registers:

- duban-tick/tick: the tick (advance campaigns, sweep deadlines, daily report, deliver) on
  a cron schedule, run by any worker of the pool;
- advance-campaign/advance: one campaign's due stages, run on demand with `campaign_id`.

Workers run the flows from `--source` (this checkout by default); each worker process needs
DUBAN_DATABASE_URL (duban's database) and DUBAN_DATA_DIR in its environment.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POOL = "duban-pool"
TICK_CRON = "*/5 * * * *"
TIMEZONE = "Asia/Shanghai"

# The scaled mode's processes, as deploy/compose.yaml runs them and the slow test
# tests/orchestration/test_scaled_mode.py starts them (a test checks they agree).
SERVER_COMMAND = ("prefect", "server", "start", "--host", "0.0.0.0", "--port", "4200")
DEPLOY_COMMAND = ("python", "-m", "deploy.deployments")


def worker_command(n: int, pool: str = POOL) -> tuple[str, ...]:
    """The command of the n-th worker of the pool."""
    return ("prefect", "worker", "start", "--pool", pool, "--type", "process",
            "--name", f"duban-worker-{n}")


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


def deploy_all(*, pool: str = POOL, cron: str | None = TICK_CRON,
               source: Path = ROOT, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Register the deployments; returns their ids by name."""
    from prefect import flow
    from prefect.schedules import Cron

    ensure_pool(pool)
    job_variables: dict[str, Any] = {"working_dir": str(source)}
    if env:
        job_variables["env"] = env
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
    advance = flow.from_source(source=str(source), entrypoint="flows/campaign.py:advance_campaign")
    ids["advance-campaign/advance"] = advance.deploy(  # type: ignore[union-attr]
        name="advance", work_pool_name=pool, job_variables=job_variables,
        description="推进一项行动：启动已到日期的阶段（可重复执行）。", print_next_steps=False,
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
