"""Visit coverage: one implementation for the page, the API and the CLI; a village with no
registered household is 无农户 and stays out of every rate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from duban.cli import cli
from duban.domain.errors import PermissionDenied
from duban.services.scoping import scope_for, whole_campaign
from duban.services.views.coverage import coverage
from models import Household, Visit
from tests.web.conftest import World

D = dt.date


def _register(world: World) -> None:
    """Households in two villages of 槐店 and one of 刘庄店; 槐店's third village has none."""
    households = {
        "HD1-001": ("huaidian", "huaidian-01", "张一"),
        "HD1-002": ("huaidian", "huaidian-01", "张二"),
        "HD1-003": ("huaidian", "huaidian-01", "张三"),
        "HD2-001": ("huaidian", "huaidian-02", "李一"),
        "LZ1-001": ("liuzhuangdian", "liuzhuangdian-01", "王一"),
    }
    visits = [  # (household, day, visitor, mode)
        ("HD1-001", D(2022, 9, 10), "甲", "in_person"),
        ("HD1-001", D(2022, 9, 15), "乙", "phone"),  # the latest visit counts: phone
        ("HD1-002", D(2022, 9, 12), "甲", "proxy"),
        ("HD2-001", D(2022, 9, 12), "甲", "in_person"),
        ("GHOST-01", D(2022, 9, 12), "甲", "in_person"),  # not on the register: not counted
    ]
    with world.db.transaction() as s:
        for hid, (town, village, head) in households.items():
            s.add(Household(
                campaign_id=world.campaign_id, household_id=hid, town_code=town,
                village_code=village, head=head, members=3, category="一般户",
                monitoring_type=None, income_per_person=8000, house_grade="A", tap_water=True,
                school_age_children=0, children_out_of_school=0, medical_insurance=True,
                sanitary_toilet=True))
        for hid, day, visitor, mode in visits:
            s.add(Visit(campaign_id=world.campaign_id, household_id=hid, visitor=visitor,
                        visited_on=day, mode=mode))


def test_empty_villages_are_shown_as_without_households_and_left_out_of_rates(
        world: World) -> None:
    _register(world)
    with world.db.transaction() as s:
        cov = coverage(s, whole_campaign(), world.campaign_id, unvisited=True)
    lines = {c.village_code: c for c in cov.villages}
    hd1, hd2, hd3 = lines["huaidian-01"], lines["huaidian-02"], lines["huaidian-03"]
    assert (hd1.village, hd1.households, hd1.visited, hd1.visits) == ("东关社区", 3, 2, 3)
    assert hd1.by_mode == {"phone": 1, "proxy": 1}  # by each household's latest visit
    assert hd1.rate == pytest.approx(2 / 3)
    assert (hd2.households, hd2.visited, hd2.rate) == (1, 1, 1.0)
    assert (hd3.households, hd3.visited, hd3.rate) == (0, 0, None)  # 无农户, neither 0 nor 1
    towns = {t.town_code: t for t in cov.towns}
    # 槐店: 3 of 4 households, not the mean of 2/3, 1 and an empty village's 0 or 1.
    assert towns["huaidian"].rate == pytest.approx(3 / 4)
    assert towns["huaidian"].name == "槐店回族镇"
    assert towns["liuzhuangdian"].rate == 0.0
    assert towns["liufu"].rate is None and cov.without_households > 0
    assert (cov.households, cov.visited) == (5, 3)
    assert cov.rate == pytest.approx(3 / 5)
    assert sum(sum(c.by_mode.values()) for c in cov.villages) == cov.visited
    assert cov.modes[:3] == ["in_person", "phone", "proxy"]
    assert cov.unvisited is not None
    assert [(u.town, u.village, u.household_id, u.head) for u in cov.unvisited] == [
        ("槐店回族镇", "东关社区", "HD1-003", "张三"), ("刘庄店镇", "刘庄店村", "LZ1-001", "王一")]


def test_coverage_is_scoped_and_refused_to_offices(world: World) -> None:
    _register(world)
    today = world.clock.now().date()
    with world.db.transaction() as s:
        town = coverage(s, scope_for(s, "town_lz", today), world.campaign_id)
        village = coverage(s, scope_for(s, "vil_hd1", today), world.campaign_id)
        narrowed = coverage(s, whole_campaign(), world.campaign_id, town="huaidian")
        # A town's own scope wins over a town filter naming another town.
        other = coverage(s, scope_for(s, "town_lz", today), world.campaign_id, town="huaidian")
        with pytest.raises(PermissionDenied):
            coverage(s, scope_for(s, "off_zjj", today), world.campaign_id)
    assert {c.town_code for c in town.villages} == {"liuzhuangdian"}
    assert (town.households, town.visited) == (1, 0)
    assert [c.village_code for c in village.villages] == ["huaidian-01"]
    assert {c.town_code for c in narrowed.villages} == {"huaidian"}
    assert (narrowed.households, narrowed.visited) == (4, 3)
    assert other.villages == [] and other.households == 0


def test_the_page_the_api_and_the_cli_show_the_same_coverage(
        world: World, client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    _register(world)
    client, _ = client_for("town_hd")
    api = {c["village_code"]: c for c in
           client.get(f"/api/coverage?campaign={world.campaign_id}").json()}
    assert api["huaidian-01"]["rate"] == round(2 / 3, 4)
    assert api["huaidian-01"]["by_mode"] == {"phone": 1, "proxy": 1}
    assert api["huaidian-03"]["rate"] is None and api["huaidian-03"]["households"] == 0
    page = client.get(f"/coverage?campaign={world.campaign_id}")
    assert page.status_code == 200
    assert "无农户" in page.text and "北关社区" in page.text and "刘庄店村" not in page.text

    # The command works on the test's database (obj), inside its transaction.
    out = CliRunner().invoke(cli, ["coverage", "--campaign", str(world.campaign_id),
                                   "--town", "huaidian", "--unvisited"], obj=world.db)
    assert out.exit_code == 0, out.output
    text = out.output
    assert "无农户" in text and "75.0%" in text and "66.7%" in text and "HD1-003" in text
    assert "东关社区" in text and "张三" in text and "未走访农户：1 户" in text
