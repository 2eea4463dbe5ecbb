"""A campaign's plan is stored as numbered versions and decoded once per transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from duban.adapters.plan.codec import encode_plan
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.domain.errors import NotFound
from duban.domain.plan import Plan
from duban.services.campaigns import launch_campaign, load_plan_of
from duban.services.database import Database
from models import Campaign, PlanVersion
from tests.conftest import PLANS
from tests.support import alembic_config

SEED = PLANS / "seed-003-shaoyun-2022.yaml"


def launch(db: Database, clock: FixedClock, plan: Plan) -> int:
    return db.run(launch_campaign, clock, plan, SEED.read_text(encoding="utf-8"), "county")


def test_launching_stores_the_plan_as_version_one(db: Database, clock: FixedClock) -> None:
    plan = load_plan_file(SEED)
    cid = launch(db, clock, plan)
    with db.transaction() as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None and campaign.plan_version == 1
        (version,) = s.scalars(select(PlanVersion).where(PlanVersion.campaign_id == cid)).all()
        assert (version.version, version.created_by, version.note) == (1, "county", "")
        assert version.source == SEED.read_text(encoding="utf-8")
        assert version.created_at == clock.now()
        assert version.plan == json.loads(json.dumps(encode_plan(plan)))
        assert load_plan_of(s, cid) == plan


def test_one_transaction_decodes_each_campaign_once(db: Database, clock: FixedClock,
                                                    decodes: list[tuple[Session, int, int]]) -> None:
    plan = load_plan_file(SEED)
    first = launch(db, clock, plan)
    other = launch(db, clock, dataclasses.replace(plan, document_number="少云发〔2022〕99号"))
    decodes.clear()
    with db.transaction() as s:
        once = load_plan_of(s, first)
        assert load_plan_of(s, first) is once and load_plan_of(s, first) is once
        assert load_plan_of(s, other).document_number == "少云发〔2022〕99号"
        assert load_plan_of(s, other) is not once
    assert [(c, v) for _, c, v in decodes] == [(first, 1), (other, 1)]
    with db.transaction() as s:  # a new transaction reads what is stored now
        assert load_plan_of(s, first) == once
    assert [(c, v) for _, c, v in decodes] == [(first, 1), (other, 1), (first, 1)]


def test_a_new_version_in_force_is_decoded_afresh(db: Database, clock: FixedClock,
                                                  decodes: list[tuple[Session, int, int]]) -> None:
    plan = load_plan_file(SEED)
    cid = launch(db, clock, plan)
    amended = dataclasses.replace(plan, name="少云镇整改行动（修订）")
    with db.transaction() as s:
        assert load_plan_of(s, cid) == plan
        s.add(PlanVersion(campaign_id=cid, version=2, plan=encode_plan(amended), source="",
                          created_at=clock.now(), created_by="county", note="调整名称"))
        campaign = s.get(Campaign, cid)
        assert campaign is not None
        campaign.plan_version = 2
        s.flush()
        assert load_plan_of(s, cid) == amended
    assert [(c, v) for _, c, v in decodes] == [(cid, 1), (cid, 2)]
    with db.transaction() as s:
        assert load_plan_of(s, cid).name == "少云镇整改行动（修订）"


def test_a_missing_campaign_or_version_is_named(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock, load_plan_file(SEED))
    with db.transaction() as s, pytest.raises(NotFound, match="行动不存在：编号 999"):
        load_plan_of(s, 999)
    with db.transaction() as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None
        campaign.plan_version = 7
        s.flush()
        with pytest.raises(NotFound, match="没有第 7 版方案"):
            load_plan_of(s, cid)
        s.rollback()


def test_the_migration_keeps_each_launched_plan_as_its_first_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)  # migrations/env.py connects to it
    command.upgrade(alembic_config(url), "0001")
    stored = encode_plan(load_plan_file(SEED))
    old = Database(url)
    with old.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO campaign (id, name, issuer, document_number, notice_prefix, plan,"
            " plan_source, launched_at, launched_by, problem_seq, version) VALUES (5, '少云', '镇',"
            " '少云发', '少云督', :plan, '# yaml', '2022-09-01 01:00:00', 'county', 0, 1)"),
            {"plan": json.dumps(stored)})
        conn.execute(text("INSERT INTO town (campaign_id, code, name) VALUES (5, 't1', '少云镇')"))
    old.migrate()  # what every start does: 0002 copies the campaign table, 0003 alters it
    with old.transaction() as s:
        version = s.scalars(select(PlanVersion)).one()
        assert (version.campaign_id, version.version, version.source) == (5, 1, "# yaml")
        assert version.created_at == dt.datetime(2022, 9, 1, 1, 0, tzinfo=dt.UTC)
        assert version.plan == stored
        assert load_plan_of(s, 5) == load_plan_file(SEED)
        # Copying or altering the campaign table must not cascade into the rows hanging off it.
        assert s.scalar(text("SELECT name FROM town WHERE campaign_id = 5")) == "少云镇"
    command.downgrade(alembic_config(url), "0001")  # through alembic's own entry, env.py
    with old.engine.connect() as conn:
        plan, source = conn.execute(text("SELECT plan, plan_source FROM campaign")).one()
    assert (json.loads(plan), source) == (stored, "# yaml")
    with old.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM town")).scalar() == 1
    old.dispose()


def test_the_web_keeps_a_plan_per_version_and_follows_a_new_one(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from duban.web import pages
    from duban.web.cache import SlowResultCache

    plan = load_plan_file(SEED)
    cid = launch(db, clock, plan)
    decoded: list[int] = []
    real = pages.load_plan_version

    def counting(session: Session, campaign_id: int, version: int) -> Plan:
        decoded.append(version)
        return real(session, campaign_id, version)

    monkeypatch.setattr(pages, "load_plan_version", counting)
    st = SimpleNamespace(db=db, cache=SlowResultCache(ttl=60))
    today = clock.now().date()
    first = pages.rules_of(st, cid, today)  # type: ignore[arg-type]
    assert first.plan == plan and pages.rules_of(st, cid, today).plan is first.plan  # type: ignore[arg-type]
    assert decoded == [1]
    amended = dataclasses.replace(plan, name="少云镇整改行动（修订）")
    with db.transaction() as s:
        s.add(PlanVersion(campaign_id=cid, version=2, plan=encode_plan(amended), source="",
                          created_at=clock.now(), created_by="county"))
        campaign = s.get(Campaign, cid)
        assert campaign is not None
        campaign.plan_version = 2
    assert pages.rules_of(st, cid, today).plan == amended  # type: ignore[arg-type]
    assert decoded == [1, 2]
