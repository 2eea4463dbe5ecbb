"""Every number a user sees is computed inside the user's scope, across two campaigns.

Campaign A is the web tests' world (seed 002) with more problems; campaign B is seed 002
launched again under another name, so both have the same office, town and village codes, with
problems of its own and accounts of its own. An independent oracle (plain Python over the
problem rows, not `scoping`) says which problems each account reaches; every total, dashboard
card, band and status count, waiting-board total, ledger page count and export row count must
equal the oracle's count, for every account × both campaigns. A property test then draws
filter combinations per account and checks each total against the scope-alone listing
filtered in Python: a filter can only narrow a scope, never widen or replace it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file, load_plan_text
from duban.domain.bands import Band
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import STATUS_LABELS, Action, Payload, Role, Status
from duban.services import moves
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.problems import record_problems
from models import Problem, ProblemCoOffice
from tests.conftest import PLANS
from tests.support import photo, with_seed_004_quota
from tests.web.conftest import USERS, World, password_hash

SEED = PLANS / "seed-002-shenqiu.yaml"
Clients = Callable[[str], tuple[TestClient, str]]

# Campaign B's own accounts: the same codes as campaign A's, bound to B.
B_USERS: dict[str, tuple[Role, str | None, str | None, str | None, str]] = {
    "b_town_hd": (Role.TOWN, None, "huaidian", None, "二号行动槐店镇"),
    "b_off_zjj": (Role.OFFICE, "zjj", None, None, "二号行动住建局"),
    "b_vil_lz1": (Role.VILLAGE, None, "liuzhuangdian", "liuzhuangdian-01", "二号行动刘庄店村"),
}
ACCOUNTS = {**USERS, **B_USERS}


@dataclass
class Two:
    """Both campaigns, every problem row, and each account's campaign."""

    world: World
    a: int
    b: int
    home: dict[str, int]  # username -> the campaign its account belongs to


def _report(town: str, village: str, category: str, text: str) -> ReportedProblem:
    return ReportedProblem(source="household", category=category, town=town, village=village,
                           household_id=None, description=text, found_by="王村干",
                           found_on=dt.date(2022, 9, 20))


def _villages() -> list[tuple[str, str]]:
    plan = load_plan_file(SEED)
    return [(t.code, v.code) for t in plan.towns if t.code in ("huaidian", "liuzhuangdian")
            for v in t.villages[:2]]


def _record(world: World, cid: int, tag: str) -> list[int]:
    reports = [_report(town, village, category, f"{tag}{town}{village}{category}问题")
               for town, village in _villages()
               for category in ("housing", "education", "health", "water")]
    result = world.db.run(record_problems, world.clock, cid, reports, recorded_by="county")
    return list(result.problem_ids)


def _vary(world: World, ids: list[int]) -> None:
    """Spread the problems over statuses: accepted, submitted, passed, closed, voided."""
    db, clock = world.db, world.clock
    with db.transaction() as s:
        leads = {p.id: p.lead_office for p in s.scalars(select(Problem).where(
            Problem.id.in_(ids)))}
    for n, pid in enumerate(ids):
        office = leads[pid]
        user = f"office-{office}-{pid}"
        db.run(add_user, clock, username=user, name=f"{office}经办人", role=Role.OFFICE,
               office=office, all_campaigns=True, password_hash=password_hash())
        step = n % 6
        if step == 0:
            continue  # 已交办
        if step == 5:
            db.run(moves.apply, clock, "county", pid, Action.VOID, Payload(note="重复"))
            continue
        db.run(moves.apply, clock, user, pid, Action.ACCEPT, Payload())
        if step >= 2:
            db.run(moves.apply, clock, user, pid, Action.SUBMIT, Payload(note="已整改"),
                   files=[photo(f"{pid}.jpg")])
        if step >= 3:
            db.run(moves.apply, clock, "sup", pid, Action.PASS_REVIEW, Payload())
        if step >= 4:
            db.run(moves.apply, clock, "county", pid, Action.CLOSE, Payload())


@pytest.fixture
def two(world: World) -> Two:
    db, clock = world.db, world.clock
    text = with_seed_004_quota(SEED.read_text(encoding="utf-8"))
    plan = dataclasses.replace(load_plan_text(text, base_dir=SEED.parent), name="第二项行动")
    b = db.run(launch_campaign, clock, plan, text, "county")
    for username, (role, office, town, village, name) in B_USERS.items():
        db.run(add_user, clock, username=username, name=name, role=role, office=office,
               town=town, village=village, campaign_id=b, password_hash=password_hash())
    extra_a = _record(world, world.campaign_id, "甲")
    in_b = _record(world, b, "乙")
    _vary(world, extra_a[:12] + in_b[:12])
    clock.advance(dt.timedelta(days=40))  # deadlines pass: every band has members
    home = {u: (b if u in B_USERS else world.campaign_id) for u in ACCOUNTS}
    return Two(world=world, a=world.campaign_id, b=b, home=home)


@dataclass(frozen=True)
class Row:
    id: int
    campaign: int
    town: str
    village: str | None
    lead: str | None
    co: frozenset[str]
    status: str
    category: str
    description: str


def _rows(two: Two) -> list[Row]:
    with two.world.db.transaction() as s:
        co: dict[int, set[str]] = {}
        for pid, office in s.execute(select(ProblemCoOffice.problem_id,
                                            ProblemCoOffice.office_code)):
            co.setdefault(pid, set()).add(office)
        return [Row(p.id, p.campaign_id, p.town_code, p.village_code, p.lead_office,
                    frozenset(co.get(p.id, ())), p.status, p.category, p.description)
                for p in s.scalars(select(Problem))]


def reaches(two: Two, username: str, row: Row) -> bool:
    """The oracle: whom each account's problems are, written out plainly."""
    role, office, town, village, _ = ACCOUNTS[username]
    if role in (Role.COUNTY, Role.SUPERVISOR):
        return True
    if row.campaign != two.home[username]:
        return False
    if role is Role.TOWN:
        return row.town == town
    if role is Role.VILLAGE:
        return row.village == village
    return row.lead == office or office in row.co


def _listing(client: TestClient, cid: int, **params: str) -> dict[str, Any]:
    r = client.get("/api/problems", params={"campaign": str(cid), "per_page": "200", **params})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize("username", sorted(ACCOUNTS))
def test_every_count_is_the_scopes_own_in_both_campaigns(two: Two, client_for: Clients,
                                                         username: str) -> None:
    client, _ = client_for(username)
    rows = _rows(two)
    for cid in (two.a, two.b):
        mine = {r.id: r for r in rows if r.campaign == cid and reaches(two, username, r)}
        n = len(mine)
        # The ledger's items and total, unfiltered and per status.
        page = _listing(client, cid)
        assert {i["id"] for i in page["items"]} == set(mine), (username, cid)
        assert page["total"] == n, (username, cid)
        by_status = Counter(r.status for r in mine.values())
        for status in Status:
            got = _listing(client, cid, status=status.value)["total"]
            assert got == by_status.get(status.value, 0), (username, cid, status)
        bands = Counter(i["band"] for i in page["items"] if i["band"])
        # The dashboard: total card, statuses, bands, towns, trend.
        board = client.get(f"/api/campaigns/{cid}/dashboard").json()
        assert board["total"]["total"] == n, (username, cid, board["total"])
        assert sum(board["by_status"].values()) in (n, n - by_status.get("voided", 0))
        labelled = {STATUS_LABELS[Status(k)]: v for k, v in by_status.items()}
        for status, count in board["by_status"].items():
            assert count == labelled.get(status, 0), (username, cid, status)
        band_names = {b.value: b for b in Band} | {b.label: b for b in Band}
        assert {band_names[b]: c for b, c in board["total"]["bands"].items() if c} == {
            Band(b): c for b, c in bands.items()}, (username, cid, board["total"]["bands"])
        if ACCOUNTS[username][0] is not Role.OFFICE:
            assert sum(t["total"] for t in board["towns"]) == n, (username, cid)
        assert {t["code"] for t in board["towns"]} <= {r.town for r in mine.values()}
        for point in board["trend"]:
            assert point["found"] <= n, (username, cid, point)
        # The waiting board lists and counts the scope's open items only.
        waiting = client.get("/api/waiting", params={"campaign": str(cid)}).json()
        assert {i["problem"]["id"] for i in waiting["items"]} <= set(mine)
        assert waiting["total"] == len(waiting["items"]) or waiting["total"] > 50
        # The ledger page's count and the export's rows.
        html = client.get("/ledger", params={"campaign": str(cid), "status": ""}).text
        shown = re.search(r"共\s*(?:<[^>]+>)?\s*(\d+)", html)
        assert shown and int(shown.group(1)) == n, (username, cid)
        export = client.get("/ledger.xlsx", params={"campaign": str(cid), "status": ""})
        wb = load_workbook(io.BytesIO(export.content), read_only=True)
        assert sum(1 for _ in wb.worksheets[0].iter_rows(min_row=3)) == n, (username, cid)
        for other in rows:
            if other.campaign == cid and other.id not in mine:
                assert other.description not in html
        # The ranking's figures are its campaign's: another campaign's account sees none.
        ranking = client.get("/ranking", params={"campaign": str(cid)})
        covered = ACCOUNTS[username][0] in (Role.COUNTY, Role.SUPERVISOR) or (
            cid == two.home[username])
        assert ranking.status_code == (200 if covered else 403), (username, cid)


FILTERS = st.fixed_dictionaries({}, optional={
    "town": st.sampled_from(["huaidian", "liuzhuangdian", "xin'an", "nowhere"]),
    "village": st.sampled_from([v for _, v in _villages()] + ["nowhere-01"]),
    "office": st.sampled_from(["zjj", "jyj", "wjw", "gov-huaidian", "gov-liuzhuangdian",
                               "ybj", "nowhere"]),
    "status": st.sampled_from([s.value for s in Status]),
    "band": st.sampled_from([b.value for b in Band]),
    "pending": st.just("true"),
    "category": st.sampled_from(["housing", "education", "health", "water"]),
    "q": st.sampled_from(["甲", "乙", "危房", "教育", "huaidian"]),
})


def _matches(row: Row, item: dict[str, Any], f: dict[str, str]) -> bool:
    if "town" in f and row.town != f["town"]:
        return False
    if "village" in f and row.village != f["village"]:
        return False
    if "office" in f and not (row.lead == f["office"] or f["office"] in row.co):
        return False
    if "status" in f and row.status != f["status"]:
        return False
    if "pending" in f and row.status in ("closed", "voided"):
        return False
    if "band" in f and item["band"] != f["band"]:
        return False
    if "category" in f and row.category != f["category"]:
        return False
    return not ("q" in f and f["q"] not in row.description)


def test_filters_only_narrow_the_scope(two: Two, client_for: Clients) -> None:
    clients = {u: client_for(u)[0] for u in sorted(ACCOUNTS)}
    rows = {r.id: r for r in _rows(two)}
    alone = {(u, cid): {i["id"]: i for i in _listing(c, cid)["items"]}
             for u, c in clients.items() for cid in (two.a, two.b)}
    # The scope alone is the oracle's scope (checked per count in the matrix above).
    for (u, cid), items in alone.items():
        assert set(items) == {r.id for r in rows.values()
                              if r.campaign == cid and reaches(two, u, r)}, (u, cid)

    @settings(max_examples=150, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(user=st.sampled_from(sorted(ACCOUNTS)), second=st.booleans(), filters=FILTERS)
    def check(user: str, second: bool, filters: dict[str, str]) -> None:
        cid = two.b if second else two.a
        page = _listing(clients[user], cid, **filters)
        expected = {pid for pid, item in alone[(user, cid)].items()
                    if _matches(rows[pid], item, filters)}
        assert {i["id"] for i in page["items"]} == expected, (user, cid, filters)
        assert page["total"] == len(expected), (user, cid, filters, page["total"])

    check()
