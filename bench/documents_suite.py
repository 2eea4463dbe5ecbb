"""Document benchmarks (issues 4, 16, 17): issuing notices and rendering them, against a floor.

The measured figure is `duban.services.notices.issuing.issue_notices` for 500 offices with 20 open
problems each (10,000 problems): 文号 allocation from the register, rendering from the GB/T 9704
template with the fonts embedded, storage by checksum and the notice rows, on each backend. Its
floor is the same template filled with 20-row contexts by docxtpl alone (`bench.documents.
template_floor`), timed just before and after each backend's issuing: the least any notice of
this format costs. (Until issue 17 the floor was the same content written with bare python-docx,
which was slower than duban, 0.2–0.5× of its time: a floor a measurement beats bounds nothing.)
Both are CPU seconds (issuing's with its render workers' and PostgreSQL's backends'), so the
ratio holds all that issuing adds to filling the template: the layout fitting, the fonts, the
register, storage and the rows.
A second entry times render_notice alone against the same docxtpl floor, the bound issue 16
sets (≤ 1.5×); the last two time embedding the fonts on its own.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import Entry, scratch_database

if TYPE_CHECKING:
    from duban.domain.clock import FixedClock
    from duban.services.database import Database

ROOT = Path(__file__).resolve().parents[1]


def _campaign_with_offices(url: str, offices: int, each: int) -> tuple[Database, FixedClock, int]:
    """Seed 002 launched with `offices` extra offices, each leading `each` open problems.

    Each problem's co-office is 县住建局 alone (a county office: copied, 抄送, on its lead's
    notice), as in the floor's rows. Routed as recorded, every problem also had its town's
    and village's governments as co-offices, which get notices of their own: the town's
    listed all 10,000 problems, its list a spreadsheet, a notice the floor never filled.
    """
    from sqlalchemy import delete, insert, select, update

    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ, FixedClock
    from duban.domain.household import ReportedProblem
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database
    from duban.services.problems import record_problems
    from models import Office, Problem, ProblemCoOffice

    db = Database(url)
    db.migrate()
    path = ROOT / "plans/seed-002-shenqiu.yaml"
    plan = load_plan_file(path)
    clock = FixedClock(dt.datetime(2022, 9, 26, 9, tzinfo=CHINA_TZ))
    campaign = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "bench")
    town = plan.towns[0]
    village = town.villages[0].code if town.villages else None
    reported = [
        ReportedProblem(source=plan.sources[0].code, category=plan.categories[i % 5].code,
                        town=town.code, village=village, household_id=None,
                        description=f"住房安全等级鉴定为C级，房屋后墙裂缝（样例{i}）",
                        found_by="王村干", found_on=dt.date(2022, 9, 20))
        for i in range(offices * each)
    ]
    db.run(record_problems, clock, campaign, reported, recorded_by="bench")
    with db.transaction() as session:
        session.execute(insert(Office), [
            {"campaign_id": campaign, "code": f"bench-{n:03d}", "name": f"县直单位{n}",
             "level": "county", "town_code": None, "head": "", "contacts": [], "webhook": ""}
            for n in range(offices)])
        ids = list(session.scalars(select(Problem.id).where(Problem.campaign_id == campaign)
                                   .order_by(Problem.id)))
        for n in range(offices):
            chunk = ids[n * each:(n + 1) * each]
            session.execute(update(Problem).where(Problem.id.in_(chunk))
                            .values(lead_office=f"bench-{n:03d}"))
        session.execute(delete(ProblemCoOffice).where(ProblemCoOffice.problem_id.in_(ids)))
        session.execute(insert(ProblemCoOffice),
                        [{"problem_id": i, "office_code": "zjj", "campaign_id": campaign}
                         for i in ids])
    return db, clock, campaign


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """Notices per second with numbering and storage, and rendering alone, beside docxtpl."""
    offices = 20 if quick else 500
    each = 20
    rendering, _floor_s = _render_against_template_floor(offices, each)
    with tempfile.TemporaryDirectory(prefix="duban-bench-docs-") as tmp:
        # Warm, as the floor was: the fonts' shared faces subset once for the process.
        from bench.documents import make_context
        from duban.adapters.documents.render import render_notice

        render_notice(make_context(0, each), Path(tmp) / "warm.docx")
    rounds = 1 if quick else 2
    entries = [_issuing(backend, offices, each, rounds) for backend in backends]
    entries.append(rendering)
    entries.extend(_font_embedding(offices, each))
    return entries


def _floor_cpu(offices: int, each: int) -> float:
    """CPU seconds of the template floor filling `offices` notices of `each` problems."""
    from bench.documents import make_context, template_floor

    contexts = [make_context(i, each) for i in range(offices)]
    with tempfile.TemporaryDirectory(prefix="duban-bench-floor-") as tmp:
        started = time.process_time()
        for i, ctx in enumerate(contexts):
            template_floor(ctx, Path(tmp) / f"f{i}.docx")
        return time.process_time() - started


def _issuing(backend: str, offices: int, each: int, rounds: int) -> Entry:
    """issue_notices' CPU per notice (this process's, its render workers' and, on PostgreSQL,
    the server backends') against the floor's, pooled over `rounds` fresh campaigns, the
    floor timed just before and just after each issuing: the machine's speed moved by a third
    from one minute to the next, and a floor timed once a minute earlier read 1.40× and 2.36×
    for the same code."""
    cpu = floor = 0.0
    issued = 0
    for _ in range(rounds):
        spent, notices, before, after = _issuing_round(backend, offices, each)
        cpu += spent
        issued += notices
        floor += before + after
    floor_per_notice = floor / (2 * rounds * offices)
    per_notice = cpu / issued
    return Entry(f"issue notices, {each} problems each (number+render+fonts+store) vs docxtpl "
                 "alone, CPU", backend, issued // rounds, 1 / per_notice, "notices/s",
                 1 / floor_per_notice, per_notice / floor_per_notice)


def _issuing_round(backend: str, offices: int, each: int) -> tuple[float, int, float, float]:
    """One issuing on a fresh campaign: its CPU seconds, the notices, the floor's CPU seconds
    for as many notices just before and just after."""
    import os

    from bench.common import ServerCpu
    from duban.adapters.documents.parallel import worker_cpu_seconds
    from duban.services.notices.issuing import issue_notices

    with scratch_database(backend) as url, tempfile.TemporaryDirectory() as data:
        previous = os.environ.get("DUBAN_DATA_DIR")
        os.environ["DUBAN_DATA_DIR"] = data  # notices are stored in the data directory
        try:
            db, clock, campaign = _campaign_with_offices(url, offices, each)
            before = _floor_cpu(offices, each)
            # The sampler is a thread of this process: a query and a /proc read every 0.25 s.
            with ServerCpu(url) as server:
                started, workers = time.process_time(), worker_cpu_seconds()
                issued = db.run(issue_notices, clock, campaign, issued_by="bench",
                                batch_key="bench")
                cpu = time.process_time() - started + worker_cpu_seconds() - workers
            cpu += server.seconds
            after = _floor_cpu(offices, each)
            db.dispose()
        finally:
            if previous is None:
                os.environ.pop("DUBAN_DATA_DIR", None)
            else:
                os.environ["DUBAN_DATA_DIR"] = previous
    return cpu, len(issued), before, after


def _font_embedding(offices: int, each: int) -> list[Entry]:
    """The shipped fonts embedded in each notice: its own cost beside render_notice alone
    (CPU ms per notice; floor = the render without embedding, ratio = with / without)."""
    from bench.documents import embedding

    r = embedding(offices, each)
    return [Entry(f"render notices + embed fonts ({label}), {each} problems each, CPU",
                  "none", offices, r["render_ms_cpu"] + r[f"{key}_embed_ms_cpu"], "ms/notice",
                  r["render_ms_cpu"], r[f"ratio_{key}"])
            for key, label in (("batch", "batch: shared faces cached"),
                               ("uncached", "every face subset anew"))]


def _render_against_template_floor(offices: int, each: int) -> tuple[Entry, float]:
    """render_notice beside the same template filled by docxtpl alone (≤ 1.5× is the target),
    and the floor's seconds for the `offices` notices."""
    from bench.documents import run

    r = run(offices, each, bare=False)
    return (Entry(f"render notices, {each} problems each, vs docxtpl alone", "none", offices,
                  r["notices_per_s"], "notices/s", offices / r["template_floor_s"],
                  r["ratio_to_template_floor"]), r["template_floor_s"])
