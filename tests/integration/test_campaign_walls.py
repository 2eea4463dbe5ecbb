"""Issue 11's campaign walls: 文号-less plans, past plans, closing and reopening a campaign."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import CHINA_TZ, FixedClock, SystemClock
from duban.domain.plan import Plan
from duban.services.campaigns import (
    DuplicateCampaign,
    PlanInThePast,
    launch_campaign,
    list_campaigns,
)
from duban.services.database import Database
from tests.conftest import PLANS

SEED_002 = PLANS / "seed-002-shenqiu.yaml"


@pytest.fixture(autouse=True)
def _data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def seed_plan(**changes: object) -> Plan:
    return dataclasses.replace(load_plan_file(SEED_002), **changes)  # type: ignore[arg-type]


def launch(db: Database, clock: FixedClock, plan: Plan | None = None, **kw: bool) -> int:
    plan = plan or seed_plan()
    return launch_campaign(db, clock, plan, SEED_002.read_text(encoding="utf-8"), "county", **kw)


# ---- 文号 -------------------------------------------------------------------------------


def test_two_plans_without_a_document_number_both_launch(db: Database,
                                                         clock: FixedClock) -> None:
    assert load_plan_file(SEED_002).document_number == ""  # "The seed text carries no 文号"
    first = launch(db, clock)
    second = launch(db, clock, seed_plan(name="第二项行动"))
    assert first != second
    # A real 文号 still identifies one campaign.
    numbered = seed_plan(document_number="沈巩发〔2022〕1号")
    launch(db, clock, numbered)
    with pytest.raises(DuplicateCampaign, match="沈巩发〔2022〕1号"):
        launch(db, clock, numbered)
    rows = {r.id: r for r in list_campaigns(db)}
    assert rows[first].document_number == "" and rows[second].document_number == ""


def test_a_missing_document_number_prints_as_none(db: Database) -> None:
    from duban.cli import cli

    bare = SEED_002  # it has no 文号
    url = db.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    outputs = []
    for args in (["plan", "check", str(bare)], ["campaign", "launch", str(bare)],
                 ["campaign", "launch", str(bare)], ["campaign", "list"],
                 ["campaign", "show", "1"]):
        result = runner.invoke(cli, ["--db", url, "--now", "2022-09-10T09:00", *args],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert all("（）" not in out for out in outputs), outputs
    assert "（无文号）" in outputs[0] and "（无文号）" in outputs[1]
    assert "无文号" in outputs[3] and "无文号" in outputs[4]


# ---- a plan in the past -----------------------------------------------------------------


def test_a_plan_wholly_in_the_past_is_refused_on_the_real_clock(db: Database) -> None:
    real = SystemClock()
    assert real.now().date() > dt.date(2022, 12, 31)  # seed 002 ends 2022-12-31
    with pytest.raises(PlanInThePast, match="--backfill") as refused:
        launch(db, real)
    assert "--now" in refused.value.message and "2022-12-31" in refused.value.message
    assert list_campaigns(db) == []
    # Simulated time, as the demo launches (the working day before the first stage), is the
    # user's explicit choice and accepted.
    assert launch(db, FixedClock(dt.datetime(2022, 9, 14, 9, 0, tzinfo=CHINA_TZ)))
    # So is an explicit backfill on the real clock.
    assert launch(db, real, seed_plan(name="补录"), backfill=True)
    assert len(list_campaigns(db)) == 2


def test_cli_launch_of_a_past_plan_names_the_way_out(db: Database,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from duban.cli import cli

    monkeypatch.delenv("DUBAN_NOW", raising=False)
    url = db.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    refused = runner.invoke(cli, ["--db", url, "campaign", "launch", str(SEED_002)])
    assert refused.exit_code != 0 and list_campaigns(db) == []
    assert "--backfill" in str(refused.exception) and "--now" in str(refused.exception)
    simulated = runner.invoke(cli, ["--db", url, "--now", "2022-09-14T09:00", "campaign",
                                    "launch", str(SEED_002)])
    assert simulated.exit_code == 0, simulated.output
    ok = runner.invoke(cli, ["--db", url, "campaign", "launch", str(SEED_002), "--backfill"])
    assert ok.exit_code == 0, ok.output
    assert "行动已启动" in ok.output and len(list_campaigns(db)) == 2
