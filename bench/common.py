"""What benchmark suites share: the result entry, databases to run on, a seeded campaign."""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import tempfile
import threading
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


def stages_unpaced() -> None:
    """A tick's 排查 unpaced in this process and those it starts, unless the caller set
    DUBAN_STAGE_DUTY: the suites measure the stages' own work. The deployment's pace is what
    the city suite's "deployed" mode measures (bench/city_suite.py). Called by the benches'
    entry points, not on import: importing bench (the tests do) changes nothing."""
    os.environ.setdefault("DUBAN_STAGE_DUTY", "1")
PG_ADMIN_URL = os.environ.get("DUBAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# The register of the quick run's county suites (intake, 排查, the campaign): 10,000 households
# (1,000 ledger problems), so `python -m bench --quick` stays near a minute; a quick ratio
# carries more of each step's fixed costs than the full run's 300,000.
QUICK_HOUSEHOLDS = 10_000


def private_dir(variable: str, prefix: str) -> None:
    """Point `variable` at a new temporary directory, removed when this process exits, unless set."""
    if os.environ.get(variable):
        return
    path = tempfile.mkdtemp(prefix=prefix)
    os.environ[variable] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)


def private_prefect() -> None:
    """A private Prefect home (no profile's PREFECT_API_URL leaks in), removed at exit; quiet logs.

    Call before anything imports Prefect: it reads its settings once, at import.
    """
    private_dir("PREFECT_HOME", "duban-bench-prefect-")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


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


class ServerCpu:
    """CPU seconds of the PostgreSQL server backends serving one database while in the block.

    The server is local: a thread lists the database's backends (pg_stat_activity) every
    `every` seconds and reads each one's CPU from /proc; a backend's share is its last reading
    less its first. A backend that lives less than `every` is missed, one that lived before the
    block counts from its first reading. `seconds` is 0 on SQLite."""

    def __init__(self, url: str, every: float = 0.25) -> None:
        self.url, self.every = url, every
        self.seen: dict[int, list[float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                name = conn.scalar(text("SELECT current_database()"))
                own = conn.scalar(text("SELECT pg_backend_pid()"))
                while True:
                    for (pid,) in conn.execute(text(
                            "SELECT pid FROM pg_stat_activity WHERE datname = :n AND pid <> :own"),
                            {"n": name, "own": own}):
                        used = self._cpu(pid)
                        if used is not None:
                            self.seen.setdefault(pid, [used, used])[1] = used
                    if self._stop.wait(self.every):
                        return
        finally:
            engine.dispose()

    def __enter__(self) -> ServerCpu:
        if self.url.startswith("postgresql"):
            self._thread = threading.Thread(target=self._sample, name="server-cpu", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def seconds(self) -> float:
        """The backends' CPU seconds seen so far."""
        return sum(last - first for first, last in self.seen.values())


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
    """A fresh database URL on the backend, migrated and empty (a copy), removed afterwards."""
    # A copy of one database migrated once per process: each suite migrated its own from
    # nothing before (1–3 s of wall each, ~20 a quick run).
    template = migrated_template(backend)
    if backend == "sqlite":
        with TemporaryDirectory(prefix="duban-bench-") as tmp:
            target = Path(tmp) / "bench.sqlite3"
            shutil.copyfile(template, target)
            yield f"sqlite:///{target}"
        return
    with scratch_pg(PG_ADMIN_URL, "duban_bench", template=template) as url:
        yield url


_templates: dict[str, str] = {}
_templates_lock = threading.Lock()


def migrated_template(backend: str) -> str:
    """This process's migrated, empty database for the backend: a file's path or a PG name."""
    with _templates_lock:  # made ahead in a thread (bench.__main__.prepare) or on first use
        if backend not in _templates:
            _templates[backend] = _migrate_template(backend)
        return _templates[backend]


def _migrate_template(backend: str) -> str:
    """A new migrated, empty database for the backend: a file's path or a PG name."""
    from duban.services.database import Database

    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="duban-bench-schema-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        path = Path(directory) / "schema.sqlite3"
        db = Database(f"sqlite:///{path}")
        db.migrate()
        db.dispose()  # the last connection closed: the WAL folded into the file
        return str(path)
    name = f"{os.environ.get('DUBAN_PG_NAME_PREFIX') or 'duban_bench'}_schema_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    atexit.register(_drop_pg, create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT"), name)
    db = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    db.migrate()
    db.dispose()  # no session left on it: CREATE DATABASE … TEMPLATE needs it unused
    return name


@contextmanager
def copied_database(url: str) -> Iterator[str]:
    """A copy of the database at `url` as it is now (nobody connected to it), removed after:
    on PostgreSQL a database made from it as a template (named as `scratch_pg` names them), on
    SQLite a copy of its file beside it."""
    if url.startswith("sqlite"):
        source = Path(url.split(":///", 1)[1])
        target = source.with_name(f"copy-{uuid.uuid4().hex[:10]}-{source.name}")
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
        try:
            yield f"sqlite:///{target}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        return
    source_name = url.rsplit("/", 1)[1]
    name = f"{source_name}_copy"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source_name}"'))
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _drop_pg(admin, name)


@contextmanager
def scratch_pg(admin_url: str, prefix: str, *extensions: str,
               template: str | None = None) -> Iterator[str]:
    """A fresh PostgreSQL database on admin_url's server (a copy of `template`, if named),
    with the extensions, dropped after.

    DUBAN_PG_NAME_PREFIX, when set, replaces `prefix` (several developers on one server)."""
    name = f"{os.environ.get('DUBAN_PG_NAME_PREFIX') or prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        copied = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{copied}'))
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
        _drop_pg(admin, name)


def _drop_pg(admin: Any, name: str) -> None:
    """Drop a scratch database, ending what is still connected to it, and the admin engine."""
    with admin.connect() as conn:
        conn.execute(text(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def seed_campaign(url: str, size: str, *, households: int | None = None) -> tuple[int, float, int]:
    """Seed 002 launched on `url` and a generated county of `size` imported through the intake
    service, as the demo does before its first stage; returns (campaign, import seconds,
    problems)."""
    campaign, seconds, _, _, problems = seed_campaign_measured(url, size, households=households)
    return campaign, seconds, problems


def seed_campaign_timed(url: str, size: str, *,
                        households: int | None = None) -> tuple[int, float, float, int]:
    """seed_campaign, also giving the import's CPU seconds (this process): (campaign, import
    seconds, import CPU seconds, problems)."""
    campaign, seconds, cpu, _, problems = seed_campaign_measured(url, size,
                                                                 households=households)
    return campaign, seconds, cpu, problems


def seed_campaign_measured(url: str, size: str, *, households: int | None = None
                           ) -> tuple[int, float, float, float, int]:
    """`seed_campaign`, also giving the import's CPU seconds in this process and in the
    PostgreSQL server's backends (0 on SQLite): (campaign, import seconds, import CPU seconds,
    server CPU seconds, problems)."""
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
    with ServerCpu(url) as server:
        cpu = time.process_time()
        started = time.perf_counter()
        db.run(import_records, clock, campaign, households=county.households,
               visits=county.visits, problems=county.problems, imported_by="bench")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    db.dispose()
    return campaign, seconds, cpu, server.seconds, len(county.problems)
