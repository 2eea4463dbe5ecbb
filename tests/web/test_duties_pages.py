"""The web's recurring duties (the unit's inbox) and milestones (the problem page)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import tests.web.conftest as web
from duban.domain.clock import FixedClock
from duban.services.calendars import working_calendar
from duban.services.database import Database
from duban.services.duties import create_occurrences
from models import DutyOccurrence, ProblemMilestone
from tests.web.conftest import World
from tests.web.test_pages import PNG, Clients, flash

MILESTONES = ("    - {categories: [住房安全], milestones: [{name: 开工, date: 2022-10-08}, "
              "{name: 完工, date: 2022-10-20}]}\n")


def give_housing_milestones(monkeypatch: pytest.MonkeyPatch) -> None:
    """The web world's plan gives housing problems two milestones (开工 10/8, 完工 10/20)."""
    original = web.with_seed_004_quota

    def with_milestones(text: str) -> str:
        head, tail = original(text).split("\ndeadlines:\n", 1)
        rules, rest = tail.split("  rules:\n", 1)
        return f"{head}\ndeadlines:\n{rules}  rules:\n{MILESTONES}{rest}"

    monkeypatch.setattr(web, "with_seed_004_quota", with_milestones)


@pytest.fixture
def world(db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> World:
    """Seed 002's world, its housing problems given two milestones (开工 10/8, 完工 10/20)."""
    give_housing_milestones(monkeypatch)
    built = web.build_world(db, clock)
    with db.unit_of_work() as uow:
        create_occurrences(uow, clock, built.campaign_id, working_calendar())
        uow.commit()
    return built


def test_the_unit_sees_its_duties_and_reports_one_done(world: World,
                                                       client_for: Clients) -> None:
    town, town_csrf = client_for("off_gov_hd")
    page = town.get(f"/inbox?campaign={world.campaign_id}").text
    assert "常态化工作" in page and "帮扶责任人走访" in page and "每周五" in page
    assert "槐店镇人民政府" in page or "槐店" in page
    assert "逾期未完成" in page and "待完成" in page  # 9/16 and 9/23 missed, 9/30 to come
    with world.db.unit_of_work() as uow:
        mine = uow.session.scalars(select(DutyOccurrence).where(
            DutyOccurrence.office_code == "gov-huaidian").order_by(DutyOccurrence.id)).first()
        assert mine is not None
        target = mine.id
    other, other_csrf = client_for("off_zjj")
    refused = other.post(f"/duties/{target}/done", data={
        "csrf_token": other_csrf, "campaign": str(world.campaign_id), "note": "代报"},
        follow_redirects=False)  # the inbox again, the reason and the note kept
    assert refused.status_code == 400 and "不能代为报告完成" in refused.text
    ok = flash(town, town.post(
        f"/duties/{target}/done",
        data={"csrf_token": town_csrf, "campaign": str(world.campaign_id), "note": "已走访"},
        files=[("files", ("走访.png", PNG))], follow_redirects=False))
    assert ok.startswith("ok:") and "帮扶责任人走访" in ok, ok
    with world.db.unit_of_work() as uow:
        row = uow.session.get(DutyOccurrence, target)
        assert row is not None
        assert (row.status, row.done_by, len(row.evidence)) == ("done", "off_gov_hd", 1)


def test_the_problem_page_shows_milestones_and_the_lead_reports_one(
        world: World, client_for: Clients) -> None:
    pid = world.problems["hd_housing"]
    county, _ = client_for("county")
    page = county.get(f"/problems/{pid}").text
    assert "整改节点" in page and "开工" in page and "完工" in page and "未到期" in page
    office, office_csrf = client_for("off_zjj")
    ok = flash(office, office.post(
        f"/problems/{pid}/milestones",
        data={"csrf_token": office_csrf, "milestone": "开工", "note": "已开工"},
        files=[("files", ("开工.png", PNG))], follow_redirects=False))
    assert ok.startswith("ok:") and "开工" in ok, ok
    with world.db.unit_of_work() as uow:
        reached = uow.session.scalars(select(ProblemMilestone)).all()
        assert [(m.milestone_code, m.reached_by) for m in reached] == [("开工", "off_zjj")]
    assert "已完成" in county.get(f"/problems/{pid}").text
    ledger = county.get(f"/ledger?campaign={world.campaign_id}&status=").text
    # Each date kept whole on a line (a phone wrapped 2022- / 10-20).
    assert ('节点：开工 <span class="nw">2022-10-08</span> 已完成；'
            '完工 <span class="nw">2022-10-20</span> 未到期') in ledger
