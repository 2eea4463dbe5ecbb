"""bench/forked.py: scripts run in children forked from one process that imported once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.forked import Ahead, Forker

_SCRIPT = r"""
import json, os, sys
import bench.forked as shared
seen = getattr(shared, "seen", [])
seen.append(sys.argv[1])
shared.seen = seen
print("some output first")
print(json.dumps({"args": sys.argv[1:], "pid": os.getpid(), "ppid": os.getppid(),
                  "seen": seen, "preloaded": "bench.common" in sys.modules}))
"""


def test_each_script_runs_in_a_fresh_child_of_the_preloaded_process() -> None:
    with Forker("import bench.common") as forker:
        first = forker.run(_SCRIPT, "a", 2)
        second = forker.run(_SCRIPT, "b", 3)
        parent = forker.process.pid
    assert first["args"] == ["a", "2"] and second["args"] == ["b", "3"]
    assert first["preloaded"] and second["preloaded"]  # imported once, before the fork
    assert first["ppid"] == second["ppid"] == parent
    assert first["pid"] != second["pid"] != parent
    assert second["seen"] == ["b"]  # nothing a previous script did is left behind


def test_a_failing_script_raises_with_its_error_and_the_next_one_runs() -> None:
    with Forker("") as forker:
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            forker.run("1 / 0")
        with pytest.raises(RuntimeError, match="exit 3"):
            forker.run("import sys; sys.exit(3)")
        assert forker.run('print(\'{"ok": true}\')') == {"ok": True}
    assert forker.process.returncode == 0  # ended by close, at the end of its input


def test_ready_returns_once_the_preload_has_run(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    preload = f"import time; time.sleep(0.5); open({str(marker)!r}, 'w').close()"
    with Forker(preload) as forker:
        forker.ready()
        assert marker.exists()  # the imports are done before anything is timed beside them
        forker.ready()  # once only: the next line is a script's answer
        assert forker.run('print(\'{"ok": true}\')') == {"ok": True}


def test_a_script_started_ahead_runs_in_its_own_process_once_given_its_arguments(
        tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    preload = f"import bench.common; open({str(marker)!r}, 'w').close()"
    started = Ahead(preload, _SCRIPT)
    started.ready()
    assert marker.exists()  # imported before it was given anything to run
    answer = started.run("a", 2)
    assert answer["args"] == ["a", "2"] and answer["preloaded"]
    assert answer["pid"] == started.process.pid  # a process of its own, not a fork
    assert started.process.returncode == 0
    unused = Ahead("", _SCRIPT)
    unused.close()  # never run: it ends at the end of its input
    assert unused.process.returncode == 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        Ahead("", "1 / 0").run()
