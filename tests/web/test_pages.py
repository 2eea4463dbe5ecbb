"""The pages at work: the lifecycle through the forms, evidence, extensions, substitutes, bulk
reassignment, plan upload with its errors, imports, the ledger's filters and export, the
dashboard's colours, and the API's moves."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from duban.domain.columns import HOUSEHOLD_COLUMNS
from models import AuditEvent, Evidence
from tests.conftest import PLANS, ROOT
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 200


def flash(client: TestClient, response: Any) -> str:
    """The flash message the redirect left, as the next page shows it; a refused move's
    page is drawn again at once (400/403/409) with the reason at its top."""
    if response.status_code in (400, 403, 409):
        page = response.text
    else:
        assert response.status_code == 303, response.text[:300]
        page = client.get(response.headers["location"]).text
    match = re.search(r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no flash message"
    return f"{match.group(1)}:{match.group(2).strip()}"


def move(client: TestClient, csrf: str, pid: int, action: str, **fields: Any) -> str:
    files = fields.pop("files", None)
    data = {"csrf_token": csrf, "action": action, **{k: str(v) for k, v in fields.items()}}
    r = client.post(f"/problems/{pid}/move", data=data, files=files, follow_redirects=False)
    return flash(client, r)


def trail(world: World, pid: int) -> list[tuple[str, str]]:
    with world.db.transaction() as s:
        return [(e.action, e.actor) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.problem_id == pid).order_by(AuditEvent.id))]


def test_a_problem_from_routed_to_closed_and_reopened_through_the_forms(
        world: World, client_for: Clients) -> None:
    pid = world.problems["hd_housing"]
    office, office_csrf = client_for("off_zjj")
    sup, sup_csrf = client_for("sup")
    county, county_csrf = client_for("county")

    assert move(office, office_csrf, pid, "accept", note="已签收").startswith("ok:")
    # Submitting without evidence is refused by the lifecycle, in Chinese.
    assert "须上传佐证资料" in move(office, office_csrf, pid, "submit", note="已整改")
    # A file that is not what it claims is refused by content.
    refused = move(office, office_csrf, pid, "submit", note="已整改",
                   files=[("after", ("photo.jpg", b"MZ\x90\x00 not an image"))])
    assert refused.startswith("error:") and "photo.jpg" in refused
    assert world.problem("hd_housing").status == "rectifying"
    ok = move(office, office_csrf, pid, "submit", note="已加固屋面并更换瓦片",
              files=[("before", ("整改前.png", PNG)), ("after", ("整改后.jpg", JPEG))])
    assert ok.startswith("ok:"), ok
    assert world.problem("hd_housing").status == "submitted"
    with world.db.transaction() as s:
        phases = sorted(s.scalars(select(Evidence.phase).where(Evidence.problem_id == pid)))
    assert phases == ["after", "before"]

    # The submitter cannot review their own work; the supervisor fails it with a deadline.
    page = office.get(f"/problems/{pid}").text
    assert 'value="pass_review"' not in page
    failed = move(sup, sup_csrf, pid, "fail_review", note="瓦片未铺完", deadline="2022-10-10")
    assert failed.startswith("ok:"), failed
    assert world.problem("hd_housing").deadline == dt.date(2022, 10, 10)
    assert move(office, office_csrf, pid, "submit", note="已铺完",
                files=[("after", ("补拍.jpg", JPEG + b"2"))]).startswith("ok:")
    assert move(sup, sup_csrf, pid, "pass_review", note="现场核实").startswith("ok:")
    assert move(county, county_csrf, pid, "close", note="同意销号").startswith("ok:")
    assert world.problem("hd_housing").status == "closed"

    # The page shows the evidence before and after, side by side, and the whole timeline.
    page = county.get(f"/problems/{pid}").text
    # Each submission round apart, the newest (after the failed review) first and marked.
    newest = page.split('id="round-2"')[1].split('id="round-1"')[0]
    assert "补拍.jpg" in newest and "最新" in newest and "整改前.png" not in newest
    first = page.split('id="round-1"')[1].split("列入的通知书")[0]
    before, after = first.split("<h4>整改前</h4>")[1].split("<h4>整改后</h4>")
    assert "整改前.png" in before and "整改后.jpg" in after and "补拍.jpg" not in after
    for label in ("签收", "提交整改", "复核不通过", "复核通过", "销号"):
        assert label in page
    evidence_id = int(re.search(r'/evidence/(\d+)"', page).group(1))  # type: ignore[union-attr]
    image = county.get(f"/evidence/{evidence_id}")
    assert image.status_code == 200 and image.headers["content-type"] in {"image/png",
                                                                         "image/jpeg"}
    assert move(sup, sup_csrf, pid, "reopen", note="抽查发现屋面仍漏雨",
                deadline="2022-10-14").startswith("ok:")
    assert world.problem("hd_housing").reopen_count == 1
    assert trail(world, pid)[2:] == [
        ("accept", "off_zjj"), ("submit", "off_zjj"), ("upload_evidence", "off_zjj"),
        ("fail_review", "sup"), ("submit", "off_zjj"), ("upload_evidence", "off_zjj"),
        ("pass_review", "sup"), ("close", "county"), ("reopen", "sup")]


def test_a_stale_form_is_refused(world: World, client_for: Clients) -> None:
    pid = world.problems["lz_education"]
    office, csrf = client_for("off_jyj")
    version = world.problem("lz_education").version
    assert move(office, csrf, pid, "accept", version=version).startswith("ok:")
    stale = move(office, csrf, pid, "dispute", note="不属本局职责", version=version)
    assert stale.startswith("error:") and "已被他人修改" in stale
    assert world.problem("lz_education").status == "rectifying"


def test_extension_requested_and_approved(world: World, client_for: Clients) -> None:
    pid = world.problems["lz_housing"]
    office, office_csrf = client_for("off_zjj")
    county, county_csrf = client_for("county")
    move(office, office_csrf, pid, "accept")
    early = move(office, office_csrf, pid, "request_extension", note="材料未到",
                 deadline="2022-10-01")
    assert "须晚于原时限" in early
    assert move(office, office_csrf, pid, "request_extension", note="建材供应延迟",
                deadline="2022-10-28").startswith("ok:")
    page = county.get(f"/problems/{pid}").text
    assert 'value="2022-10-28"' in page  # the approval form proposes the requested date
    assert move(county, county_csrf, pid, "approve_extension", note="同意").startswith("ok:")
    p = world.problem("lz_housing")
    assert (p.status, p.deadline) == ("rectifying", dt.date(2022, 10, 28))


def test_substitute_lets_another_office_act(world: World, client_for: Clients) -> None:
    county, county_csrf = client_for("county")
    r = county.post("/people/substitutes", data={
        "csrf_token": county_csrf, "username": "off_jyj", "office": "zjj",
        "starts_on": "2022-09-26", "ends_on": "2022-10-10", "reason": "刘科长外出学习"},
        follow_redirects=False)
    assert flash(county, r).startswith("ok:")
    stand_in, csrf = client_for("off_jyj")
    pid = world.problems["hd_housing"]
    assert stand_in.get(f"/problems/{pid}").status_code == 200
    assert move(stand_in, csrf, pid, "accept", note="代理签收").startswith("ok:")
    assert trail(world, pid)[-1] == ("accept", "off_jyj")


def test_bulk_reassign_from_the_ledger(world: World, client_for: Clients) -> None:
    county, csrf = client_for("county")
    ids = [world.problems["hd_housing"], world.problems["lz_housing"]]
    ledger = county.get(f"/ledger?campaign={world.campaign_id}").text
    assert 'name="id"' in ledger and "批量办理" in ledger
    r = county.post("/problems/bulk", data={"csrf_token": csrf, "id": [str(i) for i in ids],
                                            "action": "reassign", "office": "mzj",
                                            "note": "按职责调整"}, follow_redirects=False)
    assert flash(county, r) == "ok:批量改派：成功 2 个"
    assert {world.problem(n).lead_office for n in ("hd_housing", "lz_housing")} == {"mzj"}
    # Without a note the lifecycle refuses each, and says so.
    r = county.post("/problems/bulk", data={"csrf_token": csrf, "id": [str(i) for i in ids],
                                            "action": "reassign", "office": "zjj"},
                    follow_redirects=False)
    assert r.status_code == 400 and "未办理 2 个" in r.text  # the ledger again, choices kept


def test_plan_upload_shows_every_validation_error(world: World, client_for: Clients) -> None:
    county, csrf = client_for("county")
    bad = (ROOT / "tests/data/plans/ten-mistakes.yaml").read_bytes()
    r = county.post("/campaigns", data={"csrf_token": csrf},
                    files={"plan": ("ten-mistakes.yaml", bad)})
    assert r.status_code == 422
    rows = re.findall(r"<tr><td class=\"num\">\d+</td>", r.text)
    assert len(rows) >= 10
    assert "未启动行动" in r.text and "<code>" in r.text
    good = (PLANS / "seed-000-canggou-2020.yaml").read_bytes()
    r = county.post("/campaigns", data={"csrf_token": csrf},
                    files={"plan": ("seed-000.yaml", good)}, follow_redirects=False)
    assert flash(county, r).startswith("ok:行动已启动")
    api = county.get("/api/campaigns").json()
    assert len(api) == 2


def _households_xlsx(rows: list[dict[str, object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(list(HOUSEHOLD_COLUMNS))
    for row in rows:
        ws.append([row.get(h) for h in HOUSEHOLD_COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_imports_show_the_error_report_or_the_result(world: World, client_for: Clients,
                                                     tmp_path: Path) -> None:
    county, csrf = client_for("county")
    row = {"乡镇": "槐店回族镇", "村": "东关社区", "户编号": "HD0001", "户主姓名": "张三",
           "家庭人口": 4, "农户类别": "一般户", "监测对象类型": "", "年人均纯收入（元）": 8200,
           "住房安全等级": "B", "是否通自来水": "是", "适龄儿童数": 1, "失学辍学儿童数": 0,
           "是否参加基本医疗保险": "是", "是否有卫生厕所": "是"}
    bad = [row, {**row, "户编号": "HD0002", "村": "不存在村", "家庭人口": "很多"}]
    r = county.post("/imports", data={"csrf_token": csrf, "kind": "households",
                                      "campaign": str(world.campaign_id)},
                    files={"file": ("农户.xlsx", _households_xlsx(bad))})
    assert r.status_code == 422
    assert "未写入任何数据" in r.text and "不存在村" in r.text
    link = re.search(r'href="(/imports/errors/[0-9a-f]+)"', r.text)
    assert link
    copy = county.get(link.group(1))
    assert copy.status_code == 200 and copy.content[:2] == b"PK"
    other, _ = client_for("sup")
    assert other.get(link.group(1)).status_code == 404  # one user's copy is theirs only
    r = county.post("/imports", data={"csrf_token": csrf, "kind": "households",
                                      "campaign": str(world.campaign_id)},
                    files={"file": ("农户.xlsx", _households_xlsx([row]))})
    assert r.status_code == 200 and "导入完成" in r.text and "新增 1" in r.text
    template = county.get(f"/templates/households.xlsx?campaign={world.campaign_id}")
    assert template.status_code == 200
    headers = next(load_workbook(io.BytesIO(template.content)).active.iter_rows(
        values_only=True))
    assert "户编号" in headers


def test_ledger_filters_search_sort_page_and_export(world: World, client_for: Clients) -> None:
    county, _ = client_for("county")
    cid = world.campaign_id
    api = county.get(f"/api/problems?campaign={cid}&town=liuzhuangdian").json()
    assert api["total"] == 2
    api = county.get(f"/api/problems?campaign={cid}&category=education").json()
    assert [p["description"] for p in api["items"]] == ["适龄儿童辍学未劝返"]
    api = county.get(f"/api/problems?campaign={cid}&q=危房").json()
    assert api["total"] == 2
    code = world.problem("lz_housing").code
    assert county.get(f"/api/problems?campaign={cid}&q={code}").json()["total"] == 1
    api = county.get(f"/api/problems?campaign={cid}&q=100%25").json()
    assert api["total"] == 0  # LIKE wildcards in the search are literal
    codes = [p["code"] for p in county.get(
        f"/api/problems?campaign={cid}&sort=code&desc=true").json()["items"]]
    assert codes == sorted(codes, reverse=True)
    bad = county.get(f"/api/problems?campaign={cid}&page=0")
    assert bad.status_code == 422
    assert bad.json()["error"] == "请求参数有误：参数“页码”应不小于 1"
    assert "Input should" not in county.get(f"/ledger?campaign={cid}&page=x").text
    first = county.get(f"/api/problems?campaign={cid}&sort=code&per_page=2&page=1").json()
    second = county.get(f"/api/problems?campaign={cid}&sort=code&per_page=2&page=2").json()
    assert first["total"] == 3 and len(first["items"]) == 2 and len(second["items"]) == 1
    page = county.get(f"/ledger?campaign={cid}&office=zjj")
    assert page.status_code == 200 and "共 2 条" in page.text
    export = county.get(f"/ledger.xlsx?campaign={cid}&office=zjj")
    assert export.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))
    assert rows[1][0] == "问题编号" and len(rows) == 2 + 2
    assert {r[9] for r in rows[2:]} == {"县住建局"}


def test_dashboard_colours_follow_the_reminder_ladder(world: World,
                                                      client_for: Clients) -> None:
    county, _ = client_for("county")
    cid = world.campaign_id
    board = county.get(f"/api/campaigns/{cid}/dashboard").json()
    assert board["total"]["bands"] == {"on_time": 3}
    # Seed 002's deadline is 2022-10-20; its ladder turns yellow 3 and red 7 working days on.
    # (Each jump of the clock outlives the session, so each look signs in afresh.)
    expected = {(2022, 10, 21): {"overdue": 3}, (2022, 10, 26): {"yellow": 3},
                (2022, 11, 1): {"red": 3}}
    for (y, m, d), bands in expected.items():
        world.clock.set(dt.datetime(y, m, d, 9, 0, tzinfo=world.clock.now().tzinfo))
        county, _ = client_for("county")
        board = county.get(f"/api/campaigns/{cid}/dashboard").json()
        assert board["total"]["bands"] == bands, (y, m, d)
    assert board["total"]["overdue"] == 3
    red = county.get(f"/api/problems?campaign={cid}&band=red").json()
    assert red["total"] == 3
    html = county.get(f"/?campaign={cid}").text
    assert "红色预警" in html and "等待谁办理" in html
    waiting = county.get(f"/api/waiting?campaign={cid}").json()
    assert waiting["total"] == 3 and {i["step"] for i in waiting["items"]} == {"签收"}


def test_the_api_moves_and_reports_errors_as_json(world: World, client_for: Clients) -> None:
    office, csrf = client_for("off_jyj")
    pid = world.problems["lz_education"]
    r = office.post(f"/api/problems/{pid}/moves", json={"action": "accept"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["status"] == "rectifying"
    hashes = office.post(f"/api/problems/{pid}/evidence", data={"phase": "after"},
                         files=[("files", ("a.png", PNG))], headers={"X-CSRF-Token": csrf})
    assert hashes.status_code == 200, hashes.text
    r = office.post(f"/api/problems/{pid}/moves", json={
        "action": "submit", "note": "已劝返复学", "evidence": hashes.json()},
        headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    r = office.post(f"/api/problems/{pid}/moves", json={"action": "close"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 409 and "不能执行「销号」" in r.json()["error"]
    detail = office.get(f"/api/problems/{pid}").json()
    assert [e["action"] for e in detail["events"]][-3:] == ["accept", "upload_evidence",
                                                            "submit"]
    assert detail["evidence"][0]["filename"] == "a.png"
    docs = office.get("/api/openapi.json").json()
    assert "/api/problems/{problem_id}/moves" in docs["paths"]
    assert office.get("/api/docs").status_code == 200


def test_the_api_problem_detail_is_the_page_view(world: World, client_for: Clients) -> None:
    """The API builds its problem detail from the page's view: the same events, evidence,
    notices and ledger row, field for field."""
    from pydantic import TypeAdapter

    from duban.domain.clock import local_today
    from duban.services.notices.issuing import issue_notices
    from duban.services.scoping import scope_for
    from duban.services.views.detail import problem_detail

    office, csrf = client_for("off_jyj")
    pid = world.problems["lz_education"]
    world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                 batch_key="detail")
    assert office.post(f"/api/problems/{pid}/moves", json={"action": "accept"},
                       headers={"X-CSRF-Token": csrf}).status_code == 200
    hashes = office.post(f"/api/problems/{pid}/evidence", data={"phase": "after"},
                         files=[("files", ("a.png", PNG))], headers={"X-CSRF-Token": csrf})
    assert hashes.status_code == 200, hashes.text
    api = office.get(f"/api/problems/{pid}").json()
    today = local_today(world.clock)

    def jsonable_encoder(value: object) -> Any:
        return TypeAdapter(type(value)).dump_python(value, mode="json")

    with world.db.transaction() as s:
        view = problem_detail(s, scope_for(s, "off_jyj", today), pid, today)
    assert api["events"] == jsonable_encoder(view.events) and len(api["events"]) == 4  # …, the upload
    assert api["evidence"] == jsonable_encoder(view.evidence) and len(api["evidence"]) == 1
    assert set(api["evidence"][0]) == {"id", "problem_id", "sha256", "filename",
                                       "content_type", "size", "phase", "uploaded_by",
                                       "uploaded_at", "round"}
    assert api["notices"] == jsonable_encoder(view.notices) and api["notices"]
    row = view.problem
    assert api["problem"]["town"] == row.town_code == "liuzhuangdian"
    assert api["problem"]["village"] == row.village_code
    assert {k: v for k, v in api["problem"].items() if k not in ("town", "village")} == \
        {k: v for k, v in jsonable_encoder(row).items() if k not in ("town_code", "village_code")}


def test_the_ledger_opens_on_pending_items(world: World, client_for: Clients) -> None:
    county, csrf = client_for("county")
    pid = world.problems["lz_education"]
    assert move(county, csrf, pid, "void", note="重复登记").startswith("ok:")
    cid = world.campaign_id
    assert "共 2 条" in county.get(f"/ledger?campaign={cid}").text
    everything = county.get(f"/ledger?campaign={cid}&status=").text
    assert "共 3 条" in everything and world.problem("lz_education").code in everything
    api = county.get(f"/api/problems?campaign={cid}&pending=true").json()
    assert api["total"] == 2 and pid not in {p["id"] for p in api["items"]}


def test_spot_checks_are_drawn_and_a_failed_one_reopens_its_problem(
        world: World, client_for: Clients) -> None:
    from duban.domain.lifecycle import Action, Payload
    from duban.services import moves
    from tests.support import photo

    pid = world.problems["hd_housing"]
    db, clock = world.db, world.clock
    db.run(moves.apply, clock, "off_zjj", pid, Action.ACCEPT, Payload())
    db.run(moves.apply, clock, "off_zjj", pid, Action.SUBMIT, Payload(note="已整改"),
                files=[photo()])
    db.run(moves.apply, clock, "sup", pid, Action.PASS_REVIEW, Payload())
    db.run(moves.apply, clock, "county", pid, Action.CLOSE, Payload())
    county, csrf = client_for("county")
    cid = world.campaign_id
    r = county.post("/spotchecks/draw", data={"csrf_token": csrf, "campaign": str(cid)},
                    follow_redirects=False)
    assert flash(county, r).startswith("ok:已抽取今日随机抽查")
    sup, sup_csrf = client_for("sup")
    page = sup.get(f"/spotchecks?campaign={cid}").text
    code = world.problem("hd_housing").code
    assert code in page
    check_id = int(re.search(r'action="/spotchecks/(\d+)"', page).group(1))  # type: ignore[union-attr]
    r = sup.post(f"/spotchecks/{check_id}", data={"csrf_token": sup_csrf, "campaign": str(cid),
                                                   "result": "failed"}, follow_redirects=False)
    assert "须填写原因" in flash(sup, r)
    r = sup.post(f"/spotchecks/{check_id}", data={"csrf_token": sup_csrf, "campaign": str(cid),
                                                   "result": "failed", "note": "屋面仍漏雨"},
                 follow_redirects=False)
    assert flash(sup, r).startswith("ok:已记录抽查结果")
    p = world.problem("hd_housing")
    assert (p.status, p.reopen_count) == ("rectifying", 1)
    assert trail(world, pid)[-1] == ("reopen", "sup")


def test_the_ranking_page_shows_its_month_its_rule_and_towns_without_problems(
        world: World, client_for: Clients) -> None:
    county, _ = client_for("county")
    page = county.get(f"/ranking?campaign={world.campaign_id}&month=2022-09").text
    assert "本页是 <strong>2022年9月</strong> 的考评" in page
    assert re.search(r'<option value="2022-09"[^>]* selected>2022年9月', page)
    assert "评定规则：得分相同的并列同一名次" in page
    quiet = re.search(r"<h3>本月无问题（不参加排名）</h3><p>([^<]+)</p>", page)
    assert quiet and "槐店回族镇" not in quiet.group(1) and "北城办事处" in quiet.group(1)
    ranked = re.findall(r'<td data-label="乡镇">([^<]+)</td>', page)
    assert sorted(ranked) == ["刘庄店镇", "槐店回族镇"]
    assert '<th class="num">名次</th><th>乡镇</th>' in page
    # Tied first, both: neither commended nor named last, and the cell says so (not blank).
    results = re.findall(r'<td data-label="结果">(.*?)</td>', page)
    assert results == ['<span class="muted">—</span>'] * 2


def test_the_village_menu_shows_only_what_a_village_may_do(world: World,
                                                           client_for: Clients) -> None:
    village, _ = client_for("vil_hd1")
    nav = village.get(f"/?campaign={world.campaign_id}").text.split('aria-label="主菜单"')[1]
    nav = nav.split("</nav>")[0]
    assert "问题台账" in nav and "通知书" in nav
    assert "/imports" not in nav and "/campaigns" not in nav
    town, _ = client_for("town_hd")
    assert "/imports" in town.get(f"/?campaign={world.campaign_id}").text


def test_the_tick_names_its_stages_in_chinese() -> None:
    from duban.cli.serve import _stage_label

    assert [_stage_label(k) for k in ("investigate", "rectify", "review")] == [
        "排查", "整改", "复核提升"]


def test_people_page_asks_before_disabling(world: World, client_for: Clients) -> None:
    county, _ = client_for("county")
    page = county.get(f"/people?campaign={world.campaign_id}").text
    forms = re.findall(r'<form method="post" action="/people/users/([^/"]+)/active"[^>]*>', page)
    assert forms
    assert all("data-confirm=\"停用 " in f for f in re.findall(
        r'<form method="post" action="/people/users/[^"]+/active"[^>]*>', page))
