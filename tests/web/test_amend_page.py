"""The amendment page: preview with errors named by field, a preview by name, a stale version
refused, applying with the version seen; the same service as `duban campaign amend`."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from models import Campaign, PlanVersion, Problem, ProblemCoOffice
from tests.conftest import PLANS
from tests.support import amended_routing, with_seed_004_quota
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]
SCOPE = PLANS / "seed-002-shenqiu-scope.csv"


def seed_002() -> str:
    return with_seed_004_quota((PLANS / "seed-002-shenqiu.yaml").read_text(encoding="utf-8"))


def amended() -> str:
    """Housing led by 县民政局 instead of 县住建局; 县财政局 helps with education."""
    return amended_routing(seed_002())


def preview(client: TestClient, csrf: str, cid: int, text: str) -> tuple[int, str]:
    r = client.post(f"/campaigns/{cid}/amend", data={"csrf_token": csrf},
                    files={"plan": ("新方案.yaml", text.encode()),
                           "scope_table": (SCOPE.name, SCOPE.read_bytes())})
    return r.status_code, r.text


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return html.unescape(match.group(1))


def test_preview_then_apply_with_the_version_seen(world: World, client_for: Clients) -> None:
    client, csrf = client_for("county")
    cid = world.campaign_id
    form = client.get(f"/campaigns/{cid}/amend")
    assert form.status_code == 200 and "现行方案第 1 版" in form.text
    assert f'href="/campaigns/{cid}/amend"' in client.get("/campaigns").text

    # A wire mistake and a change a running campaign cannot take: each names its field.
    status, page = preview(client, csrf, cid, seed_002().replace("basis: found", "basis: 收到"))
    assert status == 422 and "deadlines.basis" in page and "取值不认识：收到" in page
    status, page = preview(client, csrf, cid, seed_002().replace("notice_prefix: 沈巩督",
                                                                 "notice_prefix: 新督"))
    assert status == 422 and "notice_prefix" in page and "督办通知书文号前缀不能修改" in page
    assert "确认修订" not in page

    status, page = preview(client, csrf, cid, amended())
    assert status == 200, page[:2000]
    assert "改派 <strong>2</strong> 个" in page and "协办单位调整 <strong>1</strong> 个" in page
    shown = page[page.index('<section class="card preview"'):page.index("<form", page.index(
        '<section class="card preview"'))]
    assert "县住建局" in shown and "县民政局" in shown  # names, never codes
    assert "县财政局：新增协办" not in shown and "县财政局" in shown
    assert not re.search(r"\b(zjj|mzj|czj|jyj)\b", shown)
    assert hidden(page, "expect_version") == "1"
    text, scope = hidden(page, "plan_text"), hidden(page, "scope_data")
    assert text == amended() and scope
    with world.db.transaction() as s:
        assert s.scalar(select(Campaign.plan_version).where(Campaign.id == cid)) == 1

    apply = {"csrf_token": csrf, "plan_text": text, "scope_name": SCOPE.name,
             "scope_data": scope, "expect_version": "1", "note": "住房安全问题改由民政局牵头"}
    # Without a reason nothing happens, and the preview stays on the page.
    r = client.post(f"/campaigns/{cid}/amend/apply", data={**apply, "note": " "})
    assert r.status_code == 422 and "须写明修订原因" in r.text and "确认修订" in r.text
    r = client.post(f"/campaigns/{cid}/amend/apply", data=apply, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    done = client.get(r.headers["location"]).text
    assert "方案已修订：第 2 版生效。改派 2 个问题" in done and "调整协办单位 1 个" in done
    with world.db.transaction() as s:
        assert s.scalar(select(Campaign.plan_version).where(Campaign.id == cid)) == 2
        leads = {p.code: p.lead_office for p in s.scalars(select(Problem))}
        helpers = set(s.scalars(select(ProblemCoOffice.office_code).where(
            ProblemCoOffice.problem_id == world.problems["lz_education"])))
        note = s.scalar(select(PlanVersion.note).where(PlanVersion.version == 2))
    assert leads[world.problem("hd_housing").code] == "mzj"
    assert "czj" in helpers and note == "住房安全问题改由民政局牵头"

    # The same form again carries version 1: refused as stale, the preview shown anew (v2).
    r = client.post(f"/campaigns/{cid}/amend/apply", data=apply)
    assert r.status_code == 409
    assert "方案已是第 2 版（预览时是第 1 版），请重新预览后再修订" in r.text
    assert hidden(r.text, "expect_version") == "2"
    with world.db.transaction() as s:
        assert s.scalar(select(Campaign.plan_version).where(Campaign.id == cid)) == 2

