"""A refused form keeps what was typed (issue 14, "nothing lost on a refusal").

The problem page's move forms: a refusal draws the page again with that form open, the note,
office and deadline as sent, the reason beside the form and the chosen files named; every
required field is marked and carries `required`, the photo input included, so the browser
refuses before sending and keeps the chosen files.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from duban.domain.lifecycle import Action, Payload
from duban.services import moves
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]

NOTE = "已加固屋面，更换瓦片 120 片；\n户主签字确认"


def form_of(page: str, action: str) -> str:
    """The <details> of one move's form."""
    match = re.search(rf'<details[^>]*id="form-{action}".*?</details>', page, re.S)
    assert match, f"no form for {action}"
    return match.group(0)


def textarea(form: str) -> str:
    match = re.search(r"<textarea[^>]*>(.*?)</textarea>", form, re.S)
    assert match
    return html.unescape(match.group(1))


def test_a_submission_without_its_photo_keeps_the_note_and_the_form_open(
        world: World, client_for: Clients) -> None:
    pid = world.problems["hd_housing"]
    world.db.run(moves.apply, world.clock, "off_zjj", pid, Action.ACCEPT, Payload())
    office, csrf = client_for("off_zjj")
    version = world.problem("hd_housing").version
    r = office.post(f"/problems/{pid}/move", data={
        "csrf_token": csrf, "action": "submit", "version": str(version), "note": NOTE},
        follow_redirects=False)
    assert r.status_code in (400, 403), r.status_code
    form = form_of(r.text, "submit")
    assert "<details" in form and " open>" in form.split(">")[0] + ">"
    assert textarea(form) == NOTE
    assert "须上传佐证资料" in form and 'class="form-error"' in form
    assert 'href="#form-submit"' in r.text  # the top of the page points to the kept form
    assert world.problem("hd_housing").status == "rectifying"
    # A file refused by its content: the note again, and the files named to choose again.
    r = office.post(f"/problems/{pid}/move", data={
        "csrf_token": csrf, "action": "submit", "version": str(version), "note": NOTE},
        files=[("after", ("屋面.jpg", b"MZ\x90\x00 not an image")),
               ("before", ("漏雨.png", b"not a png"))], follow_redirects=False)
    assert r.status_code in (400, 403), r.status_code
    form = form_of(r.text, "submit")
    assert textarea(form) == NOTE
    assert "请重新选择" in form and "漏雨.png" in form and "屋面.jpg" in form
    assert world.problem("hd_housing").status == "rectifying"
    # Nothing of the refusals was written: the first real submission is round 1.
    ok = office.post(f"/problems/{pid}/move", data={
        "csrf_token": csrf, "action": "submit", "version": str(version), "note": NOTE},
        files=[("after", ("整改后.png", PNG))], follow_redirects=False)
    assert ok.status_code == 303
    assert world.problem("hd_housing").status == "submitted"


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def test_a_refused_extension_keeps_its_date_and_reason(world: World,
                                                        client_for: Clients) -> None:
    pid = world.problems["lz_education"]
    world.db.run(moves.apply, world.clock, "off_jyj", pid, Action.ACCEPT, Payload())
    office, csrf = client_for("off_jyj")
    r = office.post(f"/problems/{pid}/move", data={
        "csrf_token": csrf, "action": "request_extension", "note": "学生家长外出务工",
        "deadline": "2022-09-01"}, follow_redirects=False)
    assert r.status_code in (400, 403), r.status_code
    form = form_of(r.text, "request_extension")
    assert textarea(form) == "学生家长外出务工"
    assert 'name="deadline" value="2022-09-01"' in form


def test_a_refused_reassignment_keeps_the_chosen_office(world: World,
                                                        client_for: Clients) -> None:
    pid = world.problems["hd_housing"]
    county, csrf = client_for("county")
    version = world.problem("hd_housing").version
    world.db.run(moves.apply, world.clock, "off_zjj", pid, Action.ACCEPT, Payload())
    # The form was drawn before the office signed for it: stale, and kept.
    r = county.post(f"/problems/{pid}/move", data={
        "csrf_token": csrf, "action": "reassign", "note": "应由教育局办理", "office": "jyj",
        "version": str(version)}, follow_redirects=False)
    assert r.status_code == 409
    form = form_of(r.text, "reassign")
    assert textarea(form) == "应由教育局办理"
    assert re.search(r'<option value="jyj" selected>', form)


def test_a_kept_note_of_a_move_no_longer_offered_is_quoted(world: World,
                                                           client_for: Clients) -> None:
    pid = world.problems["lz_education"]
    office, csrf = client_for("off_jyj")
    version = world.problem("lz_education").version
    world.db.run(moves.apply, world.clock, "off_jyj", pid, Action.DISPUTE,
                 Payload(note="不属本局"))
    r = office.post(f"/problems/{pid}/move", data={
        "csrf_token": csrf, "action": "dispute", "note": "此事应由住建局办理",
        "version": str(version)}, follow_redirects=False)
    assert r.status_code in (403, 409)
    assert "此事应由住建局办理" in r.text and "未提交" in r.text


def test_every_required_field_is_marked_before_sending(world: World,
                                                        client_for: Clients) -> None:
    pid = world.problems["hd_housing"]
    world.db.run(moves.apply, world.clock, "off_zjj", pid, Action.ACCEPT, Payload())
    seen = 0
    for user in ("off_zjj", "county"):
        client, _ = client_for(user)
        page = client.get(f"/problems/{pid}").text
        for label in re.findall(r"<label>.*?</label>", page, re.S):
            control = re.search(r"<(input|select|textarea)\b[^>]*>", label)
            if control and re.search(r"\brequired\b", control.group(0)):
                seen += 1
                assert 'class="req"' in label, label[:200]
            elif control:
                assert 'class="req"' not in label, label[:200]
    # The photo input of the submission is among them.
    office, _ = client_for("off_zjj")
    submit = form_of(office.get(f"/problems/{pid}").text, "submit")
    assert re.search(r'<input type="file" name="after"[^>]*\brequired\b', submit)
    assert seen >= 4


def test_the_users_page_keeps_a_refused_substitute_and_reassignment(
        world: World, client_for: Clients) -> None:
    county, csrf = client_for("county")
    # The end before the start: refused, the page again with every field as typed.
    r = county.post("/people/substitutes", data={
        "csrf_token": csrf, "username": "off_jyj", "office": "zjj", "starts_on": "2022-10-10",
        "ends_on": "2022-10-01", "reason": "住建局刘科长外出学习"}, follow_redirects=False)
    assert r.status_code == 400
    form = re.search(r'<form[^>]*id="form-substitute".*?</form>', r.text, re.S)
    assert form, r.text[:500]
    body = form.group(0)
    assert "不能早于开始日期" in body
    assert '<option value="off_jyj" selected>' in body and '<option value="zjj" selected>' in body
    assert 'value="2022-10-10"' in body and 'value="2022-10-01"' in body
    assert 'value="住建局刘科长外出学习"' in body
    # The same office twice: refused without its code, the choices and the reason kept.
    r = county.post("/people/reassign", data={
        "csrf_token": csrf, "campaign": str(world.campaign_id), "from_office": "zjj",
        "to_office": "zjj", "note": "机构调整"}, follow_redirects=False)
    assert r.status_code == 400
    form = re.search(r'<form[^>]*id="form-reassign".*?</form>', r.text, re.S)
    assert form
    body = form.group(0)
    assert "原办室与新办室相同" in body and "zjj" not in re.sub(r'value="zjj"', "", body)
    assert body.count('<option value="zjj" selected>') == 2 and 'value="机构调整"' in body
    # Accepted: the message names the person and the office.
    r = county.post("/people/substitutes", data={
        "csrf_token": csrf, "username": "off_jyj", "office": "zjj", "starts_on": "2022-09-26",
        "ends_on": "2022-10-10", "reason": "外出学习"}, follow_redirects=False)
    assert r.status_code == 303
    page = county.get(r.headers["location"]).text
    assert "教育局陈科长" in page and "县住建局" in page
