"""Recurring duties and problem milestones: create occurrences, report them done, chase them.

Services take a unit of work and never commit. `create_occurrences` inserts every occurrence
opened by today that is not there yet; the natural key (campaign, duty, office, village, day)
is UNIQUE and rows go in with ON CONFLICT DO NOTHING, so a tick run twice, or two ticks at once,
create each occurrence exactly once. The ladder chases an occurrence once it is missed (the
rungs that fire after its due day) and a milestone like a deadline of its own; each rung fires
at most once per occurrence or milestone (primary keys), and each office gets one message per
sweep listing what fired.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.domain.deadlines import milestones_for
from duban.domain.duties import duty_units, opened_by, recurrence_text
from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import OPEN_STATUSES, Role
from duban.domain.plan import Audience, Milestone, Plan
from duban.domain.reminders import DueReminder, OpenItem, WorkdayCalendar, due_reminders
from duban.services.actors import resolve_actor
from duban.services.campaigns import CLOSED, load_plan_of
from duban.services.database import UnitOfWork, insert_new
from duban.services.evidence import UploadedFile, check_files, evidence_root, write_blob
from duban.services.messages import Message, enqueue_all
from models import (
    Campaign,
    DutyOccurrence,
    DutyReminderFired,
    MilestoneReminderFired,
    Office,
    Problem,
    ProblemMilestone,
)

OPEN = "open"
DONE = "done"
KIND_DUTY = "duty_reminder"
KIND_MILESTONE = "milestone_reminder"
OPEN_PROBLEM = [s.value for s in OPEN_STATUSES]


# ------------------------------------------------------------------------------ occurrences


def create_occurrences(uow: UnitOfWork, clock: Clock, campaign_id: int,
                       calendar: WorkdayCalendar) -> int:
    """Create every duty occurrence opened by today that is missing; returns how many."""
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    if not plan.duties or _closed(session, campaign_id):
        return 0
    today = local_today(clock)
    have = {
        (d, o, v, day) for d, o, v, day in session.execute(
            select(DutyOccurrence.duty_code, DutyOccurrence.office_code,
                   DutyOccurrence.village_code, DutyOccurrence.day)
            .where(DutyOccurrence.campaign_id == campaign_id))
    }
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for duty in plan.duties:
        units = duty_units(duty, plan)
        for occ in opened_by(duty, plan, calendar, today):
            for unit in units:
                if (duty.code, unit.office, unit.village, occ.day) in have:
                    continue
                rows.append({
                    "campaign_id": campaign_id, "duty_code": duty.code,
                    "office_code": unit.office, "town_code": unit.town,
                    "village_code": unit.village, "day": occ.day, "opens_on": occ.opens_on,
                    "due_on": occ.due_on, "status": OPEN, "note": "", "evidence": [],
                    "created_at": now,
                })
    # A concurrent tick's rows are skipped and not counted.
    return insert_new(session, DutyOccurrence, rows,
                      ["campaign_id", "duty_code", "office_code", "village_code", "day"])


def _closed(session: Session, campaign_id: int) -> bool:
    return session.scalar(select(Campaign.status).where(Campaign.id == campaign_id)) == CLOSED


@dataclass(frozen=True)
class DutyRow:
    """One occurrence as a unit sees it."""

    id: int
    duty: str  # the duty's name
    how_often: str  # 每周五, 每月25日, 2020-12-10前
    office: str  # office name
    place: str  # town and village names, "" for an office's own duty
    day: dt.date
    due_on: dt.date
    state: str  # 待完成 / 已完成 / 逾期完成 / 逾期未完成
    done_on: dt.date | None
    done_by: str | None
    files: int


OPEN_STATES = frozenset({"待完成", "逾期未完成"})
DONE_STATES = frozenset({"已完成", "逾期完成"})


def state_of(status: str, due_on: dt.date, done_on: dt.date | None, today: dt.date) -> str:
    """An occurrence's state in words."""
    if status == DONE:
        return "已完成" if done_on is not None and done_on <= due_on else "逾期完成"
    return "逾期未完成" if today > due_on else "待完成"


def place_name(plan: Plan, town: str, village: str) -> str:
    """A 各村 occurrence's place, town and village names ("" for a unit's own duty)."""
    t = next((t for t in plan.towns if t.code == town), None)
    if t is None:
        return ""
    v = next((v.name for v in t.villages if v.code == village), "")
    return f"{t.name}{v}" if v else ""


def list_occurrences(uow: UnitOfWork, clock: Clock, campaign_id: int, *,
                     office: str | None = None, day: dt.date | None = None,
                     states: Sequence[str] = ()) -> list[DutyRow]:
    """The occurrences opened by `day` (today), for one office (code or name) or all."""
    plan = load_plan_of(uow.session, campaign_id)
    offices = None
    if office:
        found = next((o for o in plan.offices if office in (o.code, o.name)), None)
        if found is None:
            raise NotFound(f"办室不存在：{office}")
        offices = [found.code]
    return occurrence_rows(uow.session, campaign_id, day or local_today(clock),
                           offices=offices, states=states)


def occurrence_rows(session: Session, campaign_id: int, today: dt.date, *,
                    offices: Sequence[str] | None = None,
                    states: Sequence[str] = ()) -> list[DutyRow]:
    """A read-only view: the occurrences opened by today of some offices (None: all)."""
    plan = load_plan_of(session, campaign_id)
    stmt = select(DutyOccurrence).where(DutyOccurrence.campaign_id == campaign_id,
                                        DutyOccurrence.opens_on <= today)
    if offices is not None:
        stmt = stmt.where(DutyOccurrence.office_code.in_(list(offices)))
    # Only open occurrences can be 待完成 or 逾期未完成, only done ones 已完成 or 逾期完成: asking
    # for one side only need not load (and decode the evidence of) the other.
    if states and set(states) <= OPEN_STATES:
        stmt = stmt.where(DutyOccurrence.status != DONE)
    elif states and set(states) <= DONE_STATES:
        stmt = stmt.where(DutyOccurrence.status == DONE)
    out: list[DutyRow] = []
    for o in session.scalars(stmt.order_by(DutyOccurrence.due_on, DutyOccurrence.duty_code,
                                           DutyOccurrence.office_code, DutyOccurrence.id)):
        row = _duty_row(plan, o, today)
        if not states or row.state in states:
            out.append(row)
    return out


def _duty_row(plan: Plan, o: DutyOccurrence, today: dt.date) -> DutyRow:
    duty = plan.duty(o.duty_code)
    lead = plan.office(o.office_code)
    return DutyRow(
        id=o.id, duty=duty.name if duty else o.duty_code,
        how_often=recurrence_text(duty) if duty else "",
        office=lead.name if lead else o.office_code,
        place=place_name(plan, o.town_code, o.village_code), day=o.day, due_on=o.due_on,
        state=state_of(o.status, o.due_on, o.done_on, today), done_on=o.done_on,
        done_by=o.done_by, files=len(o.evidence or []))


def report_done(uow: UnitOfWork, clock: Clock, campaign_id: int, occurrence_id: int, *,
                by: str, files: Sequence[UploadedFile] = (), note: str = "",
                root: Path | None = None) -> DutyRow:
    """A user of the unit reports an occurrence done, with its evidence (佐证资料)."""
    session = uow.session
    occ = session.get(DutyOccurrence, occurrence_id)
    if occ is None or occ.campaign_id != campaign_id:
        raise NotFound(f"常态化工作不存在：{occurrence_id}")
    plan = load_plan_of(session, campaign_id)
    duty = plan.duty(occ.duty_code)
    name = duty.name if duty else occ.duty_code
    today = local_today(clock)
    if not _may_act(session, by, today, occ.office_code):
        owner = plan.office(occ.office_code)
        raise DubanError(f"第{occurrence_id}项“{name}”由{owner.name if owner else occ.office_code}"
                         "负责，不能代为报告完成")
    if occ.status == DONE:
        raise DubanError(f"第{occurrence_id}项“{name}”（{occ.day.isoformat()}）已于"
                         f"{occ.done_on}报告完成")
    if today < occ.opens_on:
        raise DubanError(f"第{occurrence_id}项“{name}”{occ.opens_on.isoformat()}才开始，"
                         "不能提前报告完成")
    if not files and not note.strip():
        raise DubanError("报告完成须附佐证资料或写明完成情况")
    checked = check_files(files) if files else []
    for f in checked:
        write_blob(root or evidence_root(), f.sha256, f.content)
    occ.status, occ.done_on, occ.done_at, occ.done_by = DONE, today, clock.now(), by
    occ.note = note.strip()
    occ.evidence = [{"sha256": f.sha256, "filename": f.filename, "content_type": f.content_type,
                     "size": len(f.content)} for f in checked]
    session.flush()
    # The row as the list shows it on that day, without listing the campaign's every occurrence.
    return _duty_row(plan, occ, max(today, occ.opens_on))


def _may_act(session: Session, username: str, on: dt.date, office: str) -> bool:
    """Whether a user may report for an office: its own users and substitutes, the county."""
    actor = resolve_actor(session, username, on)
    return bool(actor.roles & {Role.COUNTY, Role.SYSTEM}) or office in actor.offices


# ------------------------------------------------------------------------------ milestones


@dataclass(frozen=True)
class MilestoneRow:
    """One milestone of a problem and whether it was reached."""

    code: str
    name: str
    date: dt.date
    reached_on: dt.date | None
    reached_by: str | None
    files: int
    state: str  # 未到期 / 已完成 / 逾期完成 / 逾期未完成


def _problem_milestones(plan: Plan, p: Any) -> tuple[Milestone, ...]:
    return milestones_for(plan.deadlines, category=p.category, source=p.source,
                          found_on=p.found_on, tier=p.tier, stages=plan.stages)


def milestones_of(session: Session, plan: Plan, problem: Problem, today: dt.date,
                  reached: dict[str, ProblemMilestone] | None = None) -> list[MilestoneRow]:
    """A problem's milestones with their state (what the detail page and the ledger show).

    `reached` (milestone code -> row) spares the query when the caller has read them all.
    """
    stones = _problem_milestones(plan, problem)
    if not stones:
        return []
    if reached is None:
        reached = {m.milestone_code: m for m in session.scalars(
            select(ProblemMilestone).where(ProblemMilestone.problem_id == problem.id))}
    out = []
    for s in stones:
        r = reached.get(s.code)
        if r is not None:
            state = "已完成" if r.reached_on <= s.date else "逾期完成"
        else:
            state = "逾期未完成" if today > s.date else "未到期"
        out.append(MilestoneRow(s.code, s.name, s.date, r.reached_on if r else None,
                                r.reached_by if r else None, len(r.evidence) if r else 0, state))
    return out


def problem_milestones(session: Session, problem_id: int, today: dt.date) -> list[MilestoneRow]:
    """A read-only view: the milestones of a problem by id (the problem page)."""
    problem = session.get(Problem, problem_id)
    if problem is None:
        raise NotFound(f"问题不存在：{problem_id}")
    return milestones_of(session, load_plan_of(session, problem.campaign_id), problem, today)


def milestone_texts(session: Session, campaign_id: int, problem_ids: Sequence[int],
                    today: dt.date, *, plan: Plan | None = None) -> dict[int, str]:
    """A read-only view: the milestones of a ledger page's problems in one line each
    (`plan`: the campaign's plan in force, when the caller keeps it decoded)."""
    plan = plan or load_plan_of(session, campaign_id)
    if not problem_ids or not any(r.milestones for r in plan.deadlines.rules):
        return {}
    out: dict[int, str] = {}
    reached: dict[int, dict[str, ProblemMilestone]] = defaultdict(dict)
    for m in session.scalars(select(ProblemMilestone).where(
            ProblemMilestone.problem_id.in_(list(problem_ids)))):
        reached[m.problem_id][m.milestone_code] = m
    for p in session.scalars(select(Problem).where(Problem.id.in_(list(problem_ids)))):
        rows = milestones_of(session, plan, p, today, reached.get(p.id, {}))
        if rows:
            out[p.id] = milestone_text(rows)
    return out


def reached_milestones(session: Session, campaign_id: int
                       ) -> dict[int, dict[str, ProblemMilestone]]:
    """Every reached milestone of a campaign, by problem id and milestone code (one query)."""
    out: dict[int, dict[str, ProblemMilestone]] = defaultdict(dict)
    for m in session.scalars(select(ProblemMilestone).join(
            Problem, Problem.id == ProblemMilestone.problem_id).where(
            Problem.campaign_id == campaign_id)):
        out[m.problem_id][m.milestone_code] = m
    return out


def milestone_text(rows: Sequence[MilestoneRow]) -> str:
    """Milestones in one line for the ledger: 开工 2020-09-15 已完成；完工 2020-11-30 未到期."""
    return "；".join(f"{m.name} {m.date.isoformat()} {m.state}" for m in rows)


def reach_milestone(uow: UnitOfWork, clock: Clock, campaign_id: int, problem_ref: str | int,
                    milestone: str, *, by: str, files: Sequence[UploadedFile] = (),
                    note: str = "", root: Path | None = None) -> MilestoneRow:
    """The lead office reports a milestone (by code or name) of a problem reached."""
    from duban.services.problems import find_problem

    session = uow.session
    problem = find_problem(session, campaign_id, problem_ref)
    plan = load_plan_of(session, campaign_id)
    stones = _problem_milestones(plan, problem)
    stone = next((s for s in stones if milestone in (s.code, s.name)), None)
    if stone is None:
        known = "、".join(s.name for s in stones) or "无"
        raise NotFound(f"问题 {problem.code} 没有节点“{milestone}”（它的节点：{known}）")
    today = local_today(clock)
    if problem.lead_office is None or not _may_act(session, by, today, problem.lead_office):
        raise DubanError(f"问题 {problem.code} 的节点由牵头办室报告，{by} 不能代为报告")
    if session.get(ProblemMilestone, (problem.id, stone.code)) is not None:
        raise DubanError(f"问题 {problem.code} 的节点“{stone.name}”已报告完成")
    if not files and not note.strip():
        raise DubanError("报告节点完成须附佐证资料或写明完成情况")
    checked = check_files(files) if files else []
    for f in checked:
        write_blob(root or evidence_root(), f.sha256, f.content)
    session.add(ProblemMilestone(
        problem_id=problem.id, milestone_code=stone.code, due_on=stone.date, reached_on=today,
        reached_at=clock.now(), reached_by=by, note=note.strip(),
        evidence=[{"sha256": f.sha256, "filename": f.filename,
                   "content_type": f.content_type, "size": len(f.content)} for f in checked]))
    session.flush()
    return next(m for m in milestones_of(session, plan, problem, today) if m.code == stone.code)


# ------------------------------------------------------------------------------ the ladder


@dataclass
class DutySweep:
    """What one sweep of duties and milestones fired."""

    occurrences_fired: int = 0
    milestones_fired: int = 0
    messages: int = 0
    offices: list[str] = field(default_factory=list)


def sweep_duties(uow: UnitOfWork, clock: Clock, campaign_id: int,
                 calendar: WorkdayCalendar) -> DutySweep:
    """Fire the ladder's due rungs for missed occurrences and milestones not reached."""
    session = uow.session
    result = DutySweep()
    plan = load_plan_of(session, campaign_id)
    policy = plan.reminders
    if not policy.rungs or _closed(session, campaign_id):
        return result
    today = local_today(clock)
    now = clock.now()
    lines: dict[str, list[tuple[DueReminder, str]]] = defaultdict(list)
    # Occurrences: chased once missed, by the rungs that fall after their due day.
    missed = session.scalars(select(DutyOccurrence).where(
        DutyOccurrence.campaign_id == campaign_id, DutyOccurrence.status == OPEN,
        DutyOccurrence.due_on < today).order_by(DutyOccurrence.id)).all()
    fired = _fired(session, select(DutyReminderFired.occurrence_id, DutyReminderFired.rung_code)
                   .join(DutyOccurrence).where(DutyOccurrence.campaign_id == campaign_id))
    occ_rows: list[dict[str, Any]] = []
    for o in missed:
        duty = plan.duty(o.duty_code)
        label = f"{duty.name if duty else o.duty_code}（{o.day.isoformat()}）"
        place = place_name(plan, o.town_code, o.village_code)
        item = OpenItem(problem_id=o.id, office=o.office_code, assigned_on=o.opens_on,
                        deadline=o.due_on, fired=frozenset(fired.get(o.id, ())))
        for e in due_reminders(item, policy, calendar, today, number=f"常态{o.id}",
                               description=f"{place}{label}"):
            if e.fire_date > o.due_on:
                occ_rows.append({"occurrence_id": o.id, "rung_code": e.rung.code,
                                 "fired_on": today, "fired_at": now})
                lines[o.office_code].append((e, "常态化工作"))
    if occ_rows:
        result.occurrences_fired = insert_new(session, DutyReminderFired, occ_rows)
    # Milestones: each not reached is chased like a deadline of its own.
    ms_rows: list[dict[str, Any]] = []
    if any(r.milestones for r in plan.deadlines.rules):
        reached = {(pid, code) for pid, code in session.execute(
            select(ProblemMilestone.problem_id, ProblemMilestone.milestone_code)
            .join(Problem).where(Problem.campaign_id == campaign_id))}
        mfired = _fired(session, select(
            MilestoneReminderFired.problem_id, MilestoneReminderFired.milestone_code,
            MilestoneReminderFired.rung_code).where(
                MilestoneReminderFired.campaign_id == campaign_id))
        stmt = select(
            Problem.id, Problem.code, Problem.description, Problem.category, Problem.source,
            Problem.found_on, Problem.tier, Problem.lead_office, Problem.routed_at,
            Problem.deadline).where(
                Problem.campaign_id == campaign_id, Problem.status.in_(OPEN_PROBLEM),
                Problem.lead_office.is_not(None))
        stone_rules = [r for r in plan.deadlines.rules if r.milestones]
        if all(r.categories for r in stone_rules):
            # Only problems of a category some milestone rule names can carry milestones.
            stmt = stmt.where(Problem.category.in_(
                sorted({c for r in stone_rules for c in r.categories})))
        problems = session.execute(stmt).all()
        for p in problems:
            assigned = p.routed_at.astimezone(CHINA_TZ).date() if p.routed_at else p.found_on
            for s in _problem_milestones(plan, p):
                if (p.id, s.code) in reached or s.date == p.deadline:
                    continue  # reached, or the problem's own ladder chases its deadline
                item = OpenItem(problem_id=p.id, office=p.lead_office, assigned_on=assigned,
                                deadline=s.date,
                                fired=frozenset(mfired.get((p.id, s.code), ())))
                for e in due_reminders(item, policy, calendar, today, number=p.code,
                                       description=f"节点“{s.name}”：{p.description[:30]}"):
                    if e.fire_date >= assigned:
                        ms_rows.append({"problem_id": p.id, "milestone_code": s.code,
                                        "rung_code": e.rung.code, "campaign_id": campaign_id,
                                        "fired_on": today, "fired_at": now})
                        lines[p.lead_office].append((e, "整改节点"))
    if ms_rows:
        result.milestones_fired = insert_new(session, MilestoneReminderFired, ms_rows)
    if occ_rows or ms_rows:
        result.messages, result.offices = _messages(session, clock, plan, campaign_id, today,
                                                    lines)
    return result


def _fired(session: Session, stmt: Any) -> dict[Any, set[str]]:
    out: dict[Any, set[str]] = defaultdict(set)
    for row in session.execute(stmt):
        key = row[0] if len(row) == 2 else tuple(row[:-1])
        out[key].add(row[-1])
    return out


def _messages(session: Session, clock: Clock, plan: Plan, campaign_id: int, today: dt.date,
              lines: dict[str, list[tuple[DueReminder, str]]]) -> tuple[int, list[str]]:
    """One message per office (and per audience its rungs name) listing what fired today."""
    offices = {o.code: o for o in session.scalars(
        select(Office).where(Office.campaign_id == campaign_id))}
    messages: list[Message] = []
    for code, entries in sorted(lines.items()):
        target = offices.get(code)
        if target is None:
            continue
        top = max(entries, key=lambda pair: pair[0].severity)[0]
        subject = f"{top.rung.name}：{target.name}有{len(entries)}项常态化工作或整改节点未按时完成"
        body = "\n".join(
            f"{i}. [{kind}] {e.description}，应于{e.deadline.isoformat()}完成，{e.status_text}"
            for i, (e, kind) in enumerate(entries, 1))
        for audience in top.rung.audience:
            to = offices.get(plan.county_office) if audience is Audience.COUNTY else target
            if to is None:
                continue
            messages.append(Message(
                target=to, audience=audience, kind=KIND_DUTY, subject=subject, body=body,
                colour=top.rung.colour,
                dedupe_key=f"duty:{campaign_id}:{today.isoformat()}:{code}:{audience.value}",
                about_office=code))
    return enqueue_all(session, clock, plan, campaign_id, messages), sorted(lines)


# ------------------------------------------------------------------------------ summary


@dataclass(frozen=True)
class DutyTally:
    """Occurrences due by a day: done on time, done late, missed."""

    due: int
    done: int
    late: int
    missed: int
    open: int  # not yet due


def tally(uow: UnitOfWork, clock: Clock, campaign_id: int) -> DutyTally:
    """How a campaign's duties stand today."""
    today = local_today(clock)
    rows = uow.session.execute(select(DutyOccurrence.status, DutyOccurrence.due_on,
                                      DutyOccurrence.done_on)
                               .where(DutyOccurrence.campaign_id == campaign_id)).all()
    states = [state_of(s, due, done, today) for s, due, done in rows]
    return DutyTally(due=sum(1 for _, due, _ in rows if due <= today),
                     done=states.count("已完成"), late=states.count("逾期完成"),
                     missed=states.count("逾期未完成"), open=states.count("待完成"))
