"""The deadline sweep: rungs fire once (by constraint), one digest per office, working hours."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections import Counter

import pytest
from docx import Document
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.lifecycle import Role
from duban.domain.plan import towns_addressee
from duban.domain.reminders import OpenItem, fire_date
from duban.services.actors import add_user
from duban.services.calendars import working_calendar
from duban.services.database import Database
from duban.services.notices.issuing import issue_notices
from duban.services.notices.reading import notice_file
from duban.services.notices.receipts import acknowledge_notice
from duban.services.outbox import Senders
from duban.services.reminders import arm, penalty_accruals, sweep
from models import InboxMessage, Notice, OutboxMessage, ReminderFired
from tasks.delivery import deliver
from tests.orchestration.helpers import LADDER, add_problems, at, launch, make_plan

NO_SEND = Senders(email=lambda *a: None, webhook=lambda *a: None)


def test_each_rung_fires_once_and_one_digest_per_office(db: Database, clock: FixedClock) -> None:
    clock.set(at(2022, 9, 20))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 3, deadline=dt.date(2022, 9, 23))  # Friday
    add_problems(db, clock, cid, 2, category="water", deadline=dt.date(2022, 9, 23), tag="水")
    clock.set(at(2022, 9, 20, 10))  # 3 working days before Friday
    first = db.run(sweep, clock, cid)
    assert first.fired == 5
    assert first.digests == 2  # jhb and nyzx, office audience
    again = db.run(sweep, clock, cid)
    assert (again.fired, again.digests, again.outbox_rows) == (0, 0, 0)
    with db.transaction() as s:
        per_office = Counter(s.scalars(select(InboxMessage.office_code)))
    assert per_office == {"jhb": 1, "nyzx": 1}


def test_duplicate_rung_is_refused_by_the_database(db: Database, clock: FixedClock) -> None:
    clock.set(at(2022, 9, 20))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 23))
    db.run(sweep, clock, cid)
    with pytest.raises(IntegrityError), db.transaction() as s:
        row = s.scalars(select(ReminderFired)).one()
        s.add(ReminderFired(
            campaign_id=row.campaign_id, problem_id=row.problem_id, rung_code=row.rung_code,
            action=row.action, office_code=row.office_code, town_code=row.town_code,
            category=row.category, deadline=row.deadline, due_on=row.due_on,
            fired_on=row.fired_on, fired_at=row.fired_at))


def test_messages_outside_working_hours_wait_for_the_window(db: Database,
                                                           clock: FixedClock) -> None:
    clock.set(at(2022, 9, 20))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 2, deadline=dt.date(2022, 9, 23))
    clock.set(at(2022, 9, 20, 20, 0))  # Tuesday evening
    db.run(sweep, clock, cid)
    with db.transaction() as s:
        waits = set(s.scalars(select(OutboxMessage.next_attempt_at)))
    assert {w.astimezone(CHINA_TZ) for w in waits} == {at(2022, 9, 21, 8, 30)}
    clock.set(at(2022, 9, 20, 21, 0))
    assert deliver(db, clock, senders=NO_SEND).sent == 0
    clock.set(at(2022, 9, 21, 8, 30))
    assert deliver(db, clock, senders=NO_SEND).sent == 1


def test_friday_evening_waits_until_monday(db: Database, clock: FixedClock) -> None:
    clock.set(at(2022, 9, 20))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 28))
    clock.set(at(2022, 9, 23, 18, 0))  # Friday after hours; pre3 is due that day
    assert db.run(sweep, clock, cid).fired == 1
    with db.transaction() as s:
        (when,) = s.scalars(select(OutboxMessage.next_attempt_at)).all()
    assert when.astimezone(CHINA_TZ) == at(2022, 9, 26, 8, 30)


def test_downtime_sends_only_the_highest_missed_rung_and_records_the_rest_as_skipped(
        db: Database, clock: FixedClock) -> None:
    clock.set(at(2022, 9, 1))
    # 城关镇 has a 包保 county unit (seed 004: "联系该乡镇（开发区）的县直单位").
    plan = make_plan()
    plan = dataclasses.replace(plan, towns=(
        dataclasses.replace(plan.towns[0], liaison="nyzx"), *plan.towns[1:]))
    cid = launch(db, clock, plan)
    add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 2))
    clock.set(at(2022, 9, 30, 10))  # long after: every rung is due
    result = db.run(sweep, clock, cid)
    assert (result.fired, result.skipped) == (1, len(LADDER) - 1)
    assert result.penalties == 1
    assert len(result.documents) == 1  # the 通报 only: the missed 催办 is not sent late
    assert len(db.run(penalty_accruals, cid)) == 1
    with db.transaction() as s:
        skipped = {code: reason for code, reason in s.execute(
            select(ReminderFired.rung_code, ReminderFired.skipped_reason))}
    assert skipped["bul7"] is None
    assert skipped["pre3"] == "应于8月30日发出，9月30日补发时更高一级的「逾期7个工作日通报」已到期，不再补发"
    with db.transaction() as s:
        office_digest = s.scalars(select(InboxMessage).where(
            InboxMessage.office_code == "jhb", InboxMessage.kind == "digest")).all()
        kinds = sorted(n.kind for n in s.scalars(select(Notice)))
    # The 通报 rung's audiences only: the office (and the county, in its own digest).
    assert sorted(m.audience for m in office_digest) == ["office"]
    assert all("【通报】" in m.subject for m in office_digest)
    assert kinds == ["bulletin"]
    # The 通报 addresses the towns in the plan's own words: 城关镇, 河口乡 … are all 乡镇, so
    # no "（街道）" is added (it used to be, whatever the scope).
    with db.transaction() as s:
        bulletin_id = s.scalar(select(Notice.id).where(Notice.kind == "bulletin"))
    assert bulletin_id is not None
    doc = Document(io.BytesIO(db.run(notice_file, bulletin_id)))
    text = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    assert towns_addressee(make_plan()) == "各乡镇" and "各乡镇、" in text
    assert "街道" not in text
    # The town is bulletined with the county unit that 包保 it.
    assert "城关镇（包保单位：农业服务中心）" in text


def test_deadline_change_rearms_the_ladder(db: Database, clock: FixedClock) -> None:
    from duban.domain.lifecycle import Action, Payload
    from duban.services import moves

    clock.set(at(2022, 9, 20, 10))
    cid = launch(db, clock)
    (pid,) = add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 23))
    assert db.run(sweep, clock, cid).fired == 1  # pre3
    db.run(add_user, clock, username="county", name="县办", role=Role.COUNTY)
    db.run(add_user, clock, username="jhb1", name="甲", role=Role.OFFICE, office="jhb")
    db.run(moves.apply, clock, "jhb1", pid, Action.ACCEPT, Payload())
    db.run(moves.apply, clock, "jhb1", pid, Action.REQUEST_EXTENSION,
                Payload(note="需要时间", deadline=dt.date(2022, 10, 14)))
    db.run(moves.apply, clock, "county", pid, Action.APPROVE_EXTENSION, Payload(note="同意"))
    clock.set(at(2022, 9, 23, 10))  # the old deadline: nothing is due any more
    assert db.run(sweep, clock, cid).fired == 0
    # A new deadline is a new cycle: the ladder starts again, pre3 included.
    clock.set(at(2022, 10, 11, 10))  # 3 working days before 10/14
    assert db.run(sweep, clock, cid).fired == 1
    clock.set(at(2022, 10, 14, 10))  # the new deadline
    assert db.run(sweep, clock, cid).fired == 1
    with db.transaction() as s:
        rows = s.execute(select(ReminderFired.cycle, ReminderFired.rung_code)
                         .order_by(ReminderFired.cycle, ReminderFired.due_on)).all()
    assert [tuple(r) for r in rows] == [(0, "pre3"), (1, "pre3"), (1, "due")]


def test_a_problem_armed_again_keeps_the_rungs_its_deadline_fired(
        db: Database, clock: FixedClock) -> None:
    """A move that bumps a problem's version (accepted: its status) arms it again: its state's
    next rung is the first one of the same deadline cycle not fired yet, read with the stale
    problems (not pre3 again, which fired)."""
    from duban.domain.lifecycle import Action, Payload
    from duban.services import moves
    from models import ReminderState

    clock.set(at(2022, 9, 20, 10))  # 3 working days before Friday 9/23
    cid = launch(db, clock)
    pid, other = add_problems(db, clock, cid, 2, deadline=dt.date(2022, 9, 23))
    assert db.run(sweep, clock, cid).fired == 2  # pre3 of both
    db.run(add_user, clock, username="jhb1", name="甲", role=Role.OFFICE, office="jhb")
    db.run(moves.apply, clock, "jhb1", pid, Action.ACCEPT, Payload())
    assert db.run(arm, cid, make_plan().reminders, working_calendar()) == 1
    with db.transaction() as s:
        due = dict(s.execute(select(ReminderState.problem_id, ReminderState.next_due_on)).all())
    assert due == {pid: dt.date(2022, 9, 23), other: dt.date(2022, 9, 23)}  # the deadline's
    clock.set(at(2022, 9, 21, 10))
    swept = db.run(sweep, clock, cid)
    assert (swept.armed, swept.fired, swept.skipped) == (0, 0, 0)


def test_unacknowledged_notice_is_reminded_once_per_period(db: Database,
                                                          clock: FixedClock) -> None:
    clock.set(at(2022, 9, 26, 9))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 2, deadline=dt.date(2022, 10, 31))
    (notice,) = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert db.run(sweep, clock, cid).unacknowledged == 0  # same day
    clock.set(at(2022, 9, 27, 9))
    assert db.run(sweep, clock, cid).unacknowledged == 1
    assert db.run(sweep, clock, cid).unacknowledged == 0  # once per working day
    with db.transaction() as s:
        (msg,) = s.scalars(select(InboxMessage).where(
            InboxMessage.kind == "notice_unacknowledged")).all()
    assert notice.number in msg.body
    db.run(add_user, clock, username="jhb1", name="甲", role=Role.OFFICE, office="jhb")
    db.run(acknowledge_notice, clock, notice.id, "jhb1")
    clock.set(at(2022, 9, 28, 9))
    assert db.run(sweep, clock, cid).unacknowledged == 0


def test_time_travel_across_national_day_2022(db: Database, clock: FixedClock) -> None:
    """Every rung fires exactly once, on its working day, delivered inside working hours."""
    calendar = working_calendar()
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock)
    deadlines = [dt.date(2022, 9, 30), dt.date(2022, 10, 10), dt.date(2022, 9, 28)]
    ids = []
    for i, d in enumerate(deadlines):
        ids += add_problems(db, clock, cid, 2, deadline=d, tag=f"批{i}",
                            category="housing" if i % 2 == 0 else "water")
    moment = at(2022, 9, 20, 0, 30)
    while moment < at(2022, 10, 28):
        clock.set(moment)
        db.run(sweep, clock, cid)
        deliver(db, clock, senders=NO_SEND)
        moment += dt.timedelta(hours=3)
    with db.transaction() as s:
        fired = s.scalars(select(ReminderFired)).all()
        sent = s.scalars(select(OutboxMessage)).all()
        digests = s.scalars(select(InboxMessage).where(InboxMessage.kind == "digest")).all()
    assert Counter((f.problem_id, f.rung_code) for f in fired) == {
        (pid, rung.code): 1 for pid in ids for rung in LADDER}
    for f in fired:
        item = OpenItem(f.problem_id, f.office_code, dt.date(2022, 9, 20), f.deadline)
        rung = next(r for r in LADDER if r.code == f.rung_code)
        assert f.due_on == fire_date(rung, item, calendar)
        assert f.fired_on == f.due_on  # the system ran all along: fired on its day
        assert calendar.is_workday(f.due_on)
        assert not dt.date(2022, 10, 1) <= f.due_on <= dt.date(2022, 10, 7)  # 国庆
    # The 1-day-overdue 催办 of a 9/30 deadline falls on Saturday 10/8, a 调休 working day.
    urge = {f.deadline: f.due_on for f in fired if f.rung_code == "urge1"}
    assert urge[dt.date(2022, 9, 30)] == dt.date(2022, 10, 8)
    assert sent and all(m.status == "sent" for m in sent)
    for m in sent:
        local = m.sent_at.astimezone(CHINA_TZ)
        assert calendar.is_workday(local.date())
        assert dt.time(8, 30) <= local.time() < dt.time(17, 30)
    fired_days = {f.fired_on for f in fired}
    for m in sent:
        if m.payload.get("kind") == "digest":
            assert m.sent_at.astimezone(CHINA_TZ).date() in fired_days
    # One digest per office and audience per tick.
    per_tick = Counter((d.office_code, d.audience, d.created_at) for d in digests)
    assert max(per_tick.values()) == 1


def test_inbox_shows_messages_from_their_window_and_marks_read(db: Database,
                                                               clock: FixedClock) -> None:
    from duban.services.messages import list_inbox, mark_read, unread_count

    clock.set(at(2022, 9, 20))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 1, deadline=dt.date(2022, 9, 23))
    clock.set(at(2022, 9, 20, 20))
    db.run(sweep, clock, cid)
    assert db.run(list_inbox, clock, ["jhb"]) == []  # after hours: waits for the window
    clock.set(at(2022, 9, 21, 8, 30))
    (line,) = db.run(list_inbox, clock, ["jhb"])
    assert db.run(unread_count, clock, ["jhb"]) == 1
    assert db.run(mark_read, clock, line.id, "jhb1", ["jhb"])
    assert not db.run(mark_read, clock, line.id, "jhb1", ["jhb"])
    assert db.run(unread_count, clock, ["jhb"]) == 0
