"""A process that renders with the owned pool and stops mid-render (test_render_pool.py).

Run as `python -m tests.orchestration.render_pool_child MARKS JOBS`: JOBS stand-in renders,
each writing a mark into MARKS as it starts and then working for ten minutes; it prints
"started" once two are under way. The test then kills it and looks for survivors. With a
third argument `idle`, it renders JOBS quick renders, prints "started" and waits, its pool
kept (idle workers).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def slow_render(ctx: object, out: Path, template_dir: Path | None = None) -> None:
    """A render that takes ten minutes: marks that it started, then works."""
    (Path(str(ctx)) / f"{out.name}.started").write_text("", encoding="utf-8")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        sum(range(10_000))  # busy, as a render is


def failing_render(ctx: object, out: Path, template_dir: Path | None = None) -> None:
    """A render that fails two seconds after it sees another under way."""
    marks = Path(str(ctx))
    deadline = time.monotonic() + 120
    while not list(marks.glob("*.started")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2)  # the test looks for the workers meanwhile
    raise RuntimeError("模板损坏")


def pid_render(ctx: object, out: Path, template_dir: Path | None = None) -> None:
    """A render that writes the id of the process that ran it."""
    out.write_text(str(os.getpid()), encoding="ascii")


def noop(ctx: object, out: Path, template_dir: Path | None = None) -> None:
    """A render that does nothing (to time a pool's start)."""


def main() -> None:
    """Render the stand-in jobs side by side, as the rectify stage does."""
    from duban.adapters.children import exit_on_signals
    from duban.adapters.documents.parallel import render_all

    # By its module's name, not __main__'s: the workers look the render up by that name.
    from tests.orchestration.render_pool_child import slow_render

    marks, count = Path(sys.argv[1]), int(sys.argv[2])
    if sys.argv[3:] == ["idle"]:
        from tests.orchestration.render_pool_child import pid_render

        with exit_on_signals():
            render_all([(pid_render, None, marks / f"job{i}", None)  # type: ignore[misc]
                        for i in range(count)])
            print("started", flush=True)
            time.sleep(600)
        return
    jobs = [(slow_render, str(marks), marks / f"job{i}", None) for i in range(count)]
    with exit_on_signals():
        import threading

        def announce() -> None:
            while len(list(marks.glob("*.started"))) < 2:
                time.sleep(0.05)
            print("started", flush=True)

        threading.Thread(target=announce, daemon=True).start()
        render_all(jobs)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
