"""The demo: a generated township runs a seed plan's whole campaign in simulated time.

People's work (offices rectifying, reviewers reviewing) is simulated here through the same
services the web app and CLI call; the campaign's own machinery (stage runs, reminders, notices,
reports) runs as it would in production, driven by a clock that jumps from one working moment
to the next.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import struct
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from duban.adapters import xlsx
from duban.adapters.plan.yaml_file import load_plan_file
from duban.adapters.resources import resource_dir
from duban.domain.clock import CHINA_TZ, FixedClock, local_today
from duban.domain.columns import PROBLEM_COLUMNS, VISIT_COLUMNS
from duban.domain.errors import DubanError
from duban.domain.lifecycle import (
    ACTION_LABELS,
    FINAL_STATUSES,
    Action,
    Actor,
    Payload,
    Role,
    Status,
)
from duban.domain.plan import OfficeLevel, Plan, StageKind
from duban.domain.routing import village_office_code
from duban.services import moves
from duban.services.actors import resolve_actor
from duban.services.calendars import working_calendar
from duban.services.campaigns import CampaignSummary, launch_campaign, summarise_campaign
from duban.services.database import Database, database_url
from duban.services.duties import DutyTally
from duban.services.intake import import_file
from duban.services.root import build_root, install_root
from duban.services.views.names import people_labels
from duban.synth import (
    generate_for_plan,
    household_headers,
    iter_household_rows,
    iter_problem_rows,
    iter_visit_rows,
)
from models import Base, Campaign, DutyOccurrence, Problem

# The simulated people's moves are written this many at a time (`moves.apply_batch`).
MOVE_BATCH = 1000
PLANS_DIR = resource_dir("plans")
DEMO_ACTOR = "demo"
# How long the demo runs a plan past its last dated day when a stage has no end.
OPEN_ENDED_DEMO_DAYS = 120

Echo = Callable[[str], None]


@dataclass
class StageRun:
    """One stage run of the demo, for the summary table."""

    name: str
    day: dt.date
    seconds: float
    note: str


@dataclass
class DemoResult:
    """What the demo did and where it put things."""

    summary: CampaignSummary
    database: str
    stages: list[StageRun] = field(default_factory=list)
    files: list[tuple[str, Path]] = field(default_factory=list)
    accounts: list[list[str]] = field(default_factory=list)
    activity: dict[str, int] = field(default_factory=dict)
    duties: DutyTally | None = None  # recurring duties done and missed, when the plan has any
    deliveries: list[tuple[str, int]] = field(default_factory=list)
    # What the campaign's machinery did, each with its count and where its files are.
    outcome: list[tuple[str, int, str]] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)  # username -> 姓名（单位）, for the summary
    # The working day the run stopped after when asked to stop early (`--days`); None: to the end.
    stopped_after: int | None = None


def plan_path(name: str) -> Path:
    """The YAML file of a seed plan (seed-000 … seed-004)."""
    found = sorted(PLANS_DIR.glob(f"{name}-*.yaml"))
    if not found:
        raise DubanError(f"找不到种子方案：{name}（目录 {PLANS_DIR}）")
    return found[0]


def open_demo_database(url: str | None, fresh: bool) -> Database:
    """The demo's database: the default SQLite file unless a URL is given; emptied if fresh.

    Only a database that is empty or holds nothing but earlier demos is ever emptied.
    """
    db = Database(url or database_url())
    if fresh and "campaign" in inspect(db.engine).get_table_names():
        with db.transaction() as session:
            owners = set(session.scalars(select(Campaign.launched_by)))
        if owners - {DEMO_ACTOR}:
            raise DubanError(
                f"数据库 {db.url} 中已有真实行动，演示不会清空它；"
                "请用 --db 或环境变量 DUBAN_DATA_DIR 指定另一个位置"
            )
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    db.migrate()
    return db


def write_sheet(path: Path, headers: Iterable[str], rows: Iterable[dict[str, object]]) -> Path:
    """Write rows under a header row, as a town clerk's filled-in template would be."""
    headers = list(headers)
    path.parent.mkdir(parents=True, exist_ok=True)
    # duban's streaming writer: a county's 300,000 rows in seconds (openpyxl took minutes).
    xlsx.write_sheet(path, "Sheet1", chain([headers], ([row.get(h) for h in headers]
                                                        for row in rows)))
    return path


def morning(day: dt.date, hour: int = 9) -> dt.datetime:
    """A working moment (09:00 China time by default) on a day."""
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=CHINA_TZ)


def evidence_png(label: str) -> bytes:
    """A small, valid PNG photo stand-in whose bytes differ per label (stored by hash)."""
    width, height = 8, 8
    raw = b"".join(b"\x00" + bytes((i * 29 + j * 7 + len(label)) % 256 for j in range(width * 3))
                   for i in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00" + label.encode("utf-8"))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


DEMO_PASSWORD = "duban-demo-2022"


def create_demo_users(db: Database, clock: FixedClock, plan: Plan) -> list[list[str]]:
    """One account per office, supervision group, town and a village; returns one per role."""
    from duban.services.actors import add_user

    def hashed() -> str | None:
        try:
            from duban.services.accounts import hash_password
        except ImportError:  # the web app's accounts module is optional for the CLI demo
            return None
        return hash_password(DEMO_PASSWORD)

    password_hash = hashed()
    db.run(add_user, clock, username="county", name="县级办公室值班员", role=Role.COUNTY,
             office=plan.county_office, password_hash=password_hash)
    for office in plan.offices:
        # The county office also leads some problems itself; its staff then act as an office.
        db.run(add_user, clock, username=office.code, name=f"{office.name}经办人", role=Role.OFFICE,
                 office=office.code, town=office.town, password_hash=password_hash)
    for group in plan.review.groups:
        db.run(add_user, clock, username=group.code, name=f"{group.name}组长",
                 role=Role.SUPERVISOR, password_hash=password_hash)
    first_town = plan.towns[0]
    db.run(add_user, clock, username=f"town-{first_town.code}", name=f"{first_town.name}联络员",
             role=Role.TOWN, town=first_town.code, password_hash=password_hash)
    first_village = first_town.villages[0] if first_town.villages else None
    accounts = [["县级办公室", "county", DEMO_PASSWORD, "全县问题、交办、销号"]]
    if plan.review.groups:
        accounts.append(["督查组", plan.review.groups[0].code, DEMO_PASSWORD,
                         plan.review.groups[0].name])
    accounts.append(["乡镇", f"town-{first_town.code}", DEMO_PASSWORD, first_town.name])
    lead = next((o for o in plan.offices if o.code != plan.county_office), None)
    if lead is not None:
        accounts.append(["责任办室", lead.code, DEMO_PASSWORD, lead.name])
    if first_village is not None:
        db.run(add_user, clock, username=f"village-{first_village.code}",
                 name=f"{first_village.name}村干部", role=Role.VILLAGE, town=first_town.code,
                 village=first_village.code,
                 office=village_office_code(first_village.code), password_hash=password_hash)
        accounts.append(["村", f"village-{first_village.code}", DEMO_PASSWORD,
                         first_village.name])
    if password_hash is None:
        for row in accounts:
            row[2] = "（未设置）"
    return accounts


@dataclass
class Behaviour:
    """How the simulated people behave; rates are per item, drawn from one seeded stream."""

    dispute_rate: float = 0.03
    extension_rate: float = 0.05
    late_rate: float = 0.15  # finish a few working days after the deadline
    very_late_rate: float = 0.06  # finish a week or more late: 督办 and 通报
    review_fail_rate: float = 0.12
    spot_check_fail_rate: float = 0.06
    acknowledge_rate: float = 0.8  # share of notices signed for on a given day
    duty_done_rate: float = 0.8  # share of duty occurrences done on their due day
    duty_late_rate: float = 0.3  # share of missed occurrences made up on a later day
    milestone_rate: float = 0.7  # share of milestones reported reached on time
    # At least this many items are left rectifying past the ladder's last rung, so that its
    # 催办 and 通报 documents are written even in a small township.
    min_very_late: int = 2
    # At least this many spot checks of closed items fail and reopen them; a plan without a
    # daily quota of closed items (seed 002's 督导组 work 不定期) gets ad hoc checks instead.
    min_reopened: int = 1
    adhoc_check_rate: float = 0.25  # share of working days a group checks a closed item ad hoc


class People:
    """The simulated offices, supervisors and county staff acting through the services."""

    def __init__(self, db: Database, clock: FixedClock, plan: Plan, campaign_id: int,
                 seed: int, behaviour: Behaviour | None = None) -> None:
        self.db, self.clock, self.plan, self.campaign_id = db, clock, plan, campaign_id
        self.rng = random.Random(seed)
        self.behaviour = behaviour or Behaviour()
        self.finish_on: dict[int, dt.date] = {}
        self.disputed: set[int] = set()
        self.extended: set[int] = set()
        self.calendar = working_calendar()
        self.offices = [o.code for o in plan.offices if o.level != OfficeLevel.TOWN]
        self.reviewers = [g.code for g in plan.review.groups] or ["county"]
        self.counts: Counter[str] = Counter()
        # The ladder's last rung in working days after the deadline (通报, or seed 004's 一票否决).
        self.last_rung = max((r.offset_working_days for r in plan.reminders.rungs
                              if r.offset_working_days is not None), default=0)
        self.very_late: set[int] = set()
        self.reopened = 0
        self._actors: dict[tuple[str, dt.date], Actor] = {}

    def today(self) -> dt.date:
        """The simulated day."""
        return local_today(self.clock)

    def _plan_finish(self, deadline: dt.date | None, problem_id: int | None = None) -> dt.date:
        today = self.today()
        if deadline is None or deadline <= today:
            return self.calendar.add_workdays(today, 1)
        roll = self.rng.random()
        b = self.behaviour
        if problem_id is not None and (len(self.very_late) < b.min_very_late
                                       or roll < b.very_late_rate):
            # Still rectifying when the ladder's last rung fires (催办, 督办, 通报 all fire).
            self.very_late.add(problem_id)
            return self.calendar.add_workdays(deadline, self.last_rung + self.rng.randint(1, 3))
        if roll < b.very_late_rate:
            return self.calendar.add_workdays(deadline, self.rng.randint(6, 10))
        if roll < b.very_late_rate + b.late_rate:
            return self.calendar.add_workdays(deadline, self.rng.randint(1, 4))
        span = max(1, self.calendar.workdays_between(today, deadline))
        return self.calendar.add_workdays(today, self.rng.randint(1, span))

    def act(self) -> None:
        """One working day of everyone's moves, each actor's moves in one transaction."""
        self._acknowledge_notices()
        self._duties_work()
        self._offices_work()
        self._county_work()
        self._reviewers_work()

    def duties_day(self) -> None:
        """Only the day's recurring duties (the days after every problem is settled)."""
        self._duties_work()

    def _duties_work(self) -> None:
        """Units do most of their duties on the due day, make up some missed ones, skip the
        rest; lead offices report most milestones reached by their date."""
        from duban.services.duties import (
            list_occurrences,
            milestones_of,
            reach_milestone,
            report_done,
        )
        from duban.services.evidence import UploadedFile

        today, b = self.today(), self.behaviour
        if self.plan.duties:
            with self.db.unit_of_work() as uow:
                rows = list_occurrences(uow, self.clock, self.campaign_id,
                                        states=("待完成", "逾期未完成"))
            for row in rows:
                due_today = row.due_on == today
                if not (due_today and self.rng.random() < b.duty_done_rate) and not (
                        row.due_on < today and row.state == "逾期未完成"
                        and self.rng.random() < b.duty_late_rate / 5):
                    continue
                with self.db.unit_of_work() as uow:
                    occ = uow.session.get(DutyOccurrence, row.id)
                    assert occ is not None
                    report_done(uow, self.clock, self.campaign_id, row.id, by=occ.office_code,
                                files=[UploadedFile(f"{row.duty}.png",
                                                    evidence_png(f"duty-{row.id}"))])
                    uow.commit()
                self.counts["常态化工作完成" if due_today else "常态化工作补做"] += 1
        if not any(r.milestones for r in self.plan.deadlines.rules):
            return
        with self.db.unit_of_work() as uow:
            due: list[tuple[str, str, str]] = []
            for p in self._problems(uow.session, Status.RECTIFYING):
                for m in milestones_of(uow.session, self.plan, p, today):
                    if m.reached_on is None and m.date != p.deadline and (
                            m.date == today or (m.date < today and self.rng.random() < 0.2)):
                        due.append((p.code, m.code, p.lead_office or ""))
        for code, milestone, lead in due:
            if self.rng.random() >= b.milestone_rate:
                continue
            with self.db.unit_of_work() as uow:
                reach_milestone(uow, self.clock, self.campaign_id, code, milestone, by=lead,
                                note="节点已完成，附现场照片",
                                files=[UploadedFile("节点.png", evidence_png(code + milestone))])
                uow.commit()
            self.counts["整改节点完成"] += 1

    def _acknowledge_notices(self) -> None:
        from duban.services.notices.reading import list_notices
        from duban.services.notices.receipts import acknowledge_notice

        for notice in self.db.run(list_notices, self.campaign_id):
            if notice.acknowledged_by or notice.voided or notice.kind != "notice":
                continue
            if self.rng.random() < self.behaviour.acknowledge_rate:
                self.db.run(acknowledge_notice, self.clock, notice.id, notice.office_code)
                self.counts["签收通知书"] += 1

    def _actor(self, session: Session, username: str) -> Actor:
        """The actor a username stands for today, resolved once a day (as a sign-in would)."""
        key = (username, self.today())
        actor = self._actors.get(key)
        if actor is None:
            if self._actors and next(iter(self._actors))[1] != key[1]:
                self._actors.clear()
            actor = self._actors[key] = resolve_actor(session, username, key[1])
        return actor

    def _check_offered(self, session: Session, actor: Actor, p: Problem, action: Action) -> None:
        """The demo's people make only the moves the table offers them, as any user would."""
        if action not in moves.offered_in(session, self.clock, actor, p):
            raise DubanError(f"模拟人员{actor.label}不能对问题 {p.code}「{ACTION_LABELS[action]}」")

    def _apply(self, session: Session, actor: Actor, steps: list[moves.Step]) -> None:
        """One person's moves, each one the table offers them, written in batches."""
        for start in range(0, len(steps), MOVE_BATCH):
            chunk = steps[start:start + MOVE_BATCH]
            for step in chunk:
                self._check_offered(session, actor, step.problem, step.action)
            moves.apply_batch(session, self.clock, actor, chunk)

    def _problems(self, session: Session, *statuses: Status) -> list[Problem]:
        return list(session.scalars(
            select(Problem).where(Problem.campaign_id == self.campaign_id,
                                  Problem.status.in_([s.value for s in statuses]))
            .order_by(Problem.id)))

    def _offices_work(self) -> None:
        from duban.services.evidence import UploadedFile, check_files

        today = self.today()
        with self.db.unit_of_work() as uow:
            session = uow.session
            # Each office's answer to its new problems drawn in the problems' order, then
            # written office by office in batches (day 1 of a county: ~55,000 acceptances).
            answers: dict[str, list[moves.Step]] = {}
            for p in self._problems(session, Status.ROUTED):
                if p.id not in self.disputed and self.rng.random() < self.behaviour.dispute_rate:
                    self.disputed.add(p.id)
                    answers.setdefault(p.lead_office or "", []).append(moves.Step(
                        p, Action.DISPUTE, Payload(note="经核实，该问题不属本单位职责，申请改派")))
                    self.counts["申请改派"] += 1
                    continue
                answers.setdefault(p.lead_office or "", []).append(
                    moves.Step(p, Action.ACCEPT, Payload()))
                self.finish_on[p.id] = self._plan_finish(p.deadline, p.id)
                self.counts["签收问题"] += 1
            for office, steps in answers.items():
                self._apply(session, self._actor(session, office), steps)
            # The offices look over everything they are rectifying, but only the problems
            # they act on today are loaded as rows to move: a day costs what is done that day.
            due: dict[str, list[tuple[int, Action, Payload]]] = {}
            for r in session.execute(select(Problem.id, Problem.code, Problem.deadline,
                                            Problem.lead_office).where(
                    Problem.campaign_id == self.campaign_id,
                    Problem.status == Status.RECTIFYING.value).order_by(Problem.id)):
                if r.id not in self.finish_on:
                    self.finish_on[r.id] = self._plan_finish(r.deadline, r.id)
                finish = self.finish_on[r.id]
                if (r.id not in self.extended and r.id not in self.very_late
                        and r.deadline and finish > r.deadline
                        and self.rng.random() < self.behaviour.extension_rate * 4):
                    self.extended.add(r.id)
                    wanted = self.calendar.add_workdays(r.deadline, 5)
                    due.setdefault(r.lead_office or "", []).append((r.id, Action.REQUEST_EXTENSION,
                        Payload(note="涉及工程施工，需延期完成", deadline=wanted)))
                    self.counts["申请延期"] += 1
                    continue
                if finish > today:
                    continue
                due.setdefault(r.lead_office or "", []).append((r.id, Action.SUBMIT, Payload(
                    note="已按要求完成整改，附整改前后照片")))
                self.counts["提交整改"] += 1
            for office, work in due.items():
                actor = self._actor(session, office)
                for start in range(0, len(work), MOVE_BATCH):
                    chunk = work[start:start + MOVE_BATCH]
                    rows = {p.id: p for p in session.scalars(
                        select(Problem).where(Problem.id.in_([w[0] for w in chunk])))}
                    steps = []
                    for pid, action, payload in chunk:
                        p = rows[pid]
                        files = check_files([
                            UploadedFile(f"{p.code}-整改前.png", evidence_png(f"{p.code} before"),
                                         "before"),
                            UploadedFile(f"{p.code}-整改后.png", evidence_png(f"{p.code} after"),
                                         "after"),
                        ]) if action is Action.SUBMIT else []
                        self._check_offered(session, actor, p, action)
                        steps.append(moves.Step(p, action, payload, files))
                    moves.apply_batch(session, self.clock, actor, steps)
            uow.commit()

    def _county_work(self) -> None:
        today = self.today()
        with self.db.transaction() as session:
            county = self._actor(session, "county")
            steps: list[moves.Step] = []
            for p in self._problems(session, Status.DISPUTED):
                others = [o for o in self.offices if o != p.lead_office]
                target = self.rng.choice(others)
                steps.append(moves.Step(p, Action.REASSIGN, Payload(
                    note="经研究，改派至相关单位牵头整改", office=target)))
                self.counts["改派"] += 1
            approved = self._problems(session, Status.EXTENSION_REQUESTED)
            steps += [moves.Step(p, Action.APPROVE_EXTENSION, Payload(note="同意延期"))
                      for p in approved]
            self.counts["批准延期"] += len(approved)
            closing = self._problems(session, Status.REVIEWED)
            steps += [moves.Step(p, Action.CLOSE, Payload(note="销号")) for p in closing]
            self.counts["销号"] += len(closing)
            # The office's day in batches: the look-ups (offices named, the deadlines asked
            # for) read once a batch, not once a move with a flush of the moves before it.
            for start in range(0, len(steps), MOVE_BATCH):
                chunk = steps[start:start + MOVE_BATCH]
                for step in chunk:
                    self._check_offered(session, county, step.problem, step.action)
                moves.apply_batch(session, self.clock, county, chunk)
            for p in approved:  # the new deadline, as approved
                self.finish_on[p.id] = min(self.finish_on.get(p.id, today), p.deadline or today)

    def _reviewers_work(self) -> None:
        from duban.services.reviews import list_spot_checks

        today = self.today()
        with self.db.transaction() as session:
            # Each problem's reviewer and verdict drawn in the problems' order, as one by one;
            # then each reviewer's moves written as a batch (`moves.apply_batch`).
            work: dict[str, list[moves.Step]] = {}
            for p in self._problems(session, Status.SUBMITTED):
                if p.updated_at.astimezone(CHINA_TZ).date() >= today:
                    continue  # reviewers look at yesterday's submissions
                reviewer = self.rng.choice(self.reviewers)
                if self.rng.random() < self.behaviour.review_fail_rate:
                    # No date: the plan's working days after a failed review, as on every edge.
                    step = moves.Step(p, Action.FAIL_REVIEW, Payload(
                        note="佐证资料不完整，整改不到位，退回重新整改"))
                    self.finish_on[p.id] = self.calendar.add_workdays(today,
                                                                      self.rng.randint(1, 4))
                    self.counts["复核不通过"] += 1
                else:
                    step = moves.Step(p, Action.PASS_REVIEW, Payload(note="现场复核，整改到位"))
                    self.counts["复核通过"] += 1
                work.setdefault(reviewer, []).append(step)
            for username, steps in work.items():
                self._apply(session, self._actor(session, username), steps)
        from duban.services.reviews import record_spot_check

        for check in self.db.run(list_spot_checks, self.campaign_id, result="pending"):
            if check.day >= today:
                continue
            closed_item = check.problem_id is not None and check.problem_status == "closed"
            failed = (self.rng.random() < self.behaviour.spot_check_fail_rate
                      or (closed_item and self.reopened < self.behaviour.min_reopened))
            reopen = failed and closed_item
            # A failed household or village check records a problem: of some category.
            category = (self.rng.choice(self.plan.categories).code
                        if failed and check.kind != "closed_problem" else None)
            self.db.run(record_spot_check, self.clock, check.id, check.group, not failed,
                              note="抽查发现问题反弹" if failed else "抽查合格", category=category)
            self.counts["随机抽查"] += 1
            if reopen:
                self.reopened += 1
                self.counts["抽查重新打开"] += 1
                if check.problem_id is not None:
                    self.finish_on[check.problem_id] = self.calendar.add_workdays(today, 3)
        if self.plan.review.quota.closed_problems == 0:
            self._adhoc_checks()

    def _adhoc_checks(self) -> None:
        """不定期抽查: with no daily quota, a group now and then checks a closed item it picks."""
        from duban.services.reviews import record_adhoc_spot_check

        b, today = self.behaviour, self.today()
        groups = list(self.plan.review.groups)
        if not groups or (self.reopened >= b.min_reopened
                          and self.rng.random() >= b.adhoc_check_rate):
            return
        with self.db.transaction() as session:
            # Plain rows: late in a county's campaign nearly every problem is closed.
            closed = [(r.id, r.town_code) for r in session.execute(
                select(Problem.id, Problem.town_code, Problem.closed_at).where(
                    Problem.campaign_id == self.campaign_id,
                    Problem.status == Status.CLOSED.value).order_by(Problem.id))
                      if r.closed_at is None
                      or r.closed_at.astimezone(CHINA_TZ).date() < today]
        if not closed:
            return
        problem_id, town = self.rng.choice(closed)
        group = self.rng.choice([g for g in groups if not g.towns or town in g.towns] or groups)
        failed = self.reopened < b.min_reopened or self.rng.random() < b.spot_check_fail_rate
        with self.db.unit_of_work() as uow:
            record_adhoc_spot_check(uow, self.clock, self.campaign_id, problem_id, group.code,
                                    not failed, "入户核查，问题反弹，整改不到位" if failed else "")
            uow.commit()
        self.counts["不定期抽查"] += 1
        if failed:
            self.reopened += 1
            self.counts["抽查重新打开"] += 1
            self.finish_on[problem_id] = self.calendar.add_workdays(today, 3)


def run_demo(
    url: str | None,
    *,
    size: str,
    plan_name: str,
    out_dir: Path,
    seed: int,
    fresh: bool,
    echo: Echo,
    progress: Callable[[str], Callable[[int, int], None]] | None = None,
    days: int | None = None,
) -> DemoResult:
    """Generate, launch, import, and run every stage in simulated time; collect the files.

    `progress`, when given, makes a (done, total) callback per named phase: each import's
    rows, then the working days of the campaign simulated so far. `days` stops after that many
    simulated working days, the campaign left running (a developer's run; the result says so)."""
    path = plan_path(plan_name)
    plan = load_plan_file(path)
    db = open_demo_database(url, fresh)
    # Prefect's tasks run in this process and work on the demo's root.
    install_root(build_root(db=db))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    calendar = working_calendar()
    clock = FixedClock(morning(calendar.add_workdays(plan.start, -1)))
    campaign_id = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), DEMO_ACTOR)
    result = DemoResult(summary=db.run(summarise_campaign, campaign_id, local_today(clock)),
                        database=db.url)
    result.accounts = create_demo_users(db, clock, plan)
    echo(f"已启动行动 {campaign_id}：{plan_summary(plan)}")

    county = generate_for_plan(plan, size, seed)
    echo(f"已生成模拟数据：农户 {len(county.households)}，走访 {len(county.visits)}，"
         f"台账问题 {len(county.problems)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = out_dir / "input"
    # The villages report a share of their ledger late, after the rectify stage's notices went
    # out: those items go out on the plan's rolling notices.
    problem_rows = list(iter_problem_rows(county))
    held = len(problem_rows) // LATE_SHARE if len(problem_rows) > 1 else 0
    files = {
        "households": write_sheet(inputs / "农户信息.xlsx", household_headers(county),
                                  iter_household_rows(county)),
        "visits": write_sheet(inputs / "走访记录.xlsx", VISIT_COLUMNS, iter_visit_rows(county)),
        "problems": write_sheet(inputs / "问题台账.xlsx", PROBLEM_COLUMNS,
                                problem_rows[:len(problem_rows) - held]),
    }
    late_file = (write_sheet(inputs / "问题台账-补报.xlsx", PROBLEM_COLUMNS,
                             problem_rows[len(problem_rows) - held:]) if held else None)
    rectify_start = min((s.start for s in plan.stages if s.kind is StageKind.RECTIFY),
                        default=plan.start)
    late_day = calendar.add_workdays(max(rectify_start, plan.start), LATE_AFTER_WORKDAYS)
    # The town clerks hand in their files on the investigation stage's first days.
    clock.set(morning(plan.start, 10))
    for label, kind in (("农户信息", "households"), ("走访记录", "visits"), ("问题台账", "problems")):
        imported = db.run(import_file, clock, campaign_id, kind, files[kind],  # type: ignore[arg-type]
                          imported_by="county",
                          progress=_phases(progress, f"导入{label}"))
        result.files.append((f"导入：{label}", files[kind]))
        echo(f"已导入{label}：新增 {imported.created}")

    from flows.tick import run_tick

    people = People(db, clock, plan, campaign_id, seed)
    day = plan.start
    # A plan with an open-ended stage (seed 004) runs until its problems settle, within bounds;
    # then the simulated county office closes it. A dated plan is closed by the tick on the
    # first working day after its end.
    last = plan.end or plan.last_dated_day + dt.timedelta(days=OPEN_ENDED_DEMO_DAYS)
    ranked_month: str | None = None
    day_number, done_before = 1, 0
    workdays = sum(1 for i in range((last - day).days + 1)
                   if calendar.is_workday(day + dt.timedelta(days=i)))
    days_done = progress("模拟工作日") if progress else None
    from flows.common import flow_session

    # The ticks share one Prefect client: a new one per run cost about a seventh of the demo.
    with flow_session():
        while not _closed(db, campaign_id):
            if day > last:
                if plan.end is not None and day <= last + dt.timedelta(days=CLOSE_WITHIN_DAYS):
                    if calendar.is_workday(day):
                        clock.set(morning(day))
                        run_tick(clock.now().isoformat())  # closes the campaign (总结)
                    day += dt.timedelta(days=1)
                    continue
                _county_closes(db, clock, campaign_id, echo, "已到演示期限")
                break
            if calendar.is_workday(day):
                clock.set(morning(day))
                started, cpu = time.perf_counter(), time.process_time()
                summary = run_tick(clock.now().isoformat())
                seconds = time.perf_counter() - started
                entry = summary["campaigns"].get(str(campaign_id), {})
                for stage in entry.get("stages", []):
                    seq = int(stage.get("seq", 0))
                    name = plan.stages[seq - 1].name if 0 < seq <= len(plan.stages) else ""
                    result.stages.append(StageRun(
                        name or str(stage.get("kind", "")), day,
                        float(stage.get("seconds", seconds)), _stage_note(stage)))
                clock.set(morning(day, 10))
                if late_file is not None and day >= late_day:
                    imported = db.run(import_file,  clock, campaign_id, "problems", late_file,
                                           imported_by="county")
                    result.files.append(("导入：问题台账（补报）", late_file))
                    echo(f"{day}：已导入补报的问题台账：新增 {imported.created}")
                    late_file = None
                people.act()
                # The evening tick writes the day's report after the plan's report hour.
                clock.set(dt.datetime.combine(day, plan.reports.daily_at, tzinfo=CHINA_TZ)
                          + dt.timedelta(minutes=30))
                run_tick(clock.now().isoformat())
                done = sum(people.counts.values())
                # CPU: this process's (Prefect's server apart); on a busy machine the steadier.
                echo(f"{day}：模拟第 {day_number} 个工作日，办理 {done - done_before} 件，"
                     f"用时 {time.perf_counter() - started:.1f} 秒"
                     f"（CPU {time.process_time() - cpu:.1f} 秒）")
                if days_done is not None:
                    days_done(min(day_number, workdays), max(workdays, day_number))
                done_before, day_number = done, day_number + 1
                if days is not None and day_number > days:
                    result.stopped_after = days
                    echo(f"{day}：已模拟 {days} 个工作日，按 --days 停止（行动未跑完）")
                    break
                ranked_month = ranked_month or _first_frozen_month(db, campaign_id)
                if ranked_month and _all_settled(db, campaign_id):
                    if plan.end is None:
                        _county_closes(db, clock, campaign_id, echo, "所有问题已销号")
                        break
                    # Nothing is left to chase: the days until the plan's end hold only the
                    # recurring duties, which the units still do (without the ticks' stage runs
                    # and reports), then the tick that closes the campaign.
                    after = calendar.add_workdays(max(day, plan.end), 1)
                    echo(f"{day}：所有问题已销号，月度排名已生成；至行动结束只剩常态化工作，"
                         f"跳至行动结束后的首个工作日 {after}")
                    _duties_until(db, clock, people, campaign_id, day, plan.end)
                    day = after
                    continue
            day += dt.timedelta(days=1)
    if days_done is not None and result.stopped_after is None:  # closed before its last day
        days_done(max(workdays, day_number - 1), max(workdays, day_number - 1))
    result.summary = db.run(summarise_campaign, campaign_id, local_today(clock))
    result.people = db.run(people_labels, [result.summary.closed_by])
    result.files.extend(collect_outputs(db, clock, campaign_id, out_dir))
    result.activity = dict(people.counts)
    if plan.duties:
        from duban.services.duties import tally

        with db.unit_of_work() as uow:
            result.duties = tally(uow, clock, campaign_id)
    from duban.services.reports.delivery import delivery_summary

    result.deliveries = db.run(delivery_summary, campaign_id)
    result.outcome = outcome_rows(db, campaign_id, result.files)
    return result


def outcome_rows(db: Database, campaign_id: int,
                 files: list[tuple[str, Path]]) -> list[tuple[str, int, str]]:
    """The ladder's documents, the spot checks and their reopenings, and the close (总结)."""
    from duban.domain.detection import rule_label
    from duban.services.campaigns import CLOSED, load_plan_of
    from duban.services.closing import campaign_events
    from models import SpotCheck

    def where(label: str) -> str:
        paths = [p for lab, p in files if lab == label]
        if not paths:
            return "—"
        return str(paths[0]) if len(paths) == 1 else f"{paths[0].parent}/"

    def count(label: str) -> int:
        return sum(1 for lab, _ in files if lab == label)

    with db.transaction() as session:
        checks = session.execute(select(SpotCheck.result, SpotCheck.draw_id, SpotCheck.problem_id)
                                 .where(SpotCheck.campaign_id == campaign_id)).all()
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        status = campaign.status
        detected: dict[str | None, int] = {rule: n for rule, n in session.execute(
            select(Problem.detection_rule, func.count()).where(
                Problem.campaign_id == campaign_id, Problem.detection_rule.is_not(None))
            .group_by(Problem.detection_rule))}
        rules = load_plan_of(session, campaign_id).detection.rules
    done = [c for c in checks if c.result != "pending"]
    rows = [
        ("督办通知书", count("督办通知书"), where("督办通知书")),
        ("催办通知（逾期未改，按办室）", count("催办通知"), where("催办通知")),
        ("通报（逾期未改，全县）", count("通报"), where("通报")),
        ("抽查已检查（项）", len(done), ""),
        ("其中不定期抽查（项）", sum(1 for c in done if c.draw_id is None), ""),
        ("抽查不合格（项）", sum(1 for c in done if c.result == "failed"), ""),
        ("抽查不合格重新打开的销号问题（个）",
         sum(1 for c in done if c.result == "failed" and c.problem_id is not None), ""),
    ]
    # What the register revealed, rule by rule (the plan's own rules on its household facts too).
    rows += [(f"比对发现：{rule_label(r)}（个）", detected[r.code], "")
             for r in rules if detected.get(r.code)]
    closes = [e for e in db.run(campaign_events,  campaign_id) if e.action == "close"]
    if status == CLOSED and closes:
        last = closes[-1]
        rows.append((f"行动已总结（{last.at.astimezone(CHINA_TZ):%Y-%m-%d}，{last.note}）",
                     count("总结报告"), where("总结报告")))
    else:
        rows.append(("行动未总结", 0, ""))
    return rows


def _phases(progress: Callable[[str], Callable[[int, int], None]] | None,
            prefix: str) -> Callable[[str], Callable[[int, int], None]] | None:
    """The demo's progress factory with a prefix on each phase (导入农户信息：校验)."""
    if progress is None:
        return None
    return lambda phase: progress(f"{prefix}：{phase}")


def _stage_note(stage: dict[str, object]) -> str:
    kind = str(stage.get("kind", ""))
    labels = {"mobilise": "动员部署", "investigate": "比对发现、交办",
              "rectify": "下发督办通知书、启动催办", "review": "抽查、销号、考评"}
    return labels.get(kind, kind)


# One item in LATE_SHARE of the ledger is reported this many working days into the rectify
# stage (补报).
LATE_SHARE = 4
LATE_AFTER_WORKDAYS = 3
# How many days after a dated plan's end the demo waits for the tick to close it.
CLOSE_WITHIN_DAYS = 15


def _duties_until(db: Database, clock: FixedClock, people: People, campaign_id: int,
                  after: dt.date, end: dt.date) -> None:
    """The working days after `after` up to `end`: each day's duties opened and done."""
    if not people.plan.duties:
        return
    from duban.services.duties import create_occurrences

    calendar = working_calendar()
    day = after + dt.timedelta(days=1)
    while day <= end:
        if calendar.is_workday(day):
            clock.set(morning(day, 10))
            db.run(create_occurrences, clock, campaign_id, calendar)
            people.duties_day()
        day += dt.timedelta(days=1)


def _closed(db: Database, campaign_id: int) -> bool:
    from duban.services.campaigns import CLOSED

    with db.transaction() as session:
        return session.scalar(select(Campaign.status).where(Campaign.id == campaign_id)) == CLOSED


def _county_closes(db: Database, clock: FixedClock, campaign_id: int, echo: Echo,
                   why: str) -> None:
    """The county office closes an open-ended campaign (总结), as `duban campaign close` does."""
    from duban.services.closing import close_campaign

    clock.set(morning(local_today(clock), 16))
    db.run(close_campaign,  clock, campaign_id, "county", note=why)
    echo(f"{local_today(clock)}：{why}，县级办公室总结关闭行动")


def _first_frozen_month(db: Database, campaign_id: int) -> str | None:
    from duban.services.scoring.monthly import frozen_months

    months = db.run(frozen_months, campaign_id)
    return months[0].strftime("%Y-%m") if months else None


def _all_settled(db: Database, campaign_id: int) -> bool:
    with db.transaction() as session:
        left = session.scalar(select(func.count()).select_from(Problem).where(
            Problem.campaign_id == campaign_id,
            Problem.status.not_in([s.value for s in FINAL_STATUSES])))
    return not left


def collect_outputs(db: Database, clock: FixedClock, campaign_id: int,
                    out_dir: Path) -> list[tuple[str, Path]]:
    """Copy every issued document and report into the output folder under readable names."""
    from duban.services.notices.reading import list_notices
    from duban.services.reports.ledger import write_ledger
    from duban.services.scoring.documents import write_ranking
    from duban.services.scoring.monthly import frozen_months
    from duban.services.stages import reports_dir
    from duban.services.views.names import (
        campaign_names,
        document_file_name,
        notice_list_file_name,
    )

    files: list[tuple[str, Path]] = []
    kinds = {"notice": ("督办通知书", "notices"), "reminder": ("催办通知", "reminders"),
             "bulletin": ("通报", "bulletins")}
    names = db.run(campaign_names, campaign_id)
    taken: dict[str, set[str]] = {}
    for notice in db.run(list_notices, campaign_id):
        label, folder = kinds.get(notice.kind, (notice.kind, notice.kind))
        seen = taken.setdefault(folder, set())
        name = document_file_name(names, notice.number, notice.office_code, label, seen)
        seen.add(name)
        files.append((label, _copied(notice.path, out_dir / folder / name)))
        if notice.list_file is not None:  # a long notice's full list, beside it
            sheet = notice_list_file_name(notice.number, names.office(notice.office_code))
            files.append((f"{label}问题清单", _copied(notice.list_file,
                                                      out_dir / folder / sheet)))
    from duban.services.closing import closing_dir

    for label, folder, written in (("日报", "reports", reports_dir(campaign_id)),
                                   ("总结报告", "closing", closing_dir(campaign_id))):
        if written.exists():
            files.extend((label, _copied(report, out_dir / folder / report.name))
                         for report in sorted(written.iterdir()))
    ledger = out_dir / "整改台账.xlsx"
    db.run(write_ledger, campaign_id, ledger)
    files.append(("整改台账", ledger))
    for month in db.run(frozen_months, campaign_id):
        for path in db.run(write_ranking, clock, campaign_id, month, out_dir / "ranking"):
            files.append(("月考评", path))
    return files


def _copied(source: Path, target: Path) -> Path:
    """Copy a file to target, making its folder; returns target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def plan_summary(plan: Plan) -> str:
    """One line naming the plan and its stages."""
    stages = "，".join(f"{s.name} {s.start:%m/%d}–{f'{s.end:%m/%d}' if s.end else '适时结束'}"
                      for s in plan.stages)
    return f"{plan.name}：{stages}"
