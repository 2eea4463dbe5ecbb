"""Separation of duties when roles overlap, and campaign walls when codes are shared.

- One account holding the office role (住建局) and the county role (兼任) rectifies a problem:
  it can neither review nor close what it fixed, on the service and on the web.
- An account of campaign B whose office code (zjj) is campaign A's too cannot read, move,
  upload to or count campaign A's problems through that code, nor A's account B's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from duban.adapters.plan.yaml_file import load_plan_text
from duban.domain.errors import DubanError
from duban.domain.lifecycle import Action, Payload, Role
from duban.services import moves
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.problems import record_problems
from tests.support import photo, with_seed_004_quota
from tests.web.conftest import World, password_hash
from tests.web.test_access_matrix import JPEG, fingerprint
from tests.web.test_scope_counts import SEED, _report

Clients = Callable[[str], tuple[TestClient, str]]


def test_an_office_and_county_account_cannot_review_or_close_what_it_fixed(
        world: World, client_for: Clients) -> None:
    db, clock = world.db, world.clock
    db.run(add_user, clock, username="dual", name="住建局兼县办老周", role=Role.OFFICE,
           office="zjj", extra_roles=[Role.COUNTY], password_hash=password_hash())
    pid = world.problems["hd_housing"]
    db.run(moves.apply, clock, "dual", pid, Action.ACCEPT, Payload())
    db.run(moves.apply, clock, "dual", pid, Action.SUBMIT, Payload(note="已整改"),
           files=[photo()])
    with pytest.raises(DubanError):
        db.run(moves.apply, clock, "dual", pid, Action.PASS_REVIEW, Payload())
    db.run(moves.apply, clock, "sup", pid, Action.PASS_REVIEW, Payload())
    before = fingerprint(world)
    with pytest.raises(DubanError, match="整改"):
        db.run(moves.apply, clock, "dual", pid, Action.CLOSE, Payload())
    client, csrf = client_for("dual")
    page = client.get(f"/problems/{pid}").text
    assert 'value="close"' not in page
    r = client.post(f"/api/problems/{pid}/moves", json={"action": "close"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code in (403, 409), r.text
    assert fingerprint(world) == before
    assert world.problem("hd_housing").status == "reviewed"
    db.run(moves.apply, clock, "county", pid, Action.CLOSE, Payload())  # someone else may
    assert world.problem("hd_housing").status == "closed"


def test_a_shared_office_code_opens_no_door_between_campaigns(world: World,
                                                              client_for: Clients) -> None:
    db, clock = world.db, world.clock
    text = with_seed_004_quota(SEED.read_text(encoding="utf-8"))
    plan = dataclasses.replace(load_plan_text(text, base_dir=SEED.parent), name="第二项行动")
    b = db.run(launch_campaign, clock, plan, text, "county")
    db.run(add_user, clock, username="b_off_zjj", name="二号行动住建局", role=Role.OFFICE,
           office="zjj", campaign_id=b, password_hash=password_hash())
    (in_b,) = db.run(record_problems, clock, b, [
        _report("huaidian", "huaidian-01", "housing", "乙行动危房")], recorded_by="county"
    ).problem_ids
    in_a = world.problems["hd_housing"]  # led by zjj in campaign A
    for user, foreign, own in (("b_off_zjj", in_a, in_b), ("off_zjj", in_b, in_a)):
        client, csrf = client_for(user)
        before = fingerprint(world)
        assert client.get(f"/problems/{foreign}").status_code == 404
        assert client.get(f"/api/problems/{foreign}").status_code == 404
        for action in ("accept", "dispute", "request_extension"):
            r = client.post(f"/api/problems/{foreign}/moves",
                            json={"action": action, "note": "跨行动", "deadline": "2022-12-01"},
                            headers={"X-CSRF-Token": csrf})
            assert r.status_code == 404, (user, action, r.text)
        r = client.post(f"/api/problems/{foreign}/evidence", files={"files": ("a.jpg", JPEG)},
                        data={"phase": "after"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 404
        r = client.post("/api/problems/bulk-moves", json={"ids": [foreign], "action": "accept"},
                        headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()[0]["ok"] is False
        with pytest.raises(DubanError):
            db.run(moves.apply, clock, user, foreign, Action.ACCEPT, Payload())
        assert fingerprint(world) == before
        # Its own campaign's problem, with the same code, is its to move.
        r = client.post(f"/api/problems/{own}/moves", json={"action": "accept"},
                        headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200, (user, r.text)
