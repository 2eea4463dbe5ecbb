"""Use cases of the problem ledger: record problems, route them, read them.

Moves (交办 to 销号) go through `duban.services.moves`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from duban.adapters.batch import Progress, gc_paused
from duban.adapters.intake import ColumnRows
from duban.domain.clock import Clock, local_today
from duban.domain.deadlines import Deadline, basis_labels, compute_deadline
from duban.domain.errors import DubanError, NotFound
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import FINAL_STATUSES, Action, Status
from duban.domain.plan import Plan, StageKind
from duban.domain.routing import Route, Router, Unrouted
from duban.domain.workdays import WorkCalendar
from duban.services.actors import SYSTEM_ACTOR
from duban.services.bulk import (
    ANALYZE_ROWS,
    insert_columns,
    insert_rows,
    reserve_ids,
    sqlite_in,
    where_in,
)
from duban.services.calendars import working_calendar
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.recurrence import FreshProblem, flag_recurrences_of
from models import AuditEvent, Campaign, Problem, ProblemCoOffice

# Problem codes are short and human: W000123 within a campaign.
CODE_PREFIX = "W"
BATCH = 2000  # rows per executemany; keeps parameter counts under every driver's limit

# Bulk writes go through Core tables: the ORM's bulk path can fall back to one statement per row.
PROBLEM = cast(Table, Problem.__table__)
CO_OFFICE = cast(Table, ProblemCoOffice.__table__)
AUDIT = cast(Table, AuditEvent.__table__)


def problem_code(seq: int) -> str:
    """The 问题编号 of the seq-th problem of a campaign."""
    return f"{CODE_PREFIX}{seq:06d}"


def natural_key(p: ReportedProblem, rule: str | None = None) -> str:
    """What makes two reports the same problem, so re-importing a file adds nothing."""
    parts = [p.source, p.category, p.town, p.village or "", p.household_id or "",
             " ".join(p.description.split()), p.found_on.isoformat(), rule or ""]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def natural_keys(reported: Sequence[ReportedProblem], rules: Sequence[str | None]) -> list[str]:
    """`natural_key` of each report with its rule, the same text hashed without a call per row."""
    return _natural_keys(report_columns(reported), rules)


def _natural_keys(columns: Sequence[Sequence[Any]], rules: Sequence[str | None]) -> list[str]:
    """`natural_keys` from the reports' columns (`report_columns`)."""
    sources, categories, towns, villages, households, descriptions, _, days = columns[:8]
    sha256 = hashlib.sha256
    formatted = _Days()
    return [sha256(f"{source}\x1f{category}\x1f{town}\x1f{village or ''}\x1f{hid or ''}\x1f"
                   f"{' '.join(description.split())}\x1f{day}\x1f{rule or ''}".encode()
                   ).hexdigest()[:40]
            for source, category, town, village, hid, description, day, rule
            in zip(sources, categories, towns, villages, households, descriptions,
                   map(formatted.__getitem__, days), rules, strict=True)]


class _Days(dict[dt.date, str]):
    """ISO dates, each day formatted once."""

    def __missing__(self, day: dt.date) -> str:
        text = self[day] = day.isoformat()
        return text


# The fields of ReportedProblem, in order: `report_columns` gives them as columns.
_REPORT_FIELDS = ("source", "category", "town", "village", "household_id", "description",
                  "found_by", "found_on", "tier", "deadline")


def report_columns(reported: Sequence[ReportedProblem]) -> list[Sequence[Any]]:
    """The reports' fields (`_REPORT_FIELDS` order) as columns: a validated ledger's own
    columns, else read off the records."""
    if isinstance(reported, ColumnRows) and reported.make is ReportedProblem:
        return list(reported.columns)
    if not reported:
        return [() for _ in _REPORT_FIELDS]
    return [list(column) for column in zip(*map(attrgetter(*_REPORT_FIELDS), reported),
                                            strict=True)]


@dataclass
class RecordResult:
    """What recording a batch of problems did."""

    created: int = 0
    skipped_duplicates: int = 0
    routed: int = 0
    unrouted: int = 0
    problem_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Ruleset:
    """A campaign's routing and deadline rules, built once per batch."""

    plan: Plan
    router: Router
    calendar: WorkCalendar

    @classmethod
    def of(cls, plan: Plan) -> Ruleset:
        """The rules of a plan with the working-day calendar."""
        return cls(plan=plan, router=Router.for_plan(plan), calendar=working_calendar())

    @property
    def rectify_end(self) -> dt.date | None:
        """The end of the rectification stage, which caps deadlines."""
        stage = self.plan.stage(StageKind.RECTIFY)
        return stage.end if stage else None

    @cached_property
    def labels(self) -> dict[str, str]:
        """Category and source names for the deadline's basis text."""
        return basis_labels(self.plan)


@gc_paused()
def record_problems(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    reported: Sequence[ReportedProblem],
    *,
    recorded_by: str,
    detections: Sequence[tuple[str, dict[str, Any]] | None] | None = None,
    progress: Progress | None = None,
    pace: Callable[[], None] | None = None,
) -> RecordResult:
    """Put found problems on the ledger, route each and set its deadline, in the unit of work.

    `detections`, when given, runs parallel to `reported`: the rule and facts that fired.
    Reports already on the ledger (same natural key) are skipped. Imports and stage runs
    compose it with their own writes. `progress` hears (rows written, rows to write) over the
    problems, co-offices and events; `pace` is called between batches of those writes.
    """
    session = uow.session
    now = clock.now()
    today = local_today(clock)
    # Take the campaign's write lock before reading its problem counter: a no-op UPDATE locks
    # the row on PostgreSQL and the whole database on SQLite (which ignores FOR UPDATE), so two
    # concurrent intakes number their problems one after the other.
    session.execute(update(Campaign).where(Campaign.id == campaign_id)
                    .values(problem_seq=Campaign.problem_seq)
                    .execution_options(synchronize_session=False))
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    if pace is not None and session.get_bind().dialect.name == "sqlite":
        # On SQLite that lock is the whole database's: a pause while holding it would make
        # every clerk's move wait out the pause, so a paced stage pauses only in its read.
        pace = None
    rules = Ruleset.of(load_plan_of(session, campaign_id))
    result = RecordResult()
    fired = list(detections) if detections is not None else [None] * len(reported)
    rules_of = [d[0] if d else None for d in fired]
    columns = report_columns(reported)
    keys = _natural_keys(columns, rules_of)
    existing = _recorded_keys(session, campaign_id, keys)
    fresh: list[int] = []  # indexes into reported, in order, without repeats
    for index, key in enumerate(keys):
        if key in existing:
            result.skipped_duplicates += 1
        else:
            existing.add(key)
            fresh.append(index)
    if not fresh:
        return result
    count = len(fresh)
    ids = sorted(reserve_ids(session, PROBLEM, count))
    # Column by column (issue 17): each row's routing, deadline and 交办 event come from one
    # look-up of its (place, day, tier, deadline) among the batch's distinct ones, and the
    # rows go to the writer as columns, not as a tuple per row transposed again there.
    if count < len(keys):
        columns = [[column[i] for i in fresh] for column in columns]
        keys = [keys[i] for i in fresh]
        fired = [fired[i] for i in fresh]
        rules_of = [rules_of[i] for i in fresh]
    (sources, categories, towns, villages, households, descriptions, finders, days, tiers,
     deadlines) = columns
    facts = [d[1] if d else None for d in fired]
    decide = _Decided(_Decisions(rules, today), now)
    decided = list(map(decide.__getitem__, zip(categories, sources, towns, villages, days,
                                                tiers, deadlines, strict=True)))
    (statuses, leads, routed_at, due, bases, reasons, co_offices, actions, to_statuses,
     route_notes, route_data) = zip(*decided, strict=True)
    seq = campaign.problem_seq
    unrouted = Status.UNROUTED.value
    problem_columns: list[Sequence[Any]] = [
        ids, [campaign_id] * count, [f"{CODE_PREFIX}{n:06d}" for n in range(seq + 1, seq + count + 1)],
        keys, sources, categories, towns, villages, households, descriptions, finders, days,
        rules_of, facts, tiers, [now] * count, [now] * count, [0] * count, [1] * count,
        statuses, leads, routed_at, due, bases, reasons]
    seq += count
    co_rows = [(pid, office, campaign_id) for pid, offices in zip(ids, co_offices, strict=True)
               for office in offices]
    notes = _FoundNotes()
    no_evidence: list[str] = []  # one shared list: the bulk writer serialises it once
    system, system_role = SYSTEM_ACTOR.user, SYSTEM_ACTOR.role.value
    # Each problem's 登记 event, then its 交办 (or 未能交办) event, in that order.
    event_columns = [_alternate(recorded, routing) for recorded, routing in (
        ([campaign_id] * count, [campaign_id] * count), (ids, ids),
        (["record"] * count, actions), ([None] * count, [unrouted] * count),
        ([unrouted] * count, to_statuses), ([recorded_by] * count, [system] * count),
        (["system"] * count, [system_role] * count), ([""] * count, [""] * count),
        ([now] * count, [now] * count), (list(map(notes.__getitem__, finders)), route_notes),
        ([no_evidence] * count, [no_evidence] * count),
        (list(map(decide.decisions.record_data, rules_of)), route_data))]
    result.unrouted = statuses.count(unrouted)
    result.routed = count - result.unrouted
    total, written = count + len(co_rows) + 2 * count, 0

    def report(n: int) -> None:  # rows of the current table, on top of the tables before it
        if progress is not None:
            progress(written + n, total)
        if pace is not None:
            pace()

    hear = report if progress is not None or pace is not None else None
    # Paced, each report comes once the database has written the rows (a COPY a batch): a
    # pause while one COPY streamed on left the backend writing through it.
    settled = pace is not None
    written += insert_columns(session, PROBLEM, PROBLEM_COLUMNS, problem_columns, progress=hear,
                              settled=settled)
    written += insert_rows(session, CO_OFFICE, ("problem_id", "office_code", "campaign_id"),
                           co_rows, progress=hear, settled=settled)
    written += insert_columns(session, AUDIT, AUDIT_COLUMNS, event_columns, progress=hear,
                              settled=settled)
    campaign.problem_seq = seq
    result.created = count
    if result.created >= ANALYZE_ROWS:
        # The next stage reads them at once (a detection's are listed on notices next).
        uow.analyze_after_commit(PROBLEM.name, "id", "campaign_id", "status", "lead_office")
        uow.analyze_after_commit(CO_OFFICE.name)
    result.problem_ids = ids
    # Recurrence (屡改屡犯): flag new problems on a household and category closed before.
    flag_recurrences_of(session, campaign_id, list(map(
        FreshProblem, ids, households, categories, statuses)), at=now)
    return result


def _alternate(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    """first[0], second[0], first[1], second[1], …"""
    return list(chain.from_iterable(zip(first, second, strict=True)))


class _FoundNotes(dict[str, str]):
    """The 登记 event's note of each finder, made once per finder."""

    def __missing__(self, found_by: str) -> str:
        note = self[found_by] = f"排查人：{found_by}"
        return note


class _Decided(dict[tuple[Any, ...], tuple[Any, ...]]):
    """What routing decides for a (category, source, town, village, found on, tier, explicit
    deadline): the problem's status, lead office, routed at, deadline, its basis and the reason
    it is unrouted; its co-offices; its second event's action, status, note and data. Each
    distinct case is worked out once (a miss), its route and deadline by `_Decisions`."""

    def __init__(self, decisions: _Decisions, now: dt.datetime) -> None:
        super().__init__()
        self.decisions, self.now = decisions, now
        self._route_notes: dict[str, str] = {}
        self._unrouted_data: dict[str, Any] = {}  # one shared {}: serialised once

    def __missing__(self, case: tuple[Any, ...]) -> tuple[Any, ...]:
        category, source, town, village, found_on, tier, explicit = case
        decide = self.decisions
        route = decide.route((category, source, town, village))
        unrouted = Status.UNROUTED.value
        if isinstance(route, Route):
            deadline = decide.deadline((found_on, category, source, tier, explicit))
            basis = deadline.basis
            note = self._route_notes.get(basis)
            if note is None:
                note = self._route_notes[basis] = f"按路由表交办；时限依据：{basis}"
            decided: tuple[Any, ...] = (
                Status.ROUTED.value, route.lead, self.now, deadline.date, basis, None,
                route.co_offices, Action.ROUTE.value, Status.ROUTED.value, note,
                decide.route_data(route.lead, deadline.date))
        else:
            decided = (unrouted, None, None, None, None, route.reason, (), "unrouted", unrouted,
                       route.reason, self._unrouted_data)
        self[case] = decided
        return decided


class _Decisions:
    """Routes, deadlines and audit data for one batch, each distinct case worked out once.

    They are pure functions of a few fields that repeat across a ledger (category, source,
    place, day, tier), and equal audit data is one shared object the bulk writer serialises once.
    `routes` and `deadlines` are the caches, read by the caller before it asks.
    """

    def __init__(self, rules: Ruleset, today: dt.date) -> None:
        self.rules, self.today = rules, today
        self.routes: dict[tuple[str, str, str, str | None], Route | Unrouted] = {}
        self.deadlines: dict[tuple[Any, ...], Deadline] = {}
        self._record_data: dict[str | None, dict[str, Any]] = {}
        self._route_data: dict[tuple[str, dt.date | None], dict[str, Any]] = {}

    def route(self, place: tuple[str, str, str, str | None]) -> Route | Unrouted:
        """The routing table's answer for a (category, source, town, village)."""
        route = self.routes.get(place)
        if route is None:
            route = self.routes[place] = self.rules.router.route(*place)
        return route

    def deadline(self, case: tuple[dt.date, str, str, str | None, dt.date | None]) -> Deadline:
        """The deadline of a (found on, category, source, tier, explicit deadline), counted from
        the day the plan's basis names (found, routed today; under `signed` a working-day
        deadline waits for the 签收 of the notice that will list it)."""
        deadline = self.deadlines.get(case)
        if deadline is None:
            found_on, category, source, tier, explicit = case
            plan = self.rules.plan
            deadline = self.deadlines[case] = compute_deadline(
                plan.deadlines, self.rules.calendar, found_on=found_on, routed_on=self.today,
                category=category, source=source, tier=tier, explicit=explicit,
                rectify_end=self.rules.rectify_end, stages=plan.stages,
                labels=self.rules.labels,
            )
        return deadline

    def record_data(self, rule: str | None) -> dict[str, Any]:
        """The 登记 event's data: the detection rule that fired, if any."""
        data = self._record_data.get(rule)
        if data is None:
            data = self._record_data[rule] = {"rule": rule} if rule else {}
        return data

    def route_data(self, office: str, deadline: dt.date | None) -> dict[str, Any]:
        """The 交办 event's data: the office and the deadline (None: waits for the 签收)."""
        data = self._route_data.get((office, deadline))
        if data is None:
            data = self._route_data[(office, deadline)] = {
                "office": office, "deadline": deadline.isoformat() if deadline else None}
        return data


# Column order of the tuples record_problems writes.
PROBLEM_COLUMNS = (
    "id", "campaign_id", "code", "natural_key", "source", "category", "town_code",
    "village_code", "household_id", "description", "found_by", "found_on", "detection_rule",
    "facts", "tier", "created_at", "updated_at", "reopen_count", "version", "status",
    "lead_office", "routed_at", "deadline", "deadline_basis", "unrouted_reason",
)  # fmt: skip
AUDIT_COLUMNS = (
    "campaign_id", "problem_id", "action", "from_status", "to_status", "actor", "actor_role",
    "actor_name", "at", "note", "evidence", "data",
)  # fmt: skip


def _recorded_keys(session: Session, campaign_id: int, keys: Sequence[str]) -> set[str]:
    """Which of these natural keys the campaign's ledger already holds."""
    if session.get_bind().dialect.name == "sqlite":
        return {key for (key,) in sqlite_in(
            session, "SELECT natural_key FROM problem WHERE campaign_id = ? "
            "AND natural_key IN ({marks})", (campaign_id,), keys)}
    # Core columns: the ORM's row handling cost more than the index lookups.
    stmt = select(PROBLEM.c.natural_key).where(PROBLEM.c.campaign_id == campaign_id)
    return {key for (key,) in where_in(session, stmt, PROBLEM.c.natural_key, keys)}


def find_problem(session: Session, campaign_id: int | None, ref: str | int) -> Problem:
    """A problem by id, or by code within a campaign."""
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        problem = session.get(Problem, int(ref))
    else:
        stmt = select(Problem).where(Problem.code == ref)
        if campaign_id is not None:
            stmt = stmt.where(Problem.campaign_id == campaign_id)
        found = session.scalars(stmt).all()
        if len(found) > 1:
            raise DubanError(f"问题编号 {ref} 在多个行动中存在，请用 --campaign 指定行动")
        problem = found[0] if found else None
    if problem is None:
        raise NotFound(f"问题不存在：{ref}")
    return problem


def co_offices_of(uow: UnitOfWork, problem_id: int) -> list[str]:
    """The co-offices of a problem."""
    return list(uow.session.scalars(
        select(ProblemCoOffice.office_code).where(ProblemCoOffice.problem_id == problem_id)
    ))


def audit_trail(uow: UnitOfWork, ref: str | int, campaign_id: int | None = None
                ) -> tuple[Problem, list[AuditEvent]]:
    """A problem and every move on it, oldest first."""
    session = uow.session
    problem = find_problem(session, campaign_id, ref)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.problem_id == problem.id)
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    return problem, list(events)


def is_final(status: str) -> bool:
    """Whether a status ends the lifecycle."""
    return Status(status) in FINAL_STATUSES


def touch_problems(session: Session, ids: Sequence[int], now: dt.datetime) -> None:
    """Bump the version of problems changed in bulk, so concurrent editors notice."""
    for i in range(0, len(ids), BATCH):
        session.execute(
            update(Problem).where(Problem.id.in_(ids[i : i + BATCH]))
            .values(version=Problem.version + 1, updated_at=now)
        )
