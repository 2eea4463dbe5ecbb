"""The bulk writer stores exactly what SQLAlchemy would, inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, insert, select, text

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.services.bulk import (
    BULK_CACHE_KIB,
    IN_CHUNK,
    insert_rows,
    reserve_ids,
    sqlite_bulk_cache,
    sqlite_in,
    where_in,
)
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from models import AuditEvent, Household, Problem
from tests.conftest import PLANS

AUDIT = cast(Table, AuditEvent.__table__)
PROBLEM = cast(Table, Problem.__table__)
HOUSEHOLD = cast(Table, Household.__table__)
AT = dt.datetime(2022, 9, 26, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def launch(db: Database, clock: FixedClock) -> int:
    path = next(PLANS.glob("seed-003*.yaml"))
    return db.run(launch_campaign, clock, load_plan_file(path), path.read_text(encoding="utf-8"),
                           "county")


def problem(campaign_id: int, pid: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid, "campaign_id": campaign_id, "code": f"W{pid:06d}", "natural_key": f"k{pid}",
        "source": "入户排查", "category": "住房安全", "town_code": "t", "village_code": None,
        "household_id": None, "description": "房屋漏雨", "found_by": "张三",
        "found_on": dt.date(2022, 9, 20), "detection_rule": None, "facts": None, "tier": None,
        "created_at": AT, "updated_at": AT, "reopen_count": 0, "version": 1,
        "status": "routed", "lead_office": "住建", "routed_at": AT,
        "deadline": dt.date(2022, 10, 20), "deadline_basis": "10个工作日",
        "unrouted_reason": None, **extra,
    }  # fmt: skip


def stored(db: Database, table: str, order: str = "id") -> list[tuple[Any, ...]]:
    """The rows as the database holds them, read without SQLAlchemy's result processing."""
    with db.transaction() as session:
        return [tuple(r) for r in session.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]


def test_rows_are_stored_as_sqlalchemy_stores_them(db: Database, clock: FixedClock) -> None:
    campaign_id = launch(db, clock)
    facts = {"收入": 5200, "线": 6900}
    with db.transaction() as session:
        ids = reserve_ids(session, PROBLEM, 4)
        core, bulk = [problem(campaign_id, i) for i in ids[:2]], [
            problem(campaign_id, i) for i in ids[2:]]
        core[1]["facts"] = bulk[1]["facts"] = facts
        session.execute(insert(PROBLEM), core)
        columns = list(bulk[0])
        assert insert_rows(session, PROBLEM, columns, [tuple(r.values()) for r in bulk]) == 2
        event = {"campaign_id": campaign_id, "problem_id": ids[0], "action": "record",
                 "from_status": None, "to_status": "unrouted", "actor": "clerk",
                 "actor_role": "system", "actor_name": "", "at": AT, "note": "排查人：张三",
                 "evidence": [], "data": {"rule": "housing"}}
        session.execute(insert(AUDIT), [event])
        insert_rows(session, AUDIT, list(event), [tuple(event.values())])
    rows = stored(db, "problem")
    differing = {"id", "code", "natural_key"}
    names = [c.name for c in PROBLEM.columns]
    same = [i for i, n in enumerate(names) if n not in differing]
    assert [rows[0][i] for i in same] == [rows[2][i] for i in same]  # facts None both ways
    assert [rows[1][i] for i in same] == [rows[3][i] for i in same]  # facts a dict both ways
    events = stored(db, "audit_event")
    assert events[0][1:] == events[1][1:]
    with db.transaction() as session:  # and reading them back through the ORM agrees
        loaded = session.scalars(select(Problem).order_by(Problem.id)).all()
        assert [p.facts for p in loaded] == [None, facts, None, facts]
        assert {p.created_at for p in loaded} == {AT.astimezone(dt.UTC)}


def test_a_failed_transaction_keeps_none_of_the_bulk_rows(db: Database, clock: FixedClock) -> None:
    campaign_id = launch(db, clock)
    with pytest.raises(RuntimeError), db.transaction() as session:
        rows = [problem(campaign_id, i) for i in reserve_ids(session, PROBLEM, 3)]
        insert_rows(session, PROBLEM, list(rows[0]), [tuple(r.values()) for r in rows])
        raise RuntimeError("a later step fails")
    assert stored(db, "problem") == []


def test_reserved_ids_do_not_collide_with_later_inserts(db: Database, clock: FixedClock) -> None:
    campaign_id = launch(db, clock)
    with db.transaction() as session:
        ids = reserve_ids(session, PROBLEM, 5)
        assert len(set(ids)) == 5
        rows = [problem(campaign_id, i) for i in ids]
        insert_rows(session, PROBLEM, list(rows[0]), [tuple(r.values()) for r in rows])
    with db.transaction() as session:  # the database's own numbering carries on past them
        later = problem(campaign_id, 0)
        del later["id"]
        later.update(code="W999999", natural_key="later")
        new_id = session.execute(insert(PROBLEM).returning(PROBLEM.c.id), [later]).scalar_one()
        assert new_id not in ids
        assert reserve_ids(session, PROBLEM, 0) == []
        assert min(reserve_ids(session, PROBLEM, 2)) > new_id


def _add_households(db: Database, campaign_id: int, rows: list[tuple[str, str]]) -> None:
    """Households (id, village) of one town, otherwise alike, by one bulk insert."""
    columns = ("campaign_id", "household_id", "town_code", "village_code", "head", "members",
               "category", "monitoring_type", "income_per_person", "house_grade", "tap_water",
               "school_age_children", "children_out_of_school", "medical_insurance",
               "sanitary_toilet")
    with db.transaction() as session:
        insert_rows(session, HOUSEHOLD, columns, [
            (campaign_id, hid, "t", village, "户主", 3, "ordinary", None, 9000, "A", True,
             0, 0, True, True) for hid, village in rows])


def test_where_in_finds_every_match_past_one_chunk(db: Database, clock: FixedClock) -> None:
    campaign_id = launch(db, clock)
    n = IN_CHUNK * 2 + 17
    _add_households(db, campaign_id, [(f"H{i:06d}", "v") for i in range(n)])
    wanted = [f"H{i:06d}" for i in range(0, n, 2)] + ["nobody"]
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == n
        stmt = select(Household.household_id, Household.tap_water).where(
            Household.campaign_id == campaign_id)
        found = dict(where_in(session, stmt, Household.household_id, wanted))
        assert len(found) == len(wanted) - 1 and "nobody" not in found
        assert set(found.values()) == {True}
        assert list(where_in(session, stmt, Household.household_id, [])) == []


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the driver's IN lists: SQLite's path
def test_sqlite_in_finds_every_match_past_one_chunk(db: Database, clock: FixedClock) -> None:
    campaign_id = launch(db, clock)
    n = IN_CHUNK * 2 + 17
    _add_households(db, campaign_id, [(f"H{i:06d}", f"v{i}") for i in range(n)])
    wanted = [f"H{i:06d}" for i in range(0, n, 2)] + ["nobody"]
    sql = ("SELECT household_id, village_code FROM household WHERE campaign_id = ? "
           "AND household_id IN ({marks})")
    with db.transaction() as session:
        found = dict(sqlite_in(session, sql, (campaign_id,), wanted))
        assert found == {f"H{i:06d}": f"v{i}" for i in range(0, n, 2)}
        assert dict(sqlite_in(session, sql, (campaign_id + 1,), wanted)) == {}
        assert list(sqlite_in(session, sql, (campaign_id,), [])) == []


def _estimated_rows(db: Database, table: str) -> float | None:
    """The planner's row estimate of `table` on PostgreSQL (None elsewhere)."""
    if db.engine.dialect.name != "postgresql":
        return None
    with db.transaction() as session:
        return float(session.scalar(text(f"SELECT reltuples FROM pg_class WHERE relname = '{table}'")))


def test_statistics_are_refreshed_after_a_commit_only(db: Database, clock: FixedClock) -> None:
    campaign_id = launch(db, clock)
    before = _estimated_rows(db, "problem")
    with db.unit_of_work() as uow:  # rolled back: nothing analyzed
        rows = [problem(campaign_id, i) for i in reserve_ids(uow.session, PROBLEM, 37)]
        insert_rows(uow.session, PROBLEM, list(rows[0]), [tuple(r.values()) for r in rows])
        uow.analyze_after_commit("problem")
    assert _estimated_rows(db, "problem") == before
    with db.unit_of_work() as uow:
        rows = [problem(campaign_id, i) for i in reserve_ids(uow.session, PROBLEM, 37)]
        insert_rows(uow.session, PROBLEM, list(rows[0]), [tuple(r.values()) for r in rows])
        uow.analyze_after_commit("problem")
        assert _estimated_rows(db, "problem") == before  # not before the commit
        uow.commit()
    assert len(stored(db, "problem")) == 37
    if db.engine.dialect.name == "postgresql":
        assert before != 37.0
        assert _estimated_rows(db, "problem") == 37.0  # the planner now knows the rows


def test_where_in_finds_text_that_needs_quoting(db: Database, clock: FixedClock) -> None:
    # PostgreSQL gets text values as one array literal: quotes, backslashes, braces, commas,
    # spaces, an empty string and the word NULL must each come back as themselves.
    campaign_id = launch(db, clock)
    odd = ['a"b', "c\\d", "{e}", "f,g", " h ", "", "NULL", "户编号\t1", '\\"', "i'j"]
    _add_households(db, campaign_id, [(hid, f"v{i}") for i, hid in enumerate([*odd, "plain", 'a"b"'])])
    with db.transaction() as session:
        stmt = select(Household.household_id, Household.village_code).where(
            Household.campaign_id == campaign_id)
        found = dict(where_in(session, stmt, Household.household_id, [*odd, "missing", "a"]))
    assert found == {hid: f"v{i}" for i, hid in enumerate(odd)}


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # SQLite's page cache
def test_sqlite_bulk_inserts_raise_the_page_cache_for_their_rows_only(
        db: Database, clock: FixedClock) -> None:
    campaign_id = launch(db, clock)
    with db.transaction() as session:
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        before = cursor.execute("PRAGMA cache_size").fetchone()[0]
        assert -before < BULK_CACHE_KIB  # the default (2,000 KiB)
        with sqlite_bulk_cache(cursor):
            assert cursor.execute("PRAGMA cache_size").fetchone()[0] == -BULK_CACHE_KIB
        assert cursor.execute("PRAGMA cache_size").fetchone()[0] == before
        with pytest.raises(RuntimeError), sqlite_bulk_cache(cursor):
            raise RuntimeError("the insert fails")
        assert cursor.execute("PRAGMA cache_size").fetchone()[0] == before
        rows = [problem(campaign_id, i) for i in reserve_ids(session, PROBLEM, 3)]
        assert insert_rows(session, PROBLEM, list(rows[0]), [tuple(r.values()) for r in rows]) == 3
        assert cursor.execute("PRAGMA cache_size").fetchone()[0] == before
        cursor.execute(f"PRAGMA cache_size = -{2 * BULK_CACHE_KIB}")  # a larger one stays
        with sqlite_bulk_cache(cursor):
            assert cursor.execute("PRAGMA cache_size").fetchone()[0] == -2 * BULK_CACHE_KIB
        cursor.execute("PRAGMA cache_size = 100")  # in pages: 100 × 4 KiB is below
        with sqlite_bulk_cache(cursor):
            assert cursor.execute("PRAGMA cache_size").fetchone()[0] == -BULK_CACHE_KIB
        assert cursor.execute("PRAGMA cache_size").fetchone()[0] == 100
        cursor.execute(f"PRAGMA cache_size = {before}")
        cursor.close()


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # COPY's text of dates and times
def test_dates_and_times_go_to_copy_as_their_own_values_would(db: Database) -> None:
    from sqlalchemy import Column, Date, DateTime, Integer, MetaData, Time

    from duban.services.bulk import _insert, insert_columns

    metadata = MetaData()
    tables = [Table(f"bulk_times_{name}", metadata, Column("n", Integer),
                    Column("naive", DateTime), Column("aware", DateTime(timezone=True)),
                    Column("day", Date), Column("clock", Time)) for name in ("as_is", "bulk")]
    east8, utc = dt.timezone(dt.timedelta(hours=8)), dt.UTC
    day = dt.date(2022, 9, 20)
    # One instant at two offsets is one key of a dict, but not one text: into a column
    # without a zone PostgreSQL keeps the clock reading and drops the offset.
    same_instant = [dt.datetime(2022, 9, 26, 9, 30, tzinfo=east8),
                    dt.datetime(2022, 9, 26, 1, 30, tzinfo=utc)]
    rows = [(i, when, when, day, dt.time(8, 5, 3, 120)) for i, when in enumerate(same_instant)]
    rows += [(2, dt.datetime(2022, 9, 26, 9, 30, 15, 123456), AT, day, None),
             (3, None, None, None, dt.time(23, 59)), (4, AT, AT, dt.date(2023, 1, 1), None)]
    names = ["n", "naive", "aware", "day", "clock"]
    with db.transaction() as session:
        metadata.create_all(session.connection())
        _insert(session, tables[0], names, rows, None)  # psycopg's COPY of the values
        insert_columns(session, tables[1], names, [list(c) for c in zip(*rows, strict=True)])
        stored_as_is, stored_bulk = (
            [tuple(r) for r in session.execute(text(f"SELECT * FROM {t.name} ORDER BY n"))]
            for t in tables)
    assert stored_bulk == stored_as_is
    assert stored_bulk[0][1] != stored_bulk[1][1]  # the clock readings, as given


def test_settled_progress_is_heard_once_the_rows_are_written(db: Database,
                                                              clock: FixedClock) -> None:
    # A paced stage pauses in `progress`: settled, the rows reported are in the table by then
    # (on PostgreSQL one COPY per PROGRESS_EVERY rows, ended before the report).
    from duban.services.bulk import PROGRESS_EVERY

    campaign_id = launch(db, clock)
    heard: list[tuple[int, int | None]] = []
    with db.transaction() as session:
        rows = [problem(campaign_id, i)
                for i in reserve_ids(session, PROBLEM, 2 * PROGRESS_EVERY + 7)]

        def progress(n: int) -> None:
            # SQLite's executemany is still running here: its rows are written one by one.
            seen = (session.scalar(select(func.count()).select_from(PROBLEM))
                    if db.engine.dialect.name == "postgresql" else None)
            heard.append((n, seen))

        assert insert_rows(session, PROBLEM, list(rows[0]), [tuple(r.values()) for r in rows],
                           progress=progress, settled=True) == len(rows)
    reports = [PROGRESS_EVERY, 2 * PROGRESS_EVERY, len(rows)]
    assert [n for n, _ in heard] == reports
    if db.engine.dialect.name == "postgresql":
        assert [seen for _, seen in heard] == reports
    assert len(stored(db, "problem")) == len(rows)
