"""The render pool is owned: nothing of it outlives its owner, killed or stopped (issue 17)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from duban.adapters.children import descendants
from duban.adapters.documents import parallel
from tests.conftest import ROOT
from tests.orchestration.helpers import live_processes
from tests.orchestration.render_pool_child import failing_render, pid_render, slow_render

FORK_SERVER = "multiprocessing.forkserver"


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive after `seconds` (none when all ended in time)."""
    deadline = time.monotonic() + seconds
    while True:
        live = live_processes()
        alive = [p for p in pids if p in live]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_nothing_of_the_pool_outlives_its_owner(tmp_path: Path, sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_RENDER_PROCESSES": "2"}
    owner = subprocess.Popen(
        [sys.executable, "-m", "tests.orchestration.render_pool_child", str(tmp_path), "6"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree: list[int] = []
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "started", owner.stderr and owner.stderr.read()
        tree = descendants(owner.pid)
        live = live_processes()
        commands = [live[p][1] for p in tree if p in live]
        # The fork server, the resource tracker and two workers forked from the fork server.
        assert sum(FORK_SERVER in c for c in commands) >= 3, commands
        assert any("resource_tracker" in c for c in commands), commands
        started = time.monotonic()
        owner.send_signal(sig)
        owner.wait(timeout=30)
        exited_s = time.monotonic() - started
        assert not _gone_within(tree, 5), "the render pool outlived its owner"
        if sig == signal.SIGTERM:
            # exit_on_signals made it a SystemExit: the pool stopped its workers mid-render
            # and did not start the four queued renders.
            assert owner.returncode == 128 + signal.SIGTERM, owner.stderr and owner.stderr.read()
            assert exited_s < 5
        assert len(list(tmp_path.glob("*.started"))) == 2
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        _kill_all(tree)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_an_idle_pool_does_not_outlive_its_owner(tmp_path: Path, sig: signal.Signals) -> None:
    """The pool kept between batches: its idle workers end with the owner, however it ends."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_RENDER_PROCESSES": "2"}
    owner = subprocess.Popen(
        [sys.executable, "-m", "tests.orchestration.render_pool_child", str(tmp_path), "6",
         "idle"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree: list[int] = []
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "started", owner.stderr and owner.stderr.read()
        tree = descendants(owner.pid)
        renderers = {int((tmp_path / f"job{i}").read_text()) for i in range(6)}
        assert renderers and renderers <= set(tree), (renderers, tree)  # idle, still there
        owner.send_signal(sig)
        owner.wait(timeout=30)
        assert not _gone_within(tree, 5), "the idle render pool outlived its owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        _kill_all(tree)


def test_one_pool_serves_every_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers of the first batch render the next ones; closing the pool ends them."""
    monkeypatch.setenv("DUBAN_RENDER_PROCESSES", "2")
    parallel.close_pool()
    seen: list[set[int]] = []
    for batch in range(3):
        jobs: list[parallel.Job] = [(pid_render, None, tmp_path / f"b{batch}-{i}", None)
                                    for i in range(6)]
        parallel.render_all(jobs)
        seen.append({int((tmp_path / f"b{batch}-{i}").read_text()) for i in range(6)})
    workers = set().union(*seen)
    assert os.getpid() not in workers
    assert len(workers) <= 2, seen  # the same two processes, batch after batch
    parallel.close_pool()
    left = _gone_within(sorted(workers), 5)
    _kill_all(left)
    assert not left, "a worker outlived close_pool"


def test_a_failed_render_stops_the_others_at_once(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The error is raised as is; the renders under way are ended, the queued ones cancelled."""
    monkeypatch.setenv("DUBAN_RENDER_PROCESSES", "2")
    jobs: list[parallel.Job] = [(failing_render, str(tmp_path), tmp_path / "bad", None)]
    jobs += [(slow_render, str(tmp_path), tmp_path / f"job{i}", None) for i in range(4)]
    workers: set[int] = set()
    watching = threading.Event()
    watching.set()

    def watch() -> None:
        # The workers are the fork server's children; it is this process's child.
        while watching.is_set():
            try:
                live = live_processes()
            except (KeyError, ValueError):  # a process ended while /proc was read
                continue
            servers = {p for p, (ppid, cmd) in live.items()
                       if ppid == os.getpid() and FORK_SERVER in cmd}
            workers.update(p for p, (ppid, _) in live.items() if ppid in servers)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match="模板损坏"):
            parallel.render_all(jobs)
    finally:
        watching.clear()
        watcher.join()
    assert time.monotonic() - started < 60
    assert len(workers) >= 2, workers
    # The fork server stays for the next pool (one start per process); no worker is left.
    left = _gone_within(sorted(workers), 5)
    _kill_all(left)
    assert not left, "a worker outlived the failed batch"
    # One slow render was under way; at most one more was already handed to a worker.
    assert len(list(tmp_path.glob("*.started"))) <= 2


def test_how_many_processes_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUBAN_RENDER_PROCESSES", raising=False)
    assert parallel.render_processes(60) == 1  # off by default (docs/benchmarks.md, 整改)
    monkeypatch.setenv("DUBAN_RENDER_PROCESSES", "auto")
    assert parallel.render_processes(3) == 1
    assert parallel.render_processes(4) == min(2, len(os.sched_getaffinity(0)))
    monkeypatch.setenv("DUBAN_RENDER_PROCESSES", "2")
    assert parallel.render_processes(60) == 2
