"""Launching campaigns and moving problems through the service layer, on both backends."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.domain.errors import ConflictError, NotFound
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, GuardFailed, IllegalTransition, Payload, Role, Status
from duban.domain.plan_check import PlanInvalid
from duban.services import moves
from duban.services.actors import add_user
from duban.services.campaigns import DuplicateCampaign, launch_campaign, summarise_campaign
from duban.services.database import Database
from duban.services.listing import ProblemFilter, list_problems
from duban.services.problems import audit_trail, record_problems
from models import AuditEvent, Campaign, Office, PlanVersion, Problem
from tests.conftest import PLANS, ROOT
from tests.support import JPEG_SHA, photo

SEED_PLANS = sorted(PLANS.glob("seed-*.yaml"))
EVIDENCE = (JPEG_SHA,)
pytestmark = pytest.mark.usefixtures("data_dir")


def launch(db: Database, clock: FixedClock, name: str = "seed-002") -> int:
    path = next(p for p in SEED_PLANS if p.name.startswith(name))
    plan = load_plan_file(path)
    return db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "county")


@pytest.mark.parametrize("plan_path", SEED_PLANS, ids=lambda p: p.stem)
def test_each_seed_plan_launches(db: Database, clock: FixedClock, plan_path) -> None:
    plan = load_plan_file(plan_path)
    campaign_id = db.run(launch_campaign, clock, plan, plan_path.read_text(encoding="utf-8"), "c")
    summary = db.run(summarise_campaign, campaign_id, plan.start)
    assert summary.towns == len(plan.towns)
    assert summary.villages == sum(len(t.villages) for t in plan.towns)
    assert len(summary.stages) == len(plan.stages)
    with db.transaction() as s:
        codes = set(s.scalars(select(Office.code).where(Office.campaign_id == campaign_id)))
    assert {o.code for o in plan.offices} <= codes


def test_a_campaign_launches_once(db: Database, clock: FixedClock) -> None:
    # A plan's 文号 identifies its campaign (seed 000: 沧沟委发〔2020〕53号); seed 002 has none,
    # and plans without one may be launched side by side (test_campaign_walls).
    launch(db, clock, "seed-000")
    with pytest.raises(DuplicateCampaign, match="不能重复启动"):
        launch(db, clock, "seed-000")


def test_a_wrong_plan_writes_nothing(db: Database) -> None:
    with pytest.raises(PlanInvalid) as err:
        load_plan_file(ROOT / "tests/data/plans/ten-mistakes.yaml")
    assert len(err.value.errors) >= 10
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 0


def _problem(plan_town: str, village: str | None, category: str, source: str) -> ReportedProblem:
    return ReportedProblem(source=source, category=category, town=plan_town, village=village,
                           household_id=None, description="危房未改造，屋面漏雨",
                           found_by="王村干", found_on=dt.date(2022, 9, 20))


def _setup(db: Database, clock: FixedClock) -> tuple[int, str, str]:
    """Launch seed 002, record one housing problem, return (campaign, code, lead office)."""
    campaign_id = launch(db, clock)
    with db.transaction() as s:
        plan = s.scalars(select(PlanVersion.plan).where(PlanVersion.campaign_id == campaign_id)).one()
    town = plan["towns"][0]
    village = town["villages"][0]["code"]
    rule = next(r for r in plan["routing"] if r.get("categories"))
    category = rule["categories"][0]
    source = plan["sources"][0]["code"]
    result = db.run(record_problems, clock, campaign_id,
                             [_problem(town["code"], village, category, source)],
                             recorded_by="county")
    assert result.created == 1 and result.routed == 1
    _, rows = db.run(list_problems, ProblemFilter(campaign_id=campaign_id))
    lead = rows[0].lead_office
    assert lead is not None
    db.run(add_user, clock, username="office1", name="办室甲", role=Role.OFFICE, office=lead)
    db.run(add_user, clock, username="office2", name="办室乙", role=Role.OFFICE, office="nobody")
    db.run(add_user, clock, username="county", name="县巩固办", role=Role.COUNTY)
    db.run(add_user, clock, username="ducha", name="督查组", role=Role.SUPERVISOR)
    return campaign_id, rows[0].code, lead


def test_the_whole_lifecycle_is_audited(db: Database, clock: FixedClock) -> None:
    campaign_id, code, _ = _setup(db, clock)
    move = lambda action, user, files=(), **kw: db.run(  # noqa: E731
        moves.apply, clock, user, code, action, Payload(**kw), campaign_id=campaign_id,
        files=files).problem
    move(Action.ACCEPT, "office1")
    p = move(Action.REQUEST_EXTENSION, "office1", note="雨天无法施工",
             deadline=dt.date(2022, 10, 31))
    assert p.status == Status.EXTENSION_REQUESTED
    p = move(Action.APPROVE_EXTENSION, "county")
    assert p.deadline == dt.date(2022, 10, 31)
    move(Action.SUBMIT, "office1", note="已维修屋面", files=[photo()])
    with pytest.raises(GuardFailed):  # the submitter can't review
        move(Action.PASS_REVIEW, "office1")
    move(Action.FAIL_REVIEW, "ducha", note="照片不清晰", deadline=dt.date(2022, 11, 4))
    move(Action.SUBMIT, "office1", note="补充照片", evidence=EVIDENCE)
    move(Action.PASS_REVIEW, "ducha")
    p = move(Action.CLOSE, "county")
    assert p.status == Status.CLOSED and p.closed_at is not None
    _, events = db.run(audit_trail, code, campaign_id)
    assert [e.action for e in events] == [
        "record", "route", "accept", "request_extension", "approve_extension", "submit",
        "upload_evidence",  # the photo sent with the submission (every upload is audited)
        "fail_review", "submit", "pass_review", "close"]
    assert all(e.actor and e.at for e in events)
    assert events[5].evidence == list(EVIDENCE)


def test_illegal_moves_leave_the_row_as_it_was(db: Database, clock: FixedClock) -> None:
    campaign_id, code, _ = _setup(db, clock)
    with pytest.raises(IllegalTransition, match="不能执行「销号」"):
        db.run(moves.apply, clock, "county", code, Action.CLOSE, Payload(), campaign_id=campaign_id)
    with pytest.raises(GuardFailed, match="牵头责任办室"):
        db.run(moves.apply, clock, "office2", code, Action.ACCEPT, Payload(), campaign_id=campaign_id)
    with pytest.raises(NotFound, match="责任办室未定义"):
        db.run(moves.apply, clock, "county", code, Action.REASSIGN, Payload(note="x", office="乡不存在办"),
                    campaign_id=campaign_id)
    with pytest.raises(NotFound, match="用户不存在"):
        db.run(moves.apply, clock, "ghost", code, Action.ACCEPT, Payload(), campaign_id=campaign_id)
    with db.transaction() as s:
        p = s.scalars(select(Problem)).one()
        assert (p.status, p.version) == (Status.ROUTED, 1)
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 2


def test_audit_events_cannot_be_changed_or_deleted(db: Database, clock: FixedClock) -> None:
    _setup(db, clock)
    with pytest.raises(PermissionError), db.transaction() as s:
        s.scalars(select(AuditEvent)).first().note = "改写"  # type: ignore[union-attr]
    with pytest.raises(PermissionError), db.transaction() as s:
        s.delete(s.scalars(select(AuditEvent)).first())


def test_stale_version_is_a_conflict(db: Database, clock: FixedClock) -> None:
    campaign_id, code, _ = _setup(db, clock)
    db.run(moves.apply, clock, "office1", code, Action.ACCEPT, Payload(), campaign_id=campaign_id,
                expected_version=1)
    with pytest.raises(ConflictError, match="已被他人修改"):
        db.run(moves.apply, clock, "office1", code, Action.DISPUTE, Payload(note="不属本办"),
                    campaign_id=campaign_id, expected_version=1)


def test_two_people_at_once_second_gets_a_conflict(committed_db: Database,
                                                   clock: FixedClock) -> None:
    """Two sessions load the same version; the second write is refused and nothing is lost."""
    db = committed_db  # two threads, two connections: the first one's commit must be real
    campaign_id, code, _ = _setup(db, clock)
    db.run(moves.apply, clock, "office1", code, Action.ACCEPT, Payload(), campaign_id=campaign_id)
    db.run(moves.apply, clock, "office1", code, Action.SUBMIT, Payload(note="改好"), files=[photo()],
                campaign_id=campaign_id)
    from duban.services.actors import resolve_actor
    from duban.services.problems import find_problem

    loaded = threading.Barrier(2, timeout=20)
    outcomes: dict[str, object] = {}

    def review(name: str, action: Action, payload: Payload) -> None:
        try:
            with db.transaction() as s:
                problem = find_problem(s, campaign_id, code)
                actor = resolve_actor(s, "ducha", clock.now().date())
                loaded.wait()  # both hold version 2 before either writes
                if name == "second":
                    # let the first commit before this one flushes
                    first_done.wait(timeout=20)
                moves.move_in(s, clock, actor, problem, action, payload)
            outcomes[name] = "ok"
        except Exception as exc:
            outcomes[name] = exc
        finally:
            if name == "first":
                first_done.set()

    first_done = threading.Event()
    a = threading.Thread(target=review, args=("first", Action.PASS_REVIEW, Payload()))
    b = threading.Thread(target=review, args=(
        "second", Action.FAIL_REVIEW, Payload(note="不合格", deadline=dt.date(2022, 11, 30))))
    a.start(), b.start()
    a.join(30), b.join(30)
    assert outcomes["first"] == "ok"
    second = outcomes["second"]
    # The second UPDATE ... WHERE version = 2 matches no row once the first has committed.
    assert isinstance(second, ConflictError), second
    assert "已被他人同时修改" in second.message
    with db.transaction() as s:
        p = s.scalars(select(Problem)).one()
        assert p.status == Status.REVIEWED  # the first review stands
        assert [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))][-1] == \
            "pass_review"


def test_concurrent_intakes_number_problems_without_collision(committed_db: Database,
                                                              clock: FixedClock) -> None:
    db = committed_db  # three threads recording at once, each in its own transaction
    campaign_id = launch(db, clock)
    with db.transaction() as s:
        plan = s.scalars(select(PlanVersion.plan).where(PlanVersion.campaign_id == campaign_id)).one()
    town = plan["towns"][0]
    category = plan["categories"][0]["code"]
    source = plan["sources"][0]["code"]
    errors: list[BaseException] = []

    def intake(batch: int) -> None:
        try:
            reported = [ReportedProblem(source=source, category=category, town=town["code"],
                                        village=None, household_id=None,
                                        description=f"批次{batch}问题{i}", found_by="王村干",
                                        found_on=dt.date(2022, 9, 20)) for i in range(40)]
            db.run(record_problems, clock, campaign_id, reported, recorded_by=f"clerk{batch}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=intake, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with db.transaction() as s:
        codes = list(s.scalars(select(Problem.code)))
    assert len(codes) == len(set(codes)) == 120


def test_reports_as_columns_record_what_reports_as_records_do(db: Database,
                                                              clock: FixedClock) -> None:
    # A validated ledger reaches record_problems column by column (ColumnRows); detections
    # and single reports come as records: both must write the same problems and events.
    from duban.adapters.intake import ColumnRows

    plan = load_plan_file(next(p for p in SEED_PLANS if p.name.startswith("seed-002")))
    reports = [ReportedProblem(
        plan.sources[i % len(plan.sources)].code, plan.categories[i % len(plan.categories)].code,
        plan.towns[i % len(plan.towns)].code,
        plan.towns[i % len(plan.towns)].villages[0].code if i % 3 else None, None,
        f"问题 {i}  描述", "王浩" if i % 2 else "李四", plan.start + dt.timedelta(days=i % 4))
        for i in range(40)]
    reports.append(reports[5])  # the same report twice: skipped
    columns = [list(column) for column in zip(*(
        (r.source, r.category, r.town, r.village, r.household_id, r.description, r.found_by,
         r.found_on, r.tier, r.deadline) for r in reports), strict=True)]
    written = []
    for given in (reports, ColumnRows(ReportedProblem, columns)):
        campaign_id = launch(db, clock)
        result = db.run(record_problems, clock, campaign_id, given, recorded_by="导入")
        assert (result.created, result.skipped_duplicates) == (40, 1)
        with db.transaction() as s:
            problems = [row[2:] for row in s.execute(
                select(*Problem.__table__.c).where(Problem.campaign_id == campaign_id)
                .order_by(Problem.id))]
            events = [(row.action, row.from_status, row.to_status, row.actor, row.note,
                       row.data) for row in s.scalars(
                select(AuditEvent).where(AuditEvent.campaign_id == campaign_id)
                .order_by(AuditEvent.id))]
        written.append((result.routed, result.unrouted, problems, events))
    assert written[0] == written[1]
    assert written[0][0] > 0 and len(written[0][3]) == 80
