"""What every task needs: the process's composition root and a clock for its `now`."""

from __future__ import annotations

from duban.domain.clock import Clock, FixedClock, SystemClock
from duban.services.database import Database
from duban.services.root import Root, process_root
from duban.services.stages import as_clock_time


def root(now: str | None = None) -> Root:
    """The process's root (installed by the CLI, the demo or a test; else built from
    configuration in a Prefect worker), seen from the task's clock."""
    return process_root().at(clock_at(now))


def database() -> Database:
    """The process's Database (tasks take IDs, never sessions)."""
    return process_root().db


def clock_at(now: str | None) -> Clock:
    """A fixed clock at an ISO moment (simulated time), else the system clock."""
    moment = as_clock_time(now)
    return FixedClock(moment) if moment is not None else SystemClock()
