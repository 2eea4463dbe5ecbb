"""Child processes duban owns: its own process group, dead with its parent, stopped and reaped.

A plain Popen outlives a parent that is killed (SIGKILL runs no atexit and no finally), and
stopping only the child leaves its own children (LibreOffice's soffice.bin, started by the
soffice wrapper) behind. An owned child leads a process group of its own, so the whole group
is signalled; on Linux it is also sent SIGTERM by the kernel when the thread that started it
ends, which holds under SIGKILL of duban.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 5.0


def _die_with_parent(prctl: Any, parent: int, nice: int = 0) -> None:
    """In the child before exec: ask the kernel for SIGTERM when the starting thread ends,
    and lower its CPU priority by `nice`."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    # The parent may have died between fork and prctl; then nobody would ever signal us.
    if os.getppid() != parent:
        os._exit(1)
    if nice:
        os.nice(nice)
        nice_own_session()


def _lower_priority(nice: int) -> None:
    """In the child before exec: lower its CPU priority by `nice` (inherited by its own)."""
    os.nice(nice)
    nice_own_session()


AUTOGROUP = "/proc/self/autogroup"


def session_group_nice(pid: int | str = "self") -> int | None:
    """The nice of the autogroup that schedules a process, or None when none does.

    The file is missing on kernels without autogroup, and empty for a process in the
    kernel's root group (a session that never called setsid, as the CI machine's test
    runner): there is no session group to nice, and a plain nice weighs as it always did.
    Every new session (setsid) gets a group of its own, so a child that leads one reads its
    group here even when its parent reads None."""
    try:
        text = Path(f"/proc/{pid}/autogroup").read_text(encoding="ascii")
    except OSError:
        return None
    return int(text.split("nice")[-1]) if "nice" in text else None


def nice_own_session() -> None:
    """Give this process's session, as a scheduling group, the process's own niceness, when
    the process leads it.

    On Linux with autogroup (sched_autogroup_enabled, Debian's and Ubuntu's default) the
    cores are first shared out between sessions, and a process's nice weighs only inside its
    own. A Prefect worker starts each flow run as a session of its own, so a flow run at
    DUBAN_WORKER_NICE 10 took a share as large as the web's session's: its nice weighed
    against nothing. The group's nice (/proc/self/autogroup, which a process may raise
    without privileges) makes it count. Nothing is done at nice 0, in a session the process
    does not lead (a terminal's, whose other processes would be slowed too), or where no
    autogroup schedules the process (see session_group_nice). Safe between fork and exec:
    system calls only."""
    nice = os.nice(0)
    if nice <= 0 or os.getsid(0) != os.getpid():
        return
    try:
        fd = os.open(AUTOGROUP, os.O_RDWR)
    except OSError:
        return
    try:
        current = os.read(fd, 128)
        if b"nice" not in current:
            return  # empty: no session group schedules this process (session_group_nice)
        current = current.split(b"nice")[-1].strip()
        if not current.lstrip(b"-").isdigit() or int(current) < nice:
            os.write(fd, str(nice).encode())
    except OSError:
        pass
    finally:
        os.close(fd)


class OwnedChild:
    """A started child process and its process group, stopped with stop() (idempotent).

    `nice` (0-19) lowers the child's CPU priority by that much; the processes it starts
    inherit it. `session` False: the child's process group stays in this process's session
    (a web worker), rather than leading a session of its own. On Linux a session is also
    a scheduling group (autogroup, for processes outside a CPU cgroup of their own): the
    cores are first shared out between sessions, so two web workers each in a session of
    its own took two shares of a busy machine to all of PostgreSQL's backends' one (one to
    one as uvicorn's own workers, in one session), and the pages that wait on PostgreSQL
    waited longest (issue 17 item 4, docs/benchmarks.md)."""

    def __init__(self, args: Sequence[str], *, env: Mapping[str, str] | None = None,
                 nice: int = 0, session: bool = True, **popen: Any) -> None:
        preexec: Any = functools.partial(_lower_priority, nice) if nice else None
        if sys.platform.startswith("linux"):
            # libc is looked up here: loading it after fork, beside other threads, could hang.
            prctl = ctypes.CDLL(None, use_errno=True).prctl
            preexec = functools.partial(_die_with_parent, prctl, os.getpid(), nice)
        group: dict[str, Any] = ({"start_new_session": True} if session
                                 else {"process_group": 0})
        self.process: subprocess.Popen[Any] = subprocess.Popen(
            list(args), env=dict(env) if env is not None else None, preexec_fn=preexec,
            **group, **popen)
        self.pid = self.process.pid

    def running(self) -> bool:
        """Whether the group leader has not exited yet."""
        return self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the leader to exit; on timeout raise subprocess.TimeoutExpired."""
        return self.process.wait(timeout)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM the group, give it grace_s, SIGKILL what is left of it, reap the leader."""
        if self.process.returncode is not None:
            self._kill_group()  # its own children may have outlived it
            return
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while not self._leader_exited() and time.monotonic() < deadline:
            time.sleep(0.05)
        # The leader is not reaped yet, so its pid, the group's id, cannot have been reused.
        self._signal_group(signal.SIGKILL)
        self.process.wait()

    def kill(self) -> None:
        """SIGKILL the whole group at once and reap the leader."""
        if self.process.returncode is None:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        else:
            self._kill_group()

    def _kill_group(self) -> None:
        # After the leader was reaped the group lives on only while members remain, and its
        # id cannot be handed out again while it does, so signalling it is safe.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _leader_exited(self) -> bool:
        """Whether the leader exited, without reaping it (WNOWAIT)."""
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None


@contextmanager
def exit_on_signals(signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGHUP),
                    ) -> Iterator[None]:
    """SIGTERM and SIGHUP become SystemExit, so `finally` blocks stop owned children.

    Their default action ends the process at once, running nothing. Only the main thread may
    set handlers; elsewhere this does nothing.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, leave) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def descendants(pid: int) -> list[int]:
    """The live processes descended from pid (children, their children, …), read from /proc.

    A process that started its own session (a Prefect worker's flow runs) is still found:
    the parent link is followed, not the process group.
    """
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid …: comm may hold spaces and parentheses; split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def stop_processes(pids: Sequence[int], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM each process's group (or the process, if it leads none), SIGKILL what is left
    after grace_s. For processes this one did not start itself (a child's children)."""
    def signal_all(sig: signal.Signals) -> None:
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):
                if os.getpgid(pid) == pid:
                    os.killpg(pid, sig)
                else:
                    os.kill(pid, sig)

    signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    signal_all(signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
