"""Measuring scripts in child processes forked from one that imported their modules once.

The intake and 排查 suites run each measured step as a script in a process of its own, so its
peak memory is the step's own and nothing of the step before it is warm. Started
with `python -c`, each of those processes spent ~0.6 s of CPU importing duban, SQLAlchemy and
the models before its script began (16 of them in a quick run: about 10 s of its minute).
`Forker` starts one process that imports those modules once (`preload`), then forks a child per
script: the child begins where a fresh process would be after its imports (the same modules,
nothing else: no connection, no thread, no cache warmed by a previous step), runs the script
with its arguments as `sys.argv[1:]`, and its standard output comes back as the answer. What a
script measures starts after its imports either way (each warms itself: mappers configured, a
connection opened), so its times are the same. Not its peak memory: a forked child's is its
parent's pages and then its own, so a step whose peak memory is a row keeps a process started
for it (the intake suite's imports, started ahead: `Ahead`), which reads its own high-water
mark (VmHWM, bench.floor_script.PEAK; ru_maxrss carries the starting process's peak across
exec, which the 15–27 MiB "forked children peak lower" of 2026-12-05 read). docs/benchmarks.md,
"Quick run under a minute (helper quick3)" and "Quick run: set-up while the server starts".

Every child is reaped by the forking process, whose own CPU and its children's reach the bench
(the suites' CPU figures) when it ends: `close` (or the `with` block) ends it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# The forking process: imports, then one request a line on stdin ({"code", "args"}), one answer
# a line on stdout ({"status", "out", "err"}); it ends at end of input.
_SERVER = r"""
import json, os, sys, tempfile, traceback
exec(sys.argv[1])
# No gc.freeze(): a child's collections go over the imported modules' objects, as a fresh
# process's do (freezing them would make the children's work lighter than it is).
requests, answers = sys.stdin, os.fdopen(os.dup(1), "w")
answers.write("{}\n")  # imported: ready (Forker.ready)
answers.flush()
null = os.open(os.devnull, os.O_RDWR)
for line in requests:
    request = json.loads(line)
    out_fd, out_path = tempfile.mkstemp(prefix="duban-bench-child-")
    err_fd, err_path = tempfile.mkstemp(prefix="duban-bench-child-")
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.dup2(null, 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            sys.argv = ["-c", *request["args"]]
            exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(status)
    os.close(out_fd)
    os.close(err_fd)
    _, waited = os.waitpid(pid, 0)
    texts = []
    for path in (out_path, err_path):
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
        os.unlink(path)
    answers.write(json.dumps({"status": os.waitstatus_to_exitcode(waited), "out": texts[0],
                              "err": texts[1]}) + "\n")
    answers.flush()
"""


class Forker:
    """A process that has run `preload` (imports) and forks a child for each `run`."""

    def __init__(self, preload: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, preload], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self._ready = False

    def ready(self) -> None:
        """Wait until the process has run `preload`: its imports must not run beside a step
        that is timed (started ahead, it is ready long before)."""
        assert self.process.stdout is not None
        if not self._ready:
            if not self.process.stdout.readline():
                raise RuntimeError(f"the forking process ended (exit {self.process.wait()})")
            self._ready = True

    def run(self, code: str, *args: object) -> dict[str, Any]:
        """Run `code` in a fresh fork with `args` as its arguments; the JSON object its last
        line of output prints. A script that fails raises, with its standard error."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.ready()
        self.process.stdin.write(json.dumps({"code": code, "args": [str(a) for a in args]}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the forking process ended (exit {self.process.wait()})")
        answer = json.loads(line)
        if answer["status"] != 0:
            raise RuntimeError(f"a forked script failed (exit {answer['status']}):\n"
                               f"{answer['err'][-4000:]}")
        return dict(json.loads(answer["out"].strip().splitlines()[-1]))

    def close(self) -> None:
        """End the forking process (its CPU and its children's then count as this one's)."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Forker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# A process of its own started ahead: imports (argv[1]), says so, then waits for its arguments
# (a JSON list, one line on stdin) and runs the script (argv[2]) with them.
_AHEAD = r"""
import json, sys
exec(sys.argv[1])
print("{}", flush=True)
line = sys.stdin.readline()
if not line:
    raise SystemExit(0)
code, sys.argv = sys.argv[2], ["-c", *json.loads(line)]
exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
"""


class Ahead:
    """A script's process of its own (its peak memory its own, imports and all), started
    ahead and waiting with its imports done, so starting it costs no wall time of a suite's.

    What the script measures starts after its own warm-up, as in a process started for it
    when it runs; the process idles (blocked on its standard input) until `run`."""

    def __init__(self, preload: str, code: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _AHEAD, preload, code], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self._ready = False

    def ready(self) -> None:
        """Wait until its imports are done (they must not run beside a timed step)."""
        assert self.process.stdout is not None
        if not self._ready:
            if not self.process.stdout.readline():
                _, err = self.process.communicate()
                raise RuntimeError(f"a started script ended (exit {self.process.returncode}):"
                                   f"\n{err[-4000:]}")
            self._ready = True

    def run(self, *args: object) -> dict[str, Any]:
        """Run the script with `args`; the JSON object its last line of output prints."""
        self.ready()
        out, err = self.process.communicate(json.dumps([str(a) for a in args]) + "\n")
        if self.process.returncode != 0:
            raise RuntimeError(f"a started script failed (exit {self.process.returncode}):\n"
                               f"{err[-4000:]}")
        return dict(json.loads(out.strip().splitlines()[-1]))

    def close(self) -> None:
        """End it unrun (its input closed)."""
        if self.process.returncode is None:
            self.process.communicate("")
