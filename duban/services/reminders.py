"""The deadline sweep: fire due rungs of the reminder ladder, once each, and write digests.

How a sweep stays fast at a million open problems: `reminder_state` holds, per open problem,
the date its next unfired rung falls due and the problem version it was computed from. A
sweep (1) arms problems that have no state yet or whose version moved (a move that changes
the deadline, office or status bumps the version), and (2) reads only the states due today
through the (campaign_id, next_due_on) index. Everything a tick fires, the messages it writes
(one digest per office and audience) and the 催办 / 通报 documents it issues commit in one
transaction; `reminder_fired` has UNIQUE(problem_id, cycle, rung_code) and rows are inserted
with ON CONFLICT DO NOTHING ... RETURNING, so only rungs this sweep really inserted are announced.

After downtime several rungs of a problem may be due at once: only those of the latest moment
are sent, the others are recorded with their `skipped_reason` (`domain.reminders.catch_up`).
A new deadline bumps the problem's `deadline_cycle`, and the ladder starts again for it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVarTuple, cast

from sqlalchemy import Select, Table, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.domain.lifecycle import OPEN_STATUSES
from duban.domain.plan import (
    Audience,
    Plan,
    ReminderPolicy,
    RungAction,
)
from duban.domain.reminders import (
    Digest,
    DueReminder,
    OpenItem,
    WorkdayCalendar,
    build_digests,
    catch_up,
    count_workdays,
    due_reminders,
    ladder,
)
from duban.services.bulk import insert_rows
from duban.services.calendars import working_calendar
from duban.services.campaigns import CLOSED, load_plan_of
from duban.services.database import UnitOfWork, insert_or_skip
from duban.services.messages import Message, enqueue_all, short_hash
from duban.services.notices.documents import (
    KIND_NOTICE,
    lock_register,
    numbering_key,
)
from duban.services.notices.escalation import escalation_documents
from duban.services.notices.receipts import deem_unsigned
from duban.services.views.names import names_in
from models import (
    Campaign,
    Notice,
    NoticeReceipt,
    Office,
    Problem,
    ReminderFired,
    ReminderState,
)

CHUNK = 2000
REMINDER_STATE = cast(Table, ReminderState.__table__)
REMINDER_STATE_COLUMNS = ("problem_id", "campaign_id", "version", "deadline", "next_due_on")
FIRED_CHUNK = 500  # rows per executemany (SQLAlchemy splits it under the bind limits)
OPEN = [s.value for s in OPEN_STATUSES]
Columns = TypeVarTuple("Columns")


@dataclass
class SweepResult:
    """What one sweep did."""

    campaign_id: int
    today: dt.date
    armed: int = 0  # problems whose next due date was (re)computed
    due_problems: int = 0
    fired: int = 0  # rungs sent (reminder_fired rows inserted without a skipped_reason)
    skipped: int = 0  # due rungs recorded as skipped: a later rung was due at once
    penalties: int = 0  # fired rungs that accrue a penalty
    digests: int = 0  # messages (office × audience) written
    outbox_rows: int = 0
    unacknowledged: int = 0  # notices reminded for their missing 签收
    deemed_signed: int = 0  # problems whose deadline started as their notice was deemed signed
    documents: list[str] = field(default_factory=list)  # 文号 of 催办通知 / 通报 issued


def _open_item(p: Any, fired: frozenset[str]) -> OpenItem:
    # The deadline started to run on the (China) day the problem was routed (交办).
    assigned = p.routed_at.astimezone(CHINA_TZ).date() if p.routed_at is not None else p.found_on
    return OpenItem(problem_id=p.id, office=p.lead_office, assigned_on=assigned,
                    deadline=p.deadline, fired=fired)


def next_due(item: OpenItem, policy: ReminderPolicy, calendar: WorkdayCalendar) -> dt.date | None:
    """The fire date of the problem's first unfired rung, or None when all have fired."""
    for day, rung in ladder(item, policy, calendar):
        if rung.code not in item.fired:
            return day
    return None


def _fired_codes(session: Session, ids: Sequence[int]) -> dict[int, set[str]]:
    """The rungs recorded (sent or skipped) for each problem's current deadline cycle."""
    out: dict[int, set[str]] = defaultdict(set)
    for i in range(0, len(ids), CHUNK):
        for pid, code in session.execute(
            select(ReminderFired.problem_id, ReminderFired.rung_code)
            .join(Problem, and_(Problem.id == ReminderFired.problem_id,
                                Problem.deadline_cycle == ReminderFired.cycle))
            .where(ReminderFired.problem_id.in_(ids[i : i + CHUNK]))
        ):
            out[pid].add(code)
    return out


def _stale(stmt: Select[*Columns], campaign_id: int) -> Select[*Columns]:
    """`stmt` over the campaign's open, assigned problems whose reminder_state is missing or
    older than the problem (the ones `arm` computes again)."""
    # The campaign on both sides lets each side be read by its campaign index: in a city's
    # database the join otherwise scans every campaign's states each sweep.
    return (stmt.outerjoin(ReminderState, and_(ReminderState.problem_id == Problem.id,
                                               ReminderState.campaign_id == campaign_id))
            .where(Problem.campaign_id == campaign_id,
                   Problem.status.in_(OPEN),
                   Problem.lead_office.is_not(None),
                   Problem.deadline.is_not(None),
                   or_(ReminderState.problem_id.is_(None),
                       ReminderState.version != Problem.version)))


def _stale_fired_codes(session: Session, campaign_id: int) -> dict[int, set[str]]:
    """The rungs recorded (sent or skipped) for each stale problem's current deadline cycle.

    One query joined from the stale problems, not one per chunk of their ids: the day 排查
    routes a county's ~57,000 problems (none fired yet), SQLAlchemy and psycopg rendering and
    parsing their ids into IN lists cost about a third of the tick's deadline sweep."""
    out: dict[int, set[str]] = defaultdict(set)
    for pid, code in session.execute(_stale(
            select(ReminderFired.problem_id, ReminderFired.rung_code).select_from(Problem)
            .join(ReminderFired, and_(ReminderFired.problem_id == Problem.id,
                                      ReminderFired.cycle == Problem.deadline_cycle)),
            campaign_id)):
        out[pid].add(code)
    return out


_PROBLEM_COLS = (Problem.id, Problem.code, Problem.description, Problem.lead_office,
                 Problem.deadline, Problem.routed_at, Problem.found_on, Problem.version,
                 Problem.status, Problem.town_code, Problem.village_code, Problem.category,
                 Problem.deadline_cycle)


# What arming reads of a problem (`_open_item`'s fields and the state's version).
_ARM_COLS = (Problem.id, Problem.lead_office, Problem.deadline, Problem.routed_at,
             Problem.found_on, Problem.version)


def arm(uow: UnitOfWork, campaign_id: int, policy: ReminderPolicy,
        calendar: WorkdayCalendar) -> int:
    """(Re)compute reminder_state for open problems without one or with a stale version."""
    session = uow.session
    # The stale problems' own columns in the same query (the day 排查 routes a county's
    # problems, ~57,000 of them: reading them again by id, chunk by chunk, with the texts arming
    # does not use, was a third of the tick's deadline sweep).
    stale = session.execute(_stale(
        select(*_ARM_COLS, ReminderState.problem_id.label("has_state")), campaign_id)).all()
    # Read before the states below are replaced (arming records no rung).
    fired = _stale_fired_codes(session, campaign_id) if stale else {}
    # A rung's date depends only on the day the deadline started, the deadline and the rungs
    # fired: a county's problems share a few dozen of these, so each ladder is worked out once.
    due: dict[tuple[dt.date, dt.date, frozenset[str]], dt.date | None] = {}
    # The day each routing moment falls on (China time): the problems one stage routed share
    # one moment.
    assigned: dict[dt.datetime, dt.date] = {}
    for i in range(0, len(stale), CHUNK):
        rows = stale[i : i + CHUNK]
        replaced = [p.id for p in rows if p.has_state is not None]
        if replaced:
            session.execute(delete(ReminderState).where(ReminderState.problem_id.in_(replaced)))
        states = []
        for p in rows:
            if p.routed_at is None:
                day = p.found_on
            elif (day := assigned.get(p.routed_at)) is None:
                day = assigned[p.routed_at] = p.routed_at.astimezone(CHINA_TZ).date()
            codes = frozenset(fired.get(p.id, ()))
            key = (day, p.deadline, codes)
            if key not in due:
                due[key] = next_due(_open_item(p, codes), policy, calendar)
            states.append((p.id, campaign_id, p.version, p.deadline, due[key]))
        # COPY on PostgreSQL (an executemany ran an INSERT per row there), one raw
        # executemany on SQLite.
        insert_rows(session, REMINDER_STATE, REMINDER_STATE_COLUMNS, states)
    return len(stale)


def _insert_fired(session: Session, rows: list[dict[str, Any]]) -> set[tuple[int, str]]:
    """Insert fired rungs, skipping those already there; returns the ones inserted now."""
    if not rows:
        return set()
    cols = ReminderFired.__table__.c
    inserted: set[tuple[int, str]] = set()
    # INSERT ... ON CONFLICT DO NOTHING RETURNING as one executemany: SQLAlchemy sends it as
    # multi-row statements compiled once (a statement built with `.values(chunk)` was compiled
    # again for every chunk, half of a deadline day's sweep). Only the rows really inserted
    # come back (a concurrent sweep's rows do not).
    stmt = insert_or_skip(session, ReminderFired).on_conflict_do_nothing(
        index_elements=["problem_id", "cycle", "rung_code"],
    ).returning(cols.problem_id, cols.rung_code)
    for i in range(0, len(rows), FIRED_CHUNK):
        chunk = rows[i : i + FIRED_CHUNK]
        inserted.update((pid, code) for pid, code in session.execute(stmt, chunk))
    return inserted


def sweep(uow: UnitOfWork, clock: Clock, campaign_id: int) -> SweepResult:
    """Send the rungs due today for a campaign's open problems and write the digests.

    Of a problem's rungs due at once only the latest moment's are sent; see `catch_up`.
    """
    today = local_today(clock)
    calendar = working_calendar()
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    closed = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    policy = plan.reminders
    result = SweepResult(campaign_id=campaign_id, today=today)
    if closed == CLOSED:
        return result  # a closed campaign (总结) fires nothing more
    numbered = any(r.action in (RungAction.URGE, RungAction.BULLETIN) for r in policy.rungs)
    register = lock_register(session, *numbering_key(plan, clock)) if numbered else None
    # Deadlines that start today because a notice went unsigned (视为签收) are armed at once.
    result.deemed_signed = len(deem_unsigned(uow, clock, campaign_id, calendar))
    if policy.rungs:
        result.armed = arm(uow, campaign_id, policy, calendar)
    entries = _fire_due(session, clock, plan, campaign_id, today, calendar, result)
    unacked = _unacknowledged(session, plan, campaign_id, today, calendar)
    result.unacknowledged = len(unacked)
    offices = {o.code: o for o in session.scalars(
        select(Office).where(Office.campaign_id == campaign_id))}
    if register is not None:
        result.documents = escalation_documents(
            session, clock, plan, register, campaign_id, today, entries)
    _write_messages(session, clock, plan, campaign_id, today, offices,
                    build_digests(entries), unacked, result)
    return result


def _fire_due(session: Session, clock: Clock, plan: Plan, campaign_id: int, today: dt.date,
              calendar: WorkdayCalendar, result: SweepResult) -> list[DueReminder]:
    """Record every due rung of the due states; return the reminders this sweep sends."""
    if not plan.reminders.rungs:
        return []
    due_ids = list(session.scalars(
        select(ReminderState.problem_id).where(
            ReminderState.campaign_id == campaign_id,
            ReminderState.next_due_on.is_not(None),
            ReminderState.next_due_on <= today,
        ).order_by(ReminderState.problem_id)
    ))
    now = clock.now()
    entries: list[DueReminder] = []
    policy = plan.reminders
    names = names_in(session, campaign_id, plan)
    for i in range(0, len(due_ids), CHUNK):
        ids = due_ids[i : i + CHUNK]
        problems = session.execute(select(*_PROBLEM_COLS).where(Problem.id.in_(ids))).all()
        fired = _fired_codes(session, ids)
        # A set: each of the chunk's problems is tested against it twice.
        closed = {p.id for p in problems
                  if p.status not in OPEN or p.deadline is None or p.lead_office is None}
        if closed:
            session.execute(delete(ReminderState).where(
                ReminderState.problem_id.in_(sorted(closed))))
        candidates: list[tuple[Any, DueReminder, str | None]] = []
        for p in problems:
            if p.id in closed:
                continue
            item = _open_item(p, frozenset(fired.get(p.id, ())))
            send, skipped = catch_up(due_reminders(
                item, policy, calendar, today, number=p.code, description=p.description,
                office_name=names.offices.get(p.lead_office, "")))
            candidates.extend((p, entry, None) for entry in send)
            candidates.extend((p, s.entry, s.reason) for s in skipped)
        rows = [
            {"campaign_id": campaign_id, "problem_id": p.id, "rung_code": e.rung.code,
             "action": e.rung.action.value, "colour": e.rung.colour,
             "office_code": p.lead_office, "town_code": p.town_code, "category": p.category,
             "deadline": p.deadline, "due_on": e.fire_date, "fired_on": today,
             "fired_at": now, "accrue_penalty": e.rung.accrue_penalty,
             "cycle": p.deadline_cycle, "skipped_reason": reason}
            for p, e, reason in candidates
        ]
        inserted = _insert_fired(session, rows)
        for p, e, reason in candidates:
            if (p.id, e.rung.code) in inserted:
                # A skipped rung still accrues its fine: the office was that late all the same.
                result.penalties += int(e.rung.accrue_penalty)
                if reason is None:
                    entries.append(e)
                    result.fired += 1
                else:
                    result.skipped += 1
        result.due_problems += len({p.id for p, _, _ in candidates})
        # Move each state on to its next unfired rung.
        now_fired = _fired_codes(session, ids)
        moves = [
            {"problem_id": p.id, "version": p.version, "deadline": p.deadline,
             "next_due_on": next_due(_open_item(p, frozenset(now_fired.get(p.id, ()))),
                                     policy, calendar)}
            for p in problems if p.id not in closed
        ]
        if moves:
            session.execute(update(ReminderState), moves)  # bulk UPDATE by primary key
    return entries


# ------------------------------------------------------------------------------ 签收 reminders


@dataclass(frozen=True)
class _Unacked:
    notice_id: int
    number: str
    office: str
    issued_on: dt.date
    days: int


def _unacknowledged(session: Session, plan: Plan, campaign_id: int, today: dt.date,
                    calendar: WorkdayCalendar) -> list[_Unacked]:
    """Live 督办通知书 not signed for after the plan's working days; marks them reminded."""
    after = plan.reminders.remind_unacknowledged_after_working_days
    if after <= 0:
        return []
    received = select(NoticeReceipt.notice_id)
    notices = session.scalars(
        select(Notice).where(
            Notice.campaign_id == campaign_id, Notice.kind == KIND_NOTICE,
            Notice.voided.is_(False), Notice.id.not_in(received),
            Notice.issued_on < today,
        ).order_by(Notice.office_code, Notice.seq)
    ).all()
    out = []
    for n in notices:
        waited = count_workdays(calendar, n.issued_on, today)
        since = count_workdays(calendar, n.last_reminded_on, today) if n.last_reminded_on else None
        if waited >= after and (since is None or since >= after):
            n.last_reminded_on = today
            n.reminders_sent += 1
            out.append(_Unacked(n.id, n.number, n.office_code, n.issued_on, waited))
    return out


# ------------------------------------------------------------------------------ messages


def _write_messages(session: Session, clock: Clock, plan: Plan, campaign_id: int,
                    today: dt.date, offices: dict[str, Office], digests: list[Digest],
                    unacked: list[_Unacked], result: SweepResult) -> None:
    """One message per (office, audience): the digest, plus any notices still unsigned."""
    county = offices.get(plan.county_office)
    unsigned: dict[str, list[_Unacked]] = defaultdict(list)
    for u in unacked:
        unsigned[u.office].append(u)
    plain = {(d.office, d.audience): d for d in digests}
    keys = sorted(set(plain) | {(code, Audience.OFFICE) for code in unsigned},
                  key=lambda k: (k[0], list(Audience).index(k[1])))
    messages: list[Message] = []
    for office_code, audience in keys:
        office = offices.get(office_code)
        if office is None:
            continue
        digest = plain.get((office_code, audience))
        waiting = unsigned.get(office_code, []) if audience is Audience.OFFICE else []
        lines = [f"{n}. {u.number}（{u.issued_on.month}月{u.issued_on.day}日下发，"
                 f"已{u.days}个工作日未签收）" for n, u in enumerate(waiting, start=1)]
        if digest is not None:
            subject, body, colour = digest.subject, digest.body, digest.colour
            if lines:
                body += "\n另有以下督办通知书尚未签收，请及时签收：\n" + "\n".join(lines)
            kind = "digest"
        else:
            subject = f"【签收提醒】{office.name}：{len(waiting)}份督办通知书尚未签收"
            body = (f"{office.name}：\n以下督办通知书已下发但尚未签收，请及时登录系统签收：\n"
                    + "\n".join(lines))
            colour, kind = "", "notice_unacknowledged"
        target = county if audience is Audience.COUNTY and county is not None else office
        items = [(e.problem_id, e.rung.code) for e in digest.items] if digest else []
        key = short_hash([*sorted(items), *(u.notice_id for u in waiting)])
        payload: dict[str, Any] = {
            "problems": [pid for pid, _ in items],
            "rungs": sorted({code for _, code in items}),
            "notices": [u.notice_id for u in waiting],
            "today": today.isoformat(),
        }
        messages.append(Message(
            target=target, audience=audience, kind=kind, subject=subject, body=body,
            colour=colour, payload=payload,
            dedupe_key=f"{kind}:{campaign_id}:{office_code}:{audience.value}:{today}:{key}",
            about_office=office_code,
        ))
    # One batch: a sweep's tens of digests were three or four statements each.
    result.outbox_rows += enqueue_all(session, clock, plan, campaign_id, messages)
    result.digests += len(messages)


def penalty_accruals(uow: UnitOfWork, campaign_id: int) -> list[dict[str, Any]]:
    """Fired rungs that accrue a penalty, for the scoring service: one row per problem/rung."""
    session = uow.session
    rows = session.execute(
        select(ReminderFired.problem_id, ReminderFired.rung_code, ReminderFired.office_code,
               ReminderFired.town_code, ReminderFired.category, ReminderFired.fired_on)
        .where(and_(ReminderFired.campaign_id == campaign_id,
                    ReminderFired.accrue_penalty.is_(True)))
        .order_by(ReminderFired.fired_on, ReminderFired.problem_id)
    ).all()
    return [r._asdict() for r in rows]
