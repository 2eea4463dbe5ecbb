"""Every garbage collection of a web server's processes, logged (off unless asked for).

    PYTHONPATH=bench/gc_log DUBAN_BENCH_GC_LOG=/tmp/gc python -m bench.web_load run ... \
        --timeline /tmp/tl.csv

Python imports this `sitecustomize` at start-up in every process that has the directory on
its path (the bench's server and `duban serve`'s workers inherit the environment). With
DUBAN_BENCH_GC_LOG set, each process appends a line per collection to DIR/PID.log:

    <monotonic s> gen=<0|1|2> wall=<ms> cpu=<ms of the thread's CPU> collected=<objects>

on the system's monotonic clock, as `run --timeline`'s sent_monotonic column, to line the
collections up with the slow requests. DUBAN_BENCH_GC_TYPES=1 adds, for middle and full
collections, how many objects the generation holds and its commonest types (counted before
the timed part; it costs the process a walk of the generation). Middle and full collections
also log `kept=<n>`: the ledger page statements the process keeps (views.ledger.page_statement)
once it has imported them.
"""

from __future__ import annotations

import os

_DIR = os.environ.get("DUBAN_BENCH_GC_LOG")

if _DIR:
    import collections
    import gc
    import sys
    import time
    from typing import Any

    os.makedirs(_DIR, exist_ok=True)
    _TYPES = bool(os.environ.get("DUBAN_BENCH_GC_TYPES"))
    _state: dict[str, Any] = {}

    def _census(generation: int) -> str:
        objects = gc.get_objects(generation=generation)
        top = collections.Counter(type(o).__name__ for o in objects)
        n = len(objects)
        del objects
        return f" n={n} top={sorted(top.items(), key=lambda kv: -kv[1])[:8]}"

    def _on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gen = info["generation"]
            _state["extra"] = _census(gen) if _TYPES and gen >= 1 else ""
            ledger = sys.modules.get("duban.services.views.ledger")
            if gen >= 1 and ledger is not None:
                _state["extra"] += f" kept={len(ledger._page_statements)}"
            # Durations only (perf_counter, the thread's CPU): never shown as a date.
            _state["wall"] = time.perf_counter()
            _state["cpu"] = time.thread_time()
            return
        if "wall" not in _state:
            return
        wall = (time.perf_counter() - _state["wall"]) * 1000
        cpu = (time.thread_time() - _state["cpu"]) * 1000
        assert _DIR is not None
        with open(os.path.join(_DIR, f"{os.getpid()}.log"), "a", encoding="utf-8") as out:
            out.write(f"{time.perf_counter():.3f} gen={info['generation']} wall={wall:.1f} "
                      f"cpu={cpu:.1f} collected={info['collected']}{_state['extra']}\n")

    gc.callbacks.append(_on_collection)
