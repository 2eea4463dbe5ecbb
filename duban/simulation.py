"""The demo: a generated township runs a seed plan's whole campaign in simulated time.

People's work (offices rectifying, reviewers reviewing) is simulated here through the same
services the web app and CLI call; the campaign's own machinery (stage runs, reminders, notices,
reports) runs as it would in production, driven by a clock that jumps from one working moment
to the next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import inspect, select

from duban.adapters.plan_yaml import load_plan_file
from duban.domain.clock import CHINA_TZ, FixedClock, local_today
from duban.domain.columns import HOUSEHOLD_COLUMNS, PROBLEM_COLUMNS, VISIT_COLUMNS
from duban.domain.errors import DubanError
from duban.domain.plan import Plan, StageKind
from duban.services.campaigns import CampaignSummary, launch_campaign, summarise_campaign
from duban.services.database import Database, database_url
from duban.services.intake import detect_problems, import_file
from duban.synth import generate_for_plan, iter_household_rows, iter_problem_rows, iter_visit_rows
from models import Base, Campaign

PLANS_DIR = Path(__file__).resolve().parents[1] / "plans"
DEMO_ACTOR = "demo"

Echo = Callable[[str], None]


@dataclass
class StageRun:
    """One stage run of the demo, for the summary table."""

    name: str
    day: dt.date
    seconds: float
    note: str


@dataclass
class DemoResult:
    """What the demo did and where it put things."""

    summary: CampaignSummary
    database: str
    stages: list[StageRun] = field(default_factory=list)
    files: list[tuple[str, Path]] = field(default_factory=list)
    accounts: list[list[str]] = field(default_factory=list)


def plan_path(name: str) -> Path:
    """The YAML file of a seed plan (seed-000, seed-002, seed-003)."""
    found = sorted(PLANS_DIR.glob(f"{name}-*.yaml"))
    if not found:
        raise DubanError(f"找不到种子方案：{name}（目录 {PLANS_DIR}）")
    return found[0]


def open_demo_database(url: str | None, fresh: bool) -> Database:
    """The demo's database: the default SQLite file unless a URL is given; emptied if fresh.

    Only a database that is empty or holds nothing but earlier demos is ever emptied.
    """
    db = Database(url or database_url())
    if fresh and "campaign" in inspect(db.engine).get_table_names():
        with db.transaction() as session:
            owners = set(session.scalars(select(Campaign.launched_by)))
        if owners - {DEMO_ACTOR}:
            raise DubanError(
                f"数据库 {db.url} 中已有真实行动，演示不会清空它；"
                "请用 --db 或环境变量 DUBAN_DATA_DIR 指定另一个位置"
            )
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    db.migrate()
    return db


def write_sheet(path: Path, headers: Iterable[str], rows: Iterable[dict[str, object]]) -> Path:
    """Write rows under a header row, as a town clerk's filled-in template would be."""
    headers = list(headers)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    ws.append(headers)
    for row in rows:
        ws.append([row.get(h) for h in headers])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def morning(day: dt.date) -> dt.datetime:
    """09:00 China time on a day: when the demo's office work happens."""
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=CHINA_TZ)


def run_demo(
    url: str | None,
    *,
    size: str,
    plan_name: str,
    out_dir: Path,
    seed: int,
    fresh: bool,
    echo: Echo,
) -> DemoResult:
    """Generate, launch, import, detect, and run the campaign; return what happened."""
    path = plan_path(plan_name)
    plan = load_plan_file(path)
    db = open_demo_database(url, fresh)
    investigate = plan.stage(StageKind.INVESTIGATE)
    clock = FixedClock(morning(investigate.start if investigate else plan.start))
    campaign_id = launch_campaign(db, clock, plan, path.read_text(encoding="utf-8"), DEMO_ACTOR)
    echo(f"已启动行动 {campaign_id}：{plan.name}")
    result = DemoResult(summary=summarise_campaign(db, campaign_id, local_today(clock)),
                        database=db.url)
    county = generate_for_plan(plan, size, seed)
    echo(f"已生成模拟数据：农户 {len(county.households)}，走访 {len(county.visits)}，"
         f"台账问题 {len(county.problems)}")
    inputs = out_dir / "input"
    files = {
        "households": write_sheet(inputs / "农户信息.xlsx", HOUSEHOLD_COLUMNS,
                                  iter_household_rows(county)),
        "visits": write_sheet(inputs / "走访记录.xlsx", VISIT_COLUMNS, iter_visit_rows(county)),
        "problems": write_sheet(inputs / "问题台账.xlsx", PROBLEM_COLUMNS,
                                iter_problem_rows(county)),
    }
    for label, kind in (("农户信息", "households"), ("走访记录", "visits"), ("问题台账", "problems")):
        imported = import_file(db, clock, campaign_id, kind, files[kind],  # type: ignore[arg-type]
                               imported_by=DEMO_ACTOR)
        result.files.append((f"导入：{label}", files[kind]))
        echo(f"已导入{label}：新增 {imported.created}")
    detected = detect_problems(db, clock, campaign_id, detected_by=DEMO_ACTOR)
    echo(f"比对农户信息发现问题 {detected.created} 个")
    result.summary = summarise_campaign(db, campaign_id, local_today(clock))
    _ = plan_summary(plan)
    return result


def plan_summary(plan: Plan) -> str:
    """One line naming the plan and its stages."""
    stages = "，".join(f"{s.name} {s.start:%m/%d}–{s.end:%m/%d}" for s in plan.stages)
    return f"{plan.name}：{stages}"
