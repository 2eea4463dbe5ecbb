"""Evidence rounds: evidence belongs to a submission round, frozen once submitted; a failed
review opens the next round; every upload is an audit event; the reviewer sees each round's
evidence apart, the newest marked."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duban.domain.lifecycle import Action, Payload
from duban.services import moves
from duban.services.evidence import UPLOAD_ACTION
from models import AuditEvent, Evidence
from tests.support import JPEG, photo
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]
PNG = b"\x89PNG\r\n\x1a\n" + b"round-two" * 10


def _upload(client: TestClient, csrf: str, pid: int, name: str, content: bytes,
            phase: str = "after") -> tuple[int, dict[str, object] | list[str]]:
    r = client.post(f"/api/problems/{pid}/evidence", files={"files": (name, content)},
                    data={"phase": phase}, headers={"X-CSRF-Token": csrf})
    return r.status_code, r.json()


def _rows(world: World, pid: int) -> list[tuple[str, int]]:
    with world.db.transaction() as s:
        return [(e.filename, e.submission_round) for e in s.scalars(
            select(Evidence).where(Evidence.problem_id == pid).order_by(Evidence.id))]


def _uploads(world: World, pid: int) -> list[tuple[str, str, int, list[str]]]:
    with world.db.transaction() as s:
        return [(e.actor, e.to_status, int(e.data["round"]), list(e.evidence))
                for e in s.scalars(select(AuditEvent).where(
                    AuditEvent.problem_id == pid, AuditEvent.action == UPLOAD_ACTION)
                    .order_by(AuditEvent.id))]


def test_a_round_is_frozen_once_submitted_and_every_upload_is_audited(
        world: World, client_for: Clients) -> None:
    db, clock = world.db, world.clock
    pid = world.problems["hd_housing"]
    client, csrf = client_for("off_zjj")
    db.run(moves.apply, clock, "off_zjj", pid, Action.ACCEPT, Payload())
    status, hashes = _upload(client, csrf, pid, "整改前.jpg", JPEG + b"b", "before")
    assert status == 200
    db.run(moves.apply, clock, "off_zjj", pid, Action.SUBMIT, Payload(note="已整改"),
           files=[photo()])
    assert _rows(world, pid) == [("整改前.jpg", 1), ("整改后照片.jpg", 1)]
    uploads = _uploads(world, pid)
    assert [(a, s, r) for a, s, r, _ in uploads] == [("off_zjj", "rectifying", 1),
                                                     ("off_zjj", "submitted", 1)]
    assert uploads[0][3] == hashes
    # Waiting for review, passed, closed: nothing more goes in, nothing is written.
    for then in (None, (Action.PASS_REVIEW, "sup"), (Action.CLOSE, "county")):
        if then is not None:
            db.run(moves.apply, clock, then[1], pid, then[0], Payload())
        with db.transaction() as s:
            before = (s.scalar(select(func.count()).select_from(Evidence)),
                      s.scalar(select(func.count()).select_from(AuditEvent)))
        status, body = _upload(client, csrf, pid, "补充.jpg", JPEG + b"late")
        assert status == 400, body
        message = str(body["error"])  # type: ignore[call-overload]
        if then is not None and then[0] is Action.CLOSE:
            assert "已销号，不能再上传佐证资料" in message and "已已" not in message
        else:
            assert "整改材料已提交" in message and "本轮佐证资料不能再增加" in message
        with db.transaction() as s:
            assert (s.scalar(select(func.count()).select_from(Evidence)),
                    s.scalar(select(func.count()).select_from(AuditEvent))) == before
    # The county office may not add to a frozen round either.
    county, county_csrf = client_for("county")
    assert _upload(county, county_csrf, pid, "县里补充.jpg", JPEG + b"county")[0] == 400


def test_a_failed_review_opens_the_next_round_shown_apart_to_the_reviewer(
        world: World, client_for: Clients) -> None:
    db, clock = world.db, world.clock
    pid = world.problems["lz_housing"]
    client, csrf = client_for("off_zjj")
    db.run(moves.apply, clock, "off_zjj", pid, Action.ACCEPT, Payload())
    db.run(moves.apply, clock, "off_zjj", pid, Action.SUBMIT, Payload(note="第一次"),
           files=[photo("第一轮.jpg")])
    db.run(moves.apply, clock, "sup", pid, Action.FAIL_REVIEW, Payload(note="照片不清楚"))
    # The next round: a new file, and the first round's photo again (kept in both rounds).
    assert _upload(client, csrf, pid, "第二轮.png", PNG)[0] == 200
    assert _upload(client, csrf, pid, "第一轮再传.jpg", JPEG)[0] == 200
    assert _rows(world, pid) == [("第一轮.jpg", 1), ("第二轮.png", 2), ("第一轮再传.jpg", 2)]
    assert [r for _, _, r, _ in _uploads(world, pid)] == [1, 2, 2]
    reviewer, _ = client_for("sup")
    page = reviewer.get(f"/problems/{pid}").text
    rounds = re.findall(r'<div class="evidence-round( newest)?" id="round-(\d)">', page)
    assert rounds == [(" newest", "2"), ("", "1")]
    second = page[page.index('id="round-2"'):page.index('id="round-1"')]
    first = page[page.index('id="round-1"'):page.index("列入的通知书")]
    assert "第二轮.png" in second and "第一轮再传.jpg" in second and "最新" in second
    assert "尚未提交" in second
    assert "第一轮.jpg" in first and "第二轮.png" not in first and "已冻结" in first
    api = reviewer.get(f"/api/problems/{pid}").json()
    assert sorted((e["filename"], e["round"]) for e in api["evidence"]) == [
        ("第一轮.jpg", 1), ("第一轮再传.jpg", 2), ("第二轮.png", 2)]
