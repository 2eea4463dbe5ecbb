"""A worker's flow runs lead sessions of their own: found through their parent, and stopped.

`duban worker` stops them this way on SIGTERM (duban/cli/worker.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from duban.adapters.children import OwnedChild, descendants, stop_processes

# A parent that starts a child in a new session (as Prefect's worker starts a flow run), which
# ignores SIGTERM and starts a grandchild of its own; the parent prints their pids.
TREE = """
import subprocess, sys
code = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
        "print(g.pid, flush=True); time.sleep(600)")
run = subprocess.Popen([sys.executable, '-c', code], start_new_session=True,
                       stdout=subprocess.PIPE, text=True)
print(run.pid, run.stdout.readline().strip(), flush=True)
import time; time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_descendants_in_other_sessions_are_found_and_stopped() -> None:
    parent = OwnedChild([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    pids: list[int] = []
    try:
        assert parent.process.stdout is not None
        pids = [int(p) for p in parent.process.stdout.readline().split()]
        run, grandchild = pids
        found = descendants(parent.pid)
        assert {run, grandchild} <= set(found)
        parent.stop()
        # The run is in a session of its own: stopping the parent's group left it running.
        assert _alive(run) and _alive(grandchild)
        started = time.monotonic()
        stop_processes(found, grace_s=1.0)  # it ignores SIGTERM: SIGKILL after the grace
        deadline = time.monotonic() + 60
        while (_alive(run) or _alive(grandchild)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(run) and not _alive(grandchild)
        assert time.monotonic() - started >= 1.0
    finally:
        parent.kill()
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
