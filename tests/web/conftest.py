"""A small world for the web tests: seed 002 launched, one user per role, three problems in two
towns routed to two offices, and a signed-in TestClient per user."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache

import pytest
from fastapi.testclient import TestClient

from duban.adapters.plan.yaml_file import load_plan_text
from duban.domain.clock import FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, Payload, Role
from duban.services import moves
from duban.services.accounts import hash_password
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.problems import record_problems
from duban.services.root import Root
from duban.web.app import create_app
from models import Problem
from tests.conftest import PLANS
from tests.support import photo, with_seed_004_quota

PASSWORD = "Duban-test-2022"
SECRET = "test-secret-key-for-web-tests-only"


@cache
def password_hash() -> str:
    """One Argon2 hash for every test user (hashing is slow on purpose)."""
    return hash_password(PASSWORD)


# username -> (role, office, town, village, display name)
USERS: dict[str, tuple[Role, str | None, str | None, str | None, str]] = {
    "county": (Role.COUNTY, "ggb", None, None, "王主任"),
    "sup": (Role.SUPERVISOR, None, None, None, "李督查"),
    "town_hd": (Role.TOWN, None, "huaidian", None, "槐店镇张镇长"),
    "town_lz": (Role.TOWN, None, "liuzhuangdian", None, "刘庄店镇赵镇长"),
    "off_zjj": (Role.OFFICE, "zjj", None, None, "住建局刘科长"),
    "off_jyj": (Role.OFFICE, "jyj", None, None, "教育局陈科长"),
    # The town government as an office: a co-office (各乡镇) of its town's problems only.
    "off_gov_hd": (Role.OFFICE, "gov-huaidian", None, None, "槐店镇政府周干事"),
    "vil_hd1": (Role.VILLAGE, None, "huaidian", "huaidian-01", "东关社区孙书记"),
}


@dataclass
class World:
    """The launched campaign, its problems by name, and which user may see which problem."""

    db: Database
    clock: FixedClock
    campaign_id: int
    problems: dict[str, int]  # name -> problem id
    visible: dict[str, set[str]] = field(default_factory=dict)  # user -> problem names

    def problem(self, name: str) -> Problem:
        """The problem row as it is now."""
        with self.db.transaction() as s:
            p = s.get(Problem, self.problems[name])
            assert p is not None
            return p


def _reported(town: str, village: str, category: str, text: str) -> ReportedProblem:
    return ReportedProblem(source="household", category=category, town=town, village=village,
                           household_id=None, description=text, found_by="王村干",
                           found_on=dt.date(2022, 9, 20))


def build_world(db: Database, clock: FixedClock) -> World:
    """Launch seed 002, add the users, record three problems."""
    path = PLANS / "seed-002-shenqiu.yaml"
    # Seed 004's spot-check quota, so that the county's draw finds the closed problems.
    text = with_seed_004_quota(path.read_text(encoding="utf-8"))
    plan = load_plan_text(text, base_dir=path.parent)
    cid = db.run(launch_campaign, clock, plan, text, "county")
    for username, (role, office, town, village, name) in USERS.items():
        db.run(add_user, clock, username=username, name=name, role=role, office=office, town=town,
                 village=village, password_hash=password_hash())
    reports = {
        "hd_housing": _reported("huaidian", "huaidian-01", "housing", "东关社区危房未改造，屋面漏雨"),
        "lz_education": _reported("liuzhuangdian", "liuzhuangdian-01", "education",
                                  "适龄儿童辍学未劝返"),
        "lz_housing": _reported("liuzhuangdian", "liuzhuangdian-01", "housing",
                                "刘庄店村危房鉴定为C级未改造"),
    }
    result = db.run(record_problems, clock, cid, list(reports.values()), recorded_by="county")
    assert result.routed == 3, result
    ids = dict(zip(reports, result.problem_ids, strict=True))
    everything = set(reports)
    visible = {
        "county": everything, "sup": everything,
        "town_hd": {"hd_housing"}, "town_lz": {"lz_education", "lz_housing"},
        "off_zjj": {"hd_housing", "lz_housing"}, "off_jyj": {"lz_education"},
        "off_gov_hd": {"hd_housing"},
        "vil_hd1": {"hd_housing"},
    }
    return World(db=db, clock=clock, campaign_id=cid, problems=ids, visible=visible)


def close_one_accept_another(world: World,
                             review_to_close: dt.timedelta = dt.timedelta(0)) -> None:
    """hd_housing accepted, rectified with a photo, reviewed and closed; lz_education accepted."""
    db, clock = world.db, world.clock
    pid = world.problems["hd_housing"]
    db.run(moves.apply, clock, "off_zjj", pid, Action.ACCEPT, Payload())
    db.run(moves.apply, clock, "off_zjj", pid, Action.SUBMIT, Payload(note="已整改"),
           files=[photo()])
    db.run(moves.apply, clock, "sup", pid, Action.PASS_REVIEW, Payload())
    clock.advance(review_to_close)
    db.run(moves.apply, clock, "county", pid, Action.CLOSE, Payload())
    db.run(moves.apply, clock, "off_jyj", world.problems["lz_education"], Action.ACCEPT, Payload())


@pytest.fixture
def world(db: Database, clock: FixedClock) -> World:
    """The launched world on both backends."""
    return build_world(db, clock)


@pytest.fixture
def app(world: World, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> object:
    """The web app over the world (evidence and secrets kept in a temporary data dir)."""
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    return create_app(Root(db=world.db, clock=world.clock), secret_key=SECRET,
                      cache_seconds=0)


CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token embedded in a page's forms."""
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in page"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign a TestClient in; returns the session's CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf_token": csrf_of(page.text), "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    me = client.get("/api/me")
    assert me.status_code == 200, me.text
    return str(me.json()["csrf_token"])


@pytest.fixture
def client_for(app: object) -> Iterator[Callable[[str], tuple[TestClient, str]]]:
    """Make signed-in clients: client_for("county") -> (client, csrf token)."""
    clients: list[TestClient] = []

    def make(username: str) -> tuple[TestClient, str]:
        client = TestClient(app, base_url="http://testserver")  # type: ignore[arg-type]
        clients.append(client)
        return client, login(client, username)

    yield make
    for c in clients:
        c.close()
