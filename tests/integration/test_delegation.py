"""Bulk reassignment and substitutes (代理): audited, in one transaction, within their dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.errors import ConflictError, NotFound, PermissionDenied
from duban.domain.lifecycle import Action, GuardFailed, Payload, Role, Status
from duban.services import moves
from duban.services.actors import add_user
from duban.services.database import Database
from duban.services.delegation import (
    DelegationError,
    delegation_log,
    end_substitute,
    list_substitutes,
    reassign_bulk,
    set_substitute,
)
from duban.services.problems import audit_trail, co_offices_of
from models import AuditEvent, DelegationEvent, Problem, ProblemCoOffice
from tests.support import photo, seed_002_with_housing_problems

pytestmark = pytest.mark.usefixtures("data_dir")


def setup(db: Database, clock: FixedClock, n: int = 5) -> tuple[int, list[int]]:
    """Seed 002 with n housing problems (lead 县住建局 zjj) and the users who move them."""
    campaign_id, ids = seed_002_with_housing_problems(db, clock, n)
    db.run(add_user, clock, username="zjj1", name="住建局张三", role=Role.OFFICE, office="zjj")
    db.run(add_user, clock, username="slj1", name="水利局赵六", role=Role.OFFICE, office="slj")
    db.run(add_user, clock, username="county", name="县巩固办李四", role=Role.COUNTY)
    db.run(add_user, clock, username="ducha", name="督导组王五", role=Role.SUPERVISOR)
    return campaign_id, ids


def statuses(db: Database, ids: list[int]) -> dict[int, tuple[str, str | None]]:
    with db.transaction() as s:
        return {pid: (st, office) for pid, st, office in s.execute(
            select(Problem.id, Problem.status, Problem.lead_office).where(Problem.id.in_(ids)))}


def test_reassign_all_moves_open_problems_and_audits_each(db: Database,
                                                          clock: FixedClock) -> None:
    campaign_id, ids = setup(db, clock, 5)
    # ids[0] stays 已交办; ids[1] 整改中; ids[2] 申请改派; ids[3] 待复核; ids[4] 已销号.
    for pid in ids[1:]:
        db.run(moves.apply, clock, "zjj1", pid, Action.ACCEPT, Payload())
    db.run(moves.apply, clock, "zjj1", ids[2], Action.DISPUTE, Payload(note="不属本局职责"))
    for pid in ids[3:]:
        db.run(moves.apply, clock, "zjj1", pid, Action.SUBMIT, Payload(note="已改"), files=[photo()])
    db.run(moves.apply, clock, "ducha", ids[4], Action.PASS_REVIEW, Payload())
    db.run(moves.apply, clock, "county", ids[4], Action.CLOSE, Payload())

    with pytest.raises(PermissionDenied, match="批量改派须由县级办公室办理"):
        db.run(reassign_bulk, clock, campaign_id, "zjj", "slj", "ducha", "机构调整")
    with pytest.raises(DelegationError, match="须填写说明"):
        db.run(reassign_bulk, clock, campaign_id, "zjj", "slj", "county", " ")
    with pytest.raises(NotFound, match="责任办室未定义：nowhere"):
        db.run(reassign_bulk, clock, campaign_id, "zjj", "nowhere", "county", "机构调整")
    with pytest.raises(DelegationError, match="不能改派：待复核"):
        db.run(reassign_bulk, clock, campaign_id, "zjj", "slj", "county", "机构调整",
                      statuses=[Status.SUBMITTED])

    result = db.run(reassign_bulk, clock, campaign_id, "zjj", "slj", "county", "机构调整，职能划转")
    assert result.moved == 3 and sorted(result.problem_ids) == ids[:3]
    assert result.left_behind == {"submitted": 1}
    assert "待复核 1 个" in result.describe()
    after = statuses(db, ids)
    assert [after[i] for i in ids] == [("routed", "slj"), ("routed", "slj"), ("routed", "slj"),
                                       ("submitted", "zjj"), ("closed", "zjj")]
    for pid in ids[:3]:
        _, events = db.run(audit_trail, pid)
        last = events[-1]
        assert (last.action, last.actor, last.note) == ("reassign", "county", "机构调整，职能划转")
        assert last.data == {"from_office": "zjj", "office": "slj"}
    (logged,) = db.run(delegation_log, campaign_id=campaign_id)
    assert (logged.kind, logged.office_code, logged.to_office, logged.actor) == (
        "reassign_all", "zjj", "slj", "county")
    assert logged.data["moved"] == 3 and logged.kind_label == "批量改派"
    # The new office signs for what it received.
    db.run(moves.apply, clock, "slj1", ids[0], Action.ACCEPT, Payload())


def test_a_replaced_co_office_is_replaced_everywhere_open(db: Database,
                                                          clock: FixedClock) -> None:
    campaign_id, ids = setup(db, clock, 3)
    co = set(db.run(co_offices_of, ids[0]))
    town_office = next(c for c in co if c.startswith("gov-"))
    with db.transaction() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    result = db.run(reassign_bulk, clock, campaign_id, town_office, "slj", "county", "乡镇机构改革",
                           statuses=[Status.ROUTED])
    assert result.moved == 0 and result.co_office_moved == 3
    for pid in ids:
        assert set(db.run(co_offices_of, pid)) == (co - {town_office}) | {"slj"}
    with db.transaction() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "reassign_co_office")
                           ).all()
        assert len(events) == 3 and s.scalar(
            select(func.count()).select_from(AuditEvent)) == before + 3
        versions = set(s.scalars(select(Problem.version).where(Problem.id.in_(ids))))
        assert versions == {2}  # bumped, so a stale editor's write is refused
        assert s.scalar(select(func.count()).select_from(ProblemCoOffice)
                        .where(ProblemCoOffice.office_code == town_office)) == 0


def test_reassign_all_is_one_transaction(db: Database, clock: FixedClock,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    campaign_id, ids = setup(db, clock, 3)
    real = moves.move_in
    calls: list[int] = []

    def failing_third(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise ConflictError("模拟：第三个问题已被他人修改")
        return real(*args, **kwargs)

    monkeypatch.setattr(moves, "move_in", failing_third)
    with pytest.raises(ConflictError):
        db.run(reassign_bulk, clock, campaign_id, "zjj", "slj", "county", "调整")
    assert {v for v in statuses(db, ids).values()} == {("routed", "zjj")}
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.action == "reassign")) == 0
        assert s.scalar(select(func.count()).select_from(DelegationEvent)) == 0


def test_a_substitute_acts_only_within_its_dates(db: Database) -> None:
    monday = FixedClock(dt.datetime(2022, 9, 26, 9, 0, tzinfo=CHINA_TZ))
    _, ids = setup(db, monday, 3)
    # 水利局赵六 stands in for 住建局 from Wednesday to Friday.
    sub_id = db.run(set_substitute, monday, "zjj", "slj1", dt.date(2022, 9, 28),
                            dt.date(2022, 9, 30), "住建局张三外出学习", "county")
    with pytest.raises(GuardFailed, match="牵头责任办室"):  # Monday: not yet
        db.run(moves.apply, monday, "slj1", ids[0], Action.ACCEPT, Payload())
    wednesday = FixedClock(dt.datetime(2022, 9, 28, 9, 0, tzinfo=CHINA_TZ))
    p = db.run(moves.apply, wednesday, "slj1", ids[0], Action.ACCEPT, Payload()).problem
    assert p.status == Status.RECTIFYING
    _, events = db.run(audit_trail, ids[0])
    assert events[-1].actor == "slj1"  # the substitute signs in their own name
    saturday = FixedClock(dt.datetime(2022, 10, 1, 9, 0, tzinfo=CHINA_TZ))
    with pytest.raises(GuardFailed, match="牵头责任办室"):  # after the period
        db.run(moves.apply, saturday, "slj1", ids[1], Action.ACCEPT, Payload())
    (row,) = db.run(list_substitutes, on=dt.date(2022, 9, 29))
    assert (row.id, row.username, row.office_code, row.granted_by) == (
        sub_id, "slj1", "zjj", "county")
    assert db.run(list_substitutes, on=dt.date(2022, 10, 1)) == []

    # Ended on Thursday: from Thursday on the substitute no longer acts.
    thursday = FixedClock(dt.datetime(2022, 9, 29, 8, 0, tzinfo=CHINA_TZ))
    ended = db.run(end_substitute, thursday, sub_id, "county", "张三提前返岗")
    assert ended.ends_on == dt.date(2022, 9, 28) and not ended.cancelled
    with pytest.raises(GuardFailed, match="牵头责任办室"):
        db.run(moves.apply, thursday, "slj1", ids[1], Action.ACCEPT, Payload())
    with pytest.raises(DelegationError, match="已于 2022-09-28 结束"):
        db.run(end_substitute, thursday, sub_id, "county")
    log = db.run(delegation_log, office="zjj")
    assert [(e.kind, e.subject, e.actor) for e in log] == [
        ("substitute_end", "slj1", "county"), ("substitute_add", "slj1", "county")]
    assert log[0].data == {"ends_on_was": "2022-09-30", "ends_on": "2022-09-28"}
    assert log[1].note == "住建局张三外出学习"


def test_substitute_rules(db: Database, clock: FixedClock) -> None:
    setup(db, clock, 1)
    d1, d2 = dt.date(2022, 9, 27), dt.date(2022, 9, 30)
    with pytest.raises(PermissionDenied, match="设置代理须由县级办公室办理"):
        db.run(set_substitute, clock, "zjj", "slj1", d1, d2, "外出", "zjj1")
    with pytest.raises(DelegationError, match="只有责任办室用户可以代理"):
        db.run(set_substitute, clock, "zjj", "ducha", d1, d2, "外出", "county")
    with pytest.raises(DelegationError, match="无须代理"):
        db.run(set_substitute, clock, "zjj", "zjj1", d1, d2, "外出", "county")
    with pytest.raises(DelegationError, match="不能早于开始日期"):
        db.run(set_substitute, clock, "zjj", "slj1", d2, d1, "外出", "county")
    with pytest.raises(DelegationError, match="已过"):
        db.run(set_substitute, clock, "zjj", "slj1", dt.date(2022, 9, 1), dt.date(2022, 9, 2),
                       "外出", "county")
    with pytest.raises(DelegationError, match="须填写原因"):
        db.run(set_substitute, clock, "zjj", "slj1", d1, d2, " ", "county")
    with pytest.raises(NotFound, match="责任办室未定义"):
        db.run(set_substitute, clock, "nowhere", "slj1", d1, d2, "外出", "county")
    db.run(set_substitute, clock, "zjj", "slj1", d1, d2, "外出", "county")
    with pytest.raises(DelegationError, match="期间不能重叠"):
        db.run(set_substitute, clock, "zjj", "slj1", d2, d2 + dt.timedelta(days=3), "再次", "county")


def test_the_delegation_log_is_append_only(db: Database, clock: FixedClock) -> None:
    setup(db, clock, 1)
    db.run(set_substitute, clock, "zjj", "slj1", dt.date(2022, 9, 27), dt.date(2022, 9, 30), "外出",
                   "county")
    with pytest.raises(PermissionError), db.transaction() as s:
        event = s.scalar(select(DelegationEvent))
        assert event is not None
        event.note = "改写"
        s.flush()
    with pytest.raises(PermissionError), db.transaction() as s:
        s.delete(s.scalar(select(DelegationEvent)))
        s.flush()
