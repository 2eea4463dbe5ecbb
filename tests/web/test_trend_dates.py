"""The trend follows the campaign's own dates: a campaign that ran in 2022, looked at years
later, shows its 2022 days (with the year on the axis), not an empty stretch of today."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from duban.domain.clock import CHINA_TZ
from duban.services.scoping import scope_for
from duban.services.views.dashboard import dashboard, trend_end
from tests.web.conftest import World

LATER = dt.datetime(2026, 12, 3, 9, 0, tzinfo=CHINA_TZ)


@pytest.mark.usefixtures("data_dir")
def test_a_2022_campaign_shows_2022_years_later(
        world: World, client_for: Callable[[str], tuple[TestClient, str]]) -> None:
    found = dt.date(2022, 9, 20)  # the world's three problems
    world.clock.set(LATER)
    today = LATER.date()
    with world.db.transaction() as s:
        board = dashboard(s, scope_for(s, "county", today), world.campaign_id, today)
    days = [t.day for t in board.trend]
    # Seed 002 runs from 15 September to 31 December 2022.
    assert days[0] == dt.date(2022, 9, 15) and days[-1] == dt.date(2022, 12, 31)
    assert days == [days[0] + dt.timedelta(days=i) for i in range(len(days))]
    assert {t.day: t.found for t in board.trend if t.found} == {found: 3}
    assert board.trend[-1].pending == 3
    client, _ = client_for("county")
    html = client.get(f"/?campaign={world.campaign_id}").text
    labels = re.findall(r'text-anchor="middle">([^<]+)</text>', html)
    assert labels[0] == "2022/9/15" and all("2026" not in x for x in labels), labels
    assert "2022年9月15日–2022年12月31日" in html


def test_the_trend_ends_today_while_the_campaign_runs() -> None:
    from duban.adapters.plan.yaml_file import load_plan_file
    from tests.conftest import PLANS

    plan = load_plan_file(PLANS / "seed-002-shenqiu.yaml")
    running = dt.date(2022, 10, 20)
    assert trend_end(plan, running, None, [running]) == running
    after = dt.date(2026, 12, 3)
    assert trend_end(plan, after, None, []) == dt.date(2022, 12, 31)
    # Work that went on past the last stage stays on the chart; a closed campaign stops there.
    assert trend_end(plan, after, None, [dt.date(2023, 1, 9)]) == dt.date(2023, 1, 9)
    assert trend_end(plan, after, dt.date(2023, 1, 20), [dt.date(2023, 1, 9)]) == \
        dt.date(2023, 1, 20)
