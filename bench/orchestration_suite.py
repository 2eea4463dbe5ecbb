"""The orchestration suite for `python -m bench` (see bench/orchestration.py)."""

from __future__ import annotations

from bench.common import Entry


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """Deadline sweep on PostgreSQL, county-size stage under Prefect on each backend."""
    from bench.orchestration import run_entries

    return run_entries(quick, backends)[0]
