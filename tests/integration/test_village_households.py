"""Households per village kept beside the register (migration 0028): every register write
recounts them in its own transaction, and the daily spot-check draw sizes its village strata
from them instead of counting the register."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import event, func, select, text

from duban.adapters.plan.yaml_file import load_plan_file, load_plan_text
from duban.domain.clock import FixedClock
from duban.domain.sampling import HouseholdRef, draw_spot_checks
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.intake import import_file, import_records
from duban.services.reviews import draw_daily_spot_checks, list_spot_checks, spot_check_draws
from duban.services.spot_strata import HouseholdStrata
from duban.synth import generate_for_plan, household_headers, iter_household_rows
from models import Household, VillageHouseholds
from models.tables import MARK_EVERY
from tests.conftest import PLANS
from tests.support import alembic_config, insert_old_campaign, with_seed_004_quota, write_xlsx

SEED_002 = PLANS / "seed-002-shenqiu.yaml"


def _launch(db: Database, clock: FixedClock) -> int:
    """Seed 002's campaign with seed 004's spot-check quota (households drawn every day)."""
    text = with_seed_004_quota(SEED_002.read_text(encoding="utf-8"))
    plan = load_plan_text(text, base_dir=SEED_002.parent)
    return int(db.run(launch_campaign, clock, plan, text, "county"))


def _kept(db: Database, campaign_id: int) -> dict[tuple[str, str], int]:
    with db.transaction() as s:
        return {(t, v): n for t, v, n in s.execute(
            select(VillageHouseholds.town_code, VillageHouseholds.village_code,
                   VillageHouseholds.households)
            .where(VillageHouseholds.campaign_id == campaign_id))}


def _kept_rows(db: Database, campaign_id: int
               ) -> dict[tuple[str, str], tuple[int, list[str]]]:
    with db.transaction() as s:
        return {(t, v): (n, marks) for t, v, n, marks in s.execute(
            select(VillageHouseholds.town_code, VillageHouseholds.village_code,
                   VillageHouseholds.households, VillageHouseholds.marks)
            .where(VillageHouseholds.campaign_id == campaign_id))}


def _counted(db: Database, campaign_id: int) -> dict[tuple[str, str], int]:
    with db.transaction() as s:
        return {(t, v): n for t, v, n in s.execute(
            select(Household.town_code, Household.village_code, func.count())
            .where(Household.campaign_id == campaign_id)
            .group_by(Household.town_code, Household.village_code))}


def test_every_register_write_recounts_its_villages(
        db: Database, clock: FixedClock, tmp_path: Path) -> None:
    campaign_id = _launch(db, clock)
    other = _launch(db, clock)  # another campaign's counts are left alone
    county = generate_for_plan(load_plan_file(SEED_002), "small", seed=11)
    rows = list(iter_household_rows(county))
    path = write_xlsx(tmp_path / "农户.xlsx", household_headers(county), rows, sheet="农户信息")
    db.run(import_file, clock, other, "households", path, imported_by="clerk")
    # A first import, written from the file's columns.
    db.run(import_file, clock, campaign_id, "households", path, imported_by="clerk")
    first = _kept(db, campaign_id)
    assert first == _counted(db, campaign_id) and sum(first.values()) == len(rows)
    # A re-import that moves a household to another village and adds one: recounted.
    moved, added = county.households[0], county.households[1]
    target = next(place for place in first if place != (moved.town, moved.village))
    changed = [dataclasses.replace(moved, town=target[0], village=target[1]),
               dataclasses.replace(added, household_id=f"{added.household_id}-新")]
    db.run(import_records, clock, campaign_id, households=changed, imported_by="clerk")
    after = _kept(db, campaign_id)
    assert after == _counted(db, campaign_id)
    assert after[target] == first[target] + (2 if (added.town, added.village) == target else 1)
    assert sum(after.values()) == len(rows) + 1
    assert _kept(db, other) == first  # the other campaign's register did not change


def test_the_draw_does_not_count_the_register(
        db: Database, clock: FixedClock, tmp_path: Path) -> None:
    campaign_id = _launch(db, clock)
    county = generate_for_plan(load_plan_file(SEED_002), "small", seed=11)
    db.run(import_records, clock, campaign_id, households=county.households,
           imported_by="clerk")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.lower().split()))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        ids = db.run(draw_daily_spot_checks, clock, campaign_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    drawn = [c for c in db.run(list_spot_checks, campaign_id, ids=ids) if c.kind == "household"]
    assert drawn  # households were drawn, each by its position in its village
    counting = [s for s in statements if "from household" in s and "count(" in s]
    assert counting == []
    assert any("from village_households" in s for s in statements)


def test_the_migration_counts_the_registers_already_imported(empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), "0027")
    old = Database(empty_url)
    rng = random.Random(3)
    # A village past two marks, its ids written in no order.
    large = [f"{rng.randrange(16**8):08x}-{n}" for n in range(2 * MARK_EVERY + 52)]
    rows = [(f"H{n}", town, village) for n, (town, village) in enumerate(
        [("t1", "v1"), ("t1", "v1"), ("t1", "v2"), ("t2", "v1")])]
    rows += [(h, "t3", "v9") for h in large]
    with old.engine.begin() as conn:
        insert_old_campaign(conn, 3)
        conn.execute(text(
            "INSERT INTO household (campaign_id, household_id, town_code, village_code,"
            " head, members, category, monitoring_type, income_per_person, house_grade,"
            " tap_water, school_age_children, children_out_of_school, medical_insurance,"
            " sanitary_toilet, facts) VALUES (3, :h, :t, :v, '张三', 3, 'ordinary', NULL,"
            " 9000, 'A', :y, 0, 0, :y, :y, '{}')"),
            [{"h": h, "t": town, "v": village, "y": True} for h, town, village in rows])
    command.upgrade(alembic_config(empty_url), "0028")
    assert _kept_rows(old, 3) == {("t1", "v1"): (2, ["H0"]), ("t1", "v2"): (1, ["H2"]),
                                  ("t2", "v1"): (1, ["H3"]),
                                  ("t3", "v9"): (len(large), sorted(large)[::MARK_EVERY])}
    command.downgrade(alembic_config(empty_url), "0027")
    with old.engine.connect() as conn:
        tables = conn.dialect.get_table_names(conn)
    assert "village_households" not in tables and "household" in tables
    old.dispose()


def _large_villages(db: Database, clock: FixedClock, campaign_id: int,
                    sizes: dict[tuple[str, str], int]) -> dict[tuple[str, str], list[str]]:
    """Villages of the given sizes, their 户编号 in no order the import sorts; the ids of each
    village as the database orders them (code points, as in memory)."""
    rng = random.Random(5)
    county = generate_for_plan(load_plan_file(SEED_002), "small", seed=11)
    like = county.households[0]
    made = [dataclasses.replace(like, household_id=f"{rng.randrange(16**8):08x}-{n}",
                                town=town, village=village)
            for (town, village), size in sizes.items() for n in range(size)]
    rng.shuffle(made)
    db.run(import_records, clock, campaign_id, households=made, imported_by="clerk")
    return {place: sorted(h.household_id for h in made if (h.town, h.village) == place)
            for place in sizes}


def test_a_drawn_position_is_found_from_its_villages_marks(
        db: Database, clock: FixedClock) -> None:
    campaign_id = _launch(db, clock)
    plan = load_plan_file(SEED_002)
    places = [(t.code, v.code) for t in plan.towns[:2] for v in t.villages[:2]][:3]
    sizes = dict(zip(places, (3 * MARK_EVERY + 17, MARK_EVERY, MARK_EVERY + 1), strict=True))
    ordered = _large_villages(db, clock, campaign_id, sizes)
    kept = _kept_rows(db, campaign_id)
    for place, ids in ordered.items():
        assert kept[place] == (len(ids), ids[::MARK_EVERY])
    big = places[0]
    # Checked recently: some before the second mark, the second mark itself, some after it.
    recent = {*ordered[big][3:40:3], ordered[big][MARK_EVERY], *ordered[big][600:700:9]}
    remaining = [h for h in ordered[big] if h not in recent]
    with db.transaction() as s:
        strata = HouseholdStrata(s, campaign_id, [(h, *big) for h in recent])
        assert strata.sizes()[big] == len(remaining)
        positions = sorted({*range(0, len(remaining), 7), MARK_EVERY - 1, MARK_EVERY,
                            MARK_EVERY + 1, 2 * MARK_EVERY - 1, 2 * MARK_EVERY,
                            len(remaining) - 1})
        assert [h.household_id for h in strata.pick(big, positions)] == \
            [remaining[i] for i in positions]
        small = places[1]  # one village exactly MARK_EVERY long: its last position
        assert strata.pick(small, [MARK_EVERY - 1])[0].household_id == ordered[small][-1]


def test_days_of_draws_over_large_villages_agree_with_the_sampler_in_memory(
        db: Database, clock: FixedClock) -> None:
    campaign_id = _launch(db, clock)
    plan = load_plan_text(with_seed_004_quota(SEED_002.read_text(encoding="utf-8")),
                          base_dir=SEED_002.parent)
    places = [(t.code, v.code) for t in plan.towns for v in t.villages[:1]][:6]
    ordered = _large_villages(db, clock, campaign_id,
                              dict.fromkeys(places, 2 * MARK_EVERY + 40))
    households = [HouseholdRef(h, t, v) for (t, v), ids in ordered.items() for h in ids]
    day = clock.now().date()
    checked: list[set[str]] = []
    for n in range(4):  # each day excludes the households of the two days before it
        today = day + dt.timedelta(days=n)
        ids = db.run(draw_daily_spot_checks, clock, campaign_id, day=today, recent_days=2)
        drawn = db.run(list_spot_checks, campaign_id, ids=ids, per_page=1000)
        seed = db.run(spot_check_draws, campaign_id)[-1].seed
        expected = draw_spot_checks(
            [], households, plan.review.groups, plan.review.quota, seed, today,
            households_checked=frozenset().union(*checked[-2:]),
            villages=[(t.code, v.code) for t in plan.towns for v in t.villages])
        mine = [(c.group, c.item_id) for c in drawn if c.kind == "household"]
        assert mine and mine == [(c.group, str(c.item_id)) for c in expected
                                 if c.kind.value == "household"]
        checked.append({item for _, item in mine})
