"""Rendering several documents side by side, in worker processes duban owns (issue 17).

A county's rectify stage renders a 督办通知书 per office, some thirty of them with up to
~15,000 table rows (114,000 in all at 300,000 households): independent CPU work, done by
worker processes while the database work stays in the caller (one writer). Workers are
forked from multiprocessing's fork server, which has the renderer imported already and is
started once per process; the pool itself is kept for the process (every batch and stage
after the first reuses its workers, whose renderer caches are warm) and ended by a failed
batch, by `close_pool` or at the process's exit.

The pool is owned like duban's other children: nothing of it outlives the caller. Every worker
holds the read end of a pipe whose only write end is the caller's; a thread in the worker ends
the worker when that pipe reaches end of file, which the kernel makes happen when the caller
dies (SIGKILL included) and which the caller makes happen on any stop (an error, SIGTERM turned
into SystemExit, Ctrl-C). Queued renders are cancelled first. Without this a worker waits on
its task queue forever (the queue's write end is in every worker too), holding the fork
server's "alive" pipe and the resource tracker's, so all three outlived a SIGKILLed duban.
Workers also ask for SIGTERM should the fork server itself die (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from duban.adapters.children import PR_SET_PDEATHSIG

# Fewer documents than this are rendered in the calling process: a pool would cost more.
POOL_MIN = 4
# At most this many render processes by default: one per core of the 2-core county server.
DEFAULT_PROCESSES = 2

Job = tuple[Callable[..., object], object, Path, Path | None]  # render, context, out, templates

# CPU seconds the workers of this process's pools spent on their jobs (for the benchmarks,
# which cannot see the CPU of processes that are not their own children).
_worker_cpu_s = 0.0
_cpu_lock = threading.Lock()


def render_processes(documents: int) -> int:
    """How many processes render `documents` side by side: DUBAN_RENDER_PROCESSES, else one.

    Off by default, measured with the pool kept for the process (docs/benchmarks.md, 整改):
    at the county size (34 notices, 114,000 table rows) two processes took the same CPU to
    12 % more (80 s against 72 s at best), at the quick size more (7.4 s against 5.7 s), and
    on the shared machine no less wall time (no idle core). `auto` asks for min(2, cores).
    """
    configured = os.environ.get("DUBAN_RENDER_PROCESSES", "").strip().lower()
    if configured == "auto":
        if documents < POOL_MIN or not hasattr(os, "sched_getaffinity"):
            return 1
        return min(DEFAULT_PROCESSES, len(os.sched_getaffinity(0)))
    return max(1, int(configured)) if configured else 1


def worker_cpu_seconds() -> float:
    """CPU seconds spent by render workers on their jobs so far, in this process's pools."""
    return _worker_cpu_s


def _watch(keep: Connection) -> None:
    """In a worker: end it as soon as the owner's end of `keep` is closed (or the owner died)."""
    with contextlib.suppress(EOFError, OSError):
        keep.recv_bytes()  # nothing is ever sent: this returns only by EOFError
    os._exit(1)


def _start_worker(keep: Connection) -> None:
    """A worker's initializer: die with the fork server and with the owner."""
    if os.uname().sysname == "Linux":
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    threading.Thread(target=_watch, args=(keep,), name="owner-watch", daemon=True).start()


def _sendable(render: Callable[..., object]) -> bool:
    """Whether a worker can find the renderer by name (a test's stand-in runs here)."""
    try:
        pickle.dumps(render)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _run(job: Job) -> float:
    """Render one job; return the CPU seconds it took."""
    started = time.process_time()
    render, ctx, out, templates = job
    render(ctx, out, template_dir=templates)
    return time.process_time() - started


class _OwnedPool:
    """A ProcessPoolExecutor and the pipe that ends its workers when this process ends."""

    def __init__(self, workers: int, preload: Sequence[str]) -> None:
        context = multiprocessing.get_context("forkserver")
        # Read by the fork server's first start only: the renderer's modules, imported once.
        context.set_forkserver_preload(["duban.adapters.documents.render", *preload])
        self.workers = workers
        self.pid = os.getpid()
        self._keep, self._owner_end = context.Pipe(duplex=False)
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                            initializer=_start_worker, initargs=(self._keep,))

    def close(self, *, abort: bool) -> None:
        """Wait for the submitted work and end the workers; with `abort`, end them mid-job."""
        try:
            if abort:
                self.executor.shutdown(wait=False, cancel_futures=True)
                self._owner_end.close()  # the workers' watchers see EOF and end them mid-job
            self.executor.shutdown(wait=True)
        finally:
            self._owner_end.close()
            self._keep.close()


# The process's one render pool, started by the first batch that needs it and kept for the
# next ones (its workers' renderer caches stay warm: a pool per batch cost more CPU than it
# saved, docs/benchmarks.md 整改). A failed batch ends it; the process's exit ends it too.
_shared: _OwnedPool | None = None
_shared_lock = threading.Lock()
_atexit_registered = False


def _shared_pool(workers: int, preload: Sequence[str]) -> _OwnedPool:
    global _shared
    with _shared_lock:
        if _shared is not None and _shared.pid != os.getpid():
            _shared = None  # a forked child's copy: its parent's workers, not ours to use
        if _shared is not None and _shared.workers != workers:
            _shared.close(abort=False)
            _shared = None
        if _shared is None:
            if not _atexit_registered:
                _register_atexit()
            _shared = _OwnedPool(workers, preload)
        return _shared


def _discard(pool: _OwnedPool, *, abort: bool) -> None:
    global _shared
    with _shared_lock:
        if _shared is pool:
            _shared = None
    pool.close(abort=abort)


def close_pool() -> None:
    """End this process's render pool, if it has one (at exit, and between tests)."""
    pool = _shared
    if pool is not None and pool.pid == os.getpid():
        _discard(pool, abort=False)


def _register_atexit() -> None:
    global _atexit_registered
    import atexit

    atexit.register(close_pool)
    _atexit_registered = True


def render_all(jobs: Sequence[Job], weights: Sequence[int] | None = None) -> None:
    """Run `render(ctx, out, template_dir=templates)` for every job; an error is raised as is.

    Side by side in the process's owned worker processes (`_shared_pool`, kept from one batch
    to the next) when there are POOL_MIN jobs or more and more than one process may render
    (`render_processes`); otherwise one after the other here. `weights` (say, table rows)
    start the heaviest first, so no core is left idle while one long table ends the batch.
    Any failure (a render's error, SIGTERM turned into SystemExit, Ctrl-C) cancels the queued
    renders and ends the pool's workers at once; the next batch starts a new pool.
    """
    global _worker_cpu_s
    workers = min(len(jobs), render_processes(len(jobs)))
    if workers < 2 or len(jobs) < POOL_MIN or not _sendable(jobs[0][0]):
        for job in jobs:
            _run(job)
        return
    order = sorted(range(len(jobs)), key=lambda i: -weights[i]) if weights else range(len(jobs))
    pool = _shared_pool(render_processes(len(jobs)), [jobs[0][0].__module__])
    spent = 0.0
    try:
        futures: list[Future[float]] = [pool.executor.submit(_run, jobs[i]) for i in order]
        for future in futures:
            spent += future.result()
    except BaseException:
        _discard(pool, abort=True)
        raise
    finally:
        with _cpu_lock:
            _worker_cpu_s += spent
