"""The web import lists each value the plan has no name for once, offers what it may mean,
saves the answers as aliases of the running campaign (a plan version and a campaign event) and
checks the file again."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from duban.adapters.intake import HEADERS
from duban.services.campaigns import load_plan_of
from models import CampaignEvent, PlanVersion
from tests.web.conftest import World

Clients = Any


def _ledger(rows: list[tuple[str, str, str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(HEADERS["problems"]))
    for n, (source, category, town) in enumerate(rows, 1):
        row = {"问题来源": source, "问题类别": category, "乡镇": town,
               "问题描述": f"{category}问题{n}",
               "排查人": "王村干", "排查日期": dt.date(2022, 9, 20)}
        ws.append([row.get(h) for h in HEADERS["problems"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_unmatched_values_are_mapped_once_and_the_file_imports(world: World,
                                                               client_for: Clients) -> None:
    county, csrf = client_for("county")
    cid = world.campaign_id
    rows = [("入户排查", "住房", "槐店"), ("入户排查", "住房", "槐店"), ("入户", "饮水", "刘庄店")]
    r = county.post("/imports", data={"csrf_token": csrf, "kind": "problems",
                                      "campaign": str(cid)},
                    files={"file": ("台账.xlsx", _ledger(rows))})
    assert r.status_code == 422 and "未写入任何数据" in r.text
    # Each unknown word once, with its closest name chosen (刘庄店 is 刘庄店镇 without its
    # ending and matches; 槐店 is not 槐店回族镇's ending and is offered).
    selects = re.findall(r'<select name="(map:[^"]+)"[^>]*>(.*?)</select>', r.text)
    assert [name for name, _ in selects] == ["map:category:住房", "map:town:槐店",
                                             "map:source:入户", "map:category:饮水"]
    chosen = {name: re.search(r'<option value="([^"]*)" selected>', body)
              for name, body in selects}
    assert {k: m.group(1) if m else None for k, m in chosen.items()} == {
        "map:source:入户": "household", "map:category:住房": "housing",
        "map:category:饮水": "water", "map:town:槐店": "huaidian"}
    assert "是否为「住房安全」？" in r.text
    token = re.search(r'name="token" value="([^"]+)"', r.text)
    assert token
    form = {"csrf_token": csrf, "kind": "problems", "campaign": str(cid),
            "token": token.group(1), "filename": "台账.xlsx",
            "map:source:入户": "household", "map:category:住房": "housing",
            "map:category:饮水": "water", "map:town:槐店": "huaidian"}
    done = county.post("/imports/map", data=form)
    assert done.status_code == 200, done.text[-2000:]
    assert "导入完成" in done.text and "已把 4 个名称存为本行动方案的别名" in done.text

    with world.db.transaction() as s:
        plan = load_plan_of(s, cid)
        versions = s.scalars(select(PlanVersion.version).where(
            PlanVersion.campaign_id == cid)).all()
        event = s.scalars(select(CampaignEvent).where(CampaignEvent.campaign_id == cid,
                                                      CampaignEvent.action == "aliases")).one()
    assert sorted(versions) == [1, 2]
    assert next(c for c in plan.categories if c.code == "housing").aliases == ("住房",)
    assert next(c for c in plan.sources if c.code == "household").aliases == ("入户",)
    assert event.actor == "county" and "住房→住房安全" in event.note
    # The kept file is gone once imported; the token no longer works.
    again = county.post("/imports/map", data=form)
    assert again.status_code == 404


def test_a_village_account_cannot_map(world: World, client_for: Clients) -> None:
    village, csrf = client_for("vil_hd1")
    r = village.post("/imports/map", data={"csrf_token": csrf, "kind": "problems",
                                           "campaign": str(world.campaign_id),
                                           "token": "0" * 24 + ".xlsx"})
    assert r.status_code == 403


def test_an_unknown_village_is_mapped_within_its_town(world: World, client_for: Clients) -> None:
    county, csrf = client_for("county")
    cid = world.campaign_id
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(HEADERS["problems"]))
    for n in range(2):
        row = {"问题来源": "入户排查", "问题类别": "住房安全", "乡镇": "槐店回族镇",
               "村": "东关居委", "问题描述": f"住房问题{n}", "排查人": "王村干",
               "排查日期": dt.date(2022, 9, 20)}
        ws.append([row.get(h) for h in HEADERS["problems"]])
    out = io.BytesIO()
    wb.save(out)
    r = county.post("/imports", data={"csrf_token": csrf, "kind": "problems",
                                      "campaign": str(cid)},
                    files={"file": ("台账.xlsx", out.getvalue())})
    assert r.status_code == 422
    assert "乡镇“槐店回族镇”没有名为“东关居委”的村，是否为「东关社区」" in r.text
    (name, body), = re.findall(r'<select name="(map:[^"]+)"[^>]*>(.*?)</select>', r.text)
    assert name == "map:village:东关居委"
    best = re.search(r'<option value="([^"]*)" selected>([^<]*)</option>', body)
    assert best and best.groups() == ("huaidian/huaidian-01", "槐店回族镇东关社区")
    token = re.search(r'name="token" value="([^"]+)"', r.text)
    assert token
    done = county.post("/imports/map", data={
        "csrf_token": csrf, "kind": "problems", "campaign": str(cid), "token": token.group(1),
        "filename": "台账.xlsx", name: "huaidian/huaidian-01"})
    assert done.status_code == 200, done.text[-2000:]
    assert "导入完成" in done.text
    with world.db.transaction() as s:
        plan = load_plan_of(s, cid)
        event = s.scalars(select(CampaignEvent).where(CampaignEvent.campaign_id == cid,
                                                      CampaignEvent.action == "aliases")).one()
    town = next(t for t in plan.towns if t.code == "huaidian")
    assert next(v for v in town.villages if v.code == "huaidian-01").aliases == ("东关居委",)
    assert "东关居委→槐店回族镇东关社区" in event.note
    assert event.data["aliases"] == [{"kind": "village", "word": "东关居委",
                                      "code": "huaidian-01", "town": "huaidian"}]
