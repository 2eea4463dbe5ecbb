"""Penalties by the plan's rules and the frozen monthly ranking, on both backends."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from docx import Document
from sqlalchemy import select, update

from duban.domain.clock import FixedClock
from duban.domain.lifecycle import OPEN_STATUSES, Action, Status
from duban.domain.plan import PenaltyBasis
from duban.domain.scoring import Standing, penalty_totals
from duban.services.database import Database
from duban.services.scoring.documents import ranking_context, write_ranking
from duban.services.scoring.monthly import MonthError, compute_ranking, monthly_snapshot, ranking
from duban.services.scoring.penalties import (
    BASIS_ACCRUED,
    BASIS_LEDGER,
    accrued_penalties,
    current_penalties,
    reconcile_penalties,
)
from models import AuditEvent, Problem, ReminderFired
from models.review import SpotCheck, SpotCheckDraw
from tests.integration.test_reports import Ledger, at, launch_seed
from tests.support import plain_household, register

OPEN = {s.value for s in OPEN_STATUSES}


def add_households(db: Database, campaign_id: int, town: str, village: str, n: int,
                   prefix: str) -> None:
    with db.transaction() as s:
        register(s, campaign_id, (
            plain_household(campaign_id, town, village, f"{prefix}{i:04d}", f"户主{i}")
            for i in range(n)))


def problems_of(db: Database, campaign_id: int) -> dict[str, Problem]:
    with db.transaction() as s:
        return {p.code: p for p in s.scalars(select(Problem).where(
            Problem.campaign_id == campaign_id))}


# ---- seed 000: 500 yuan per item, 2000 per unsafe house behind schedule


def canggou(db: Database, clock: FixedClock) -> tuple[Ledger, dict[str, list[str]]]:
    """Seed 000 with housing problems on three households and some ordinary ones."""
    clock.set(at(dt.date(2020, 6, 20), 9))
    lg = launch_seed(db, clock, "seed-000")
    town = lg.plan.towns[0]
    v = town.villages[0].code
    lg.day(dt.date(2020, 6, 20))
    made = {
        "h1": lg.record(town.code, v, "housing", 2, household="H-1"),
        "h2": lg.record(town.code, v, "housing", 1, household="H-2"),
        "h3": lg.record(town.code, v, "housing", 1, household="H-3"),
        "water": lg.record(town.code, v, "water", 2, household="H-4"),
        "edu": lg.record(town.code, v, "education", 1, household="H-5"),
    }
    lg.day(dt.date(2020, 6, 22))
    for codes in made.values():
        for code in codes:
            lg.accept(code)
    lg.day(dt.date(2020, 6, 29))
    lg.submit(made["h3"][0])
    lg.close(made["h3"][0])
    lg.day(dt.date(2020, 7, 8))
    lg.submit(made["h2"][0])
    lg.close(made["h2"][0])
    lg.day(dt.date(2020, 7, 10))
    lg.submit(made["edu"][0])
    return lg, made


def test_penalties_follow_seed_000_amounts(db: Database, clock: FixedClock) -> None:
    lg, made = canggou(db, clock)
    rules = {r.code: r for r in lg.plan.penalties}
    assert (rules["unsafe_house"].amount_yuan, rules["ordinary"].amount_yuan) == (2000, 500)
    ids = {k: [problems_of(db, lg.campaign_id)[c].id for c in v] for k, v in made.items()}
    lg.day(dt.date(2020, 7, 13))

    # Housing is due 6/30: nothing is fined on the day itself.
    assert db.run(current_penalties, clock, lg.campaign_id, dt.date(2020, 6, 30)) == []
    # 7/1: two households behind schedule, one fine each (H-1 has two problems, fined once);
    # H-3 was rectified in time. This is rebuilt on 7/13, after H-2 was closed.
    lines = db.run(current_penalties, clock, lg.campaign_id, dt.date(2020, 7, 1))
    assert [(x.rule, x.basis, x.unit, x.problem_ids, x.amount_yuan) for x in lines] == [
        ("unsafe_house", PenaltyBasis.HOUSEHOLD, "H-1", tuple(sorted(ids["h1"])), 2000),
        ("unsafe_house", PenaltyBasis.HOUSEHOLD, "H-2", tuple(ids["h2"]), 2000),
    ]
    # 7/13 (today): everything else was due 7/12. H-1 is still behind (2000), both water items
    # are unrectified (500 each); H-2 is closed and the education item was submitted in time.
    lines = db.run(current_penalties, clock, lg.campaign_id)
    by_rule: dict[str, list[int]] = {}
    for x in lines:
        by_rule.setdefault(x.rule, []).extend(x.problem_ids)
    assert sorted(by_rule["unsafe_house"]) == sorted(ids["h1"])
    assert sorted(by_rule["ordinary"]) == sorted(ids["water"])
    assert sum(x.amount_yuan for x in lines) == 2000 + 2 * 500
    offices = penalty_totals(lines, by="office")
    assert offices == {lg.office_of(made["h1"][0]): 2000, lg.office_of(made["water"][0]): 1000}
    # The fined items are exactly the ledger's overdue items that day.
    fined = {i for x in lines for i in x.problem_ids}
    overdue = {p.id for p in problems_of(db, lg.campaign_id).values()
               if p.status in OPEN and p.deadline and p.deadline < dt.date(2020, 7, 13)}
    assert fined == overdue


def _fire(db: Database, lg: Ledger, code: str, on: dt.date) -> None:
    """Record the accruing rung (通报) as the orchestration's sweep does."""
    p = problems_of(db, lg.campaign_id)[code]
    assert p.deadline is not None and p.lead_office is not None
    with db.transaction() as s:
        s.add(ReminderFired(campaign_id=lg.campaign_id, problem_id=p.id, rung_code="bulletin",
                            action="bulletin", colour="red", office_code=p.lead_office,
                            town_code=p.town_code, category=p.category, deadline=p.deadline,
                            due_on=on, fired_on=on, fired_at=at(on, 9), accrue_penalty=True))


def test_accrued_fines_stand_and_reconcile_with_the_ledger(db: Database,
                                                            clock: FixedClock) -> None:
    lg, made = canggou(db, clock)
    ids = {k: [problems_of(db, lg.campaign_id)[c].id for c in v] for k, v in made.items()}
    # Seed 000's ladder fines at 通报, 4 working days after the deadline (6/30 → 7/6).
    for code in made["h1"] + made["h2"]:
        _fire(db, lg, code, dt.date(2020, 7, 6))
    lg.day(dt.date(2020, 7, 13))
    assert db.run(accrued_penalties, lg.campaign_id, dt.date(2020, 7, 5)) == []
    accrued = db.run(accrued_penalties, lg.campaign_id, dt.date(2020, 7, 13))
    assert [(x.unit, x.amount_yuan) for x in accrued] == [("H-1", 2000), ("H-2", 2000)]
    rec = db.run(reconcile_penalties, clock, lg.campaign_id)
    assert rec.accrues and rec.official == rec.accrued
    assert rec.accrued_total == 4000
    assert rec.ledger_total == 2000 + 2 * 500
    # H-2 was closed on 7/8, after its fine accrued: the fine stands.
    assert rec.accrued_now_rectified == tuple(ids["h2"])
    # The water items are overdue since 7/13 and have not reached 通报 yet.
    assert rec.overdue_not_accrued == tuple(sorted(ids["water"]))


def test_the_office_ranking_counts_the_months_accrued_fines(db: Database,
                                                             clock: FixedClock) -> None:
    lg, made = canggou(db, clock)
    town = lg.plan.towns[0]
    add_households(db, lg.campaign_id, town.code, town.villages[0].code, 40, "HH")
    for code in made["h1"]:
        _fire(db, lg, code, dt.date(2020, 7, 6))
    _fire(db, lg, made["water"][0], dt.date(2020, 7, 17))
    lg.day(dt.date(2020, 8, 1))
    snap = db.run(monthly_snapshot, clock, lg.campaign_id, "2020-07", frozen_by="county")
    assert snap.frozen and snap.penalty_basis == BASIS_ACCRUED
    housing_office = lg.office_of(made["h1"][0])
    water_office = lg.office_of(made["water"][0])
    assert snap.stats_of(housing_office).penalties_yuan == 2000
    assert snap.stats_of(water_office).penalties_yuan == 500
    assert snap.stats_of(housing_office).households == 40
    assert sum(x.amount_yuan for x in snap.penalties) == 2500
    # Seed 000 ranks offices and names nobody (commend 0, name 0).
    assert snap.ranking.by == "office"
    assert all(r.standing is Standing.NONE for r in snap.ranking.rows)
    penalty = next(c for c in next(r for r in snap.ranking.rows
                                   if r.town == housing_office).components
                   if c.code == "penalty")
    assert penalty.points < 0 and "2000元" in penalty.detail
    # June accrued nothing (the fines fired in July).
    june = db.run(monthly_snapshot, clock, lg.campaign_id, "2020-06", frozen_by="county")
    assert all(s.penalties_yuan == 0 for s in june.stats)
    # The 通报 heads the ranked column 责任单位 (it said 乡镇（办事处） over the offices), and a
    # one-town campaign's 推进会 is the township's.
    with db.transaction() as s:
        ctx = ranking_context(s, snap, dt.date(2020, 8, 1))
    assert ctx.ranked_unit == "责任单位" and ctx.area_word == "全乡"


# ---- seed 002: monthly ranking, top 3 commended, the last one named


def shenqiu(db: Database, clock: FixedClock) -> tuple[Ledger, dict[str, list[str]]]:
    """Seed 002 with five towns doing better and worse in October 2022."""
    clock.set(at(dt.date(2022, 9, 26), 9))
    lg = launch_seed(db, clock, "seed-002")
    t = lg.plan.towns
    for i, town in enumerate(t[:6]):
        add_households(db, lg.campaign_id, town.code, town.villages[0].code, 10 + 5 * i,
                       f"{town.code}-")
    lg.day(dt.date(2022, 9, 26))

    def rec(i: int, n: int, deadline: dt.date | None = None) -> list[str]:
        return lg.record(t[i].code, t[i].villages[0].code, "housing", n, deadline=deadline)

    made = {
        "all_closed": rec(0, 3),
        "half": rec(1, 4),
        "late": rec(2, 3, deadline=dt.date(2022, 10, 10)),
        "old": rec(3, 2),
        "checked": rec(4, 2),
    }
    for codes in made.values():
        for code in codes:
            lg.accept(code)
    lg.day(dt.date(2022, 9, 28))
    for code in made["old"]:  # closed in September, untouched in October
        lg.submit(code)
        lg.close(code)
    lg.day(dt.date(2022, 10, 12))
    for code in made["all_closed"] + made["half"][:2] + made["checked"]:
        lg.submit(code)
        lg.close(code)
    # The supervision group spot-checks two closed items of town 4 and finds one wanting.
    lg.day(dt.date(2022, 10, 18))
    with db.transaction() as s:
        draw = SpotCheckDraw(campaign_id=lg.campaign_id, day=dt.date(2022, 10, 18), seed=7,
                             drawn_by="ducha", drawn_at=clock.now(), checks=2)
        s.add(draw)
        s.flush()
        for code, result in zip(made["checked"], ("passed", "failed"), strict=True):
            p = s.scalar(select(Problem).where(Problem.code == code,
                                               Problem.campaign_id == lg.campaign_id))
            assert p is not None
            s.add(SpotCheck(campaign_id=lg.campaign_id, draw_id=draw.id, day=draw.day,
                            group_code="dd1", kind="closed_problem", item_id=str(p.id),
                            problem_id=p.id, town_code=p.town_code, draw_seed="7/dd1",
                            result=result, checked_by="ducha", checked_at=clock.now()))
    lg.move(made["checked"][1], Action.REOPEN, "ducha", note="抽查不合格",
            deadline=dt.date(2022, 10, 25))
    return lg, made


def test_october_is_ranked_from_the_ledger_and_frozen(db: Database, clock: FixedClock) -> None:
    lg, made = shenqiu(db, clock)
    lg.day(dt.date(2022, 10, 31))
    with pytest.raises(MonthError, match="尚未结束"):
        db.run(monthly_snapshot, clock, lg.campaign_id, "2022-10", frozen_by="county")
    with pytest.raises(MonthError, match="月份格式"):
        db.run(ranking, lg.campaign_id, "2022年10月")
    lg.day(dt.date(2022, 11, 1), 9)
    snap = db.run(monthly_snapshot, clock, lg.campaign_id, "2022-10", frozen_by="county")
    assert snap.frozen and snap.frozen_by == "county" and snap.penalty_basis == BASIS_LEDGER

    # The stats are the ledger's own counts at the end of October.
    problems = problems_of(db, lg.campaign_id)
    month_start = at(dt.date(2022, 10, 1), 0)
    with db.transaction() as s:
        moved_in_october = set(s.scalars(select(AuditEvent.problem_id).where(
            AuditEvent.at >= month_start)))
    expected: dict[str, tuple[int, int, int]] = {}
    for p in problems.values():
        if p.status == Status.CLOSED and p.closed_at and p.closed_at < month_start \
                and p.id not in moved_in_october:
            continue
        n, c, o = expected.get(p.town_code, (0, 0, 0))
        expected[p.town_code] = (
            n + 1, c + (p.status == Status.CLOSED),
            o + (p.status in OPEN and p.deadline is not None
                 and p.deadline <= dt.date(2022, 10, 31)))
    for town in lg.plan.towns:
        s_ = snap.stats_of(town.code)
        assert (s_.problems, s_.closed, s_.overdue) == expected.get(town.code, (0, 0, 0))
    t = lg.plan.towns
    assert snap.stats_of(t[4].code).spot_checked == 2
    assert snap.stats_of(t[4].code).reopened == 1
    assert snap.stats_of(t[3].code).problems == 0  # closed in September: not October's work
    assert snap.stats_of(t[0].code).households == 10

    # Standing follows the plan: towns without October work are listed apart (本月无问题), not
    # ranked first by a 100 % rate; of the four ranked, the top three are commended and the
    # last named.
    rows = snap.ranking.rows
    worked = {code for code, (n, _, _) in expected.items() if n > 0}
    assert {r.town for r in rows} == worked
    assert {q.town for q in snap.ranking.quiet} == {t_.code for t_ in t} - worked
    assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)
    assert [r.position for r in rows if r.standing is Standing.COMMENDED] == [1, 2, 3]
    assert [r.town for r in rows if r.standing is Standing.NAMED] == [rows[-1].town]
    assert rows[-1].town == t[2].code  # nothing closed, everything overdue
    for r in rows:
        assert sum(c.points for c in r.components) == r.score

    # Once frozen, never recomputed: a correction to the ledger changes the live preview only.
    lg.day(dt.date(2022, 11, 3))
    for code in made["late"]:
        lg.submit(code)
        lg.close(code)
    with db.transaction() as s:
        s.execute(update(Problem).where(Problem.code == made["half"][2],
                                        Problem.campaign_id == lg.campaign_id)
                  .values(town_code=t[2].code))
    preview = db.run(compute_ranking, clock, lg.campaign_id, "2022-10")
    assert not preview.frozen
    assert preview.stats_of(t[2].code) != snap.stats_of(t[2].code)
    again = db.run(monthly_snapshot, clock, lg.campaign_id, "2022-10", frozen_by="someone-else")
    assert again == snap
    assert db.run(ranking, lg.campaign_id, "2022-10") == snap
    assert db.run(ranking, lg.campaign_id, "2022-09") is None


def test_ranking_files_show_the_frozen_breakdown(db: Database, clock: FixedClock,
                                                 tmp_path: Path) -> None:
    lg, _ = shenqiu(db, clock)
    lg.day(dt.date(2022, 11, 1), 9)
    preview = db.run(write_ranking, clock, lg.campaign_id, "2022-10", tmp_path / "preview")
    assert "预览" in preview[0].name
    snap = db.run(monthly_snapshot, clock, lg.campaign_id, "2022-10", frozen_by="county")
    paths = db.run(write_ranking, clock, lg.campaign_id, "2022-10", tmp_path)
    assert [p.suffix for p in paths] == [".docx", ".xlsx"]
    doc = Document(str(paths[0]))
    # the frozen 通报 has a 文号 from the register, taken once (issue 16); the preview has none
    assert re.fullmatch(r"沈巩督〔2022〕\d+号", snap.number)
    assert snap.number in [p.text for p in doc.paragraphs]
    assert db.run(monthly_snapshot, clock, lg.campaign_id, "2022-10",
                  frozen_by="county").number == snap.number
    assert not any("〔" in p.text for p in Document(str(preview[0])).paragraphs)
    table = next(tb for tb in doc.tables
                 if any(c.text.strip() == snap.ranking.rows[0].name for c in tb.rows[1].cells))
    listed = [[c.text.strip() for c in row.cells] for row in table.rows[1:]]
    assert [r[1] for r in listed] == [r.name for r in snap.ranking.rows]
    for cells, r in zip(listed, snap.ranking.rows, strict=True):
        assert float(cells[4]) == pytest.approx(float(r.score))  # 总分
        assert r.standing_label in cells[5]
    text = "\n".join(p.text for p in doc.paragraphs)
    for r in snap.ranking.commended:
        assert r.name in text
    # The towns by the plan's own word for them, as its other documents (it said 各乡镇).
    # The title breaks after the plan's word, not inside it (it broke at 乡镇\n（办事处）).
    assert "关于2022年10月乡镇（办事处）\n月考评结果的通报" in text and "各乡镇（办事处）：" in text
    ws = openpyxl.load_workbook(paths[1]).active
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    ranked = len(snap.ranking.rows)
    assert [(r[0], r[1], r[2]) for r in rows[:ranked]] == [
        (r.position, r.name, pytest.approx(float(r.score))) for r in snap.ranking.rows]
    # Towns without a problem in the month follow, listed apart.
    assert [(r[1], r[3]) for r in rows[ranked:]] == [
        (q.name, "本月无问题") for q in snap.ranking.quiet]
    assert ws.freeze_panes == "A2"
    # a native bar chart of the totals, over the sheet's own cells (not a picture; issue 16)
    with zipfile.ZipFile(paths[1]) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert "<c:barChart>" in chart and "$C$2:$C$" in chart and "$B$2:$B$" in chart


def test_freeze_due_month_freezes_last_month_once_due(db, clock) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ, FixedClock
    from duban.services.campaigns import launch_campaign
    from duban.services.scoring.monthly import freeze_due_month, ranking
    from tests.conftest import PLANS

    path = PLANS / "seed-002-shenqiu.yaml"
    plan = load_plan_file(path)
    cid = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "county")
    september = FixedClock(dt.datetime(2022, 9, 28, 9, tzinfo=CHINA_TZ))
    assert db.run(freeze_due_month, september, cid) is None  # August is before the campaign
    november = FixedClock(dt.datetime(2022, 11, 2, 9, tzinfo=CHINA_TZ))
    assert db.run(freeze_due_month, november, cid) == dt.date(2022, 10, 1)
    frozen = db.run(ranking, cid, "2022-10")
    assert frozen is not None and frozen.frozen_at is not None
