"""Submission, review, closing, random spot checks and recurrence, on both backends."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from duban.adapters.plan.yaml_file import load_plan_text
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.errors import DubanError, PermissionDenied
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Action, GuardFailed, IllegalTransition, Payload, Role, Status
from duban.domain.plan import Plan
from duban.domain.sampling import ClosedItem, HouseholdRef, derive_seed, draw_spot_checks
from duban.services import moves
from duban.services.actors import add_user
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.evidence import UploadedFile
from duban.services.problems import audit_trail, record_problems
from duban.services.recurrence import reopen_rate
from duban.services.reviews import (
    SpotCheckError,
    close_reviewed,
    default_seed,
    draw_daily_spot_checks,
    list_spot_checks,
    record_spot_check,
    spot_check_draws,
)
from models import (
    Campaign,
    Evidence,
    Household,
    PlanVersion,
    Problem,
    SpotCheck,
    SpotCheckDraw,
)
from tests.conftest import PLANS
from tests.support import (
    plain_household,
    record_housing_problem,
    register,
    with_seed_004_quota,
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"photo-after" * 20
PHOTO = UploadedFile("整改后照片.jpg", JPEG, "after")
MONDAY = dt.date(2022, 9, 26)


pytestmark = pytest.mark.usefixtures("data_dir")


def launch(db: Database, clock: FixedClock) -> tuple[int, Plan]:
    """Seed 002 with seed 004's spot-check quota (seed 002 itself sets none)."""
    path = PLANS / "seed-002-shenqiu.yaml"
    text = with_seed_004_quota(path.read_text(encoding="utf-8"))
    plan = load_plan_text(text, base_dir=path.parent)
    return db.run(launch_campaign, clock, plan, text, "county"), plan


def report(town: str, village: str, household: str | None, category: str = "housing",
           text: str = "危房未改造，屋面漏雨") -> ReportedProblem:
    return ReportedProblem(source="household", category=category, town=town, village=village,
                           household_id=household, description=text, found_by="王村干",
                           found_on=dt.date(2022, 9, 20))


def users(db: Database, clock: FixedClock) -> None:
    db.run(add_user, clock, username="zjj1", name="住建局张三", role=Role.OFFICE, office="zjj")
    db.run(add_user, clock, username="county", name="县巩固办李四", role=Role.COUNTY)
    db.run(add_user, clock, username="ducha", name="督导组王五", role=Role.SUPERVISOR)


def first_village(plan: Plan, i: int = 0) -> tuple[str, str]:
    town = plan.towns[i]
    return town.code, town.villages[0].code


def one_problem(db: Database, clock: FixedClock) -> tuple[int, Plan, str]:
    campaign_id, plan = launch(db, clock)
    users(db, clock)
    code = record_housing_problem(db, clock, campaign_id, plan)
    db.run(moves.apply, clock, "zjj1", code, Action.ACCEPT, Payload(), campaign_id=campaign_id)
    return campaign_id, plan, code


def through_to_closed(db: Database, clock: FixedClock, campaign_id: int, code: str) -> Problem:
    db.run(moves.apply, clock, "zjj1", code, Action.SUBMIT, Payload(note="已维修屋面"), files=[PHOTO],
                campaign_id=campaign_id)
    db.run(moves.apply, clock, "ducha", code, Action.PASS_REVIEW, Payload(note="现场核实"),
                campaign_id=campaign_id)
    return db.run(moves.apply, clock, "county", code, Action.CLOSE, Payload(note=""),
                       campaign_id=campaign_id).problem


# ---- submit, review, close --------------------------------------------------------------


def test_submit_review_close_carries_three_signatures(db: Database, clock: FixedClock,
                                                      data_dir: Path) -> None:
    campaign_id, _, code = one_problem(db, clock)
    p = db.run(moves.apply, clock, "zjj1", code, Action.SUBMIT, Payload(note="已维修屋面"), files=[PHOTO],
                    campaign_id=campaign_id).problem
    assert p.status == Status.SUBMITTED and p.rectified_by == "zjj1"
    with pytest.raises(IllegalTransition):  # not reviewed yet
        db.run(moves.apply, clock, "county", code, Action.CLOSE, Payload(note=""),
                    campaign_id=campaign_id)
    p = db.run(moves.apply, clock, "ducha", code, Action.PASS_REVIEW, Payload(note="现场核实"),
                    campaign_id=campaign_id).problem
    assert p.status == Status.REVIEWED and p.review_passed_by == "ducha"
    with pytest.raises(GuardFailed, match="县级办公室"):  # a supervisor may not 销号
        db.run(moves.apply, clock, "ducha", code, Action.CLOSE, Payload(note=""),
                    campaign_id=campaign_id)
    p = db.run(moves.apply, clock, "county", code, Action.CLOSE, Payload(note=""),
                    campaign_id=campaign_id).problem
    assert p.status == Status.CLOSED and p.closed_at is not None
    assert (p.found_by, p.rectified_by, p.review_passed_by) == ("王村干", "zjj1", "ducha")
    _, events = db.run(audit_trail, code, campaign_id)
    assert [e.action for e in events][-5:] == ["accept", "submit", "upload_evidence", "pass_review",
                                              "close"]
    submit = next(e for e in events if e.action == "submit")
    with db.transaction() as s:
        stored = s.scalars(select(Evidence)).all()
    assert [e.sha256 for e in stored] == submit.evidence and len(stored) == 1
    assert stored[0].filename == "整改后照片.jpg" and stored[0].content_type == "image/jpeg"
    sha = stored[0].sha256
    assert (data_dir / "evidence" / sha[:2] / sha).read_bytes() == JPEG


def test_a_county_reviewer_may_pass_and_close_at_once(db: Database, clock: FixedClock) -> None:
    campaign_id, _, code = one_problem(db, clock)
    db.run(moves.apply, clock, "zjj1", code, Action.SUBMIT, Payload(note="已维修"), files=[PHOTO],
                campaign_id=campaign_id)
    with pytest.raises(GuardFailed, match="县级办公室"):  # a supervisor passes but may not close
        db.run(moves.apply, clock, "ducha", code, Action.PASS_REVIEW, Payload(note=""),
                    campaign_id=campaign_id, then=(Action.CLOSE,))
    with db.transaction() as s:  # ...and then nothing happened at all
        assert s.scalar(select(Problem.status).where(Problem.code == code)) == "submitted"
    p = db.run(moves.apply, clock, "county", code, Action.PASS_REVIEW, Payload(note="现场核实，销号"),
                    campaign_id=campaign_id, then=(Action.CLOSE,)).problem
    assert p.status == Status.CLOSED and p.review_passed_by == "county"
    _, events = db.run(audit_trail, code, campaign_id)
    assert [e.action for e in events][-2:] == ["pass_review", "close"]


def test_close_needs_the_finder_signature(db: Database, clock: FixedClock) -> None:
    campaign_id, _, code = one_problem(db, clock)
    db.run(moves.apply, clock, "zjj1", code, Action.SUBMIT, Payload(note="已维修"), files=[PHOTO],
                campaign_id=campaign_id)
    db.run(moves.apply, clock, "ducha", code, Action.PASS_REVIEW, Payload(note=""),
                campaign_id=campaign_id)
    with db.transaction() as s:
        s.execute(update(Problem).where(Problem.code == code).values(found_by="")
                  .execution_options(synchronize_session=False))
    with pytest.raises(GuardFailed, match="三方签字"):
        db.run(moves.apply, clock, "county", code, Action.CLOSE, Payload(note=""),
                    campaign_id=campaign_id)


def test_the_submitter_cannot_review(db: Database, clock: FixedClock) -> None:
    campaign_id, _, code = one_problem(db, clock)
    db.run(moves.apply, clock, "zjj1", code, Action.SUBMIT, Payload(note="已维修"), files=[PHOTO],
                campaign_id=campaign_id)
    # The same person, later made a supervisor, still may not review their own rectification.
    with db.transaction() as s:
        from models import User
        s.execute(update(User).where(User.username == "zjj1").values(role=Role.SUPERVISOR.value))
    with pytest.raises(GuardFailed, match="复核人不能是整改提交人"):
        db.run(moves.apply, clock, "zjj1", code, Action.PASS_REVIEW, Payload(note=""),
                    campaign_id=campaign_id)
    with pytest.raises(GuardFailed, match="复核人不能是整改提交人"):
        db.run(moves.apply, clock, "zjj1", code, Action.FAIL_REVIEW, Payload(note="x"),
                    campaign_id=campaign_id)


def test_a_failed_review_sends_it_back_with_a_working_day_deadline(
        db: Database, clock: FixedClock) -> None:
    campaign_id, plan, code = one_problem(db, clock)
    assert plan.review.rectify_days_after_failed_review == 5
    db.run(moves.apply, clock, "zjj1", code, Action.SUBMIT, Payload(note="已维修"), files=[PHOTO],
                campaign_id=campaign_id)
    with pytest.raises(GuardFailed, match="须填写说明"):
        db.run(moves.apply, clock, "ducha", code, Action.FAIL_REVIEW, Payload(note=" "),
                    campaign_id=campaign_id)
    p = db.run(moves.apply, clock, "ducha", code, Action.FAIL_REVIEW, Payload(note="照片不清晰，看不出屋面"),
                    campaign_id=campaign_id).problem
    # Five working days from Mon 2022-09-26: 27, 28, 29, 30 Sep, then 国庆 1-7 Oct off and
    # Sat 8 Oct a 调休 working day (State Council schedule for 2022).
    assert p.status == Status.RECTIFYING and p.deadline == dt.date(2022, 10, 8)
    assert p.submitted_by is None and p.review_passed_by is None
    _, events = db.run(audit_trail, code, campaign_id)
    failed = events[-1]
    assert failed.action == "fail_review" and failed.note == "照片不清晰，看不出屋面"
    assert failed.data["deadline"] == "2022-10-08"
    # Resubmitting reuses the stored photo by hash; an explicit deadline is honoured.
    sha = events[-2].evidence[0]
    p = db.run(moves.apply, clock, "zjj1", code, Action.SUBMIT,
                    Payload(note="补充照片", evidence=tuple([sha])), files=[],
                    campaign_id=campaign_id).problem
    assert p.status == Status.SUBMITTED
    with pytest.raises(DubanError, match="不能早于今天"):
        db.run(moves.apply, clock, "ducha", code, Action.FAIL_REVIEW,
                    Payload(note="仍不合格", deadline=dt.date(2022, 9, 1)), campaign_id=campaign_id)
    p = db.run(moves.apply, clock, "ducha", code, Action.FAIL_REVIEW,
                    Payload(note="仍不合格", deadline=dt.date(2022, 10, 20)),
                    campaign_id=campaign_id).problem
    assert p.deadline == dt.date(2022, 10, 20)


def test_a_refused_submission_leaves_no_evidence(db: Database, clock: FixedClock,
                                                 data_dir: Path) -> None:
    campaign_id, _, code = one_problem(db, clock)
    db.run(add_user, clock, username="other", name="水利局", role=Role.OFFICE, office="slj")
    with pytest.raises(GuardFailed, match="牵头责任办室"):
        db.run(moves.apply, clock, "other", code, Action.SUBMIT, Payload(note="不是我的"), files=[PHOTO],
                    campaign_id=campaign_id)
    with pytest.raises(GuardFailed, match="佐证资料"):  # no files, no evidence: refused
        db.run(moves.apply, clock, "zjj1", code, Action.SUBMIT, Payload(note="已整改"), files=[],
                    campaign_id=campaign_id)
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
        assert s.scalar(select(Problem.status).where(Problem.code == code)) == "rectifying"
    assert not (data_dir / "evidence").exists() or not any((data_dir / "evidence").rglob("*"))


def test_close_reviewed_closes_the_reviewed_batch(db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock)
    users(db, clock)
    town, village = first_village(plan)
    result = db.run(record_problems, clock, campaign_id,
                             [report(town, village, f"H-{i}", text=f"问题{i}") for i in range(4)],
                             recorded_by="county")
    ids = result.problem_ids
    for i, pid in enumerate(ids):
        db.run(moves.apply, clock, "zjj1", pid, Action.ACCEPT, Payload())
        db.run(moves.apply, clock, "zjj1", pid, Action.SUBMIT, Payload(note="已整改"), files=[PHOTO])
        if i < 3:
            db.run(moves.apply, clock, "ducha", pid, Action.PASS_REVIEW, Payload(note=""))
    with pytest.raises(PermissionDenied, match="县级办公室"):
        db.run(close_reviewed, clock, campaign_id, "ducha")
    only = db.run(close_reviewed, clock, campaign_id, "county", problem_ids=[ids[0], ids[3]])
    assert only.closed_ids == [ids[0]]  # ids[3] is still awaiting review
    rest = db.run(close_reviewed, clock, campaign_id, "county")
    assert sorted(rest.closed_ids) == ids[1:3] and rest.refused == []
    with db.transaction() as s:
        statuses = {pid: st for pid, st in s.execute(select(Problem.id, Problem.status))}
    assert [statuses[i] for i in ids] == ["closed", "closed", "closed", "submitted"]


# ---- random spot checks -----------------------------------------------------------------


def populate(db: Database, clock: FixedClock, campaign_id: int, plan: Plan, *,
             closed_per_town: int, towns: int = 3, villages: int = 8,
             households_per_village: int = 6) -> None:
    """Closed problems in `towns` towns and households across villages, written directly."""
    reports = []
    for t in plan.towns[:towns]:
        for i in range(closed_per_town):
            v = t.villages[i % len(t.villages)].code
            reports.append(report(t.code, v, None, text=f"{t.code} 问题 {i}"))
    result = db.run(record_problems, clock, campaign_id, reports, recorded_by="county")
    with db.transaction() as s:
        s.execute(update(Problem).where(Problem.id.in_(result.problem_ids)).values(
            status=Status.CLOSED.value, rectified_by="zjj1", review_passed_by="ducha",
            closed_at=clock.now()).execution_options(synchronize_session=False))
        pairs = [(t.code, v.code) for t in plan.towns for v in t.villages][:villages]
        register(s, campaign_id, (
            plain_household(campaign_id, town, village, f"{village}-{k:03d}", f"户主{n}{k}")
            for n, (town, village) in enumerate(pairs) for k in range(households_per_village)))


def test_spot_checks_meet_quotas_stratified_and_rerun_to_the_same_draw(
        db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock)
    populate(db, clock, campaign_id, plan, closed_per_town=30, villages=24)
    quota = plan.review.quota
    ids = db.run(draw_daily_spot_checks, clock, campaign_id)
    checks = db.run(list_spot_checks, campaign_id, day=MONDAY)
    assert [c.id for c in checks] == ids
    per = Counter((c.group, c.kind) for c in checks)
    for g in plan.review.groups:
        assert per[(g.code, "closed_problem")] == quota.closed_problems
        assert per[(g.code, "household")] == quota.households
        assert per[(g.code, "village")] == quota.villages
        # Stratified by town: with 3 towns holding closed problems and a quota of 5, every
        # group sees every town.
        towns = {c.town for c in checks if c.group == g.code and c.kind == "closed_problem"}
        assert len(towns) == 3
    # No item is checked twice on one day.
    assert len({(c.kind, c.item_id) for c in checks}) == len(checks)
    # A rerun returns the same draw and writes nothing.
    assert db.run(draw_daily_spot_checks, clock, campaign_id) == ids
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(SpotCheck)) == len(ids)
        assert s.scalar(select(func.count()).select_from(SpotCheckDraw)) == 1
        document_number = s.scalar(select(Campaign.document_number))
    assert document_number is not None
    with pytest.raises(SpotCheckError, match="随机种子"):
        db.run(draw_daily_spot_checks, clock, campaign_id, seed=12345)
    (draw,) = db.run(spot_check_draws, campaign_id)
    assert draw.seed == default_seed(campaign_id, document_number) and draw.checks == len(ids)
    assert draw.data["shortfall"] == []


def test_a_recorded_seed_reproduces_the_draw(db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock)
    populate(db, clock, campaign_id, plan, closed_per_town=30, villages=30)
    ids = db.run(draw_daily_spot_checks, clock, campaign_id, seed=20221001)
    checks = db.run(list_spot_checks, campaign_id, ids=ids)
    for c in checks:
        assert c.draw_seed == derive_seed(20221001, MONDAY, c.group, _kind(c.kind))
    # Recompute from the recorded seed and the day's candidates with the pure sampler.
    with db.transaction() as s:
        closed = [ClosedItem(pid, town, village) for pid, town, village in s.execute(
            select(Problem.id, Problem.town_code, Problem.village_code)
            .where(Problem.status == "closed"))]
        households = [HouseholdRef(h, t, v) for h, t, v in s.execute(
            select(Household.household_id, Household.town_code, Household.village_code))]
    (draw,) = db.run(spot_check_draws, campaign_id)
    again = draw_spot_checks(closed, households, plan.review.groups, plan.review.quota,
                             draw.seed, MONDAY)
    assert [(c.group, c.kind.value, str(c.item_id)) for c in again] == \
        [(c.group, c.kind, c.item_id) for c in checks]
    # A different seed draws differently.
    other = draw_spot_checks(closed, households, plan.review.groups, plan.review.quota,
                             draw.seed + 1, MONDAY)
    assert [(c.group, c.kind.value, str(c.item_id)) for c in other] != \
        [(c.group, c.kind, c.item_id) for c in checks]


def _kind(value: str):  # type: ignore[no-untyped-def]
    from duban.domain.sampling import SpotCheckKind
    return SpotCheckKind(value)


def test_recently_checked_items_are_not_drawn_again(db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock)
    populate(db, clock, campaign_id, plan, closed_per_town=30, villages=40,
             households_per_village=25)
    first = db.run(list_spot_checks, campaign_id, ids=db.run(draw_daily_spot_checks, clock, campaign_id))
    tuesday = MONDAY + dt.timedelta(days=1)
    second = db.run(list_spot_checks, campaign_id,
                              ids=db.run(draw_daily_spot_checks, clock, campaign_id, day=tuesday))
    for kind in ("closed_problem", "household"):
        seen = {c.item_id for c in first if c.kind == kind}
        again = {c.item_id for c in second if c.kind == kind}
        assert again and not seen & again
    # The service counts and looks up candidates in the database (it never loads the
    # register); the pure sampler over every candidate, less the recent ones, agrees.
    with db.transaction() as s:
        closed = [ClosedItem(pid, town, village) for pid, town, village in s.execute(
            select(Problem.id, Problem.town_code, Problem.village_code)
            .where(Problem.status == "closed"))]
        households = [HouseholdRef(h, t, v) for h, t, v in s.execute(
            select(Household.household_id, Household.town_code, Household.village_code))]
    (_, draw) = db.run(spot_check_draws, campaign_id)
    expected = draw_spot_checks(
        closed, households, plan.review.groups, plan.review.quota, draw.seed, tuesday,
        already_checked=frozenset(c.problem_id for c in first if c.problem_id is not None),
        households_checked=frozenset(c.household_id for c in first if c.household_id),
        villages=[(t.code, v.code) for t in plan.towns for v in t.villages])
    assert [(c.group, c.kind.value, str(c.item_id)) for c in expected] == \
        [(c.group, c.kind, c.item_id) for c in second]
    # Past the window, yesterday's items are candidates again.
    later = db.run(draw_daily_spot_checks, clock, campaign_id, day=tuesday + dt.timedelta(days=1),
                                   recent_days=0)
    assert later


def test_a_short_pool_records_the_shortfall(db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock)
    populate(db, clock, campaign_id, plan, closed_per_town=1, towns=2, villages=1,
             households_per_village=3)
    ids = db.run(draw_daily_spot_checks, clock, campaign_id)
    checks = db.run(list_spot_checks, campaign_id, ids=ids)
    assert Counter(c.kind for c in checks) == {"closed_problem": 2, "household": 3, "village": 1}
    (draw,) = db.run(spot_check_draws, campaign_id)
    missing = {(m["group"], m["kind"]): m["missing"] for m in draw.data["shortfall"]}
    assert sum(v for (g, k), v in missing.items() if k == "closed_problem") == \
        len(plan.review.groups) * plan.review.quota.closed_problems - 2


def test_a_failed_spot_check_reopens_the_closed_problem(db: Database, clock: FixedClock) -> None:
    campaign_id, plan, code = one_problem(db, clock)
    through_to_closed(db, clock, campaign_id, code)
    ids = db.run(draw_daily_spot_checks, clock, campaign_id)
    (check,) = [c for c in db.run(list_spot_checks, campaign_id, ids=ids)
                if c.kind == "closed_problem"]
    assert check.problem_code == code and check.result == "pending"
    with pytest.raises(PermissionDenied, match="督查组或县级办公室"):
        db.run(record_spot_check, clock, check.id, "zjj1", passed=False, note="x")
    with pytest.raises(SpotCheckError, match="须填写原因"):
        db.run(record_spot_check, clock, check.id, "ducha", passed=False, note="")
    info = db.run(record_spot_check, clock, check.id, "ducha", passed=False,
                             note="屋面仍漏雨，整改不到位")
    assert info.result == "failed" and info.checked_by == "ducha"
    assert info.problem_status == Status.RECTIFYING
    with db.transaction() as s:
        p = s.scalar(select(Problem).where(Problem.code == code))
        assert p is not None
        assert p.reopen_count == 1 and p.closed_at is None and p.review_passed_by is None
        assert p.deadline == dt.date(2022, 10, 8)
    _, events = db.run(audit_trail, code, campaign_id)
    assert events[-1].action == Action.REOPEN.value and events[-1].actor == "ducha"
    assert "屋面仍漏雨" in events[-1].note
    with pytest.raises(SpotCheckError, match="已记录结果"):
        db.run(record_spot_check, clock, check.id, "ducha", passed=True)
    figures = db.run(reopen_rate, campaign_id)
    assert (figures.total.closed, figures.total.reopened, figures.total.reopens) == (1, 1, 1)
    assert figures.total.rate == 1.0
    (office,) = [f for f in figures.by_office if f.closed]
    assert office.key == "zjj" and office.name == "县住建局"
    (town,) = [f for f in figures.by_town if f.closed]
    assert town.key == plan.towns[0].code and town.name == plan.towns[0].name


def test_a_passed_spot_check_keeps_it_closed(db: Database, clock: FixedClock) -> None:
    campaign_id, _, code = one_problem(db, clock)
    through_to_closed(db, clock, campaign_id, code)
    ids = db.run(draw_daily_spot_checks, clock, campaign_id)
    (check,) = db.run(list_spot_checks, campaign_id, ids=ids)
    info = db.run(record_spot_check, clock, check.id, "county", passed=True, note="已核实")
    assert info.result == "passed" and info.problem_status == Status.CLOSED
    assert db.run(reopen_rate, campaign_id).total.rate == 0.0


def test_a_failed_household_check_is_recorded(db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock)
    users(db, clock)
    populate(db, clock, campaign_id, plan, closed_per_town=0, villages=1,
             households_per_village=2)
    ids = db.run(draw_daily_spot_checks, clock, campaign_id)
    check = next(c for c in db.run(list_spot_checks, campaign_id, ids=ids) if c.kind == "household")
    # A failed household check records a problem there, so it names the problem's category.
    info = db.run(record_spot_check, clock, check.id, "ducha", passed=False, note="走访记录与实际不符",
                             category="housing")
    assert info.result == "failed" and info.note == "走访记录与实际不符"
    assert info.raised_problem_code is not None
    assert [c.id for c in db.run(list_spot_checks, campaign_id, result="failed")] == [check.id]


def test_a_campaign_without_groups_cannot_draw(db: Database, clock: FixedClock) -> None:
    campaign_id, _ = launch(db, clock)
    with db.transaction() as s:
        c = s.get(Campaign, campaign_id)
        assert c is not None
        first = s.scalars(select(PlanVersion).where(PlanVersion.campaign_id == campaign_id)).one()
        plan = {**first.plan, "review": {**first.plan["review"], "groups": []}}
        s.add(PlanVersion(campaign_id=campaign_id, version=2, plan=plan, source=first.source,
                          created_at=clock.now(), created_by="test", note="督查组撤销"))
        c.plan_version = 2
    with pytest.raises(SpotCheckError, match="督查组"):
        db.run(draw_daily_spot_checks, clock, campaign_id)


# ---- recurrence -------------------------------------------------------------------------


def test_a_new_problem_on_a_closed_household_category_is_flagged(
        db: Database, clock: FixedClock) -> None:
    campaign_id, plan, code = one_problem(db, clock)
    first = through_to_closed(db, clock, campaign_id, code)
    town, village = first_village(plan)
    clock.advance(dt.timedelta(days=10))
    result = db.run(record_problems, clock, campaign_id, [
        report(town, village, "H-001", text="屋面再次漏雨"),
        report(town, village, "H-001", category="water", text="自来水不通"),
        report(town, village, "H-002", text="另一户危房"),
    ], recorded_by="county")
    with db.transaction() as s:
        flagged = {d: r for d, r in s.execute(select(Problem.description, Problem.recurrence_of)
                                              .where(Problem.id.in_(result.problem_ids)))}
    assert flagged == {"屋面再次漏雨": first.id, "自来水不通": None, "另一户危房": None}
    with db.transaction() as s:
        new_id = s.scalar(select(Problem.id).where(Problem.description == "屋面再次漏雨"))
    assert new_id is not None
    _, events = db.run(audit_trail, new_id)
    assert events[-1].action == "recurrence" and code in events[-1].note
    assert db.run(reopen_rate, campaign_id).total.recurrences == 1


def test_spot_check_time_is_china_time(db: Database) -> None:
    # 2022-09-26 23:30 UTC is already the 27th in China: the draw belongs to the 27th.
    late = FixedClock(dt.datetime(2022, 9, 26, 23, 30, tzinfo=dt.UTC))
    campaign_id, plan = launch(db, FixedClock(dt.datetime(2022, 9, 26, 9, tzinfo=CHINA_TZ)))
    populate(db, late, campaign_id, plan, closed_per_town=2, villages=2)
    db.run(draw_daily_spot_checks, late, campaign_id)
    (draw,) = db.run(spot_check_draws, campaign_id)
    assert draw.day == dt.date(2022, 9, 27)


# ---- command line -----------------------------------------------------------------------


def test_the_command_line_submits_reviews_and_spot_checks(db: Database, clock: FixedClock,
                                                          tmp_path: Path) -> None:
    from click.testing import CliRunner

    from duban.cli import cli

    campaign_id, _, code = one_problem(db, clock)
    photo = tmp_path / "整改后.jpg"
    photo.write_bytes(JPEG)
    text = tmp_path / "说明.jpg"
    text.write_text("不是图片", encoding="utf-8")
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        # The commands work on the test's database (obj), inside its transaction.
        result = runner.invoke(cli, ["--now", "2022-09-26T10:00", *args], obj=db,
                               standalone_mode=False, catch_exceptions=True)
        out = result.output + (str(result.exception) if result.exception else "")
        return (1 if result.exception else 0), out

    c = str(campaign_id)
    rc, out = run("problem", "submit", code, "--as", "zjj1", "--note", "已整改", "--file",
                  str(text), "--campaign", c)
    assert rc == 1 and "「说明.jpg」文件类型不允许" in out
    rc, out = run("problem", "submit", code, "--as", "zjj1", "--note", "已整改", "--file",
                  str(photo), "--campaign", c)
    assert rc == 0 and "待复核" in out, out
    rc, out = run("review", "pass", code, "--as", "ducha", "--campaign", c)
    assert rc == 0 and "复核通过" in out, out
    rc, out = run("review", "close-all", "--campaign", c, "--as", "county")
    assert rc == 0 and "已销号 1 个问题" in out, out
    rc, out = run("spotcheck", "draw", "--campaign", c)
    assert rc == 0 and code in out and "随机种子" in out, out
    (check,) = db.run(list_spot_checks, campaign_id)
    rc, out = run("spotcheck", "record", str(check.id), "--as", "ducha", "--fail", "--note",
                  "复查仍漏雨")
    assert rc == 0 and "已重新打开" in out, out
    rc, out = run("review", "reopen-rate", "--campaign", c)
    assert rc == 0 and "100.0%" in out, out


def test_the_command_line_fails_a_review_then_passes_and_closes(db: Database, clock: FixedClock,
                                                                tmp_path: Path) -> None:
    from click.testing import CliRunner

    from duban.cli import cli

    campaign_id, _, code = one_problem(db, clock)
    photo = tmp_path / "整改后.jpg"
    photo.write_bytes(JPEG)

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--now", "2022-09-26T10:00", *args, "--campaign",
                                          str(campaign_id)], obj=db, standalone_mode=False)
        assert result.exception is None, (args, result.output, result.exception)
        return result.output

    out = run("problem", "submit", code, "--as", "zjj1", "--note", "已整改", "--file", str(photo))
    assert out.startswith(f"已提交整改：{code} → 待复核（版本 "), out
    out = run("review", "fail", code, "--as", "ducha", "--note", "屋面仍漏雨",
              "--deadline", "2022-10-10")
    assert out.startswith(f"已退回整改：{code} → 整改中，整改时限 2022-10-10（版本 "), out
    run("problem", "submit", code, "--as", "zjj1", "--note", "已返工", "--file", str(photo))
    assert "已复核通过：" in run("review", "pass", code, "--as", "ducha")
    out = run("review", "close", code, "--as", "county", "--note", "三方签字齐全")
    assert out.startswith(f"已销号：{code} → 已销号（版本 "), out


def test_concurrent_draws_of_one_day_agree(committed_db: Database, clock: FixedClock) -> None:
    import threading

    db = committed_db  # three threads drawing at once, each in its own transaction

    campaign_id, plan = launch(db, clock)
    populate(db, clock, campaign_id, plan, closed_per_town=20, villages=20)
    results: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def draw() -> None:
        start.wait()
        try:
            results.append(db.run(draw_daily_spot_checks, clock, campaign_id))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=draw) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 3
    assert results[0] and results[0] == results[1] == results[2]
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(SpotCheckDraw)) == 1
        assert s.scalar(select(func.count()).select_from(SpotCheck)) == len(results[0])


def test_a_draw_that_loses_the_race_returns_the_winners(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    import duban.services.reviews as reviews

    campaign_id, plan = launch(db, clock)
    populate(db, clock, campaign_id, plan, closed_per_town=5, villages=4)
    first = db.run(draw_daily_spot_checks, clock, campaign_id)
    real = reviews._draw_row
    calls: list[int] = []

    def blind_once(*args: object) -> SpotCheckDraw | None:
        calls.append(1)  # the first look misses the winner's draw, as in a real race
        return None if len(calls) == 1 else real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(reviews, "_draw_row", blind_once)
    assert db.run(draw_daily_spot_checks, clock, campaign_id) == first
    assert len(calls) == 2  # it drew, hit the unique key, and read the winner's draw
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(SpotCheck)) == len(first)


def test_a_household_check_names_the_households_head(db: Database, clock: FixedClock) -> None:
    campaign_id, plan = launch(db, clock)
    populate(db, clock, campaign_id, plan, closed_per_town=5, villages=4)
    checks = db.run(list_spot_checks, campaign_id,
                    ids=db.run(draw_daily_spot_checks, clock, campaign_id))
    households = [c for c in checks if c.kind == "household"]
    assert households
    with db.transaction() as s:
        heads = {h: head for h, head in s.execute(select(Household.household_id, Household.head))}
    for c in households:
        assert c.household_head == heads[c.household_id]
        assert c.household_label == f"{c.household_id} · 户主 {heads[c.household_id]}"
    assert all(c.household_label is None for c in checks if c.kind != "household")
