"""The data folder and the SQLite database are created private (0700 / 0600), whatever the
umask, as the web's secret key already was."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from duban.services.root import build_root
from duban.web.security import SECRET_FILE, load_secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_and_database_are_owner_only(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "srv" / "duban" / "data"
    monkeypatch.setenv("DUBAN_DATA_DIR", str(data))
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("DUBAN_SECRET_KEY", raising=False)
    old = os.umask(0o022)
    try:
        root = build_root(migrate=True)
        try:
            assert _mode(data) == 0o700
            database = data / "duban.sqlite3"
            assert database.is_file() and database.stat().st_size > 0  # migrated
            assert _mode(database) == 0o600
            for extra in data.glob("duban.sqlite3-*"):  # WAL and shared memory follow the file
                assert _mode(extra) & 0o077 == 0, extra
            load_secret(None)
            assert _mode(data / SECRET_FILE) == 0o600
        finally:
            root.db.engine.dispose()
        # An existing folder is the operator's: its mode is left alone.
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o755)
        os.chmod(shared, 0o755)
        monkeypatch.setenv("DUBAN_DATA_DIR", str(shared))
        build_root().db.engine.dispose()
        assert _mode(shared) == 0o755
    finally:
        os.umask(old)
