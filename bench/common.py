"""What benchmark suites share: the result entry, databases to run on, a seeded campaign."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("DUBAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class Entry:
    """One measured figure; floor is the same work done the bare way, ratio = value vs floor."""

    name: str
    backend: str
    size: int
    value: float
    unit: str
    floor: float | None = None
    ratio: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return asdict(self)


def pg_available() -> bool:
    """Whether the local PostgreSQL answers."""
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@contextmanager
def scratch_database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL on the backend, removed afterwards."""
    if backend == "sqlite":
        with TemporaryDirectory(prefix="duban-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        return
    with scratch_pg(PG_ADMIN_URL, "duban_bench") as url:
        yield url


@contextmanager
def scratch_pg(admin_url: str, prefix: str, *extensions: str) -> Iterator[str]:
    """A fresh PostgreSQL database on admin_url's server, with the extensions, dropped after.

    DUBAN_PG_NAME_PREFIX, when set, replaces `prefix` (several developers on one server)."""
    name = f"{os.environ.get('DUBAN_PG_NAME_PREFIX') or prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    if extensions:
        ext = create_engine(url, isolation_level="AUTOCOMMIT")
        with ext.connect() as conn:
            for extension in extensions:
                conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {extension}"))
        ext.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def seed_campaign(url: str, size: str, *, households: int | None = None) -> tuple[int, float, int]:
    """Seed 002 launched on `url` and a generated county of `size` imported through the intake
    service, as the demo does before its first stage; returns (campaign, import seconds,
    problems)."""
    campaign, seconds, _, problems = seed_campaign_timed(url, size, households=households)
    return campaign, seconds, problems


def seed_campaign_timed(url: str, size: str, *,
                        households: int | None = None) -> tuple[int, float, float, int]:
    """seed_campaign, also giving the import's CPU seconds (this process): (campaign, import
    seconds, import CPU seconds, problems)."""
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.clock import CHINA_TZ, FixedClock
    from duban.services.campaigns import launch_campaign
    from duban.services.database import Database
    from duban.services.intake import import_records
    from duban.synth import generate_for_plan

    db = Database(url)
    db.migrate()
    path = ROOT / "plans/seed-002-shenqiu.yaml"
    plan = load_plan_file(path)
    clock = FixedClock(dt.datetime.combine(plan.start, dt.time(9), tzinfo=CHINA_TZ))
    campaign = db.run(launch_campaign, clock, plan, path.read_text(encoding="utf-8"), "bench")
    county = generate_for_plan(plan, size, seed=2022, households=households)
    cpu = time.process_time()
    started = time.perf_counter()
    db.run(import_records, clock, campaign, households=county.households, visits=county.visits,
                   problems=county.problems, imported_by="bench")
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    db.dispose()
    return campaign, seconds, cpu, len(county.problems)
