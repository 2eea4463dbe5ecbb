"""The owned Prefect server's application (flows/prefect_app.py): Prefect's own, every SQLite
transaction its server begins taking the write lock first (BEGIN IMMEDIATE).

Prefect begins them DEFERRED; `POST /task_runs/` (each subflow's tracking task) reads, then
writes, and failed with "database is locked" whenever the server's own task-run recorder
committed in between: a 503, and Prefect's client waited 2 s before trying again — 2–2.5 s of
a tick per subflow. Checked here in a fresh interpreter (the change is to a Prefect class):
while a transaction begun by Prefect's SQLite configuration has only read, can another
connection take the write lock?
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
    import asyncio, sqlite3, sys
    import sqlalchemy as sa
    from prefect.server.database.configurations import AioSqliteConfiguration
    if sys.argv[2] == "duban":
        from flows.prefect_app import immediate_sqlite_transactions
        immediate_sqlite_transactions()
        immediate_sqlite_transactions()  # idempotent: wrapped once

    async def main(path):
        config = AioSqliteConfiguration(connection_url=f"sqlite+aiosqlite:///{path}")
        engine = await config.engine()
        session = await config.session(engine)
        async with session:
            async with config.begin_transaction(session):  # as create_task_run does
                await session.execute(sa.text("SELECT 1"))
                other = sqlite3.connect(path, timeout=0, isolation_level=None)
                try:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("ROLLBACK")
                    print("free")
                except sqlite3.OperationalError as exc:
                    print("held:", exc)
                other.close()
        await engine.dispose()

    asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.parametrize(("app", "expected"), [("prefect", "free"),
                                               ("duban", "held: database is locked")])
def test_the_owned_servers_transactions_take_the_write_lock_first(
        tmp_path: Path, app: str, expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHECK), str(tmp_path / "prefect.db"), app],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected



FROZEN = """
    import asyncio, gc
    from contextlib import asynccontextmanager
    from flows.prefect_app import create_app, frozen_after_start

    app = create_app()
    assert getattr(app.router.lifespan_context, "_duban_frozen", False)
    made = []

    @asynccontextmanager
    async def lifespan(app):
        made.append([[i] for i in range(50_000)])  # what a start leaves
        yield {"started": True}

    async def main():
        wrapped = frozen_after_start(frozen_after_start(lifespan))  # wrapped once
        async with wrapped(None) as state:
            assert state == {"started": True}
            return gc.get_freeze_count(), len(gc.get_objects())

    frozen, tracked = asyncio.run(main())
    print(frozen, tracked)
"""


def test_the_server_is_frozen_once_started() -> None:
    """Prefect's started server moved out of the collector's reach: a full collection walked it
    whole (0.35–0.42 s of CPU), and one inside a handed tick doubled the server's CPU over it."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(FROZEN)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    frozen, tracked = map(int, done.stdout.split())
    assert frozen > 150_000  # Prefect's server, its app and what the start made
    assert tracked < 10_000  # what the collector still walks
