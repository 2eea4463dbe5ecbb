"""bench/forked.py: scripts run in children forked from one process that imported once."""

from __future__ import annotations

import pytest

from bench.forked import Forker

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
