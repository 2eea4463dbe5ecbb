"""What only `duban serve`'s real server shows: forwarded addresses are believed only from
the proxies the operator names (DUBAN_TRUSTED_PROXIES)."""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select as select_

from duban.cli.serve import proxy_options
from duban.domain.clock import FixedClock
from duban.services.accounts import MAX_FAILURES
from models import Evidence, LoginAttempt
from tests.web.serving import Served, served

FORGED = {"X-Forwarded-For": "5.6.7.8", "X-Forwarded-Proto": "https"}


def test_proxy_options_trust_nobody_by_default() -> None:
    assert proxy_options("") == {"proxy_headers": False, "forwarded_allow_ips": ""}
    assert proxy_options(" , ") == {"proxy_headers": False, "forwarded_allow_ips": ""}
    assert proxy_options("10.0.0.5, 10.1.0.0/16") == {
        "proxy_headers": True, "forwarded_allow_ips": "10.0.0.5,10.1.0.0/16"}


def _ips(served_world: object) -> list[tuple[str, bool]]:
    db = served_world.world.db  # type: ignore[attr-defined]
    with db.transaction() as s:
        return [(a.ip, a.success) for a in s.scalars(
            select_(LoginAttempt).where(LoginAttempt.username == "county")
            .order_by(LoginAttempt.id))]


@pytest.mark.slow
def test_a_forged_forwarded_address_does_not_unlock_a_locked_account(
        tmp_path: Path, clock: FixedClock) -> None:
    with served(tmp_path, clock) as srv, httpx.Client(base_url=srv.base) as client:
        for i in range(MAX_FAILURES):
            r = srv.login(client, "county", f"wrong-{i}", headers=FORGED if i % 2 else None)
            assert r.status_code == 401 and "用户名或密码错误" in r.text
        # Locked for county at 127.0.0.1: the right password with a forged address is refused.
        for headers in (FORGED, {"X-Forwarded-For": "5.6.7.8, 127.0.0.1"},
                        {"Forwarded": "for=5.6.7.8"}):
            r = srv.login(client, "county", headers=headers)
            assert r.status_code == 401 and "登录失败次数过多" in r.text, headers
            assert "duban_session" not in r.cookies
        ips = _ips(srv)
        assert ips == [("127.0.0.1", False)] * MAX_FAILURES  # the forged address is stored nowhere


@pytest.mark.slow
def test_a_named_proxy_is_believed(tmp_path: Path, clock: FixedClock) -> None:
    with served(tmp_path, clock, {"DUBAN_TRUSTED_PROXIES": "127.0.0.1"}) as srv, \
            httpx.Client(base_url=srv.base) as client:
        r = srv.login(client, "county", headers=FORGED)
        assert r.status_code == 303
        assert _ips(srv) == [("5.6.7.8", True)]


# ---- bounded uploads ------------------------------------------------------------------------

HUGE = 300 * 1024 * 1024


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _signed_in(srv: Served, client: httpx.Client, username: str) -> tuple[str, str]:
    """(Cookie header, CSRF token) of a fresh session."""
    r = srv.login(client, username)
    assert r.status_code == 303, r.text[:300]
    cookie = f"duban_session={r.cookies['duban_session']}"
    me = client.get("/api/me", headers={"Cookie": cookie})
    assert me.status_code == 200, me.text
    return cookie, str(me.json()["csrf_token"])


def _upload(srv: Served, cookie: str, csrf: str, pid: int, *,
            declare: bool) -> tuple[float, bytes, int]:
    """POST a 300 MiB JPEG-looking file to the evidence API through a raw socket, chunked or
    with its Content-Length; returns (seconds until the answer, the answer, peak RSS KiB)."""
    boundary = "duban-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"phase\"\r\n\r\nafter\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"huge.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    host, port = srv.base.removeprefix("http://").split(":")
    framing = (f"Content-Length: {len(head) + HUGE + len(tail)}" if declare
               else "Transfer-Encoding: chunked")
    request = (f"POST /api/problems/{pid}/evidence HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n{framing}\r\n\r\n")
    chunk = b"\xff\xd8\xff\xe0" + b"\x00" * (1024 * 1024 - 4)
    peak = _rss_kib(srv.child.pid)
    answer = b""
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(request.encode())

        def send(data: bytes) -> None:
            sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n" if not declare
                         else data)

        try:
            send(head)
            for _ in range(HUGE // len(chunk)):
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered: stop sending
                send(chunk)
                peak = max(peak, _rss_kib(srv.child.pid))
            else:
                send(tail)
                if not declare:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection after answering
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
        took = time.monotonic() - started
        peak = max(peak, _rss_kib(srv.child.pid))
    return took, answer, peak


@pytest.mark.slow
def test_a_300_mib_upload_is_refused_at_once_and_memory_stays_flat(
        tmp_path: Path, clock: FixedClock) -> None:
    with served(tmp_path, clock) as srv, httpx.Client(base_url=srv.base) as client:
        cookie, csrf = _signed_in(srv, client, "off_zjj")
        pid = srv.world.problems["hd_housing"]
        before = _rss_kib(srv.child.pid)
        for declare in (True, False):
            took, answer, peak = _upload(srv, cookie, csrf, pid, declare=declare)
            assert answer.startswith(b"HTTP/1.1 413"), (declare, answer[:300])
            assert took < 1.0, (declare, took)
            growth_mib = (peak - before) / 1024
            assert growth_mib < 32, (declare, growth_mib)
            print(f"declared={declare}: refused in {took:.3f} s, RSS +{growth_mib:.1f} MiB")
        with srv.world.db.transaction() as s:
            assert s.scalar(select_(func.count()).select_from(Evidence)) == 0
        # The server still serves.
        assert client.get("/login").status_code == 200
