"""Visits recorded on phones (issue 18): download, sync once, refusals, history, the ledger.

Driven through the API the phone app uses (`/api/m/...`), on both database backends.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duban.domain.clock import CHINA_TZ
from duban.domain.household import HouseholdCategory, HouseholdFacts
from duban.services.database import Database
from duban.services.intake import write_households
from duban.services.scoping import whole_campaign
from duban.services.views.coverage import coverage
from models import tables as t
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
GIF = b"GIF89a" + b"\x00" * 200
VISIT_DAY = dt.datetime(2022, 9, 20, 10, 0, tzinfo=CHINA_TZ)


def household(hid: str, town: str = "huaidian", village: str = "huaidian-01",
              **changes: Any) -> HouseholdFacts:
    """A 脱贫户 with nothing to find."""
    values: dict[str, Any] = dict(
        household_id=hid, town=town, village=village, head=f"户主{hid[-3:]}", members=3,
        category=HouseholdCategory.LIFTED, monitoring_type=None, income_per_person=9000,
        house_grade="A", tap_water=True, school_age_children=0, children_out_of_school=0,
        medical_insurance=True, sanitary_toilet=True)
    values.update(changes)
    return HouseholdFacts(**values)


@pytest.fixture
def field_world(world: World) -> World:
    """The web world on 2022-09-20 (排查阶段) with five households in 东关社区 and two in 刘庄店."""
    world.clock.set(VISIT_DAY)
    rows = [household(f"HD01{i:03d}") for i in range(5)]
    rows += [household(f"LZ01{i:03d}", "liuzhuangdian", "liuzhuangdian-01") for i in range(2)]

    def write(uow: Any) -> None:
        write_households(uow.session, world.campaign_id, rows)

    world.db.run(write)
    return world


def new_id() -> str:
    return uuid.uuid4().hex


def visit_body(hid: str, *, facts: dict[str, str] | None = None, mode: str = "面访",
               answered_by: str = "", photos: list[bytes] | None = None,
               signatures: tuple[str, ...] = ("visitor_signature",),
               recorded_at: dt.datetime = VISIT_DAY, client_id: str | None = None,
               ) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The visit JSON and its files, as the app sends them."""
    files: list[tuple[str, bytes]] = []
    described: list[dict[str, Any]] = []
    for content in photos if photos is not None else [JPEG]:
        fid = new_id()
        files.append((fid, content))
        described.append({"client_id": fid, "kind": "photo",
                          "taken_at": recorded_at.isoformat()})
    for kind in signatures:
        fid = new_id()
        files.append((fid, PNG))
        described.append({"client_id": fid, "kind": kind})
    data = {"client_id": client_id or new_id(), "household_id": hid, "mode": mode,
            "answered_by": answered_by, "findings": "家中一切正常", "facts": facts or {},
            "recorded_at": recorded_at.isoformat(),
            "position": {"latitude": 33.39, "longitude": 115.1, "accuracy": 12},
            "files": described}
    return data, files


def sync(client: TestClient, csrf: str, cid: int, data: dict[str, Any],
         files: list[tuple[str, bytes]], sent_at: dt.datetime = VISIT_DAY) -> dict[str, Any]:
    r = client.post(f"/api/m/campaigns/{cid}/visits",
                    data={"visit": json.dumps(data, ensure_ascii=False),
                          "sent_at": sent_at.isoformat()},
                    files=[("file", (fid, content, "application/octet-stream"))
                           for fid, content in files],
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert isinstance(answer, dict)
    return answer


def count(db: Database, table: Any) -> int:
    with db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_setup_lists_only_the_villages_in_reach(field_world: World, client_for: Clients) -> None:
    cid = field_world.campaign_id
    village, _ = client_for("vil_hd1")
    setup = village.get(f"/api/m/campaigns/{cid}/setup").json()
    assert [v["code"] for v in setup["villages"]] == ["huaidian-01"]
    assert setup["villages"][0]["households"] == 5
    assert setup["villages"][0]["name"] == "东关社区"
    keys = [f["key"] for f in setup["form"]["fields"]]
    # seed 002's rules read these facts; each field names the rules reading it
    assert {"house_grade", "tap_water", "medical_insurance", "sanitary_toilet",
            "income_per_person", "children_out_of_school"} <= set(keys)
    assert setup["form"]["modes"] == ["面访", "电访", "代答"]
    town, _ = client_for("town_hd")
    codes = {v["code"] for v in town.get(f"/api/m/campaigns/{cid}/setup").json()["villages"]}
    assert "huaidian-01" in codes and "liuzhuangdian-01" not in codes
    office, _ = client_for("off_zjj")
    assert office.get(f"/api/m/campaigns/{cid}/setup").json()["villages"] == []
    # another village by URL answers as missing
    r = village.get(f"/api/m/campaigns/{cid}/villages/liuzhuangdian-01")
    assert r.status_code == 404
    assert "不在您负责的范围" in r.json()["error"]


def test_download_has_facts_as_written_and_open_problems(field_world: World,
                                                          client_for: Clients) -> None:
    cid = field_world.campaign_id
    client, csrf = client_for("vil_hd1")
    data, files = visit_body("HD01001", facts={"house_grade": "C"})
    assert sync(client, csrf, cid, data, files)["status"] == "accepted"
    down = client.get(f"/api/m/campaigns/{cid}/villages/huaidian-01").json()
    assert down["village_name"] == "东关社区"
    by_id = {h["id"]: h for h in down["households"]}
    assert len(by_id) == 5
    assert by_id["HD01000"]["facts"]["category"] == "建档立卡脱贫户"
    assert by_id["HD01000"]["facts"]["tap_water"] == "是"
    hit = by_id["HD01001"]
    assert hit["facts"]["house_grade"] == "C"
    assert [p["category"] for p in hit["problems"]] == ["住房安全"] or hit["problems"]
    assert hit["problems"][0]["status"] and hit["problems"][0]["deadline"]
    assert hit["visits"] == {"count": 1, "last": "2022-09-20"}


def test_a_synced_visit_changes_facts_with_history_and_puts_problems_on_the_ledger(
        field_world: World, client_for: Clients) -> None:
    db, cid = field_world.db, field_world.campaign_id
    client, csrf = client_for("vil_hd1")
    data, files = visit_body("HD01002", facts={"tap_water": "否", "house_grade": "D"},
                             photos=[JPEG, JPEG + b"1"])
    answer = sync(client, csrf, cid, data, files)
    assert answer["status"] == "accepted", answer
    assert answer["visited_on"] == "2022-09-20"
    assert sorted(answer["changed"]) == sorted(["住房安全等级", "是否通自来水"])
    assert len(answer["problems"]) == 2
    with db.transaction() as s:
        problems = s.execute(select(t.problem).where(
            t.problem.c.household_id == "HD01002")).all()
        assert {p.found_by for p in problems} == {"东关社区孙书记"}  # the visitor is 排查人
        assert all(p.status == "routed" and p.deadline and p.lead_office for p in problems)
        assert {p.found_on for p in problems} == {dt.date(2022, 9, 20)}
        linked = s.scalar(select(func.count()).select_from(t.field_visit_problem))
        assert linked == 2
        row = s.execute(select(t.household).where(t.household.c.household_id == "HD01002")
                        ).one()
        assert (row.house_grade, row.tap_water) == ("D", False)
        files_kept = s.execute(select(t.field_visit_file.c.kind)).scalars().all()
        assert sorted(files_kept) == ["photo", "photo", "visitor_signature"]
        fv = s.execute(select(t.field_visit)).one()
        assert (fv.latitude, fv.username) == (33.39, "vil_hd1")
    history = client.get(f"/api/m/campaigns/{cid}/households/HD01002/history").json()
    assert {(h["fact"], h["old_value"], h["new_value"], h["changed_by_name"])
            for h in history} == {("house_grade", "A", "D", "东关社区孙书记"),
                                  ("tap_water", "是", "否", "东关社区孙书记")}
    assert {h["client_id"] for h in history} == {data["client_id"]}
    # the problem page and the ledger name the visitor
    page = client.get(f"/problems/{problems[0].id}")
    assert "东关社区孙书记" in page.text
    with db.unit_of_work() as uow:
        cov = coverage(uow.session, whole_campaign(), cid)
    line = next(v for v in cov.villages if v.village_code == "huaidian-01")
    assert (line.households, line.visited) == (5, 1)


def test_a_retried_or_repeated_visit_is_stored_once(field_world: World,
                                                    client_for: Clients) -> None:
    db, cid = field_world.db, field_world.campaign_id
    client, csrf = client_for("vil_hd1")
    data, files = visit_body("HD01003", facts={"sanitary_toilet": "否"})
    first = sync(client, csrf, cid, data, files)
    again = sync(client, csrf, cid, data, files)
    # the same visit from a second tab (another session of the same user)
    other, other_csrf = client_for("vil_hd1")
    third = sync(other, other_csrf, cid, data, files)
    assert first["status"] == again["status"] == third["status"] == "accepted"
    assert not first["duplicate"] and again["duplicate"] and third["duplicate"]
    assert again["visit_id"] == first["visit_id"]
    assert [p["code"] for p in again["problems"]] == [p["code"] for p in first["problems"]]
    assert count(db, t.visit) == 1
    assert count(db, t.field_visit_file) == 2
    assert count(db, t.household_fact_change) == 1


def test_two_cadres_visiting_one_household_both_keep_their_visits(
        field_world: World, client_for: Clients) -> None:
    db, cid = field_world.db, field_world.campaign_id
    village, vcsrf = client_for("vil_hd1")
    town, tcsrf = client_for("town_hd")
    a = sync(village, vcsrf, cid, *visit_body("HD01004", facts={"members": "4"}))
    b = sync(town, tcsrf, cid, *visit_body("HD01004", facts={"members": "5"}))
    assert a["status"] == b["status"] == "accepted"
    with db.transaction() as s:
        visitors = set(s.scalars(select(t.visit.c.visitor)))
        history = s.execute(select(t.household_fact_change.c.old_value,
                                   t.household_fact_change.c.new_value,
                                   t.household_fact_change.c.changed_by)
                            .order_by(t.household_fact_change.c.id)).all()
    assert visitors == {"东关社区孙书记", "槐店镇张镇长"}
    assert [tuple(h) for h in history] == [("3", "4", "vil_hd1"), ("4", "5", "town_hd")]


@pytest.mark.parametrize(("case", "reason"), [
    ("outside", "不在您负责的村"),
    ("unknown", "不在农户信息中"),
    ("gif", "不是方案允许的格式"),
    ("big", "超过方案规定的"),
    ("unsigned", "缺少走访人签名"),
    ("early", "不在走访期间"),
    ("proxy", "代答时必须填写代答人"),
    ("grade", "住房安全等级"),
    ("children", "失学辍学儿童数"),
])
def test_refused_visits_say_why_and_leave_nothing(field_world: World, client_for: Clients,
                                                  case: str, reason: str) -> None:
    db, cid = field_world.db, field_world.campaign_id
    client, csrf = client_for("vil_hd1")
    hid = {"outside": "LZ01000", "unknown": "XX99999"}.get(case, "HD01000")
    kwargs: dict[str, Any] = {
        "gif": {"photos": [GIF]},
        "big": {"photos": [b"\xff\xd8\xff\xe0" + b"\x00" * (2049 * 1024)]},
        "unsigned": {"signatures": ()},
        "early": {"recorded_at": dt.datetime(2022, 9, 1, 9, 0, tzinfo=CHINA_TZ)},
        "proxy": {"mode": "代答"},
        "grade": {"facts": {"house_grade": "E"}},
        "children": {"facts": {"school_age_children": "1", "children_out_of_school": "2"}},
    }.get(case, {})
    before = [count(db, x) for x in (t.visit, t.field_visit, t.field_visit_file, t.problem,
                                      t.household_fact_change)]
    answer = sync(client, csrf, cid, *visit_body(hid, **kwargs))
    assert answer["status"] == "refused"
    assert reason in answer["reason"], answer["reason"]
    after = [count(db, x) for x in (t.visit, t.field_visit, t.field_visit_file, t.problem,
                                     t.household_fact_change)]
    assert after == before


def test_household_signature_when_the_plan_asks(field_world: World, client_for: Clients,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from duban.services import field_visits

    real = field_visits.load_plan_of

    def asking(session: Any, campaign_id: int) -> Any:
        plan = real(session, campaign_id)
        return replace(plan, visits=replace(plan.visits, household_signature=True))

    monkeypatch.setattr(field_visits, "load_plan_of", asking)
    cid = field_world.campaign_id
    client, csrf = client_for("vil_hd1")
    refused = sync(client, csrf, cid, *visit_body("HD01000"))
    assert refused["status"] == "refused" and "农户签名" in refused["reason"]
    by_phone = sync(client, csrf, cid, *visit_body("HD01000", mode="电访"))
    assert by_phone["status"] == "accepted", by_phone
    signed = sync(client, csrf, cid, *visit_body(
        "HD01001", signatures=("visitor_signature", "household_signature")))
    assert signed["status"] == "accepted", signed


def test_a_phone_clock_far_off_dates_the_visit_by_the_server(field_world: World,
                                                             client_for: Clients) -> None:
    db, cid = field_world.db, field_world.campaign_id
    client, csrf = client_for("vil_hd1")
    phone_now = VISIT_DAY + dt.timedelta(days=40)  # the phone thinks it is 10-30
    data, files = visit_body("HD01000", facts={"tap_water": "否"},
                             recorded_at=phone_now - dt.timedelta(hours=1))
    answer = sync(client, csrf, cid, data, files, sent_at=phone_now)
    assert answer["status"] == "accepted", answer
    assert answer["visited_on"] == "2022-09-20"
    assert any("按服务器时间" in n for n in answer["notes"])
    with db.transaction() as s:
        fv = s.execute(select(t.field_visit)).one()
        found_on = s.scalar(select(t.problem.c.found_on).where(
            t.problem.c.household_id == "HD01000"))
    assert fv.recorded_at.astimezone(CHINA_TZ).date() == dt.date(2022, 10, 30)  # kept as is
    assert fv.clock_offset_seconds == 40 * 86400
    assert found_on == dt.date(2022, 9, 20)


def test_offices_and_strangers_cannot_sync(field_world: World, client_for: Clients,
                                           app: object) -> None:
    db, cid = field_world.db, field_world.campaign_id
    office, csrf = client_for("off_zjj")
    data, files = visit_body("HD01000")
    r = office.post(f"/api/m/campaigns/{cid}/visits",
                    data={"visit": json.dumps(data)}, headers={"X-CSRF-Token": csrf},
                    files=[("file", (fid, c, "application/octet-stream")) for fid, c in files])
    assert r.status_code == 403
    village, _ = client_for("vil_hd1")
    r = village.post(f"/api/m/campaigns/{cid}/visits", data={"visit": json.dumps(data)},
                     files=[("file", (fid, c, "application/octet-stream")) for fid, c in files])
    assert r.status_code == 403  # no CSRF token
    anon = TestClient(app)  # type: ignore[arg-type]
    assert anon.get(f"/api/m/campaigns/{cid}/villages/huaidian-01").status_code == 401
    shell = anon.get("/m/", follow_redirects=False)
    assert shell.status_code in (302, 303) and "/login" in shell.headers["location"]
    assert count(db, t.visit) == 0


def test_the_app_shell_worker_and_manifest(field_world: World, client_for: Clients) -> None:
    client, _ = client_for("vil_hd1")
    shell = client.get("/m/")
    assert shell.status_code == 200 and 'lang="zh-CN"' in shell.text
    assert "blob:" in shell.headers["content-security-policy"]
    worker = client.get("/m/sw.js")
    assert worker.headers["service-worker-allowed"] == "/m/"
    manifest = client.get("/m/manifest.webmanifest").json()
    assert manifest["start_url"] == "/m/" and manifest["icons"]
    # every file of the app is in the worker's offline list and served
    from duban.web.field import app_files

    for path in app_files():
        if path.name in ("index.html", "sw.js", "manifest.webmanifest"):
            continue
        assert f"/static/m/{path.name}" in worker.text, path.name
        assert client.get(f"/static/m/{path.name}").status_code == 200
