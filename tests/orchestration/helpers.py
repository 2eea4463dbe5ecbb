"""Helpers for orchestration tests: a small campaign plan with a full reminder ladder."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.plan import Plan
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.problems import record_problems
from duban.services.root import build_root, install_root
from duban.synth.plans import LADDER, synthetic_plan

__all__ = ["LADDER", "add_problems", "at", "committed", "count_rows", "launch", "make_plan", "stop",
           "use_database"]

# The orchestration tests' plan: two towns, three offices, the full reminder ladder.
make_plan = synthetic_plan


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> dt.datetime:
    """A China-time moment."""
    return dt.datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


@pytest.fixture(name="db")
def committed(committed_db: Database) -> Database:
    """Committed data, for modules that import this as their `db`: threads, worker processes,
    tasks and Prefect flows open their own units of work and read what a test writes."""
    return committed_db


def count_rows(db: Database, model: type, *where: object) -> int:
    """How many rows of a table (those matching `where`) are committed."""
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def stop(procs: Sequence[subprocess.Popen[Any]]) -> None:
    """End worker processes: SIGTERM, half a minute to finish, then kill."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def launch(db: Database, clock: FixedClock, plan: Plan | None = None) -> int:
    """Launch a campaign of the plan (default: make_plan())."""
    return db.run(launch_campaign, clock, plan or make_plan(), "# test", "county")


def add_problems(db: Database, clock: FixedClock, campaign_id: int, n: int, *,
                 category: str = "housing", found_on: dt.date | None = None,
                 deadline: dt.date | None = None, tag: str = "") -> list[int]:
    """Record n routed problems spread over the villages."""
    villages = [("t1", "v1"), ("t1", "v2"), ("t2", "v3")]
    reported = [
        ReportedProblem(
            source="visit", category=category, town=villages[i % 3][0],
            village=villages[i % 3][1], household_id=f"H{i:05d}",
            description=f"{tag}问题{i}：住房存在安全隐患", found_by="cadre",
            found_on=found_on or clock.now().date(), deadline=deadline,
        )
        for i in range(n)
    ]
    return db.run(record_problems, clock, campaign_id, reported, recorded_by="cadre").problem_ids


def use_database(db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install the test database as the process's root for the tasks; returns its URL.

    The URL also goes into the environment for child processes (a Prefect worker builds its
    root from configuration).
    """
    url = db.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    install_root(build_root(db=db))
    return url


def live_processes() -> dict[int, tuple[int, str]]:
    """Live (not zombie) processes: pid -> (parent pid, command line)."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("State", "").strip().startswith("Z"):
            continue
        found[int(entry.name)] = (int(fields["PPid"].strip()), cmdline)
    return found
