"""Recurring duties and milestones in the daily report (docx, xlsx, the delivered message) and
the ledger export, scoped like every number (a town sees its own)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select

from duban.domain.clock import CHINA_TZ
from duban.services.calendars import working_calendar
from duban.services.duties import create_occurrences, report_done
from duban.services.duty_reports import duty_day
from models import DutyOccurrence, InboxMessage
from tests.web import test_duties_pages
from tests.web.conftest import World

world = test_duties_pages.world  # seed 002 with milestones on its housing problems
REPORT_DAY = dt.date(2022, 10, 14)  # a Friday: 帮扶责任人走访 falls due in every village


pytestmark = pytest.mark.usefixtures("data_dir")


@pytest.fixture
def friday(world: World) -> World:
    """The world on the evening of 10/14: occurrences opened, one village's visit done."""
    world.clock.set(dt.datetime(2022, 10, 14, 18, 0, tzinfo=CHINA_TZ))
    with world.db.unit_of_work() as uow:
        create_occurrences(uow, world.clock, world.campaign_id, working_calendar())
        uow.commit()
    with world.db.unit_of_work() as uow:
        today = uow.session.scalars(select(DutyOccurrence).where(
            DutyOccurrence.campaign_id == world.campaign_id,
            DutyOccurrence.due_on == REPORT_DAY,
            DutyOccurrence.village_code == "huaidian-01")).one()
        report_done(uow, world.clock, world.campaign_id, today.id, by="county", note="已走访")
        uow.commit()
    return world


def _text(path: Path) -> str:
    doc = Document(str(path))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_the_daily_report_has_the_days_duties_and_missed_milestones(friday: World,
                                                                    tmp_path: Path) -> None:
    from duban.services.reports.daily import write_daily_report

    world = friday
    with world.db.unit_of_work() as uow:
        docx, xlsx = write_daily_report(uow, world.clock, world.campaign_id, REPORT_DAY,
                                        tmp_path / "reports")
        uow.commit()
    text = _text(docx)
    assert "五、常态化工作与整改节点" in text and "六、整改趋势" in text
    whole = world.db.run(lambda uow: duty_day(uow.session, world.campaign_id, REPORT_DAY))
    assert whole.due > 1 and whole.done == 1 and whole.missed > 0
    assert f"当日到期常态化工作{whole.due}项，按时完成1项" in text
    assert "东城办事处东城社区" in text and "其余23个单位" in text  # names, never codes
    # 开工 10/8 passed unreached on both housing problems; 完工 10/20 is still to come.
    assert "逾期未完成整改节点2个" in text
    codes = {world.problem(n).code for n in ("hd_housing", "lz_housing")}
    for code in codes:
        assert code in text
    assert "县住建局" in text and "2022年10月8日" in text and "huaidian" not in text
    book = load_workbook(xlsx, read_only=True)
    assert "常态化工作与整改节点" in book.sheetnames
    rows = [[c for c in r if c is not None]
            for r in book["常态化工作与整改节点"].iter_rows(values_only=True)]
    # 63 villages: the 40 most behind are listed, the rest summed in one line.
    units = [r for r in rows if len(r) == 5 and isinstance(r[1], int)]
    assert len(units) == 41 and units[-1][0] == "其余23个单位"
    assert sum(r[1] for r in units) == whole.due and sum(r[4] for r in units) == whole.missed
    assert {r[0] for r in rows if r and r[0] in codes} == codes


def test_each_unit_sees_its_own_duties_and_milestones(friday: World) -> None:
    world = friday

    def day(**scope: object) -> object:
        return world.db.run(lambda uow: duty_day(uow.session, world.campaign_id, REPORT_DAY,
                                                 **scope))  # type: ignore[arg-type]

    hd, lz = day(town="huaidian"), day(town="liuzhuangdian")
    assert all(u.unit.startswith("槐店回族镇") for u in hd.units)  # type: ignore[attr-defined]
    assert all(u.unit.startswith("刘庄店镇") for u in lz.units)  # type: ignore[attr-defined]
    assert [m.problem for m in hd.milestones_missed] == [  # type: ignore[attr-defined]
        world.problem("hd_housing").code]
    assert [m.problem for m in lz.milestones_missed] == [  # type: ignore[attr-defined]
        world.problem("lz_housing").code]
    jyj = day(offices=["jyj"])
    assert jyj.milestones_missed == () and jyj.units == ()  # type: ignore[attr-defined]


def test_the_delivered_daily_report_tells_each_town_its_own(friday: World) -> None:
    from duban.services.reports.delivery import deliver_daily_report

    world = friday
    with world.db.unit_of_work() as uow:
        assert deliver_daily_report(uow, world.clock, world.campaign_id, REPORT_DAY, None) > 0
        uow.commit()
    with world.db.unit_of_work() as uow:
        bodies = {m.office_code: m.body for m in uow.session.scalars(select(InboxMessage).where(
            InboxMessage.kind == "daily_report"))}
    hd = bodies["gov-huaidian"]
    assert "常态化工作：当日到期常态化工作" in hd and "整改节点：" in hd
    assert "逾期未完成整改节点1个" in hd and "刘庄店" not in hd.split("常态化工作：")[1]
    assert "逾期未完成整改节点2个" in bodies["ggb"]  # the county office: all of them


def _sheet(book: object, name: str) -> list[list[object]]:
    return [list(r) for r in book[name].iter_rows(values_only=True)]  # type: ignore[index]


def test_the_ledger_workbook_has_milestones_and_a_duties_sheet(friday: World,
                                                               tmp_path: Path) -> None:
    from duban.services.reports.ledger import write_ledger

    world = friday
    path = world.db.run(write_ledger, world.campaign_id, tmp_path / "整改台账.xlsx", REPORT_DAY)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["整改台账", "常态化工作"]
    ledger = _sheet(book, "整改台账")
    column = ledger[0].index("整改节点")
    stones = {r[0]: (r[column] if len(r) > column else None) for r in ledger[1:]}
    assert stones[world.problem("hd_housing").code] == \
        "开工 2022-10-08 逾期未完成；完工 2022-10-20 未到期"
    assert not stones[world.problem("lz_education").code]
    duties = _sheet(book, "常态化工作")
    assert duties[0][:5] == ["常态化工作", "频次", "责任单位", "应完成日", "状态"]
    done = [r for r in duties[1:] if r[4] == "已完成"]
    assert [(r[2], r[6]) for r in done] == [("槐店回族镇东关社区", "王主任（县级办公室）")]
    assert {r[1] for r in duties[1:]} == {"每周五"}


def test_the_web_export_keeps_each_units_own_duties(friday: World, client_for: Any) -> None:
    import io

    world = friday
    for user, town in (("town_hd", "槐店回族镇"), ("town_lz", "刘庄店镇")):
        client, _ = client_for(user)
        r = client.get(f"/ledger.xlsx?campaign={world.campaign_id}&status=")
        assert r.status_code == 200
        book = load_workbook(io.BytesIO(r.content), read_only=True)
        duties = _sheet(book, "常态化工作")[1:]
        assert duties and all(str(row[2]).startswith(town) for row in duties), (user, duties)
        ledger = _sheet(book, "问题台账")
        assert "整改节点" in ledger[1]
    office, _ = client_for("off_jyj")
    book = load_workbook(io.BytesIO(office.get(
        f"/ledger.xlsx?campaign={world.campaign_id}&status=").content), read_only=True)
    assert _sheet(book, "常态化工作")[1:] == []  # 教育局 has no recurring duty


def test_cli_milestone_list_names_its_problem_and_reporter(friday: World) -> None:
    from click.testing import CliRunner

    from duban.cli import cli
    from duban.services.duties import reach_milestone

    world = friday
    code = world.problem("hd_housing").code
    with world.db.unit_of_work() as uow:
        reach_milestone(uow, world.clock, world.campaign_id, code, "开工", by="off_zjj",
                        note="已开工")
        uow.commit()

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, obj=world.db, args=[
            "--now", "2022-10-14T18:00", "milestone", "list", *args,
            "--campaign", str(world.campaign_id)])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    listed = run(code)
    assert "开工" in listed and "逾期完成" in listed and "住建局刘科长（县住建局）" in listed
    plain = world.problem("lz_education").code
    assert f"问题 {plain} 没有整改节点。" in run(plain)
