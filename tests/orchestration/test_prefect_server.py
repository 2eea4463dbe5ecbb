"""The Prefect server duban owns: started once, on the operator's port, restarted if it dies,
stopped with the command however it ends (`duban tick` under SIGKILL, `duban serve` under
SIGTERM and SIGINT, which also give the scheduler's lease up). `duban serve` publishes it in
the data directory; a `duban tick` beside it uses it and leaves it running, and starts its
own when the publication is stale."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from duban.domain.clock import FixedClock
from duban.services.database import Database
from flows.common import (
    SERVER_APP,
    SERVER_LOG,
    SERVER_STATE,
    OwnedPrefectServer,
    PrefectServerError,
    _healthy,
    configured_port,
)
from tests.conftest import ROOT
from tests.orchestration.helpers import add_problems, at, launch, live_processes
from tests.orchestration.helpers import committed as committed  # this module's db: committed

SERVER_MARK = SERVER_APP  # the owned server's command line names its app
STARTUP_S = 300  # a loaded 2-core machine takes minutes to start Prefect's server


def _children(parent: int) -> dict[int, str]:
    """Live (not zombie) children of a process: pid -> command line."""
    return {pid: cmd for pid, (ppid, cmd) in live_processes().items() if ppid == parent}


def _alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return SERVER_MARK in cmdline.replace("\0", " ") and "State:\tZ" not in state


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _duban(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATA_DIR": str(tmp_path / "data"),
               "PREFECT_HOME": str(tmp_path / "prefect"), **env}
    for name in ("DUBAN_DATABASE_URL", "PREFECT_API_URL"):
        environ.pop(name, None)
    return subprocess.Popen([sys.executable, "-c", "from duban.cli import main; main()", *args],
                            cwd=tmp_path, env=environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _server_of(duban: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        assert duban.poll() is None, duban.stderr.read().decode()[-2000:] if duban.stderr else ""
        for pid, cmdline in _children(duban.pid).items():
            if SERVER_MARK in cmdline:
                return pid
        time.sleep(0.2)
    raise AssertionError("no Prefect server was started")


def _cleanup(duban: subprocess.Popen[bytes], server: int | None) -> None:
    if duban.poll() is None:
        duban.kill()
        duban.wait()
    if server is not None and _alive(server):
        os.kill(server, signal.SIGKILL)


def test_a_tick_killed_with_sigkill_leaves_no_prefect_server(tmp_path: Path) -> None:
    duban = _duban(tmp_path, "tick")
    server = None
    try:
        server = _server_of(duban)
        duban.send_signal(signal.SIGKILL)
        duban.wait(timeout=30)
        assert _gone_within(server, 10), "the Prefect server outlived `duban tick`"
    finally:
        _cleanup(duban, server)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly_releasing_the_lease_and_the_server(tmp_path: Path,
                                                                sig: signal.Signals) -> None:
    port = _free_port()
    prefect_port = _free_port()
    duban = _duban(tmp_path, "serve", "--port", str(port), "--tick-seconds", "3600",
                   DUBAN_PREFECT_PORT=str(prefect_port))
    server = None
    try:
        server = _server_of(duban)
        # The server listens where the operator said, and the web answers once it is up.
        deadline = time.monotonic() + STARTUP_S
        while not _healthy(f"http://127.0.0.1:{prefect_port}/api"):
            assert time.monotonic() < deadline and duban.poll() is None
            time.sleep(0.2)
        # Published for ticks run beside it (written right after the health answered).
        state = tmp_path / "data" / SERVER_STATE
        while not state.exists():
            assert time.monotonic() < deadline and duban.poll() is None
            time.sleep(0.1)
        assert json.loads(state.read_text()) == {
            "url": f"http://127.0.0.1:{prefect_port}/api", "pid": server, "owner": duban.pid}
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and duban.poll() is None
                time.sleep(0.2)
        started = time.monotonic()
        duban.send_signal(sig)
        _, err = duban.communicate(timeout=60)
        assert time.monotonic() - started < 30
        # SIGTERM ends through the entry point's SystemExit(143); uvicorn handles Ctrl-C itself.
        assert duban.returncode == (143 if sig == signal.SIGTERM else 0)
        assert "已停止。" in err.decode()
        assert "Traceback" not in err.decode() and "已中止" not in err.decode()
        assert _gone_within(server, 10), "the Prefect server outlived `duban serve`"
        assert not state.exists(), "duban serve left its Prefect server published"
        # The lease was given up: a follower may lead at once, not after 30 s.
        with sqlite3.connect(tmp_path / "data" / "duban.sqlite3") as conn:
            (expires,) = conn.execute("SELECT expires_at FROM scheduler_lease").fetchone()
        assert dt.datetime.fromisoformat(expires).replace(tzinfo=dt.UTC) < dt.datetime.now(dt.UTC)
    finally:
        _cleanup(duban, server)


def test_the_owned_server_is_started_again_when_it_dies(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    port = _free_port()
    monkeypatch.setenv("DUBAN_PREFECT_PORT", str(port))
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    server = OwnedPrefectServer(configured_port(), patience_s=STARTUP_S, check_s=0.5)
    first = None
    try:
        assert server.start() == f"http://127.0.0.1:{port}/api"
        first = server.pid
        assert first is not None and _alive(first)
        # its output goes to the data directory's log, not to the terminal
        assert (tmp_path / "data" / SERVER_LOG).is_file()
        os.kill(first, signal.SIGKILL)  # the server crashes (OOM killer, a bug)
        deadline = time.monotonic() + STARTUP_S
        while server.restarts == 0:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        server.wait_ready()
        assert server.pid != first and server.url == f"http://127.0.0.1:{port}/api"
        assert _healthy(server.url)
        second = server.pid
    finally:
        server.stop()
    assert second is not None and _gone_within(second, 10)


def test_a_taken_port_is_refused_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = OwnedPrefectServer(taken.getsockname()[1], patience_s=STARTUP_S)
        with pytest.raises(PrefectServerError, match="已被占用"):
            server.start()
        server.stop()
    monkeypatch.setenv("DUBAN_PREFECT_PORT", "八千")
    with pytest.raises(PrefectServerError, match="DUBAN_PREFECT_PORT 应为 1–65535 之间的端口号"):
        configured_port()
    monkeypatch.setenv("DUBAN_PREFECT_PORT", "")
    assert configured_port() is None


def _tick(tmp_path: Path, db: Database, data: Path, moment: dt.datetime
          ) -> subprocess.CompletedProcess[str]:
    """`duban tick --json` as cron runs it: its own Prefect home, no API URL configured."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATA_DIR": str(data),
               "DUBAN_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
               "PREFECT_HOME": str(tmp_path / "prefect-tick")}
    environ.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-c", "from duban.cli import main; main()", "--now",
         moment.isoformat(), "tick", "--json"],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=STARTUP_S + 300)


def _tick_runs(url: str) -> dict[str, str | None]:
    """The `duban-tick` flow runs a Prefect server holds: id -> state name."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with SyncPrefectClient(url) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["duban-tick"])))
    return {str(run.id): run.state_name for run in runs}


def _due(db: Database, clock: FixedClock) -> dt.datetime:
    """A campaign with problems at a moment both working stages are due."""
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 3)
    return at(2022, 9, 26, 9, 30)


def test_a_tick_uses_the_server_serve_published_and_leaves_it_running(
        db: Database, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moment = _due(db, clock)
    data = tmp_path / "data"
    monkeypatch.setenv("DUBAN_DATA_DIR", str(data))
    # Started as `duban serve` starts it: owned by this process, published while it answers.
    server = OwnedPrefectServer(_free_port(), patience_s=STARTUP_S, publish=True)
    try:
        url = server.start()
        pid = server.pid
        published = (data / SERVER_STATE).read_text()
        before = _tick_runs(url)  # the session's Prefect home may hold earlier tests' runs
        done = _tick(tmp_path, db, data, moment)
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout)
        assert [s["kind"] for s in next(iter(summary["campaigns"].values()))["stages"]] == [
            "investigate", "rectify"]
        # The tick's runs are on the published server (the tick had a Prefect home of its own,
        # so a server of its own would have kept them elsewhere), and the server is untouched.
        assert [state for run, state in _tick_runs(url).items() if run not in before] == [
            "Completed"]
        assert server.pid == pid and _alive(pid) and _healthy(url) and server.restarts == 0
        assert (data / SERVER_STATE).read_text() == published
    finally:
        server.stop()
    assert not (data / SERVER_STATE).exists()


@pytest.mark.parametrize("stale", ["dead pid", "silent port"])
def test_a_tick_with_a_stale_publication_starts_its_own_server(
        db: Database, clock: FixedClock, tmp_path: Path, stale: str) -> None:
    moment = _due(db, clock)
    data = tmp_path / "data"
    data.mkdir()
    with socket.socket() as silent:  # a port that accepts and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        if stale == "dead pid":  # what a kill -9 of serve leaves: its processes are gone
            gone = subprocess.Popen(["true"])
            gone.wait()
            state = {"url": f"http://127.0.0.1:{_free_port()}/api", "pid": gone.pid,
                     "owner": gone.pid}
        else:  # live processes (a reused PID: this test's), a port that does not answer
            state = {"url": f"http://127.0.0.1:{silent.getsockname()[1]}/api",
                     "pid": os.getpid(), "owner": os.getpid()}
        (data / SERVER_STATE).write_text(json.dumps(state))
        done = _tick(tmp_path, db, data, moment)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert [s["kind"] for s in next(iter(summary["campaigns"].values()))["stages"]] == [
        "investigate", "rectify"]
    # It ran on a server of its own (whose output went to the data directory's log) and
    # left the publication it did not write alone.
    assert (data / SERVER_LOG).is_file()
    assert json.loads((data / SERVER_STATE).read_text()) == state


def test_a_tick_whose_shared_server_goes_away_runs_again_on_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import common

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return None

    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    serve = HTTPServer(("127.0.0.1", 0), Health)  # serve's server, as far as health goes
    threading.Thread(target=serve.serve_forever, daemon=True).start()
    shared = f"http://127.0.0.1:{serve.server_address[1]}/api"
    common.publish_server(common.server_state_path(), shared, os.getpid())
    calls: list[tuple[str | None, int | None]] = []

    def tick() -> str:
        """Fails on serve's server while serve stops it; then runs on the tick's own."""
        calls.append((PREFECT_API_URL.value(), common.current_server() and
                      common.current_server().pid))  # type: ignore[union-attr]
        if len(calls) == 1:
            serve.shutdown()
            serve.server_close()
            raise RuntimeError("连接被拒绝")
        return "done"

    # No API URL configured, as for a tick run by hand: in the suite this worker's session
    # server (prefect_api) may already be set in Prefect's settings, not only in the env.
    with temporary_settings(restore_defaults={PREFECT_API_URL}), \
            common.owned_prefect_server(share=True) as url:
        assert url == shared and common.sharing_server()
        assert common.run_quietly(tick) == "done"
        # Back on the shared settings afterwards; the fallback server is gone.
        assert common.sharing_server() and common.current_server() is None
    assert not common.sharing_server()
    (first_url, first_pid), (second_url, own_pid) = calls
    assert first_url == shared and first_pid is None
    assert second_url != shared and own_pid is not None
    assert _gone_within(own_pid, 10), "the tick's own fallback server outlived the tick"


def test_the_owned_server_runs_only_the_services_duban_uses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owned server's settings, read from the server (Prefect's /admin/settings), leave out
    the services this mode does not use (flows.common.SERVER_SETTINGS), and a flow's task run
    is still recorded while its events are not stored."""
    import httpx
    from prefect import flow, task
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.common import SERVER_SETTINGS, quiet_prefect

    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    for name in SERVER_SETTINGS:  # not the operator's choice here: duban's
        monkeypatch.delenv(name, raising=False)

    @task
    def step() -> int:
        return 1

    @flow(name="services-probe", persist_result=False)
    def probe() -> int:
        return step()

    # Prefect keeps one events worker per process whatever the API URL. One a test before left
    # bound to the session's harness server (which keeps events, in the database this server
    # inherits from the harness's global settings) sent this run's events there: the flake of
    # 2026-12-05's CI. Drained, the next one binds to this server.
    EventsWorker.drain_all(timeout=30)
    server = OwnedPrefectServer(_free_port(), patience_s=STARTUP_S)
    try:
        url = server.start()
        pid = server.pid
        assert pid is not None
        settings = httpx.get(f"{url}/admin/settings", timeout=30).json()["server"]
        assert settings["services"]["event_persister"]["enabled"] is False
        assert settings["services"]["triggers"]["enabled"] is False
        assert settings["events"]["stream_out_enabled"] is False
        assert settings["analytics_enabled"] is False
        assert settings["services"]["task_run_recorder"]["enabled"] is True
        # Ephemeral mode (no scheduler, late runs, foreman, …) is an environment variable
        # Prefect's app reads at its start, not a setting it reports: the server has it.
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"PREFECT__SERVER_EPHEMERAL=1" in environ

        with temporary_settings(updates={PREFECT_API_URL: url}), quiet_prefect():
            state = probe(return_state=True)
        run_id = state.state_details.flow_run_id
        with SyncPrefectClient(url) as client:
            deadline = time.monotonic() + 120
            while True:  # the task-run recorder writes it from the run's events
                runs = client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
                if [r.state_name for r in runs] == ["Completed"]:
                    break
                assert time.monotonic() < deadline, runs
                time.sleep(0.5)
        time.sleep(6)  # past the event persister's flush interval (5 s), were it running
        # Every event sent while the server is up: none left for a stopped server at the end.
        with temporary_settings(updates={PREFECT_API_URL: url}):
            EventsWorker.drain_all(timeout=30)
        # This run's events only: the database is the harness's, shared with other tests.
        mine = {"any_resource": {"id": [f"prefect.flow-run.{run_id}"]}}
        stored = httpx.post(f"{url}/events/filter", json={"filter": mine, "limit": 50},
                            timeout=30).json()
        assert stored["total"] == 0, [e["event"] for e in stored["events"]]
    finally:
        server.stop()


def test_a_fresh_home_starts_on_the_migrated_database_kept_for_this_prefect(
        tmp_path: Path) -> None:
    """The owned server of a home without a database starts on a copy of the template
    (flows.prefect_db), which is at the head of this Prefect's migrations: Alembic runs none."""
    from alembic.script import ScriptDirectory
    from prefect.server import database as prefect_database

    from flows import prefect_db

    def stamps(path: Path) -> tuple[int, list[tuple[str]]]:
        conn = sqlite3.connect(path)
        try:
            return (conn.execute("PRAGMA user_version").fetchone()[0],
                    conn.execute("SELECT version_num FROM alembic_version").fetchall())
        finally:
            conn.close()

    migrations = Path(prefect_database.__file__).parent / "_migrations"
    head = ScriptDirectory(str(migrations),
                           version_locations=[str(migrations / "versions" / "sqlite")]
                           ).get_current_head()
    number = prefect_db.key_number(prefect_db.template_key())
    assert stamps(prefect_db.ensure_template()) == (number, [(head,)])

    # A command of its own in a new home (Prefect reads its home once, at import).
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATA_DIR": str(tmp_path / "data"),
               "PREFECT_HOME": str(tmp_path / "home")}
    for name in ("PREFECT_API_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL",
                 "PREFECT_API_DATABASE_CONNECTION_URL"):
        environ.pop(name, None)
    subprocess.run([sys.executable, "-c", "from flows.common import OwnedPrefectServer, _healthy\n"
                    f"s = OwnedPrefectServer(patience_s={STARTUP_S})\n"
                    "try:\n    assert _healthy(s.start())\nfinally:\n    s.stop()"],
                   cwd=tmp_path, env=environ, check=True, timeout=STARTUP_S + 60)
    # The server ran on the copy (the template's stamp), left at the same head.
    assert stamps(tmp_path / "home" / "prefect.db") == (number, [(head,)])
