"""Deadline basis signed (签收): deadlines wait for the notice's 签收, then count from it."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace

import docx
from sqlalchemy import func, select

from duban.domain.clock import FixedClock
from duban.domain.lifecycle import Action, Payload, Role
from duban.domain.plan import CoOfficeNotice, CoOfficeNotices, DeadlineBasis, Plan
from duban.services import moves
from duban.services.actors import add_user
from duban.services.amendments import apply_amendment
from duban.services.database import Database
from duban.services.notices.issuing import issue_notices
from duban.services.notices.reading import notice_file
from duban.services.notices.receipts import acknowledge_notice
from duban.services.reminders import sweep
from models import AuditEvent, Problem, ReminderState
from tests.orchestration.helpers import add_problems, at, launch, make_plan

D = dt.date
PENDING = "默认：签收后5个工作日（待签收督办通知书后起算）"


def signed_plan(**deadlines: object) -> Plan:
    """The test plan with 5 working days counted from the 签收 of the notice."""
    plan = make_plan(working_days=5)
    # Villages (各村, the housing problems' co-offices) get notices of their own.
    own = replace(plan.notices, co_offices=CoOfficeNotices(village=CoOfficeNotice.OWN))
    return replace(plan, notices=own, deadlines=replace(
        plan.deadlines, basis=DeadlineBasis.SIGNED, **deadlines))


def problems(db: Database, ids: list[int]) -> list[Problem]:
    with db.transaction() as s:
        rows = s.scalars(select(Problem).where(Problem.id.in_(ids)).order_by(Problem.id)).all()
        s.expunge_all()
        return list(rows)


def users(db: Database, clock: FixedClock) -> None:
    db.run(add_user, clock, username="county", name="县办", role=Role.COUNTY)
    db.run(add_user, clock, username="jhb1", name="建环办甲", role=Role.OFFICE, office="jhb")
    db.run(add_user, clock, username="ny1", name="农业乙", role=Role.OFFICE, office="nyzx")


def test_deadlines_wait_for_the_signing_and_the_notice_says_so(db: Database,
                                                                clock: FixedClock) -> None:
    cid = launch(db, clock, signed_plan())
    ids = add_problems(db, clock, cid, 2)
    for p in problems(db, ids):
        assert (p.status, p.deadline, p.deadline_basis) == ("routed", None, PENDING)
    # The ladder leaves them alone until a deadline starts.
    result = db.run(sweep, clock, cid)
    assert result.armed == 0 and result.fired == 0
    notice = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")[0]
    assert notice.office_code == "jhb"
    document = docx.Document(io.BytesIO(db.run(notice_file, notice.id)))
    text = "\n".join(par.text for par in document.paragraphs)
    assert "2个问题的整改时限自你单位签收本通知书之日起算" in text
    cells = {c.text for t in document.tables for row in t.rows for c in row.cells}
    assert "签收后5个工作日" in cells


def test_signing_the_notice_dates_its_problems_in_the_same_unit(db: Database,
                                                                 clock: FixedClock) -> None:
    cid = launch(db, clock, signed_plan())
    users(db, clock)
    housing = add_problems(db, clock, cid, 2)
    water = add_problems(db, clock, cid, 1, category="water", tag="水")
    notices = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    by_office = {n.office_code: n for n in notices}
    # Signed on Wednesday 9/28: five working days on, across the National Day holiday
    # (10/1–10/7 rest, 10/8 and 10/9 adjusted working days), is 10/10.
    later = FixedClock(at(2022, 9, 28, 15))
    db.run(acknowledge_notice, later, by_office["jhb"].id, "jhb1")
    signed = problems(db, housing)
    assert [p.deadline for p in signed] == [D(2022, 10, 10)] * 2
    assert {p.deadline_basis for p in signed} == {"默认：5个工作日（自签收督办通知书之日起）"}
    assert problems(db, water)[0].deadline is None  # another office's notice: still waiting
    with db.transaction() as s:
        events = s.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.data).where(
            AuditEvent.problem_id == housing[0], AuditEvent.action == "start_deadline")).all()
    assert [(a, who) for a, who, _ in events] == [("start_deadline", "jhb1")]
    assert events[0][2]["signed_on"] == "2022-09-28" and events[0][2]["deadline"] == "2022-10-10"
    # Now the ladder chases them.
    assert db.run(sweep, later, cid).armed == 2
    # A co-office's 签收 starts nothing: the village's notice lists the housing problems too,
    # and they keep the date their lead's 签收 gave.
    villages = [n for n in notices if n.office_code not in ("jhb", "nyzx")]
    assert villages
    for n in villages:
        db.run(acknowledge_notice, FixedClock(at(2022, 9, 30)), n.id, "system")
    assert [p.deadline for p in problems(db, housing)] == [D(2022, 10, 10)] * 2


def test_the_office_signing_for_the_problem_itself_starts_it(db: Database,
                                                             clock: FixedClock) -> None:
    cid = launch(db, clock, signed_plan())
    users(db, clock)
    (pid,) = add_problems(db, clock, cid, 1, category="water")
    later = FixedClock(at(2022, 9, 27))
    db.run(moves.apply, later, "ny1", pid, Action.ACCEPT, Payload(note="签收"))
    (p,) = problems(db, [pid])
    assert p.status == "rectifying" and p.deadline == D(2022, 10, 9)
    assert p.deadline_basis == "默认：5个工作日（自签收督办通知书之日起）"


def test_a_notice_left_unsigned_is_deemed_signed_and_chased(db: Database,
                                                            clock: FixedClock) -> None:
    cid = launch(db, clock, signed_plan(deemed_signed_after_working_days=2))
    ids = add_problems(db, clock, cid, 2)
    # Issued Monday 9/26; deemed signed two working days on, Wednesday 9/28.
    db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    tuesday = db.run(sweep, FixedClock(at(2022, 9, 27)), cid)
    assert tuesday.deemed_signed == 0 and tuesday.unacknowledged == 3  # lead and 2 villages
    assert {p.deadline for p in problems(db, ids)} == {None}
    # The tick skipped Wednesday; on Thursday the deadlines count from Wednesday 9/28.
    thursday = db.run(sweep, FixedClock(at(2022, 9, 29)), cid)
    assert thursday.deemed_signed == 2 and thursday.armed == 2
    rows = problems(db, ids)
    assert {p.deadline for p in rows} == {D(2022, 10, 10)}
    assert {p.deadline_basis for p in rows} == {"默认：5个工作日（自督办通知书视为签收之日起）"}
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ReminderState).where(
            ReminderState.problem_id.in_(ids))) == 2
        actor, note = s.execute(select(AuditEvent.actor, AuditEvent.note).where(
            AuditEvent.problem_id == ids[0], AuditEvent.action == "start_deadline")).one()
    assert actor == "system" and "逾期未签收，视为签收" in note
    # Exactly once: a second sweep starts nothing again.
    assert db.run(sweep, FixedClock(at(2022, 9, 30)), cid).deemed_signed == 0


def test_an_amendment_recounts_from_the_signing_day(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock, signed_plan())
    users(db, clock)
    housing = add_problems(db, clock, cid, 1)
    water = add_problems(db, clock, cid, 1, category="water", tag="水")
    notices = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    jhb = next(n for n in notices if n.office_code == "jhb")
    db.run(acknowledge_notice, FixedClock(at(2022, 9, 27)), jhb.id, "jhb1")
    assert problems(db, housing)[0].deadline == D(2022, 10, 9)
    # Version 2 gives 3 working days from the 签收: the signed problem moves to 9/30 (counted
    # from 9/27, not from today), the one still waiting stays waiting.
    longer = replace(signed_plan(), deadlines=replace(signed_plan().deadlines,
                                                      default_working_days=3))
    today = FixedClock(at(2022, 9, 28))
    result = db.run(apply_amendment, today, cid, longer, "# v2", username="county",
                    note="时限调整", expect_version=1)
    assert [(m.code, m.to_date) for m in result.diff.deadline_moves] == [
        (problems(db, housing)[0].code, D(2022, 9, 30))]
    assert problems(db, water)[0].deadline is None
    # Version 3 counts from the day found: the waiting one gets its date.
    found = replace(longer, deadlines=replace(longer.deadlines, basis=DeadlineBasis.FOUND))
    result = db.run(apply_amendment, today, cid, found, "# v3", username="county",
                    note="改按发现之日起算", expect_version=2)
    assert problems(db, water)[0].deadline == D(2022, 9, 29)
    assert problems(db, water)[0].code in {m.code for m in result.diff.deadline_moves}
