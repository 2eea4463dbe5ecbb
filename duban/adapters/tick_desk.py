"""A tick handed to `duban serve`: serve runs it in its warm process, a hand-run tick waits.

A fresh process that runs a Prefect flow pays ~3.5 s of CPU (importing Prefect is half of it)
before any work, eight times a ~1 s stage. `duban serve` has paid it once: while it leads the
scheduler it listens on 127.0.0.1 (a port the kernel picks) and publishes the port and a random
token in TICK_DESK, owner-only (0600), in the data directory. `duban tick` reads it, sends the
token and its clock, and serve runs the tick through the same function and lock as its own
scheduled ticks, so the two never overlap (the reaper no longer takes serve's running stage for
a crashed one). Stdlib only: the waiting side must not import Prefect.

Anything but a clean answer before the tick starts (no file, a file a SIGKILL left, another
user's file, a port that refuses or does not answer, a wrong token, a serve that does not
lead) is "no desk": the caller runs the tick itself, as without serve. A serve that dies after
accepting closes the connection: the caller then runs the tick itself (it reaps the stage run
serve left `running`, which was indeed interrupted).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import socket
import stat
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TICK_DESK = "tick-desk.json"
# A desk that is up answers in milliseconds; one that does not must not hold a cron tick up.
CONNECT_TIMEOUT_S = 2.0
ACCEPT_TIMEOUT_S = 5.0
# How long serve waits for a caller's request line before hanging up on it.
REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 4096


class DeskGone(Exception):
    """serve accepted the tick and then went away before answering (killed, stopped)."""


class TickRefused(Exception):
    """serve's tick failed; `message` is what a local tick would have shown."""

    def __init__(self, message: str, duban: bool) -> None:
        super().__init__(message)
        self.message = message
        self.duban = duban  # a DubanError (exit 1) rather than an internal error (exit 3)


def database_key(db_url: str) -> str:
    """Which database a tick is for, without writing its URL (it may hold a password)."""
    import hashlib

    return hashlib.sha256(db_url.encode("utf-8")).hexdigest()


class TickDesk:
    """serve's side: answers hand-run ticks on 127.0.0.1 while `accepting()` says so."""

    def __init__(self, path: Path, database: str, run: Callable[[str | None], dict[str, Any]],
                 accepting: Callable[[], bool] = lambda: True) -> None:
        self.path = path
        self.database = database
        self.run = run
        self.accepting = accepting
        self.token = secrets.token_hex(32)
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._calls: list[threading.Thread] = []

    def start(self) -> int:
        """Listen, publish the port and token (written whole, 0600); returns the port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        self._sock = sock
        port = int(sock.getsockname()[1])
        temporary = self.path.with_name(f".{TICK_DESK}.{os.getpid()}.part")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"port": port, "token": self.token, "owner": os.getpid(),
                       "database": self.database}, fh)
        os.replace(temporary, self.path)
        self._thread = threading.Thread(target=self._serve, name="duban-tick-desk", daemon=True)
        self._thread.start()
        return port

    def stop(self) -> None:
        """Stop answering, remove the file if it is still this process's, and let the ticks
        handed over finish (as the scheduler's own: serve stops its Prefect server after)."""
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = None
        if isinstance(state, dict) and state.get("owner") == os.getpid():
            with suppress(FileNotFoundError):
                self.path.unlink()
        if self._sock is not None:
            with suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        for call in self._calls:
            call.join()

    def _serve(self) -> None:
        sock = self._sock
        while sock is not None and sock is self._sock:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            call = threading.Thread(target=self._answer, args=(conn,),
                                    name="duban-tick-desk-call", daemon=True)
            self._calls = [c for c in self._calls if c.is_alive()] + [call]
            call.start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(REQUEST_TIMEOUT_S)
            try:
                request = json.loads(_read_line(conn))
            except (OSError, ValueError):
                return
            if not (isinstance(request, dict) and isinstance(request.get("token"), str)
                    and hmac.compare_digest(request["token"], self.token)):
                return  # a stranger: hang up without a word
            now = request.get("now")
            if (now is not None and not isinstance(now, str)) \
                    or request.get("database") != self.database or not self.accepting():
                _send(conn, {"declined": True})
                return
            conn.settimeout(None)
            try:
                _send(conn, {"accepted": True})
                try:
                    reply: dict[str, Any] = {"summary": self.run(now)}
                except Exception as exc:  # the caller shows it as a local tick would
                    from duban.domain.errors import DubanError

                    duban = isinstance(exc, DubanError)
                    if not duban:
                        log.exception("a tick handed over by duban tick failed")
                    reply = {"error": str(exc) if duban else type(exc).__name__,
                             "duban": duban}
                _send(conn, reply)
            except OSError:  # the caller went away; the tick ran (or failed) all the same
                return


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST_BYTES and b"\n" not in data:
            raise ValueError("request too long")
    return data


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")


def _own_state(path: Path) -> dict[str, Any] | None:
    """The desk file when it is this user's, owner-only and well formed; else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        try:
            state = json.loads(fh.read(MAX_REQUEST_BYTES))
        except ValueError:
            return None
    if not (isinstance(state, dict) and isinstance(state.get("port"), int)
            and isinstance(state.get("token"), str) and isinstance(state.get("owner"), int)):
        return None
    try:
        os.kill(state["owner"], 0)
    except (ProcessLookupError, PermissionError, OverflowError):  # gone, or not ours
        return None
    return state


def hand_off(path: Path, database: str, now: str | None) -> dict[str, Any] | None:
    """Have serve run the tick and return its summary; None when no desk answers (run it here).

    Raises TickRefused when serve's tick failed, DeskGone when serve went away after accepting.
    """
    state = _own_state(path)
    if state is None:
        return None
    try:
        conn = socket.create_connection(("127.0.0.1", state["port"]), timeout=CONNECT_TIMEOUT_S)
    except OSError:
        return None
    with conn:
        try:
            conn.settimeout(ACCEPT_TIMEOUT_S)
            _send(conn, {"token": state["token"], "now": now, "database": database})
            reader = conn.makefile("rb")
            first = json.loads(reader.readline() or b"null")
        except (OSError, ValueError):
            return None
        if not (isinstance(first, dict) and first.get("accepted")):
            return None
        conn.settimeout(None)  # a tick takes as long as its stages; serve's death ends the wait
        try:
            reply = json.loads(reader.readline() or b"null")
        except (OSError, ValueError):
            reply = None
    if isinstance(reply, dict) and isinstance(reply.get("summary"), dict):
        return reply["summary"]
    if isinstance(reply, dict) and isinstance(reply.get("error"), str):
        raise TickRefused(reply["error"], bool(reply.get("duban")))
    raise DeskGone()
