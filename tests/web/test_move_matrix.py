"""Every move × every role: the web page, the JSON API and the CLI offer and refuse the same
moves, because they all ask the domain (`lifecycle.offered`) and move through
`services.moves`. One user holds two roles (an office clerk on a supervision group), and
separation of duties refuses them a second signature on every edge.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from duban.adapters.plan.codec import encode_plan
from duban.cli import cli
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, Payload, Role, Status
from duban.services import moves
from duban.services.actors import add_user
from duban.services.campaigns import load_plan_of
from duban.services.evidence import UPLOAD_ACTION, store_evidence
from duban.services.problems import record_problems
from models import AuditEvent, Campaign, Evidence, PlanVersion, Problem, ProblemCoOffice
from tests.support import JPEG, JPEG_SHA, photo
from tests.web.conftest import USERS, World, password_hash

Clients = Callable[[str], tuple[TestClient, str]]
EDGES = ("web", "api", "cli")
TWO_HATS = "hats"  # 住建局 clerk who also sits on a supervision group
LATER = "2022-12-30"

# Who may make each move on a huaidian housing problem routed to 住建局 (zjj), written out
# here rather than read from the table, so the table is checked against it.
MAY: dict[Action, set[str]] = {
    Action.ROUTE: {"county"},
    Action.VOID: {"county"},
    Action.ACCEPT: {"off_zjj", TWO_HATS},
    Action.DISPUTE: {"off_zjj", TWO_HATS},
    Action.REASSIGN: {"county"},
    Action.REJECT_DISPUTE: {"county"},
    Action.REQUEST_EXTENSION: {"off_zjj", TWO_HATS},
    Action.APPROVE_EXTENSION: {"county"},
    Action.REJECT_EXTENSION: {"county"},
    Action.SUBMIT: {"off_zjj", TWO_HATS},
    Action.PASS_REVIEW: {"county", "sup", TWO_HATS},
    Action.FAIL_REVIEW: {"county", "sup", TWO_HATS},
    Action.CLOSE: {"county"},
    Action.REOPEN: {"county", "sup", TWO_HATS},
}
# The status each move is tried from.
SOURCE: dict[Action, Status] = {
    Action.ROUTE: Status.UNROUTED, Action.VOID: Status.ROUTED, Action.ACCEPT: Status.ROUTED,
    Action.DISPUTE: Status.ROUTED, Action.REASSIGN: Status.ROUTED,
    Action.REJECT_DISPUTE: Status.DISPUTED, Action.REQUEST_EXTENSION: Status.RECTIFYING,
    Action.APPROVE_EXTENSION: Status.EXTENSION_REQUESTED,
    Action.REJECT_EXTENSION: Status.EXTENSION_REQUESTED, Action.SUBMIT: Status.RECTIFYING,
    Action.PASS_REVIEW: Status.SUBMITTED, Action.FAIL_REVIEW: Status.SUBMITTED,
    Action.CLOSE: Status.REVIEWED, Action.REOPEN: Status.CLOSED,
}
# Everything each move needs, so a refusal is about who, never about what was sent.
# Failed reviews and reopens send no date: every edge must give the plan's default.
FIELDS: dict[Action, dict[str, str]] = {
    Action.ROUTE: {"office": "zjj"},
    Action.REASSIGN: {"office": "jyj"},
    Action.REQUEST_EXTENSION: {"deadline": LATER},
}
ROLES = [u for u in USERS if u != "town_lz"] + [TWO_HATS]  # town_lz never sees huaidian


class Ledger:
    """Problems of the world brought to a status, and the three edges to act on them."""

    def __init__(self, world: World, client_for: Clients) -> None:
        self.world, self.db, self.clock = world, world.db, world.clock
        self.clients: dict[str, tuple[TestClient, str]] = {}
        self.client_for = client_for
        self.runner = CliRunner()
        self.seq = 0

    def client(self, user: str) -> tuple[TestClient, str]:
        if user not in self.clients:
            self.clients[user] = self.client_for(user)
        return self.clients[user]

    def problem(self, status: Status) -> int:
        """A fresh huaidian housing problem (lead office zjj) moved to `status`."""
        self.seq += 1
        report = ReportedProblem(source="household", category="housing", town="huaidian",
                                 village="huaidian-01", household_id=None,
                                 description=f"矩阵测试问题 {self.seq}", found_by="王村干",
                                 found_on=dt.date(2022, 9, 20))
        result = self.db.run(record_problems, self.clock, self.world.campaign_id, [report],
                                 recorded_by="county")
        pid = result.problem_ids[0]
        self.db.run(store_evidence, self.clock, pid, [photo()], "county")  # any edge may name it
        if status == Status.UNROUTED:
            # Seed 002 routes every category (its last rule catches all): undo the routing
            # as if the plan had had no rule for it.
            with self.db.transaction() as s:
                s.execute(update(Problem).where(Problem.id == pid).values(
                    status=Status.UNROUTED.value, lead_office=None, routed_at=None,
                    deadline=None, deadline_basis=None, unrouted_reason="路由表无匹配规则"))
                s.execute(delete(ProblemCoOffice).where(ProblemCoOffice.problem_id == pid))
        steps: dict[Status, list[tuple[str, Action, Payload, bool]]] = {
            Status.UNROUTED: [], Status.ROUTED: [],
            Status.DISPUTED: [("off_zjj", Action.DISPUTE, Payload(note="不属本局职责"), False)],
            Status.RECTIFYING: [("off_zjj", Action.ACCEPT, Payload(), False)],
        }
        steps[Status.EXTENSION_REQUESTED] = [*steps[Status.RECTIFYING], (
            "off_zjj", Action.REQUEST_EXTENSION,
            Payload(note="建材未到", deadline=dt.date.fromisoformat(LATER)), False)]
        steps[Status.SUBMITTED] = [*steps[Status.RECTIFYING],
                                   ("off_zjj", Action.SUBMIT, Payload(note="已整改"), True)]
        steps[Status.REVIEWED] = [*steps[Status.SUBMITTED],
                                  ("sup", Action.PASS_REVIEW, Payload(), False)]
        steps[Status.CLOSED] = [*steps[Status.REVIEWED], ("county", Action.CLOSE, Payload(), False)]
        for user, action, payload, files in steps[status]:
            self.db.run(moves.apply, self.clock, user, pid, action, payload,
                        files=[photo()] if files else ())
        assert self.status(pid) == status
        return pid

    def status(self, pid: int) -> Status:
        with self.db.transaction() as s:
            return Status(s.scalar(select(Problem.status).where(Problem.id == pid)))

    def row(self, pid: int) -> Problem:
        with self.db.transaction() as s:
            p = s.get(Problem, pid)
            assert p is not None
            return p

    def last_role(self, pid: int) -> str | None:
        """The role the problem's latest audited move was made in."""
        with self.db.transaction() as s:
            return s.scalars(select(AuditEvent.actor_role).where(
                AuditEvent.problem_id == pid, AuditEvent.action != UPLOAD_ACTION)
                .order_by(AuditEvent.id.desc())).first()

    def cli(self, *args: str) -> tuple[int, str]:
        # The command runs in-process on the test's database (obj), inside its transaction.
        result = self.runner.invoke(cli, ["--now", "2022-09-26T09:00", *args], obj=self.db,
                                    standalone_mode=False, catch_exceptions=True)
        out = result.output + (str(getattr(result.exception, "message", result.exception))
                               if result.exception else "")
        return (1 if result.exception else 0), out

    # ---- what each edge offers ----------------------------------------------------------

    def offered(self, edge: str, user: str, pid: int) -> set[str]:
        if edge in ("web", "api"):
            client, _ = self.client(user)
            r = client.get(f"/problems/{pid}" if edge == "web" else f"/api/problems/{pid}")
            if r.status_code == 404:
                return set()
            assert r.status_code == 200, r.text[:300]
            if edge == "api":
                return set(r.json()["allowed_actions"])
            return set(re.findall(
                rf'action="/problems/{pid}/move".*?name="action" value="(\w+)"', r.text,
                flags=re.DOTALL))
        rc, out = self.cli("problem", "moves", str(pid), "--as", user)
        assert rc == 0, out
        return {a.value for a in Action if re.search(rf"\b{a.value}\b", out)}

    # ---- making the move ------------------------------------------------------------------

    def move(self, edge: str, user: str, pid: int, action: Action) -> tuple[bool, str]:
        fields = {"note": "矩阵测试说明", **FIELDS.get(action, {})}
        version = self.row(pid).version
        if edge == "web":
            client, csrf = self.client(user)
            files = {"after": ("整改后.jpg", JPEG, "image/jpeg")} if action == Action.SUBMIT else None
            r = client.post(f"/problems/{pid}/move", data={
                "csrf_token": csrf, "action": action.value, "version": str(version), **fields},
                files=files, follow_redirects=False)
            if r.status_code == 404:
                return False, "404"
            if r.status_code in (400, 403, 409):  # refused: the page again with its reason
                assert "flash-error" in r.text, r.text[:300]
                return False, r.text
            assert r.status_code == 303, r.text[:300]
            page = client.get(r.headers["location"]).text
            return "flash-error" not in page, page
        if edge == "api":
            client, csrf = self.client(user)
            body: dict[str, Any] = {"action": action.value, "expected_version": version, **fields}
            if action == Action.SUBMIT:
                body["evidence"] = [JPEG_SHA]
            r = client.post(f"/api/problems/{pid}/moves", json=body,
                            headers={"X-CSRF-Token": csrf})
            return r.status_code == 200, r.text
        args = ["problem", "move", str(pid), action.value, "--as", user,
                "--expect-version", str(version), "--note", fields["note"]]
        if "office" in fields:
            args += ["--office", fields["office"]]
        if "deadline" in fields:
            args += ["--deadline", fields["deadline"]]
        if action == Action.SUBMIT:
            args += ["--evidence", JPEG_SHA]
        rc, out = self.cli(*args)
        return rc == 0, out


def fingerprint(world: World) -> tuple[Any, ...]:
    """What a refused move must leave alone."""
    with world.db.transaction() as s:
        rows = tuple(s.execute(select(
            Problem.id, Problem.status, Problem.version, Problem.lead_office, Problem.deadline,
            Problem.submitted_by, Problem.review_passed_by).order_by(Problem.id)).all())
        counts = tuple(int(s.scalar(select(func.count()).select_from(m)) or 0)
                       for m in (AuditEvent, Evidence))
    return rows, counts


@pytest.fixture
def ledger(world: World, client_for: Clients) -> Ledger:
    """The world with the two-role user added."""
    world.db.run(add_user, world.clock, username=TWO_HATS, name="张兼任", role=Role.OFFICE,
             office="zjj", extra_roles=[Role.SUPERVISOR], password_hash=password_hash())
    return Ledger(world, client_for)


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_web_api_and_cli_offer_and_refuse_the_same_moves(ledger: Ledger, action: Action) -> None:
    source = SOURCE[action]
    shared = ledger.problem(source)
    for user in ROLES:
        offers = {edge: ledger.offered(edge, user, shared) for edge in EDGES}
        assert offers["web"] == offers["api"] == offers["cli"], (user, offers)
        assert (action.value in offers["web"]) == (user in MAY[action]), (user, offers)
    # Refused: on every edge, with nothing written.
    before = fingerprint(ledger.world)
    for user in ROLES:
        if user in MAY[action]:
            continue
        for edge in EDGES:
            ok, answer = ledger.move(edge, user, shared, action)
            assert not ok, (user, edge, answer[:300])
            assert fingerprint(ledger.world) == before, (user, edge)
    # Allowed: on every edge, each on a problem of its own, with the same result.
    for user in sorted(MAY[action]):
        results = []
        for edge in EDGES:
            pid = ledger.problem(source)
            ok, answer = ledger.move(edge, user, pid, action)
            assert ok, (user, edge, answer[:500])
            p = ledger.row(pid)
            results.append((p.status, p.lead_office, p.deadline, p.deadline_basis,
                            p.submitted_by, p.review_passed_by, p.reopen_count))
            with ledger.db.transaction() as s:
                event = s.scalars(select(AuditEvent).where(
                    AuditEvent.problem_id == pid, AuditEvent.action != UPLOAD_ACTION)
                    .order_by(AuditEvent.id.desc())).first()
            assert event is not None and event.action == action.value and event.actor == user
        assert results[0] == results[1] == results[2], (user, results)


@pytest.mark.parametrize("action", [Action.FAIL_REVIEW, Action.REOPEN], ids=lambda a: a.value)
def test_a_move_without_a_date_gets_the_plans_default_on_every_edge(ledger: Ledger,
                                                                   action: Action) -> None:
    # Five working days from Mon 2022-09-26: 27-30 Sep, then 国庆 off and Sat 8 Oct worked.
    expected = dt.date(2022, 10, 8)
    with ledger.db.transaction() as s:
        days = load_plan_of(s, ledger.world.campaign_id).review.rectify_days_after_failed_review
    assert days == 5
    for edge in EDGES:
        pid = ledger.problem(SOURCE[action])
        ok, answer = ledger.move(edge, "sup", pid, action)
        assert ok, (edge, answer[:300])
        p = ledger.row(pid)
        assert (p.status, p.deadline) == (Status.RECTIFYING, expected), edge
    # The web form shows the default beside the optional field, the API lists it.
    pid = ledger.problem(SOURCE[action])
    client, _ = ledger.client("sup")
    page = client.get(f"/problems/{pid}").text
    assert "不填则为 2022年10月8日" in page
    assert client.get(f"/api/problems/{pid}").json()["default_deadlines"] == {
        action.value: "2022-10-08"}
    rc, out = ledger.cli("problem", "moves", str(pid), "--as", "sup")
    assert rc == 0 and "时限为 2022-10-08" in out, out
    # A date before today is refused on every edge.
    for edge in EDGES:
        before = fingerprint(ledger.world)
        if edge == "web":
            c, csrf = ledger.client("sup")
            r = c.post(f"/problems/{pid}/move", data={
                "csrf_token": csrf, "action": action.value, "note": "不合格",
                "deadline": "2022-09-01"}, follow_redirects=False)
            assert r.status_code in (400, 403), r.status_code  # the page again
            answer = r.text
        elif edge == "api":
            c, csrf = ledger.client("sup")
            answer = c.post(f"/api/problems/{pid}/moves", json={
                "action": action.value, "note": "不合格", "deadline": "2022-09-01"},
                headers={"X-CSRF-Token": csrf}).text
        else:
            _, answer = ledger.cli("problem", "move", str(pid), action.value, "--as", "sup",
                                   "--note", "不合格", "--deadline", "2022-09-01")
        assert "不能早于今天" in answer, (edge, answer[:300])
        assert fingerprint(ledger.world) == before


# ---- separation of duties, one user holding two roles ------------------------------------


def test_the_two_role_user_may_not_review_their_own_rectification(ledger: Ledger) -> None:
    pid = ledger.problem(Status.RECTIFYING)
    ok, answer = ledger.move("api", TWO_HATS, pid, Action.SUBMIT)
    assert ok, answer
    assert ledger.last_role(pid) == Role.OFFICE.value  # acted as the office
    for edge in EDGES:
        assert ledger.offered(edge, TWO_HATS, pid) == set(), edge
    before = fingerprint(ledger.world)
    for action in (Action.PASS_REVIEW, Action.FAIL_REVIEW):
        for edge in EDGES:
            ok, answer = ledger.move(edge, TWO_HATS, pid, action)
            assert not ok, (edge, answer[:300])
            assert "复核人不能是整改提交人" in answer and "张兼任（责任办室、督查组）" in answer, edge
    assert fingerprint(ledger.world) == before
    # Someone else reviews; the two-role user, a supervisor too, reviews another's work.
    ok, _ = ledger.move("api", "sup", pid, Action.PASS_REVIEW)
    assert ok
    other = ledger.problem(Status.SUBMITTED)
    ok, answer = ledger.move("cli", TWO_HATS, other, Action.PASS_REVIEW)
    assert ok, answer
    assert ledger.last_role(other) == Role.SUPERVISOR.value


def test_with_three_signatures_the_reviewer_may_not_close_alone(ledger: Ledger) -> None:
    world = ledger.world
    world.db.run(add_user, world.clock, username="county_sup", name="王兼督查", role=Role.COUNTY,
             office="ggb", extra_roles=[Role.SUPERVISOR], password_hash=password_hash())
    with world.db.transaction() as s:  # a new plan version in force asks for three signatures
        campaign = s.get(Campaign, world.campaign_id)
        assert campaign is not None
        plan = load_plan_of(s, campaign.id)
        three = replace(plan, review=replace(plan.review, three_signatures=True))
        s.add(PlanVersion(campaign_id=campaign.id, version=campaign.plan_version + 1,
                          plan=encode_plan(three), source="", created_at=world.clock.now(),
                          created_by="county", note="三方分别签字"))
        campaign.plan_version += 1
    for edge in EDGES:
        pid = ledger.problem(Status.SUBMITTED)
        ok, answer = ledger.move(edge, "county_sup", pid, Action.PASS_REVIEW)
        assert ok, (edge, answer[:300])
        assert ledger.offered(edge, "county_sup", pid) == set(), edge
        assert ledger.offered(edge, "county", pid) == {Action.CLOSE.value}, edge
        before = fingerprint(world)
        ok, answer = ledger.move(edge, "county_sup", pid, Action.CLOSE)
        assert not ok and "三方分别签字" in answer and "王兼督查（县级办公室、督查组）" in answer, edge
        assert fingerprint(world) == before
        ok, answer = ledger.move(edge, "county", pid, Action.CLOSE)
        assert ok, (edge, answer[:300])
    # Pass and close at once (review pass --close) is refused as a whole.
    pid = ledger.problem(Status.SUBMITTED)
    rc, out = ledger.cli("review", "pass", str(pid), "--as", "county", "--close")
    assert rc == 1 and "三方分别签字" in out, out
    assert ledger.status(pid) == Status.SUBMITTED
