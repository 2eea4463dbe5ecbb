"""Warning bands (预警): where an open item stands against its deadline on a day.

Pure logic over the plan's reminder ladder and a working-day calendar: the dashboard colours,
the ledger's band filter and the exports all place items with `Bands.band`, so the colours
agree with the reminders offices receive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from duban.domain.labelled import Labelled
from duban.domain.plan import ReminderPolicy, ReminderRung
from duban.domain.reminders import COLOUR_LABELS, OpenItem, WorkdayCalendar, fire_date
from duban.domain.workdays import CalendarNotCovered


class Band(Labelled):
    """Where an open item stands against its deadline, mildest first."""

    NONE = "none", "未定时限"  # no deadline yet (unrouted)
    ON_TIME = "on_time", "正常"
    DUE_SOON = "due_soon", "临期"  # a reminder before the deadline has fired
    OVERDUE = "overdue", "逾期"  # no warning colour yet
    YELLOW = "yellow", COLOUR_LABELS["yellow"]
    ORANGE = "orange", COLOUR_LABELS["orange"]
    RED = "red", COLOUR_LABELS["red"]


BAND_ORDER = tuple(Band)
# Bands that count as overdue on the dashboard (逾期 and every warning colour).
OVERDUE_BANDS = frozenset({Band.OVERDUE, Band.YELLOW, Band.ORANGE, Band.RED})


@dataclass(frozen=True)
class Bands:
    """Deadline thresholds that put an open item in a band on a day.

    An item is in the most severe band whose threshold its deadline is on or before. The
    thresholds come from the plan's reminder ladder (rungs with a working-day offset).
    """

    today: dt.date
    thresholds: tuple[tuple[Band, dt.date], ...]  # most severe first

    def band(self, deadline: dt.date | None) -> Band:
        """The band of an open item with this deadline."""
        if deadline is None:
            return Band.NONE
        for band, limit in self.thresholds:
            if deadline <= limit:
                return band
        return Band.ON_TIME


def worst_band(counts: dict[str, int]) -> Band:
    """The most severe band with any items among counts by band value (正常 when none)."""
    for band in reversed(BAND_ORDER):
        if counts.get(band.value):
            return band
    return Band.ON_TIME


def latest_deadline_fired(rung: ReminderRung, today: dt.date,
                          calendar: WorkdayCalendar) -> dt.date:
    """The latest deadline for which a rung with a working-day offset has fired by `today`."""
    offset = rung.offset_working_days or 0
    span = abs(offset) * 3 + 20
    low, high = today - dt.timedelta(days=span), today + dt.timedelta(days=span)
    # fire_date grows with the deadline, so the fired deadlines are a prefix: bisect it.
    while (high - low).days > 1:
        mid = low + (high - low) // 2
        item = OpenItem(problem_id=0, office="", assigned_on=mid, deadline=mid)
        if fire_date(rung, item, calendar) <= today:
            low = mid
        else:
            high = mid
    return low


def bands_for(policy: ReminderPolicy, today: dt.date, calendar: WorkdayCalendar) -> Bands:
    """The colour thresholds of a reminder ladder on a day.

    Past the deadline is 逾期; a coloured rung (yellow/orange/red) gives its colour to the
    deadlines it has fired for; an uncoloured rung before the deadline marks 临期. Rungs at a
    share of the allowed time depend on each item's start, so they place no band.
    """
    limits: dict[Band, dt.date] = {Band.OVERDUE: today - dt.timedelta(days=1)}
    try:
        for rung in policy.rungs:
            if rung.offset_working_days is None:
                continue
            if rung.colour in {"yellow", "orange", "red"}:
                band = Band(rung.colour)
            elif rung.offset_working_days < 0:
                band = Band.DUE_SOON
            else:
                continue
            limit = latest_deadline_fired(rung, today, calendar)
            limits[band] = max(limits.get(band, limit), limit)
    except CalendarNotCovered:
        pass  # outside the calendar's years: overdue stays, colours cannot be placed
    ordered = sorted(limits.items(), key=lambda kv: -BAND_ORDER.index(kv[0]))
    return Bands(today=today, thresholds=tuple(ordered))
