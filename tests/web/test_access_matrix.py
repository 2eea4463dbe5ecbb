"""The access matrix: every route × every role, plus reading or changing another town's or
office's problem by URL, form tampering and replays without the CSRF token. Each refusal is
checked twice: by the answer, and by a fingerprint of the database that must not change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duban.domain.columns import PROBLEM_COLUMNS
from duban.domain.lifecycle import Role
from duban.services.notices.issuing import issue_notices
from duban.web.app import route_table
from models import (
    AccountEvent,
    AuditEvent,
    Campaign,
    DelegationEvent,
    Evidence,
    Household,
    InboxMessage,
    Notice,
    NoticeReceipt,
    PlanVersion,
    Problem,
    Substitute,
    User,
)
from models.tables import plan_draft, plan_draft_version
from tests.web.conftest import PASSWORD, USERS, World, csrf_of

ROLES = list(USERS)
Clients = Callable[[str], tuple[TestClient, str]]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64  # enough for the content sniffer


def fingerprint(world: World) -> tuple[Any, ...]:
    """Everything a refused request must leave alone."""
    with world.db.transaction() as s:
        problems = tuple(s.execute(
            select(Problem.id, Problem.status, Problem.version, Problem.lead_office,
                   Problem.deadline, Problem.submitted_by, Problem.review_passed_by)
            .order_by(Problem.id)).all())
        counts = tuple(int(s.scalar(select(func.count()).select_from(m)) or 0) for m in (
            AuditEvent, Evidence, Notice, NoticeReceipt, Campaign, Household, Substitute,
            DelegationEvent, AccountEvent, PlanVersion)) + tuple(
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (plan_draft, plan_draft_version))
        users = tuple(s.execute(select(User.username, User.active, User.password_hash)
                                .order_by(User.username)).all())
        read = tuple(s.execute(select(InboxMessage.id, InboxMessage.read_by)
                               .order_by(InboxMessage.id)).all())
    return problems, counts, users, read


# ---- the route inventory ----------------------------------------------------------------

# Every route the app serves, and how the matrix treats it. A new route fails
# test_every_route_is_in_the_matrix until it is classified here.
PUBLIC = {("GET", "/login"), ("POST", "/login"),
          # the phone app's worker and manifest: code, no data
          ("GET", "/m/sw.js"), ("GET", "/m/manifest.webmanifest")}
ANY_SIGNED_IN_GET = {
    "/", "/ledger", "/ledger.xlsx", "/waiting", "/notices", "/ranking", "/imports",
    "/campaigns", "/templates/{kind}.xlsx", "/inbox",
    "/api/me", "/api/campaigns", "/api/problems", "/api/waiting", "/api/notices", "/api/docs",
    "/api/openapi.json", "/api/campaigns/{campaign_id}/dashboard", "/api/inbox",
    "/m/", "/api/m/campaigns", "/api/m/campaigns/{campaign_id}/setup",
}
NOT_OFFICES_GET = {"/coverage", "/api/coverage"}
COUNTY_AND_SUPERVISORS = {("GET", "/spotchecks"), ("POST", "/spotchecks/{check_id}")}
COUNTY_ONLY = {
    ("POST", "/spotchecks/draw"),
    ("GET", "/people"), ("POST", "/people/substitutes"),
    ("POST", "/people/substitutes/{substitute_id}/end"), ("POST", "/people/reassign"),
    ("POST", "/people/users/{username}/active"), ("POST", "/campaigns"),
    ("POST", "/api/campaigns"), ("POST", "/notices/issue"),
    ("POST", "/api/notices/issue"),
    ("GET", "/campaigns/{campaign_id}/amend"), ("POST", "/campaigns/{campaign_id}/amend"),
    ("POST", "/campaigns/{campaign_id}/amend/apply"),
    ("GET", "/calendar"), ("POST", "/calendar"), ("POST", "/calendar/save"),
    ("GET", "/plans/drafts"), ("POST", "/plans/drafts"), ("GET", "/plans/drafts/{draft_id}"),
    ("POST", "/plans/drafts/{draft_id}/sections/{section_key}"),
    ("POST", "/plans/drafts/{draft_id}/import/{kind}"),
    ("POST", "/plans/drafts/{draft_id}/import-towns-from"),
    ("GET", "/plans/drafts/{draft_id}/plan.yaml"), ("POST", "/plans/drafts/{draft_id}/try"),
    ("POST", "/plans/drafts/{draft_id}/launch"), ("POST", "/plans/drafts/{draft_id}/amend"),
}
# A town imports its own town's rows only, and maps its file's words to the plan's names.
COUNTY_AND_TOWNS = {("POST", "/imports"), ("POST", "/imports/map")}
PROBLEM_SCOPED = {
    ("GET", "/problems/{problem_id}"), ("GET", "/api/problems/{problem_id}"),
    ("POST", "/problems/{problem_id}/move"), ("POST", "/api/problems/{problem_id}/moves"),
    ("POST", "/api/problems/{problem_id}/evidence"), ("GET", "/evidence/{evidence_id}"),
    ("POST", "/problems/bulk"), ("POST", "/api/problems/bulk-moves"),
    ("POST", "/problems/{problem_id}/milestones"),
}
# A duty occurrence is reported done by a user of the unit it falls to (services/duties
# refuses any other; tests/integration/test_duties.py).
UNIT_SCOPED = {("POST", "/duties/{occurrence_id}/done")}
NOTICE_SCOPED = {
    ("GET", "/notices/{notice_id}/file"), ("POST", "/notices/{notice_id}/ack"),
    ("GET", "/api/notices/{notice_id}/file"), ("POST", "/api/notices/{notice_id}/ack"),
    ("GET", "/notices/{notice_id}/list"), ("GET", "/api/notices/{notice_id}/list"),
}
# The phone app's households and visits: a village its own village, a town its own town's
# villages, county and supervisors any, offices none (test_field_routes_follow_the_scope).
FIELD_SCOPED = {
    ("GET", "/api/m/campaigns/{campaign_id}/villages/{village}"),
    ("GET", "/api/m/campaigns/{campaign_id}/households/{household_id}/history"),
    ("POST", "/api/m/campaigns/{campaign_id}/visits"),
}
# /imports/map: an importer (county, towns) maps values of its own kept upload (the token).
OWN_ONLY = {("GET", "/imports/errors/{token}"), ("POST", "/imports/map"), ("POST", "/logout"),
            ("POST", "/inbox/{message_id}/read"), ("POST", "/api/inbox/{message_id}/read")}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route (the static files mount aside)."""
    routes = route_table()
    # Each listed route is really served: a GET without a session never answers 404/405.
    client = TestClient(app)
    for method, path in routes:
        probe = path.replace("{", "").replace("}", "")
        answer = client.request(method, probe, follow_redirects=False).status_code
        assert answer not in (404, 405), (method, path, answer)
    return routes


def classified() -> set[tuple[str, str]]:
    return (PUBLIC | {("GET", p) for p in ANY_SIGNED_IN_GET | NOT_OFFICES_GET} | COUNTY_ONLY
            | COUNTY_AND_SUPERVISORS | COUNTY_AND_TOWNS
            | PROBLEM_SCOPED | NOTICE_SCOPED | UNIT_SCOPED | OWN_ONLY | FIELD_SCOPED)


def test_every_route_is_in_the_matrix(app: Any) -> None:
    routes = app_routes(app)
    missing = routes - classified()
    assert not missing, f"routes not classified in the access matrix: {sorted(missing)}"
    stale = classified() - routes
    assert not stale, f"matrix lists routes the app no longer has: {sorted(stale)}"


# ---- without a session ------------------------------------------------------------------


def _concrete(path: str, world: World) -> str:
    pid = next(iter(world.problems.values()))
    return (path.replace("{problem_id}", str(pid)).replace("{evidence_id}", "1")
            .replace("{notice_id}", "1").replace("{campaign_id}", str(world.campaign_id))
            .replace("{kind}", "households").replace("{substitute_id}", "1")
            .replace("{username}", "county").replace("{token}", "0" * 24)
            .replace("{message_id}", "1").replace("{check_id}", "1")
            .replace("{occurrence_id}", "1").replace("{village}", "huaidian-01")
            .replace("{household_id}", "HD0001")
            .replace("{draft_id}", "1").replace("{section_key}", "routing"))


def test_without_a_session_every_route_is_refused_and_shows_no_data(app: Any,
                                                                    world: World) -> None:
    client = TestClient(app)
    secret = world.problem("hd_housing").description
    before = fingerprint(world)
    for method, path in sorted(app_routes(app) - PUBLIC):
        url = _concrete(path, world)
        r = client.request(method, url, follow_redirects=False)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, url, r.status_code)
            assert r.json() == {"error": "未登录或会话已过期，请先登录"}
        else:
            assert r.status_code in (303, 403), (method, url, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/login")
        assert secret not in r.text
        assert "W00000" not in r.text, (method, url)
    assert fingerprint(world) == before


def test_a_forged_or_revoked_session_cookie_is_no_session(app: Any, world: World,
                                                          client_for: Clients) -> None:
    client, csrf = client_for("county")
    assert client.get("/api/me").status_code == 200
    stolen = client.cookies.get("duban_session")
    assert stolen
    forged = TestClient(app)
    forged.cookies.set("duban_session", stolen[:-3] + "abc")
    assert forged.get("/api/me").status_code == 401
    client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    replayed = TestClient(app)
    replayed.cookies.set("duban_session", stolen)
    assert replayed.get("/api/me").status_code == 401  # revoked on sign-out


# ---- reading by URL ---------------------------------------------------------------------


@pytest.mark.parametrize("username", ROLES)
def test_each_role_reads_exactly_its_scope(world: World, client_for: Clients,
                                           username: str) -> None:
    client, _ = client_for(username)
    allowed = world.visible[username]
    descriptions = {name: world.problem(name).description for name in world.problems}
    codes = {name: world.problem(name).code for name in world.problems}
    # The ledger (page, API, export) lists exactly the visible problems.
    listed = {p["id"] for p in client.get(
        f"/api/problems?campaign={world.campaign_id}").json()["items"]}
    assert listed == {world.problems[n] for n in allowed}
    ledger = client.get(f"/ledger?campaign={world.campaign_id}").text
    waiting = client.get(f"/waiting?campaign={world.campaign_id}").text
    api_waiting = client.get(f"/api/waiting?campaign={world.campaign_id}").json()
    assert {i["problem"]["id"] for i in api_waiting["items"]} == {
        world.problems[n] for n in allowed}
    export = client.get(f"/ledger.xlsx?campaign={world.campaign_id}")
    assert export.status_code == 200
    exported = _xlsx_text(export.content)
    for name in world.problems:
        pid = world.problems[name]
        page = client.get(f"/problems/{pid}")
        api = client.get(f"/api/problems/{pid}")
        if name in allowed:
            assert page.status_code == 200 and descriptions[name] in page.text
            assert api.status_code == 200 and api.json()["problem"]["code"] == codes[name]
            assert descriptions[name][:20] in ledger
            assert codes[name] in exported
        else:
            assert page.status_code == 404, (username, name)
            assert api.status_code == 404, (username, name)
            for text in (page.text, api.text, ledger, waiting, exported):
                assert descriptions[name] not in text, (username, name)
                assert codes[name] not in text, (username, name)
    # The dashboard counts only what the scope sees.
    board = client.get(f"/api/campaigns/{world.campaign_id}/dashboard").json()
    assert board["total"]["total"] == len(allowed)
    assert {t["code"] for t in board["towns"]} == {
        world.problem(n).town_code for n in allowed}


def _xlsx_text(data: bytes) -> str:
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(str(c) for row in wb.active.iter_rows(values_only=True) for c in row if c)


@pytest.mark.parametrize("username", ROLES)
def test_role_gated_pages(world: World, client_for: Clients, username: str) -> None:
    client, _ = client_for(username)
    cid = world.campaign_id
    for path in ANY_SIGNED_IN_GET:
        r = client.get(_concrete(path, world) + ("" if "?" in path else f"?campaign={cid}"))
        assert r.status_code == 200, (username, path, r.status_code, r.text[:200])
    for path in NOT_OFFICES_GET:
        r = client.get(f"{path}?campaign={cid}")
        assert r.status_code == (403 if USERS[username][0].value == "office" else 200), (
            username, path)
    people = client.get("/people")
    assert people.status_code == (200 if username == "county" else 403)
    amend = client.get(f"/campaigns/{cid}/amend")
    assert amend.status_code == (200 if username == "county" else 403), username
    holidays = client.get("/calendar")
    assert holidays.status_code == (200 if username == "county" else 403), username
    editor = client.get("/plans/drafts")
    assert editor.status_code == (200 if username == "county" else 403), username
    checks = client.get(f"/spotchecks?campaign={cid}")
    assert checks.status_code == (200 if username in ("county", "sup") else 403), username


# ---- changing by URL --------------------------------------------------------------------


@pytest.mark.parametrize("username", [u for u in ROLES if u not in ("county", "sup")])
def test_moves_on_problems_outside_the_scope_are_refused(world: World, client_for: Clients,
                                                         username: str) -> None:
    client, csrf = client_for(username)
    hidden = [n for n in world.problems if n not in world.visible[username]]
    assert hidden
    before = fingerprint(world)
    for name in hidden:
        pid = world.problems[name]
        for action in ("accept", "reassign", "void", "dispute"):
            r = client.post(f"/problems/{pid}/move", data={
                "csrf_token": csrf, "action": action, "note": "越权尝试", "office": "jyj"},
                follow_redirects=False)
            assert r.status_code == 404, (username, name, action, r.status_code)
            r = client.post(f"/api/problems/{pid}/moves", json={
                "action": action, "note": "越权尝试", "office": "jyj"},
                headers={"X-CSRF-Token": csrf})
            assert r.status_code == 404, (username, name, action)
        r = client.post(f"/api/problems/{pid}/evidence", files={"files": ("a.jpg", JPEG)},
                        data={"phase": "after"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 404, (username, name)
        # Bulk with a hidden problem's id: the hidden one is refused, nothing moves.
        r = client.post("/api/problems/bulk-moves", json={
            "ids": [pid], "action": "reassign", "office": "jyj", "note": "越权批量"},
            headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()[0]["ok"] is False
        r = client.post("/problems/bulk", data={"csrf_token": csrf, "id": str(pid),
                                                "action": "reassign", "office": "jyj",
                                                "note": "越权批量"}, follow_redirects=False)
        assert r.status_code in (400, 403)  # refused: the ledger again, or no bulk at all
    assert fingerprint(world) == before


@pytest.mark.parametrize("username", [u for u in ROLES if u != "county"])
def test_county_only_actions_are_refused_to_other_roles(world: World, client_for: Clients,
                                                        username: str) -> None:
    client, csrf = client_for(username)
    cid = world.campaign_id
    before = fingerprint(world)
    plan = (world_plan_text(),)
    attempts = [
        ("/campaigns", {"files": {"plan": ("p.yaml", plan[0].encode())}}),
        ("/api/campaigns", {"files": {"plan": ("p.yaml", plan[0].encode())}}),
        ("/notices/issue", {"data": {"campaign": str(cid), "batch_key": "abcd1234"}}),
        ("/people/substitutes", {"data": {"username": "off_jyj", "office": "zjj",
                                          "starts_on": "2022-09-26", "ends_on": "2022-10-10",
                                          "reason": "越权代理"}}),
        ("/people/substitutes/1/end", {"data": {}}),
        ("/people/reassign", {"data": {"campaign": str(cid), "from_office": "zjj",
                                       "to_office": "jyj", "note": "越权改派"}}),
        ("/people/users/county/active", {"data": {"active": "0"}}),
        ("/spotchecks/draw", {"data": {"campaign": str(cid)}}),
        (f"/campaigns/{cid}/amend", {"data": {"plan_text": plan[0]}}),
        (f"/campaigns/{cid}/amend/apply", {"data": {"plan_text": plan[0], "expect_version": "1",
                                                    "note": "越权修订"}}),
        ("/calendar", {"data": {"notice_text": notice_2025()}}),
        ("/calendar/save", {"data": {"notice_text": notice_2025()}}),
        ("/plans/drafts", {"data": {"origin": "blank", "title": "越权草稿"}}),
        ("/plans/drafts/1/sections/basics", {"data": {"f0.name": "越权", "expect_version": "1"}}),
        ("/plans/drafts/1/try", {"data": {"rows": "住房安全,入户排查"}}),
        ("/plans/drafts/1/launch", {"data": {"expect_version": "1"}}),
        ("/plans/drafts/1/amend", {"data": {}}),
        ("/plans/drafts/1/import-towns-from", {"data": {"campaign_id": str(cid),
                                                        "expect_version": "1"}}),
        ("/plans/drafts/1/import/offices", {"data": {"expect_version": "1"},
                                            "files": {"file": ("o.csv", "名称\n越权办\n".encode())}}),
    ]
    if USERS[username][0] is not Role.TOWN:
        attempts.append(("/imports", {"data": {"kind": "households", "campaign": str(cid)},
                                      "files": {"file": ("h.csv", "户编号\n".encode())}}))
        attempts.append(("/imports/map", {"data": {"kind": "problems", "campaign": str(cid),
                                                   "token": "0" * 24 + ".xlsx"}}))
    if username != "sup":
        attempts.append(("/spotchecks/1", {"data": {"campaign": str(cid), "result": "failed",
                                                     "note": "越权抽查"}}))
    for path, kwargs in attempts:
        data = dict(kwargs.get("data", {}))
        headers = {"X-CSRF-Token": csrf}
        r = client.post(path, data=data, files=kwargs.get("files"), headers=headers,
                        follow_redirects=False)
        assert r.status_code == 403, (username, path, r.status_code, r.text[:200])
    r = client.post("/api/notices/issue", json={"campaign": cid, "batch_key": "abcd1234"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403
    assert fingerprint(world) == before


def notice_2025() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[1] / "data" / "notices" / "2025.txt").read_text(
        encoding="utf-8")


def world_plan_text() -> str:
    from tests.conftest import PLANS

    return (PLANS / "seed-000-canggou-2020.yaml").read_text(encoding="utf-8")


# ---- form tampering ---------------------------------------------------------------------


def test_form_tampering_is_refused(world: World, client_for: Clients) -> None:
    """An office edits the hidden fields of a form it was given: each edit is refused."""
    client, csrf = client_for("off_zjj")
    pid = world.problems["hd_housing"]  # zjj's own problem, status 已交办
    page = client.get(f"/problems/{pid}").text
    assert csrf_of(page) == csrf
    assert 'value="accept"' in page and 'value="reassign"' not in page
    before = fingerprint(world)
    tampered = [
        {"action": "reassign", "office": "jyj", "note": "改成别人的"},  # a county move
        {"action": "void", "note": "自己核销"},  # a county move
        {"action": "close", "note": "直接销号"},  # not from 已交办
        {"action": "pass_review"},  # a reviewer's move
        {"action": "accept", "version": "999"},  # a stale / forged version
        {"action": "no-such-action"},
    ]
    for fields in tampered:
        r = client.post(f"/problems/{pid}/move", data={"csrf_token": csrf, **fields},
                        follow_redirects=False)
        if r.status_code == 303:  # an unknown action: back to the page with the reason
            r = client.get(r.headers["location"])
        else:  # refused: the page again, the form as it was sent
            assert r.status_code in (400, 403, 409), (fields, r.status_code)
        assert "flash-error" in r.text, fields
    # Another office's code in the API body does not widen the scope either.
    r = client.post(f"/api/problems/{world.problems['lz_education']}/moves",
                    json={"action": "accept"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 404
    # Evidence named by a hash this problem does not have.
    r = client.post(f"/api/problems/{pid}/moves", json={
        "action": "submit", "note": "假佐证", "evidence": ["ab" * 32]},
        headers={"X-CSRF-Token": csrf})
    assert r.status_code == 404
    assert fingerprint(world) == before
    # The untampered form works, and is audited with its user.
    r = client.post(f"/problems/{pid}/move", data={"csrf_token": csrf, "action": "accept",
                                                   "version": str(world.problem(
                                                       "hd_housing").version)},
                    follow_redirects=False)
    assert r.status_code == 303
    assert world.problem("hd_housing").status == "rectifying"
    with world.db.transaction() as s:
        last = s.scalars(select(AuditEvent).where(AuditEvent.problem_id == pid)
                         .order_by(AuditEvent.id.desc())).first()
        assert last is not None and (last.action, last.actor) == ("accept", "off_zjj")


def test_a_village_and_a_town_cannot_move_even_their_own_problems(world: World,
                                                                  client_for: Clients) -> None:
    for username in ("vil_hd1", "town_hd"):
        client, csrf = client_for(username)
        pid = world.problems["hd_housing"]
        page = client.get(f"/problems/{pid}")
        assert page.status_code == 200 and 'name="action"' not in page.text
        before = fingerprint(world)
        r = client.post(f"/api/problems/{pid}/moves", json={"action": "accept"},
                        headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403, r.text
        assert fingerprint(world) == before


# ---- replays without the CSRF token -----------------------------------------------------


def test_every_post_without_a_csrf_token_is_refused(app: Any, world: World,
                                                    client_for: Clients) -> None:
    client, _ = client_for("county")
    _other, other_csrf = client_for("sup")
    before = fingerprint(world)
    posts = sorted(p for m, p in app_routes(app) if m == "POST" and p != "/login")
    assert len(posts) >= 15
    for path in posts:
        url = _concrete(path, world)
        for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": other_csrf}):
            r = client.post(url, data={"action": "accept", "note": "重放"}, headers=headers,
                            follow_redirects=False)
            assert r.status_code == 403, (path, headers, r.status_code)
        r = client.post(url, data={"csrf_token": other_csrf, "action": "accept"},
                        follow_redirects=False)
        assert r.status_code == 403, path
    assert fingerprint(world) == before
    assert client.get("/api/me").status_code == 200  # the session itself is intact


def test_sign_in_needs_its_csrf_token(app: Any, world: World) -> None:
    client = TestClient(app)
    client.get("/login")
    r = client.post("/login", data={"username": "county", "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 403
    assert "duban_session" not in client.cookies


# ---- notices ----------------------------------------------------------------------------


def test_notices_are_read_and_signed_only_by_their_addressees(
        world: World, client_for: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every notice of more than one problem gets its full list as a spreadsheet, read as it is.
    monkeypatch.setenv("DUBAN_NOTICE_INLINE_LIMIT", "1")
    issued = world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                           batch_key="matrix")
    listed_apart = {n.id for n in issued if n.list_path}
    assert listed_apart and listed_apart == {n.id for n in issued if len(n.problem_ids) > 1}
    by_office = {n.office_code: n.id for n in issued}
    # Seed 002 gives each town (各乡镇 co-office) a notice of its own: its town reads it too.
    assert set(by_office) == {"zjj", "jyj", "gov-huaidian", "gov-liuzhuangdian"}
    readers = {"zjj": {"county", "sup", "off_zjj"}, "jyj": {"county", "sup", "off_jyj"},
               "gov-huaidian": {"county", "sup", "off_gov_hd", "town_hd"},
               "gov-liuzhuangdian": {"county", "sup", "town_lz"}}
    addressee = {"zjj": "off_zjj", "jyj": "off_jyj", "gov-huaidian": "off_gov_hd"}
    county, _ = client_for("county")
    page = county.get(f"/notices?campaign={world.campaign_id}").text
    for n in issued:  # the page offers the spreadsheet beside the .docx, where there is one
        assert (f'href="/notices/{n.id}/list"' in page) == (n.id in listed_apart)
    assert {n["id"] for n in county.get(f"/api/notices?campaign={world.campaign_id}").json()
            if n["has_list"]} == listed_apart
    for username in ROLES:
        client, csrf = client_for(username)
        listed = {n["id"] for n in client.get(
            f"/api/notices?campaign={world.campaign_id}").json()}
        assert listed == {nid for office, nid in by_office.items()
                          if username in readers[office]}, username
        for office, nid in by_office.items():
            may_read = username in readers[office]
            assert client.get(f"/notices/{nid}/file").status_code == (200 if may_read
                                                                       else 404)
            assert client.get(f"/api/notices/{nid}/file").status_code == (200 if may_read
                                                                           else 404)
            for prefix in ("", "/api"):
                assert client.get(f"{prefix}/notices/{nid}/list").status_code == (
                    200 if may_read and nid in listed_apart else 404)
            if username == addressee.get(office):
                continue  # the addressee signs (below for 住建局)
            before = fingerprint(world)
            r = client.post(f"/notices/{nid}/ack", data={"csrf_token": csrf, "accept": "1"},
                            follow_redirects=False)
            assert r.status_code == (403 if may_read else 404), (username, office)
            r = client.post(f"/api/notices/{nid}/ack", headers={"X-CSRF-Token": csrf})
            assert r.status_code == (403 if may_read else 404), (username, office)
            assert fingerprint(world) == before
    client, csrf = client_for("off_zjj")
    r = client.post(f"/notices/{by_office['zjj']}/ack", data={"csrf_token": csrf,
                                                               "accept": "1"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert world.problem("hd_housing").status == "rectifying"
    assert world.problem("lz_housing").status == "rectifying"
    assert world.problem("lz_education").status == "routed"


def test_inbox_messages_reach_their_office_only(world: World, client_for: Clients) -> None:
    world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                  batch_key="inbox")
    with world.db.transaction() as s:
        by_office = {m.office_code: m.id for m in s.query(InboxMessage)}
    assert {"zjj", "jyj"} <= set(by_office)
    cid = world.campaign_id
    for username in ROLES:
        client, csrf = client_for(username)
        listed = {m["office_code"] for m in client.get(f"/api/inbox?campaign={cid}").json()}
        role, office, town, _, _ = USERS[username]
        # A town reads its town government's mail (seed 002 notifies towns as co-offices).
        own = {o for o in by_office if o == office
               or (role is Role.TOWN and o == f"gov-{town}")}
        assert listed == own, username
        assert client.get(f"/inbox?campaign={cid}").status_code == 200
        for office, mid in by_office.items():
            if office in own:
                continue
            before = fingerprint(world)
            r = client.post(f"/inbox/{mid}/read", data={"csrf_token": csrf,
                                                        "campaign": str(cid)},
                            follow_redirects=False)
            assert r.status_code == 404, (username, office)
            assert client.post(f"/api/inbox/{mid}/read?campaign={cid}",
                               headers={"X-CSRF-Token": csrf}).status_code == 404
            assert fingerprint(world) == before
    client, csrf = client_for("off_zjj")
    r = client.post(f"/inbox/{by_office['zjj']}/read", data={"csrf_token": csrf,
                                                              "campaign": str(cid)},
                    follow_redirects=False)
    assert r.status_code == 303
    with world.db.transaction() as s:
        message = s.get(InboxMessage, by_office["zjj"])
        assert message is not None and message.read_by == "off_zjj"


# ---- imports by a town --------------------------------------------------------------------


def _ledger_csv(*towns: str) -> bytes:
    lines = [",".join(PROBLEM_COLUMNS)]
    for i, town in enumerate(towns):
        lines.append(",".join(["household", "housing", town, "", "", f"房屋漏雨第{i}处",
                               "王村干", "2022-09-20", "", ""]))
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_a_town_imports_its_own_rows_and_no_other_towns(world: World,
                                                       client_for: Clients) -> None:
    client, csrf = client_for("town_hd")
    cid = world.campaign_id
    page = client.get(f"/imports?campaign={cid}").text
    assert 'action="/imports"' in page and "只能导入本乡镇" in page
    before = fingerprint(world)
    r = client.post("/imports", data={"csrf_token": csrf, "kind": "problems",
                                      "campaign": str(cid)},
                    files={"file": ("台账.csv", _ledger_csv("槐店回族镇", "刘庄店镇", "huaidian"))})
    assert r.status_code == 422
    cells = re.findall(r'<td data-label="[^"]+"[^>]*>([^<]*)</td>', r.text)
    assert cells[:2] == ["3", "乡镇"] and len(cells) == 4  # only the other town's line
    assert "不在本账号可导入的范围" in cells[3] and "刘庄店镇" in cells[3]
    assert fingerprint(world) == before  # nothing written
    r = client.post("/imports", data={"csrf_token": csrf, "kind": "problems",
                                      "campaign": str(cid)},
                    files={"file": ("台账.csv", _ledger_csv("槐店回族镇", "huaidian"))})
    assert r.status_code == 200 and "导入完成" in r.text
    with world.db.transaction() as s:
        towns = s.scalars(select(Problem.town_code).where(Problem.campaign_id == cid)).all()
    assert sorted(towns) == ["huaidian", "huaidian", "huaidian", "liuzhuangdian",
                             "liuzhuangdian"]



# ---- the phone app (issue 18) -------------------------------------------------------------

# Which villages each role may download and visit in the web world (one household in each).
FIELD_REACH = {
    "county": {"huaidian-01", "liuzhuangdian-01"}, "sup": {"huaidian-01", "liuzhuangdian-01"},
    "town_hd": {"huaidian-01"}, "town_lz": {"liuzhuangdian-01"},
    "off_zjj": set(), "off_jyj": set(), "off_gov_hd": set(), "vil_hd1": {"huaidian-01"},
}
FIELD_HOUSEHOLDS = {"huaidian-01": ("huaidian", "HD0001"),
                    "liuzhuangdian-01": ("liuzhuangdian", "LZ0001")}


@pytest.mark.parametrize("username", ROLES)
def test_field_routes_follow_the_scope(world: World, client_for: Clients,
                                       username: str) -> None:
    import datetime as dt
    import json

    from duban.domain.clock import CHINA_TZ
    from duban.domain.household import HouseholdCategory, HouseholdFacts
    from duban.services.intake import write_households

    rows = [HouseholdFacts(hid, town, village, "户主", 3, HouseholdCategory.LIFTED, None, 9000,
                           "A", True, 0, 0, True, True)
            for village, (town, hid) in FIELD_HOUSEHOLDS.items()]
    world.db.run(lambda uow: write_households(uow.session, world.campaign_id, rows))
    when = dt.datetime(2022, 9, 20, 10, tzinfo=CHINA_TZ)
    world.clock.set(when)
    client, csrf = client_for(username)
    cid = world.campaign_id
    reach = FIELD_REACH[username]
    assert client.get("/m/").status_code == 200
    setup = client.get(f"/api/m/campaigns/{cid}/setup").json()
    listed = {v["code"] for v in setup["villages"]}
    assert listed & set(FIELD_HOUSEHOLDS) == reach
    assert listed <= {v["code"] for v in client_for("county")[0].get(
        f"/api/m/campaigns/{cid}/setup").json()["villages"]}
    for village, (_, hid) in FIELD_HOUSEHOLDS.items():
        down = client.get(f"/api/m/campaigns/{cid}/villages/{village}")
        history = client.get(f"/api/m/campaigns/{cid}/households/{hid}/history")
        if village in reach:
            assert down.status_code == 200 and down.json()["households"][0]["id"] == hid
            assert history.status_code == 200
        else:
            assert down.status_code == 404 and hid not in down.text
            assert history.status_code == 404
        before = fingerprint(world)
        visit = {"client_id": f"{username}-{hid}-visit", "household_id": hid, "mode": "面访",
                 "recorded_at": when.isoformat(), "facts": {},
                 "files": [{"client_id": f"{username}-{hid}-sign", "kind": "visitor_signature"}]}
        r = client.post(f"/api/m/campaigns/{cid}/visits",
                        data={"visit": json.dumps(visit), "sent_at": when.isoformat()},
                        files=[("file", (f"{username}-{hid}-sign",
                                         b"\x89PNG\r\n\x1a\n" + b"\x00" * 64))],
                        headers={"X-CSRF-Token": csrf})
        if username.startswith("off_"):
            assert r.status_code == 403  # offices record no visits
        elif village in reach:
            assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
            continue
        else:
            assert r.status_code == 200 and r.json()["status"] == "refused"
            assert "不在您负责的村" in r.json()["reason"]
        assert fingerprint(world) == before
