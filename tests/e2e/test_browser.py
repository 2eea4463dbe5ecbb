"""End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
a campaign from plan upload through investigation (a ledger import), the supervision notice,
its receipt, a submission with evidence, the review and the closed item, with screenshots.

Screenshots go to $DUBAN_SCREENSHOTS when set (CI keeps them as artifacts), else to the test's
temporary directory. Run as a script (`python tests/e2e/test_browser.py --docs docs/images`)
to write the documentation screenshots of docs/web.md from a richer synthetic campaign.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # when run as a script
    sys.path.insert(0, str(ROOT))

from duban.domain.clock import CHINA_TZ, FixedClock  # noqa: E402
from duban.domain.lifecycle import Role  # noqa: E402
from duban.services.accounts import hash_password  # noqa: E402
from duban.services.actors import add_user  # noqa: E402
from duban.services.database import Database  # noqa: E402
from duban.services.root import Root  # noqa: E402
from tests.conftest import PLANS, require  # noqa: E402

CHROMIUM = os.environ.get("DUBAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--lang=zh-CN"]  # date inputs read 2022/10/24, as the offices write them
PASSWORD = "Browser-test-2022"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(db: Database, clock: FixedClock) -> Iterator[str]:
    """Run the web app with uvicorn on a loopback port in a thread; yields its base URL."""
    import uvicorn

    from duban.web.app import create_app

    app = create_app(Root(db=db, clock=clock), secret_key="e2e-secret-key-" + "x" * 24, cache_seconds=0)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, with no network chatter of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Shots:
    """Numbered screenshots in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def take(self, page: Any, name: str, *, full: bool = True) -> Path:
        path = self.directory / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full)
        self.taken.append(path)
        return path


def sign_in(b: Any, base: str, username: str, viewport: dict[str, int] = DESKTOP,
            password: str = PASSWORD) -> Any:
    """A fresh browser context signed in as a user; returns its page."""
    context = b.new_context(viewport=viewport, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirm() of danger buttons
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/**")
    assert "/login" not in page.url, page.content()[:500]
    return page


def open_move(page: Any, label: str) -> Any:
    """The form of one move on a problem page, unfolded; returns its <details>."""
    details = page.locator(f"details.move:has(summary:text-is('{label}'))")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return details


def add_people(db: Database, clock: FixedClock) -> None:
    """The county clerk, a supervisor, two offices and a town, all with passwords."""
    digest = hash_password(PASSWORD)
    for username, name, role, office, town in (
        ("county", "王主任", Role.COUNTY, "ggb", None),
        ("ducha", "李督查", Role.SUPERVISOR, None, None),
        ("zhujian", "刘科长", Role.OFFICE, "zjj", None),
        ("jiaoyu", "陈科长", Role.OFFICE, "jyj", None),
        ("huaidian", "张镇长", Role.TOWN, None, "huaidian"),
    ):
        db.run(add_user, clock, username=username, name=name, role=role, office=office, town=town,
                 password_hash=digest)


@contextmanager
def browser_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  name: str) -> Iterator[tuple[Database, FixedClock, Shots]]:
    """A browser test's world: chromium present, a data directory, a fresh SQLite database
    with the people, the clock at seed 002's rectification start and a screenshot folder;
    the database disposed of afterwards."""
    reason = chromium_missing()
    require(reason is None, reason or "")
    # Restored afterwards: the session's own data directory (tests/conftest.py) comes back.
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    db = Database(f"sqlite:///{tmp_path / name}")
    db.migrate()
    clock = FixedClock(dt.datetime(2022, 9, 26, 9, 0, tzinfo=CHINA_TZ))
    add_people(db, clock)
    try:
        yield db, clock, Shots(Path(os.environ.get("DUBAN_SCREENSHOTS")
                                    or tmp_path / "screenshots"))
    finally:
        db.dispose()


def ledger_file() -> bytes:
    """A 问题台账 spreadsheet as a town sends it in after the investigation stage."""
    from openpyxl import Workbook

    from duban.domain.columns import PROBLEM_COLUMNS

    rows = [
        ("入户排查", "住房安全", "槐店回族镇", "东关社区", "东关社区张某某家危房未改造，屋面漏雨",
         "王村干", "2022-09-20"),
        ("入户排查", "教育扶持（义务教育）", "槐店回族镇", "南关社区", "适龄儿童李某辍学未劝返",
         "赵村干", "2022-09-21"),
        ("行业排查", "住房安全", "刘庄店镇", "刘庄店村", "危房鉴定资料与实际不符", "住建局核查组",
         "2022-09-22"),
    ]
    wb = Workbook()
    ws = wb.active
    ws.append(list(PROBLEM_COLUMNS))
    for source, category, town, village, text, finder, day in rows:
        values = {"问题来源": source, "问题类别": category, "乡镇": town, "村": village,
                  "问题描述": text, "排查人": finder, "排查日期": day}
        ws.append([values.get(h, "") for h in PROBLEM_COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def run_campaign(b: Any, base: str, shots: Shots, tmp: Path) -> dict[str, Any]:
    """Drive the whole campaign through the browser; returns what it saw."""
    seen: dict[str, Any] = {}
    county = sign_in(b, base, "county")
    cookies = {c["name"]: c for c in county.context.cookies()}
    seen["session_cookie"] = cookies["duban_session"]

    # 1. Launch: a plan with mistakes first, then the real plan with its scope table.
    county.click("nav >> text=行动方案")
    bad = tmp / "有错误的方案.yaml"
    bad.write_bytes((ROOT / "tests/data/plans/ten-mistakes.yaml").read_bytes())
    county.set_input_files("input[name=plan]", str(bad))
    county.click("button:has-text('校验并启动')")
    seen["plan_errors"] = county.locator("table.errors tbody tr").count()
    shots.take(county, "plan-errors")
    county.set_input_files("input[name=plan]", str(PLANS / "seed-002-shenqiu.yaml"))
    county.set_input_files("input[name=scope_table]", str(PLANS / "seed-002-shenqiu-scope.csv"))
    county.click("button:has-text('校验并启动')")
    county.wait_for_selector(".flash-ok")
    seen["launched"] = county.inner_text(".flash-ok")

    # 2. Investigation: the towns' ledger comes in as a spreadsheet.
    county.click("nav >> text=导入")
    sheet = tmp / "问题台账.xlsx"
    sheet.write_bytes(ledger_file())
    county.select_option("select[name=kind]", "problems")
    county.set_input_files("input[name=file]", str(sheet))
    county.click("button:has-text('校验并导入')")
    county.wait_for_selector("text=导入完成")
    seen["imported"] = county.inner_text("section.card:has-text('导入完成')")
    shots.take(county, "import-result")

    # 3. The supervision notices: one per lead office, and one per town (seed 002 sends 督办通知书
    # to departments and 乡镇).
    county.click("nav >> text=通知书")
    county.click("button:has-text('下发督办通知书')")
    county.wait_for_selector(".flash-ok")
    seen["notices"] = county.locator("table tbody tr").count()
    seen["notice_rows"] = county.inner_text("table tbody")
    shots.take(county, "notices-issued")
    county.click("nav >> text=问题台账")
    shots.take(county, "ledger")

    # 4. The housing office signs for its notice and its problems, then submits evidence.
    office = sign_in(b, base, "zhujian")
    office.click("nav >> text=通知书")
    office.click("button:has-text('签收')")
    office.wait_for_selector(".flash-ok")
    seen["acknowledged"] = office.inner_text(".flash-ok")
    office.click("nav >> text=问题台账")
    office.click("a:has-text('东关社区张某某家危房未改造')")
    seen["problem_url"] = office.url
    form = open_move(office, "提交整改")
    before, after = tmp / "整改前.png", tmp / "整改后.png"
    before.write_bytes(PNG)
    after.write_bytes(PNG + b"after")
    form.locator("input[name=before]").set_input_files(str(before))
    form.locator("input[name=after]").set_input_files(str(after))
    form.locator("textarea[name=note]").fill("已加固屋面、更换瓦片，户主签字确认")
    form.locator("button[type=submit]").click()
    office.wait_for_selector(".flash-ok")
    shots.take(office, "submitted-with-evidence")
    phone = sign_in(b, base, "zhujian", PHONE)
    phone.goto(seen["problem_url"])
    shots.take(phone, "problem-phone")

    # 5. The supervision group reviews it; the county closes it.
    sup = sign_in(b, base, "ducha")
    sup.goto(seen["problem_url"])
    form = open_move(sup, "复核通过")
    form.locator("textarea[name=note]").fill("现场核实，整改到位")
    form.locator("button[type=submit]").click()
    sup.wait_for_selector(".flash-ok")
    county.goto(seen["problem_url"])
    open_move(county, "销号").locator("button[type=submit]").click()
    county.wait_for_selector(".flash-ok")
    seen["final_status"] = county.inner_text("h1 .status")
    seen["timeline"] = county.inner_text("ol.timeline")
    seen["images"] = county.locator("figure.evidence img").count()
    shots.take(county, "closed-problem")
    county.click("nav >> text=总览")
    seen["dashboard"] = county.inner_text("section.kpis")
    shots.take(county, "dashboard")

    # 6. A town sees its own villages only; another office cannot open the problem.
    town = sign_in(b, base, "huaidian")
    town.click("nav >> text=问题台账")
    town.select_option("select[name=status]", "")  # 全部, closed ones too
    town.click("form.filters button[type=submit]")
    town.wait_for_load_state()
    seen["town_ledger"] = town.inner_text("table.ledger tbody")
    other = sign_in(b, base, "jiaoyu")
    response = other.goto(seen["problem_url"])
    seen["other_office_status"] = response.status if response else None
    return seen


def test_a_campaign_in_the_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with (browser_world(tmp_path, monkeypatch, "e2e.sqlite3") as (db, clock, shots),
          serve(db, clock) as base, browser() as b):
        seen = run_campaign(b, base, shots, tmp_path)

    cookie = seen["session_cookie"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["secure"]
    assert seen["plan_errors"] >= 10
    assert "行动已启动" in seen["launched"]
    assert "共 3 行，新增 3" in seen["imported"]
    assert seen["notices"] == 4  # 县住建局, 县教育局, and one per town of the imported problems
    assert "县住建局" in seen["notice_rows"] and "县教育局" in seen["notice_rows"]
    assert "已签收通知书" in seen["acknowledged"] and "签收其中问题 2 个" in seen["acknowledged"]
    assert seen["final_status"] == "已销号"
    for step in ("登记", "交办", "签收", "提交整改", "复核通过", "销号"):
        assert step in seen["timeline"], step
    for who in ("刘科长", "李督查", "王主任"):
        assert who in seen["timeline"], who
    assert seen["images"] == 2  # before and after, side by side
    assert "已销号" in seen["dashboard"]
    assert "东关社区" in seen["town_ledger"] and "刘庄店" not in seen["town_ledger"]
    assert seen["other_office_status"] == 404
    assert len(shots.taken) == 8 and all(p.stat().st_size > 10_000 for p in shots.taken)


# ---- documentation screenshots ----------------------------------------------------------
# `python tests/e2e/test_browser.py --docs docs/images` runs the demo's simulated township to
# the middle of the rectification stage (ticks, notices, reminders and simulated clerks, as
# `duban demo` does), rectifies one housing problem by hand with photo-like evidence, and
# photographs the main pages at desktop and phone width.

SHOW_DAY = dt.date(2022, 10, 24)  # past seed 002's 10-20 deadline: colours on the board


def photo(after: bool) -> bytes:
    """A drawn stand-in for a site photo: a farmhouse before or after its roof was redone."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.patches import Polygon, Rectangle

    fig = plt.figure(figsize=(4.8, 3.2), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 48)
    ax.set_ylim(0, 32)
    ax.axis("off")
    ax.add_patch(Rectangle((0, 0), 48, 32, color="#cfe3f3" if after else "#c9cfd6"))
    ax.add_patch(Rectangle((0, 0), 48, 8, color="#9bb27c" if after else "#a3a08a"))
    ax.add_patch(Rectangle((10, 6), 28, 13, color="#efe6d2" if after else "#b9ad97"))
    ax.add_patch(Polygon([(7, 19), (24, 28), (41, 19)], color="#b5442f" if after else "#6d6a66"))
    for x in range(9, 40, 3):
        ax.plot([x, x + 2], [19.4, 20.4], color="#8e3424" if after else "#4f4c48", lw=1)
    if not after:
        for hx, hy in ((18, 22), (28, 21), (23, 24.5)):
            ax.add_patch(Polygon([(hx, hy), (hx + 2.2, hy + 1.2), (hx + 1, hy - 1.4)],
                                 color="#2b2b2b"))
        ax.plot([14, 16, 15, 17.5], [18, 14, 12, 8], color="#5b4d3a", lw=1.2)
    ax.add_patch(Rectangle((21, 6), 6, 8, color="#7a5236"))
    ax.add_patch(Rectangle((13, 11), 5, 4, color="#f7f3e8" if after else "#8c8474"))
    ax.add_patch(Rectangle((30, 11), 5, 4, color="#f7f3e8" if after else "#8c8474"))
    label = "整改后 2022-10-24" if after else "整改前 2022-09-28"
    ax.text(1.2, 29.6, label, fontsize=12, color="white", family="Noto Sans CJK JP",
            bbox={"facecolor": "#00000088", "edgecolor": "none", "pad": 3})
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def build_showcase(root: Path) -> tuple[Database, FixedClock, int, int]:
    """The demo township at SHOW_DAY; returns (db, clock, campaign id, showcased problem id)."""
    from sqlalchemy import select

    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.lifecycle import Action, Payload, Status
    from duban.services import moves
    from duban.services.calendars import working_calendar
    from duban.services.campaigns import launch_campaign
    from duban.services.evidence import UploadedFile
    from duban.services.intake import import_records
    from duban.simulation import People, create_demo_users, morning
    from duban.synth import generate_for_plan
    from flows.tick import run_tick
    from models import Problem

    os.environ["DUBAN_DATA_DIR"] = str(root / "data")
    db = Database(f"sqlite:///{root / 'showcase.sqlite3'}")
    db.migrate()
    os.environ["DUBAN_DATABASE_URL"] = db.engine.url.render_as_string(hide_password=False)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    path = PLANS / "seed-002-shenqiu.yaml"
    plan = load_plan_file(path)
    calendar = working_calendar()
    clock = FixedClock(morning(calendar.add_workdays(plan.start, -1)))
    cid = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "county")
    create_demo_users(db, clock, plan)
    county = generate_for_plan(plan, "township", 2022)
    clock.set(morning(plan.start, 10))
    db.run(import_records, clock, cid, households=county.households, visits=county.visits,
                   problems=county.problems, imported_by="county")
    people = People(db, clock, plan, cid, 2022)
    day = plan.start
    while day <= SHOW_DAY:
        if calendar.is_workday(day):
            clock.set(morning(day))
            run_tick(clock.now().isoformat())
            clock.set(morning(day, 10))
            people.act()
        day += dt.timedelta(days=1)
    # One late housing problem is rectified, reviewed and closed by hand, with photos.
    with db.transaction() as s:
        showcased = s.scalar(select(Problem.id).where(
            Problem.campaign_id == cid, Problem.category == "housing",
            Problem.status == Status.RECTIFYING.value).order_by(Problem.id).limit(1))
        assert showcased is not None, "no housing problem left in rectification"
        p = s.get(Problem, showcased)
        assert p is not None
        lead = p.lead_office or ""
    clock.set(morning(SHOW_DAY, 10) + dt.timedelta(minutes=20))
    db.run(moves.apply, clock, lead, showcased, Action.SUBMIT,
                Payload(note="屋面重新铺瓦、更换檩条，墙体裂缝已修补，户主签字确认"),
                files=[UploadedFile("整改前-屋面.png", photo(False), "before"),
                          UploadedFile("整改后-屋面.png", photo(True), "after")])
    clock.set(morning(SHOW_DAY, 11) + dt.timedelta(minutes=5))
    db.run(moves.apply, clock, "dd1", showcased, Action.PASS_REVIEW, Payload(note="现场复核：屋面、墙体整改到位"))
    clock.set(morning(SHOW_DAY, 14) + dt.timedelta(minutes=40))
    db.run(moves.apply, clock, "county", showcased, Action.CLOSE,
           Payload(note="排查、整改、复核三方签字齐全，同意销号"))
    clock.set(morning(SHOW_DAY, 15))
    return db, clock, cid, showcased


def write_docs_screenshots(out: Path) -> list[Path]:
    """Photograph the main pages at desktop and phone width into `out` (web-*.png)."""
    import tempfile

    from duban.simulation import DEMO_PASSWORD

    reason = chromium_missing()
    if reason:
        raise SystemExit(reason)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="duban-docs-") as tmp:
        db, clock, cid, pid = build_showcase(Path(tmp))
        c = f"?campaign={cid}"
        with db.transaction() as session:
            from sqlalchemy import select

            from models import User

            village = session.scalar(select(User.username).where(User.role == "village")
                                     .order_by(User.username).limit(1))
        shots = [
            # (user, path, name, widths)
            (None, "/login", "login", ("desktop", "phone")),
            ("county", f"/{c}", "dashboard", ("desktop", "phone")),
            ("county", f"/ledger{c}", "ledger", ("desktop", "phone")),
            ("county", f"/problems/{pid}", "problem", ("desktop", "phone")),
            ("county", f"/waiting{c}", "waiting", ("desktop",)),
            ("jyj", f"/notices{c}", "notices", ("desktop", "phone")),
            ("jyj", f"/inbox{c}", "inbox", ("desktop", "phone")),
            ("town-huaidian", f"/{c}", "dashboard-town", ("desktop", "phone")),
            ("jyj", f"/{c}", "dashboard-office", ("phone",)),
            (village, f"/{c}", "dashboard-village", ("phone",)),
            ("town-huaidian", f"/coverage{c}", "coverage", ("desktop",)),
            ("county", f"/ranking{c}", "ranking", ("desktop",)),
            ("county", "/campaigns", "campaigns", ("desktop",)),
            ("county", "/api/docs", "api-docs", ("desktop",)),
        ]
        with serve(db, clock) as base, browser() as b:
            for user, path, name, widths in shots:
                for width in widths:
                    viewport = DESKTOP if width == "desktop" else PHONE
                    context = b.new_context(viewport=viewport, locale="zh-CN",
                                            device_scale_factor=1 if width == "desktop" else 2)
                    page = context.new_page()
                    if user is not None:
                        page.goto(f"{base}/login")
                        page.fill("input[name=username]", user)
                        page.fill("input[name=password]", DEMO_PASSWORD)
                        page.click("button[type=submit]")
                        page.wait_for_url(f"{base}/**")
                    page.goto(base + path)
                    target = out / f"web-{name}-{width}.png"
                    # Desktop: the page down to 2400 px (below that it only repeats);
                    # phone: the first screen, as a phone shows it.
                    if width == "desktop":
                        height = min(page.evaluate("document.body.scrollHeight"), 2400)
                        page.screenshot(path=str(target), full_page=True,
                                        clip={"x": 0, "y": 0, "width": DESKTOP["width"],
                                              "height": height})
                    else:
                        page.screenshot(path=str(target))
                    written.append(target)
                    context.close()
        db.dispose()
    return written


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write the web screenshots of docs/web.md")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "images")
    for written in write_docs_screenshots(parser.parse_args().docs):
        print(written)
