"""Daily figures, snapshots and report files against the ledger's own counts, on both backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from docx import Document
from sqlalchemy import func, select

from duban.adapters.documents.pdf import libreoffice_available
from duban.adapters.plan.yaml_file import load_plan_file
from duban.cli import cli
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import OPEN_STATUSES, STATUS_LABELS, Action, Payload, Role, Status
from duban.domain.plan import Plan
from duban.services import moves
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.evidence import UploadedFile
from duban.services.problems import record_problems
from duban.services.reports.daily import (
    DailyFigures,
    daily_figures,
    source_figures,
    write_daily_report,
)
from duban.services.reports.figures import ZERO, Counts, ScopeFigures, counts_as_of
from duban.services.reports.ledger import LEDGER_HEADERS, write_ledger, write_ledger_document
from duban.services.reports.snapshots import take_daily_snapshot
from models import Office, Problem, Town, Village
from models.reporting import DailySnapshot
from tests.conftest import PLANS, require
from tests.support import compiled_inserts, photo

pytestmark = pytest.mark.usefixtures("data_dir")
OPEN = {s.value for s in OPEN_STATUSES}


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    """A moment on a day, China time."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ)


@dataclass
class Ledger:
    """A launched campaign and a way to act on it as named users."""

    db: Database
    clock: FixedClock
    campaign_id: int
    plan: Plan
    users: set[str] = field(default_factory=set)

    def record(self, town: str, village: str | None, category: str, n: int = 1, *,
               household: str | None = None, deadline: dt.date | None = None,
               source: str | None = None, text: str = "问题") -> list[str]:
        """Record n problems today; returns their codes."""
        day = self.clock.now().astimezone(CHINA_TZ).date()
        reported = [
            ReportedProblem(source=source or self.plan.sources[0].code, category=category,
                            town=town, village=village, household_id=household,
                            description=f"{text}{i}-{self.clock.now().isoformat()}",
                            found_by="李排查", found_on=day, deadline=deadline)
            for i in range(n)
        ]
        result = self.db.run(record_problems, self.clock, self.campaign_id, reported,
                                 recorded_by="county")
        with self.db.transaction() as s:
            return list(s.scalars(select(Problem.code).where(
                Problem.id.in_(result.problem_ids)).order_by(Problem.code)))

    def office_of(self, code: str) -> str:
        with self.db.transaction() as s:
            office = s.scalar(select(Problem.lead_office).where(
                Problem.campaign_id == self.campaign_id, Problem.code == code))
        assert office is not None
        return office

    def office_user(self, office: str) -> str:
        name = f"o-{office}"
        if name not in self.users:
            self.db.run(add_user, self.clock, username=name, name=f"{office}经办人",
                     role=Role.OFFICE, office=office)
            self.users.add(name)
        return name

    def move(self, code: str, action: Action, user: str | None = None,
             files: Sequence[UploadedFile] = (), **payload: object) -> None:
        """Make a move; office moves are signed by the lead office's user."""
        if user is None:
            user = self.office_user(self.office_of(code))
        self.db.run(moves.apply, self.clock, user, code, action, Payload(**payload),  # type: ignore[arg-type]
                    campaign_id=self.campaign_id, files=files)

    def accept(self, code: str) -> None:
        self.move(code, Action.ACCEPT)

    def submit(self, code: str) -> None:
        self.move(code, Action.SUBMIT, note="已整改", files=[photo()])

    def close(self, code: str) -> None:
        self.move(code, Action.PASS_REVIEW, "ducha")
        self.move(code, Action.CLOSE, "county")

    def day(self, day: dt.date, hour: int = 10) -> None:
        self.clock.set(at(day, hour))


def launch_seed(db: Database, clock: FixedClock, name: str) -> Ledger:
    """Launch a seed plan and add the county and supervision users."""
    path = next(PLANS.glob(f"{name}*.yaml"))
    plan = load_plan_file(path)
    campaign_id = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "county")
    db.run(add_user, clock, username="county", name="县巩固办张主任", role=Role.COUNTY)
    db.run(add_user, clock, username="ducha", name="督查组王组长", role=Role.SUPERVISOR)
    return Ledger(db, clock, campaign_id, plan)


def recount(db: Database, campaign_id: int, day: dt.date) -> dict[tuple[str, str], Counts]:
    """The ledger's own counts, straight from the problem rows (today's state only)."""
    with db.transaction() as s:
        rows = s.execute(select(Problem.town_code, Problem.lead_office, Problem.status,
                                Problem.deadline).where(Problem.campaign_id == campaign_id)).all()
    tally: dict[tuple[str, str], dict[str, int]] = {}
    for town, office, status, deadline in rows:
        keys = [("campaign", ""), ("town", town)] + ([("office", office)] if office else [])
        for key in keys:
            t = tally.setdefault(key, dict.fromkeys(ZERO.as_dict(), 0))
            if status == Status.VOIDED:
                t["voided"] += 1
                continue
            t["found"] += 1
            if status == Status.UNROUTED:
                t["unrouted"] += 1
            else:
                t["routed"] += 1
            if status in OPEN:
                t["rectifying"] += 1
                if deadline is not None and deadline < day:
                    t["overdue"] += 1
            elif status in (Status.SUBMITTED, Status.REVIEWED):
                t["awaiting_review"] += 1
            elif status == Status.CLOSED:
                t["closed"] += 1
    return {k: Counts(**v) for k, v in tally.items()}


def assert_figures(f: DailyFigures, expected: dict[tuple[str, str], Counts]) -> None:
    """Every scope of the figures equals the recount (missing scopes count zero)."""
    assert f.total.today == expected.get(("campaign", ""), ZERO)
    for t in f.towns:
        assert t.today == expected.get(("town", t.code), ZERO), t.code
    for o in f.offices:
        assert o.today == expected.get(("office", o.code), ZERO), o.code
    listed = {("town", t.code) for t in f.towns} | {("office", o.code) for o in f.offices}
    assert {k for k in expected if k[0] != "campaign"} <= listed


# Seed 002 (沈丘县) in its investigation and rectification stages, day by day.
D = [dt.date(2022, 9, 20), dt.date(2022, 9, 21), dt.date(2022, 9, 22), dt.date(2022, 9, 23),
     dt.date(2022, 9, 24)]


def build_campaign(db: Database, clock: FixedClock,
                   after_day: Callable[[Ledger, dt.date], None] | None = None) -> Ledger:
    """A ledger that goes through every status over five days (seed 002)."""
    clock.set(at(D[0], 9))
    lg = launch_seed(db, clock, "seed-002")
    towns = lg.plan.towns
    t1, t2, t3 = towns[0], towns[1], towns[2]
    v1, v2, v3 = t1.villages[0].code, t2.villages[0].code, t3.villages[0].code

    lg.day(D[0])
    housing = lg.record(t1.code, v1, "housing", 3, deadline=D[1], household="H-1")
    water = lg.record(t2.code, v2, "water", 2, deadline=D[2])
    edu = lg.record(t3.code, v3, "education", 2, deadline=D[4])
    misc = lg.record(t1.code, v1, "satisfaction", 2)  # the plan's 10/20 deadline
    if after_day:
        after_day(lg, D[0])

    lg.day(D[1])
    for code in housing + water + edu[:1]:
        lg.accept(code)
    lg.submit(housing[0])
    lg.submit(water[0])
    lg.move(edu[1], Action.DISPUTE, note="不属本单位职责")
    lg.move(misc[1], Action.VOID, "county", note="重复登记")
    if after_day:
        after_day(lg, D[1])

    lg.day(D[2])
    lg.move(housing[0], Action.PASS_REVIEW, "ducha")
    lg.move(water[0], Action.FAIL_REVIEW, "ducha", note="照片不清", deadline=D[3])
    lg.move(edu[1], Action.REASSIGN, "county", note="改派", office="xczxj")
    lg.move(housing[1], Action.REQUEST_EXTENSION, note="材料未到", deadline=D[4])
    late = lg.record(t2.code, v2, "health", 2, deadline=D[3])
    if after_day:
        after_day(lg, D[2])

    lg.day(D[3])
    lg.move(housing[1], Action.APPROVE_EXTENSION, "county")
    lg.move(housing[0], Action.CLOSE, "county")
    lg.submit(water[0])
    for code in late:
        lg.accept(code)
    lg.submit(late[0])
    lg.close(late[0])
    if after_day:
        after_day(lg, D[3])

    lg.day(D[4])
    lg.move(housing[0], Action.REOPEN, "ducha", note="抽查发现屋面仍漏雨", deadline=D[4])
    lg.close(water[0])
    lg.accept(edu[1])
    lg.move(misc[0], Action.REASSIGN, "county", note="改派", office="mzj")
    if after_day:
        after_day(lg, D[4])
    return lg


def test_figures_equal_the_ledger_counts_on_every_day(db: Database, clock: FixedClock) -> None:
    expected: dict[dt.date, dict[tuple[str, str], Counts]] = {}

    def keep(lg: Ledger, day: dt.date) -> None:
        expected[day] = recount(db, lg.campaign_id, day)
        # The live figures agree with the recount on the day itself.
        assert_figures(db.run(daily_figures, lg.campaign_id, day), expected[day])

    lg = build_campaign(db, clock, keep)
    # Rebuilt later from the audit trail, every past day equals what the ledger said then.
    lg.day(D[-1] + dt.timedelta(days=5))
    for i, day in enumerate(D):
        f = db.run(daily_figures, lg.campaign_id, day)
        assert f.yesterday_from == "ledger"
        assert_figures(f, expected[day])
        before = expected[D[i - 1]] if i else {}
        assert f.total.change == expected[day][("campaign", "")] - before.get(("campaign", ""),
                                                                              ZERO)
        for t in f.towns:
            key = ("town", t.code)
            assert t.change == expected[day].get(key, ZERO) - before.get(key, ZERO)
    # The scenario really exercised every column.
    seen = Counts()
    for day in D:
        c = expected[day][("campaign", "")]
        seen = Counts(*(max(a, b) for a, b in zip(seen.as_dict().values(),
                                                   c.as_dict().values(), strict=True)))
    assert min(seen.as_dict()[k] for k in ("found", "routed", "rectifying", "awaiting_review",
                                           "closed", "overdue", "voided")) > 0


def test_past_days_follow_reassignment_extension_and_reopening(db: Database,
                                                                clock: FixedClock) -> None:
    lg = build_campaign(db, clock)
    with db.transaction() as s:
        edu = list(s.scalars(select(Problem).where(Problem.category == "education")
                             .order_by(Problem.code)))
        housing = list(s.scalars(select(Problem).where(Problem.category == "housing")
                                 .order_by(Problem.code)))
    disputed = edu[1]
    assert disputed.lead_office == "xczxj"
    # Before the reassignment (end of D[1]) the disputed item still belonged to the education
    # bureau; afterwards to the rural revitalisation bureau.
    f1 = db.run(daily_figures, lg.campaign_id, D[1])
    f2 = db.run(daily_figures, lg.campaign_id, D[2])
    assert f1.office("jyj").today.found == 2
    assert "xczxj" not in {o.code for o in f1.offices}
    assert f2.office("xczxj").today.found == 1 and f2.office("jyj").today.found == 1
    # housing[1] was due D[1]: overdue on D[2] and D[3] until the extension to D[4] was
    # approved on D[3] (the end-of-day deadline then is D[4], so not overdue on D[3]).
    assert housing[1].deadline == D[4]
    with db.transaction() as s:
        c2 = counts_as_of(s, lg.campaign_id, D[2]).towns[housing[1].town_code]
        c3 = counts_as_of(s, lg.campaign_id, D[3]).towns[housing[1].town_code]
    assert c2.overdue == 2  # housing[1] and housing[2], both due D[1]
    assert c3.overdue == 1  # only housing[2]; housing[1] got its extension that day
    # housing[0] was closed on D[3] and reopened on D[4].
    assert c3.closed == 1
    assert f2.town(housing[0].town_code).today.awaiting_review == 1


def test_change_since_the_day_before_uses_that_days_snapshot(db: Database,
                                                             clock: FixedClock) -> None:
    clock.set(at(D[0], 9))
    lg = launch_seed(db, clock, "seed-002")
    town = lg.plan.towns[0]
    village = town.villages[0].code
    lg.day(D[0], 10)
    codes = lg.record(town.code, village, "water", 4, deadline=D[2])
    lg.day(D[0], 17)
    assert db.run(take_daily_snapshot, clock, lg.campaign_id, D[0]) > 0
    # After the day's report was taken, more happened on the same day.
    lg.day(D[0], 19)
    lg.accept(codes[0])
    lg.submit(codes[0])
    lg.day(D[1], 10)
    lg.close(codes[0])
    f = db.run(daily_figures, lg.campaign_id, D[1])
    assert f.yesterday_from == "snapshot"
    assert f.town(town.code).yesterday == Counts(found=4, routed=4, rectifying=4)
    assert f.town(town.code).change.closed == 1
    assert f.town(town.code).change.rectifying == -1
    # Without the snapshot, the day before is rebuilt as of its end: the submission counts.
    with db.transaction() as s:
        s.execute(DailySnapshot.__table__.delete())
    f = db.run(daily_figures, lg.campaign_id, D[1])
    assert f.yesterday_from == "ledger"
    assert f.town(town.code).yesterday == Counts(found=4, routed=4, rectifying=3,
                                                 awaiting_review=1)
    assert f.total.closure_rate_change == pytest.approx(0.25)


def test_the_change_by_source_uses_the_day_befores_snapshot_too(db: Database,
                                                                clock: FixedClock) -> None:
    # The breakdown by 问题来源 is measured against what the day before reported, like the
    # towns and offices: its snapshot keeps the sources, so the day is not rebuilt again.
    clock.set(at(D[0], 9))
    lg = launch_seed(db, clock, "seed-002")
    town = lg.plan.towns[0]
    source = lg.plan.sources[0]
    lg.day(D[0], 10)
    codes = lg.record(town.code, town.villages[0].code, "water", 4, deadline=D[2],
                      source=source.code)
    lg.day(D[0], 17)
    assert db.run(take_daily_snapshot, clock, lg.campaign_id, D[0]) > 0
    with db.transaction() as s:
        kept = s.scalars(select(DailySnapshot.scope_code).where(
            DailySnapshot.scope_kind == "source")).all()
    assert kept == [source.code]
    lg.day(D[0], 19)  # after the report, the same day
    lg.accept(codes[0])
    lg.submit(codes[0])
    lg.day(D[1], 10)
    lg.close(codes[0])

    def by_source() -> ScopeFigures:
        with db.unit_of_work() as uow:
            f = daily_figures(uow, lg.campaign_id, D[1])
            (row,) = source_figures(uow.session, lg.plan, lg.campaign_id, D[1], f)
        return row

    row = by_source()
    assert row.yesterday == Counts(found=4, routed=4, rectifying=4)
    assert (row.change.closed, row.change.rectifying) == (1, -1)
    with db.transaction() as s:
        s.execute(DailySnapshot.__table__.delete())
    row = by_source()  # no snapshot: the day before rebuilt as of its end
    assert row.yesterday == Counts(found=4, routed=4, rectifying=3, awaiting_review=1)


def test_a_days_snapshot_is_taken_once(db: Database, clock: FixedClock) -> None:
    lg = build_campaign(db, clock)
    day = D[-1]
    written = db.run(take_daily_snapshot, clock, lg.campaign_id, day)
    f = db.run(daily_figures, lg.campaign_id, day)
    assert f.today_counts.sources  # the day's figures by 问题来源, kept for the next report
    assert written == 1 + len(f.towns) + len(f.offices) + len(f.today_counts.sources)

    def stored() -> list[tuple[object, ...]]:
        with db.transaction() as s:
            return [tuple(r) for r in s.execute(
                select(DailySnapshot.scope_kind, DailySnapshot.scope_code, DailySnapshot.found,
                       DailySnapshot.closed, DailySnapshot.overdue, DailySnapshot.taken_at)
                .order_by(DailySnapshot.id))]

    first = stored()
    by_scope = {(k, c): (found, closed, overdue) for k, c, found, closed, overdue, _ in first}
    assert by_scope[("campaign", "")] == (f.total.today.found, f.total.today.closed,
                                         f.total.today.overdue)
    for t in f.towns:
        assert by_scope[("town", t.code)] == (t.today.found, t.today.closed, t.today.overdue)
    # Later the same day the ledger moves; a rerun adds and replaces nothing.
    clock.advance(dt.timedelta(hours=3))
    lg.record(lg.plan.towns[0].code, None, "water", 2)
    assert db.run(take_daily_snapshot, clock, lg.campaign_id, day) == 0
    assert stored() == first


def test_days_without_a_report_are_rebuilt_once_and_kept(db: Database, clock: FixedClock,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import duban.services.reports.snapshots as snapshots

    def evening_report(lg: Ledger, day: dt.date) -> None:
        if day.weekday() < 5:  # D[4] is a Saturday: no report
            lg.day(day, 17)
            db.run(write_daily_report, clock, lg.campaign_id, day, tmp_path)

    lg = build_campaign(db, clock, after_day=evening_report)
    saturday, sunday, monday = D[4], D[4] + dt.timedelta(days=1), D[4] + dt.timedelta(days=2)
    lg.day(monday)
    lg.record(lg.plan.towns[0].code, None, "water", 2)
    lg.day(monday, 17)
    db.run(write_daily_report, clock, lg.campaign_id, monday, tmp_path)

    def kept() -> dict[dt.date, bool]:
        with db.transaction() as s:
            return {d: r for d, r in s.execute(
                select(DailySnapshot.day, DailySnapshot.rebuilt).distinct())}

    # The day before the first report has none either (its change is rebuilt, then kept).
    assert kept() == {D[0] - dt.timedelta(days=1): True, **dict.fromkeys(D[:4], False),
                      saturday: True, sunday: True, monday: False}
    # Monday's change is against Sunday rebuilt from the audit trail, and says so.
    assert db.run(daily_figures, lg.campaign_id, monday).yesterday_from == "ledger"
    with db.transaction() as s:
        # What was kept is what the audit trail rebuilds now, scope by scope.
        for day in (saturday, sunday):
            snap = snapshots.snapshot_counts(s, lg.campaign_id, day)
            assert snap is not None and snap.rebuilt
            now = counts_as_of(s, lg.campaign_id, day)
            assert (snap.counts.total, snap.counts.offices) == (now.total, now.offices)
            # A snapshot lists every town of the plan, those with nothing at zero.
            assert {t: c for t, c in snap.counts.towns.items() if c != ZERO} == now.towns
        # The trend over the weekend equals the one rebuilt without the kept days.
        with_kept = snapshots.trend(s, lg.campaign_id, monday)
        s.execute(DailySnapshot.__table__.delete().where(DailySnapshot.rebuilt.is_(True)))
        assert snapshots.trend(s, lg.campaign_id, monday) == with_kept
        s.rollback()
    assert [p.counts.found for p in with_kept] == [9, 8, 10, 10, 10, 10, 12]
    # Tuesday's report rebuilds no day: every past day is a snapshot now.
    rebuilt: list[dt.date] = []
    real = snapshots.counts_as_of
    monkeypatch.setattr(snapshots, "counts_as_of",
                        lambda s, cid, day: rebuilt.append(day) or real(s, cid, day))
    tuesday = monday + dt.timedelta(days=1)
    lg.day(tuesday, 17)
    db.run(write_daily_report, clock, lg.campaign_id, tuesday, tmp_path)
    assert rebuilt == []
    assert db.run(daily_figures, lg.campaign_id, tuesday).yesterday_from == "snapshot"
    # A report written late for a kept day replaces the rebuilt figures with its own.
    db.run(write_daily_report, clock, lg.campaign_id, saturday, tmp_path)
    assert kept()[saturday] is False


def test_rebuilt_days_are_kept_by_one_compiled_insert(db: Database, clock: FixedClock,
                                                      tmp_path: Path) -> None:
    """A report that rebuilds many missing days compiles the snapshot INSERT once: built with
    each day's rows as its values, it was compiled again per day (27 ms each, most of a
    campaign's first report after a month without one)."""
    lg = build_campaign(db, clock)
    late = D[4] + dt.timedelta(days=12)  # twelve days without a report before this one
    lg.day(late, 17)
    with compiled_inserts(db, "daily_snapshot") as compiled:
        db.run(write_daily_report, clock, lg.campaign_id, late, tmp_path)
    with db.transaction() as s:
        days = s.scalar(select(func.count(DailySnapshot.day.distinct())).where(
            DailySnapshot.campaign_id == lg.campaign_id))
    assert days is not None and days > 12  # the missing days were kept, and the report's
    assert len(compiled) >= 13
    assert sum(compiled) <= 1, f"{sum(compiled)} of {len(compiled)} snapshot inserts compiled"


def _table_numbers(table: object, first_col: str) -> dict[str, list[str]]:
    rows = {}
    for row in table.rows:  # type: ignore[attr-defined]
        cells = [c.text.strip() for c in row.cells]
        if cells and cells[0] and cells[0] != first_col:
            rows[cells[0]] = cells[1:]
    return rows


def test_daily_report_files_carry_the_figures(db: Database, clock: FixedClock,
                                              tmp_path: Path) -> None:
    lg = build_campaign(db, clock)
    day = D[-1]
    lg.day(day, 17)
    paths = db.run(write_daily_report, clock, lg.campaign_id, day, tmp_path)
    assert [p.suffix for p in paths] == [".docx", ".xlsx"]
    f = db.run(daily_figures, lg.campaign_id, day)

    # .xlsx: one sheet per scope kind, row values equal to the figures.
    wb = openpyxl.load_workbook(paths[1])
    for sheet, scopes in (("乡镇进度", f.towns), ("责任单位进度", f.offices)):
        ws = wb[sheet]
        rows = {r[0]: r for r in ws.iter_rows(min_row=4, values_only=True) if r[0]}
        for sc in scopes:
            c = sc.today
            assert list(rows[sc.name][1:8]) == [c.found, c.routed, c.rectifying,
                                                 c.awaiting_review, c.closed, c.overdue,
                                                 pytest.approx(c.closure_rate)]
            assert rows[sc.name][8] == sc.change.closed
    town_total = next(r for r in wb["乡镇进度"].iter_rows(min_row=4, values_only=True)
                      if r[0] == "合计")
    assert town_total[1] == f.total.today.found and town_total[5] == f.total.today.closed
    assert wb["趋势"].max_row >= len(D) + 1  # a header and one line per day

    # .docx: the town table lists each town with the same numbers, and the chart is there.
    doc = Document(str(paths[0]))
    towns = next(_table_numbers(t, "") for t in doc.tables
                 if any(r.cells[0].text.strip() == f.towns[0].name for r in t.rows))
    for sc in f.towns:
        c = sc.today
        assert towns[sc.name][:6] == [str(c.found), str(c.routed), str(c.rectifying),
                                      str(c.awaiting_review), str(c.closed), str(c.overdue)]
    assert doc.inline_shapes, "the daily report has its trend chart"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert f"累计排查发现问题{f.total.today.found}个" in text
    # Writing the report took the day's snapshot.
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(DailySnapshot)
                        .where(DailySnapshot.day == day)) > 0


def test_the_ledger_workbook_reads_in_words(db: Database, clock: FixedClock,
                                            tmp_path: Path) -> None:
    lg = build_campaign(db, clock)
    out = db.run(write_ledger, lg.campaign_id, tmp_path / "台账.xlsx", as_of=D[-1])
    wb = openpyxl.load_workbook(out)
    ws = wb.active
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1")
    header = [c.value for c in ws[1]]
    assert tuple(header) == LEDGER_HEADERS
    rows = [dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)]
    with db.transaction() as s:
        problems = {p.code: p for p in s.scalars(select(Problem))}
        towns = dict(s.execute(select(Town.code, Town.name)).all())
        villages = dict(s.execute(select(Village.code, Village.name)).all())
        offices = dict(s.execute(select(Office.code, Office.name)).all())
    assert len(rows) == len(problems)
    categories = {c.code: c.name for c in lg.plan.categories}
    for r in rows:
        p = problems[r["问题编号"]]
        assert r["乡镇"] == towns[p.town_code]
        assert r["村"] == villages[p.village_code]
        assert r["问题类别"] == categories[p.category]
        assert r["状态"] == STATUS_LABELS[Status(p.status)]
        assert r["牵头责任单位"] == offices[p.lead_office]
        overdue = p.status in OPEN and p.deadline < D[-1]
        assert r["是否逾期"] == ("是" if overdue else "否")
        if p.status == Status.CLOSED:
            assert r["复核人"] == "督查组王组长" and r["整改人"].endswith("经办人")
            # a date-time like the other dates, not text (issue 16)
            assert isinstance(r["销号时间"], dt.datetime)
            assert r["销号时间"].date() >= r["发现日期"].date()
        else:
            assert r["销号时间"] is None
    overdue_rows = sum(r["是否逾期"] == "是" for r in rows)
    assert overdue_rows == db.run(daily_figures, lg.campaign_id, D[-1]).total.today.overdue


def test_many_towns_today_and_before(db: Database, clock: FixedClock) -> None:
    """Every town of seed 002 with problems: the figures equal a recount, today and earlier."""
    clock.set(at(D[0], 9))
    lg = launch_seed(db, clock, "seed-002")
    lg.day(D[0])
    codes: list[str] = []
    for i, town in enumerate(lg.plan.towns):
        codes += lg.record(town.code, town.villages[0].code,
                           ("housing", "water", "health")[i % 3], 3 + i % 4,
                           deadline=D[1 + i % 3])
    before = recount(db, lg.campaign_id, D[0])
    lg.day(D[1])
    for code in codes[::2]:
        lg.accept(code)
    for code in codes[::6]:
        lg.submit(code)
    lg.day(D[3])
    assert_figures(db.run(daily_figures, lg.campaign_id, D[3]), recount(db, lg.campaign_id, D[3]))
    assert_figures(db.run(daily_figures, lg.campaign_id, D[0]), before)
    assert len(db.run(daily_figures, lg.campaign_id, D[3]).towns) == len(lg.plan.towns)


def test_the_report_commands(db: Database, clock: FixedClock, tmp_path: Path) -> None:
    lg = build_campaign(db, clock)
    runner = CliRunner()

    def run(now: str, *args: str) -> str:
        # The commands work on the test's database (obj), inside its transaction.
        result = runner.invoke(cli, ["--now", now, "report", *args], obj=db,
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    out = run("2022-09-24T18:00", "daily", "--out", str(tmp_path / "daily"))
    f = db.run(daily_figures, lg.campaign_id, D[-1])
    total_line = next(line for line in out.splitlines() if line.startswith("合计"))
    assert total_line.split()[1:7] == [str(v) for v in (
        f.total.today.found, f.total.today.routed, f.total.today.rectifying,
        f.total.today.awaiting_review, f.total.today.closed, f.total.today.overdue)]
    assert sorted(p.suffix for p in (tmp_path / "daily").iterdir()) == [".docx", ".xlsx"]
    out = run("2022-09-24T18:00", "ledger", "--out", str(tmp_path / "ledger.xlsx"))
    assert (tmp_path / "ledger.xlsx").exists() and "已生成" in out
    out = run("2022-09-24T18:00", "ledger", "--print", "--out", str(tmp_path / "l2.xlsx"))
    assert (tmp_path / "l2.docx").exists() and f"已生成：{tmp_path / 'l2.docx'}" in out
    out = run("2022-09-24T18:00", "penalties")
    assert "合计：0 元" in out  # seed 002 sets no fines
    frozen = run("2022-10-01T09:00", "ranking", "--month", "2022-09", "--freeze", "--out",
                 str(tmp_path / "ranking"))
    assert "已冻结：县巩固办张主任（县级办公室）" in frozen  # by name, not login
    again = run("2022-10-05T09:00", "ranking", "--month", "2022-09", "--out",
                str(tmp_path / "ranking"))
    assert again.splitlines()[:len(lg.plan.towns) + 2] == \
        frozen.splitlines()[:len(lg.plan.towns) + 2]


def test_the_daily_report_converts_to_pdf(db: Database, clock: FixedClock,
                                          tmp_path: Path) -> None:
    require(libreoffice_available(), "LibreOffice (soffice) is not installed: no PDF")
    lg = build_campaign(db, clock)
    paths = db.run(write_daily_report, clock, lg.campaign_id, D[-1], tmp_path, pdf=True)
    assert [p.suffix for p in paths] == [".docx", ".xlsx", ".pdf"]
    assert paths[2].read_bytes()[:5] == b"%PDF-"


def test_the_printed_ledger_lists_every_problem_in_words(db: Database, clock: FixedClock,
                                                         tmp_path: Path) -> None:
    """`duban report ledger --print`: the 整改台账 as a landscape table, one row a problem."""
    from docx import Document

    lg = build_campaign(db, clock)
    out = db.run(write_ledger_document, lg.campaign_id, tmp_path / "台账.docx", D[-1])
    doc = Document(str(out))
    sec = doc.sections[0]
    assert sec.page_width > sec.page_height  # 横排
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells][:2] == ["序号", "问题编号"]
    with db.transaction() as s:
        problems = {p.code: p for p in s.scalars(select(Problem))}
        towns = dict(s.execute(select(Town.code, Town.name)).all())
    rows = [[c.text for c in r.cells] for r in table.rows[1:]]
    assert [r[1] for r in rows] == sorted(problems)
    for r in rows:
        p = problems[r[1]]
        assert r[2].startswith(towns[p.town_code])
        assert r[7] == STATUS_LABELS[Status(p.status)]
        assert (r[8] != "") == (p.status == Status.CLOSED)
    assert lg.plan.name in doc.paragraphs[0].text.replace("\n", "")  # 2 lines at 225 mm
