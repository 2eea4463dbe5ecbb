"""The plan editor: seed plans round-trip through every section's form unchanged; a small
campaign is built from blank (lists from Excel), tried, launched and amended."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file, load_plan_text
from duban.domain.household import ReportedProblem
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.problems import record_problems
from duban.web.editor_form import SECTIONS
from models import AuditEvent, PlanVersion, Problem
from tests.conftest import PLANS
from tests.web.conftest import World, login, password_hash

Clients = Callable[[str], tuple[TestClient, str]]
SEEDS = sorted(p.name for p in PLANS.glob("seed-*.yaml"))


class Forms(HTMLParser):
    """The fields of every form on a page, as a browser would post them unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._select: str | None = None
        self._selected: str | None = None
        self._first: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((a.get("action", ""), []))
        elif not self.forms:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind != "file":
                self.forms[-1][1].append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._selected, self._first = a.get("name"), None, None
        elif tag == "option" and self._select is not None:
            if self._first is None:
                self._first = a.get("value", "")
            if "selected" in a:
                self._selected = a.get("value", "")
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            chosen = self._selected if self._selected is not None else self._first or ""
            self.forms[-1][1].append((self._select, chosen))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.forms[-1][1].append((self._textarea, self._text))
            self._textarea = None

    def form(self, action_part: str) -> list[tuple[str, str]]:
        return next(fields for action, fields in self.forms if action_part in action)


def forms_of(html: str) -> Forms:
    parser = Forms()
    parser.feed(html)
    return parser


def start(client: TestClient, csrf: str, **data: str) -> str:
    r = client.post("/plans/drafts", data={"csrf_token": csrf, **data}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    return str(r.headers["location"])


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seed_plan_round_trips_through_every_section(client_for: Clients, seed: str) -> None:
    client, csrf = client_for("county")
    url = start(client, csrf, origin="seed", seed=seed)
    for section in SECTIONS:
        page = client.get(f"{url}?section={section.key}")
        assert page.status_code == 200, (section.key, page.text[:300])
        assert "方案校验通过" in page.text, section.key
        fields = forms_of(page.text).form(f"/sections/{section.key}")
        saved = client.post(f"{url}/sections/{section.key}", data=dict(fields),
                            follow_redirects=False)
        assert saved.status_code == 303, (section.key, saved.text[:500])
    # Nothing changed, so no new version was saved, and the YAML reads as the same plan.
    assert "第 1 版" in client.get(url).text
    text = client.get(f"{url}/plan.yaml").text
    assert load_plan_text(text, PLANS) == load_plan_file(PLANS / seed)


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def post_section(client: TestClient, url: str, key: str, values: dict[str, str]) -> str:
    """Fill a section's form like a person: what the page shows, with `values` typed in."""
    fields = dict(forms_of(client.get(f"{url}?section={key}").text).form(f"/sections/{key}"))
    fields.update(values)
    r = client.post(f"{url}/sections/{key}", data=fields, follow_redirects=True)
    assert r.status_code == 200, r.text[:500]
    return r.text


def test_a_small_campaign_from_blank(world: World, client_for: Clients) -> None:
    client, csrf = client_for("county")
    url = start(client, csrf, origin="blank", title="试点乡整改行动")
    page = client.get(url).text
    assert "缺少（必填）" in page or "不能为空" in page  # the blank plan's errors, inline
    post_section(client, url, "basics", {
        "f0.name": "试点乡2027年大排查大整改", "f0.issuer": "中共试点乡委员会",
        "f0.notice_prefix": "试督", "f0.county_office": "乡领导小组办公室"})
    offices = _xlsx([["名称", "代码", "级别", "负责人"],
                     ["乡领导小组办公室", "ldxz", "县级", "王主任"],
                     ["乡住建办", "zjb", "乡镇级", "李主任"],
                     ["乡教育办", "jyb", "乡镇级", ""]])
    version = forms_of(client.get(f"{url}?section=offices").text).form("/import/offices")
    r = client.post(f"{url}/import/offices", data=dict(version),
                    files={"file": ("办室名单.xlsx", offices)}, follow_redirects=True)
    assert "新增办室 3 个" in r.text, r.text[:800]
    villages = _xlsx([["乡镇", "村"], ["试点乡", "一村"], ["试点乡", "二村"]])
    version = forms_of(client.get(f"{url}?section=towns").text).form("/import/towns")
    r = client.post(f"{url}/import/towns", data=dict(version),
                    files={"file": ("乡镇村名单.xlsx", villages)}, follow_redirects=True)
    assert "新增村 2 个" in r.text
    post_section(client, url, "stages", {
        "t0.0.kind": "排查", "t0.0.start": "2022-09-01", "t0.0.end": "2022-09-30",
        "t0.1.kind": "整改", "t0.1.start": "2022-09-20", "t0.1.end": "2022-12-31"})
    page = client.get(f"{url}?section=stages").text
    assert "重叠 11 天" in page
    post_section(client, url, "categories", {
        "t0.0.code": "housing", "t0.0.name": "住房安全",
        "t0.1.code": "education", "t0.1.name": "义务教育",
        "t1.0.code": "visit", "t1.0.name": "入户排查"})
    text = post_section(client, url, "routing", {
        "t0.0.categories": "住房安全", "t0.0.office": "乡住建办", "t0.0.co_offices": "各村",
        "t0.1.office": "乡教育办"})
    post_section(client, url, "reminders", {
        "t1.0.code": "urge", "t1.0.name": "催办", "t1.0.action": "urge", "t1.0.offset": "1",
        "t1.1.code": "supervise", "t1.1.name": "督办", "t1.1.action": "supervise",
        "t1.1.offset": "3", "t1.1.audience": "office_head、county"})
    assert "乡住建办" in text
    page = client.get(url).text
    assert "方案校验通过" in page, page[:3000]

    # 试一试: three rows, where each goes, its deadline and the rule that fired.
    tried = client.post(f"{url}/try", data={"csrf_token": csrf, "rows": (
        "类别\t来源\t乡镇\t村\t发现日期\n"
        "住房安全\t入户排查\t试点乡\t一村\t2022-09-26\n"
        "义务教育\t入户排查\t试点乡\t二村\t2022-09-26\n"
        "住房安全,入户排查,试点乡,,2022-09-26")})
    assert tried.status_code == 200, tried.text[:800]
    rows = re.findall(r"<tr>\s*<td class=\"num\">\d+</td>(.*?)</tr>", tried.text, re.S)
    assert len(rows) == 3
    cells = [re.sub(r"<[^>]+>", "", r).split() for r in rows]
    assert "乡住建办" in cells[0] and "一村" in " ".join(cells[0]) and "第 1 条" in rows[0]
    assert "乡教育办" in cells[1] and "第 2 条" in rows[1]
    assert "2022年10月13日" in rows[0]  # 10 working days from 9/26 over 国庆 and its 调休
    assert "每条路由规则和时限规则都有机会生效" in tried.text

    # Launch.
    fields = dict(forms_of(client.get(url).text).form("/launch"))
    launched = client.post(f"{url}/launch", data=fields, follow_redirects=False)
    assert launched.status_code == 303, launched.text[:800]
    cid = int(launched.headers["location"].split("campaign=")[1])
    result = world.db.run(record_problems, world.clock, cid, [ReportedProblem(
        source="visit", category="housing", town="试点乡", village="一村", household_id=None,
        description="危房未改造", found_by="王村干", found_on=dt.date(2022, 9, 26))],
        recorded_by="county")
    (pid,) = result.problem_ids
    with world.db.transaction() as s:
        assert s.get(Problem, pid).lead_office == "zjb"  # type: ignore[union-attr]

    # Amend one routing rule: housing goes to 乡教育办; preview, then apply with a reason.
    post_section(client, url, "routing", {"t0.0.office": "乡教育办"})
    preview = client.post(f"{url}/amend", data={"csrf_token": csrf})
    assert preview.status_code == 200, preview.text[:800]
    assert "改派" in preview.text and "乡住建办" in preview.text
    with world.db.transaction() as s:
        assert s.get(Problem, pid).lead_office == "zjb"  # type: ignore[union-attr]
    apply = dict(forms_of(preview.text).form("/amend/apply"))
    apply["note"] = "住房安全问题改由乡教育办牵头（测试）"
    applied = client.post(f"/campaigns/{cid}/amend/apply", data=apply, follow_redirects=False)
    assert applied.status_code == 303, applied.text[:800]
    with world.db.transaction() as s:
        problem = s.get(Problem, pid)
        assert problem is not None and problem.lead_office == "jyb"
        notes = [e.note for e in s.scalars(select(AuditEvent).where(
            AuditEvent.problem_id == pid).order_by(AuditEvent.id))]
        versions = s.execute(select(PlanVersion.version, PlanVersion.note).where(
            PlanVersion.campaign_id == cid).order_by(PlanVersion.version)).all()
    assert any("方案修订（第2版）" in (n or "") for n in notes), notes
    assert [v for v, _ in versions] == [1, 2] and "乡教育办牵头" in versions[1][1]



def test_drafts_belong_to_the_county_users_office(world: World, client_for: Clients,
                                                  app: object) -> None:
    client, csrf = client_for("county")
    url = start(client, csrf, origin="seed", seed=SEEDS[0])
    world.db.run(add_user, world.clock, username="county2", name="赵副主任", role=Role.COUNTY,
                 office="zfb", town=None, village=None, password_hash=password_hash())
    other = TestClient(app)  # type: ignore[arg-type]
    other_csrf = login(other, "county2")
    assert other.get(url).status_code == 404
    assert other.get(f"{url}/plan.yaml").status_code == 404
    r = other.post(f"{url}/sections/basics", data={"csrf_token": other_csrf,
                                                   "expect_version": "1", "f0.name": "改名"})
    assert r.status_code == 404
    assert "还没有草稿" in other.get("/plans/drafts").text
    assert "第 1 版" in client.get(url).text


def test_a_stale_save_is_refused_and_bad_fields_keep_the_page(client_for: Clients) -> None:
    client, csrf = client_for("county")
    url = start(client, csrf, origin="seed", seed=SEEDS[0])
    fields = dict(forms_of(client.get(f"{url}?section=deadlines").text).form("/sections/deadlines"))
    first = dict(fields, **{"f0.default_working_days": "7"})
    assert client.post(f"{url}/sections/deadlines", data=first,
                       follow_redirects=False).status_code == 303
    stale = dict(fields, **{"f0.default_working_days": "9"})
    r = client.post(f"{url}/sections/deadlines", data=stale)
    assert r.status_code == 409 and "请重新打开后再修改" in r.text
    fields = dict(forms_of(client.get(f"{url}?section=deadlines").text).form("/sections/deadlines"))
    bad = dict(fields, **{"f0.default_working_days": "十天"})
    r = client.post(f"{url}/sections/deadlines", data=bad)
    assert r.status_code == 422 and "“十天”不是整数" in r.text
    wrong = dict(fields, **{"f0.default_working_days": "0"})
    r = client.post(f"{url}/sections/deadlines", data=wrong, follow_redirects=True)
    assert "本部分有 1 处错误" in r.text
    assert 'class="field-error" role="alert"' in r.text  # beside the field
    yaml_text = client.get(f"{url}/plan.yaml").text
    assert "default_working_days: 0" in yaml_text


def test_towns_and_villages_from_a_campaign_already_running(world: World,
                                                             client_for: Clients) -> None:
    client, csrf = client_for("county")
    url = start(client, csrf, origin="blank", title="新行动")
    fields = dict(forms_of(client.get(f"{url}?section=towns").text).form("/import-towns-from"))
    assert fields["campaign_id"] == str(world.campaign_id)
    r = client.post(f"{url}/import-towns-from", data=fields, follow_redirects=True)
    assert "新增村 63 个" in r.text, r.text[:600]  # seed 002's scope table, one row a village
    assert "槐店回族镇" in r.text or "槐店" in r.text


def test_a_date_condition_is_edited_with_a_date_or_the_check_day(client_for: Clients) -> None:
    """Seed 003's 贷款到期无法偿还 (小额信贷到期日 早于 检查日): its conditions are rows with a
    field, a test, and for a date test a 比较日 (检查日 or 指定日期) and a date picker."""
    client, csrf = client_for("county")
    url = start(client, csrf, origin="seed", seed="seed-003-shaoyun-2022.yaml")
    page = client.get(f"{url}?section=detection").text
    fields = dict(forms_of(page).form("/sections/detection"))
    loan = [k.split(".")[1] for k, v in fields.items()
            if re.fullmatch(r"t2\.\d+\.rule", k) and v == "loan_overdue"]
    assert len(loan) == 2
    due = loan[0]
    assert (fields[f"t2.{due}.field"], fields[f"t2.{due}.test"],
            fields[f"t2.{due}.against"], fields[f"t2.{due}.date"]) == (
        "loan_due", "before", "检查日", "")
    assert '<option value="loan_due" selected>小额信贷到期日（日期）</option>' in page
    assert f'type="date" name="t2.{due}.date"' in page
    assert '<option value="before" selected>早于</option>' in page
    assert '<option value="not_before">不早于</option>' in page
    assert '<option value="检查日" selected>检查日（比对当天）</option>' in page

    def plan_rule() -> tuple[object, ...]:
        plan = load_plan_text(client.get(f"{url}/plan.yaml").text, PLANS)
        return next(r for r in plan.detection.rules if r.code == "loan_overdue").when

    # A fixed date instead of the check day, and a third condition typed into a blank row.
    blank = str(int(fields["t2.rows"]))
    post_section(client, url, "detection", {
        f"t2.{due}.against": "date", f"t2.{due}.date": "2022-10-01",
        f"t2.{blank}.rule": "loan_overdue", f"t2.{blank}.field": "loan_due",
        f"t2.{blank}.test": "not_before", f"t2.{blank}.against": "date",
        f"t2.{blank}.date": "2022-01-01"})
    yaml_text = client.get(f"{url}/plan.yaml").text
    assert re.search(r"- field: 小额信贷到期日\n\s+before: 2022-10-01\n", yaml_text), yaml_text
    assert re.search(r"- field: 小额信贷到期日\n\s+not_before: 2022-01-01\n", yaml_text)
    from duban.domain.plan import ConditionTest, FactCondition

    assert plan_rule() == (
        FactCondition("loan_due", ConditionTest.BEFORE, date=dt.date(2022, 10, 1)),
        FactCondition("loan_repaid", ConditionTest.IS, ("否",)),
        FactCondition("loan_due", ConditionTest.NOT_BEFORE, date=dt.date(2022, 1, 1)))
    # Back to the check day; the added row deleted; every other rule's conditions unchanged.
    post_section(client, url, "detection", {f"t2.{due}.against": "检查日", f"t2.{due}.date": "",
                                            f"t2.{blank}._delete": "1"})
    assert load_plan_text(client.get(f"{url}/plan.yaml").text, PLANS) == load_plan_file(
        PLANS / "seed-003-shaoyun-2022.yaml")
    # A number test on the date is refused beside the condition, naming the rule.
    page = post_section(client, url, "detection", {f"t2.{due}.test": "below",
                                                   f"t2.{due}.number": "3"})
    assert re.search(r'class="has-error">.*?name="t2\.' + due + r'\.test".*?field-error[^>]*>'
                     "规则“贷款到期无法偿还”第1个条件：“小额信贷到期日”是日期字段，不能用 below（低于）",
                     page, re.S), page[page.find("field-error"):][:400]


def test_deleting_a_rule_takes_its_conditions_and_an_unknown_rule_is_named() -> None:
    from duban.adapters.plan.yaml_file import read_plan_data
    from duban.web import editor_form as ef

    data = read_plan_data((PLANS / "seed-003-shaoyun-2022.yaml").read_text(encoding="utf-8"),
                          PLANS)
    section = ef.SECTION_OF["detection"]
    posted = ef.form_texts(section, data)
    for pf in ef.form_of(section, data):
        if pf.part.table:
            posted[f"t{pf.index}.rows"] = str(len(pf.rows))
    codes = [r["code"] for r in data["detection"]["rules"]]
    posted[f"t1.{codes.index('loan_overdue')}._delete"] = "1"
    out, problems = ef.apply_form(section, data, posted)
    assert problems == []
    assert [r["code"] for r in out["detection"]["rules"]] == codes[:-1]
    assert out["detection"]["rules"] == data["detection"]["rules"][:-1]
    # A condition typed for a rule the plan never had is refused, named.
    posted = ef.form_texts(section, data) | {"t2.rows": str(len(ef.condition_rows(data))),
                                             "t1.rows": str(len(codes))}
    blank = len(ef.condition_rows(data))
    posted |= {f"t2.{blank}.rule": "no_such_rule", f"t2.{blank}.field": "loan_due",
               f"t2.{blank}.test": "blank"}
    _, problems = ef.apply_form(section, data, posted)
    assert problems == ["规则的条件（每个条件一行，同一规则的条件须同时成立）：规则“no_such_rule”不在规则表中"]
