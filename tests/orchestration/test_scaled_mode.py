"""Scaled mode on localhost: a Prefect server on PostgreSQL, a process pool, two workers.

Slow (about a minute): the server, two workers and a deployment run are real processes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from deploy.deployments import DEPLOY_COMMAND, SERVER_COMMAND, worker_command
from duban.domain.clock import FixedClock
from duban.services.database import Database
from models import Notice, StageRun
from tests.conftest import ROOT, scratch_pg_database
from tests.orchestration.helpers import add_problems, at, launch, stop
from tests.orchestration.helpers import committed as committed  # this module's db: committed

pytestmark = pytest.mark.slow
PREFECT = str(Path(sys.executable).with_name("prefect"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prefect_pg() -> Iterator[str]:
    """A separate PostgreSQL database for Prefect's own tables (asyncpg URL)."""
    with scratch_pg_database("prefect_test", "pg_trgm") as url:
        yield url.replace("postgresql+psycopg", "postgresql+asyncpg")


@pytest.mark.parametrize("committed_db", ["postgresql"], indirect=True)
def test_a_worker_runs_the_tick_deployment(db: Database, clock: FixedClock, prefect_pg: str,
                                           tmp_path: Path) -> None:
    duban_url = db.engine.url.render_as_string(hide_password=False)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 3)
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
    procs: list[subprocess.Popen[Any]] = []

    def spawn(name: str, *args: str) -> subprocess.Popen[Any]:
        out = (logs / f"{name}.log").open("w")
        proc = subprocess.Popen([PREFECT, *args], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    try:
        # The commands of deploy/compose.yaml (deploy.deployments), on a free local port.
        server = list(SERVER_COMMAND[1:])
        server[server.index("--host") + 1] = "127.0.0.1"
        server[server.index("--port") + 1] = str(port)
        spawn("server", *server)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("Prefect server did not become healthy:\n"
                        + (logs / "server.log").read_text()[-3000:])
        deployed = subprocess.run(
            [sys.executable, *DEPLOY_COMMAND[1:], "--cron", "0 8 * * *"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert deployed.returncode == 0, deployed.stderr[-3000:]
        # One tick at a time over the pool (two at once raced on reminder_state).
        tick = httpx.get(f"{api}/deployments/name/duban-tick/tick", timeout=10).json()
        limit = tick.get("global_concurrency_limit") or {}
        assert tick.get("concurrency_limit") == 1 or limit.get("limit") == 1, tick
        for n in (1, 2):
            spawn(f"worker{n}", *worker_command(n)[1:])
        run = subprocess.run(
            [PREFECT, "deployment", "run", "duban-tick/tick", "--param",
             f"now={at(2022, 9, 26, 9, 30).isoformat()}", "--watch", "--watch-timeout", "240"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        output = run.stdout + run.stderr
        assert run.returncode == 0, output[-3000:] + "\n" + "\n".join(
            (logs / f"worker{n}.log").read_text()[-2000:] for n in (1, 2))
        assert "Completed" in output
        flow_run = _last_flow_run(api)
        assert flow_run["work_pool_name"] == "duban-pool"
        assert flow_run["infrastructure_pid"], "a process worker started the flow run"
        workers = httpx.post(f"{api}/work_pools/duban-pool/workers/filter", json={},
                             timeout=10).json()
        assert {w["name"] for w in workers} >= {"duban-worker-1", "duban-worker-2"}
    finally:
        stop(procs)
    with db.transaction() as s:
        kinds = sorted(r.kind for r in s.scalars(select(StageRun)))
        notices = s.scalars(select(Notice)).all()
    assert kinds == ["investigate", "rectify"]
    assert len(notices) == 1 and notices[0].office_code == "jhb"
    assert shutil.which(PREFECT) or Path(PREFECT).exists()


def _last_flow_run(api: str) -> dict[str, Any]:
    runs = httpx.post(f"{api}/flow_runs/filter",
                      json={"sort": "EXPECTED_START_TIME_DESC", "limit": 5,
                            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}},
                      timeout=10).json()
    top = [r for r in runs if r.get("deployment_id")]
    assert top, runs
    return top[0]
