"""Running flows quietly (Prefect's flow heartbeat off: ~1 s per flow run) on a server duban owns.

Prefect's own ephemeral server (SubprocessASGIServer) is stopped only by atexit, so a duban
command ended by SIGTERM or SIGKILL left it running. A command that runs flows starts the same
server itself inside owned_prefect_server(): an owned child that dies with its parent.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from duban.adapters.children import OwnedChild

T = TypeVar("T")

# Prefect's default wait for its ephemeral server (20 s) is too short on a busy 2-core machine: the
# demo and the tick test failed with "Timed out while attempting to connect to ephemeral Prefect
# API server" at load 10+. The server normally answers in 7-13 s; waiting longer costs nothing.
EPHEMERAL_STARTUP_SECONDS = 300

# uvicorn's exit status when the port was taken between choosing it and binding it.
UVICORN_PORT_IN_USE = 3
PORT_ATTEMPTS = 5

# The API URL of the server owned by this process, for flows run on any of its threads (the
# scheduler's): Prefect's temporary settings reach only the thread that set them.
_owned_api_url: str | None = None

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
    if _owned_api_url is not None:
        from prefect.settings import PREFECT_API_URL

        updates[PREFECT_API_URL] = _owned_api_url
    if "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" not in os.environ:
        updates[PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS] = EPHEMERAL_STARTUP_SECONDS
    with temporary_settings(updates=updates):
        yield


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(port: int) -> OwnedChild:
    """Prefect's ephemeral server command and environment (prefect.server.api.server)."""
    import prefect
    from prefect.settings import get_current_settings

    server_env = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                  "PREFECT__SERVER_FINAL": "1"}
    return OwnedChild(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
         "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "error", "--lifespan", "on"],
        env={**os.environ, **server_env,
             **get_current_settings().to_environment_variables(exclude_unset=True)},
        stdin=subprocess.DEVNULL)


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def owned_prefect_server() -> Iterator[str | None]:
    """A Prefect API server for this command's flows, owned by it; yields its URL.

    Nothing is started when an API URL is configured (a real server, the tests' harness) or
    an enclosing block owns one already. The server dies with the thread that started it even
    under SIGKILL, so start it on the main thread.
    """
    global _owned_api_url
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if _owned_api_url is not None or PREFECT_API_URL.value():
        yield _owned_api_url or PREFECT_API_URL.value()
        return
    patience = (float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
                if "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in os.environ
                else EPHEMERAL_STARTUP_SECONDS)
    port = _free_port()
    server = _start_server(port)
    try:
        deadline = time.monotonic() + patience
        attempts = 1
        while not _healthy(f"http://127.0.0.1:{port}/api"):
            if server.process.poll() == UVICORN_PORT_IN_USE and attempts < PORT_ATTEMPTS:
                attempts += 1
                server.stop()
                port = _free_port()
                server = _start_server(port)
            elif server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"Prefect API server did not start within {patience:g} s "
                    f"(exit status {server.process.poll()})")
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/api"
        _owned_api_url = url
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _drain_to_server()
    finally:
        _owned_api_url = None
        server.stop()


def _drain_to_server(timeout_s: float = 5) -> None:
    """Send the logs and events still queued while the server is up, as Prefect's harness does.

    Prefect drains them at exit, after the server would be gone ("Error logging to API").
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=timeout_s)
        except Exception:  # a worker that never started; the server stops regardless
            continue


@contextmanager
def flow_session() -> Iterator[None]:
    """Many flow runs in one process (the demo's ticks) share one API client and settings.

    Outside it every top-level flow run builds its own client: a TLS context, a connection
    and a version check against the server each time.
    """
    from prefect.context import SyncClientContext

    with owned_prefect_server(), quiet_prefect(), SyncClientContext.get_or_create():
        yield


def run_quietly(flow: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a flow with the heartbeat off."""
    with quiet_prefect():
        return flow(*args, **kwargs)


def batches(items: list[str], size: int = OFFICES_PER_TASK) -> list[list[str]]:
    """Split a list into consecutive batches."""
    return [items[i : i + size] for i in range(0, len(items), size)]
