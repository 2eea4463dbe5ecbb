"""今天要办 on a phone (390×844) in headless Chromium, for every role: the block is on the
first screen, and its numbers are the user's scoped counts.

Screenshots go to $DUBAN_SCREENSHOTS/today when set, else to the test's temporary directory.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

import tests.web.conftest as web
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.database import Database
from duban.services.scoping import problem_clause, scope_for
from duban.services.views.common import OPEN
from models import Problem
from tests.conftest import require
from tests.e2e.test_browser import PHONE, browser, chromium_missing, serve, sign_in
from tests.web.test_today_work import _dated, _expected

# The tiles as the browser shows them: {key: number}, read without eval of strings by the page.
TILES_JS = """() => Object.fromEntries([...document.querySelectorAll('#today .today-tile')]
  .map(a => [a.dataset.key, Number(a.querySelector('.today-n').textContent)]))"""
BOX_JS = """() => { const r = document.getElementById('today').getBoundingClientRect();
  return [r.top + window.scrollY, r.bottom + window.scrollY]; }"""


def _windows(db: Database, username: str, today: dt.date) -> dict[str, int]:
    """Due today, this week (to Sunday) and overdue, counted in SQL inside the user's scope."""
    sunday = today + dt.timedelta(days=6 - today.weekday())
    with db.transaction() as s:
        scope = scope_for(s, username, today)
        mine = (Problem.campaign_id == 1, problem_clause(scope), Problem.status.in_(OPEN))

        def count(*where: object) -> int:
            return int(s.scalar(select(func.count()).select_from(Problem)
                                .where(*mine, *where)) or 0)  # type: ignore[arg-type]

        return {"today": count(Problem.deadline == today),
                "week": count(Problem.deadline >= today, Problem.deadline <= sunday),
                "overdue": count(Problem.deadline < today)}


def test_every_roles_day_is_on_the_first_phone_screen(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    reason = chromium_missing()
    require(reason is None, reason or "")
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    shots = Path(os.environ.get("DUBAN_SCREENSHOTS") or tmp_path) / "today"
    shots.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{tmp_path / 'today.sqlite3'}")
    db.migrate()
    clock = FixedClock(dt.datetime(2022, 9, 26, 9, 0, tzinfo=CHINA_TZ))
    world = web.build_world(db, clock)
    assert world.campaign_id == 1
    _dated(world)
    today = clock.now().date()
    try:
        with serve(db, clock) as base, browser() as b:
            for username in web.USERS:
                page = sign_in(b, base, username, PHONE, web.PASSWORD)
                top, bottom = page.evaluate(BOX_JS)
                page.screenshot(path=str(shots / f"{username}.png"))
                assert 0 <= top < bottom <= PHONE["height"], (username, top, bottom)
                tiles = page.evaluate(TILES_JS)
                assert tiles == _expected(world, username), username
                windows = _windows(db, username, today)
                assert {k: tiles[k] for k in windows} == windows, username
                assert sum(windows.values()) > 0, username  # every role has some
                # A tile opens the ledger listing exactly its items.
                page.click("#today .today-tile[data-key=week]")
                page.wait_for_url("**/ledger?**")
                assert f"共 {tiles['week']} 条" in page.inner_text("main"), username
                page.context.close()
    finally:
        db.dispose()
