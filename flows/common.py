"""Running flows quietly: Prefect's flow heartbeat off (it costs ~1 s per flow run)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

# Prefect's default wait for its ephemeral server (20 s) is too short on a busy 2-core machine: the
# demo and the tick test failed with "Timed out while attempting to connect to ephemeral Prefect
# API server" at load 10+. The server normally answers in 7-13 s; waiting longer costs nothing.
EPHEMERAL_STARTUP_SECONDS = 300

# Offices per issue-notices task: a county's ~100 offices make a handful of task runs.
OFFICES_PER_TASK = 25


@contextmanager
def quiet_prefect() -> Iterator[None]:
    """Prefect settings for short stage runs: no heartbeat thread, a patient server start."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    # The environment variable cannot say None; only temporary_settings can.
    updates: dict[Any, Any] = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    if "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" not in os.environ:
        updates[PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS] = EPHEMERAL_STARTUP_SECONDS
    with temporary_settings(updates=updates):
        yield


@contextmanager
def flow_session() -> Iterator[None]:
    """Many flow runs in one process (the demo's ticks) share one API client and settings.

    Outside it every top-level flow run builds its own client: a TLS context, a connection
    and a version check against the server each time.
    """
    from prefect.context import SyncClientContext

    with quiet_prefect(), SyncClientContext.get_or_create():
        yield


def run_quietly(flow: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a flow with the heartbeat off."""
    with quiet_prefect():
        return flow(*args, **kwargs)


def batches(items: list[str], size: int = OFFICES_PER_TASK) -> list[list[str]]:
    """Split a list into consecutive batches."""
    return [items[i : i + size] for i in range(0, len(items), size)]
