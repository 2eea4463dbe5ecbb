"""Names, never codes (issue 14): a campaign run as the demo runs it, then every CLI table and
every page each role opens scanned for every code of the plan.

The campaign is seed 002 on a small generated county, driven as `duban demo` drives it (the
demo's accounts and simulated people, the tick's tasks called in process rather than through
a Prefect server): the ledger imported, notices issued and signed for, a week of moves,
reminders up the ladder past the deadline, spot checks, a daily report and its messages.
The codes are every `code` in the plan (offices, towns, villages, categories, sources,
deadline tiers, supervision groups, rungs, penalty and detection rules, duties), the stage
kinds and the offices of the villages (各村). A code may appear where a script asks for it
(`--json`) and as a login in the users page's 用户名 column; nowhere else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.adapters.plan.yaml_file import load_plan_file
from duban.cli import cli
from duban.domain.clock import CHINA_TZ, FixedClock
from duban.domain.plan import Plan, StageKind
from duban.domain.routing import village_office_code
from duban.services.calendars import working_calendar
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.intake import import_records
from duban.services.notices.issuing import issue_notices
from duban.services.root import Root, build_root, install_root
from duban.simulation import DEMO_PASSWORD, People, create_demo_users, morning, plan_path
from duban.synth import generate_for_plan
from duban.web.app import create_app
from models import Problem
from tests.web.conftest import csrf_of

PAGES = ("/", "/ledger?status=", "/waiting", "/notices", "/inbox", "/coverage", "/ranking",
         "/spotchecks", "/campaigns", "/imports", "/people", "/calendar", "/plans/drafts")


def plan_codes(plan: Plan) -> set[str]:
    """Every code of the plan a person could be shown by mistake (those with Latin letters:
    a code written in Chinese, as seed 001's milestones 开工/完工, is a name)."""
    found: set[str] = {k.value for k in StageKind}

    def walk(value: Any) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                item = getattr(value, f.name)
                if f.name == "code" and isinstance(item, str):
                    found.add(item)
                else:
                    walk(item)
        elif isinstance(value, tuple | list):
            for item in value:
                walk(item)

    walk(plan)
    found |= {village_office_code(v.code) for t in plan.towns for v in t.villages}
    return {c for c in found if re.search(r"[A-Za-z]", c)}


class Scanner:
    """Finds codes in text a person reads."""

    def __init__(self, codes: set[str]) -> None:
        # Longest first, so village:xx is reported whole rather than as xx.
        alternatives = "|".join(map(re.escape, sorted(codes, key=len, reverse=True)))
        self.pattern = re.compile(rf"(?<![\w:-])({alternatives})(?![\w:-])")
        self.found: list[str] = []

    def scan(self, where: str, text: str) -> list[str]:
        # A command a person is told to type (`duban audit show W000001`) is not a code shown.
        text = re.sub(r"duban(?: [a-z-]+){1,2}", " ", text)
        hits = sorted(set(self.pattern.findall(text)))
        self.found += [f"{where}: {h}" for h in hits]
        return hits


def page_text(markup: str) -> str:
    """What a person reads on a page: the text, the options, the placeholders and titles;
    not scripts, styles, the users page's logins (class="login", the 用户名 cell) or attribute
    values."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S)
    markup = re.sub(r'<(\w+)[^>]*(?:class="[^"]*\blogin\b[^"]*"|data-label="用户名")[^>]*>.*?</\1>',
                    " ", markup, flags=re.S)
    shown = " ".join(re.findall(r'(?:placeholder|title|alt|data-confirm)="([^"]*)"', markup))
    return html.unescape(re.sub(r"<[^>]+>", " ", markup) + " " + shown)


@dataclasses.dataclass
class Ran:
    db: Database
    clock: FixedClock
    campaign_id: int
    plan: Plan
    accounts: list[list[str]]
    plan_name: str


def run_campaign(tmp: Path, plan_name: str) -> Ran:
    """Launch, import, and a working fortnight across the deadline, as the demo does."""
    from tasks.orchestration import (
        arm_task,
        daily_report_task,
        deliver_task,
        duties_task,
        notice_round_task,
        spot_checks_task,
        sweep_task,
    )

    path = plan_path(plan_name)
    plan = load_plan_file(path)
    db = Database(f"sqlite:///{tmp / 'scan.sqlite3'}")
    db.migrate()
    install_root(build_root(db=db))
    calendar = working_calendar()
    clock = FixedClock(morning(calendar.add_workdays(plan.start, -1)))
    cid = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "demo")
    accounts = create_demo_users(db, clock, plan)
    county = generate_for_plan(plan, "small", 2022)
    clock.set(morning(plan.start, 10))
    db.run(import_records, clock, cid, households=county.households, visits=county.visits,
           problems=county.problems, imported_by="county")
    rectify = min(s.start for s in plan.stages if s.kind is StageKind.RECTIFY)
    people = People(db, clock, plan, cid, 2022)
    # The first days of rectification, then days around the deadlines so the ladder fires.
    days = [calendar.add_workdays(rectify, n) for n in range(4)]
    with db.transaction() as s:
        deadlines = sorted(set(s.scalars(select(Problem.deadline).where(
            Problem.campaign_id == cid, Problem.deadline.is_not(None)))))
    if deadlines:
        first = deadlines[0]
        days += [calendar.add_workdays(first, n) for n in (-1, 1, 4, 8)]
    day = rectify
    for i, day in enumerate(sorted(set(days))):
        clock.set(morning(day))
        now = clock.now().isoformat()
        if i == 0:
            db.run(issue_notices, clock, cid, issued_by="system", batch_key="scan")
            arm_task.fn(cid)
        spot_checks_task.fn(cid, now)
        notice_round_task.fn(cid, now)
        sweep_task.fn(cid, now)
        duties_task.fn(cid, now)
        clock.set(morning(day, 10))
        people.act()
        deliver_task.fn(clock.now().isoformat())
    evening = dt.datetime.combine(day, plan.reports.daily_at, tzinfo=CHINA_TZ) \
        + dt.timedelta(minutes=30)
    clock.set(evening)
    daily_report_task.fn(cid, evening.isoformat())
    deliver_task.fn(evening.isoformat())
    return Ran(db, clock, cid, plan, accounts, plan_name)


# Seed 002 (the demo's default) always; the other seeds' campaigns where a run has time.
SEEDS = [pytest.param("seed-002", id="seed-002"),
         *(pytest.param(s, id=s, marks=pytest.mark.slow)
           for s in ("seed-000", "seed-001", "seed-003", "seed-004"))]


@pytest.fixture(scope="module", params=SEEDS)
def ran(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ran]:
    tmp = tmp_path_factory.mktemp("scan")
    import os

    old = os.environ.get("DUBAN_DATA_DIR")
    os.environ["DUBAN_DATA_DIR"] = str(tmp / "data")
    try:
        result = run_campaign(tmp, request.param)
        yield result
        result.db.dispose()
    finally:
        install_root(None)
        if old is None:
            os.environ.pop("DUBAN_DATA_DIR", None)
        else:
            os.environ["DUBAN_DATA_DIR"] = old


def test_the_scanner_finds_a_code(ran: Ran) -> None:
    """The scan can fail: a code in a sentence, in a table cell, an office of a village."""
    scanner = Scanner(plan_codes(ran.plan))
    office = ran.plan.offices[0]
    village = ran.plan.towns[0].villages[0]
    text = page_text(f"<td>{office.code}</td><p>主送：{office.name}、"
                     f"{village_office_code(village.code)}</p><i class=\"login\">{office.code}</i>")
    assert scanner.scan("self-test", text) == sorted({office.code,
                                                      village_office_code(village.code)})
    assert "investigate" in plan_codes(ran.plan) and "rectify" in plan_codes(ran.plan)


def _problems(ran: Ran) -> list[str]:
    """One problem code of each status, and a problem with a village co-office."""
    with ran.db.transaction() as s:
        rows = s.execute(select(Problem.code, Problem.status).where(
            Problem.campaign_id == ran.campaign_id).order_by(Problem.id)).all()
    seen: dict[str, str] = {}
    for code, status in rows:
        seen.setdefault(status, code)
    return list(seen.values())


def test_no_cli_table_shows_a_code(ran: Ran) -> None:
    started = time.perf_counter()
    scanner = Scanner(plan_codes(ran.plan))
    cid = str(ran.campaign_id)
    now = ran.clock.now().isoformat()
    some = _problems(ran)
    assert len(some) >= 2, some  # several statuses reached
    commands: list[list[str]] = [
        ["campaign", "list"], ["campaign", "show", cid],
        ["problem", "list", "--campaign", cid, "--limit", "500"],
        ["problem", "list", "--campaign", cid, "--unrouted"],
        ["problem", "list", "--campaign", cid, "--overdue"],
        ["notice", "list", cid], ["user", "list"], ["substitute", "list"],
        ["spotcheck", "list", "--campaign", cid], ["outbox", "list", "--campaign", cid,
                                                    "--limit", "500"],
        ["duty", "list", "--campaign", cid], ["review", "reopen-rate", "--campaign", cid],
        ["coverage", "--campaign", cid], ["report", "penalties", "--campaign", cid],
        ["report", "penalties", "--campaign", cid, "--by", "town"],
        ["plan", "check", str(plan_path(ran.plan_name))],
    ]
    for code in some:
        commands += [["problem", "show", code, "--campaign", cid],
                     ["audit", "show", code, "--campaign", cid],
                     ["milestone", "list", code, "--campaign", cid],
                     ["evidence", "list", code, "--campaign", cid],
                     ["problem", "moves", code, "--campaign", cid, "--as", "county"]]
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(cli, ["--now", now, *args], obj=ran.db)
        assert result.exit_code == 0, (args, result.output[-2000:])
        output = result.output
        if args[:2] == ["user", "list"]:  # the first column is the login, on purpose
            output = "\n".join(line.split(None, 1)[-1] if line.strip() else ""
                                for line in output.splitlines())
        scanner.scan("duban " + " ".join(args), output)
    assert not scanner.found, "\n".join(scanner.found)
    # Codes are for scripts: --json carries them.
    scripted = runner.invoke(cli, ["--now", now, "problem", "list", "--campaign", cid, "--json",
                                   "--limit", "20"], obj=ran.db)
    assert scripted.exit_code == 0 and Scanner(plan_codes(ran.plan)).scan("json", scripted.output)
    print(f"CLI scan: {len(commands)} commands in {time.perf_counter() - started:.1f} s")


def test_no_page_shows_a_code_to_any_role(ran: Ran) -> None:
    started = time.perf_counter()
    scanner = Scanner(plan_codes(ran.plan))
    app = create_app(Root(db=ran.db, clock=ran.clock), secret_key="scan-" + "x" * 32,
                     cache_seconds=0)
    with ran.db.transaction() as s:
        ids = list(s.scalars(select(Problem.id).where(
            Problem.campaign_id == ran.campaign_id).order_by(Problem.id).limit(400)))
    problems = ids[:: max(len(ids) // 12, 1)]
    usernames = [row[1] for row in ran.accounts]
    gov = next((o.code for o in ran.plan.offices if o.code.startswith("gov-")), None)
    if gov:
        usernames.append(gov)  # a town government as an office
    opened = 0
    for username in usernames:
        with TestClient(app, base_url="http://testserver") as client:
            login = client.get("/login")
            r = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                            "csrf_token": csrf_of(login.text), "next": "/"},
                            follow_redirects=False)
            assert r.status_code == 303, (username, r.text[:300])
            paths = [*PAGES, *(f"/problems/{p}" for p in problems)]
            notices = client.get("/api/notices", params={"campaign": ran.campaign_id})
            if notices.status_code == 200:
                items = notices.json()
                items = items.get("items", items) if isinstance(items, dict) else items
                paths += [f"/notices/{n['id']}" for n in items[:3] if "id" in n]
            for path in paths:
                page = client.get(path)
                if page.status_code in (403, 404, 405):
                    continue
                assert page.status_code == 200, (username, path, page.status_code)
                if "text/html" not in page.headers.get("content-type", ""):
                    continue
                opened += 1
                scanner.scan(f"{username} {path}", page_text(page.text))
    assert opened >= 40, opened
    assert not scanner.found, "\n".join(scanner.found)
    print(f"page scan: {opened} pages in {time.perf_counter() - started:.1f} s")
