"""今天要办 on every role's dashboard: its numbers are the user's scoped counts, each links to
a ledger listing exactly those items, and the ledger and API take the 到期 filter."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from duban.domain.lifecycle import Action, Payload
from duban.services import moves
from duban.services.scoping import Scope, reach_of, scope_for
from duban.services.views.cube import co_cells, ledger_cube, summed_today_work
from duban.services.views.today import Due, today_work, week_end, workdays_text
from models import Problem
from tests.web.conftest import USERS, World

TILE_RE = re.compile(r'data-key="(\w+)" href="([^"]+)"><span class="today-n">(\d+)</span>'
                     r'<span class="today-label">([^<]+)</span>')
TOTAL_RE = re.compile(r"共 (\d+) 条")

MONDAY = dt.date(2022, 9, 26)  # the world's clock
# Deadlines of the world's three problems: due today, Thursday this week, overdue since Thursday.
DEADLINES = {"hd_housing": MONDAY, "lz_education": dt.date(2022, 9, 29),
             "lz_housing": dt.date(2022, 9, 22)}
LEADS = {"hd_housing": "zjj", "lz_education": "jyj", "lz_housing": "zjj"}


def _dated(world: World) -> None:
    """The world with fixed deadlines; lz_education accepted (整改中), the others 待签收."""
    world.db.run(moves.apply, world.clock, "off_jyj", world.problems["lz_education"],
                 Action.ACCEPT, Payload())
    with world.db.transaction() as s:
        for name, day in DEADLINES.items():
            s.execute(update(Problem).where(Problem.id == world.problems[name])
                      .values(deadline=day))


def _expected(world: World, username: str) -> dict[str, int]:
    """The day's work of a user, counted by hand from what the user may see."""
    seen = world.visible[username]
    role, office, *_ = USERS[username]
    status = {n: "rectifying" if n == "lz_education" else "routed" for n in DEADLINES}
    out = {
        "today": sum(1 for n in seen if DEADLINES[n] == MONDAY),
        "week": sum(1 for n in seen if MONDAY <= DEADLINES[n] <= week_end(MONDAY)),
        "overdue": sum(1 for n in seen if DEADLINES[n] < MONDAY),
    }
    if role.value == "office":
        out["accept"] = sum(1 for n in seen if status[n] == "routed" and LEADS[n] == office)
        out["rectify"] = sum(1 for n in seen if status[n] == "rectifying" and LEADS[n] == office)
    elif role.value in {"county", "supervisor"}:
        out["review"] = 0
    else:  # town, village: what they wait on from offices
        out["accept"] = sum(1 for n in seen if status[n] == "routed")
        out["review"] = 0
    if role.value == "county":
        out |= {"route": 0, "dispute": 0, "extension": 0, "close": 0}
    return out


@pytest.mark.usefixtures("data_dir")
def test_every_roles_day_is_its_scoped_counts_and_links_to_them(
        world: World, client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    _dated(world)
    for username in USERS:
        client, _ = client_for(username)
        html = client.get(f"/?campaign={world.campaign_id}").text
        assert "今天要办" in html and "2022年9月26日（一）" in html, username
        # The block comes first: before the campaign's name and its stages.
        assert html.index('id="today"') < html.index('class="stages"'), username
        tiles = {key: (href.replace("&amp;", "&"), int(n), label)
                 for key, href, n, label in TILE_RE.findall(html)}
        assert {k: v[1] for k, v in tiles.items()} == _expected(world, username), username
        for key, (href, n, label) in tiles.items():
            ledger = client.get(href)
            assert ledger.status_code == 200, (username, href)
            total = TOTAL_RE.search(ledger.text)
            assert total and int(total.group(1)) == n, (username, key, label, href)
        # The 逾期未改 card lists every overdue item, whatever its warning colour.
        kpi = re.search(r'<a class="kpi bad" href="([^"]+)"><span class="kpi-num">(\d+)<', html)
        assert kpi and int(kpi.group(2)) == tiles["overdue"][1], username
        listed = TOTAL_RE.search(client.get(kpi.group(1).replace("&amp;", "&")).text)
        assert listed and int(listed.group(1)) == int(kpi.group(2)), username
        api = client.get(f"/api/campaigns/{world.campaign_id}/dashboard").json()
        assert {line["key"]: line["count"] for line in api["today_work"]} == \
            {k: v[1] for k, v in tiles.items()}, username
        # A town sees its villages' table (each village's problems), no one else does.
        villages = {v["code"]: v["total"] for v in api["villages"]}
        if USERS[username][0].value == "town":
            town = USERS[username][2]
            assert villages == {f"{town}-01": len(world.visible[username])}, username
            assert 'id="villages"' in html and "各乡镇进度" not in html, username
        else:
            assert not villages and 'id="villages"' not in html, username


@pytest.mark.usefixtures("data_dir")
def test_ledger_and_api_filter_by_due_window_and_show_working_days_left(
        world: World, client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    _dated(world)
    client, _ = client_for("county")
    by_id = {v: k for k, v in world.problems.items()}
    expected = {Due.TODAY: {"hd_housing"}, Due.WEEK: {"hd_housing", "lz_education"},
                Due.OVERDUE: {"lz_housing"}}
    for due, names in expected.items():
        items = client.get("/api/problems", params={"campaign": world.campaign_id,
                                                    "due": due.value}).json()["items"]
        assert {by_id[i["id"]] for i in items} == names, due
        page = client.get(f"/ledger?campaign={world.campaign_id}&status=&due={due.value}")
        assert f"共 {len(names)} 条" in page.text, due
        assert f'<option value="{due.value}" selected>{due.label}</option>' in page.text
    items = {by_id[i["id"]]: i for i in client.get(
        "/api/problems", params={"campaign": world.campaign_id}).json()["items"]}
    # Monday 26 September 2022: Thursday is 3 working days on, last Thursday 2 working days back.
    assert {n: i["workdays_left"] for n, i in items.items()} == \
        {"hd_housing": 0, "lz_education": 3, "lz_housing": -2}
    ledger = client.get(f"/ledger?campaign={world.campaign_id}&status=").text
    for text in ("今日到期", "剩3个工作日", "逾期2个工作日"):
        assert text in ledger, text
    assert client.get("/api/problems", params={"campaign": world.campaign_id,
                                               "due": "someday"}).status_code == 422
    # An office's 只看本单位牵头: its co-office problems drop out.
    gov, _ = client_for("off_gov_hd")
    assert "共 1 条" in gov.get(f"/ledger?campaign={world.campaign_id}&status=").text
    assert "共 0 条" in gov.get(f"/ledger?campaign={world.campaign_id}&status=&lead=mine").text


def test_week_ends_on_sunday_and_words_for_working_days() -> None:
    assert week_end(MONDAY) == dt.date(2022, 10, 2)
    assert week_end(dt.date(2022, 10, 2)) == dt.date(2022, 10, 2)
    assert workdays_text(MONDAY, 0, MONDAY) == "今日到期"
    assert workdays_text(dt.date(2022, 9, 29), 3, MONDAY) == "剩3个工作日"
    assert workdays_text(dt.date(2022, 9, 22), -2, MONDAY) == "逾期2个工作日"
    assert workdays_text(None, None, MONDAY) == ""


@pytest.mark.usefixtures("data_dir")
def test_an_office_is_told_of_notices_to_sign_in_its_days_work(
        world: World, client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    from duban.services.notices.issuing import issue_notices

    world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                 batch_key="today")
    for username, unsigned in (("off_zjj", 1), ("off_jyj", 1), ("county", 0)):
        client, _ = client_for(username)
        html = client.get(f"/?campaign={world.campaign_id}").text
        block = html[html.index('id="today"'):html.index('class="stages"')]
        if unsigned:
            assert f"督办通知书待签收 <strong>{unsigned}</strong> 份" in block, username
        else:
            assert "督办通知书待签收" not in block, username


@pytest.mark.parametrize("days", [0, 3, 7], ids=["monday", "thursday", "next-monday"])
def test_today_summed_from_the_cube_equals_the_scoped_query(world: World, days: int) -> None:
    """The dashboard sums 今天要办 from the day's cube and an office's co-office cells: the
    same lines and counts as the query inside the scope, for every role and window."""
    _dated(world)
    today = MONDAY + dt.timedelta(days=days)
    with world.db.transaction() as s:
        cube = ledger_cube(s, world.campaign_id, today)
    for username in USERS:
        with world.db.transaction() as s:
            scope = scope_for(s, username, today)
            co = co_cells(s, world.campaign_id, reach_of(scope).offices, today).cells
            queried = today_work(s, scope, world.campaign_id, today)
        summed = summed_today_work(cube, scope, co)
        assert summed == queried, username
    counts = {line.key: line.count for line in summed_today_work(
        cube, _county(world, today), ()).lines}
    assert counts["overdue"] == (1 if days == 0 else 3 if days == 7 else 2)


def _county(world: World, today: dt.date) -> Scope:
    with world.db.transaction() as s:
        return scope_for(s, "county", today)
