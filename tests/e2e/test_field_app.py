"""The phone app in a real headless Chromium at phone size (issue 18).

A village cadre signs in, downloads a village of 500 households, goes offline, records 20
visits with photos and both signatures, reloads the page (the visits are still there), goes
online, syncs, and finds the problems detected from those visits in the ledger with the cadre as
排查人. The slow run kills the server in the middle of a sync, restarts it and syncs again:
every visit and photo is stored once.

`duban serve` runs as a child process over a SQLite file (so it can be killed and restarted on
the same port: the phone's data belongs to that origin). Screenshots go to $DUBAN_SCREENSHOTS
when set, else to the test's temporary directory. `python tests/e2e/test_field_app.py --docs
docs/images/field` writes the screenshots of the cadres' guide (docs/field-guide.md).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
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

from sqlalchemy import func, select  # noqa: E402

from duban.adapters.children import OwnedChild  # noqa: E402
from duban.adapters.plan.yaml_file import load_plan_text  # noqa: E402
from duban.domain.clock import FixedClock  # noqa: E402
from duban.domain.household import HouseholdCategory, HouseholdFacts  # noqa: E402
from duban.domain.lifecycle import Role  # noqa: E402
from duban.services.accounts import hash_password  # noqa: E402
from duban.services.actors import add_user  # noqa: E402
from duban.services.campaigns import launch_campaign  # noqa: E402
from duban.services.database import Database  # noqa: E402
from duban.services.intake import write_households  # noqa: E402
from models import tables as t  # noqa: E402
from tests.conftest import PLANS, require  # noqa: E402
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, Shots, chromium_missing  # noqa: E402

PASSWORD = "Field-test-2022"
NOW = "2022-09-20T10:00:00+08:00"
VILLAGE = "huaidian-01"
CADRE = ("cadre", "孙书记")  # the village's cadre: username, name
WATER = ("slj_field", "水利局李工")  # field staff of 县水利局, which leads 饮水安全
HOUSEHOLDS = 500
VISITS = 20
# seed 002 asks the household to sign too (谁排查谁签字 for the household's own account)
VISITS_SECTION = "\nvisits:\n  household_signature: true\n  photo_max_kb: 1024\n"


def household(n: int) -> HouseholdFacts:
    """A 脱贫户 of 东关社区 with nothing to find."""
    return HouseholdFacts(f"HD{n:05d}", "huaidian", VILLAGE, f"东关户主{n:03d}", 3,
                          HouseholdCategory.LIFTED, None, 9000, "A", True, 0, 0, True, True)


def build(url: str) -> None:
    """Seed 002 launched on 2022-09-20, a village cadre and the county, 500 households."""
    db = Database(url)
    db.migrate()
    clock = FixedClock(dt.datetime.fromisoformat(NOW))
    path = PLANS / "seed-002-shenqiu.yaml"
    text = path.read_text(encoding="utf-8") + VISITS_SECTION
    plan = load_plan_text(text, base_dir=path.parent)
    cid = db.run(launch_campaign, clock, plan, text, "county")
    hashed = hash_password(PASSWORD)
    db.run(add_user, clock, username=CADRE[0], name=CADRE[1], role=Role.VILLAGE,
           town="huaidian", village=VILLAGE, password_hash=hashed)
    db.run(add_user, clock, username="county", name="王主任", role=Role.COUNTY, office="ggb",
           password_hash=hashed)
    db.run(add_user, clock, username=WATER[0], name=WATER[1], role=Role.OFFICE, office="slj",
           password_hash=hashed)
    rows = [household(n) for n in range(1, HOUSEHOLDS + 1)]
    db.run(lambda uow: write_households(uow.session, cid, rows))
    db.engine.dispose()


class Server:
    """`duban serve` on a fixed port over a SQLite file; stoppable, killable, restartable."""

    def __init__(self, tmp: Path, url: str, port: int) -> None:
        self.tmp, self.url, self.port = tmp, url, port
        self.base = f"http://127.0.0.1:{port}"
        self.child: OwnedChild | None = None
        self.log = (tmp / "serve.log").open("ab")

    def start(self) -> None:
        import httpx

        env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATA_DIR": str(self.tmp / "data"),
               "DUBAN_SECRET_KEY": "field-e2e-secret-" + "x" * 24}
        self.child = OwnedChild([sys.executable, "-c", "from duban.cli import main; main()",
                                 "--db", self.url, "--now", NOW, "serve", "--no-scheduler",
                                 "--host", "127.0.0.1", "--port", str(self.port)],
                                env=env, cwd=ROOT, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/login", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if not self.child.running() or time.monotonic() > deadline:
                raise AssertionError("duban serve did not start: " + (
                    self.tmp / "serve.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL, as a power cut would: no cleanup, requests in flight lost."""
        assert self.child is not None
        self.child.kill()

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None


@contextmanager
def field_server(tmp: Path) -> Iterator[Server]:
    from tests.web.serving import free_port

    url = f"sqlite:///{tmp / 'field.db'}"
    build(url)
    server = Server(tmp, url, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.log.close()


def photo_jpeg(seed: int) -> bytes:
    """A camera-like photo (1600×1200, noisy enough to weigh a few hundred KB)."""
    from PIL import Image

    rnd = random.Random(seed)
    img = Image.effect_noise((400, 300), 60).convert("RGB").resize((1600, 1200))
    tint = Image.new("RGB", img.size, (rnd.randrange(256), rnd.randrange(256), 90))
    out = io.BytesIO()
    Image.blend(img, tint, 0.4).save(out, "JPEG", quality=90)
    return out.getvalue()


def sign(page: Any, canvas: Any) -> None:
    """Draw a signature with the 'finger' (mouse) on a canvas."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(x + i * 22, y + (18 if i % 2 else -18), steps=2)
    page.mouse.up()


def open_app(b: Any, base: str, who: tuple[str, str] = CADRE) -> tuple[Any, Any]:
    """A phone-sized context signed in (the cadre by default), on the app's start page."""
    context = b.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2,
                            is_mobile=True, has_touch=True)
    context.grant_permissions([])  # no position: the app says so and saves anyway
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{base}/m/")
    page.wait_for_url("**/login**")
    page.fill("input[name=username]", who[0])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/m/#/c/*")
    page.wait_for_selector("text=我负责的村" if who == CADRE else "text=整改提交")
    # the service worker controls the page before the network goes away. Polled from here:
    # wait_for_function compiles its string with eval, which the app's CSP (script-src 'self')
    # refuses whenever the first check is false; page.evaluate runs outside the page's CSP.
    deadline = time.monotonic() + 30
    while not page.evaluate("() => Boolean(navigator.serviceWorker?.controller)"):
        assert time.monotonic() < deadline, "service worker never took control of /m/"
        page.wait_for_timeout(100)
    return context, page


def record_visit(page: Any, n: int, jpeg: bytes) -> None:
    """One visit to household n: facts, a photo, both signatures, saved on the phone."""
    page.click(f"a[href$='/HD{n:05d}']")
    page.wait_for_selector("form.visit")
    if n % 2 == 0:
        page.select_option("select[data-key=tap_water]", "否")  # → 饮水安全 problem
    if n % 5 == 0:
        page.select_option("select[data-key=house_grade]", "C")  # → 住房安全 problem
    if n % 7 == 0:
        page.check("input[name=mode][value=代答]")
        page.fill("input[name=answered_by]", "户主之子")
    page.fill("textarea[name=findings]", f"第{n}户：走访了解家庭生产生活情况")
    page.set_input_files("input.camera >> nth=0", files=[
        {"name": f"IMG_{n:04d}.jpg", "mimeType": "image/jpeg", "buffer": jpeg}])
    page.wait_for_selector(".photos img")
    canvases = page.locator("canvas.sign")
    sign(page, canvases.nth(0))
    sign(page, canvases.nth(1))
    page.click("button[type=submit]")
    page.wait_for_selector("input.search")  # back on the household list


def visits_in_db(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        with db.transaction() as s:
            def n(stmt: Any) -> int:
                return int(s.scalar(stmt) or 0)
            return {
                "visits": n(select(func.count()).select_from(t.visit)),
                "field_visits": n(select(func.count()).select_from(t.field_visit)),
                "distinct_clients": n(select(func.count(func.distinct(t.field_visit.c.client_id)))),
                "photos": n(select(func.count()).select_from(t.field_visit_file)
                            .where(t.field_visit_file.c.kind == "photo")),
                "signatures": n(select(func.count()).select_from(t.field_visit_file)
                                .where(t.field_visit_file.c.kind != "photo")),
                "problems": n(select(func.count()).select_from(t.problem)),
                "problems_by_cadre": n(select(func.count()).select_from(t.problem)
                                       .where(t.problem.c.found_by == CADRE[1])),
                "linked": n(select(func.count()).select_from(t.field_visit_problem)),
            }
    finally:
        db.engine.dispose()


def expected_problems() -> int:
    hits = range(1, VISITS + 1)
    return sum(1 for n in hits if n % 2 == 0) + sum(1 for n in hits if n % 5 == 0)


def run_scenario(tmp: Path, shots: Shots, *, kill_midway: bool) -> dict[str, int]:
    from playwright.sync_api import sync_playwright

    with field_server(tmp) as server, sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context, page = open_app(b, server.base)
            shots.take(page, "villages")
            page.click("button:text-is('下载')")
            page.wait_for_selector("text=已下载 500 户")
            context.set_offline(True)
            page.click("a.button:text-is('走访')")
            page.wait_for_selector("input.search")
            assert page.locator("ul.households > li").count() == HOUSEHOLDS
            shots.take(page, "households", full=False)
            jpeg = photo_jpeg(1)
            for n in range(1, VISITS + 1):
                if n == 2:
                    page.click(f"a[href$='/HD{n:05d}']")
                    page.wait_for_selector("form.visit")
                    page.select_option("select[data-key=tap_water]", "否")
                    page.set_input_files("input.camera >> nth=0", files=[
                        {"name": "IMG.jpg", "mimeType": "image/jpeg", "buffer": jpeg}])
                    page.wait_for_selector(".photos img")
                    sign(page, page.locator("canvas.sign").nth(0))
                    shots.take(page, "visit-form")
                    page.go_back()
                    page.wait_for_selector("input.search")
                record_visit(page, n, jpeg)
            shots.take(page, "households-visited", full=False)
            # offline reload: the worker serves the app, IndexedDB still has every visit
            page.reload()
            page.wait_for_selector("text=待同步 20 条")
            page.goto(page.url.split("#")[0] + "#/c/1/sync")
            page.wait_for_selector("section[data-state=pending] h2:text('待同步（20）')")
            shots.take(page, "sync-pending", full=False)
            assert visits_in_db(server.url)["visits"] == 0
            if kill_midway:
                calls = {"n": 0}

                def cut(route: Any) -> None:
                    calls["n"] += 1
                    if calls["n"] == 8:  # the server dies while this upload is on its way
                        threading.Timer(0.01, server.kill).start()
                    route.continue_()

                page.route("**/api/m/campaigns/*/visits", cut)
            context.set_offline(False)
            page.click("#sync-now")
            if kill_midway:
                page.wait_for_selector("text=同步中断", timeout=60_000)
                midway = visits_in_db(server.url)
                assert 0 < midway["visits"] < VISITS, midway
                shots.take(page, "sync-cut", full=False)
                page.unroute("**/api/m/campaigns/*/visits")
                server.start()
                page.click("#sync-now")
            page.wait_for_selector("section[data-state=accepted] h2:text('已同步（20）')",
                                   timeout=120_000)
            assert page.locator("section[data-state=pending]").count() == 0
            shots.take(page, "synced")
            counts = visits_in_db(server.url)
            # the ledger names the cadre as 排查人
            page.goto(f"{server.base}/ledger?campaign=1")
            page.wait_for_selector("text=问题台账")
            shots.take(page, "ledger", full=False)
            first = page.locator("a[href^='/problems/']").first
            first.click()
            page.wait_for_selector(f"text={CADRE[1]}")
            shots.take(page, "problem")
            context.close()
            rectify_from_the_app(b, server, shots)
        finally:
            b.close()
    return counts


def rectify_from_the_app(b: Any, server: Server, shots: Shots) -> None:
    """县水利局's field staff sign for a water problem and submit it with before/after photos."""
    context, page = open_app(b, server.base, WATER)
    page.click("a.button:text('整改提交')")
    page.wait_for_selector("ul.list a.row")
    page.locator("ul.list a.row").first.click()
    page.click("button:text-is('签收')")
    page.wait_for_selector("text=整改后")
    page.set_input_files("input.camera >> nth=0", files=[
        {"name": "before.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(2)}])
    page.set_input_files("input.camera >> nth=1", files=[
        {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(3)}])
    page.locator(".photos img").nth(1).wait_for()
    page.fill("textarea", "已接通自来水，入户查看水质正常")
    shots.take(page, "rectify")
    page.click("button:text-is('提交整改')")
    page.wait_for_selector("text=已提交整改")
    context.close()
    db = Database(server.url)
    try:
        with db.transaction() as s:
            submitted = s.execute(select(t.problem.c.id).where(
                t.problem.c.status == "submitted")).scalars().all()
            phases = sorted(s.execute(select(t.evidence.c.phase)).scalars().all())
    finally:
        db.engine.dispose()
    assert len(submitted) == 1 and phases == ["after", "before"]


def _check(counts: dict[str, int]) -> None:
    assert counts["visits"] == counts["field_visits"] == counts["distinct_clients"] == VISITS
    assert counts["photos"] == VISITS  # one photo each, stored once
    assert counts["signatures"] == 2 * VISITS
    assert counts["problems"] == counts["problems_by_cadre"] == expected_problems()
    assert counts["linked"] == expected_problems()


def test_field_app_offline_visits_sync_to_the_ledger(tmp_path: Path) -> None:
    missing = chromium_missing()
    require(missing is None, missing or "")
    shots = Shots(Path(os.environ.get("DUBAN_SCREENSHOTS") or tmp_path / "shots") / "field")
    _check(run_scenario(tmp_path, shots, kill_midway=False))


@pytest.mark.slow
def test_field_app_sync_survives_a_server_killed_midway(tmp_path: Path) -> None:
    missing = chromium_missing()
    require(missing is None, missing or "")
    shots = Shots(Path(os.environ.get("DUBAN_SCREENSHOTS") or tmp_path / "shots") / "field-cut")
    _check(run_scenario(tmp_path, shots, kill_midway=True))


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="the cadres' guide screenshots")
    parser.add_argument("--docs", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _check(run_scenario(Path(tmp), Shots(args.docs), kill_midway=False))
    print(f"screenshots in {args.docs}")
