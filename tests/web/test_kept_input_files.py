"""A refused upload names its files to choose again, and keeps what can be kept (issue 14).

Launching a campaign from a plan file, amending one, importing a spreadsheet: the browser
cannot be given a file back, so the refused page names each chosen file beside the form, keeps
the chosen type, the pasted plan and an already sent scope table, marks the required inputs,
and writes nothing.
"""

from __future__ import annotations

import base64
import html
import re

from sqlalchemy import func, select

from models import Campaign, PlanVersion, Problem
from tests.conftest import ROOT
from tests.web.conftest import World
from tests.web.test_access_matrix import _ledger_csv
from tests.web.test_kept_input import Clients


def _count(world: World, model: type) -> int:
    with world.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_a_refused_plan_upload_names_both_files(world: World, client_for: Clients) -> None:
    county, csrf = client_for("county")
    page = county.get("/campaigns").text
    assert re.search(r'<label><span>方案文件（\.yaml） <span class="req">\*</span></span>'
                     r'<input type="file" name="plan"[^>]*\brequired\b', page)
    before = _count(world, Campaign)
    bad = (ROOT / "tests/data/plans/ten-mistakes.yaml").read_bytes()
    r = county.post("/campaigns", data={"csrf_token": csrf},
                    files={"plan": ("县方案-修改稿.yaml", bad),
                           "scope_table": ("乡镇村名单.csv", "乡镇,村\n".encode())})
    assert r.status_code == 422
    form = re.search(r'<form method="post" action="/campaigns".*?</form>', r.text, re.S)
    assert form
    assert "请重新选择：县方案-修改稿.yaml、乡镇村名单.csv" in form.group(0)
    assert _count(world, Campaign) == before


def test_a_refused_import_keeps_its_type_and_names_its_file(world: World,
                                                             client_for: Clients) -> None:
    client, csrf = client_for("town_hd")
    cid = world.campaign_id
    before = _count(world, Problem)
    r = client.post("/imports", data={"csrf_token": csrf, "kind": "problems",
                                      "campaign": str(cid)},
                    files={"file": ("九月台账.csv",
                                    _ledger_csv("槐店回族镇", "刘庄店镇", "huaidian"))})
    assert r.status_code == 422
    form = re.search(r'<form method="post" action="/imports".*?</form>', r.text, re.S)
    assert form
    body = form.group(0)
    assert "九月台账.csv" in body and "重新选择" in body
    assert re.search(r'<option value="problems" selected>', body)
    assert re.search(r'<select name="kind" required>', body)
    assert _count(world, Problem) == before


def test_a_refused_amendment_keeps_the_pasted_plan_and_the_scope_table(
        world: World, client_for: Clients) -> None:
    county, csrf = client_for("county")
    cid = world.campaign_id
    versions = _count(world, PlanVersion)
    pasted = "name: 修订稿\nstages: [\n"  # not YAML
    table = "乡镇,村\n槐店回族镇,东关社区\n".encode()
    r = county.post(f"/campaigns/{cid}/amend", data={"csrf_token": csrf, "plan_text": pasted},
                    files={"scope_table": ("名单.csv", table)})
    assert r.status_code == 422
    form = re.search(r'<form method="post" action="/campaigns/\d+/amend".*?</form>',
                     r.text, re.S)
    assert form
    body = form.group(0)
    match = re.search(r"<textarea name=\"plan_text\"[^>]*>(.*?)</textarea>", body, re.S)
    assert match and html.unescape(match.group(1)) == pasted
    assert 'name="scope_name" value="名单.csv"' in body
    assert f'name="scope_data" value="{base64.b64encode(table).decode()}"' in body
    assert 'class="req"' in body
    # Sent again without choosing the table: the kept one is used (still named).
    r = county.post(f"/campaigns/{cid}/amend", data={
        "csrf_token": csrf, "plan_text": pasted, "scope_name": "名单.csv",
        "scope_data": base64.b64encode(table).decode()})
    assert r.status_code == 422 and 'name="scope_name" value="名单.csv"' in r.text
    assert _count(world, PlanVersion) == versions
