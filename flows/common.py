"""Running flows quietly (Prefect's flow heartbeat off: ~1 s per flow run) on a server duban owns.

Prefect's own ephemeral server (SubprocessASGIServer) is stopped only by atexit, so a duban
command ended by SIGTERM or SIGKILL left it running. A command that runs flows starts the same
server itself inside owned_prefect_server(): an owned child that dies with its parent.

`duban serve` publishes the server it owns in the data directory (SERVER_STATE) while it
answers; a `duban tick` run beside it (cron, an operator) uses that server instead of paying
a server start of its own (~10 s of CPU), and never stops it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from duban.adapters.children import OwnedChild
from duban.domain.errors import DubanError
from duban.services.database import data_dir, private_data_dir, private_dir

log = logging.getLogger(__name__)

T = TypeVar("T")

# Prefect's default wait for its ephemeral server (20 s) is too short on a busy 2-core machine: the
# demo and the tick test failed with "Timed out while attempting to connect to ephemeral Prefect
# API server" at load 10+. The server normally answers in 7-13 s; waiting longer costs nothing.
EPHEMERAL_STARTUP_SECONDS = 300

# uvicorn's exit status when the port was taken between choosing it and binding it.
UVICORN_PORT_IN_USE = 3
PORT_ATTEMPTS = 5

# The operator's choice of port for the owned server (else the kernel picks a free one).
PORT_ENV = "DUBAN_PREFECT_PORT"
# The keeper checks the server this often, restarting it after this many failed checks in a row
# (a server that exited is restarted at the next check).
CHECK_SECONDS = 5.0
UNHEALTHY_CHECKS = 3
HEALTH_TIMEOUT_S = 10.0
# The server's own output, appended, in the data directory.
SERVER_LOG = "prefect-server.log"
# `duban serve`'s server while it answers (its URL, its process and serve's), in the data
# directory: a hand-run tick uses it. Removed when serve stops it or starts it again.
SERVER_STATE = "prefect-server.json"
# How long a tick waits for a published server's health before starting its own: a server
# that is up answers in milliseconds; one that does not must not hold a cron tick up.
SHARED_HEALTH_TIMEOUT_S = 2.0

# The API URL of the server owned by this process, for flows run on any of its threads (the
# scheduler's): Prefect's temporary settings reach only the thread that set them.
_owned_api_url: str | None = None
_owned_server: OwnedPrefectServer | None = None
# True while this process's flows run on a server another process published (serve's).
_shared = False

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
        updates.update(_loopback_client_settings(_owned_api_url))
    if "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" not in os.environ:
        updates[PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS] = EPHEMERAL_STARTUP_SECONDS
    import prefect.context

    current = prefect.context.get_settings_context()
    key = tuple(sorted((setting.name, value) for setting, value in updates.items()))
    made = _quiet_made
    if made is not None and made[0] is current.settings and made[1] == key:
        # The same settings as last time, entered afresh (as temporary_settings enters them):
        # building them again, Prefect's pydantic settings validated whole, cost serve ~30 ms
        # of CPU every tick.
        with prefect.context.SettingsContext(profile=current.profile, settings=made[2]):
            yield
        return
    with temporary_settings(updates=updates) as settings:
        _remember_quiet(current.settings, key, settings)
        yield


def _loopback_client_settings(api_url: str) -> dict[Any, Any]:
    """Prefect client settings for a server duban started on loopback (plain HTTP, no CSRF).

    Every Prefect client builds a verifying TLS context when it is made, whatever the URL's
    scheme: certifi's ~120 CAs parsed, 45-55 ms of CPU on this machine, and a tick with a stage
    due makes three (its flow's client and each subflow's tracking task's). Over `http://` no
    TLS is spoken, so the context is handed one CA (~1 ms). And each client first asks
    `/csrf-token`, which a server without CSRF protection answers 422: not asked when this
    process's settings, which its owned server starts with, leave the protection off.
    """
    from prefect.settings import (
        PREFECT_API_SSL_CERT_FILE,
        PREFECT_CLIENT_CSRF_SUPPORT_ENABLED,
        get_current_settings,
    )

    if not api_url.startswith("http://127.0.0.1:"):
        return {}
    settings: dict[Any, Any] = {PREFECT_API_SSL_CERT_FILE: _one_ca_file()}
    if not get_current_settings().server.api.csrf_protection_enabled:
        settings[PREFECT_CLIENT_CSRF_SUPPORT_ENABLED] = False
    return settings


LOOPBACK_CA = "loopback-ca.pem"


def _one_ca_file() -> str:
    """A file with one CA certificate (certifi's first), for TLS contexts that never verify a
    peer: kept in the data directory under one name (a crash leaves no temporary file
    behind), written when missing or different."""
    import certifi

    path = private_data_dir() / LOOPBACK_CA
    first = _first_certificate(certifi.where())
    if first is None:  # not a PEM bundle: leave Prefect's default
        return certifi.where()
    with suppress(OSError):
        if path.read_text(encoding="ascii") == first:
            return str(path)
    partial = path.with_name(f".{LOOPBACK_CA}.{os.getpid()}")
    partial.write_text(first, encoding="ascii")
    os.replace(partial, path)  # another process reads a whole file or none
    return str(path)


@cache
def _first_certificate(bundle: str) -> str | None:
    """The first PEM certificate of a bundle file (read once per process)."""
    import re

    text = Path(bundle).read_text(encoding="ascii")
    first = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n", text, re.S)
    return None if first is None else first.group(0)


# The last quiet settings made: (the settings they were made from, the updates, the result).
_quiet_made: tuple[Any, tuple[tuple[str, Any], ...], Any] | None = None


def _remember_quiet(base: Any, key: tuple[tuple[str, Any], ...], settings: Any) -> None:
    global _quiet_made
    _quiet_made = (base, key, settings)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def configured_port() -> int | None:
    """The port the operator chose for the owned Prefect server ($DUBAN_PREFECT_PORT), if any.

    Unset, the kernel picks a free one (never a fixed range that could hold duban serve's own
    port 8000 or another service's).
    """
    raw = os.environ.get(PORT_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise PrefectServerError(f"环境变量 {PORT_ENV} 应为 1–65535 之间的端口号，而不是「{raw}」")
    return int(raw)


class PrefectServerError(DubanError):
    """The owned Prefect server could not be started (a Chinese message for the operator)."""


# The owned server's application (uvicorn --factory): Prefect's, its SQLite transactions begun
# IMMEDIATE (flows/prefect_app.py); imported from where this package is (its --app-dir, first on
# the child's path: never a `flows` of the working directory).
SERVER_APP = "flows.prefect_app:create_app"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


# What the owned server runs. It is the default mode's (`duban serve`, `duban tick`, the demo):
# every flow runs in the process that owns the server, started by duban's own scheduler
# (APScheduler), never by a deployment, a work pool or an automation. The scaled mode does not
# start it (PREFECT_API_URL names its `prefect server start`, whose services stay Prefect's
# defaults: its scheduler starts the tick deployment's runs, its triggers run the zombie-flow
# automation `deploy.deployments` creates, its foreman watches the workers). Each entry is a
# Prefect setting, given in the server's environment; docs/benchmarks.md, "The owned server's
# services" has what each cost.
SERVER_SETTINGS = {
    # Ephemeral mode: Prefect runs only the services marked for it (the task-run recorder, the
    # event persister, the triggers and their actions, the events stream out, the logs stream
    # out if enabled, telemetry). The scheduler, late runs, the foreman, cancellation cleanup,
    # pause expirations, the repossessor and the database vacuum do not run: no deployment, no
    # schedule, no worker, no pause, no cancellation, no concurrency lease in this mode.
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    # No UI: the server listens on loopback for duban alone.
    "PREFECT_UI_ENABLED": "0",
    # No telemetry (a county server may have no route out: it logged an error per start).
    "PREFECT_SERVER_ANALYTICS_ENABLED": "0",
    # The event persister writes every event the clients send (three a task run, more a flow
    # run) into `events` and `event_resources`, one SQLite write transaction a batch: they are
    # read by the UI's event feed, `prefect events` and automations, none of which this mode
    # has. Flow and task runs themselves are recorded without it (the API and the task-run
    # recorder, which stays on: the tick's and the stages' task runs stay in Prefect's records).
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    # Automations (reactive triggers, their actions, the proactive evaluation every 5 s): this
    # mode creates none; the reactive side looked at every event.
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    # The events websocket out (/api/events/out): its distributor takes every event for
    # subscribers (the UI, `prefect events stream`, a worker's cancellation watch, futures of
    # background tasks); none in this mode (duban's flows call their tasks directly).
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
}


def _start_server(port: int) -> OwnedChild:
    """Prefect's ephemeral server command and environment (prefect.server.api.server)."""
    from prefect.settings import get_current_settings

    from flows.prefect_db import seed_home

    # A fresh home gets the migrated database kept for this Prefect version: its server then
    # skips the migrations (~6 s of its ~13 s of CPU at start).
    seed_home()
    server_env = SERVER_SETTINGS
    # Its output goes to a log in the data directory, not to the clerk's terminal: a server
    # stopped mid-request prints Prefect's own tracebacks, which are not duban's errors.
    log_path = private_data_dir() / SERVER_LOG
    with log_path.open("ab") as log_file:  # the child keeps its own descriptor
        return OwnedChild(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(_PACKAGE_ROOT),
             "--factory", SERVER_APP, "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "error", "--lifespan", "on"],
            env={**os.environ, **server_env,
                 **get_current_settings().to_environment_variables(exclude_unset=True)},
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)


def _healthy(url: str, timeout_s: float = 5) -> bool:
    """Whether the server answers /health. Plain http.client on loopback: an httpx client
    builds a TLS context for every call (0.1–1 s of CPU on a loaded machine, every 5 s)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(f"{url}/health")
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                      timeout=timeout_s)
    try:
        conn.request("GET", parts.path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _patience() -> float:
    raw = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    return float(raw) if raw else EPHEMERAL_STARTUP_SECONDS


class OwnedPrefectServer:
    """Prefect's API server as a child of this process, started once, kept alive, stopped.

    A keeper thread starts the server (so the child dies with that thread, which lives until
    stop(), and with the process under SIGKILL), waits for its /health with a generous deadline,
    then checks it every CHECK_SECONDS: a server that exited, or failed its health check
    UNHEALTHY_CHECKS times in a row, is stopped and started again on the same port. Flows wait
    (`ready`) while it is being (re)started instead of racing its start.
    """

    def __init__(self, port: int | None = None, *, patience_s: float | None = None,
                 check_s: float = CHECK_SECONDS, publish: bool = False) -> None:
        self.fixed_port = port
        # Where it is published while it answers (duban serve), fixed at start: a restart
        # writes the same file.
        self.state_path = server_state_path() if publish else None
        self.port = port or _free_port()
        self.patience_s = patience_s if patience_s is not None else _patience()
        self.check_s = check_s
        self.restarts = 0  # how many times the keeper started the server again
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._child: OwnedChild | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The API URL flows use."""
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def pid(self) -> int | None:
        """The server process's id, while there is one."""
        return self._child.pid if self._child is not None else None

    def start(self) -> str:
        """Start the keeper and wait until the server answers; returns its URL."""
        self._thread = threading.Thread(target=self._keep, name="duban-prefect-server",
                                        daemon=True)
        self._thread.start()
        self.wait_ready()
        return self.url

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until the server answers (or raise why it cannot)."""
        limit = timeout_s if timeout_s is not None else self.patience_s + 10
        deadline = time.monotonic() + limit
        while not self.ready.wait(0.2):
            if self._failure is not None:
                raise self._failure
            if self._thread is None or not self._thread.is_alive():
                raise PrefectServerError("Prefect 服务已停止")
            if time.monotonic() > deadline:
                raise PrefectServerError(f"Prefect 服务在 {limit:g} 秒内未能启动")

    def stop(self) -> None:
        """Stop the keeper and the server (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.patience_s + 30)
        if self._child is not None:  # the keeper stops it; this is for a keeper that hung
            self._child.stop()

    def _unpublish(self) -> None:
        if self.state_path is not None:
            unpublish_server(self.state_path)

    # -- the keeper thread ------------------------------------------------------------------

    def _keep(self) -> None:
        try:
            self._launch()
            misses = 0
            while not self._stop.wait(self.check_s):
                assert self._child is not None
                if self._child.running() and _healthy(self.url, timeout_s=HEALTH_TIMEOUT_S):
                    misses = 0
                    continue
                misses += 1
                if self._child.running() and misses < UNHEALTHY_CHECKS:
                    continue  # a busy machine answers late; give it a few checks
                log.warning("Prefect server on port %s %s; starting it again", self.port,
                            f"exited ({self._child.process.returncode})"
                            if not self._child.running() else "stopped answering")
                self._unpublish()
                self.ready.clear()
                self._child.stop()
                self.restarts += 1
                misses = 0
                self._launch()
        except BaseException as exc:  # reported to whoever waits for the server
            self._failure = exc
        finally:
            self._unpublish()  # before the server goes: a tick must not pick a dying one
            if self._child is not None:
                self._child.stop()

    def _launch(self) -> None:
        """Start the server and wait for its health, choosing another free port if needed."""
        attempts = 1
        self._child = _start_server(self.port)
        deadline = time.monotonic() + self.patience_s
        while not _healthy(self.url):
            status = self._child.process.poll()
            if self._stop.is_set():
                return
            if status == UVICORN_PORT_IN_USE:
                if self.fixed_port is not None:
                    raise PrefectServerError(
                        f"Prefect 服务端口 {self.port} 已被占用（{PORT_ENV}），"
                        "请换一个端口或停止占用它的程序")
                if attempts >= PORT_ATTEMPTS:
                    break
                attempts += 1
                self._child.stop()
                self.port = _free_port()
                self._child = _start_server(self.port)
                deadline = time.monotonic() + self.patience_s
            elif status is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            if self.state_path is not None:
                publish_server(self.state_path, self.url, self._child.pid)
            self.ready.set()
            return
        raise PrefectServerError(
            f"Prefect 服务未能在 {self.patience_s:g} 秒内启动（端口 {self.port}，"
            f"退出状态 {self._child.process.poll()}）")


def server_state_path() -> Path:
    """Where `duban serve` publishes its Prefect server: SERVER_STATE in the data directory."""
    return data_dir() / SERVER_STATE


def publish_server(path: Path, url: str, server_pid: int) -> None:
    """Publish this process's healthy server for ticks run beside it (written whole, 0600)."""
    private_dir(path.parent)
    temporary = path.with_name(f".{SERVER_STATE}.{os.getpid()}.part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"url": url, "pid": server_pid, "owner": os.getpid()}, fh)
    os.replace(temporary, path)


def unpublish_server(path: Path) -> None:
    """Remove the published server if this process published it (another serve's stays)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(state, dict) and state.get("owner") == os.getpid():
        with suppress(FileNotFoundError):
            path.unlink()


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def published_server(timeout_s: float = SHARED_HEALTH_TIMEOUT_S) -> str | None:
    """The API URL `duban serve` published for this data directory, if it is up.

    Up means: the file reads, its server and serve are alive, and the server answers its
    health check within timeout_s. Anything else (no file, a file a SIGKILL left, a PID
    reused by another program, a server restarting) is None: the caller starts its own.
    """
    try:
        state = json.loads(server_state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    url = state.get("url")
    if not isinstance(url, str) or not url.startswith("http://127.0.0.1:"):
        return None
    if not (_pid_alive(state.get("pid")) and _pid_alive(state.get("owner"))):
        return None
    return url if _healthy(url, timeout_s=timeout_s) else None


def current_server() -> OwnedPrefectServer | None:
    """The Prefect server this process owns, if a command started one."""
    return _owned_server


@contextmanager
def owned_prefect_server(port: int | None = None, *, publish: bool = False,
                         share: bool = False) -> Iterator[str | None]:
    """A Prefect API server for this command's flows, owned by it; yields its URL.

    Nothing is started when an API URL is configured (a real server, the tests' harness) or
    an enclosing block owns one already; nor, with `share` (a tick), when `duban serve`
    published a server for this data directory that answers (published_server): its flows
    run there, and it is never stopped here. `port` (else $DUBAN_PREFECT_PORT, else a free
    one) is where it listens; `publish` (duban serve) writes SERVER_STATE while it answers.
    Started once per command and reused by every flow run; restarted if it dies (see
    OwnedPrefectServer).
    """
    global _owned_api_url, _owned_server, _shared
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if _owned_api_url is not None or PREFECT_API_URL.value():
        yield _owned_api_url or PREFECT_API_URL.value()
        return
    shared = published_server() if share else None
    if shared is not None:
        _owned_api_url, _shared = shared, True
        try:
            with temporary_settings(updates={PREFECT_API_URL: shared}):
                try:
                    yield shared
                finally:
                    _drain_to_server()
        finally:
            _owned_api_url, _shared = None, False
        return
    server = OwnedPrefectServer(port or configured_port(), publish=publish)
    try:
        url = server.start()
        _owned_api_url, _owned_server = url, server
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _drain_to_server()
    finally:
        _owned_api_url = _owned_server = None
        server.stop()


def sharing_server() -> bool:
    """Whether this process's flows run on a server `duban serve` published."""
    return _shared


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
    """Call a flow with the heartbeat off, on this process's server once it answers.

    When the owned server died during the run and was started again, the run is repeated
    once: every flow of duban is idempotent, and a tick must not be lost to a server crash.
    """
    server = _owned_server
    if server is None and _shared:
        return _run_shared(flow, *args, **kwargs)
    if server is None:
        with quiet_prefect():
            return flow(*args, **kwargs)
    server.wait_ready()
    restarts = server.restarts
    try:
        with quiet_prefect():
            return flow(*args, **kwargs)
    except Exception:
        if server.restarts == restarts and server.ready.is_set() and _healthy(server.url):
            raise
        log.warning("the Prefect server restarted during %s; running it again", flow)
        server.wait_ready()
        with quiet_prefect():
            return flow(*args, **kwargs)


def _run_shared(flow: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a flow on serve's server; if that server went away meanwhile (serve stopped, or
    its keeper is starting it again), run it again once on a server of this process's own."""
    global _owned_api_url, _owned_server, _shared
    shared = _owned_api_url
    try:
        with quiet_prefect():
            return flow(*args, **kwargs)
    except Exception:
        if shared is None or _healthy(shared):
            raise
    log.warning("the Prefect server of duban serve went away during %s; running it again on"
                " a server of this process's own", flow)
    # A free port, not $DUBAN_PREFECT_PORT: serve's keeper may be starting its server there.
    server = OwnedPrefectServer()
    try:
        _owned_api_url, _owned_server, _shared = server.start(), server, False
        return run_quietly(flow, *args, **kwargs)  # quiet_prefect points it at the new server
    finally:
        _drain_to_server()
        _owned_api_url, _owned_server, _shared = shared, None, True
        server.stop()


def batches(items: list[str], size: int = OFFICES_PER_TASK) -> list[list[str]]:
    """Split a list into consecutive batches."""
    return [items[i : i + size] for i in range(0, len(items), size)]
