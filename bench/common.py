"""What benchmark suites share: the result entry, databases to run on, peak memory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import create_engine, text

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
    name = f"duban_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname='{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
