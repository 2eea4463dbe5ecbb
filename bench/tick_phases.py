"""Where a `duban tick` process's CPU goes, phase by phase, without a profiler (cProfile
inflates imports several times): the phases of `duban/cli/serve.py:tick_cmd`, each timed with
time.process_time and perf_counter.

    DUBAN_DATABASE_URL=… DUBAN_DATA_DIR=… python -m bench.tick_phases 2022-09-14T08:00+08:00

Run it beside a `duban serve` of the same data directory to see a tick on serve's server
(docs/benchmarks.md, "A tick as its own process", beside a running server).
"""

from __future__ import annotations

import sys
import time

_marks: list[tuple[float, float, str]] = [(time.perf_counter(), time.process_time(), "start")]


def _mark(name: str) -> None:
    _marks.append((time.perf_counter(), time.process_time(), name))


def main(now: str) -> None:
    """Run one tick at `now`, printing each phase's wall and CPU seconds."""
    import duban.cli.base

    _mark("the CLI")
    import sqlalchemy  # noqa: F401

    import duban.services.root  # noqa: F401

    _mark("SQLAlchemy and the root's module")
    import prefect  # noqa: F401

    _mark("import prefect")
    from flows.tick import run_tick

    _mark("flows.tick (the rest of its imports)")
    from duban.cli.base import parse_now
    from duban.services.root import build_root, install_root

    install_root(build_root(clock=parse_now(now), migrate=True))
    _mark("build the root, schema check")
    from flows.common import owned_prefect_server, sharing_server

    with owned_prefect_server(share=True):
        _mark(f"find or start the server (serve's: {sharing_server()})")
        run_tick(now)
        _mark("run_tick")
    _mark("drain, stop an own server")
    previous = _marks[0]
    for wall, cpu, name in _marks[1:]:
        print(f"{name:45s} wall {wall - previous[0]:6.2f} s  CPU {cpu - previous[1]:6.2f} s")
        previous = (wall, cpu, name)
    print(f"{'total':45s} wall {_marks[-1][0] - _marks[0][0]:6.2f} s  "
          f"CPU {_marks[-1][1] - _marks[0][1]:6.2f} s")


if __name__ == "__main__":
    from bench.common import stages_unpaced

    stages_unpaced()
    main(sys.argv[1])
