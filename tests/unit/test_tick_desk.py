"""A tick handed to serve's desk: the caller gets serve's summary or failure; one tick at a time
with serve's own; anything stale, foreign or silent is "no desk" (the caller ticks itself)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from duban.adapters.tick_desk import (
    ACCEPT_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    TICK_DESK,
    DeskGone,
    TickDesk,
    TickRefused,
    hand_off,
)
from duban.domain.errors import DubanError

ROOT = Path(__file__).resolve().parents[2]

DB = "db-key"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / TICK_DESK


@pytest.fixture
def desk(path: Path) -> Iterator[tuple[TickDesk, list[str | None]]]:
    calls: list[str | None] = []

    def run(now: str | None) -> dict[str, Any]:
        calls.append(now)
        if now == "fail":
            raise DubanError("行动不存在：7")
        if now == "bug":
            raise KeyError("x")
        return {"campaigns": {}, "now": now}

    d = TickDesk(path, DB, run)
    d.start()
    try:
        yield d, calls
    finally:
        d.stop()


def test_the_summary_and_the_clock_carry_through(desk: tuple[TickDesk, list[str | None]],
                                                 path: Path) -> None:
    assert (path.stat().st_mode & 0o777) == 0o600
    assert hand_off(path, DB, "2026-03-02T09:00:00+08:00") == {
        "campaigns": {}, "now": "2026-03-02T09:00:00+08:00"}
    assert hand_off(path, DB, None) == {"campaigns": {}, "now": None}
    assert desk[1] == ["2026-03-02T09:00:00+08:00", None]


def test_a_failure_comes_back_as_it_was(desk: tuple[TickDesk, list[str | None]],
                                        path: Path) -> None:
    with pytest.raises(TickRefused) as refused:
        hand_off(path, DB, "fail")
    assert (refused.value.message, refused.value.duban) == ("行动不存在：7", True)
    with pytest.raises(TickRefused) as bug:
        hand_off(path, DB, "bug")
    assert (bug.value.message, bug.value.duban) == ("KeyError", False)


def test_another_database_or_a_serve_not_leading_declines(path: Path) -> None:
    leading = threading.Event()
    d = TickDesk(path, DB, lambda now: {"ran": now}, accepting=leading.is_set)
    d.start()
    try:
        assert hand_off(path, DB, None) is None
        leading.set()
        assert hand_off(path, "other", None) is None
        assert hand_off(path, DB, None) == {"ran": None}
    finally:
        d.stop()
    assert not path.exists()


def test_a_serve_stopped_leaves_no_desk(desk: tuple[TickDesk, list[str | None]],
                                        path: Path) -> None:
    state = path.read_text(encoding="utf-8")
    desk[0].stop()
    assert not path.exists()
    path.write_text(state, encoding="utf-8")  # as a SIGKILL leaves it, owner alive (this pid)
    os.chmod(path, 0o600)
    started = time.monotonic()
    assert hand_off(path, DB, None) is None  # the port refuses
    assert time.monotonic() - started < CONNECT_TIMEOUT_S
    assert desk[1] == []


def test_a_file_whose_owner_died_is_stale(desk: tuple[TickDesk, list[str | None]],
                                          path: Path) -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    state = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**state, "owner": child.pid}), encoding="utf-8")
    assert hand_off(path, DB, None) is None
    assert desk[1] == []


def test_a_file_others_may_read_or_not_a_file_is_ignored(
        desk: tuple[TickDesk, list[str | None]], path: Path, tmp_path: Path) -> None:
    os.chmod(path, 0o644)
    assert hand_off(path, DB, None) is None
    os.chmod(path, 0o600)
    link = tmp_path / "link.json"
    link.symlink_to(path)
    assert hand_off(link, DB, None) is None
    for text in ("{half", "[]", '{"port": "1", "token": "t", "owner": 1}'):
        bad = tmp_path / "bad.json"
        bad.write_text(text, encoding="utf-8")
        os.chmod(bad, 0o600)
        assert hand_off(bad, DB, None) is None
    assert desk[1] == []


def test_a_wrong_token_is_hung_up_on(desk: tuple[TickDesk, list[str | None]],
                                     path: Path) -> None:
    state = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**state, "token": "0" * 64}), encoding="utf-8")
    assert hand_off(path, DB, None) is None
    assert desk[1] == []


def test_a_port_that_never_answers_does_not_hold_the_tick(path: Path) -> None:
    # Something else listens on the port and says nothing: the caller gives up in time.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"port": silent.getsockname()[1], "token": "t", "owner": os.getpid(),
                       "database": DB}, fh)
        started = time.monotonic()
        assert hand_off(path, DB, None) is None
        assert time.monotonic() - started < ACCEPT_TIMEOUT_S + 2
    finally:
        silent.close()


def test_a_desk_gone_after_accepting_is_said(path: Path) -> None:
    started, released = threading.Event(), threading.Event()

    def run(now: str | None) -> dict[str, Any]:
        started.set()
        released.wait(30)
        return {}

    d = TickDesk(path, DB, run)
    d.start()
    closer = threading.Thread(target=lambda: (started.wait(10), _drop_calls(d)))
    closer.start()
    try:
        with pytest.raises(DeskGone):
            hand_off(path, DB, None)
    finally:
        closer.join()
        released.set()
        d.stop()


def _drop_calls(d: TickDesk) -> None:
    """As serve's death does: every connection of the desk closes."""
    for fd in os.listdir("/proc/self/fd"):
        with_target = Path("/proc/self/fd") / fd
        try:
            target = os.readlink(with_target)
        except OSError:
            continue
        if target.startswith("socket:") and d._sock is not None \
                and int(fd) != d._sock.fileno():
            try:
                s = socket.socket(fileno=os.dup(int(fd)))
            except OSError:
                continue
            try:
                # Only the desk's TCP connections: a unix socket another test left in this
                # worker (a render pool's forkserver) has a path, not an address.
                if s.family == socket.AF_INET and s.type == socket.SOCK_STREAM \
                        and s.getsockname()[0] == "127.0.0.1" \
                        and s.getsockname()[1] == d._sock.getsockname()[1]:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            finally:
                s.close()


CLI_BESIDE_DESK = """
import json, os, sys
from pathlib import Path
from duban.adapters.tick_desk import TICK_DESK, TickDesk, database_key
from duban.domain.errors import DubanError
from duban.services.locations import database_url

def run(now):
    if now and now.startswith("2026-03-03"):
        raise DubanError("行动不存在：7")
    return {"campaigns": {}, "delivery": {"sent": 0, "retrying": 0, "failed": 0}, "now": now}

data = Path(os.environ["DUBAN_DATA_DIR"])
data.mkdir(exist_ok=True)
desk = TickDesk(data / TICK_DESK, database_key(database_url()), run)
desk.start()
from duban.cli import main
try:
    main()
finally:
    desk.stop()
    print("prefect imported" if "prefect" in sys.modules else "prefect not imported",
          file=sys.stderr)
    print("sqlalchemy imported" if "sqlalchemy" in sys.modules else "sqlalchemy not imported",
          file=sys.stderr)
"""


def _cli(tmp_path: Path, *args: str, default_database: bool = False
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DUBAN_DATA_DIR": str(tmp_path / "data"),
           "DUBAN_DATABASE_URL": f"sqlite:///{tmp_path}/absent.db"}
    if default_database:  # the data directory's SQLite file, as an office's serve uses
        del env["DUBAN_DATABASE_URL"]
    return subprocess.run([sys.executable, "-c", CLI_BESIDE_DESK, *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_command_prints_serves_tick_without_importing_prefect(tmp_path: Path) -> None:
    ran = _cli(tmp_path, "--now", "2026-03-02T09:00", "tick", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["now"] == "2026-03-02T09:00:00+08:00"
    assert "prefect not imported" in ran.stderr
    table = _cli(tmp_path, "--now", "2026-03-02T09:00", "tick")
    assert table.returncode == 0
    assert "没有进行中的行动。" in table.stdout and "发送：成功 0" in table.stdout


@pytest.mark.parametrize("default_database", [False, True])
def test_the_handed_command_does_not_import_sqlalchemy(tmp_path: Path,
                                                       default_database: bool) -> None:
    # SQLAlchemy was most of a handed tick's command (~0.27 s of CPU of ~0.4 s) only to learn
    # the data directory and the database's URL (duban.services.locations is stdlib only).
    ran = _cli(tmp_path, "--now", "2026-03-02T09:00", "tick", "--json",
               default_database=default_database)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["now"] == "2026-03-02T09:00:00+08:00"
    assert "sqlalchemy not imported" in ran.stderr


def test_the_command_shows_serves_refusal_in_chinese_with_exit_1(tmp_path: Path) -> None:
    ran = _cli(tmp_path, "--now", "2026-03-03T09:00", "tick")
    assert ran.returncode == 1
    assert "错误：行动不存在：7" in ran.stderr


def test_serve_imports_ahead_what_the_ticks_tasks_import_when_first_run() -> None:
    # Every module the tick's tasks import inside their functions (a stage's services are first
    # needed on its first day) is imported by serve's warm_imports before any tick runs.
    import ast

    tree = ast.parse((ROOT / "tasks/orchestration.py").read_text(encoding="utf-8"))
    lazy = sorted({node.module for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
                   for node in ast.walk(fn)
                   if isinstance(node, ast.ImportFrom) and node.module})
    assert "duban.services.intake" in lazy and "duban.services.reminders" in lazy
    code = textwrap.dedent("""
        import json, sys
        import flows.tick
        from duban.cli.serve import warm_imports
        before = sorted(sys.modules)
        warm_imports()
        print(json.dumps([before, sorted(sys.modules)]))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    before, after = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(lazy) - set(before), "nothing left to import ahead: the check would be empty"
    assert set(lazy) <= set(after), sorted(set(lazy) - set(after))
    assert "duban.adapters.documents.render" in after  # notices, 催办 and 通报
    assert "prefect.server.api.server" not in after  # the Prefect server's, not serve's
