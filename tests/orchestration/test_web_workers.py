"""`duban serve --web-workers 2`: two web processes on one port, tied to serve's lifetime.

Both workers answer (each connection is traced from the client's port through /proc to the
worker holding its socket) and a sign-in begun on one finishes on the other (one secret);
they run in serve's session; SIGTERM stops them and serve exits as it does with one process
(143); `kill -9` of serve
leaves no worker and a free port; a worker killed is replaced; a worker that cannot start
stops serve (exit 1); the scheduler fires from serve's own process only.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from duban.adapters.children import OwnedChild, descendants
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.lifecycle import Role
from duban.services.accounts import hash_password
from duban.services.actors import add_user
from duban.services.database import Database
from tests.conftest import ROOT
from tests.orchestration.helpers import committed as committed  # this module's db: committed
from tests.web.serving import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PASSWORD = "Workers-pass-2022"
WORKER_MARK = "duban.cli.web_workers import child_main"
JOB = "tests.orchestration.worker:record_fire"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _workers(serve: int) -> set[int]:
    return {p for p in descendants(serve) if WORKER_MARK in _cmdline(p)}


def _all_workers() -> set[int]:
    """Every live web worker on the machine (the tests look only for the ones they saw)."""
    return {int(e.name) for e in os.scandir("/proc") if e.name.isdigit()
            and WORKER_MARK in _cmdline(int(e.name))}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _serve(url: str, tmp: Path, port: int, *extra: str,
           env: dict[str, str] | None = None) -> OwnedChild:
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATA_DIR": str(tmp / "data"),
                 "DUBAN_COOKIE_SECURE": "0", **(env or {})}
    for name in ("DUBAN_TRUSTED_PROXIES", "DUBAN_WEB_WORKERS", "DUBAN_SECRET_KEY"):
        child_env.pop(name, None)
    log = (tmp / "serve.log").open("ab")
    return OwnedChild([sys.executable, "-c", "from duban.cli import main; main()", "--db", url,
                       "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
                      env=child_env, cwd=ROOT, stdout=log, stderr=log)


def _log(tmp: Path) -> str:
    return (tmp / "serve.log").read_text(errors="replace")


def _answering(base: str, serve: OwnedChild, tmp: Path, workers: int) -> set[int]:
    """The worker pids once serve answers /login and has `workers` of them."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert serve.running(), _log(tmp)[-3000:]
        try:
            if httpx.get(f"{base}/login", timeout=5).status_code == 200:
                found = _workers(serve.pid)
                if len(found) == workers:
                    return found
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("duban serve did not answer: " + _log(tmp)[-3000:])


def _owner(port: int, client_port: int, candidates: set[int]) -> int | None:
    """The worker whose socket is the server side of the connection from client_port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                f = line.split()
                local, remote = int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16)
                if local == port and remote == client_port:
                    inodes.add(f[9])
    for pid in candidates:
        try:
            links = {os.readlink(e.path) for e in os.scandir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return pid
    return None


def _connections(port: int, workers: set[int]) -> dict[int, HTTPConnection]:
    """A kept-alive connection to each worker: opened eight at a time, each drawing the sign-in
    page, until every worker has accepted one."""
    held: dict[int, HTTPConnection] = {}
    deadline = time.monotonic() + 90

    def one() -> tuple[HTTPConnection, int | None]:
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        _get(conn, "/login")
        assert conn.sock is not None
        return conn, _owner(port, conn.sock.getsockname()[1], workers)

    with ThreadPoolExecutor(8) as ex:
        while set(held) != workers and time.monotonic() < deadline:
            for conn, pid in ex.map(lambda _: one(), range(8)):
                if pid is not None and pid not in held:
                    held[pid] = conn
                else:
                    conn.close()
    return held


def _get(conn: HTTPConnection, path: str, cookie: str = "") -> tuple[int, str, dict[str, str]]:
    """(status, body, cookies set) of a GET on a kept-alive connection."""
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    return _answer(conn)


def _answer(conn: HTTPConnection) -> tuple[int, str, dict[str, str]]:
    r = conn.getresponse()
    body = r.read().decode(errors="replace")
    cookies = dict(c.split(";", 1)[0].split("=", 1) for c in r.headers.get_all("set-cookie") or [])
    return r.status, body, cookies


@pytest.fixture
def user(db: Database) -> str:
    clock = FixedClock(dt.datetime(2022, 9, 26, 9, tzinfo=CHINA_TZ))
    db.run(add_user, clock, username="county", name="县巩固办", role=Role.COUNTY,
           password_hash=hash_password(PASSWORD))
    return "county"


def _url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def test_two_workers_answer_share_sign_in_and_stop_on_sigterm(db: Database, user: str,
                                                               tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = _serve(_url(db), tmp_path, port, "--no-scheduler", "--web-workers", "2")
    clients: dict[int, HTTPConnection] = {}
    try:
        workers = _answering(base, serve, tmp_path, 2)
        # Each leads a process group of its own (stopped as a group) in serve's session:
        # one scheduling group with serve for Linux (autogroup), not one each beside
        # PostgreSQL's (see OwnedChild).
        for pid in workers:
            assert os.getpgid(pid) == pid
            assert os.getsid(pid) == os.getsid(serve.pid) == serve.pid
        clients = _connections(port, workers)
        assert set(clients) == workers, "both workers answer pages"
        # A sign-in form drawn by one worker is accepted by the other, and the session it
        # opens is known to the first: one signing secret, sessions in the database.
        first, second = (clients[p] for p in sorted(workers))
        _, page, jar = _get(first, "/login")
        token = CSRF.search(page)
        assert token
        cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
        second.request("POST", "/login", body=urlencode(
            {"username": user, "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}),
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        status, body, signed = _answer(second)
        assert status == 303, body[:500]
        jar.update(signed)
        status, body, _ = _get(first, "/", "; ".join(f"{k}={v}" for k, v in jar.items()))
        assert status == 200, body[:500]
        assert "退出" in body  # a signed-in page, not the sign-in form
        for c in clients.values():
            c.close()
        serve.process.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 128 + signal.SIGTERM, _log(tmp_path)[-3000:]
        assert not (workers & _all_workers()), "no worker outlives serve"
        assert not _listening(port)
        assert "已停止" in _log(tmp_path)
    finally:
        for c in clients.values():
            c.close()
        serve.stop()


def test_kill_9_of_serve_leaves_no_worker_and_frees_the_port(db: Database,
                                                              tmp_path: Path) -> None:
    port = free_port()
    serve = _serve(_url(db), tmp_path, port, "--no-scheduler", "--web-workers", "2")
    workers: set[int] = set()
    try:
        workers = _answering(f"http://127.0.0.1:{port}", serve, tmp_path, 2)
        serve.process.send_signal(signal.SIGKILL)
        serve.wait(timeout=30)
        deadline = time.monotonic() + 30
        while (workers & _all_workers() or _listening(port)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not (workers & _all_workers()), "the workers died with serve"
        assert not _listening(port), "nothing listens on the port"
    finally:
        serve.stop()
        for pid in workers & _all_workers():  # leave nothing even when the test fails
            os.kill(pid, signal.SIGKILL)


def test_a_killed_worker_is_replaced(db: Database, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = _serve(_url(db), tmp_path, port, "--no-scheduler", "--web-workers", "2")
    try:
        workers = _answering(base, serve, tmp_path, 2)
        for conn in _connections(port, workers).values():  # both answer: both started
            conn.close()
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        now = _workers(serve.pid)
        while (victim in now or len(now) < 2) and time.monotonic() < deadline:
            time.sleep(0.2)
            now = _workers(serve.pid)
        assert victim not in now and len(now) == 2, _log(tmp_path)[-3000:]
        assert f"网页进程 {victim} 意外退出（被信号 SIGKILL 终止）" in _log(tmp_path)
        assert serve.running()
        assert httpx.get(f"{base}/login", timeout=10).status_code == 200
    finally:
        serve.stop()


def test_a_worker_that_cannot_start_stops_serve(db: Database, tmp_path: Path) -> None:
    port = free_port()
    # The app's thread count is read when a worker builds the app: unreadable, it cannot.
    serve = _serve(_url(db), tmp_path, port, "--no-scheduler", "--web-workers", "2",
                   env={"DUBAN_WEB_THREADS": "many"})
    try:
        assert serve.wait(timeout=120) == 1, _log(tmp_path)[-3000:]
        assert "启动失败" in _log(tmp_path)
        assert not _listening(port)
        assert not _workers(serve.pid)
    finally:
        serve.stop()


def test_the_scheduler_runs_once_beside_two_workers(db: Database, tmp_path: Path) -> None:
    port = free_port()
    fires = tmp_path / "fires.log"
    serve = _serve(_url(db), tmp_path, port, "--web-workers", "2", "--tick-seconds", "1",
                   "--job", JOB, "--lease-seconds", "3", "--renew-seconds", "0.5",
                   env={"DUBAN_TEST_FIRE_LOG": str(fires)})
    try:
        workers = _answering(f"http://127.0.0.1:{port}", serve, tmp_path, 2)
        deadline = time.monotonic() + 60
        while (not fires.exists() or len(fires.read_text().splitlines()) < 4) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        pids = [int(line.split()[0]) for line in fires.read_text().splitlines()]
        assert len(pids) >= 4
        assert set(pids) == {serve.pid}, "only serve's own process fires, never a worker"
        assert not set(pids) & workers
    finally:
        serve.stop()


def test_a_busy_port_is_refused_in_chinese(db: Database, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = _serve(_url(db), tmp_path, port, "--no-scheduler", "--web-workers", "2")
        try:
            assert serve.wait(timeout=120) == 1
            assert f"无法在 127.0.0.1:{port} 上监听网页：端口已被其他程序占用" in _log(tmp_path)
        finally:
            serve.stop()
