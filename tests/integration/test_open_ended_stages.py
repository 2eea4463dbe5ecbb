"""Seed 004 on both backends: stages without an end (适时调整) and its daily spot-check quotas."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.campaigns import launch_campaign, list_campaigns, summarise_campaign
from duban.services.closing import close_ended_campaigns
from duban.services.database import Database
from duban.services.reviews import draw_daily_spot_checks, list_spot_checks
from duban.services.stages import daily_report_due, due_stages, live_campaigns
from models import CampaignStage
from tests.conftest import PLANS
from tests.support import plain_household, register

SEED_004 = PLANS / "seed-004-anhui-2019.yaml"
START = dt.date(2019, 2, 12)
# Half a year after the campaign's only dated day.
LATER = dt.datetime(2019, 8, 20, 21, 0, tzinfo=CHINA_TZ)


pytestmark = pytest.mark.usefixtures("data_dir")


def launch(db: Database) -> int:
    plan = load_plan_file(SEED_004)
    clock = FixedClock(dt.datetime(2019, 2, 11, 9, 0, tzinfo=CHINA_TZ))
    return db.run(launch_campaign, clock, plan, SEED_004.read_text(encoding="utf-8"), "county")


def test_open_ended_stages_are_stored_without_an_end_and_run_on(db: Database) -> None:
    campaign_id = launch(db)
    with db.transaction() as s:
        ends = list(s.scalars(select(CampaignStage.end)
                              .where(CampaignStage.campaign_id == campaign_id)
                              .order_by(CampaignStage.seq)))
    assert ends == [None, None, None]
    later = FixedClock(LATER)
    # Every stage is due, current, and the campaign is live months after its dated day.
    assert [d.name for d in db.run(due_stages, later, campaign_id)] == [
        "入户专班排查", "梳理问题抓好整改", "驻点督查"]
    assert campaign_id in db.run(live_campaigns, later)
    summary = db.run(summarise_campaign, campaign_id, LATER.date())
    assert [(st.end, st.current) for st in summary.stages] == [(None, True)] * 3
    (row,) = db.run(list_campaigns, LATER.date())
    assert (row.start, row.end) == (START, None)
    # The daily report is written every day until the campaign is closed …
    assert db.run(daily_report_due, later, campaign_id) == LATER.date()
    # … and no date closes it: only the county office's command does.
    assert db.run(close_ended_campaigns, later) == []


def test_seed_004_draws_each_quota_and_villages_without_households(db: Database) -> None:
    # L75 "四必查": per group per day 5 销号 items, 10 帮扶 households, 5 专班 households,
    # 2 villages and 10 人居环境 households.
    campaign_id = launch(db)
    plan = load_plan_file(SEED_004)
    registered = [(t.code, t.villages[0].code) for t in plan.towns]  # one village each
    with db.transaction() as s:
        register(s, campaign_id, (
            plain_household(campaign_id, town, village, f"{village}-{k:03d}", f"户主{k}")
            for town, village in registered for k in range(30)))
    clock = FixedClock(dt.datetime(2019, 2, 13, 9, 0, tzinfo=CHINA_TZ))
    checks = db.run(list_spot_checks, campaign_id, ids=db.run(draw_daily_spot_checks, clock, campaign_id))
    for group in plan.review.groups:
        mine = [c for c in checks if c.group == group.code]
        assert Counter((c.kind, c.purpose) for c in mine) == {
            ("household", ""): 10, ("household", "专班排查入户"): 5,
            ("household", "人居环境整治"): 10, ("village", ""): 2}, group.name
        assert {c.town for c in mine} == set(group.towns)
        # Its town has one village with registered households: two are drawn all the same.
        drawn = {c.item_id for c in mine if c.kind == "village"}
        assert len(drawn) == 2 and drawn - {v for _, v in registered}
    households = [c.item_id for c in checks if c.kind == "household"]
    assert len(households) == len(set(households))
    labels = {c.kind_label for c in checks}
    assert {"农户", "农户（专班排查入户）", "农户（人居环境整治）", "行政村"} == labels
