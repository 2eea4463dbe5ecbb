"""A refused form keeps what was typed, beyond the problem page (issue 14).

The inbox's duty report (办理), the notices page's 签收 and the ledger's bulk form: a refusal
draws the same page again with the reason beside the form, the note, choices and ticked
problems as sent, the chosen files named to choose again, and nothing written.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from duban.services.calendars import working_calendar
from duban.services.duties import create_occurrences
from duban.services.notices.issuing import issue_notices
from duban.services.notices.receipts import acknowledge_notice
from models import AuditEvent, DutyOccurrence, NoticeReceipt
from tests.web.conftest import World
from tests.web.test_kept_input import Clients

NOTE = "已走访 12 户，\n其中 2 户不在家"


def _audit_count(world: World) -> int:
    with world.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_a_refused_duty_report_keeps_the_note_and_names_the_files(
        world: World, client_for: Clients) -> None:
    with world.db.unit_of_work() as uow:
        create_occurrences(uow, world.clock, world.campaign_id, working_calendar())
        uow.commit()
    with world.db.unit_of_work() as uow:
        mine = uow.session.scalars(select(DutyOccurrence).where(
            DutyOccurrence.office_code == "gov-huaidian").order_by(DutyOccurrence.id)).first()
        assert mine is not None
        target = mine.id
    town, csrf = client_for("off_gov_hd")
    page = town.get(f"/inbox?campaign={world.campaign_id}").text
    form = re.search(rf'<form[^>]*id="duty-{target}".*?</form>', page, re.S)
    assert form and "至少填一项" in form.group(0) and 'class="req"' in form.group(0)
    r = town.post(f"/duties/{target}/done", data={
        "csrf_token": csrf, "campaign": str(world.campaign_id), "note": NOTE},
        files=[("files", ("走访记录.jpg", b"MZ\x90\x00 not an image"))],
        follow_redirects=False)
    assert r.status_code == 400, r.status_code
    form = re.search(rf'<form[^>]*id="duty-{target}".*?</form>', r.text, re.S)
    assert form, r.text[:500]
    body = form.group(0)
    assert 'class="form-error"' in body and "走访记录.jpg" in body and "请重新选择" in body
    assert 'value="已走访 12 户，\n其中 2 户不在家"' in body or "已走访 12 户" in body
    assert f'href="#duty-{target}"' in r.text
    with world.db.unit_of_work() as uow:
        row = uow.session.get(DutyOccurrence, target)
        assert row is not None and row.status != "done" and not row.evidence
    # Not this unit's duty: refused by name, and the note is quoted above the list.
    other, other_csrf = client_for("off_zjj")
    r = other.post(f"/duties/{target}/done", data={
        "csrf_token": other_csrf, "campaign": str(world.campaign_id), "note": "代为报告"},
        follow_redirects=False)
    assert r.status_code in (400, 403)
    assert "不能代为报告完成" in r.text and "代为报告" in r.text and "未提交" in r.text
    assert "gov-huaidian" not in r.text


def test_a_refused_acknowledgement_is_said_by_name_on_the_notices_page(
        world: World, client_for: Clients) -> None:
    issued = world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                          batch_key="kept")
    nid = next(n.id for n in issued if n.office_code == "zjj")
    office, csrf = client_for("off_zjj")
    page = office.get(f"/notices?campaign={world.campaign_id}").text
    assert f'id="ack-{nid}"' in page
    # Signed meanwhile (another tab, a colleague): refused on the page, by the signer's name.
    world.db.run(acknowledge_notice, world.clock, nid, "off_zjj")
    r = office.post(f"/notices/{nid}/ack", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 400, r.status_code
    assert "未能签收通知书" in r.text and "住建局刘科长" in r.text and "<h1>通知书</h1>" in r.text
    assert "已由 off_zjj" not in r.text
    # The campaign picker of a page drawn after a POST reloads the list, not the POST's URL.
    assert 'class="campaign-pick" method="get" action="/notices"' in r.text
    with world.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(NoticeReceipt).where(
            NoticeReceipt.notice_id == nid)) == 1
    assert world.problem("hd_housing").status == "routed"  # the box was not ticked: none signed
    # Another office's notice: refused by the office's and the person's names.
    other = next(n.id for n in issued if n.office_code == "jyj")
    county, county_csrf = client_for("county")
    r = county.post(f"/notices/{other}/ack", data={"csrf_token": county_csrf, "accept": "1"},
                    follow_redirects=False)
    assert r.status_code == 403
    assert "主送县教育局" in r.text or "教育局" in r.text
    assert "主送 jyj" not in r.text and "王主任" in r.text


def test_a_refused_bulk_move_keeps_the_ticked_problems_and_the_note(
        world: World, client_for: Clients) -> None:
    county, csrf = client_for("county")
    ids = [world.problems["hd_housing"], world.problems["lz_education"]]
    back = f"/ledger?campaign={world.campaign_id}&status="
    page = county.get(back).text
    assert re.search(r'<select name="action" required>', page)
    before = _audit_count(world)
    # Closing problems still being rectified: refused for each, the choices kept.
    r = county.post("/problems/bulk", data={
        "csrf_token": csrf, "id": [str(i) for i in ids], "action": "close", "office": "jyj",
        "note": "集中销号，见会议纪要", "back": back}, follow_redirects=False)
    assert r.status_code == 400, r.status_code
    for pid in ids:
        assert re.search(rf'name="id" value="{pid}"[^>]*checked', r.text), pid
    assert not re.search(rf'name="id" value="{world.problems["lz_housing"]}"[^>]*checked',
                         r.text)
    fieldset = re.search(r'<fieldset[^>]*id="bulk-fieldset".*?</fieldset>', r.text, re.S)
    assert fieldset
    body = fieldset.group(0)
    assert '<option value="close" selected>' in body and '<option value="jyj" selected>' in body
    assert 'value="集中销号，见会议纪要"' in body and "未办理 2 个" in body
    assert f'name="back" value="{back}"' in r.text.replace("&amp;", "&")
    assert _audit_count(world) == before
    assert world.problem("hd_housing").status == "routed"
    assert 'class="campaign-pick" method="get" action="/ledger"' in r.text
