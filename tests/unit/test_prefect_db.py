"""The migrated Prefect database kept per Prefect version (flows.prefect_db): reused while it
matches, built again when it is another version's or damaged, built once by two processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

from flows import prefect_db

KEY = "prefect-9.9.9-sqlite"


def fake_build(log: Path, pause: float = 0.0) -> prefect_db.Builder:
    """A builder standing in for Prefect's migrations: an Alembic-stamped SQLite file; each
    build appends a line to `log`."""

    def build(target: Path) -> None:
        with log.open("a") as fh:
            fh.write(f"{target.name}\n")
        time.sleep(pause)
        conn = sqlite3.connect(target)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('27d8f4e1a6c9')")
        conn.execute("CREATE TABLE flow (id TEXT PRIMARY KEY, name TEXT)")
        conn.commit()
        conn.close()

    return build


def builds(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_matching_template_is_reused(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    cache = tmp_path / "cache"
    first = prefect_db.ensure_template(KEY, directory=cache, build=fake_build(log))
    again = prefect_db.ensure_template(KEY, directory=cache, build=fake_build(log))
    assert first == again == cache / f"{KEY}.db"
    assert builds(log) == 1
    assert prefect_db.valid(first, KEY)
    # Whole in one file: no WAL beside it that a copy would leave behind.
    assert sorted(p.name for p in cache.iterdir()) == [f"{KEY}.db", f"{KEY}.lock"]


def test_another_versions_template_is_not_trusted(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    cache = tmp_path / "cache"
    old = prefect_db.ensure_template("prefect-9.9.8-sqlite", directory=cache,
                                     build=fake_build(log))
    # Another version has a file of its own …
    assert prefect_db.ensure_template(KEY, directory=cache, build=fake_build(log)) != old
    assert builds(log) == 2
    # … and a file under this version's name that was made for another is built again.
    (cache / f"{KEY}.db").write_bytes(old.read_bytes())
    assert not prefect_db.valid(cache / f"{KEY}.db", KEY)
    path = prefect_db.ensure_template(KEY, directory=cache, build=fake_build(log))
    assert builds(log) == 3
    assert prefect_db.valid(path, KEY)


def test_a_damaged_template_is_built_again(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    cache = tmp_path / "cache"
    path = prefect_db.ensure_template(KEY, directory=cache, build=fake_build(log))
    whole = path.read_bytes()
    for damaged in (whole[: len(whole) // 2], b"not a database" * 100, b""):
        path.write_bytes(damaged)
        assert not prefect_db.valid(path, KEY)
        assert prefect_db.ensure_template(KEY, directory=cache, build=fake_build(log)) == path
        assert prefect_db.valid(path, KEY)
    assert builds(log) == 4
    # A template without Alembic's revision is not one either.
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM alembic_version")
    conn.commit()
    conn.close()
    assert not prefect_db.valid(path, KEY)


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"

    def broken(target: Path) -> None:
        target.write_bytes(b"half a database")
        raise RuntimeError("migrations failed")

    try:
        prefect_db.ensure_template(KEY, directory=cache, build=broken)
    except RuntimeError:
        pass
    else:
        raise AssertionError("a failed build must raise")
    assert [p.name for p in cache.iterdir()] == [f"{KEY}.lock"]


def _ensure(cache: str, log: str) -> str:
    path = prefect_db.ensure_template(KEY, directory=Path(cache),
                                      build=fake_build(Path(log), pause=1.0))
    return str(path)


def test_two_processes_creating_it_at_once_build_it_once(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    cache = tmp_path / "cache"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        paths = pool.starmap(_ensure, [(str(cache), str(log))] * 2)
    assert paths == [str(cache / f"{KEY}.db")] * 2
    assert builds(log) == 1
    assert prefect_db.valid(Path(paths[0]), KEY)


def test_a_home_is_seeded_once_and_its_database_kept(tmp_path: Path) -> None:
    log = tmp_path / "builds.log"
    cache = tmp_path / "cache"
    home_db = tmp_path / "home" / "prefect.db"
    assert prefect_db.seed(home_db, key=KEY, directory=cache, build=fake_build(log))
    conn = sqlite3.connect(home_db)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
        ("27d8f4e1a6c9",)]
    conn.execute("INSERT INTO flow VALUES ('1', 'a flow of this home')")
    conn.commit()
    conn.close()
    # A home that has a database keeps it: never replaced by the template.
    assert not prefect_db.seed(home_db, key=KEY, directory=cache, build=fake_build(log))
    conn = sqlite3.connect(home_db)
    assert conn.execute("SELECT name FROM flow").fetchall() == [("a flow of this home",)]
    conn.close()
    assert builds(log) == 1
    assert sorted(p.name for p in home_db.parent.iterdir()) == ["prefect.db"]
