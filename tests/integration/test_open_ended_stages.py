"""A stage without an end (seed 004's 驻点督查, "适时调整") runs until the campaign is closed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.campaigns import launch_campaign, list_campaigns, summarise_campaign
from duban.services.closing import close_ended_campaigns
from duban.services.database import Database
from duban.services.stages import daily_report_due, due_stages, live_campaigns
from models import CampaignStage
from tests.conftest import PLANS

SEED_004 = PLANS / "seed-004-anhui-2019.yaml"
START = dt.date(2019, 2, 12)
# Half a year after the campaign's only dated day.
LATER = dt.datetime(2019, 8, 20, 21, 0, tzinfo=CHINA_TZ)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def launch(db: Database) -> int:
    plan = load_plan_file(SEED_004)
    clock = FixedClock(dt.datetime(2019, 2, 11, 9, 0, tzinfo=CHINA_TZ))
    return launch_campaign(db, clock, plan, SEED_004.read_text(encoding="utf-8"), "county")


def test_open_ended_stages_are_stored_without_an_end_and_run_on(db: Database) -> None:
    campaign_id = launch(db)
    with db.transaction() as s:
        ends = list(s.scalars(select(CampaignStage.end)
                              .where(CampaignStage.campaign_id == campaign_id)
                              .order_by(CampaignStage.seq)))
    assert ends == [None, None, None]
    later = FixedClock(LATER)
    # Every stage is due, current, and the campaign is live months after its dated day.
    assert [d.name for d in due_stages(db, later, campaign_id)] == [
        "入户专班排查", "梳理问题抓好整改", "驻点督查"]
    assert campaign_id in live_campaigns(db, later)
    summary = summarise_campaign(db, campaign_id, LATER.date())
    assert [(st.end, st.current) for st in summary.stages] == [(None, True)] * 3
    (row,) = list_campaigns(db, LATER.date())
    assert (row.start, row.end) == (START, None)
    # The daily report is written every day until the campaign is closed …
    assert daily_report_due(db, later, campaign_id) == LATER.date()
    # … and no date closes it: only the county office's command does.
    assert close_ended_campaigns(db, later) == []
