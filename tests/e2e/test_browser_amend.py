"""The amendment page in a real headless Chromium: a refused plan naming its field, the preview by
name at desktop and phone width (390×844), applying it, and another role kept out."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.household import ReportedProblem
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.problems import record_problems
from tests.conftest import PLANS, require
from tests.e2e.test_browser import (
    PHONE,
    Shots,
    add_people,
    browser,
    chromium_missing,
    serve,
    sign_in,
)
from tests.support import amended_routing

SEED_002 = PLANS / "seed-002-shenqiu.yaml"
SCOPE = PLANS / "seed-002-shenqiu-scope.csv"


def amended_text() -> str:
    """Seed 002 with housing led by 县民政局 and 县财政局 helping with education."""
    return amended_routing(SEED_002.read_text(encoding="utf-8"))


def campaign(db: Database, clock: FixedClock) -> int:
    """Seed 002 launched with three problems: two housing, one education."""
    cid = db.run(launch_campaign, clock, load_plan_file(SEED_002),
                 SEED_002.read_text(encoding="utf-8"), "county")
    rows = [("housing", "huaidian", "huaidian-01", "东关社区张某某家危房未改造，屋面漏雨"),
            ("education", "huaidian", "huaidian-02", "适龄儿童李某辍学未劝返"),
            ("housing", "liuzhuangdian", "liuzhuangdian-01", "危房鉴定资料与实际不符")]
    db.run(record_problems, clock, cid, [
        ReportedProblem(source="household", category=c, town=t, village=v, household_id=None,
                        description=d, found_by="王村干", found_on=dt.date(2022, 9, 20))
        for c, t, v, d in rows], recorded_by="county")
    return cid


def amend_in_browser(b: Any, base: str, cid: int, shots: Shots, tmp: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    county = sign_in(b, base, "county")
    county.click("nav >> text=行动方案")
    county.click(f"a[href='/campaigns/{cid}/amend']")
    county.wait_for_selector("text=现行方案第 1 版")

    # A plan a running campaign cannot take: refused, naming the field.
    bad = tmp / "改了文号前缀的方案.yaml"
    bad.write_text(amended_text().replace("notice_prefix: 沈巩督", "notice_prefix: 新督"), "utf-8")
    county.set_input_files("input[name=plan]", str(bad))
    county.set_input_files("input[name=scope_table]", str(SCOPE))
    county.click("button:has-text('校验并预览')")
    county.wait_for_selector("table.errors")
    seen["refused"] = county.inner_text("table.errors tbody")
    seen["refused_apply"] = county.locator("form.apply").count()
    shots.take(county, "amend-refused")

    good = tmp / "修订方案.yaml"
    good.write_text(amended_text(), "utf-8")
    county.set_input_files("input[name=plan]", str(good))
    county.set_input_files("input[name=scope_table]", str(SCOPE))
    county.click("button:has-text('校验并预览')")
    county.wait_for_selector("section.preview")
    seen["summary"] = county.inner_text("section.preview p.summary")
    seen["preview"] = county.inner_text("section.preview")
    shots.take(county, "amend-preview")

    phone = sign_in(b, base, "county", PHONE)
    phone.goto(f"{base}/campaigns/{cid}/amend")
    phone.fill("textarea[name=plan_text]", amended_text())
    phone.set_input_files("input[name=scope_table]", str(SCOPE))
    phone.click("button:has-text('校验并预览')")
    phone.wait_for_selector("section.preview")
    phone.locator("section.preview").scroll_into_view_if_needed()
    seen["phone_width"] = phone.evaluate("document.documentElement.scrollWidth")
    seen["phone_shot"] = shots.take(phone, "amend-preview-phone", full=False)
    seen["phone_full"] = shots.take(phone, "amend-preview-phone-full")

    county.fill("form.apply input[name=note]", "住房安全问题改由民政局牵头")
    county.click("form.apply button[type=submit]")  # the confirm() is accepted
    county.wait_for_selector(".flash-ok")
    seen["applied"] = county.inner_text(".flash-ok")
    shots.take(county, "amend-applied")

    # The phone's preview still carries version 1: refused as stale, previewed anew.
    phone.fill("form.apply input[name=note]", "再次修订")
    phone.click("form.apply button[type=submit]")
    phone.wait_for_selector(".flash-error")
    seen["stale"] = phone.inner_text(".flash-error")

    office = sign_in(b, base, "zhujian")
    response = office.goto(f"{base}/campaigns/{cid}/amend")
    seen["office_status"] = response.status if response else None
    seen["office_text"] = office.inner_text("main")
    return seen


def test_amending_a_plan_in_the_browser(tmp_path: Path) -> None:
    reason = chromium_missing()
    require(reason is None, reason or "")
    os.environ["DUBAN_DATA_DIR"] = str(tmp_path / "data")
    db = Database(f"sqlite:///{tmp_path / 'amend.sqlite3'}")
    db.migrate()
    clock = FixedClock(dt.datetime(2022, 9, 26, 9, 0, tzinfo=CHINA_TZ))
    add_people(db, clock)
    cid = campaign(db, clock)
    shots = Shots(Path(os.environ.get("DUBAN_SCREENSHOTS") or tmp_path / "screenshots"))
    try:
        with serve(db, clock) as base, browser() as b:
            seen = amend_in_browser(b, base, cid, shots, tmp_path)
    finally:
        db.dispose()
        os.environ.pop("DUBAN_DATA_DIR", None)

    assert "notice_prefix" in seen["refused"] and "督办通知书文号前缀不能修改" in seen["refused"]
    assert seen["refused_apply"] == 0
    assert "改派 2 个" in seen["summary"] and "协办单位调整 1 个" in seen["summary"]
    for name in ("县住建局", "县民政局", "县财政局"):
        assert name in seen["preview"], name
    for code in ("zjj", "mzj", "czj"):
        assert code not in seen["preview"], code
    assert "方案已修订：第 2 版生效" in seen["applied"] and "改派 2 个问题" in seen["applied"]
    assert "方案已是第 2 版（预览时是第 1 版）" in seen["stale"]
    assert seen["office_status"] == 403 and "仅限县级办公室" in seen["office_text"]
    assert seen["phone_width"] <= PHONE["width"] + 1, "the phone page scrolls sideways"
    assert all(p.stat().st_size > 10_000 for p in shots.taken)
