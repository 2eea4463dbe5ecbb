"""`duban` in a child process with a fault at a chosen point: `python -m tests.orchestration.fault_child tick`.

The command is duban's own entry point (`duban.cli.main`) with the arguments given; before it
runs, the hook named by $DUBAN_TEST_FAULT is installed on the Prefect task (or document store)
it names. Product code carries no fault hook: the hooks wrap functions in this process only.

    DUBAN_TEST_FAULT = ACTION:TARGET:WHEN:N[:DIR]

ACTION  kill   SIGKILL this process (kill -9, nothing runs after it)
        pause  write DIR/paused, wait until DIR/go exists, then carry on
TARGET  a task name of tasks.orchestration (`issue-notices`; a step the tick calls in its flow
        run, not as a task run, `notice-round`, is called as its task's `.fn`, which the hook
        wraps),
        `deliver-send` (sending a batch of outbox rows, whose claim is committed) or
        `documents-stored` (the notices' files rendered and moved into place, their rows not
        committed)
WHEN    before | after the target's N-th call in this process (1-based)

$DUBAN_TEST_TRACE names a file each task's name is appended to when it starts (the tick's
boundaries, for the suite's table).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FAULT_VAR = "DUBAN_TEST_FAULT"
TRACE_VAR = "DUBAN_TEST_TRACE"
PAUSE_LIMIT_S = 600


def _act(action: str, folder: str) -> None:
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)  # never reached: the signal is not delivered later than this
    elif action == "pause":
        Path(folder, "paused").write_text(str(os.getpid()))
        deadline = time.monotonic() + PAUSE_LIMIT_S
        while not Path(folder, "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("fault_child: never released")
            time.sleep(0.05)
    else:
        raise SystemExit(f"fault_child: unknown action {action}")


def _hooked(fn: Callable[..., Any], name: str, spec: list[str] | None,
            trace: str | None) -> Callable[..., Any]:
    calls = 0

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if trace:
            with open(trace, "a", encoding="utf-8") as fh:
                fh.write(name + "\n")
        hit = spec is not None and spec[1] == name and int(spec[3]) == calls
        if hit and spec is not None and spec[2] == "before":
            _act(spec[0], spec[4] if len(spec) > 4 else "")
        result = fn(*args, **kwargs)
        if hit and spec is not None and spec[2] == "after":
            _act(spec[0], spec[4] if len(spec) > 4 else "")
        return result

    return wrapper


def install() -> None:
    """Wrap every task of the tick (and the two inner points) with the hook."""
    from prefect import Task

    import tasks.delivery
    import tasks.orchestration
    from duban.services.notices import documents

    raw = os.environ.get(FAULT_VAR, "")
    spec = raw.split(":", 4) if raw else None
    trace = os.environ.get(TRACE_VAR) or None
    for value in vars(tasks.orchestration).values():
        if isinstance(value, Task):
            # Prefect calls task.fn with the bound parameters: the wrapper keeps the signature.
            value.fn = _hooked(value.fn, value.name, spec, trace)
    documents.store_rendered_all = _hooked(documents.store_rendered_all, "documents-stored",
                                           spec, None)
    tasks.delivery.send_batch = _hooked(tasks.delivery.send_batch, "deliver-send", spec, None)


def main() -> None:
    """Install the hooks, then run duban with this process's arguments."""
    install()
    from duban.cli import main as duban_main

    sys.argv = ["duban", *sys.argv[1:]]
    duban_main()


if __name__ == "__main__":
    main()
