"""Where duban keeps its data: the data directory and the database URL. Standard library only:
`duban tick` handed to `duban serve` needs both before anything else and must not pay for
SQLAlchemy (~0.27 s of CPU, most of the command's) to learn them."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The data directory: $DUBAN_DATA_DIR, else ./data beside where duban runs."""
    return Path(os.environ.get("DUBAN_DATA_DIR", "data")).resolve()


def private_dir(path: Path) -> Path:
    """A folder created owner-only (0700) when it does not exist yet (an existing one is the
    operator's to set); returns it."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is narrowed by the umask, never widened
    return path


def private_data_dir() -> Path:
    """The data directory, created owner-only when missing: it holds the SQLite database,
    evidence, documents and the web's secret key."""
    return private_dir(data_dir())


def database_url() -> str:
    """$DUBAN_DATABASE_URL, else a SQLite file in the data directory (the embedded default)."""
    url = os.environ.get("DUBAN_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{private_data_dir() / 'duban.sqlite3'}"
