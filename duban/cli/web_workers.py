"""`duban serve --web-workers N`: the web app in N child processes on one listening socket.

serve binds the socket, then starts N workers as owned children (duban.adapters.children: each
leads its own process group and is sent SIGTERM by the kernel when serve's main thread ends,
so `kill -9` of serve leaves no worker holding the port). Each worker is a fresh interpreter
that builds the app from the environment (`make_app`, uvicorn's app factory) and serves on the
inherited socket; the kernel hands each new connection to whichever worker accepts it first.
The scheduler, the tick desk and the Prefect server stay in serve's own process, once.

What the workers share goes through the database or the data directory, as it does between two
serve processes on one database: sessions, sign-in attempts (the lock-out), the kept counts
(`kept_count`), staged imports, the signing secret (created by serve before the workers start,
so they do not race to create it). What each keeps to itself is bounded by time: its cache of
aggregates (30 s, docs/web.md) and of actors (10 s).

A worker that exits by itself before it answered (a broken configuration, an unreachable
database) would fail the same way again: serve stops and says so (exit 1), and its service
manager shows the failure. A worker that dies after it served, or is killed by a signal (the
kernel's out-of-memory killer, a crash in a library), is reported and replaced a second later:
the web stays up and the scheduler in serve's process, perhaps in the middle of a tick, is not
interrupted for a web process's sake.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from duban.adapters.children import OwnedChild
from duban.domain.errors import DubanError

if TYPE_CHECKING:
    from fastapi import FastAPI

# What serve hands each worker through its environment.
FD_VAR = "DUBAN_WEB_FD"  # the listening socket's descriptor
READY_VAR = "DUBAN_WEB_READY_FD"  # a pipe: the worker writes its pid once it answers
ACCESS_LOG_VAR = "DUBAN_WEB_ACCESS_LOG"  # "1": one log line per request
# The default count on PostgreSQL: one worker per usable CPU, at most this many. Each worker
# keeps its own pool of database connections (up to 15 with the default engine): four of them
# stay within PostgreSQL's default max_connections (100) beside the scheduler, Prefect's server
# and the command-line tools.
MAX_DEFAULT_WORKERS = 4
# A stopping worker finishes the requests it is answering within this many seconds
# (uvicorn's graceful shutdown); serve gives it a little longer before SIGKILL.
GRACEFUL_S = 8.0
STOP_GRACE_S = GRACEFUL_S + 4.0
RESTART_PAUSE_S = 1.0


def default_web_workers(url: str) -> int:
    """The web worker count when --web-workers is not given.

    On PostgreSQL: the CPUs this process may run on, at most MAX_DEFAULT_WORKERS. On SQLite: 1,
    the web in serve's own process as before: SQLite is the one-machine, small deployment,
    its writers queue on one file lock whichever process they run in, and a second
    interpreter there costs memory for pages that are quick anyway.
    """
    if not url.startswith("postgresql"):
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


# ---- in the worker ------------------------------------------------------------------------


def make_app() -> FastAPI:
    """The app factory each worker calls: the database and clock of serve's command line
    (DUBAN_DATABASE_URL, DUBAN_NOW, set by serve), migrated by serve already."""
    from duban.cli.base import parse_now
    from duban.services.root import build_root, install_root
    from duban.web.app import create_app

    root = build_root(os.environ.get("DUBAN_DATABASE_URL") or None,
                      parse_now(os.environ.get("DUBAN_NOW") or None))
    install_root(root)
    return create_app(root)


def child_main() -> None:
    """A worker: serve the app built by make_app on the socket serve passed down."""
    import uvicorn

    from duban.adapters.logs import configure
    from duban.cli.serve import TRUSTED_PROXIES_VAR, proxy_options

    configure(os.environ.get("DUBAN_LOG_LEVEL", "WARNING"),
              os.environ.get("DUBAN_LOG_FORMAT", "text"))
    sock = socket.socket(fileno=int(os.environ[FD_VAR]))
    ready = int(os.environ[READY_VAR])
    access_log = os.environ.get(ACCESS_LOG_VAR) == "1"
    proxies = proxy_options(os.environ.get(TRUSTED_PROXIES_VAR, ""))
    config = uvicorn.Config("duban.cli.web_workers:make_app", factory=True, log_config=None,
                            log_level="info" if access_log else "warning",
                            access_log=access_log,
                            proxy_headers=bool(proxies["proxy_headers"]),
                            forwarded_allow_ips=str(proxies["forwarded_allow_ips"]),
                            timeout_graceful_shutdown=int(GRACEFUL_S))

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                os.write(ready, f"{os.getpid()}\n".encode())

    # SIGTERM and SIGINT end it gracefully (uvicorn's handlers), then it dies by the signal.
    Server(config).run(sockets=[sock])


# ---- in serve -----------------------------------------------------------------------------


def bind(host: str, port: int) -> socket.socket:
    """The listening socket the workers share (inheritable)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = {errno.EADDRINUSE: "端口已被其他程序占用", errno.EACCES: "没有使用该端口的权限",
               errno.EADDRNOTAVAIL: "本机没有这个地址"}.get(exc.errno or 0, str(exc))
        raise DubanError(f"无法在 {host}:{port} 上监听网页：{why}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class WebWorkers:
    """N web workers on one socket, started, watched, replaced and stopped by serve."""

    def __init__(self, count: int, host: str, port: int, env: Mapping[str, str]) -> None:
        self.count = count
        self.socket = bind(host, port)
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        self.env = {**env, FD_VAR: str(self.socket.fileno()), READY_VAR: str(self._write)}
        self.children: list[OwnedChild] = []
        self.ready: set[int] = set()
        self._pending = b""

    def start(self) -> None:
        """Start the workers (from the main thread: the kernel's death signal follows the
        thread that started a child)."""
        for _ in range(self.count):
            self.children.append(self._spawn())

    def _spawn(self) -> OwnedChild:
        # In serve's session: one scheduling group with serve, as uvicorn's own workers are
        # (see OwnedChild), not one each beside PostgreSQL's.
        return OwnedChild([sys.executable, "-c",
                           "from duban.cli.web_workers import child_main; child_main()"],
                          env=self.env, session=False,
                          pass_fds=(self.socket.fileno(), self._write))

    def _read_ready(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self._read, 4096):
                self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        self.ready.update(int(line) for line in lines if line.strip())

    def check(self) -> None:
        """Replace each worker that died after it answered or was killed by a signal; raise
        DubanError when one exited by itself before it ever answered (a broken configuration,
        an unreachable database: it would fail the same way again)."""
        self._read_ready()
        for i, child in enumerate(self.children):
            if child.running():
                continue
            code = child.wait()
            child.kill()  # anything left of its group
            why = (f"被信号 {signal.Signals(-code).name} 终止" if code < 0
                   else f"退出码 {code}")
            if child.pid not in self.ready and code >= 0:
                raise DubanError(f"网页进程 {child.pid} 启动失败（{why}），见上方日志；常驻服务停止")
            self.ready.discard(child.pid)
            time.sleep(RESTART_PAUSE_S)  # a worker that crashes at once does not spin
            self.children[i] = self._spawn()
            click.echo(f"网页进程 {child.pid} 意外退出（{why}），已启动新的网页进程 "
                       f"{self.children[i].pid}。", err=True)

    def stop(self) -> None:
        """SIGTERM every worker at once (each finishes its requests), SIGKILL what is left
        after STOP_GRACE_S, reap them, close the socket."""
        for child in self.children:
            if child.running():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            child.stop(grace_s=STOP_GRACE_S)  # returns at once for those already gone
        self.socket.close()
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def run_web_workers(count: int, host: str, port: int, env: Mapping[str, str],
                    access_log: bool) -> None:
    """Serve the web in `count` workers until SIGINT or SIGTERM, then stop them and leave as
    the signal says (SystemExit 128 + signal, as serve does with one process)."""
    from duban.web.security import load_secret

    load_secret(None)  # created here once, not by N workers racing for the file
    received: list[int] = []
    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signum)
        stopping.set()

    workers = WebWorkers(count, host, port,
                         {**env, ACCESS_LOG_VAR: "1" if access_log else "0"})
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        workers.start()
        click.echo(f"网页：http://{host}:{port}/（{count} 个网页进程）", err=True)
        while not stopping.wait(0.5):
            workers.check()
    finally:
        workers.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise SystemExit(128 + received[0])
