"""Scaled mode on localhost: a Prefect server on PostgreSQL, a process pool, two workers.

Slow (a few minutes): the server, two `duban worker`s and the deployment runs are real
processes. One worker is lost with its host (SIGKILL of the worker, Prefect's worker under it
and the flow run mid-stage); the heartbeat automation marks the run crashed; two ticks started
at once then run one after the other, the first resuming the stage; nothing is duplicated,
no process is left, and the other worker stops on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from deploy.deployments import DEPLOY_COMMAND, SERVER_COMMAND, worker_command
from duban.adapters.children import descendants, session_group_nice
from duban.cli.worker import DEFAULT_NICE
from duban.domain.clock import FixedClock
from duban.services.database import Database
from models import Notice, NoticeProblem, OutboxMessage, Problem, StageRun
from tests.conftest import ROOT, scratch_pg_database
from tests.orchestration.helpers import add_problems, at, launch, make_plan, stop
from tests.orchestration.helpers import committed as committed  # this module's db: committed

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
OFFICES = 40  # enough notices that the kill lands inside the rectify stage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prefect_pg() -> Iterator[str]:
    """A separate PostgreSQL database for Prefect's own tables (asyncpg URL)."""
    with scratch_pg_database("prefect_test", "pg_trgm") as url:
        yield url.replace("postgresql+psycopg", "postgresql+asyncpg")


def _wait(what: str, check: Callable[[], Any], timeout_s: float, logs: Path,
          every_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    pytest.fail(f"{what} did not happen within {timeout_s:g} s:\n" + "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in sorted(logs.iterdir())))


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _environ(pid: int) -> dict[str, str]:
    """A process's environment, from /proc."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _nice(pid: int) -> int:
    """A process's niceness (field 19 of /proc/PID/stat)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


# A loaded 2-core machine took 4 minutes to start the server alone; the waits below bound it.
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("committed_db", ["postgresql"], indirect=True)
def test_workers_run_ticks_one_at_a_time_and_recover_a_lost_worker(
        db: Database, clock: FixedClock, prefect_pg: str, tmp_path: Path) -> None:
    duban_url = db.engine.url.render_as_string(hide_password=False)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan(extra_offices=OFFICES))
    for i in range(OFFICES):
        add_problems(db, clock, cid, 2, category=f"c{i:02d}", tag=f"{i}-")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": prefect_pg,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": api,
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "DUBAN_DATABASE_URL": duban_url,
        "DUBAN_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: dict[str, subprocess.Popen[Any]] = {}
    seen: set[int] = set()  # every process started under ours, for the orphan check

    def spawn(name: str, *args: str) -> subprocess.Popen[Any]:
        out = (logs / f"{name}.log").open("w")
        proc = subprocess.Popen([str(BIN / args[0]), *args[1:]], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        procs[name] = proc
        return proc

    def run_tick() -> str:
        deployment = httpx.get(f"{api}/deployments/name/duban-tick/tick", timeout=30).json()
        run = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", timeout=30,
                         json={"parameters": {"now": at(2022, 9, 26, 9, 30).isoformat()}})
        run.raise_for_status()
        return str(run.json()["id"])

    def flow_run(ident: str) -> dict[str, Any]:
        return dict(httpx.get(f"{api}/flow_runs/{ident}", timeout=30).json())

    def rectify() -> StageRun | None:
        with db.transaction() as s:
            return s.scalars(select(StageRun).where(StageRun.kind == "rectify")).one_or_none()

    try:
        # The commands of deploy/compose.yaml (deploy.deployments), on a free local port.
        server = list(SERVER_COMMAND)
        server[server.index("--host") + 1] = "127.0.0.1"
        server[server.index("--port") + 1] = str(port)
        spawn("server", *server)

        def healthy() -> bool:
            try:
                return httpx.get(f"{api}/health", timeout=10).status_code == 200
            except httpx.HTTPError:
                return False

        _wait("the Prefect server's health", healthy, 300, logs, every_s=1)
        deployed = subprocess.run(
            [sys.executable, *DEPLOY_COMMAND[1:], "--cron", "0 8 * * *"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        assert deployed.returncode == 0, deployed.stderr[-3000:]
        tick = httpx.get(f"{api}/deployments/name/duban-tick/tick", timeout=10).json()
        limit = tick.get("global_concurrency_limit") or {}
        assert tick.get("concurrency_limit") == 1 or limit.get("limit") == 1, tick
        assert tick["job_variables"]["env"]["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] == "30"
        workers = {n: spawn(f"worker{n}", *worker_command(n)) for n in (1, 2)}

        # 1. A worker is lost with its host in the middle of the rectify stage.
        first = run_tick()

        def mid_stage() -> bool:
            run = rectify()
            if run is None or run.status != "running":
                return False
            with db.transaction() as s:
                return s.scalars(select(Notice.id)).first() is not None

        _wait("the rectify stage's first notices", mid_stage, 300, logs)
        busy = {n: descendants(w.pid) for n, w in workers.items()}
        lost = [n for n, tree in busy.items() if len(tree) > 1]  # its Prefect worker + the run
        assert len(lost) == 1, busy
        # Background work: Prefect's worker and the flow run run below the web app's priority.
        niced = min(os.nice(0) + DEFAULT_NICE, 19)
        assert {pid: _nice(pid) for pid in busy[lost[0]]} == dict.fromkeys(busy[lost[0]], niced)
        # ... and its stages work the shared deployment's share of the time.
        assert {pid: _environ(pid).get("DUBAN_STAGE_DUTY") for pid in busy[lost[0]]} == \
            dict.fromkeys(busy[lost[0]], "0.1")
        # Each leads a session (Prefect's worker, the flow run): with Linux's autogroup the
        # cores are shared between sessions first, so each session's group is niced too.
        # A new session has a group wherever the kernel has autogroup, even when this test's
        # own process sits in the kernel's root group (its file reads empty, as on CI).
        if Path("/proc/self/autogroup").exists():
            leaders = [pid for pid in busy[lost[0]] if os.getsid(pid) == pid]
            assert len(leaders) == 2, busy
            assert {pid: session_group_nice(pid) for pid in leaders} == dict.fromkeys(
                leaders, niced)
        victims = [workers[lost[0]].pid, *busy[lost[0]]]
        seen.update(victims)
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        workers[lost[0]].wait(timeout=30)
        interrupted = rectify()
        assert interrupted is not None and interrupted.status == "running", "killed mid-stage"
        # No heartbeat: Prefect's automation (deploy.deployments) marks the run crashed.
        _wait("the lost run marked crashed",
              lambda: flow_run(first)["state_type"] == "CRASHED", 300, logs, every_s=2)

        # 2. Two ticks at once: one waits for the other's concurrency slot; the first of them
        # resumes the stage.
        pair = [run_tick(), run_tick()]
        final = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
        _wait("both ticks to finish",
              lambda: all(flow_run(r)["state_type"] in final for r in pair), 400, logs,
              every_s=2)
        runs = [flow_run(r) for r in pair]
        assert [r["state_type"] for r in runs] == ["COMPLETED", "COMPLETED"], runs
        earlier, later = sorted(runs, key=lambda r: r["start_time"])
        assert earlier["end_time"] <= later["start_time"], "the ticks overlapped"
        # Retries are on in the flow runs (deploy.deployments.RUN_ENV): the flow once, tasks twice
        # (the task runs of the pair's ticks, their subflows' included: the resumed stage's
        # work; the tick's own small steps are plain calls in its flow run).
        assert {r["empirical_policy"]["retries"] for r in runs} == {1}
        task_runs = httpx.post(f"{api}/task_runs/filter", timeout=30, json={
            "task_runs": {"start_time": {"after_": earlier["start_time"]}},
            "limit": 200}).json()
        names = {t["name"].rsplit("-", 1)[0] for t in task_runs}
        assert {"begin-stage", "offices-to-notify", "finish-stage"} <= names, names
        assert {t["empirical_policy"]["retries"] for t in task_runs} == {2}
        for w in workers.values():
            if w.poll() is None:
                seen.update(descendants(w.pid))
    finally:
        survivors = [w for name, w in procs.items()
                     if name.startswith("worker") and w.poll() is None]
        stop(list(procs.values()))  # SIGTERM: the workers first, then the server
    # The surviving worker stopped on SIGTERM, cleanly, and nothing was left running.
    assert survivors and all(w.returncode == 128 + signal.SIGTERM for w in survivors)
    for name, proc in procs.items():
        if name.startswith("worker") and proc in survivors:
            assert "已停止。" in (logs / f"{name}.log").read_text()
    _wait("no process left", lambda: not [p for p in seen if _alive(p)], 30, logs)

    done = rectify()
    assert done is not None and done.status == "done" and done.attempts == 2
    assert [i["attempt"] for i in done.detail["interrupted"]] == [1]
    with db.transaction() as s:
        seqs = sorted(s.scalars(select(Notice.seq)))
        numbers = list(s.scalars(select(Notice.number).order_by(Notice.seq)))
        on_notice = Counter(s.scalars(select(NoticeProblem.problem_id)))
        problems = set(s.scalars(select(Problem.id)))
        keys = Counter(s.scalars(select(OutboxMessage.dedupe_key)))
        kinds = sorted(r.kind for r in s.scalars(select(StageRun)))
    assert kinds == ["investigate", "rectify"]
    assert seqs == list(range(1, OFFICES + 1)), "one notice per office, 文号 contiguous"
    assert set(on_notice) == problems and set(on_notice.values()) == {1}
    assert not keys or set(keys.values()) == {1}
    assert done.detail["notices"] == numbers
