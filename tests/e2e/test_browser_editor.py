"""The plan editor in a real headless Chromium: a small campaign built from blank (offices and
villages from Excel, a routing grid, a two-rung ladder), three rows tried, launched, one routing
rule amended with its preview, the audit trail checked; every seed plan saved through every
section unchanged. Screenshots go to $DUBAN_SCREENSHOTS (docs/images/editor-*.png)."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest

from duban.adapters.plan.yaml_file import load_plan_file, load_plan_text
from duban.domain.clock import FixedClock
from duban.domain.household import ReportedProblem
from duban.services.database import Database
from duban.services.problems import record_problems
from duban.web.editor_form import SECTIONS
from tests.conftest import PLANS
from tests.e2e.test_browser import (
    PHONE,
    Shots,
    browser,
    browser_world,
    serve,
    sign_in,
)

SEEDS = sorted(PLANS.glob("seed-*.yaml"))


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


def fill_row(page: Any, part: int, row: int, values: dict[str, str]) -> None:
    """Type into a grid row (a <select> is chosen by its value)."""
    for key, value in values.items():
        field = page.locator(f"[name='t{part}.{row}.{key}']")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def open_seed_draft(page: Any, base: str, seed: str, section: str) -> str:
    """A new draft from a seed plan, opened at one section; returns the draft's address."""
    page.goto(f"{base}/plans/drafts")
    page.select_option("select[name=seed]", seed)
    page.click("button:has-text('以示范方案为底稿')")
    page.wait_for_selector("text=已新建方案草稿")
    draft = str(page.url.split("?")[0])
    page.goto(f"{draft}?section={section}")
    return draft


def save(page: Any) -> str:
    page.click("form.editor-form button[type=submit]")
    page.wait_for_selector(".flash")
    return str(page.inner_text(".flash"))


def build_in_browser(b: Any, base: str, db: Database, clock: FixedClock, shots: Shots,
                     tmp: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    county = sign_in(b, base, "county")
    county.click("nav >> text=方案编辑")
    county.fill("input[name=title]", "试点乡整改行动")
    shots.take(county, "editor-start")
    county.click("button:has-text('从空白开始')")
    county.wait_for_selector("text=已新建方案草稿")
    seen["blank_errors"] = county.inner_text("section.status")
    seen["inline"] = county.locator(".field-error").count()
    shots.take(county, "editor-blank")

    county.fill("[name='f0.name']", "试点乡2022年大排查大整改行动")
    county.fill("[name='f0.issuer']", "中共试点乡委员会")
    county.fill("[name='f0.notice_prefix']", "试督")
    county.fill("[name='f0.county_office']", "乡领导小组办公室")
    seen["basics"] = save(county)

    county.click("nav.editor-tabs >> text=办室")
    offices = _xlsx(tmp / "办室名单.xlsx", [
        ["名称", "代码", "级别", "负责人", "联系人", "电话"],
        ["乡领导小组办公室", "ldxz", "县级", "王主任", "", ""],
        ["乡住建办", "zjb", "乡镇级", "李主任", "张干事", "13800000001"],
        ["乡教育办", "jyb", "乡镇级", "陈主任", "", ""]])
    county.set_input_files("form.list-import input[name=file]", str(offices))
    county.click("form.list-import button")
    county.wait_for_selector(".flash")
    seen["offices"] = county.inner_text(".flash")
    shots.take(county, "editor-offices")

    county.click("nav.editor-tabs >> text=乡镇与村")
    villages = _xlsx(tmp / "乡镇村名单.xlsx", [["乡镇", "村", "户数"], ["试点乡", "一村", "120"],
                                               ["试点乡", "二村", "98"]])
    county.set_input_files("form.list-import input[name=file]", str(villages))
    county.click("form.list-import button")
    county.wait_for_selector(".flash")
    seen["villages"] = county.inner_text(".flash")

    county.click("nav.editor-tabs >> text=阶段")
    fill_row(county, 0, 0, {"kind": "排查", "name": "走访排查", "start": "2022-09-01",
                            "end": "2022-09-30"})
    fill_row(county, 0, 1, {"kind": "整改", "name": "问题整改", "start": "2022-09-20",
                            "end": "2022-12-31"})
    save(county)
    seen["timeline"] = county.inner_text(".timeline")
    shots.take(county, "editor-stages")

    county.click("nav.editor-tabs >> text=类别与来源")
    fill_row(county, 0, 0, {"code": "housing", "name": "住房安全", "group": "三保障"})
    fill_row(county, 0, 1, {"code": "education", "name": "义务教育", "group": "三保障"})
    fill_row(county, 1, 0, {"code": "visit", "name": "入户排查"})
    save(county)

    county.click("nav.editor-tabs >> text=路由表")
    fill_row(county, 0, 0, {"categories": "住房安全", "office": "乡住建办", "co_offices": "各村"})
    fill_row(county, 0, 1, {"office": "乡教育办"})
    seen["routing"] = save(county)
    shots.take(county, "editor-routing")

    county.click("nav.editor-tabs >> text=提醒阶梯")
    fill_row(county, 1, 0, {"code": "urge", "name": "催办", "action": "urge", "offset": "1"})
    fill_row(county, 1, 1, {"code": "supervise", "name": "督办", "action": "supervise",
                            "offset": "3", "audience": "office_head、county", "colour": "red"})
    save(county)
    seen["ladder"] = county.inner_text(".ladder")
    seen["valid"] = county.inner_text("section.status")
    shots.take(county, "editor-reminders")

    county.click("nav.editor-tabs >> text=试一试")
    county.fill("textarea[name=rows]", "住房安全\t入户排查\t试点乡\t一村\t2022-09-26\n"
                                       "义务教育\t入户排查\t试点乡\t二村\t2022-09-26\n"
                                       "住房安全\t入户排查\t试点乡\t\t2022-09-20")
    county.click("form button:has-text('试一试')")
    county.wait_for_selector("table.trial")
    seen["trial"] = [county.inner_text(f"table.trial tbody tr:nth-child({i})")
                     for i in (1, 2, 3)]
    seen["silent"] = county.inner_text("section.try")
    shots.take(county, "editor-try")

    county.click("button:has-text('启动行动')")  # the confirm() is accepted
    county.wait_for_selector(".flash-ok")
    seen["launched"] = county.inner_text(".flash-ok")
    cid = int(re.search(r"编号 (\d+)", seen["launched"]).group(1))  # type: ignore[union-attr]
    result = db.run(record_problems, clock, cid, [ReportedProblem(
        source="visit", category="housing", town="试点乡", village="一村", household_id=None,
        description="危房未改造，屋面漏雨", found_by="王村干", found_on=dt.date(2022, 9, 26))],
        recorded_by="county")
    (pid,) = result.problem_ids

    county.click("nav >> text=方案编辑")
    county.click("table.drafts >> text=试点乡整改行动")
    county.click("nav.editor-tabs >> text=路由表")
    county.locator("[name='t0.0.office']").fill("乡教育办")
    save(county)
    county.click("button:has-text('预览修订')")
    county.wait_for_selector("section.preview")
    seen["preview"] = county.inner_text("section.preview")
    shots.take(county, "editor-amend-preview")
    county.fill("form.apply input[name=note]", "住房安全问题改由乡教育办牵头")
    county.click("form.apply button[type=submit]")
    county.wait_for_selector(".flash-ok")
    seen["amended"] = county.inner_text(".flash-ok")
    county.goto(f"{base}/problems/{pid}")
    seen["audit"] = county.inner_text("main")

    phone = sign_in(b, base, "county", PHONE)
    phone.goto(county.url.split("/problems")[0] + "/plans/drafts/1?section=routing")
    seen["phone_width"] = phone.evaluate("document.documentElement.scrollWidth")
    shots.take(phone, "editor-phone", full=False)
    county.goto(f"{base}/calendar?year=2022")
    shots.take(county, "calendar")

    office = sign_in(b, base, "zhujian")
    response = office.goto(f"{base}/plans/drafts")
    seen["office_status"] = response.status if response else None
    return seen


@pytest.mark.slow
def test_building_a_campaign_in_the_editor(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with (browser_world(tmp_path, monkeypatch, "editor.sqlite3") as (db, clock, shots),
          serve(db, clock) as base, browser() as b):
        seen = build_in_browser(b, base, db, clock, shots, tmp_path)

    assert "缺少（必填）" in seen["blank_errors"] or "处错误" in seen["blank_errors"]
    assert seen["inline"] >= 4  # name, issuer, notice prefix, county office: beside each field
    assert "新增办室 3 个" in seen["offices"] and "新增村 2 个" in seen["villages"]
    assert "重叠 11 天" in seen["timeline"]
    assert "催办" in seen["ladder"] and "+3 个工作日" in seen["ladder"]
    assert "方案校验通过" in seen["valid"]
    housing, education, no_village = seen["trial"]
    assert "乡住建办" in housing and "一村" in housing and "第 1 条" in housing
    assert "2022年10月13日" in housing  # 10 working days over 国庆 and its 调休
    assert "乡教育办" in education and "第 2 条" in education
    assert "乡住建办" in no_village
    assert "每条路由规则和时限规则都有机会生效" in seen["silent"]
    assert "行动已启动" in seen["launched"]
    assert "改派" in seen["preview"] and "乡住建办" in seen["preview"]
    assert "zjb" not in seen["preview"] and "jyb" not in seen["preview"]
    assert "方案已修订：第 2 版生效" in seen["amended"] and "改派 1 个问题" in seen["amended"]
    assert "方案修订（第2版）" in seen["audit"] and "乡教育办" in seen["audit"]
    assert seen["phone_width"] <= PHONE["width"] + 1, "the phone page scrolls sideways"
    assert seen["office_status"] == 403


@pytest.mark.slow
def test_seed_plans_save_through_the_editor_unchanged(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    downloaded: dict[str, str] = {}
    versions: dict[str, str] = {}
    with (browser_world(tmp_path, monkeypatch, "seeds.sqlite3") as (db, clock, _),
          serve(db, clock) as base, browser() as b):
        county = sign_in(b, base, "county")
        for seed in SEEDS:
            county.goto(f"{base}/plans/drafts")
            county.select_option("select[name=seed]", seed.name)
            county.click("button:has-text('以示范方案为底稿')")
            county.wait_for_selector("text=已新建方案草稿")
            draft = county.url.split("?")[0]
            for section in SECTIONS:
                county.goto(f"{draft}?section={section.key}")
                save(county)
            versions[seed.name] = county.inner_text(".editor-head p")
            with county.expect_download() as info:
                county.click("a:has-text('下载 YAML')")
            downloaded[seed.name] = Path(info.value.path()).read_text(encoding="utf-8")
    for seed in SEEDS:
        assert versions[seed.name].startswith("第 1 版"), (seed.name, versions[seed.name])
        assert load_plan_text(downloaded[seed.name], PLANS) == load_plan_file(seed), seed.name


@pytest.mark.slow
def test_a_date_condition_on_a_phone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seed 003's 贷款到期无法偿还 on a 390×844 phone: the condition's row offers 早于/不早于, a
    比较日 (检查日 or 指定日期) and a date picker; a fixed date chosen there is saved."""
    with (browser_world(tmp_path, monkeypatch, "dates.sqlite3") as (db, clock, shots),
          serve(db, clock) as base, browser() as b):
        phone = sign_in(b, base, "county", PHONE)
        open_seed_draft(phone, base, "seed-003-shaoyun-2022.yaml", "detection")
        rows = phone.locator("table[data-part='detection.rules.when'] tbody tr")
        row = next(i for i in range(rows.count()) if rows.nth(i).locator(
            "select[name$='.rule']").input_value() == "loan_overdue")
        tests = rows.nth(row).locator("select[name$='.test'] option").all_inner_texts()
        kinds = rows.nth(row).locator("input[name$='.date']").get_attribute("type")
        loan = rows.nth(row)
        # Only the cells its test reads are shown: 比较日, and 日期 once 指定日期 is chosen.
        shown_at_check_day = [loan.locator(f"[name$='.{k}']").is_visible()
                              for k in ("values", "number", "against", "date")]
        fill_row(phone, 2, row, {"against": "date"})
        date_shown = loan.locator("input[name$='.date']").is_visible()
        fill_row(phone, 2, row, {"date": "2022-10-01"})
        other = next(i for i in range(rows.count()) if rows.nth(i).locator(
            "select[name$='.test']").input_value() == "is")
        shown_for_is = [rows.nth(other).locator(f"[name$='.{k}']").is_visible()
                        for k in ("values", "number", "against", "date")]
        rows.nth(row).scroll_into_view_if_needed()
        width = phone.evaluate("document.documentElement.scrollWidth")
        shot = shots.take(phone, "editor-date-condition", full=False)
        flash = save(phone)
        with phone.expect_download() as info:
            phone.click("a:has-text('下载 YAML')")
        text = Path(info.value.path()).read_text(encoding="utf-8")
    assert "早于" in tests and "不早于" in tests
    assert kinds == "date"
    assert shown_at_check_day == [False, False, True, False] and date_shown
    assert shown_for_is == [True, False, False, False]
    assert width <= PHONE["width"] + 1, "the phone page scrolls sideways"
    assert shot.stat().st_size > 0
    assert "已保存为第 2 版" in flash and "方案校验通过" in flash
    from duban.domain.plan import ConditionTest, FactCondition

    plan = load_plan_text(text, PLANS)
    rule = next(r for r in plan.detection.rules if r.code == "loan_overdue")
    assert rule.when[0] == FactCondition("loan_due", ConditionTest.BEFORE,
                                         date=dt.date(2022, 10, 1))


@pytest.mark.slow
def test_a_new_rule_and_field_take_conditions_before_the_first_save(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule and a field typed into their tables are offered at once in the conditions' rule
    and field choices (they were offered only after a save), and one save keeps all three."""
    with (browser_world(tmp_path, monkeypatch, "newrule.sqlite3") as (db, clock, _),
          serve(db, clock) as base, browser() as b):
        page = sign_in(b, base, "county")
        open_seed_draft(page, base, "seed-003-shaoyun-2022.yaml", "detection")

        def first_blank(part: str) -> int:
            return int(page.locator(
                f"table[data-part='{part}'] tbody tr:not(.new-row)").count())

        rules, conditions, fields = (first_blank(p) for p in (
            "detection.rules", "detection.rules.when", "household.fields"))
        rule_choice = page.locator(f"[name='t2.{conditions}.rule']")
        offered_before = rule_choice.locator("option").all_inner_texts()
        category = page.locator("[name='t1.0.category']").input_value()  # the first rule's
        fill_row(page, 3, fields, {"key": "debt_yuan", "label": "负债金额", "type": "整数"})
        fill_row(page, 1, rules, {"code": "debt_high", "name": "负债过高",
                                  "category": str(category)})
        offered = rule_choice.locator("option").all_inner_texts()
        fill_row(page, 1, rules, {"name": "负债偏高"})  # renamed before saving
        renamed = rule_choice.locator("option").all_inner_texts()
        fill_row(page, 2, conditions, {"rule": "debt_high", "field": "debt_yuan",
                                       "test": "at_least", "number": "50000"})
        flash = save(page)
        with page.expect_download() as info:
            page.click("a:has-text('下载 YAML')")
        text = Path(info.value.path()).read_text(encoding="utf-8")
    assert "负债过高" not in offered_before and "负债过高" in offered
    assert "负债偏高" in renamed and "负债过高" not in renamed
    assert "已保存为第 2 版" in flash, flash
    from duban.domain.plan import ConditionTest, FactCondition

    plan = load_plan_text(text, PLANS)
    rule = next(r for r in plan.detection.rules if r.code == "debt_high")
    assert rule.name == "负债偏高"
    assert rule.when == (FactCondition("debt_yuan", ConditionTest.AT_LEAST, number=50000),)
