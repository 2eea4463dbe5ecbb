"""Every role's main pages on a phone (390×844) in headless Chromium: nothing wider than the
screen, and no office, town or user code where a person reads a name.

Screenshots go to $DUBAN_SCREENSHOTS/phone when set, else to the test's temporary directory.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

import tests.web.conftest as web
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.services.calendars import working_calendar
from duban.services.database import Database
from duban.services.duties import create_occurrences
from duban.services.notices.issuing import issue_notices
from tests.conftest import require
from tests.e2e.test_browser import PHONE, browser, chromium_missing, serve, sign_in
from tests.web.test_duties_pages import give_housing_milestones

PAGES = ("/", "/ledger?status=", "/waiting", "/notices", "/inbox", "/coverage", "/ranking",
         "/spotchecks", "/campaigns", "/imports", "/people")
# Codes of the world's offices, towns, villages, categories and sources, and user logins.
CODES = ("zjj", "jyj", "ggb", "gov-huaidian", "huaidian", "liuzhuangdian", "huaidian-01",
         "housing", "education", "household", "off_zjj", "town_hd", "vil_hd1", "county")
CODE_RE = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, CODES)) + r")(?![\w-])")


def _world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Database, FixedClock, int]:
    """Seed 002's web world on a file database, two weeks into rectification: notices out,
    recurring duties open and missed, housing problems with milestones."""
    give_housing_milestones(monkeypatch)
    db = Database(f"sqlite:///{tmp_path / 'phone.sqlite3'}")
    db.migrate()
    clock = FixedClock(dt.datetime(2022, 9, 26, 9, 0, tzinfo=CHINA_TZ))
    world = web.build_world(db, clock)
    db.run(issue_notices, clock, world.campaign_id, issued_by="county", batch_key="phone")
    clock.set(dt.datetime(2022, 10, 11, 9, 0, tzinfo=CHINA_TZ))
    with db.unit_of_work() as uow:
        create_occurrences(uow, clock, world.campaign_id, working_calendar())
        uow.commit()
    return db, clock, world.problems["hd_housing"]


# Dates (2022-10-20) in table cells printed over more than one line.
BROKEN_DATES = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.querySelector('main') || document.body,
                                         NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!n.parentElement || !n.parentElement.closest('td')) continue;
    for (const m of n.data.matchAll(/\\d{4}-\\d{2}-\\d{2}/g)) {
      const r = document.createRange();
      r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
      const tops = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
      if (tops.size > 1) out.push(m[0]);
    }
  }
  return out;
}"""


def test_every_roles_pages_fit_a_phone_and_name_names(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    reason = chromium_missing()
    require(reason is None, reason or "")
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path / "data"))
    shots = Path(os.environ.get("DUBAN_SCREENSHOTS") or tmp_path) / "phone"
    shots.mkdir(parents=True, exist_ok=True)
    db, clock, problem = _world(tmp_path, monkeypatch)
    too_wide: list[str] = []
    broken: list[str] = []
    codes: list[str] = []
    seen = 0
    try:
        with serve(db, clock) as base, browser() as b:
            for username in web.USERS:
                page = sign_in(b, base, username, PHONE, web.PASSWORD)
                for path in (*PAGES, f"/problems/{problem}"):
                    response = page.goto(base + path)
                    assert response is not None
                    if response.status in (403, 404):  # not this role's page
                        continue
                    assert response.status == 200, (username, path, response.status)
                    seen += 1
                    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                    width = page.evaluate("document.documentElement.scrollWidth")
                    name = f"{username}{path.split('?')[0].replace('/', '_') or '_home'}"
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                    if width > PHONE["width"]:
                        too_wide.append(f"{username} {path}: {width}px")
                    broken += [f"{username} {path}: {d}" for d in page.evaluate(BROKEN_DATES)]
                    # The users page lists logins on purpose (用户名); elsewhere, names only.
                    text = page.inner_text("main") if path != "/people" else ""
                    codes += [f"{username} {path}: {m}" for m in CODE_RE.findall(text)]
                page.context.close()
    finally:
        db.dispose()
    assert seen >= 60, seen  # every role sees most pages
    assert not too_wide, too_wide
    assert not broken, broken  # a ledger card's 时限 read 2022- / 10-20
    assert not codes, codes
