"""Rendering several documents side by side, in worker processes (issue 17).

A county's rectify stage renders some sixty 督办通知书 of several hundred table rows each:
independent CPU work, done by worker processes while the database work stays in the caller
(one writer). Workers are forked from multiprocessing's fork server, which has the renderer
imported already, so a pool costs milliseconds to start; each worker asks the kernel for
SIGTERM when the fork server ends. The fork server was seen to outlive a SIGKILLed duban, so
the pool is opt-in (DUBAN_RENDER_PROCESSES) until it is owned like duban's other children.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from duban.adapters.children import PR_SET_PDEATHSIG

# Fewer documents than this are rendered in the calling process: a pool would cost more.
POOL_MIN = 4

Job = tuple[Callable[..., object], object, Path, Path | None]  # render, context, out, templates


def render_processes() -> int:
    """How many processes render side by side: DUBAN_RENDER_PROCESSES, else one.

    Opt-in: a SIGKILLed duban was seen to leave the fork server and its workers running (they
    finish their renders and are reparented), so the pool is off until that is fixed.
    """
    configured = os.environ.get("DUBAN_RENDER_PROCESSES", "").strip()
    return max(1, int(configured)) if configured else 1


def _die_with_fork_server() -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _sendable(render: Callable[..., object]) -> bool:
    """Whether a worker can find the renderer by name (a test's stand-in runs here)."""
    try:
        pickle.dumps(render)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def _run(job: Job) -> None:
    render, ctx, out, templates = job
    render(ctx, out, template_dir=templates)


def render_all(jobs: Sequence[Job]) -> None:
    """Run `render(ctx, out, template_dir=templates)` for every job; an error is raised as is.

    Side by side in worker processes when there are POOL_MIN jobs or more and more than one
    process may render; otherwise one after the other here.
    """
    workers = min(len(jobs), render_processes())
    if (workers < 2 or len(jobs) < POOL_MIN or not hasattr(os, "sched_getaffinity")
            or not _sendable(jobs[0][0])):
        for job in jobs:
            _run(job)
        return
    context = multiprocessing.get_context("forkserver")
    # Only the fork server's first start reads this: the renderer's modules, imported once.
    context.set_forkserver_preload(["duban.adapters.documents.render", jobs[0][0].__module__])
    initializer = _die_with_fork_server if os.uname().sysname == "Linux" else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=initializer) as pool:
        for _ in pool.map(_run, jobs):
            pass
