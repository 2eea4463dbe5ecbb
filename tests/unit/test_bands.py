"""Warning bands from the reminder ladder, on the 2020 calendar (端午: 6/25–6/27 off, Sunday
6/28 worked)."""

from __future__ import annotations

import datetime as dt

from duban.domain.bands import Band, Bands, bands_for, worst_band
from duban.domain.plan import ReminderPolicy, ReminderRung, RungAction
from duban.domain.workdays import WorkCalendar

D = dt.date
CAL = WorkCalendar({D(2020, 6, 25), D(2020, 6, 26), D(2020, 6, 27)}, {D(2020, 6, 28)},
                   2020, 2020)
POLICY = ReminderPolicy(rungs=(
    ReminderRung("soon", "临期提醒", RungAction.REMIND, offset_working_days=-2),
    ReminderRung("half", "过半提醒", RungAction.REMIND, share_left=0.5, colour="red"),
    ReminderRung("due", "到期", RungAction.DUE, offset_working_days=0),
    ReminderRung("late", "逾期", RungAction.REMIND, offset_working_days=2),
    ReminderRung("y", "黄色预警", RungAction.URGE, offset_working_days=1, colour="yellow"),
    ReminderRung("o", "橙色预警", RungAction.URGE, offset_working_days=3, colour="orange"),
    ReminderRung("r", "红色预警", RungAction.BULLETIN, offset_working_days=5, colour="red"),
))
TODAY = D(2020, 6, 30)  # a Tuesday


def test_thresholds_follow_the_ladder_on_working_days() -> None:
    bands = bands_for(POLICY, TODAY, CAL)
    assert bands.thresholds == (
        (Band.RED, D(2020, 6, 22)),  # 5 working days back from 6/30 skip the holiday
        (Band.ORANGE, D(2020, 6, 27)),  # a deadline on the holiday counts from 6/24
        (Band.YELLOW, D(2020, 6, 29)),
        (Band.OVERDUE, D(2020, 6, 29)),
        (Band.DUE_SOON, D(2020, 7, 2)),
    )


def test_an_item_is_in_the_most_severe_band_it_reached() -> None:
    bands = bands_for(POLICY, TODAY, CAL)
    expected = {
        None: Band.NONE,
        D(2020, 7, 10): Band.ON_TIME,
        D(2020, 7, 3): Band.ON_TIME,
        D(2020, 7, 2): Band.DUE_SOON,
        D(2020, 6, 30): Band.DUE_SOON,  # due today is not overdue
        D(2020, 6, 29): Band.YELLOW,
        D(2020, 6, 28): Band.YELLOW,
        D(2020, 6, 27): Band.ORANGE,
        D(2020, 6, 23): Band.ORANGE,
        D(2020, 6, 22): Band.RED,
        D(2020, 1, 2): Band.RED,
    }
    assert {d: bands.band(d) for d in expected} == expected


def test_without_colours_or_a_calendar_past_the_deadline_is_overdue() -> None:
    plain = ReminderPolicy(rungs=(
        ReminderRung("due", "到期", RungAction.DUE, offset_working_days=0),))
    bands = bands_for(plain, TODAY, CAL)
    assert bands == Bands(TODAY, ((Band.OVERDUE, D(2020, 6, 29)),))
    assert bands.band(D(2020, 6, 1)) is Band.OVERDUE and bands.band(TODAY) is Band.ON_TIME
    # 2031 is outside the calendar: the colours cannot be placed, overdue still can.
    later = bands_for(POLICY, D(2031, 3, 3), CAL)
    assert later.thresholds == ((Band.OVERDUE, D(2031, 3, 2)),)


def test_the_worst_band_and_the_labels() -> None:
    assert worst_band({}) is Band.ON_TIME
    assert worst_band({"due_soon": 2, "yellow": 0}) is Band.DUE_SOON
    assert worst_band({"overdue": 1, "orange": 3, "due_soon": 9}) is Band.ORANGE
    assert all(b.label for b in Band) and Band("red") is Band.RED and Band.RED == "red"
    assert [b.label for b in (Band.YELLOW, Band.ORANGE, Band.RED)] == [
        "黄色预警", "橙色预警", "红色预警"]
