"""The reminder ladder (提醒 → 到期 → 催办 → 督办 → 通报), working hours and digests.

Everything here is a pure function of a problem's deadline snapshot, the plan's
`ReminderPolicy`, a working-day calendar and a date or time handed in.

Decisions, so the service layer and the docs agree:

* A rung's moment (`fire_date`) is always a working day:
  - `offset_working_days = k < 0`: the |k|-th working day before the deadline;
  - `k = 0`: the deadline itself, or the last working day before it when the deadline falls
    on a rest day (so the office hears "due" while it can still act);
  - `k > 0`: the k-th working day after the deadline; on that day the problem is exactly k
    working days overdue (`overdue_working_days`).
  - `share_left = s`: the first day on which (working days left) / (working days allowed)
    is at most s, where allowed counts the working days in (assigned_on, deadline] and left
    counts those in (today, deadline]. Never before the first working day on or after
    `assigned_on`.
* A rung is due on a tick when its moment has come and its code is not in `fired`. When
  several are due at once with different moments (the system was down, a late assignment),
  only the rungs of the latest moment fire; the earlier ones are recorded as skipped with the
  reason (`catch_up`), so a catch-up tick after days of downtime does not send a 提醒 meant for
  three days before a deadline long past. Each rung is recorded once per problem and deadline
  cycle; the digest shows only the highest fired rung per problem and audience.
* `fired` holds the rungs recorded (fired or skipped) for the problem's current deadline. A new
  deadline (an approved extension, a failed review, a reopen, a plan amendment) starts a new
  cycle (`problem.deadline_cycle`) and the ladder starts again from its first rung.
* "Ladder order" is (fire date, position in the plan's ladder); the highest rung is the last.
* Only the unambiguous parts of the calendar are used: `is_workday`, `add_workdays` with
  n != 0, and `workdays_between(a, b)` with a <= b (working days in (a, b]).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from duban.domain.clock import CHINA_TZ
from duban.domain.plan import Audience, ReminderPolicy, ReminderRung, RungAction

# --------------------------------------------------------------------------------------------
# The calendar contract


class WorkdayCalendar(Protocol):
    """A working-day calendar (工作日历) with statutory holidays and adjusted workdays (调休).

    Expected semantics (duban.domain.workdays.WorkCalendar provides them):
    `add_workdays(d, n)` is the n-th working day after d (n > 0) or the |n|-th before d
    (n < 0), never counting d; `workdays_between(a, b)` for a <= b counts the working days in
    (a, b]; `next_workday(d)` is d if it is a working day, else the first one after it;
    `covers(d)` says whether the calendar has data for d. Only `is_workday`, `add_workdays`
    with n != 0 and `workdays_between` with a <= b are relied on here.
    """

    def is_workday(self, d: dt.date) -> bool:
        """Whether offices work on d (weekends off unless 调休, holidays off)."""
        ...

    def add_workdays(self, d: dt.date, n: int) -> dt.date:
        """The n-th working day after d (n > 0) or the |n|-th before d (n < 0)."""
        ...

    def workdays_between(self, a: dt.date, b: dt.date) -> int:
        """Working days in (a, b] when a <= b; negative when b is before a."""
        ...

    def next_workday(self, d: dt.date) -> dt.date:
        """d if it is a working day, else the first working day after it."""
        ...

    def covers(self, d: dt.date) -> bool:
        """Whether the calendar knows the holidays of d's year."""
        ...


# --------------------------------------------------------------------------------------------
# Labels

ACTION_LABELS: dict[RungAction, str] = {
    RungAction.REMIND: "提醒",
    RungAction.DUE: "到期提醒",
    RungAction.URGE: "催办",
    RungAction.SUPERVISE: "督办",
    RungAction.BULLETIN: "通报",
}

# Severity of an action, mildest first; used to pick a digest's heading.
ACTION_ORDER: tuple[RungAction, ...] = (
    RungAction.REMIND,
    RungAction.DUE,
    RungAction.URGE,
    RungAction.SUPERVISE,
    RungAction.BULLETIN,
)

AUDIENCE_LABELS: dict[Audience, str] = {
    Audience.OFFICE: "责任办室",
    Audience.OFFICE_HEAD: "办室负责人",
    Audience.COUNTY: "县级办公室",
}

# Warning colours, mildest first. "" means no colour; an unknown colour ranks just above "".
COLOUR_ORDER: tuple[str, ...] = ("", "green", "yellow", "orange", "red")

COLOUR_LABELS: dict[str, str] = {
    "": "",
    "green": "绿色",
    "yellow": "黄色预警",
    "orange": "橙色预警",
    "red": "红色预警",
}

DESCRIPTION_MAX_CHARS = 30


def colour_rank(colour: str) -> int:
    """How severe a colour is (0 for none); unknown colours rank just above none."""
    if colour in COLOUR_ORDER:
        return COLOUR_ORDER.index(colour) * 10
    return 5


def action_rank(action: RungAction) -> int:
    """How severe a rung action is (0 for 提醒)."""
    return ACTION_ORDER.index(action)


# --------------------------------------------------------------------------------------------
# Working-day helpers


def count_workdays(calendar: WorkdayCalendar, a: dt.date, b: dt.date) -> int:
    """Working days in (a, b]; minus the working days in (b, a] when b is before a."""
    if b < a:
        return -calendar.workdays_between(b, a)
    return calendar.workdays_between(a, b)


def workday_on_or_after(calendar: WorkdayCalendar, d: dt.date) -> dt.date:
    """d if it is a working day, else the next working day."""
    return d if calendar.is_workday(d) else calendar.add_workdays(d, 1)


def workday_on_or_before(calendar: WorkdayCalendar, d: dt.date) -> dt.date:
    """d if it is a working day, else the previous working day."""
    return d if calendar.is_workday(d) else calendar.add_workdays(d, -1)


def overdue_working_days(deadline: dt.date, today: dt.date, calendar: WorkdayCalendar) -> int:
    """Working days overdue on `today`: working days in (deadline, today], 0 if not late."""
    return max(0, count_workdays(calendar, deadline, today))


def remaining_working_days(deadline: dt.date, today: dt.date, calendar: WorkdayCalendar) -> int:
    """Working days left after `today` up to the deadline: those in (today, deadline], >= 0."""
    return max(0, count_workdays(calendar, today, deadline))


# --------------------------------------------------------------------------------------------
# The ladder


@dataclass(frozen=True, slots=True)
class OpenItem:
    """A problem's deadline snapshot: enough to decide which rungs are due."""

    problem_id: int
    office: str  # lead office code
    assigned_on: dt.date  # the day the deadline started to run (交办)
    deadline: dt.date  # 整改时限
    fired: frozenset[str] = frozenset()  # rung codes already fired for this problem


def _check_rung(rung: ReminderRung) -> None:
    """A rung has exactly one trigger; the plan loader checks this, this guards direct use."""
    if (rung.offset_working_days is None) == (rung.share_left is None):
        raise ValueError(f"rung {rung.code!r}: set exactly one of offset_working_days, share_left")
    if rung.share_left is not None and rung.share_left < 0:
        raise ValueError(f"rung {rung.code!r}: share_left must not be negative")


def fire_date(rung: ReminderRung, item: OpenItem, calendar: WorkdayCalendar) -> dt.date:
    """The working day on which a rung becomes due for this problem (see module notes)."""
    _check_rung(rung)
    anchor = workday_on_or_before(calendar, item.deadline)
    if rung.offset_working_days is not None:
        k = rung.offset_working_days
        if k == 0:
            return anchor
        # Before the deadline count back from the deadline; after it, count forward from it.
        return calendar.add_workdays(item.deadline, k)
    assert rung.share_left is not None
    start = workday_on_or_after(calendar, item.assigned_on)
    allowed = count_workdays(calendar, item.assigned_on, item.deadline)
    if allowed <= 0:
        return start
    # Fraction(str(x)) reads 0.3 as 3/10 exactly, so 0.3 * 10 left days is 3, not 2.999...
    left_at_most = math.floor(Fraction(str(rung.share_left)) * allowed)
    candidate = anchor if left_at_most == 0 else calendar.add_workdays(anchor, -left_at_most)
    return max(candidate, start)


def ladder(
    item: OpenItem, policy: ReminderPolicy, calendar: WorkdayCalendar
) -> list[tuple[dt.date, ReminderRung]]:
    """Every rung of the policy with its fire date for this problem, in ladder order."""
    dated = [
        (fire_date(rung, item, calendar), index, rung) for index, rung in enumerate(policy.rungs)
    ]
    dated.sort(key=lambda t: (t[0], t[1]))
    return [(day, rung) for day, _, rung in dated]


def due_rungs(
    item: OpenItem, policy: ReminderPolicy, calendar: WorkdayCalendar, today: dt.date
) -> list[ReminderRung]:
    """Rungs whose moment has come by `today` and which have not fired, in ladder order.

    All of them are returned; record every one as fired. The last is the highest.
    """
    return [
        rung
        for day, rung in ladder(item, policy, calendar)
        if day <= today and rung.code not in item.fired
    ]


def colour_of(
    item: OpenItem, policy: ReminderPolicy, calendar: WorkdayCalendar, today: dt.date
) -> str:
    """The problem's warning colour today: the most severe colour of its fired or due rungs."""
    reached = [
        rung
        for day, rung in ladder(item, policy, calendar)
        if day <= today or rung.code in item.fired
    ]
    colours = [rung.colour for rung in reached]
    return max(colours, key=colour_rank, default="")


# --------------------------------------------------------------------------------------------
# Working hours


def _window(policy: ReminderPolicy) -> tuple[dt.time, dt.time]:
    if policy.work_start >= policy.work_end:
        raise ValueError("work_start must be before work_end")
    return policy.work_start, policy.work_end


def _local(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now.isoformat()}: pass a timezone-aware datetime")
    return now.astimezone(CHINA_TZ)


def in_send_window(now: dt.datetime, policy: ReminderPolicy, calendar: WorkdayCalendar) -> bool:
    """Whether messages may go out at `now`: a working day, within [work_start, work_end)."""
    start, end = _window(policy)
    local = _local(now)
    return calendar.is_workday(local.date()) and start <= local.time() < end


def next_send_time(
    now: dt.datetime, policy: ReminderPolicy, calendar: WorkdayCalendar
) -> dt.datetime:
    """`now` if inside the send window, else the start of the next working window (China time)."""
    start, _ = _window(policy)
    if in_send_window(now, policy, calendar):
        return now
    local = _local(now)
    day = local.date()
    if not (calendar.is_workday(day) and local.time() < start):
        day = calendar.add_workdays(day, 1)
    return dt.datetime.combine(day, start, tzinfo=CHINA_TZ)


# --------------------------------------------------------------------------------------------
# Digests


@dataclass(frozen=True, slots=True)
class DueReminder:
    """One rung due for one problem on one tick, with what a message line needs."""

    problem_id: int
    number: str  # 问题编号 as people see it
    office: str  # lead office code
    office_name: str
    description: str
    deadline: dt.date
    today: dt.date
    overdue_days: int  # working days overdue, 0 if not late
    remaining_days: int  # working days left after today, 0 if due or late
    rung: ReminderRung
    fire_date: dt.date

    @property
    def severity(self) -> tuple[dt.date, int, int]:
        """Which of a problem's due rungs is highest: the latest fire date, then action, colour."""
        return (self.fire_date, action_rank(self.rung.action), colour_rank(self.rung.colour))

    @property
    def status_text(self) -> str:
        """The problem's deadline state in words, e.g. 逾期3个工作日."""
        if self.overdue_days > 0:
            return f"逾期{self.overdue_days}个工作日"
        if self.today == self.deadline:
            return "今日到期"
        if self.today > self.deadline:
            return "已过整改时限"
        if self.remaining_days == 0:
            return "时限前最后一个工作日"
        return f"剩余{self.remaining_days}个工作日"


def due_reminders(
    item: OpenItem,
    policy: ReminderPolicy,
    calendar: WorkdayCalendar,
    today: dt.date,
    *,
    number: str,
    description: str,
    office_name: str = "",
) -> list[DueReminder]:
    """The `DueReminder` of every due rung of a problem (empty when none is due)."""
    overdue = overdue_working_days(item.deadline, today, calendar)
    remaining = remaining_working_days(item.deadline, today, calendar)
    return [
        DueReminder(
            problem_id=item.problem_id,
            number=number,
            office=item.office,
            office_name=office_name or item.office,
            description=description,
            deadline=item.deadline,
            today=today,
            overdue_days=overdue,
            remaining_days=remaining,
            rung=rung,
            fire_date=day,
        )
        for day, rung in ladder(item, policy, calendar)
        if day <= today and rung.code not in item.fired
    ]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A due rung not sent because a later one of the same problem was due too, and why."""

    entry: DueReminder
    reason: str  # in Chinese, kept with the record


def _cn_day(d: dt.date) -> str:
    return f"{d.month}月{d.day}日"


def catch_up(entries: Sequence[DueReminder]) -> tuple[list[DueReminder], list[Skipped]]:
    """Split one tick's due reminders into those to send and those skipped.

    Per problem only the rungs of the latest moment among its due rungs are sent (on a day
    the system ticked as usual they all share today's moment, and all are sent). Rungs whose
    moment passed earlier, while no tick ran or before the problem was assigned, are
    skipped: a highest rung is due now and an older, milder message would only confuse.
    Input and output keep ladder order within a problem.
    """
    latest: dict[int, dt.date] = {}
    top: dict[int, DueReminder] = {}
    for e in entries:
        if e.problem_id not in latest or e.fire_date >= latest[e.problem_id]:
            latest[e.problem_id] = e.fire_date
            top[e.problem_id] = e
    send: list[DueReminder] = []
    skipped: list[Skipped] = []
    for e in entries:
        if e.fire_date == latest[e.problem_id]:
            send.append(e)
            continue
        highest = top[e.problem_id]
        skipped.append(Skipped(e, (
            f"应于{_cn_day(e.fire_date)}发出，{_cn_day(e.today)}补发时更高一级的"
            f"「{highest.rung.name}」已到期，不再补发")))
    return send, skipped


@dataclass(frozen=True, slots=True)
class Digest:
    """One message to one office (per audience) per tick, listing all its due problems."""

    office: str
    office_name: str
    audience: Audience
    today: dt.date
    items: tuple[DueReminder, ...]  # the highest due rung per problem, most severe first
    colour: str  # the most severe colour among the items
    action: RungAction  # the most severe action among the items
    subject: str
    body: str

    @property
    def overdue_count(self) -> int:
        """How many listed problems are past their deadline."""
        return sum(1 for i in self.items if i.overdue_days > 0)


def _item_order(entry: DueReminder) -> tuple[int, dt.date, int, str, int]:
    return (
        -entry.overdue_days,
        entry.deadline,
        -colour_rank(entry.rung.colour),
        entry.number,
        entry.problem_id,
    )


def _truncate(text: str, limit: int = DESCRIPTION_MAX_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _subject(action: RungAction, office_name: str, items: Sequence[DueReminder]) -> str:
    overdue = sum(1 for i in items if i.overdue_days > 0)
    pending = len(items) - overdue
    parts = []
    if overdue:
        parts.append(f"{overdue}项问题已逾期")
    if pending:
        parts.append(f"{pending}项{'' if overdue else '问题'}即将到期")
    return f"【{ACTION_LABELS[action]}】{office_name}：{'，'.join(parts)}"


def _line(n: int, entry: DueReminder) -> str:
    mark = ACTION_LABELS[entry.rung.action]
    if entry.rung.colour:
        mark = f"{COLOUR_LABELS.get(entry.rung.colour, entry.rung.colour)}·{mark}"
    return (
        f"{n}. 问题编号：{entry.number}；描述：{_truncate(entry.description)}；"
        f"整改时限：{_cn_date(entry.deadline)}；{entry.status_text}（{mark}）"
    )


def _body(
    audience: Audience, office_name: str, today: dt.date, items: Sequence[DueReminder]
) -> str:
    if audience is Audience.COUNTY:
        head = f"截至{_cn_date(today)}，{office_name}负责整改的以下问题需督促办理："
    elif audience is Audience.OFFICE_HEAD:
        head = (
            f"{office_name}负责同志：\n截至{_cn_date(today)}，你单位以下问题需督促整改，"
            "请亲自过问、限期办结："
        )
    else:
        head = f"{office_name}：\n截至{_cn_date(today)}，你单位以下问题需抓紧整改："
    lines = [head, *(_line(n, e) for n, e in enumerate(items, start=1))]
    if any(e.overdue_days > 0 for e in items):
        lines.append("请立即整改并上传佐证资料；逾期未整改的，将按规定督办、通报。")
    else:
        lines.append("请在整改时限内完成整改并上传佐证资料。")
    return "\n".join(lines)


def build_digests(entries: Iterable[DueReminder]) -> list[Digest]:
    """Group due reminders into one digest per (office, audience); never one per problem.

    A problem appears once per digest, with its highest due rung (see `DueReminder.severity`).
    Digests come sorted by office code, then audience order (office, head, county).
    """
    best: dict[tuple[str, Audience], dict[int, DueReminder]] = {}
    for entry in entries:
        for audience in entry.rung.audience:
            per_problem = best.setdefault((entry.office, audience), {})
            current = per_problem.get(entry.problem_id)
            if current is None or entry.severity > current.severity:
                per_problem[entry.problem_id] = entry
    audience_order = list(Audience)
    digests = []
    for (office, audience), per_problem in sorted(
        best.items(), key=lambda kv: (kv[0][0], audience_order.index(kv[0][1]))
    ):
        items = tuple(sorted(per_problem.values(), key=_item_order))
        office_name = items[0].office_name or office
        today = max(i.today for i in items)
        action = max((i.rung.action for i in items), key=action_rank)
        colour = max((i.rung.colour for i in items), key=colour_rank)
        digests.append(
            Digest(
                office=office,
                office_name=office_name,
                audience=audience,
                today=today,
                items=items,
                colour=colour,
                action=action,
                subject=_subject(action, office_name, items),
                body=_body(audience, office_name, today, items),
            )
        )
    return digests
