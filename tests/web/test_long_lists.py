"""Long lists on the web: spot checks paginated, filtered by group, each group seeing only its
own; users paginated and found by role and name."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from models import SpotCheck
from tests.web.conftest import World, password_hash

GROUP_CELL = re.compile(r'<td data-label="督查组">([^<]+)</td>')


def _checks(world: World, per_group: dict[str, int]) -> dt.date:
    """Household checks of the day for each group; users dd1 and dd2 lead groups 1 and 2."""
    day = world.clock.now().date()
    with world.db.transaction() as s:
        for group, n in per_group.items():
            s.add_all(SpotCheck(campaign_id=world.campaign_id, day=day, group_code=group,
                                kind="household", item_id=f"HD01{group}{i:03d}",
                                household_id=f"HD01{group}{i:03d}", town_code="huaidian",
                                village_code="huaidian-01", draw_seed="", purpose="",
                                result="pending", note="") for i in range(n))
    for code, name in (("dd1", "第一督导组组长"), ("dd2", "第二督导组组长")):
        world.db.run(add_user, world.clock, username=code, name=name, role=Role.SUPERVISOR,
                     password_hash=password_hash())
    return day


def test_spot_checks_come_in_pages_and_each_group_sees_its_own(
        world: World, client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    _checks(world, {"dd1": 70, "dd2": 5})
    url = f"/spotchecks?campaign={world.campaign_id}"
    county, _ = client_for("county")
    first = county.get(url).text
    assert "共 75 项，每页 30 项" in first and "第 1 / 3 页" in first
    assert len(GROUP_CELL.findall(first)) == 30
    last = county.get(url + "&page=3").text
    assert len(GROUP_CELL.findall(last)) == 15
    picked = county.get(url + "&group=dd2").text
    assert "共 5 项" in picked
    assert set(GROUP_CELL.findall(picked)) == {"县委巩固衔接第二督导组"}
    assert '<option value="dd2" selected>' in picked
    one, _ = client_for("dd1")
    mine = one.get(url).text
    assert "县委巩固衔接第一督导组：共 70 项" in mine
    seen = set()
    for page in (1, 2, 3):
        seen |= set(GROUP_CELL.findall(one.get(f"{url}&page={page}").text))
    assert seen == {"县委巩固衔接第一督导组"}
    # Asking for another group's checks shows one's own.
    assert set(GROUP_CELL.findall(one.get(url + "&group=dd2").text)) == {"县委巩固衔接第一督导组"}
    two, _ = client_for("dd2")
    theirs = two.get(url).text
    assert "共 5 项" in theirs and "第 1 / " not in theirs
    assert set(GROUP_CELL.findall(theirs)) == {"县委巩固衔接第二督导组"}


USER_CELL = re.compile(r'<div class="small muted" data-label="用户名">([^<]+)</div>')


def test_people_come_in_pages_and_are_found_by_role_and_name(
        world: World, client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    for i in range(40):
        world.db.run(add_user, world.clock, username=f"cadre{i:02d}", name=f"村干部{i:02d}",
                     role=Role.VILLAGE, town="huaidian", village="huaidian-01",
                     password_hash=password_hash())
    county, _ = client_for("county")
    first = county.get("/people").text
    assert "共 48 人，每页 30 人" in first and "第 1 / 2 页" in first  # 8 test users + 40
    assert len(USER_CELL.findall(first)) == 30
    second = county.get("/people?page=2").text
    assert len(USER_CELL.findall(second)) == 18
    assert not set(USER_CELL.findall(first)) & set(USER_CELL.findall(second))
    villages = county.get("/people?role=village").text
    assert "共 41 人" in villages  # vil_hd1 too
    found = county.get("/people", params={"q": "村干部07"}).text
    assert USER_CELL.findall(found) == ["cadre07"]
    assert "没有符合条件的用户" in county.get("/people", params={"q": "无此人"}).text
