"""Small helpers shared by test modules (import as `from tests.support import ...`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from openpyxl import Workbook
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.domain.household import ReportedProblem
from duban.domain.plan import Plan
from duban.services.campaigns import launch_campaign
from duban.services.database import MIGRATIONS_DIR, Database
from duban.services.evidence import UploadedFile
from duban.services.intake import recount_villages
from duban.services.problems import record_problems
from models import Household, Problem
from tests.conftest import PLANS


def need_module(module: str) -> None:
    """Skip without an optional test module (xlwt writes .xls); in CI its absence is a failure."""
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {module} is not installed (a dev dependency)")
        pytest.skip(f"{module} is not installed")


# Seed 002's supervision groups work 不定期, with no daily quota (its plan writes zeros). Tests
# of the spot-check machinery give seed 002's eight groups seed 004's per-group minimums.
SEED_002_NO_QUOTA = "quota: {closed_problems: 0, households: 0, villages: 0}"
SEED_004_QUOTA = "quota: {closed_problems: 5, households: 10, villages: 2}"


def with_seed_004_quota(seed_002_text: str) -> str:
    """Seed 002's plan text with seed 004's spot-check quota in place of its zeros."""
    if SEED_002_NO_QUOTA not in seed_002_text:
        raise AssertionError("seed 002's plan no longer writes its zero quota")
    return seed_002_text.replace(SEED_002_NO_QUOTA, SEED_004_QUOTA)


# A small JPEG-looking file the evidence checker accepts, for moves that need evidence.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"photo-after" * 20
JPEG_SHA = hashlib.sha256(JPEG).hexdigest()


def photo(name: str = "整改后照片.jpg") -> UploadedFile:
    """An after-rectification photo to upload with a submission."""
    return UploadedFile(name, JPEG, "after")


def amended_routing(plan_text: str) -> str:
    """Seed 002's plan text with housing led by 县民政局 and 县财政局 helping with education."""
    housing = "  - categories: [housing]\n    office: 县住建局\n"
    education = "  - categories: [education]\n    office: 县教育局\n    co_offices: [各乡镇, 各村]\n"
    assert housing in plan_text and education in plan_text
    return (plan_text.replace(housing, "  - categories: [housing]\n    office: 县民政局\n")
            .replace(education, "  - categories: [education]\n    office: 县教育局\n"
                                "    co_offices: [县财政局, 各乡镇, 各村]\n"))


def housing_report(plan: Plan, household_id: str | None,
                   description: str = "危房未改造，屋面漏雨") -> ReportedProblem:
    """A 危房 problem in the plan's first village, found by 王村干 on 2022-09-20."""
    town = plan.towns[0]
    return ReportedProblem(source="household", category="housing", town=town.code,
                           village=town.villages[0].code, household_id=household_id,
                           description=description, found_by="王村干",
                           found_on=dt.date(2022, 9, 20))


def record_housing_problem(db: Database, clock: FixedClock, campaign_id: int, plan: Plan,
                           household_id: str = "H-001",
                           description: str = "危房未改造，屋面漏雨") -> str:
    """Record one `housing_report`; returns the problem's code."""
    result = db.run(record_problems, clock, campaign_id,
                    [housing_report(plan, household_id, description)], recorded_by="county")
    with db.transaction() as s:
        code = s.scalar(select(Problem.code).where(Problem.id == result.problem_ids[0]))
    assert code is not None
    return code


def seed_002_with_housing_problems(db: Database, clock: FixedClock,
                                   n: int) -> tuple[int, list[int]]:
    """Seed 002 launched with n 危房 problems (H-0, H-1, …; lead 县住建局 zjj); their ids."""
    path = PLANS / "seed-002-shenqiu.yaml"
    plan = load_plan_file(path)
    campaign_id = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "county")
    reports = [housing_report(plan, f"H-{i}", f"危房 {i}") for i in range(n)]
    return campaign_id, db.run(record_problems, clock, campaign_id, reports,
                               recorded_by="county").problem_ids


def write_xlsx(path: Path, headers: Sequence[str], rows: Iterable[Mapping[str, object]],
               sheet: str = "数据") -> Path:
    """A .xlsx of rows given as dicts, columns in header order (a missing key: empty cell)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(list(headers))
    for row in rows:
        ws.append([row.get(h) for h in headers])
    wb.save(path)
    return path


def plain_household(campaign_id: int, town: str, village: str, household_id: str,
                    head: str) -> Household:
    """A registered 脱贫户 with nothing to find: three members, house A, water, insured."""
    return Household(campaign_id=campaign_id, household_id=household_id, town_code=town,
                     village_code=village, head=head, members=3, category="脱贫户",
                     monitoring_type=None, income_per_person=9000, house_grade="A",
                     tap_water=True, school_age_children=0, children_out_of_school=0,
                     medical_insurance=True, sanitary_toilet=True)


def insert_old_campaign(conn: Connection, campaign_id: int) -> None:
    """A campaign row with the columns it needs from migration 0013 on, written in SQL (for a
    migration's test, before the mapped classes match the tables)."""
    conn.execute(text(
        "INSERT INTO campaign (id, name, issuer, notice_prefix, plan_version, launched_at,"
        " launched_by, problem_seq, version, status) VALUES (:c, '少云', '镇', '少云督', 1,"
        " '2022-05-01 01:00:00', 'county', 0, 1, 'active')"), {"c": campaign_id})


def register(session: Session, campaign_id: int, households: Iterable[Household]) -> None:
    """Write households straight into the register and recount its villages in the same
    transaction, as the intake's write does (for tests that build a register row by row)."""
    session.add_all(households)
    session.flush()
    recount_villages(session, campaign_id)


class LostCommit:
    """Counts the notices a batch renders and loses its commit (the batch's messages raise, as
    a dropped connection would) until `restore()`: a retry must reuse what was rendered."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import duban.services.messages as messages
        import duban.services.notices.issuing as notices

        self.rendered: list[str] = []
        self._monkeypatch, self._messages = monkeypatch, messages
        self._real_messages = messages.notice_issued_message
        real_render = notices._render_notice

        def counted(ctx: Any, path: Path, template_dir: Path | None = None) -> object:
            self.rendered.append(ctx.number)
            return real_render(ctx, path, template_dir=template_dir)

        def lost(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("connection lost")

        monkeypatch.setattr(notices, "_render_notice", counted)
        monkeypatch.setattr(messages, "notice_issued_message", lost)

    def restore(self) -> None:
        """Let the next batch commit."""
        self._monkeypatch.setattr(self._messages, "notice_issued_message", self._real_messages)


@contextmanager
def compiled_inserts(db: Database, table: str) -> Iterator[list[bool]]:
    """Per INSERT into `table` sent in the block: whether its statement was compiled for it
    (True) or taken from SQLAlchemy's cache of compiled statements (False)."""
    from sqlalchemy import event

    seen: list[bool] = []
    prefix = f"INSERT INTO {table.upper()}"

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
              many: bool) -> None:
        if statement.lstrip().upper().startswith(prefix):
            seen.append(context.cache_hit != context.dialect.CACHE_HIT)

    event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(db.engine, "after_cursor_execute", after)


def alembic_config(url: str) -> Config:
    """Alembic's configuration for migrating the database at `url` step by step."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config
