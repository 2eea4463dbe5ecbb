"""bench's results files: a quick run's small sizes never replace the full figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bench.__main__ as bench_main
from bench.common import Entry


def _entry(value: float, size: int) -> Entry:
    return Entry("intake: register import", "sqlite", size, value, "s", floor=1.0,
                 ratio=value)


def test_quick_run_keeps_full_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full, quick = tmp_path / "results.json", tmp_path / "results-quick.json"
    monkeypatch.setattr(bench_main, "RESULTS", full)
    monkeypatch.setattr(bench_main, "QUICK_RESULTS", quick)
    assert bench_main.write_results([_entry(8.1, 300_000)], quick=False) == full
    assert bench_main.write_results([_entry(0.4, 20_000)], quick=True) == quick
    (kept,) = json.loads(full.read_text(encoding="utf-8"))
    assert (kept["value"], kept["size"]) == (8.1, 300_000)
    (small,) = json.loads(quick.read_text(encoding="utf-8"))
    assert (small["value"], small["size"]) == (0.4, 20_000)
    # A later full run still replaces its own entry and keeps the others.
    other = Entry("intake: ledger import", "sqlite", 30_000, 2.0, "s")
    bench_main.write_results([other, _entry(7.9, 300_000)], quick=False)
    assert [(e["name"], e["value"]) for e in json.loads(full.read_text(encoding="utf-8"))] == [
        ("intake: register import", 7.9), ("intake: ledger import", 2.0)]


def test_main_quick_writes_the_quick_file(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    full, quick = tmp_path / "results.json", tmp_path / "results-quick.json"
    full.write_text(json.dumps([_entry(8.1, 300_000).as_dict()]), encoding="utf-8")
    monkeypatch.setattr(bench_main, "RESULTS", full)
    monkeypatch.setattr(bench_main, "QUICK_RESULTS", quick)
    monkeypatch.setattr(bench_main, "suites",
                        lambda: {"intake": lambda q, b: [_entry(0.4 if q else 8.0, 1)]})
    assert bench_main.main(["--quick", "--backend", "sqlite"]) == 0
    assert json.loads(full.read_text(encoding="utf-8"))[0]["value"] == 8.1
    assert json.loads(quick.read_text(encoding="utf-8"))[0]["value"] == 0.4


def test_a_quick_run_of_the_flow_suites_shares_one_prefect_server() -> None:
    every = set(bench_main.suites())
    assert every >= bench_main.FLOW_SUITES | bench_main.SLOW_STARTS
    plain_quick = every - bench_main.SLOW_STARTS  # what `--quick` alone runs
    assert bench_main.shares_one_server(True, plain_quick)
    assert not bench_main.shares_one_server(False, plain_quick)  # full figures as taken
    assert not bench_main.shares_one_server(True, {"intake", "tick"})  # one start anyway
    # tick_process publishes serve's server to its tick processes: never an outer one.
    assert not bench_main.shares_one_server(True, {"tick", "campaign", "tick_process"})
