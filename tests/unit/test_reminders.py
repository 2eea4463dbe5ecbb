"""The reminder ladder, working hours and digests, on a fake 2020 calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from duban.domain.clock import CHINA_TZ
from duban.domain.plan import Audience, ReminderPolicy, ReminderRung, RungAction
from duban.domain.reminders import (
    DueReminder,
    OpenItem,
    WorkdayCalendar,
    build_digests,
    catch_up,
    colour_of,
    count_workdays,
    due_reminders,
    due_rungs,
    fire_date,
    in_send_window,
    next_send_time,
    overdue_working_days,
    remaining_working_days,
)
from duban.domain.workdays import WorkCalendar

D = dt.date
ONE_DAY = dt.timedelta(days=1)


class FakeCalendar:
    """Weekends off, a few 2020 holidays off, and the 2020 调休 weekend days on."""

    # 端午 2020: 6/25–6/27 off, Sunday 6/28 worked; 国庆 2020: 10/1–10/8 off, 9/27 (Sun) and
    # 10/10 (Sat) worked. These match the State Council's 2020 schedule.
    HOLIDAYS = frozenset(
        {D(2020, 6, 25), D(2020, 6, 26), D(2020, 6, 27)} | {D(2020, 10, day) for day in range(1, 9)}
    )
    EXTRA_WORKDAYS = frozenset({D(2020, 6, 28), D(2020, 9, 27), D(2020, 10, 10)})

    def __init__(self) -> None:
        self.calls = 0

    def covers(self, d: dt.date) -> bool:
        return d.year == 2020

    def is_workday(self, d: dt.date) -> bool:
        if not self.covers(d):
            raise LookupError(f"no calendar for {d}")
        self.calls += 1
        if d in self.EXTRA_WORKDAYS:
            return True
        if d in self.HOLIDAYS:
            return False
        return d.weekday() < 5

    def add_workdays(self, d: dt.date, n: int) -> dt.date:
        if n == 0:
            return d
        step = ONE_DAY if n > 0 else -ONE_DAY
        left = abs(n)
        while left:
            d += step
            if self.is_workday(d):
                left -= 1
        return d

    def workdays_between(self, a: dt.date, b: dt.date) -> int:
        if b < a:  # minus the working days in [b, a), as WorkCalendar does
            return -sum(1 for i in range((a - b).days) if self.is_workday(b + i * ONE_DAY))
        return sum(1 for i in range(1, (b - a).days + 1) if self.is_workday(a + i * ONE_DAY))

    def next_workday(self, d: dt.date) -> dt.date:
        return d if self.is_workday(d) else self.add_workdays(d, 1)


CAL = FakeCalendar()


def test_fake_calendar_satisfies_the_protocol() -> None:
    calendar: WorkdayCalendar = FakeCalendar()
    assert calendar.is_workday(D(2020, 10, 10))  # 调休 Saturday
    assert not calendar.is_workday(D(2020, 10, 5))  # National Day holiday (a Monday)
    assert not calendar.is_workday(D(2020, 10, 17))  # ordinary Saturday


RUNGS = (
    ReminderRung("half", "过半提醒", RungAction.REMIND, share_left=0.5),
    ReminderRung(
        "pre3", "到期前3日提醒", RungAction.REMIND, offset_working_days=-3, colour="yellow"
    ),
    ReminderRung("due", "到期提醒", RungAction.DUE, offset_working_days=0, colour="orange"),
    ReminderRung("urge", "催办", RungAction.URGE, offset_working_days=1, colour="red"),
    ReminderRung(
        "supervise",
        "督办",
        RungAction.SUPERVISE,
        offset_working_days=3,
        audience=(Audience.OFFICE, Audience.OFFICE_HEAD),
        colour="red",
    ),
    ReminderRung(
        "bulletin",
        "通报",
        RungAction.BULLETIN,
        offset_working_days=5,
        audience=(Audience.COUNTY,),
        colour="red",
        accrue_penalty=True,
    ),
)
POLICY = ReminderPolicy(rungs=RUNGS)


def rung(code: str) -> ReminderRung:
    return next(r for r in RUNGS if r.code == code)


# Seed 000: assigned Monday 6/15, housing deadline Tuesday 6/30, across the 端午 holiday.
JUNE_ITEM = OpenItem(
    problem_id=1, office="jianhuan", assigned_on=D(2020, 6, 15), deadline=D(2020, 6, 30)
)


def test_counting_excludes_holidays_and_includes_the_adjusted_sunday() -> None:
    # (6/15, 6/30]: 6/16–19 (4), 6/22–24 (3), 6/28 Sunday worked (1), 6/29, 6/30 (2).
    assert count_workdays(CAL, D(2020, 6, 15), D(2020, 6, 30)) == 10
    assert count_workdays(CAL, D(2020, 6, 30), D(2020, 6, 15)) == -10
    assert count_workdays(CAL, D(2020, 6, 26), D(2020, 6, 27)) == 0


def test_fire_dates_of_the_june_ladder() -> None:
    expected = {
        "half": D(2020, 6, 22),  # 5 of 10 working days left after Monday 6/22
        "pre3": D(2020, 6, 24),  # 6/29, 6/28 (调休 Sunday), 6/24
        "due": D(2020, 6, 30),
        "urge": D(2020, 7, 1),
        "supervise": D(2020, 7, 3),
        "bulletin": D(2020, 7, 7),  # 7/1, 7/2, 7/3, 7/6, 7/7
    }
    assert {r.code: fire_date(r, JUNE_ITEM, CAL) for r in RUNGS} == expected


def test_overdue_days_match_positive_offsets() -> None:
    for r in RUNGS:
        k = r.offset_working_days
        if k is not None and k > 0:
            day = fire_date(r, JUNE_ITEM, CAL)
            assert overdue_working_days(JUNE_ITEM.deadline, day, CAL) == k
            assert overdue_working_days(JUNE_ITEM.deadline, day - ONE_DAY, CAL) < k


def simulate(
    item: OpenItem, start: dt.date, end: dt.date, *, workdays_only: bool = False
) -> dict[str, dt.date]:
    """Tick once a day, record every due rung as fired; return when each rung fired."""
    fired: dict[str, dt.date] = {}
    day = start
    while day <= end:
        if not workdays_only or CAL.is_workday(day):
            snapshot = OpenItem(
                item.problem_id, item.office, item.assigned_on, item.deadline, frozenset(fired)
            )
            for r in due_rungs(snapshot, POLICY, CAL, day):
                assert r.code not in fired, f"{r.code} fired twice"
                fired[r.code] = day
        day += ONE_DAY
    return fired


def test_each_rung_fires_once_on_its_day_across_a_month() -> None:
    fired = simulate(JUNE_ITEM, D(2020, 6, 15), D(2020, 7, 20))
    assert fired == {r.code: fire_date(r, JUNE_ITEM, CAL) for r in RUNGS}
    assert all(CAL.is_workday(day) for day in fired.values())
    # Nothing fired during the 端午 holiday.
    assert not {D(2020, 6, 25), D(2020, 6, 26), D(2020, 6, 27)} & set(fired.values())


def test_share_left_rung_fires_when_the_share_is_reached() -> None:
    for share in (0.3, 0.5, 0.7, 1.0):
        r = ReminderRung("s", "s", RungAction.REMIND, share_left=share)
        day = fire_date(r, JUNE_ITEM, CAL)
        allowed = count_workdays(CAL, JUNE_ITEM.assigned_on, JUNE_ITEM.deadline)
        left = remaining_working_days(JUNE_ITEM.deadline, day, CAL)
        assert left / allowed <= share
        before = day - ONE_DAY
        if before >= JUNE_ITEM.assigned_on:
            assert remaining_working_days(JUNE_ITEM.deadline, before, CAL) / allowed > share
        assert CAL.is_workday(day)


def test_share_left_of_a_whole_share_fires_on_assignment() -> None:
    r = ReminderRung("s", "s", RungAction.REMIND, share_left=1.0)
    saturday = OpenItem(2, "x", assigned_on=D(2020, 6, 13), deadline=D(2020, 6, 30))
    assert fire_date(r, JUNE_ITEM, CAL) == D(2020, 6, 15)
    assert fire_date(r, saturday, CAL) == D(2020, 6, 15)  # not before the first working day


def test_share_left_uses_exact_decimal_shares() -> None:
    # 0.3 * 10 must be 3 days left, not 2.9999: with 10 days allowed it fires 3 days before.
    r = ReminderRung("s", "s", RungAction.REMIND, share_left=0.3)
    assert remaining_working_days(JUNE_ITEM.deadline, fire_date(r, JUNE_ITEM, CAL), CAL) == 3


def test_deadline_inside_the_national_day_holiday() -> None:
    # Deadline Monday 10/5 is a holiday: "due" fires on the last working day before it (9/30),
    # and one working day overdue is 10/9 (the first working day after the holiday).
    item = OpenItem(3, "x", assigned_on=D(2020, 9, 14), deadline=D(2020, 10, 5))
    assert fire_date(rung("due"), item, CAL) == D(2020, 9, 30)
    assert fire_date(rung("pre3"), item, CAL) == D(2020, 9, 28)
    assert fire_date(rung("urge"), item, CAL) == D(2020, 10, 9)
    # 10/9 (1), 10/10 调休 Saturday (2), 10/12 (3).
    assert fire_date(rung("supervise"), item, CAL) == D(2020, 10, 12)
    assert overdue_working_days(item.deadline, D(2020, 10, 8), CAL) == 0
    assert overdue_working_days(item.deadline, D(2020, 10, 10), CAL) == 2


def test_several_rungs_due_after_the_long_holiday() -> None:
    # The last tick before the holiday was 9/30 (deadline day); next tick 10/12.
    item = OpenItem(
        4,
        "x",
        assigned_on=D(2020, 9, 14),
        deadline=D(2020, 9, 30),
        fired=frozenset({"half", "pre3", "due"}),
    )
    assert due_rungs(item, POLICY, CAL, D(2020, 10, 8)) == []
    due = due_rungs(item, POLICY, CAL, D(2020, 10, 12))
    assert [r.code for r in due] == ["urge", "supervise"]
    assert colour_of(item, POLICY, CAL, D(2020, 10, 12)) == "red"
    # After recording both, nothing is due again until the bulletin rung.
    after = OpenItem(4, "x", item.assigned_on, item.deadline, item.fired | {r.code for r in due})
    assert due_rungs(after, POLICY, CAL, D(2020, 10, 13)) == []
    assert [r.code for r in due_rungs(after, POLICY, CAL, D(2020, 10, 14))] == ["bulletin"]


def test_ticking_on_working_days_only_fires_the_same_rungs_once() -> None:
    item = OpenItem(5, "x", assigned_on=D(2020, 9, 14), deadline=D(2020, 9, 30))
    every_day = simulate(item, D(2020, 9, 14), D(2020, 10, 31))
    workdays = simulate(item, D(2020, 9, 14), D(2020, 10, 31), workdays_only=True)
    assert every_day == workdays
    assert set(every_day) == {r.code for r in RUNGS}


def test_late_assignment_makes_all_past_rungs_due_at_once_in_ladder_order() -> None:
    item = OpenItem(6, "x", assigned_on=D(2020, 6, 29), deadline=D(2020, 6, 30))
    due = due_rungs(item, POLICY, CAL, D(2020, 6, 29))
    assert [r.code for r in due] == ["pre3"]  # its day (6/24) came before the assignment
    assert colour_of(item, POLICY, CAL, D(2020, 6, 29)) == "yellow"
    # One working day allowed: half of it is left only once the deadline day has come.
    late = due_rungs(item, POLICY, CAL, D(2020, 7, 1))
    assert [r.code for r in late] == ["pre3", "half", "due", "urge"]


def test_colour_follows_the_ladder() -> None:
    colours = {
        D(2020, 6, 19): "",
        D(2020, 6, 22): "",  # the 50% reminder has no colour
        D(2020, 6, 24): "yellow",
        D(2020, 6, 30): "orange",
        D(2020, 7, 1): "red",
    }
    for day, colour in colours.items():
        assert colour_of(JUNE_ITEM, POLICY, CAL, day) == colour
    fired_red = OpenItem(1, "x", JUNE_ITEM.assigned_on, JUNE_ITEM.deadline, frozenset({"urge"}))
    assert colour_of(fired_red, POLICY, CAL, D(2020, 6, 16)) == "red"


def test_the_real_calendar_agrees_with_the_fake_on_the_ladder() -> None:
    # The domain WorkCalendar, fed the same 2020 dates, must give the same fire dates.
    real = WorkCalendar(FakeCalendar.HOLIDAYS, FakeCalendar.EXTRA_WORKDAYS, 2020, 2020)
    calendar: WorkdayCalendar = real
    items = [
        JUNE_ITEM,
        OpenItem(2, "x", assigned_on=D(2020, 9, 14), deadline=D(2020, 10, 5)),
        OpenItem(3, "x", assigned_on=D(2020, 6, 13), deadline=D(2020, 6, 27)),
    ]
    for item in items:
        for r in RUNGS:
            assert fire_date(r, item, calendar) == fire_date(r, item, CAL), (item, r.code)
        for day in (D(2020, 6, 20), D(2020, 7, 1), D(2020, 10, 10), D(2020, 10, 12)):
            assert overdue_working_days(item.deadline, day, calendar) == overdue_working_days(
                item.deadline, day, CAL
            )
            assert count_workdays(calendar, day, item.deadline) == count_workdays(
                CAL, day, item.deadline
            )


def test_a_rung_needs_exactly_one_trigger() -> None:
    bad = ReminderRung("bad", "bad", RungAction.REMIND)
    with pytest.raises(ValueError):
        fire_date(bad, JUNE_ITEM, CAL)


# ---------------------------------------------------------------------------- send window


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("now", "inside", "next_time"),
    [
        (at(2020, 6, 22, 9), True, at(2020, 6, 22, 9)),  # Monday morning
        (at(2020, 6, 22, 8, 29), False, at(2020, 6, 22, 8, 30)),  # before 8:30
        (at(2020, 6, 22, 8, 30), True, at(2020, 6, 22, 8, 30)),  # the window opens at 8:30
        (at(2020, 6, 22, 17, 29), True, at(2020, 6, 22, 17, 29)),
        (at(2020, 6, 22, 17, 30), False, at(2020, 6, 23, 8, 30)),  # closes at 17:30
        (at(2020, 6, 19, 18), False, at(2020, 6, 22, 8, 30)),  # Friday evening → Monday
        (at(2020, 6, 20, 10), False, at(2020, 6, 22, 8, 30)),  # Saturday
        (at(2020, 6, 24, 20), False, at(2020, 6, 28, 8, 30)),  # before 端午 → 调休 Sunday
        (at(2020, 10, 3, 10), False, at(2020, 10, 9, 8, 30)),  # National Day holiday
        (at(2020, 10, 10, 10), True, at(2020, 10, 10, 10)),  # 调休 Saturday is a workday
        (at(2020, 10, 9, 23), False, at(2020, 10, 10, 8, 30)),  # … and so is the next window
        (at(2020, 10, 11, 7), False, at(2020, 10, 12, 8, 30)),  # ordinary Sunday
    ],
)
def test_send_window(now: dt.datetime, inside: bool, next_time: dt.datetime) -> None:
    assert in_send_window(now, POLICY, CAL) is inside
    assert next_send_time(now, POLICY, CAL) == next_time


def test_send_window_reads_other_zones_in_china_time() -> None:
    utc_late_sunday = dt.datetime(2020, 6, 21, 23, 0, tzinfo=dt.UTC)  # Monday 07:00 in China
    assert not in_send_window(utc_late_sunday, POLICY, CAL)
    assert next_send_time(utc_late_sunday, POLICY, CAL) == at(2020, 6, 22, 8, 30)
    utc_monday = dt.datetime(2020, 6, 22, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in China
    assert in_send_window(utc_monday, POLICY, CAL)


def test_send_window_refuses_naive_times() -> None:
    with pytest.raises(ValueError):
        in_send_window(dt.datetime(2020, 6, 22, 9), POLICY, CAL)


# ---------------------------------------------------------------------------- digests


def reminders_for(item: OpenItem, today: dt.date, office_name: str) -> list[DueReminder]:
    return due_reminders(
        item,
        POLICY,
        CAL,
        today,
        number=f"CG-{item.problem_id:04d}",
        description=f"问题{item.problem_id}的描述" * 5,
        office_name=office_name,
    )


def test_one_digest_per_office_and_audience() -> None:
    today = D(2020, 7, 3)
    items = [
        # Overdue three working days: urge and supervise both unfired, so both are due.
        OpenItem(
            10, "jianhuan", D(2020, 6, 15), D(2020, 6, 30), frozenset({"half", "pre3", "due"})
        ),
        OpenItem(11, "jianhuan", D(2020, 6, 15), D(2020, 7, 2), frozenset({"half", "pre3"})),
        OpenItem(12, "jianhuan", D(2020, 6, 22), D(2020, 7, 8), frozenset({"half"})),
        OpenItem(13, "weijian", D(2020, 6, 15), D(2020, 7, 1), frozenset({"half", "pre3", "due"})),
    ]
    entries = [
        e
        for item in items
        for e in reminders_for(
            item, today, {"jianhuan": "乡建环办", "weijian": "乡卫健办"}[item.office]
        )
    ]
    digests = build_digests(entries)
    keys = [(d.office, d.audience) for d in digests]
    assert keys == [
        ("jianhuan", Audience.OFFICE),
        ("jianhuan", Audience.OFFICE_HEAD),
        ("weijian", Audience.OFFICE),
    ]
    office = digests[0]
    # Problem 10 once, with its highest rung (督办), most overdue first.
    assert [i.problem_id for i in office.items] == [10, 11, 12]
    assert office.items[0].rung.code == "supervise"
    assert office.items[0].overdue_days == 3
    assert office.items[1].rung.code == "urge"
    assert office.items[2].rung.code == "pre3"
    assert office.colour == "red"
    assert office.action is RungAction.SUPERVISE
    assert office.subject == "【督办】乡建环办：2项问题已逾期，1项即将到期"
    assert office.body.count("问题编号") == 3
    assert "逾期3个工作日" in office.body and "剩余3个工作日" in office.body
    assert "整改时限：2020年6月30日" in office.body
    assert "…" in office.body  # long descriptions are truncated
    head = digests[1]
    assert [i.problem_id for i in head.items] == [10]
    assert "负责同志" in head.body
    weijian = digests[2]
    assert weijian.subject == "【催办】乡卫健办：1项问题已逾期"


def test_digest_for_items_not_yet_due() -> None:
    item = OpenItem(20, "jianhuan", D(2020, 6, 15), D(2020, 6, 30))
    digests = build_digests(reminders_for(item, D(2020, 6, 22), "乡建环办"))
    assert len(digests) == 1
    assert digests[0].subject == "【提醒】乡建环办：1项问题即将到期"
    assert digests[0].overdue_count == 0
    assert digests[0].colour == ""


def test_county_audience_gets_bulletin_rung_only() -> None:
    item = OpenItem(
        30,
        "jianhuan",
        D(2020, 6, 15),
        D(2020, 6, 30),
        frozenset({"half", "pre3", "due", "urge", "supervise"}),
    )
    digests = build_digests(reminders_for(item, D(2020, 7, 7), "乡建环办"))
    assert [(d.audience, d.action) for d in digests] == [(Audience.COUNTY, RungAction.BULLETIN)]
    assert digests[0].body.startswith("截至2020年7月7日，乡建环办负责整改的以下问题")


def test_no_entries_no_digests() -> None:
    assert build_digests([]) == []


# --------------------------------------------------------------------------------------------
# Catching up after downtime


def _due(item: OpenItem, today: dt.date) -> list[DueReminder]:
    return due_reminders(item, POLICY, CAL, today, number=f"P{item.problem_id}", description="d")


def test_after_downtime_only_the_highest_due_rung_is_sent() -> None:
    # Down from 6/19 to 7/8 (11 working days): every rung of the June item is due at once.
    due = _due(JUNE_ITEM, D(2020, 7, 8))
    assert [e.rung.code for e in due] == ["half", "pre3", "due", "urge", "supervise", "bulletin"]
    send, skipped = catch_up(due)
    assert [e.rung.code for e in send] == ["bulletin"]
    assert [s.entry.rung.code for s in skipped] == ["half", "pre3", "due", "urge", "supervise"]
    # The 提醒 meant for three days before the deadline is not sent, and says why.
    pre3 = next(s for s in skipped if s.entry.rung.code == "pre3")
    assert pre3.reason == "应于6月24日发出，7月8日补发时更高一级的「通报」已到期，不再补发"


def test_on_an_ordinary_day_every_due_rung_is_sent() -> None:
    # Two rungs sharing today's moment (a share and an offset both on 6/22) both go out.
    both = ReminderPolicy(rungs=(RUNGS[0], ReminderRung("pre5", "前5日", RungAction.REMIND,
                                                        offset_working_days=-5)))
    due = due_reminders(JUNE_ITEM, both, CAL, D(2020, 6, 22), number="P1", description="d")
    assert {e.fire_date for e in due} == {D(2020, 6, 22)}
    assert catch_up(due) == (due, [])
    assert catch_up([]) == ([], [])


def test_catching_up_is_decided_per_problem() -> None:
    other = OpenItem(problem_id=2, office="x", assigned_on=D(2020, 6, 15), deadline=D(2020, 7, 6),
                     fired=frozenset({"half"}))
    due = _due(JUNE_ITEM, D(2020, 7, 1)) + _due(other, D(2020, 7, 1))
    send, skipped = catch_up(due)
    assert [(e.problem_id, e.rung.code) for e in send] == [(1, "urge"), (2, "pre3")]
    assert {(s.entry.problem_id, s.entry.rung.code) for s in skipped} == {
        (1, "half"), (1, "pre3"), (1, "due")}


def test_a_week_of_downtime_then_daily_ticks_records_each_rung_once() -> None:
    """Simulated: recorded rungs (sent or skipped) never come due again in the same cycle."""
    recorded: dict[str, str] = {}
    for day in [D(2020, 6, 15), D(2020, 6, 16), *(D(2020, 7, d) for d in range(1, 15))]:
        item = OpenItem(1, "x", JUNE_ITEM.assigned_on, JUNE_ITEM.deadline, frozenset(recorded))
        send, skipped = catch_up(_due(item, day))
        for e in send:
            assert e.rung.code not in recorded
            recorded[e.rung.code] = "sent"
        for s in skipped:
            assert s.entry.rung.code not in recorded
            recorded[s.entry.rung.code] = "skipped"
    assert recorded == {"half": "skipped", "pre3": "skipped", "due": "skipped", "urge": "sent",
                        "supervise": "sent", "bulletin": "sent"}


def test_a_new_deadline_cycle_starts_the_ladder_again() -> None:
    # The domain sees only the rungs of the current cycle: a fresh cycle has none recorded.
    old = OpenItem(1, "x", JUNE_ITEM.assigned_on, JUNE_ITEM.deadline,
                   frozenset(r.code for r in RUNGS))
    assert _due(old, D(2020, 7, 20)) == []
    renewed = OpenItem(1, "x", assigned_on=D(2020, 7, 20), deadline=D(2020, 7, 31))
    send, skipped = catch_up(_due(renewed, D(2020, 7, 28)))
    assert [e.rung.code for e in send] == ["pre3"] and [s.entry.rung.code for s in skipped] == [
        "half"]
