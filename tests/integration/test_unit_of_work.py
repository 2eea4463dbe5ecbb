"""The unit of work: it rolls back unless the edge commits; tests run inside one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, update

from duban.domain.clock import FixedClock
from duban.domain.errors import ConflictError
from duban.services.database import Database
from duban.services.root import Root, build_root
from models import Campaign, tables
from tests.orchestration.helpers import launch


def _campaigns(db: Database) -> int:
    with db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Campaign)) or 0)


def test_work_not_committed_is_rolled_back(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    with db.unit_of_work() as uow:
        row = uow.session.get(Campaign, cid)
        assert row is not None
        uow.session.delete(row)
        uow.session.flush()
        assert uow.session.get(Campaign, cid) is None
    assert _campaigns(db) == 1


def test_an_error_rolls_back_even_committed_work_after_the_commit(db: Database,
                                                                   clock: FixedClock) -> None:
    cid = launch(db, clock)
    with pytest.raises(RuntimeError), db.unit_of_work() as uow:
        uow.session.execute(update(Campaign).where(Campaign.id == cid).values(name="甲"))
        uow.commit()
        uow.session.execute(update(Campaign).where(Campaign.id == cid).values(name="乙"))
        raise RuntimeError("boom")
    with db.unit_of_work() as uow:
        assert uow.session.scalar(select(Campaign.name).where(Campaign.id == cid)) == "甲"


def test_after_commit_runs_once_and_only_after_a_commit(db: Database, clock: FixedClock) -> None:
    launch(db, clock)
    calls: list[str] = []
    with db.unit_of_work() as uow:
        uow.after_commit(lambda: calls.append("dropped"))
    assert calls == []
    with db.unit_of_work() as uow:
        uow.after_commit(lambda: calls.append("rolled back"))
        uow.rollback()
        uow.after_commit(lambda: calls.append("woken"))
        assert calls == []
        uow.commit()
        uow.commit()
    assert calls == ["woken"]


def test_a_stale_version_is_a_conflict_and_changes_nothing(committed_db: Database,
                                                           clock: FixedClock) -> None:
    # Two connections, as in production: in the rolled-back fixture every unit of work nests
    # inside the test's one transaction, so the outer unit's rollback would undo the other's.
    db = committed_db
    cid = launch(db, clock)
    with pytest.raises(ConflictError, match="已被他人同时修改"), db.unit_of_work() as uow:
        mine = uow.session.get_one(Campaign, cid)
        with db.unit_of_work() as other:  # someone else changes the row first and commits
            other.session.get_one(Campaign, cid).name = "他人的修改"
            other.commit()
        mine.name = "过期的修改"
        uow.commit()
    with db.unit_of_work() as uow:
        row = uow.session.get_one(Campaign, cid)
        assert (row.name, row.version) == ("他人的修改", 2)


def test_the_root_opens_units_of_work_on_its_database(db: Database, clock: FixedClock) -> None:
    root = build_root(db=db, clock=clock)
    assert isinstance(root, Root) and root.db is db and root.clock is clock
    launch(db, clock)
    with root.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert root.at(FixedClock(clock.now())).db is db


def test_a_test_leaves_nothing_behind(db: Database, clock: FixedClock) -> None:
    """What this test commits is visible inside it and invisible to any other connection."""
    launch(db, clock)
    assert _campaigns(db) == 1
    outside = create_engine(db.engine.url)
    try:
        with outside.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(Campaign)) == 0
    finally:
        outside.dispose()


def _core_then_orm(db: Database, cid: int, name: str, *, commit: bool) -> None:
    """Rename the campaign through the Core table, then stamp its closer through the ORM."""
    with db.unit_of_work() as uow:
        uow.connection.execute(update(tables.campaign).where(tables.campaign.c.id == cid)
                               .values(name=name))
        uow.session.get_one(Campaign, cid).closed_by = name
        if commit:
            uow.commit()


def _name_and_closer(db: Database, cid: int) -> tuple[str, str | None]:
    with db.unit_of_work() as uow:
        row = uow.connection.execute(select(tables.campaign.c.name, tables.campaign.c.closed_by)
                                     .where(tables.campaign.c.id == cid)).one()
        return row.name, row.closed_by


def _one_transaction(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    before = _name_and_closer(db, cid)
    _core_then_orm(db, cid, "甲", commit=False)
    assert _name_and_closer(db, cid) == before  # neither the Core nor the ORM change stayed
    _core_then_orm(db, cid, "乙", commit=True)
    assert _name_and_closer(db, cid) == ("乙", "乙")
    with db.unit_of_work() as uow:  # the unit goes on after a commit, on both paths
        uow.connection.execute(update(tables.campaign).where(tables.campaign.c.id == cid)
                               .values(name="丙"))
        uow.session.get_one(Campaign, cid).closed_by = "丙"
        uow.commit()
        uow.session.get_one(Campaign, cid).closed_by = "丁"
        uow.commit()
        uow.connection.execute(update(tables.campaign).where(tables.campaign.c.id == cid)
                               .values(name="戊"))
    assert _name_and_closer(db, cid) == ("丙", "丁")


def test_core_work_and_a_later_session_are_one_transaction(db: Database,
                                                            clock: FixedClock) -> None:
    _one_transaction(db, clock)


def test_core_work_and_a_later_session_are_one_transaction_on_the_engine(
        committed_db: Database, clock: FixedClock) -> None:
    # On the engine, as in production (db runs every unit inside the test's transaction).
    _one_transaction(committed_db, clock)


def _core_only(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    rename = update(tables.campaign).where(tables.campaign.c.id == cid)
    with db.unit_of_work() as uow:
        uow.connection.execute(rename.values(name="丙"))
    assert _name_and_closer(db, cid)[0] != "丙"
    with db.unit_of_work() as uow:
        uow.connection.execute(rename.values(name="丁"))
        uow.commit()
        uow.connection.execute(rename.values(name="戊"))  # after a commit, a new transaction
    assert _name_and_closer(db, cid)[0] == "丁"


def test_a_core_only_unit_rolls_back_unless_committed_and_stays_usable(
        db: Database, clock: FixedClock) -> None:
    _core_only(db, clock)


def test_a_core_only_unit_rolls_back_unless_committed_on_the_engine(
        committed_db: Database, clock: FixedClock) -> None:
    _core_only(committed_db, clock)


def test_core_statements_see_the_sessions_pending_changes(db: Database,
                                                          clock: FixedClock) -> None:
    cid = launch(db, clock)
    with db.unit_of_work() as uow:
        row = uow.session.get(Campaign, cid)
        assert row is not None
        row.name = "未刷新的改名"  # pending in the session, not flushed
        name = uow.connection.scalar(select(tables.campaign.c.name)
                                     .where(tables.campaign.c.id == cid))
    assert name == "未刷新的改名"
