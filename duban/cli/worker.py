"""`duban worker`: a worker of the scaled mode's Prefect pool, started and stopped by duban.

`prefect worker start` alone runs without duban's database (its flow runs would each create
an empty SQLite file in the working directory) and, on SIGTERM, leaves its flow-run
processes, each in a session of its own, running. duban checks the environment first, runs
Prefect's worker as an owned child (it dies with this process) and on SIGTERM or Ctrl-C stops
the worker and then its flow runs: they are marked crashed and the next tick resumes their
stages (every step is idempotent).
"""

from __future__ import annotations

import os
import subprocess
import sys

import click

from duban.cli.base import cli
from duban.domain.errors import DubanError

POOL = "duban-pool"  # deploy/deployments.py's pool
# A flow run stopped by SIGTERM reports its crash to the API; then it is killed.
FLOW_RUN_GRACE_S = 20.0


def check_environment(environ: dict[str, str] | os._Environ[str]) -> None:
    """Refuse to start without the database and the Prefect server a worker needs."""
    if not environ.get("DUBAN_DATABASE_URL", "").strip():
        raise DubanError(
            "未设置环境变量 DUBAN_DATABASE_URL（督办数据库地址，如 "
            "postgresql+psycopg://用户@主机:5432/duban）：扩展模式的 worker 必须连接督办数据库，"
            "否则会在当前目录建出一个空的 SQLite 数据库。worker 未启动。")
    if not environ.get("PREFECT_API_URL", "").strip():
        raise DubanError(
            "未设置环境变量 PREFECT_API_URL（Prefect 服务地址，如 http://主机:4200/api）："
            "worker 无处领取任务。worker 未启动。")


@cli.command("worker", help="扩展模式：启动一个 Prefect worker，执行工作池中的督办调度；"
             "需要环境变量 DUBAN_DATABASE_URL、DUBAN_DATA_DIR 和 PREFECT_API_URL。"
             "收到 SIGTERM 或 Ctrl-C 时停止 worker 及其正在执行的运行（下一次调度接续）。")
@click.option("--pool", default=POOL, show_default=True, help="Prefect 工作池名称。")
@click.option("--name", default=None, help="worker 名称（默认由 Prefect 生成）。")
def worker_cmd(pool: str, name: str | None) -> None:
    from duban.adapters.children import OwnedChild, descendants, stop_processes

    check_environment(os.environ)
    args = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
            "--type", "process", *(["--name", name] if name else [])]
    child = OwnedChild(args, stdin=subprocess.DEVNULL)
    click.echo(f"worker 已启动（工作池 {pool}，进程 {child.pid}）。", err=True)
    status = 0
    try:
        status = child.wait()
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        # The flow runs are the Prefect worker's children, each leading a session of its own:
        # found before the worker is stopped, stopped after it (it takes no new run then).
        runs = descendants(child.pid)
        child.stop()
        stop_processes(runs, grace_s=FLOW_RUN_GRACE_S)
        click.echo("已停止。", err=True)
    if status:
        raise DubanError(f"Prefect worker 已退出（退出状态 {status}）")
