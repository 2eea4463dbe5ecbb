"""The folders duban ships with its code: document and page templates, the seed plans, the
holiday calendars and the fontconfig aliases, read through `importlib.resources`.

They live in the package as `duban/_data/<name>`: in a checkout those are links to the
repository's own `templates/`, `plans/`, `calendars/` and `deploy/fontconfig/` (so the files
are edited where they always were), and a wheel built from the project carries real copies
(pyproject.toml's package-data), so an installed duban finds them wherever it runs from.
The Alembic migrations are the `migrations` package's own files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SHIPPED = ("templates", "plans", "calendars", "fontconfig")


def resource_dir(name: str) -> Path:
    """A shipped folder (one of SHIPPED) as a path on disk."""
    if name not in SHIPPED:
        raise ValueError(f"not a folder duban ships: {name!r}")
    # A regular package installed from a wheel or linked by an editable install: a real path.
    return Path(str(files("duban") / "_data" / name))


def migrations_dir() -> Path:
    """The Alembic scripts (migrations/env.py, versions/), as installed with the package."""
    return Path(str(files("migrations")))
