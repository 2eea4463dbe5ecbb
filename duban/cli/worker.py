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
# A worker's flow runs (ticks, their stages) are background work: they run this much below
# the web app's CPU priority, so that on a shared machine the clerks' pages go first
# (docs/benchmarks.md, "A city on one deployment"). Prefect's worker and every flow-run
# process it starts inherit it. 0 keeps the worker's own priority. Its flow runs' stages
# also work a smaller share of the time than a single county's server's
# (flow_run_environment, adapters/pacing.py's SHARED_STAGE_DUTY).
DEFAULT_NICE = 10


def worker_nice(environ: dict[str, str] | os._Environ[str]) -> int:
    """The deployment's DUBAN_WORKER_NICE (0-19), DEFAULT_NICE when unset."""
    raw = environ.get("DUBAN_WORKER_NICE", "").strip()
    if not raw:
        return DEFAULT_NICE
    try:
        nice = int(raw)
    except ValueError:
        nice = -1
    if not 0 <= nice <= 19:
        raise DubanError(f"环境变量 DUBAN_WORKER_NICE 的值“{raw}”无效，应为0到19的整数"
                         "（worker 及其运行降低的 CPU 优先级，0 表示不降低）。worker 未启动。")
    return nice


def flow_run_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The environment Prefect's worker and its flow runs get: this one, with the stages'
    pace at SHARED_STAGE_DUTY unless the deployment set DUBAN_STAGE_DUTY (checked here, so a
    wrong value stops the worker rather than each flow run)."""
    from duban.adapters.pacing import SHARED_STAGE_DUTY, stage_duty

    env = dict(environ)
    if env.get("DUBAN_STAGE_DUTY", "").strip():
        try:
            stage_duty(env)
        except ValueError as refused:
            raise DubanError(f"{refused}。worker 未启动。") from None
    else:
        env["DUBAN_STAGE_DUTY"] = str(SHARED_STAGE_DUTY)
    return env


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
@click.option("--nice", type=click.IntRange(0, 19), default=None,
              help=f"worker 及其运行降低的 CPU 优先级（0–19，0 表示不降低；默认取环境变量 "
                   f"DUBAN_WORKER_NICE，未设置时为 {DEFAULT_NICE}），让网页请求优先。")
def worker_cmd(pool: str, name: str | None, nice: int | None) -> None:
    from duban.adapters.children import OwnedChild, descendants, stop_processes

    check_environment(os.environ)
    if nice is None:
        nice = worker_nice(os.environ)
    args = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
            "--type", "process", *(["--name", name] if name else [])]
    env = flow_run_environment(os.environ)
    child = OwnedChild(args, stdin=subprocess.DEVNULL, nice=nice, env=env)
    click.echo(f"worker 已启动（工作池 {pool}，进程 {child.pid}，CPU 优先级降低 {nice}，"
               f"后台阶段工作时间占比 {env['DUBAN_STAGE_DUTY']}）。", err=True)
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
