"""A refused submission keeps its input, on a phone (390×844) in headless Chromium.

The office types its note and chooses a 整改前 photo, then sends without the required 整改后
photo: the browser refuses before sending (the field is `required` and marked), the page does
not move, and the note and the chosen file are still there. A file the server refuses by
content draws the page again with the form open, the note kept and the files named. Then the
real photo goes through.

Screenshots go to $DUBAN_SCREENSHOTS/kept when set, else to the test's temporary directory.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import pytest

import tests.web.conftest as web
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.lifecycle import Action, Payload
from duban.services import moves
from duban.services.database import Database
from tests.conftest import require
from tests.e2e.test_browser import (
    PHONE,
    browser,
    chromium_missing,
    open_move,
    photo,
    serve,
    sign_in,
)

NOTE = "已加固屋面，更换瓦片 120 片，户主签字确认"


def _poll(page: Any, script: str, deadline_s: float = 30.0) -> Any:
    """Evaluate until the answer is truthy (no wait_for_function: the CSP forbids eval)."""
    end = time.monotonic() + deadline_s
    while True:
        value = page.evaluate(script)
        if value or time.monotonic() > end:
            return value
        time.sleep(0.1)


def test_a_refused_submission_keeps_the_note_and_the_files(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    reason = chromium_missing()
    require(reason is None, reason or "")
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    shots = Path(os.environ.get("DUBAN_SCREENSHOTS") or tmp_path) / "kept"
    shots.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{tmp_path / 'kept.sqlite3'}")
    db.migrate()
    clock = FixedClock(dt.datetime(2022, 9, 26, 9, 0, tzinfo=CHINA_TZ))
    world = web.build_world(db, clock)
    pid = world.problems["hd_housing"]
    db.run(moves.apply, clock, "off_zjj", pid, Action.ACCEPT, Payload())
    before_photo, after_photo = tmp_path / "整改前.png", tmp_path / "整改后.png"
    before_photo.write_bytes(photo(after=False))
    after_photo.write_bytes(photo(after=True))
    fake = tmp_path / "屋面.jpg"
    fake.write_bytes(b"MZ\x90\x00 not an image at all")
    try:
        with serve(db, clock) as base, browser() as b:
            page = sign_in(b, base, "off_zjj", PHONE, web.PASSWORD)
            page.goto(f"{base}/problems/{pid}")
            form = open_move(page, "提交整改")
            # Required fields are marked before anything is sent.
            assert form.locator("label:has(input[name=after]) .req").count() == 1
            assert form.locator("label:has(textarea[name=note]) .req").count() == 1
            form.locator("textarea[name=note]").fill(NOTE)
            form.locator("input[name=before]").set_input_files(str(before_photo))
            url = page.url
            form.locator("button[type=submit]").click()
            # The browser refuses: the photo is missing. Nothing was sent, nothing is lost.
            message = _poll(page, "document.querySelector('input[name=after]').validationMessage")
            assert message == "请选择整改后照片或材料（至少一份）", message
            assert page.url == url
            assert page.evaluate("document.querySelector('details#form-submit').open")
            assert form.locator("textarea[name=note]").input_value() == NOTE
            assert page.evaluate(
                "document.querySelector('input[name=before]').files[0].name") == "整改前.png"
            page.screenshot(path=str(shots / "browser-refuses.png"), full_page=False)
            assert world.problem("hd_housing").status == "rectifying"

            # A file the server refuses by its content: the page again, form open, note kept.
            form.locator("input[name=after]").set_input_files(str(fake))
            with page.expect_navigation():
                form.locator("button[type=submit]").click()
            assert page.evaluate("document.querySelector('details#form-submit').open")
            kept = page.locator("details#form-submit")
            assert kept.locator("textarea[name=note]").input_value() == NOTE
            reason_text = kept.locator(".form-error").inner_text()
            assert "屋面.jpg" in reason_text and "请重新选择" in reason_text
            assert "文件类型不允许" in page.inner_text("main")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], width
            kept.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "server-refuses.png"), full_page=False)
            assert world.problem("hd_housing").status == "rectifying"

            # Choose the files again and send: accepted.
            kept.locator("input[name=before]").set_input_files(str(before_photo))
            kept.locator("input[name=after]").set_input_files(str(after_photo))
            with page.expect_navigation():
                kept.locator("button[type=submit]").click()
            assert "已提交整改" in page.inner_text("main")
            page.context.close()
    finally:
        db.dispose()
    assert world.problem("hd_housing").status == "submitted"
