"""duban's one ASGI layer around the app (web/frame.py) keeps what three layers did: the
security headers on every response (a response's own header left alone), the body limit,
a plan-version memo per request; and the web server's garbage collector is settled when the
app starts (web/heap.py)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from duban.web.frame import CSP, RequestFrame
from duban.web.uploads import MAX_BODY_BYTES
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]
ROOT = Path(__file__).resolve().parents[2]
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
           "x-frame-options": "DENY", "referrer-policy": "same-origin"}


def test_one_layer_does_what_three_did(app: object, world: World,
                                       client_for: Clients) -> None:
    middleware = [m.cls for m in app.user_middleware]  # type: ignore[attr-defined]
    assert middleware == [RequestFrame]
    client, csrf = client_for("off_zjj")
    anon = TestClient(app)  # type: ignore[arg-type]
    pid = world.problems["hd_housing"]
    too_big = client.post(f"/api/problems/{pid}/evidence", content=b"x" * 10, headers={
        "X-CSRF-Token": csrf, "Content-Type": "multipart/form-data; boundary=b",
        "Content-Length": str(MAX_BODY_BYTES + 1)})
    answers = {
        "page": client.get(f"/?campaign={world.campaign_id}"),
        "ledger": client.get(f"/ledger?campaign={world.campaign_id}"),
        "api": client.get("/api/me"),
        "static": client.get("/static/app.css"),
        "not found": client.get("/no-such-page"),
        "refused body": too_big,
        "sign-in redirect": anon.get("/ledger", follow_redirects=False),
        "api without a session": anon.get("/api/me"),
        "forged csrf": client.post("/logout", data={"csrf_token": "0" * 64}),
    }
    expected = {"page": 200, "ledger": 200, "api": 200, "static": 200, "not found": 404,
                "refused body": 413, "sign-in redirect": 303, "api without a session": 401,
                "forged csrf": 403}
    assert {k: r.status_code for k, r in answers.items()} == expected
    for name, r in answers.items():
        for header, value in HEADERS.items():
            assert r.headers.get(header) == value, (name, header)
            assert len(r.headers.get_list(header)) == 1, (name, header)
        assert re.fullmatch(r"app;dur=\d+\.\d", r.headers.get("server-timing", "")), name
    # A response that sets its own policy keeps it (the field app's shell allows blob: images).
    field, _ = client_for("vil_hd1")
    shell = field.get("/m/")
    assert shell.status_code == 200
    assert "blob:" in shell.headers["content-security-policy"]
    assert len(shell.headers.get_list("content-security-policy")) == 1
    assert shell.headers["x-frame-options"] == "DENY"


def test_server_timing_is_the_time_to_the_response_start() -> None:
    # Counted from the request's arrival in the app to its response's first message: what
    # the app took, not how long the body took to stream.
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.12)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"ok"})

    answer = TestClient(RequestFrame(slow)).get("/")
    took = float(answer.headers["server-timing"].removeprefix("app;dur="))
    assert 120 <= took < 300, took


SETTLED = """
import gc, json, sys
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send
from duban.domain.clock import FixedClock
from duban.services.database import Database
from duban.services.root import Root
from duban.web.app import create_app
import datetime as dt
db = Database("sqlite:///" + sys.argv[1])
db.migrate()
app = create_app(Root(db=db, clock=FixedClock(dt.datetime(2022, 10, 10, 10, tzinfo=dt.UTC))),
                 secret_key="s" * 40)
before = [gc.get_threshold(), gc.get_freeze_count()]
with TestClient(app) as client:
    assert client.get("/login").status_code == 200
    print(json.dumps({"before": before, "after": [gc.get_threshold(), gc.get_freeze_count()]}))
"""


def test_a_started_app_freezes_its_start_up_heap_and_spaces_collections(
        tmp_path: Path) -> None:
    """In its own process (the test session keeps its collector as it is)."""
    from duban.web import heap

    run = subprocess.run([sys.executable, "-c", SETTLED, str(tmp_path / "d.db")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "DUBAN_DATA_DIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["before"] == [[700, 10, 10], 0]
    threshold, frozen = got["after"]
    assert threshold == [heap.YOUNG, heap.MIDDLE, heap.OLD]
    assert frozen > 50_000  # the imports and the app, never walked again
