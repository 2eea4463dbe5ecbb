"""`duban worker` refuses to start without duban's database (no empty SQLite file anywhere)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DUBAN = str(Path(sys.executable).with_name("duban"))


def _worker(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DUBAN_", "PREFECT_API_URL"))}
    env.update(PYTHONPATH=str(ROOT), HOME=str(tmp_path), **extra)
    return subprocess.run([DUBAN, "worker", "--name", "w"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_worker_without_the_database_url_refuses_to_start(tmp_path: Path) -> None:
    result = _worker(tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api")
    assert result.returncode == 1, result.stderr
    assert "未设置环境变量 DUBAN_DATABASE_URL" in result.stderr
    assert "worker 未启动" in result.stderr and "Traceback" not in result.stderr
    # Nothing was created: no SQLite file, no data directory, in the working directory.
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_worker_without_a_prefect_server_refuses_to_start(tmp_path: Path) -> None:
    result = _worker(tmp_path, DUBAN_DATABASE_URL="postgresql+psycopg://u@127.0.0.1:9/x")
    assert result.returncode == 1, result.stderr
    assert "未设置环境变量 PREFECT_API_URL" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_worker_with_a_bad_priority_refuses_to_start(tmp_path: Path) -> None:
    result = _worker(tmp_path, DUBAN_DATABASE_URL="postgresql+psycopg://u@127.0.0.1:9/x",
                     PREFECT_API_URL="http://127.0.0.1:9/api", DUBAN_WORKER_NICE="20")
    assert result.returncode == 1, result.stderr
    assert "DUBAN_WORKER_NICE 的值“20”无效" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_worker_priority_defaults_to_ten_below_and_is_configurable() -> None:
    from duban.cli.worker import DEFAULT_NICE, worker_nice
    from duban.domain.errors import DubanError

    assert worker_nice({}) == DEFAULT_NICE == 10
    assert worker_nice({"DUBAN_WORKER_NICE": " 0 "}) == 0
    assert worker_nice({"DUBAN_WORKER_NICE": "19"}) == 19
    for bad in ("-1", "ten", "2.5"):
        with pytest.raises(DubanError, match="DUBAN_WORKER_NICE"):
            worker_nice({"DUBAN_WORKER_NICE": bad})


def test_a_workers_flow_runs_work_a_tenth_of_the_time_unless_the_deployment_says() -> None:
    # Counties share the scaled mode's deployment: a stage at half the time still cost another
    # county's pages 1.23-1.26x at p95 on two cores (docs/benchmarks.md).
    from duban.adapters.pacing import SHARED_STAGE_DUTY, stage_duty
    from duban.cli.worker import flow_run_environment
    from duban.domain.errors import DubanError

    env = flow_run_environment({"PATH": "/bin", "DUBAN_STAGE_DUTY": " "})
    assert env == {"PATH": "/bin", "DUBAN_STAGE_DUTY": "0.1"}
    assert stage_duty(env) == SHARED_STAGE_DUTY == 0.1
    assert flow_run_environment({"DUBAN_STAGE_DUTY": "1"}) == {"DUBAN_STAGE_DUTY": "1"}
    for bad in ("0", "1.5", "half"):
        with pytest.raises(DubanError, match=f"DUBAN_STAGE_DUTY 的值“{bad}”无效.*worker 未启动"):
            flow_run_environment({"DUBAN_STAGE_DUTY": bad})


def test_a_worker_with_a_bad_duty_refuses_to_start(tmp_path: Path) -> None:
    result = _worker(tmp_path, DUBAN_DATABASE_URL="postgresql+psycopg://u@127.0.0.1:9/x",
                     PREFECT_API_URL="http://127.0.0.1:9/api", DUBAN_STAGE_DUTY="2")
    assert result.returncode == 1, result.stderr
    assert "DUBAN_STAGE_DUTY 的值“2”无效" in result.stderr and "Traceback" not in result.stderr
