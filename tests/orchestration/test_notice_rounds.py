"""Late problems go out on the plan's rolling round, exactly once, with gap-free numbers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from duban.domain.clock import FixedClock
from duban.domain.errors import DubanError
from duban.domain.plan import NoticePolicy, NoticeRhythm, Plan
from duban.services.database import Database
from duban.services.notices.issuing import issue_notices
from duban.services.notices.reading import list_notices
from duban.services.notices.rolling import issue_round
from duban.services.stages import begin_stage_run, finish_stage_run
from models import DocumentNumberRegister, Notice, NoticeRound
from tests.orchestration.helpers import add_problems, at, count_rows, launch, make_plan


def _rectify_started(db: Database, clock: FixedClock, cid: int) -> list[str]:
    """What the rectify stage flow does at its start: its notices, then its run is done."""
    db.run(begin_stage_run, clock, cid, 1, "rectify")
    numbers = [n.number for n in db.run(issue_notices, clock, cid, issued_by="system",
                                               batch_key="rectify:1")]
    db.run(finish_stage_run, clock, cid, 1, {})
    return numbers


def weekly(day: int) -> Plan:
    return dataclasses.replace(make_plan(), notices=NoticePolicy(rolling=NoticeRhythm.WEEKLY,
                                                                 weekday=day))


def test_late_problems_go_out_on_the_next_working_day_once(db: Database,
                                                           clock: FixedClock) -> None:
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 2)
    clock.set(at(2022, 9, 26, 10))
    assert db.run(issue_round, clock, cid) is None  # the rectify stage has not issued yet
    assert _rectify_started(db, clock, cid) == ["测巩督〔2022〕1号"]
    first = db.run(issue_round, clock, cid)
    assert first is not None and (first.round_key, first.numbers) == ("2022-09-26", ())
    clock.set(at(2022, 9, 26, 14))
    add_problems(db, clock, cid, 3, tag="迟")
    add_problems(db, clock, cid, 1, category="water", tag="迟")
    again = db.run(issue_round, clock, cid)  # today's round ran: the late items wait for tomorrow
    assert again is not None and not again.ran_now and again.numbers == ()
    clock.set(at(2022, 9, 27, 8))
    assert db.run(issue_round, clock, cid) is None  # before working hours
    clock.set(at(2022, 9, 27, 9))
    late = db.run(issue_round, clock, cid)
    assert late is not None and late.ran_now
    assert late.numbers == ("测巩督〔2022〕2号", "测巩督〔2022〕3号")
    notices = db.run(list_notices, cid)
    assert [(n.office_code, len(n.problem_ids)) for n in notices] == [
        ("jhb", 2), ("jhb", 3), ("nyzx", 1)]
    # A second tick the same day, and the next day with nothing new, issue nothing.
    rerun = db.run(issue_round, clock, cid)
    assert rerun is not None and not rerun.ran_now and rerun.numbers == late.numbers
    clock.set(at(2022, 9, 28, 9))
    quiet = db.run(issue_round, clock, cid)
    assert quiet is not None and quiet.ran_now and quiet.numbers == ()
    assert count_rows(db, Notice) == 3
    assert count_rows(db, NoticeRound) == 3


def test_weekly_round_waits_for_its_weekday(db: Database, clock: FixedClock) -> None:
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, weekly(5))
    add_problems(db, clock, cid, 1)
    clock.set(at(2022, 9, 26, 10))
    _rectify_started(db, clock, cid)
    clock.set(at(2022, 9, 27, 10))
    add_problems(db, clock, cid, 2, tag="迟")
    assert db.run(issue_round, clock, cid) is None  # Tuesday
    clock.set(at(2022, 9, 30, 10))
    friday = db.run(issue_round, clock, cid)
    assert friday is not None and friday.round_key == "2022-W39"
    assert friday.numbers == ("测巩督〔2022〕2号",)


def test_manual_rhythm_leaves_late_problems_to_the_county_office(db: Database,
                                                                 clock: FixedClock) -> None:
    clock.set(at(2022, 9, 20, 9))
    plan = dataclasses.replace(make_plan(),
                               notices=NoticePolicy(rolling=NoticeRhythm.MANUAL))
    cid = launch(db, clock, plan)
    clock.set(at(2022, 9, 26, 10))
    _rectify_started(db, clock, cid)
    add_problems(db, clock, cid, 2, tag="迟")
    clock.set(at(2022, 9, 27, 10))
    assert db.run(issue_round, clock, cid) is None
    assert count_rows(db, Notice) == 0


def test_a_round_that_fails_midway_leaves_nothing_and_reruns_without_gaps(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    import duban.services.notices.issuing as notices

    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan(extra_offices=4))
    clock.set(at(2022, 9, 26, 10))
    _rectify_started(db, clock, cid)
    for i in range(4):
        add_problems(db, clock, cid, 2, category=f"c{i:02d}", tag=f"{i}-")
    clock.set(at(2022, 9, 27, 10))
    real = notices._render_notice
    calls = {"n": 0}

    def flaky(ctx: object, path: Path, template_dir: Path | None = None) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise DubanError("打印机卡纸")
        return real(ctx, path, template_dir=template_dir)  # type: ignore[arg-type]

    monkeypatch.setattr(notices, "_render_notice", flaky)
    with pytest.raises(DubanError):
        db.run(issue_round, clock, cid)
    assert count_rows(db, Notice) == 0 and count_rows(db, NoticeRound) == 0
    with db.transaction() as s:
        assert s.scalar(select(DocumentNumberRegister.next_number)) == 1
    monkeypatch.setattr(notices, "_render_notice", real)
    done = db.run(issue_round, clock, cid)
    assert done is not None
    assert done.numbers == tuple(f"测巩督〔2022〕{i}号" for i in range(1, 5))

