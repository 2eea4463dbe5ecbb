"""The orchestration suite for `python -m bench` (see bench/orchestration.py)."""

from __future__ import annotations

from bench.common import Entry


def prepare(quick: bool, backends: list[str]) -> None:
    """The city sweep's database, set up ahead (bench.__main__.prepare)."""
    from bench.orchestration import prepare_city_sweep

    if "postgresql" in backends:
        prepare_city_sweep(quick)


def run_suite(quick: bool, backends: list[str]) -> list[Entry]:
    """Deadline sweep on PostgreSQL, county-size stage under Prefect on each backend."""
    from bench.orchestration import run_entries

    return run_entries(quick, backends)[0]
