"""The Prefect server `duban serve` publishes for ticks run beside it: a tick uses it only when
its file reads, its processes are alive and it answers in time; anything else is stale."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from flows.common import (
    SERVER_STATE,
    SHARED_HEALTH_TIMEOUT_S,
    publish_server,
    published_server,
    server_state_path,
    unpublish_server,
)


@pytest.fixture(autouse=True)
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture
def answering() -> Iterator[str]:
    """An API URL whose /health answers 200, as Prefect's server does."""
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_published_server_that_answers_is_used(answering: str) -> None:
    publish_server(server_state_path(), answering, os.getpid())
    assert published_server() == answering
    assert (server_state_path().stat().st_mode & 0o777) == 0o600


def test_no_file_or_an_unreadable_one_is_no_server(data: Path) -> None:
    assert published_server() is None
    data.mkdir()
    (data / SERVER_STATE).write_text("{half", encoding="utf-8")
    assert published_server() is None
    (data / SERVER_STATE).write_text("[]", encoding="utf-8")
    assert published_server() is None


def test_a_file_left_by_a_killed_serve_is_stale(answering: str, data: Path) -> None:
    # Even with something answering on its port: the processes it names are gone.
    data.mkdir()
    for pid, owner in ((_dead_pid(), os.getpid()), (os.getpid(), _dead_pid())):
        (data / SERVER_STATE).write_text(json.dumps(
            {"url": answering, "pid": pid, "owner": owner}), encoding="utf-8")
        assert published_server() is None


def test_a_live_pid_whose_port_does_not_answer_is_stale_within_the_timeout(data: Path) -> None:
    data.mkdir()
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api"
        (data / SERVER_STATE).write_text(json.dumps(
            {"url": url, "pid": os.getpid(), "owner": os.getpid()}), encoding="utf-8")
        started = time.monotonic()
        assert published_server() is None
        assert time.monotonic() - started < SHARED_HEALTH_TIMEOUT_S + 2
    with socket.socket() as closed:  # nothing listens there any more
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    (data / SERVER_STATE).write_text(json.dumps(
        {"url": f"http://127.0.0.1:{port}/api", "pid": os.getpid(), "owner": os.getpid()}),
        encoding="utf-8")
    assert published_server() is None


def test_only_a_loopback_url_is_believed(answering: str, data: Path) -> None:
    data.mkdir()
    (data / SERVER_STATE).write_text(json.dumps(
        {"url": answering.replace("127.0.0.1", "localhost"), "pid": os.getpid(),
         "owner": os.getpid()}), encoding="utf-8")
    assert published_server() is None


def test_serve_removes_only_its_own_file(answering: str, data: Path) -> None:
    path = server_state_path()
    publish_server(path, answering, os.getpid())
    unpublish_server(path)
    assert not path.exists()
    # Another serve's publication (a second serve on the same data directory) stays.
    path.write_text(json.dumps({"url": answering, "pid": os.getpid(), "owner": os.getpid() + 1}),
                    encoding="utf-8")
    unpublish_server(path)
    assert path.exists()
    unpublish_server(data / "nothing-here.json")  # no file: nothing to do
