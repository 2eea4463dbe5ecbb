"""A small in-process cache for expensive scoped aggregates (dashboard, counts).

Only results that took long to compute are kept: on a small database every page is computed
fresh, on a million-row ledger many clients share one computation. One computation per key
runs at a time (single flight). When a kept result grows older than `ttl`, a background
thread recomputes it while every request keeps getting the older result (stale while
revalidating), so a refresh makes nobody wait; after `max_stale` nobody gets the old one.
A key's lock lives only while a request holds or waits for it, so a long-running server keeps
no lock for keys it no longer computes (evicted, cleared, or never kept).
A result derived from another kept value (a scope's sums from the ledger cube) names it with
`of`: it is dropped when that value is replaced or evicted, so results of old cubes, and the
cubes their keys hold, do not pile up until the size limit (a busy server grew by 40–60 MB a
minute that way). Such a result does not age on its own: it is as fresh as the value it was
drawn from, and goes with it (it was refreshed from the same cube every `ttl`, in a thread
of its own, a few hundred times a minute in a busy process, moments before the cube's own
refresh dropped it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("duban.web.cache")


@dataclass
class _Entry:
    stored: float  # time.monotonic() when computed
    value: Any
    derived: bool = False  # drawn from another kept value: fresh while that is kept


@dataclass(frozen=True)
class Aged:
    """A value a compute function found already computed `age` seconds ago (a copy shared
    by the server's processes): the cache keeps it as that old, so its age stays bounded."""

    value: Any
    age: float


@dataclass
class _Flight:
    """One key's single-flight lock, and how many requests (or refreshes) hold or await it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class SlowResultCache:
    """Keep results that took at least `slow_after` seconds, fresh for `ttl` seconds."""

    def __init__(self, ttl: float = 30.0, slow_after: float = 0.05, size: int = 512,
                 max_stale: float | None = None) -> None:
        self.ttl = ttl
        self.slow_after = slow_after
        self.size = size
        self.max_stale = max_stale if max_stale is not None else ttl * 4
        self._data: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._guard = threading.Lock()
        # id() of each kept value -> its key; id() of a kept value -> the keys derived from it.
        self._held: dict[int, Hashable] = {}
        self._derived: dict[int, set[Hashable]] = {}

    def get(self, key: Hashable, compute: Callable[[], T | Aged], *,
            keep: Callable[[T, float], bool] | None = None,
            of: object | None = None) -> tuple[T, float | None]:
        """The value for a key and, when it came from the cache, how old it is in seconds.

        `keep(value, seconds_taken)` decides whether a fresh result is kept; by default only
        results that took `slow_after` or longer are. A compute that returns `Aged` hands in
        a value computed earlier elsewhere: it is kept, as old as it says. `of`: the kept
        value this one is derived from; it is kept only while that one is.
        """
        if self.ttl <= 0:
            value = compute()
            return (value.value, None) if isinstance(value, Aged) else (value, None)
        # Monotonic time only decides cache expiry; it is never shown as a date or stored.
        now = time.monotonic()
        entry = self._entry(key)
        if entry is not None and (entry.derived or now - entry.stored <= self.ttl):
            return entry.value, now - entry.stored
        flight = self._join(key)
        usable = entry is not None and now - entry.stored <= self.max_stale
        if usable:
            assert entry is not None
            if flight.lock.acquire(blocking=False):
                # Refresh in the background; this request and others get the older value.
                # The refresh takes over this request's place on the flight.
                threading.Thread(target=self._refresh, args=(key, compute, flight, of),
                                 daemon=True, name="duban-cache-refresh").start()
            else:
                self._leave(key, flight)
            return entry.value, now - entry.stored
        flight.lock.acquire()
        try:
            entry = self._entry(key)
            if entry is not None and (entry.derived
                                      or time.monotonic() - entry.stored <= self.ttl):
                return entry.value, time.monotonic() - entry.stored
            started = time.monotonic()
            value = compute()
            took = time.monotonic() - started
            if isinstance(value, Aged):
                self._put(key, value.value, age=value.age, of=of)
                return value.value, value.age
            if (keep(value, took) if keep is not None else took >= self.slow_after):
                self._put(key, value, of=of)
            return value, None
        finally:
            flight.lock.release()
            self._leave(key, flight)

    def _refresh(self, key: Hashable, compute: Callable[[], T], flight: _Flight,
                 of: object | None) -> None:
        try:
            value = compute()  # it was worth keeping before; keep its successor
            if isinstance(value, Aged):
                self._put(key, value.value, age=value.age, of=of)
            else:
                self._put(key, value, of=of)
        except Exception:  # the old value stays until max_stale; the next request retries
            log.exception("background refresh of %r failed", key)
        finally:
            flight.lock.release()
            self._leave(key, flight)

    def _join(self, key: Hashable) -> _Flight:
        """The key's flight (made when nobody is on it), with one more user."""
        with self._guard:
            flight = self._flights.get(key)
            if flight is None:
                flight = self._flights[key] = _Flight()
            flight.users += 1
            return flight

    def _leave(self, key: Hashable, flight: _Flight) -> None:
        """One user fewer; the last one out removes the flight and its lock."""
        with self._guard:
            flight.users -= 1
            if flight.users == 0:
                del self._flights[key]

    def constant(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A value that never changes once computed (e.g. a launched campaign's plan rules)."""
        if self.ttl <= 0:
            return compute()
        entry = self._entry(key)
        if entry is not None:
            return entry.value
        value = compute()
        self._put(key, value, forever=True)
        return value

    def _entry(self, key: Hashable) -> _Entry | None:
        with self._guard:
            return self._data.get(key)

    def _put(self, key: Hashable, value: Any, forever: bool = False, age: float = 0.0,
             of: object | None = None) -> None:
        with self._guard:
            if of is not None:
                if id(of) not in self._held:
                    return  # its source was replaced meanwhile: nothing will ask for it again
                self._derived.setdefault(id(of), set()).add(key)
            self._drop(key)
            self._data[key] = _Entry(float("inf") if forever else time.monotonic() - age, value,
                                     derived=of is not None)
            self._held[id(value)] = key
            while len(self._data) > self.size:
                self._drop(next(iter(self._data)))

    def _drop(self, key: Hashable) -> None:
        """Forget a key, and what was derived from its value (the guard is held)."""
        entry = self._data.pop(key, None)
        if entry is None:
            return
        if self._held.get(id(entry.value)) == key:
            del self._held[id(entry.value)]
            for derived in self._derived.pop(id(entry.value), ()):
                self._drop(derived)

    def clear(self) -> None:
        """Forget everything (after a write that must show at once)."""
        with self._guard:
            self._data.clear()
            self._held.clear()
            self._derived.clear()


def always(_: object, __: float) -> bool:
    """A keep policy for SlowResultCache.get: keep every result (for the ttl)."""
    return True
