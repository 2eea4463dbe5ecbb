"""A migrated, empty Prefect database kept once per Prefect version, copied into a fresh home.

Prefect's server migrates its own SQLite database when it starts (116 Alembic steps in Prefect
3.9: ~5 s of CPU on this project's machines, 22 s of wall in a loaded quick bench run). Every
fresh Prefect home paid it: each `python -m bench` server, each test's home, each subprocess
tick in a home of its own. Here the migrated database is made once per Prefect version (and
backend: only SQLite homes are seeded) in the user's cache directory, and copied into a home
that has no database yet before its server starts; the server then finds it at Alembic's head
and runs no step.

The template is checked before every use: it must open, pass SQLite's quick check, carry its
key (the Prefect version and backend, as PRAGMA user_version) and an Alembic revision. Anything
else (another version's copy, a truncated or damaged file) is built again, never trusted. It is
built under a file lock (two test workers starting at once build it once), into a temporary
name and renamed into place, so a reader never sees half a file. A home's database that exists
is never touched, and a home is seeded by a hard link of a finished copy, which fails rather
than replace a database another server opened meanwhile. The build runs in an owned child
process (duban.adapters.children): a SIGTERM or SIGKILL of the process that started it ends it
too. Whatever goes wrong here, the server starts as before and migrates its database itself.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from duban.adapters.children import OwnedChild

log = logging.getLogger(__name__)

# Where the templates are kept (else $XDG_CACHE_HOME/duban/prefect-db, else ~/.cache/…).
CACHE_ENV = "DUBAN_PREFECT_DB_CACHE"
SQLITE_PREFIX = "sqlite+aiosqlite:///"

# Runs in a child process (Prefect's server modules cost ~2 s of imports, never wanted in the
# command that starts a server): the server's own start-up steps, migrations and block types,
# on the database named by the environment.
_BUILD = r"""
import asyncio
from prefect.server.database import provide_database_interface
from prefect.server.models.block_registration import run_block_auto_registration

async def build():
    db = provide_database_interface()
    await db.create_db()
    async with await db.session() as session:
        await run_block_auto_registration(session=session)
        await session.commit()
    await (await db.engine()).dispose()

asyncio.run(build())
"""

Builder = Callable[[Path], None]


def cache_dir() -> Path:
    """The directory the templates are kept in."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "duban" / "prefect-db"


def template_key() -> str:
    """What a template must match: this Prefect's version and the backend."""
    import prefect

    return f"prefect-{prefect.__version__}-sqlite"


def key_number(key: str) -> int:
    """The key as SQLite's user_version holds it (a positive 31-bit number)."""
    return zlib.crc32(key.encode()) & 0x7FFFFFFF


def valid(path: Path, key: str) -> bool:
    """Whether `path` is a whole, undamaged template made for `key`."""
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()
            number = conn.execute("PRAGMA user_version").fetchone()
            revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return (ok == ("ok",) and number == (key_number(key),) and len(revision) == 1
            and bool(revision[0][0]))


def build_with_prefect(target: Path) -> None:
    """Make a migrated Prefect database at `target` the way its server would (a child process)."""
    with tempfile.TemporaryDirectory(prefix="duban-prefect-db-") as home:
        url = SQLITE_PREFIX + str(target)
        env = {**os.environ, "PREFECT_HOME": home, "PREFECT_SERVER_DATABASE_CONNECTION_URL": url,
               "PREFECT_API_DATABASE_CONNECTION_URL": url,
               "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
        # Owned: a signal or a crash of this process ends the build too (its partial file
        # is removed by `ensure_template`'s finally, or by the next build).
        child = OwnedChild([sys.executable, "-c", _BUILD], env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = child.process.communicate()
        finally:
            child.stop()
        if child.process.returncode:
            raise subprocess.CalledProcessError(child.process.returncode, child.process.args,
                                                out, err)


def _finish(path: Path, key: str) -> None:
    """Fold the WAL into the file, leave it in rollback mode and stamp it with its key."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute(f"PRAGMA user_version={key_number(key)}")
        conn.commit()
    finally:
        conn.close()


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def ensure_template(key: str | None = None, *, directory: Path | None = None,
                    build: Builder = build_with_prefect) -> Path:
    """The template for `key` (this Prefect's by default), built first if missing or bad."""
    key = key or template_key()
    directory = directory or cache_dir()
    path = directory / f"{key}.db"
    if valid(path, key):
        return path
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{key}.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others wait and reuse
        if valid(path, key):
            return path
        partial = directory / f".{key}.{os.getpid()}.part"
        _remove(partial)
        try:
            build(partial)
            _finish(partial, key)
            if not valid(partial, key):
                raise RuntimeError(f"the Prefect database built at {partial} does not check")
            os.replace(partial, path)
        finally:
            _remove(partial)
    return path


def home_database() -> Path | None:
    """The SQLite file Prefect's server will use, from the current settings (None: not a file)."""
    from prefect.settings import get_current_settings

    secret = get_current_settings().server.database.connection_url
    url = secret.get_secret_value() if secret is not None else ""
    if not url.startswith(SQLITE_PREFIX) or ":memory:" in url or "mode=memory" in url:
        return None
    return Path(url[len(SQLITE_PREFIX):].split("?", 1)[0])


def seed(target: Path, *, key: str | None = None, directory: Path | None = None,
         build: Builder = build_with_prefect) -> bool:
    """Put a copy of the template at `target` unless a database is there; whether it did."""
    if target.exists():
        return False
    template = ensure_template(key, directory=directory, build=build)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.copyfile(template, partial)
    try:
        os.link(partial, target)  # fails if a database appeared meanwhile: that one stays
    except FileExistsError:
        return False
    finally:
        partial.unlink()
    return True


def seed_home() -> bool:
    """Seed the current Prefect home's database if it has none; never raises (see the module)."""
    try:
        target = home_database()
        return target is not None and seed(target)
    except Exception as exc:  # a cache that cannot be written must not stop a server
        log.warning("Prefect 数据库模板不可用，服务将自行初始化数据库：%s", exc)
        return False
