"""Imports through the service: all or nothing, idempotent, detection, coverage, routing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy import text as sql_text

from duban.adapters.intake import ImportRejected
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.domain.columns import HOUSEHOLD_COLUMNS, PROBLEM_COLUMNS, VISIT_COLUMNS
from duban.domain.plan import Plan
from duban.domain.routing import village_office_code
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.intake import detect_problems, import_file, import_records
from duban.services.listing import ProblemFilter, list_problems
from duban.services.scoping import whole_campaign
from duban.services.views.coverage import coverage
from duban.synth import generate_for_plan, iter_household_rows, iter_problem_rows, iter_visit_rows
from models import AuditEvent, Household, Office, Problem, ProblemCoOffice, Visit
from tests.conftest import PLANS
from tests.support import write_xlsx


def launch(db: Database, clock: FixedClock, stem: str) -> tuple[int, Plan]:
    path = next(PLANS.glob(f"{stem}*.yaml"))
    plan = load_plan_file(path)
    return db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "county"), plan


def count(db: Database, model: type) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_household_visit_and_ledger_files_import_once(db: Database, clock: FixedClock,
                                                      tmp_path: Path) -> None:
    campaign_id, plan = launch(db, clock, "seed-003")
    county = generate_for_plan(plan, "small", seed=7)
    hh = write_xlsx(tmp_path / "农户.xlsx", HOUSEHOLD_COLUMNS, list(iter_household_rows(county)))
    vv = write_xlsx(tmp_path / "走访.xlsx", VISIT_COLUMNS, list(iter_visit_rows(county)))
    pp = write_xlsx(tmp_path / "台账.xlsx", PROBLEM_COLUMNS, list(iter_problem_rows(county)))
    first = db.run(import_file, clock, campaign_id, "households", hh, imported_by="clerk")
    assert first.created == len(county.households)
    assert db.run(import_file, clock, campaign_id, "visits", vv, imported_by="clerk").created == len(
        county.visits)
    ledger = db.run(import_file, clock, campaign_id, "problems", pp, imported_by="clerk")
    assert ledger.created == len(county.problems)
    # Importing the same files again adds nothing.
    again = db.run(import_file, clock, campaign_id, "households", hh, imported_by="clerk")
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(county.households))
    assert db.run(import_file, clock, campaign_id, "visits", vv, imported_by="clerk").created == 0
    assert db.run(import_file, clock, campaign_id, "problems", pp, imported_by="clerk").created == 0
    assert count(db, Household) == len(county.households)
    assert count(db, Visit) == len(county.visits)
    assert count(db, Problem) == len(county.problems)


def test_a_bad_row_writes_nothing(db: Database, clock: FixedClock, tmp_path: Path) -> None:
    campaign_id, plan = launch(db, clock, "seed-003")
    county = generate_for_plan(plan, "small", seed=7)
    rows = list(iter_household_rows(county))
    rows[5] = {**rows[5], "村": "不存在村"}
    rows[9] = {**rows[9], "年人均纯收入（元）": "很多"}
    path = write_xlsx(tmp_path / "农户.xlsx", HOUSEHOLD_COLUMNS, rows)
    with pytest.raises(ImportRejected) as err:
        db.run(import_file, clock, campaign_id, "households", path, imported_by="clerk")
    bad = {(e.row, e.column) for e in err.value.report.errors}
    assert (7, "村") in bad and (11, "年人均纯收入（元）") in bad  # sheet rows: header is row 1
    assert count(db, Household) == 0


def test_detection_never_duplicates_an_open_problem(db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock, "seed-003")
    county = generate_for_plan(plan, "township", seed=3)
    db.run(import_records, clock, campaign_id, households=county.households, imported_by="clerk")
    first = db.run(detect_problems, clock, campaign_id)
    assert first.created > 0
    again = db.run(detect_problems, clock, campaign_id)
    assert again.created == 0
    with db.transaction() as s:
        pairs = s.execute(select(Problem.household_id, Problem.category, func.count())
                          .group_by(Problem.household_id, Problem.category)).all()
        assert all(n == 1 for _, _, n in pairs)
        cited = s.scalars(select(Problem)).first()
        assert cited is not None and cited.detection_rule and cited.facts


def test_detection_in_sql_finds_what_the_rules_find_on_every_household(
        db: Database, clock: FixedClock) -> None:
    # Seed 002's rules are all built-in: the database picks the households they fire on; the
    # result must be what the rules give on every household of the register, in order.
    from duban.domain.detection import detect, firing_tests

    campaign_id, plan = launch(db, clock, "seed-002")
    assert firing_tests(plan.detection)
    county = generate_for_plan(plan, "township", seed=5)
    db.run(import_records, clock, campaign_id, households=county.households, imported_by="clerk")
    result = db.run(detect_problems, clock, campaign_id)
    expected = [(h.household_id, d.rule, d.description) for h in county.households
                for d in detect(h, plan.detection, plan.household.fields)]
    assert expected and len(expected) < len(county.households) * len(plan.detection.rules)
    with db.transaction() as s:
        written = s.execute(select(Problem.household_id, Problem.detection_rule,
                                   Problem.description).order_by(Problem.id)).all()
    assert [tuple(row) for row in written] == expected
    assert result.created == len(expected)


def test_visit_coverage_counts_households_and_modes(db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock, "seed-003")
    county = generate_for_plan(plan, "township", seed=3)
    db.run(import_records, clock, campaign_id, households=county.households, visits=county.visits,
                   imported_by="clerk")
    with db.transaction() as session:
        cov = coverage(session, whole_campaign(), campaign_id, unvisited=True)
    visited = {v.household_id for v in county.visits}
    assert sum(t.households for t in cov.towns) == len(county.households)
    assert sum(t.visited for t in cov.towns) == len(visited)
    assert cov.unvisited is not None
    assert len(cov.unvisited) == len(county.households) - len(visited)
    assert sum(sum(v.by_mode.values()) for v in cov.villages) == len(visited)


# What each seed names as the lead office for a kind of problem (category name → office name).
SEED_ROUTES = {
    "seed-000": {"住房安全": "乡建环办", "义务教育": "乡民政和社事办", "饮水安全": "乡农业服务中心",
                 "就业扶贫": "乡社保所"},
    "seed-002": {"住房安全": "县住建局", "饮水安全": "县水利局", "涉贫信访舆情": "县信访局"},
    "seed-003": {"住房安全": "镇规划建设管理环保办", "义务教育": "镇社会事务办"},
}


@pytest.mark.parametrize("stem", sorted(SEED_ROUTES))
def test_seed_plans_route_a_generated_ledger_as_the_seeds_say(
        db: Database, clock: FixedClock, stem: str) -> None:
    campaign_id, plan = launch(db, clock, stem)
    county = generate_for_plan(plan, "township", seed=11)
    db.run(import_records, clock, campaign_id, problems=county.problems, imported_by="clerk")
    names = {c.code: c.name for c in plan.categories}
    offices = {o.code: o.name for o in plan.offices}
    _, rows = db.run(list_problems, ProblemFilter(campaign_id=campaign_id, limit=10_000))
    assert rows
    checked = 0
    with db.transaction() as s:
        for p in rows:
            expected = SEED_ROUTES[stem].get(names[p.category])
            if expected is None or p.source in {"inspection", "assessment"}:
                continue
            assert offices[p.lead_office] == expected, (p.category, p.lead_office)
            co = set(s.scalars(select(ProblemCoOffice.office_code)
                               .where(ProblemCoOffice.problem_id == p.id)))
            if p.village_code:
                assert village_office_code(p.village_code) in co  # 各村: its own village
            checked += 1
        assert s.scalar(select(func.count()).select_from(Office)) >= len(plan.offices)
    assert checked > 0


def test_seed_001_data_items_are_led_by_their_own_town(db: Database, clock: FixedClock) -> None:
    # Seed 001: "各乡镇(街道)要围绕建档立卡户基础信息 … 进行全面梳理、比对、核实、补充、修正".
    campaign_id, plan = launch(db, clock, "seed-001")
    county = generate_for_plan(plan, "township", seed=11)
    db.run(import_records, clock, campaign_id, problems=county.problems, imported_by="clerk")
    data = next(c.code for c in plan.categories if c.name == "建档立卡数据质量")
    town_office = {t.code: plan.town_office(t.code) for t in plan.towns}
    _, rows = db.run(list_problems, ProblemFilter(campaign_id=campaign_id, limit=10_000))
    led_by_town = other = 0
    with db.transaction() as s:
        for p in rows:
            office = town_office[p.town_code]
            assert office is not None
            co = set(s.scalars(select(ProblemCoOffice.office_code)
                               .where(ProblemCoOffice.problem_id == p.id)))
            if p.category == data:
                assert (p.lead_office, co) == (office.code, set()), p.code
                led_by_town += 1
            else:  # a department leads; the problem's own town rectifies with it
                assert p.lead_office != office.code and office.code in co, p.code
                other += 1
    assert led_by_town > 0 and other > 0


def test_a_town_office_imports_only_its_own_town(db: Database, clock: FixedClock,
                                                 tmp_path: Path) -> None:
    campaign_id, plan = launch(db, clock, "seed-002")
    county = generate_for_plan(plan, "small", seed=5)
    town_of = {h.household_id: h.town for h in county.households}
    mine = county.households[0].town
    assert len(set(town_of.values())) > 1
    households = list(iter_household_rows(county))
    hh = write_xlsx(tmp_path / "农户.xlsx", HOUSEHOLD_COLUMNS, households)
    with pytest.raises(ImportRejected) as err:
        db.run(import_file, clock, campaign_id, "households", hh, imported_by="town", towns=[mine])
    others = [i + 2 for i, h in enumerate(county.households) if h.town != mine]
    errors = err.value.report.errors
    assert sorted(e.row for e in errors) == others and {e.column for e in errors} == {"乡镇"}
    assert "不在本账号可导入的范围" in errors[0].reason
    assert count(db, Household) == 0
    # The county office imports the whole register; the town then sends its visits.
    db.run(import_file, clock, campaign_id, "households", hh, imported_by="county")
    visits = list(iter_visit_rows(county))
    vv = write_xlsx(tmp_path / "走访.xlsx", VISIT_COLUMNS, visits)
    with pytest.raises(ImportRejected) as err:
        db.run(import_file, clock, campaign_id, "visits", vv, imported_by="town", towns=[mine])
    outside = [i + 2 for i, v in enumerate(county.visits) if town_of[v.household_id] != mine]
    assert sorted(e.row for e in err.value.report.errors) == outside
    assert {e.column for e in err.value.report.errors} == {"户编号"}
    assert count(db, Visit) == 0
    own = [row for row, v in zip(visits, county.visits, strict=True)
           if town_of[v.household_id] == mine]
    ok = db.run(import_file, clock, campaign_id, "visits",
                     write_xlsx(tmp_path / "本镇走访.xlsx", VISIT_COLUMNS, own),
                     imported_by="town", towns=[mine])
    assert ok.created == len(own) > 0


def test_an_import_reports_checking_then_writing(db: Database, clock: FixedClock,
                                                 tmp_path: Path) -> None:
    campaign_id, plan = launch(db, clock, "seed-003")
    county = generate_for_plan(plan, "small", seed=7)
    calls: list[tuple[str, int, int]] = []

    def progress(phase: str):  # type: ignore[no-untyped-def]
        return lambda done, total: calls.append((phase, done, total))

    db.run(import_records, clock, campaign_id, households=county.households, imported_by="clerk")
    pp = write_xlsx(tmp_path / "台账.xlsx", PROBLEM_COLUMNS, list(iter_problem_rows(county)))
    result = db.run(import_file, clock, campaign_id, "problems", pp, imported_by="clerk",
                         progress=progress)
    phases = [phase for phase, _, _ in calls]
    assert phases.index("写入") > max(i for i, p in enumerate(phases) if p == "校验")
    assert calls[-1][0] == "写入" and calls[-1][1] == calls[-1][2]
    with db.transaction() as s:  # 写入 counts every row the ledger became
        written = sum(int(s.scalar(select(func.count()).select_from(m)) or 0)
                      for m in (Problem, ProblemCoOffice, AuditEvent))
    assert calls[-1][2] == written and result.created == len(county.problems)
    done = [d for phase, d, _ in calls if phase == "写入"]
    assert done == sorted(done)


def test_a_ledger_reaching_an_uncovered_year_waits_for_the_offices_holiday_file(
        db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A campaign launched now runs into 2027: until its holiday file is supplied, nothing."""
    import datetime as dt

    from duban.domain.clock import CHINA_TZ
    from duban.domain.workdays import CalendarNotCovered
    from duban.services.calendars import working_calendar

    text = next(PLANS.glob("seed-003*.yaml")).read_text(encoding="utf-8")
    for old, new in {"2022-05-09": "2026-11-20", "2022-05-01": "2026-11-23",
                     "2022-05-05": "2026-11-27", "2022-05-06": "2026-11-28",
                     "2022-06-05": "2026-12-20", "2022-07-10": "2027-01-31",
                     "2022-07-31": "2027-01-15", "2022-09-30": "2027-01-31"}.items():
        text = text.replace(old, new)
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    clock = FixedClock(dt.datetime(2026, 12, 31, 9, 0, tzinfo=CHINA_TZ))
    campaign_id = db.run(launch_campaign, clock, load_plan_file(path), text, "county")
    ledger = write_xlsx(tmp_path / "台账.xlsx", PROBLEM_COLUMNS, [dict(zip(PROBLEM_COLUMNS, (
        "干部走访排查", "监测数据信息", "少云镇", "玉屏村", None, "监测对象信息未及时更新",
        "李四", "2026-12-31", "立查立改", None), strict=True))])
    monkeypatch.delenv("DUBAN_CALENDAR_DIR", raising=False)
    working_calendar.cache_clear()
    try:
        with pytest.raises(CalendarNotCovered) as err:
            db.run(import_file, clock, campaign_id, "problems", ledger, imported_by="clerk")
        assert "2027" in err.value.message and "calendars/README.md" in err.value.message
        assert count(db, Problem) == 0
        # The office drops its 2027 file in a folder (here the loader's test file).
        monkeypatch.setenv("DUBAN_CALENDAR_DIR", str(Path(__file__).parents[1] / "data/calendars"))
        working_calendar.cache_clear()
        db.run(import_file, clock, campaign_id, "problems", ledger, imported_by="clerk")
    finally:
        working_calendar.cache_clear()
    with db.transaction() as s:
        (problem,) = s.scalars(select(Problem)).all()
        # 立查立改 is one working day: 2027-01-01 is a holiday in that file, then a weekend.
        assert problem.deadline == dt.date(2027, 1, 4)


def test_a_paced_detection_pauses_between_batches_and_writes_the_same_ledger(
        db: Database, clock: FixedClock) -> None:
    # The same register in two campaigns: detected plain, then at half pace with a fake clock;
    # the ledgers, co-offices and audit trails agree row for row (ids and codes aside).
    from duban.domain.pacing import Pace
    from tests.unit.test_pacing import FakeTime

    plan_id, plan = launch(db, clock, "seed-002")
    county = generate_for_plan(plan, "township", seed=5)
    paced_id, _ = launch(db, clock, "seed-002")
    for cid in (plan_id, paced_id):
        db.run(import_records, clock, cid, households=county.households, imported_by="clerk")
    plain = db.run(detect_problems, clock, plan_id)
    fake = FakeTime(step=0.05)
    busy_in_pauses: list[list[str]] = []  # what the database's sessions were doing

    def sleep(seconds: float) -> None:
        # A pause idles the stage's backend too: no statement (a streamed COPY above all)
        # goes on through it.
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as other:
                busy_in_pauses.append(list(other.scalars(sql_text(
                    "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                    "AND state NOT IN ('idle', 'idle in transaction')"))))
        fake.sleep(seconds)

    pace = Pace(0.5, fake.stopwatch, sleep)
    pace.start()
    paced = db.run(detect_problems, clock, paced_id, pace=pace)
    assert (paced.created, paced.routed, paced.unrouted) == (
        plain.created, plain.routed, plain.unrouted) and plain.created > 0
    assert len(fake.sleeps) == pace.pauses
    assert not any(busy_in_pauses)
    assert all(abs(s - 0.05) < 1e-9 for s in fake.sleeps)

    def written(model: type, cid: int) -> int:
        with db.transaction() as s:
            if model is ProblemCoOffice:
                return int(s.scalar(select(func.count()).select_from(ProblemCoOffice)
                                    .join(Problem, Problem.id == ProblemCoOffice.problem_id)
                                    .where(Problem.campaign_id == cid)) or 0)
            return int(s.scalar(select(func.count()).select_from(model)
                                .where(model.campaign_id == cid)) or 0)  # type: ignore[attr-defined]

    # A pause after each batch of the register's read (at least one), and on PostgreSQL after
    # every 5,000 rows of each table written and at its end; on SQLite the writes hold the
    # database's one write lock, so they never pause.
    writes = sum(n // 5000 + 1 for n in (written(m, paced_id)
                                          for m in (Problem, ProblemCoOffice, AuditEvent)) if n)
    reads = -(-len(county.households) // 5000)
    if db.engine.dialect.name == "sqlite":
        assert pace.pauses == reads >= 1
    else:
        assert pace.pauses == reads + writes and writes >= 3

    def ledger(cid: int) -> list[tuple[object, ...]]:
        with db.transaction() as s:
            problems = s.execute(
                select(Problem.household_id, Problem.category, Problem.detection_rule,
                       Problem.description, Problem.facts, Problem.status, Problem.lead_office,
                       Problem.deadline, Problem.deadline_basis)
                .where(Problem.campaign_id == cid).order_by(Problem.id)).all()
            co = s.execute(
                select(Problem.household_id, Problem.category, ProblemCoOffice.office_code)
                .join(ProblemCoOffice, ProblemCoOffice.problem_id == Problem.id)
                .where(Problem.campaign_id == cid)
                .order_by(Problem.id, ProblemCoOffice.office_code)).all()
            audit = s.execute(
                select(AuditEvent.action, AuditEvent.from_status, AuditEvent.to_status,
                       AuditEvent.note, AuditEvent.data)
                .where(AuditEvent.campaign_id == cid).order_by(AuditEvent.id)).all()
        return [tuple(r) for r in problems] + [tuple(r) for r in co] + [tuple(r) for r in audit]

    assert ledger(paced_id) == ledger(plan_id)


def test_a_ledger_import_drops_the_campaigns_kept_counts(db: Database, clock: FixedClock,
                                                         tmp_path: Path) -> None:
    """The web's processes share slow counts through kept copies up to 30 s old: after a
    ledger import the campaign's copies go in the same transaction, so no process (the
    importer's own next page above all) shows the counts from before it. Other campaigns'
    copies, and the copies a register import does not change, stay."""
    from duban.services.views.kept import keep_copy
    from models.tables import kept_count

    campaign_id, plan = launch(db, clock, "seed-002")
    county = generate_for_plan(plan, "small", seed=7)
    mine = {f"cube:{campaign_id}:2022-09-26:1", f"co:zjj,mzj:{campaign_id}:2022-09-26:1",
            f"co:zjj&mzj:{campaign_id}:2022-09-27:2"}
    others = {f"cube:{campaign_id * 10 + 1}:2022-09-26:1", f"cube:{campaign_id + 100}:2022-09-26:1"}
    with db.transaction() as s:
        for key in mine | others:
            keep_copy(s, key, b"counts")

    def kept() -> set[str]:
        with db.transaction() as s:
            return set(s.scalars(select(kept_count.c.key)))

    hh = write_xlsx(tmp_path / "农户.xlsx", HOUSEHOLD_COLUMNS, list(iter_household_rows(county)))
    db.run(import_file, clock, campaign_id, "households", hh, imported_by="clerk")
    assert kept() == mine | others
    pp = write_xlsx(tmp_path / "台账.xlsx", PROBLEM_COLUMNS, list(iter_problem_rows(county)))
    db.run(import_file, clock, campaign_id, "problems", pp, imported_by="clerk")
    assert kept() == others
