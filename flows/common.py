"""Running flows quietly: Prefect's flow heartbeat off (it costs ~1 s per flow run)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

# Offices per issue-notices task: a county's ~100 offices make a handful of task runs.
OFFICES_PER_TASK = 25


@contextmanager
def quiet_prefect() -> Iterator[None]:
    """Prefect settings for short stage runs: no heartbeat thread."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # The environment variable cannot say None; only temporary_settings can.
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def run_quietly(flow: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a flow with the heartbeat off."""
    with quiet_prefect():
        return flow(*args, **kwargs)


def batches(items: list[str], size: int = OFFICES_PER_TASK) -> list[list[str]]:
    """Split a list into consecutive batches."""
    return [items[i : i + size] for i in range(0, len(items), size)]
