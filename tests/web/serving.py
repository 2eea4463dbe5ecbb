"""`duban serve`'s real server in a child process, over the web tests' small world on a SQLite
file, for what only the real server shows (forwarded headers, streamed uploads, memory)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from duban.adapters.children import OwnedChild
from duban.domain.clock import FixedClock
from duban.services.database import Database
from tests.conftest import ROOT
from tests.web.conftest import PASSWORD, World, build_world, csrf_of


def free_port() -> int:
    """The port to serve on: $DUBAN_TEST_SERVE_PORT, else one the kernel picks."""
    if os.environ.get("DUBAN_TEST_SERVE_PORT"):
        return int(os.environ["DUBAN_TEST_SERVE_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running `duban serve --no-scheduler` and the world in its database."""

    base: str
    world: World
    child: OwnedChild

    def login(self, client: httpx.Client, username: str, password: str = PASSWORD,
              headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One sign-in attempt through the login form.

        Cookies are sent by hand: they are Secure on 127.0.0.1 (browsers send them to
        loopback over HTTP; httpx does not)."""
        page = client.get("/login")
        return client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": csrf_of(page.text), "next": "/"},
                           headers={**dict(headers or {}), "Cookie": cookie_header(page)},
                           follow_redirects=False)


def cookie_header(*responses: httpx.Response) -> str:
    """A Cookie header carrying every cookie these responses set."""
    jar: dict[str, str] = {}
    for r in responses:
        jar.update(r.cookies.items())
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _answers(port: int, path: str) -> bool:
    """Whether a GET of `path` on 127.0.0.1:`port` answers 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def served(tmp: Path, clock: FixedClock, env: Mapping[str, str] | None = None) -> Iterator[Served]:
    """Build the world in a SQLite file, serve it, yield when it answers; stop it after."""
    url = f"sqlite:///{tmp / 'duban.db'}"
    db = Database(url)
    db.migrate()
    world = build_world(db, clock)
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATA_DIR": str(tmp / "data"),
                 **(env or {})}
    if "DUBAN_TRUSTED_PROXIES" not in (env or {}):
        child_env.pop("DUBAN_TRUSTED_PROXIES", None)
    try:
        with serve_child(url, tmp, child_env) as (base, child):
            yield Served(base=base, world=world, child=child)
    finally:
        db.engine.dispose()


@contextlib.contextmanager
def serve_child(url: str, tmp: Path, env: Mapping[str, str],
                extra: tuple[str, ...] = ()) -> Iterator[tuple[str, OwnedChild]]:
    """`duban serve --no-scheduler` on URL as an owned child; yield (base URL, child) once it
    answers /login, stop it after. Its output goes to TMP/serve.log, quoted when it fails."""
    port = free_port()
    log = (tmp / "serve.log").open("wb")
    child = OwnedChild([sys.executable, "-c", "from duban.cli import main; main()", "--db", url,
                        *extra, "serve", "--no-scheduler", "--host", "127.0.0.1",
                        "--port", str(port)], env=dict(env), cwd=ROOT, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            # Plain http.client: httpx.get builds a TLS context per call (tens of ms of CPU,
            # taken from the starting server on a 2-core machine, five times a second).
            if _answers(port, "/login"):
                break
            if not child.running() or time.monotonic() > deadline:
                raise AssertionError("duban serve did not start: "
                                     + (tmp / "serve.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)
        yield base, child
    finally:
        child.stop()
        log.close()
