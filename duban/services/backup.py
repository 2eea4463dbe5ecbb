"""Backup and restore: the database and the files its rows name, checksummed, restored whole.

A backup is a folder:

    manifest.json      what was backed up: duban's version, the schema revision, the database
                       kind, each table's row count, and every file with its size and SHA-256
    manifest.sha256    the manifest's own SHA-256 (a truncated or edited manifest is refused)
    database.sqlite3   SQLite: a copy made with SQLite's online backup API (consistent while
                       duban runs and writes)
    database.pgdump    PostgreSQL: `pg_dump --format=custom` of one exported snapshot; the row
                       counts in the manifest are read in that same snapshot
    files/...          the data directory (documents, evidence, reports, templates ...), without
                       the SQLite database itself, logs and temporary files

The database is copied first, the files after: documents and evidence are written before the
rows that name them commit and are never changed in place (content-addressed), so every file
a row of the copy names is there when the files are copied.

Restore checks the whole backup before touching anything (the manifest's checksum, every
file's size and hash, the database kind and a schema revision this duban knows), refuses a
target database that holds a campaign already (unless forced), copies the files, restores
the database, migrates it to the newest revision and compares every table's row count with
the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, make_url

from duban.adapters.children import OwnedChild
from duban.adapters.tick_desk import TICK_DESK
from duban.domain.errors import DubanError
from duban.services.database import MIGRATIONS_DIR, Database

MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
FILES = "files"
FORMAT = 1
PG_TIMEOUT_S = 3600
SKIPPED_SUFFIXES = (".log", ".sqlite3-wal", ".sqlite3-shm", ".sqlite3-journal")
SKIPPED_PREFIXES = (".render-", ".upload-")
# A running serve's address and token: a live credential of one process, meaningless after a
# restore (and not to be copied to wherever backups are kept).
SKIPPED_NAMES = frozenset({TICK_DESK})


class BackupError(DubanError):
    """A backup that cannot be made or restored; the message says why, in Chinese."""


@dataclass(frozen=True)
class BackupResult:
    """What a backup holds."""

    path: Path
    kind: str  # sqlite / postgresql
    revision: str
    tables: dict[str, int]
    files: int
    bytes: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"不支持备份这种数据库：{name}")
    return name


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("内存数据库无法备份或恢复")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump/pg_restore, and the environment with the password."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    """Run pg_dump / pg_restore as an owned child; a failure becomes a Chinese error."""
    if shutil.which(args[0]) is None:
        raise BackupError(f"找不到 {args[0]}：请安装 PostgreSQL 客户端（Debian：apt-get install "
                          "postgresql-client）")
    child = OwnedChild(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, err = child.process.communicate(timeout=PG_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.stop()
        raise BackupError(f"{what}超时（{PG_TIMEOUT_S} 秒）") from None
    finally:
        child.stop()
    if child.process.returncode != 0:
        detail = err.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{what}失败：{detail[-1] if detail else child.process.returncode}")


def _table_counts(conn: Connection) -> dict[str, int]:
    names = sorted(inspect(conn).get_table_names())
    return {name: int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            for name in names}


def _revision(conn: Connection) -> str:
    if not inspect(conn).has_table("alembic_version"):
        raise BackupError("数据库尚未初始化（没有迁移版本），无需备份")
    return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _data_files(data: Path, skip: set[Path]) -> Iterator[Path]:
    if not data.is_dir():
        return
    for dirpath, dirs, names in os.walk(data):
        dirs.sort()
        for name in sorted(names):
            path = Path(dirpath) / name
            if (path.resolve() in skip or name in SKIPPED_NAMES
                    or name.endswith(SKIPPED_SUFFIXES)
                    or name.startswith(SKIPPED_PREFIXES)
                    or (name.startswith(".") and name.endswith(".part"))):
                continue
            yield path


def backup(url: str, data: Path, dest: Path, now: dt.datetime, version: str) -> BackupResult:
    """Back the database at `url` and the data directory up into the new folder `dest`."""
    kind = _kind(url)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"备份目录已存在且不为空：{dest}")
    dest.mkdir(parents=True, exist_ok=True)
    skip: set[Path] = set()
    if kind == "sqlite":
        source = _sqlite_path(url)
        if not source.is_file():
            raise BackupError(f"找不到数据库文件：{source}")
        skip = {source.resolve(), dest.resolve()}
        target = dest / SQLITE_FILE
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # the online backup API: a consistent copy while others write
        finally:
            dst.close()
            src.close()
        engine = create_engine(f"sqlite:///{target}")
        with engine.connect() as conn:
            revision, tables = _revision(conn), _table_counts(conn)
        engine.dispose()
    else:
        engine = create_engine(url, isolation_level="REPEATABLE READ")
        with engine.connect() as conn:
            revision, tables = _revision(conn), _table_counts(conn)
            # pg_dump reads the very snapshot the counts were read in.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            dsn, env = _libpq(url)
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                  f"--snapshot={snapshot}", f"--file={dest / PG_FILE}", f"--dbname={dsn}"],
                 env, "导出 PostgreSQL 数据库")
            conn.rollback()
        engine.dispose()
    entries: list[dict[str, Any]] = []
    db_file = dest / (SQLITE_FILE if kind == "sqlite" else PG_FILE)
    entries.append({"path": db_file.name, "size": db_file.stat().st_size,
                    "sha256": _sha256(db_file)})
    files_root = dest / FILES
    for path in _data_files(data, skip | {dest.resolve()}):
        if dest.resolve() in path.resolve().parents:
            continue  # a backup folder inside the data directory is not backed up into itself
        relative = path.relative_to(data)
        copy = files_root / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
        entries.append({"path": f"{FILES}/{relative.as_posix()}", "size": copy.stat().st_size,
                        "sha256": _sha256(copy)})
    manifest = {"format": FORMAT, "duban": version, "created_at": now.isoformat(),
                "database": kind, "revision": revision, "tables": tables, "files": entries}
    body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
    (dest / MANIFEST).write_bytes(body)
    (dest / MANIFEST_SUM).write_text(hashlib.sha256(body).hexdigest() + "\n", encoding="ascii")
    return BackupResult(dest, kind, revision, tables, len(entries) - 1,
                        sum(int(e["size"]) for e in entries))


def verify(src: Path) -> dict[str, Any]:
    """The manifest of a complete, intact backup; else BackupError naming what is wrong."""
    manifest_path, sum_path = src / MANIFEST, src / MANIFEST_SUM
    if not manifest_path.is_file() or not sum_path.is_file():
        raise BackupError(f"不是完整的备份：{src} 中缺少 {MANIFEST} 或 {MANIFEST_SUM}")
    body = manifest_path.read_bytes()
    if hashlib.sha256(body).hexdigest() != sum_path.read_text(encoding="ascii").strip():
        raise BackupError("备份清单（manifest.json）的校验值不符：清单不完整或被改动过")
    manifest: dict[str, Any] = json.loads(body)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"不认识的备份格式：{manifest.get('format')}")
    missing, damaged = [], []
    for entry in manifest["files"]:
        path = src / entry["path"]
        if not path.is_file():
            missing.append(entry["path"])
        elif path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            damaged.append(entry["path"])
    if missing or damaged:
        parts = []
        if missing:
            parts.append(f"缺少 {len(missing)} 个文件（如 {missing[0]}）")
        if damaged:
            parts.append(f"{len(damaged)} 个文件校验值不符（如 {damaged[0]}）")
        raise BackupError("备份不完整或已损坏：" + "，".join(parts) + "；未做任何恢复")
    known = {p.stem.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("*.py")}
    if manifest["revision"] not in known:
        raise BackupError(f"备份的数据库版本（{manifest['revision']}）比本程序新，"
                          "请先升级 duban 再恢复")
    return manifest


def _holds_campaigns(url: str) -> bool:
    if _kind(url) == "sqlite" and not _sqlite_path(url).exists():
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("campaign"):
                return False
            return bool(conn.execute(text("SELECT count(*) FROM campaign")).scalar_one())
    finally:
        engine.dispose()


def restore(src: Path, url: str, data: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore a verified backup into the database at `url` and the data directory."""
    manifest = verify(src)
    kind = _kind(url)
    if manifest["database"] != kind:
        words = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise BackupError(f"备份来自 {words[manifest['database']]} 数据库，目标数据库是 "
                          f"{words[kind]}：无法恢复")
    if not force and _holds_campaigns(url):
        raise BackupError("目标数据库中已有行动数据；确认要覆盖时请加 --force")
    data.mkdir(parents=True, exist_ok=True)
    for entry in manifest["files"]:
        if not entry["path"].startswith(f"{FILES}/"):
            continue
        target = data / entry["path"][len(FILES) + 1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / entry["path"], target)
    if kind == "sqlite":
        target_path = _sqlite_path(url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        src_db = sqlite3.connect(f"file:{src / SQLITE_FILE}?mode=ro", uri=True)
        dst_db = sqlite3.connect(target_path)
        try:
            src_db.backup(dst_db)
        finally:
            dst_db.close()
            src_db.close()
    else:
        dsn, env = _libpq(url)
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges",
              "--single-transaction", f"--dbname={dsn}", str(src / PG_FILE)],
             env, "恢复 PostgreSQL 数据库")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            restored = _table_counts(conn)
    finally:
        engine.dispose()
    wrong = sorted(name for name, n in manifest["tables"].items() if restored.get(name) != n)
    if wrong:
        raise BackupError(f"恢复后以下表的行数与备份不符：{'、'.join(wrong)}")
    database = Database(url)
    try:
        database.migrate()
    finally:
        database.dispose()
    return manifest
