"""A background stage's pace: it works a set share of the time and pauses between batches.

In the manner of PostgreSQL's `autovacuum_vacuum_cost_delay`, work that nobody waits for
(a tick's 排查 over a county's register) leaves the machine to the work people wait for (the
clerks' pages): after each batch it pauses in proportion to the time the batch took, so that
the stage works at most `duty` of the time. During a pause neither the stage's process nor its
database backend runs (a streamed read waits for its next fetch; the writes pause only
between whole COPY statements, since the backend goes on writing a streamed COPY's
buffered rows while the client pauses).
The time source and the sleep are handed in: tests pass their own, and no code here reads a
clock.
"""

from __future__ import annotations

from collections.abc import Callable


class Pace:
    """Called between a stage's batches: pauses so that the stage works `duty` of the time.

    `duty` is in (0, 1]; 1 never pauses. `stopwatch` gives seconds from any fixed origin
    (a monotonic clock), `sleep` waits the seconds it is given. Pauses shorter than
    `min_pause_s` are carried over to the next batch (a sleep that short is mostly the
    scheduler's overhead), so the share holds over the stage as a whole.
    """

    def __init__(self, duty: float, stopwatch: Callable[[], float],
                 sleep: Callable[[float], None], *, min_pause_s: float = 0.005) -> None:
        if not 0 < duty <= 1:
            raise ValueError(f"duty must be in (0, 1], not {duty!r}")
        self.duty = duty
        self._stopwatch, self._sleep, self._min_pause_s = stopwatch, sleep, min_pause_s
        self._since: float | None = None
        self._owed = 0.0
        self.worked_s = 0.0  # work measured between pauses
        self.paused_s = 0.0  # time handed to sleep
        self.pauses = 0

    def start(self) -> None:
        """The stage's work begins now (else it is counted from the first call)."""
        self._since = self._stopwatch()

    def __call__(self) -> None:
        """One batch is done: pause for its share of idle time, then count on from here."""
        now = self._stopwatch()
        if self._since is None:
            self._since = now
            return
        worked = max(now - self._since, 0.0)
        self.worked_s += worked
        if self.duty < 1:
            self._owed += worked * (1 - self.duty) / self.duty
            if self._owed >= self._min_pause_s:
                self._sleep(self._owed)
                self.paused_s += self._owed
                self.pauses += 1
                self._owed = 0.0
        self._since = self._stopwatch()
