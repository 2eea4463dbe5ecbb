"""Who receives a 督办通知书: lead offices, co-offices (own notice, 抄送 or nothing), towns."""

from __future__ import annotations

import dataclasses
import io

import docx
import pytest
from sqlalchemy import select

from duban.domain.clock import FixedClock
from duban.domain.plan import (
    CoOfficeNotice,
    CoOfficeNotices,
    NoticePolicy,
    Office,
    OfficeLevel,
    Plan,
    RoutingRule,
)
from duban.services.database import Database
from duban.services.messages import list_inbox
from duban.services.notices.issuing import issue_notices, offices_without_notice
from duban.services.notices.reading import list_notices, notice_file, notice_tally
from models import InboxMessage
from tests.orchestration.helpers import add_problems, launch, make_plan


def county_plan(**co: CoOfficeNotice) -> Plan:
    """Seed 002's shape: a department leads, 县医保局 and the problem's own town (各乡镇) help."""
    base = make_plan()
    return dataclasses.replace(
        base,
        offices=(*base.offices,
                 Office("ybj", "县医保局", OfficeLevel.COUNTY),
                 Office("gov-t1", "城关镇人民政府", OfficeLevel.TOWN, town="t1"),
                 Office("gov-t2", "河口乡人民政府", OfficeLevel.TOWN, town="t2")),
        routing=(
            RoutingRule("jhb", categories=("housing",), co_offices=("各乡镇", "各村")),
            RoutingRule("nyzx", categories=("water",), co_offices=("ybj", "各乡镇")),
        ),
        notices=NoticePolicy(co_offices=CoOfficeNotices(**co)) if co else NoticePolicy(),
    )


def _text(data: bytes) -> tuple[docx.document.Document, str]:
    """The document and all its text, text boxes (the 版记) included."""
    document = docx.Document(io.BytesIO(data))
    body = document.element.body
    texts = "".join(t.text or "" for t in body.iter(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"))
    return document, texts


def _table_rows(document: docx.document.Document) -> list[list[str]]:
    table = document.tables[-1]
    return [[c.text for c in row.cells] for row in table.rows[1:]]


def test_towns_get_their_own_notice_listing_every_item_they_help_with(
        db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock, county_plan(town=CoOfficeNotice.OWN))
    add_problems(db, clock, cid, 8, category="housing")  # t1, t1, t2, t1, t1, t2, t1, t1
    add_problems(db, clock, cid, 2, category="water", tag="水")  # t1, t1
    assert db.run(offices_without_notice, cid) == ["gov-t1", "gov-t2", "jhb", "nyzx"]
    notices = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    by_office = {n.office_code: n for n in notices}
    assert sorted(by_office) == ["gov-t1", "gov-t2", "jhb", "nyzx"]
    # Numbered in addressee order without gaps.
    assert [n.number for n in notices] == [f"测巩督〔2022〕{i}号" for i in range(1, 5)]
    # The town co-office gets every item of its town, housing and water: 6 + 2.
    assert len(by_office["gov-t1"].problem_ids) == 8
    assert len(by_office["gov-t2"].problem_ids) == 2
    assert len(by_office["jhb"].problem_ids) == 8
    # 县医保局 is a county co-office: copied (the default), named in nyzx's 抄送 line.
    assert by_office["nyzx"].copy_to == ("ybj",)
    assert by_office["jhb"].copy_to == ()

    document, text = _text(db.run(notice_file, by_office["gov-t1"].id))
    assert "城关镇人民政府：" in [p.text for p in document.paragraphs]
    assert "需你单位配合整改的问题共8个" in text
    rows = _table_rows(document)
    assert len(rows) == 8
    assert {r[-1].split("；")[0] for r in rows} == {"牵头：建环办", "牵头：农业服务中心"}
    assert any("配合：县医保局" in r[-1] for r in rows)  # the water items' other co-office
    assert "抄送" not in text

    _, lead_text = _text(db.run(notice_file, by_office["nyzx"].id))
    assert "抄送：县医保局。" in lead_text
    assert "需你单位牵头整改的问题共2个" in lead_text

    # Every responsible unit sees what concerns it in its inbox.
    inbox = {o: [m.subject for m in db.run(list_inbox, clock, [o])]
             for o in ("gov-t1", "gov-t2", "ybj", "jhb", "nyzx")}
    assert all(len(v) == 1 for v in inbox.values()), inbox
    assert inbox["ybj"][0].startswith("【抄送】测巩督〔2022〕4号")
    assert inbox["gov-t1"][0].startswith("【督办通知书】测巩督〔2022〕1号")
    assert [n.number for n in db.run(list_notices, cid, office="ybj")] == ["测巩督〔2022〕4号"]
    tally = db.run(notice_tally, cid, ["gov-t1"])
    assert (tally.addressed, tally.unacknowledged, tally.copied) == (1, 1, 0)
    assert (tally.lead_items, tally.co_items) == (0, 8)
    assert db.run(notice_tally, cid, ["ybj"]).copied == 1

    # A rerun and a new batch add nothing; nothing is left to notify.
    again = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert [n.number for n in again] == [n.number for n in notices]
    assert db.run(issue_notices, clock, cid, issued_by="county", batch_key="b2") == []
    assert db.run(offices_without_notice, cid) == []


def test_an_office_leading_some_items_and_helping_with_others_gets_one_notice(
        db: Database, clock: FixedClock) -> None:
    plan = county_plan(county=CoOfficeNotice.OWN)
    # 建环办 leads housing and helps 农业服务中心 with water.
    plan = dataclasses.replace(plan, routing=(
        RoutingRule("jhb", categories=("housing",)),
        RoutingRule("nyzx", categories=("water",), co_offices=("jhb",)),
    ))
    cid = launch(db, clock, plan)
    add_problems(db, clock, cid, 1, category="housing")
    add_problems(db, clock, cid, 8, category="water", tag="水")
    notices = {n.office_code: n for n in
               db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")}
    assert sorted(notices) == ["jhb", "nyzx"]
    assert len(notices["jhb"].problem_ids) == 9  # 1 led + 8 helped with, not 1
    document, text = _text(db.run(notice_file, notices["jhb"].id))
    assert "需你单位整改的问题共9个，其中牵头整改1个、配合整改8个" in text
    assert sum(1 for r in _table_rows(document) if r[-1] == "牵头：农业服务中心") == 8


@pytest.mark.parametrize("mode", [CoOfficeNotice.COPY, CoOfficeNotice.NONE])
def test_towns_copied_or_left_out_as_the_plan_says(
        db: Database, clock: FixedClock, mode: CoOfficeNotice) -> None:
    cid = launch(db, clock, county_plan(town=mode, county=CoOfficeNotice.NONE))
    add_problems(db, clock, cid, 3, category="housing")  # t1, t1, t2
    (notice,) = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert notice.office_code == "jhb"
    _, text = _text(db.run(notice_file, notice.id))
    with db.transaction() as s:
        kinds = sorted((m.office_code, m.kind) for m in s.scalars(select(InboxMessage)))
    if mode is CoOfficeNotice.COPY:
        assert notice.copy_to == ("gov-t1", "gov-t2")
        assert "抄送：城关镇人民政府，河口乡人民政府。" in text
        assert kinds == [("gov-t1", "notice_copied"), ("gov-t2", "notice_copied"),
                         ("jhb", "notice_issued")]
    else:
        assert notice.copy_to == ()
        assert "抄送" not in text
        assert kinds == [("jhb", "notice_issued")]


def test_a_late_problem_goes_to_its_town_on_the_next_notice(db: Database,
                                                            clock: FixedClock) -> None:
    cid = launch(db, clock, county_plan(town=CoOfficeNotice.OWN))
    add_problems(db, clock, cid, 2, category="housing")  # t1, t1
    first = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert [n.office_code for n in first] == ["gov-t1", "jhb"]
    add_problems(db, clock, cid, 3, category="housing", tag="新")  # t1, t1, t2
    later = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b2")
    assert [(n.office_code, len(n.problem_ids)) for n in later] == [
        ("gov-t1", 2), ("gov-t2", 1), ("jhb", 3)]
    assert [n.number for n in later] == ["测巩督〔2022〕3号", "测巩督〔2022〕4号",
                                         "测巩督〔2022〕5号"]


def test_a_notice_lists_each_problem_with_its_household_head_and_co_offices_in_code_order(
        db: Database, clock: FixedClock) -> None:
    """The 户主 and co-offices come with the listed rows (issue 17 item 6): a registered
    household shows its head, an unregistered one its id; co-offices in code order."""
    from models import Household

    cid = launch(db, clock, county_plan(town=CoOfficeNotice.OWN))
    add_problems(db, clock, cid, 2, category="water", tag="水")  # H00000, H00001 in t1

    def register(uow: object) -> None:
        uow.session.add(Household(  # type: ignore[attr-defined]
            campaign_id=cid, household_id="H00000", town_code="t1", village_code="v1",
            head="张大山", members=3, category="一般户", income_per_person=9000,
            house_grade="A", tap_water=True, school_age_children=0,
            children_out_of_school=0, medical_insurance=True, sanitary_toilet=True))
        uow.commit()  # type: ignore[attr-defined]

    db.run(register)
    notices = {n.office_code: n for n in db.run(issue_notices, clock, cid, issued_by="county",
                                                  batch_key="b1")}
    lead_rows = _table_rows(_text(db.run(notice_file, notices["nyzx"].id))[0])
    assert len(lead_rows) == 2
    head_row, id_row = sorted(lead_rows, key=lambda r: "张大山" not in r)
    assert "张大山" in head_row and "H00000" not in head_row
    assert "H00001" in id_row
    # nyzx's items are helped by gov-t1 (城关镇人民政府) and ybj (县医保局): code order.
    for row in lead_rows:
        helpers = row[-1]
        assert helpers.index("城关镇人民政府") < helpers.index("县医保局"), helpers
    town_rows = _table_rows(_text(db.run(notice_file, notices["gov-t1"].id))[0])
    assert [r[-1] for r in town_rows] == ["牵头：农业服务中心；配合：县医保局"] * 2
