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
refresh dropped it). A derived result may name how to draw its successor from the source's
successor (`redraw`): the background refresh of the source then draws the successors of those
asked for again while it was kept (the most asked first, for at most `redraw_budget` seconds)
before it publishes the new source, so the requests after a refresh find them ready instead
of drawing them all at once (every scope's sums, board and totals: a burst of slow requests
each time the cube was recounted).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("duban.web.cache")


@dataclass
class _Entry:
    stored: float  # time.monotonic() when computed
    value: Any
    derived: bool = False  # drawn from another kept value: fresh while that is kept
    # Draws this result's successor from the successor of the value it was drawn from.
    redraw: Callable[[Any], object] | None = None
    hits: int = 0  # how many times it was served from the cache


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
        # id() of each kept value -> its key; id() of a kept value -> the keys derived from it
        # (in the order they were kept: a redraw may use one kept before it).
        self._held: dict[int, Hashable] = {}
        self._derived: dict[int, dict[Hashable, None]] = {}
        self._cleared = 0  # how many times clear() ran: a refresh begun before one is not kept
        # The redraws of one refresh run in this frame (the web's: one read-only unit of work
        # for them all), and stop after redraw_budget seconds: the new source is published
        # then, and what is left is drawn by the first request that asks, as before. The
        # budget bounds how much older than its ttl a source is served while it is redrawn.
        self.redraw_frame: Callable[[], AbstractContextManager[object]] = nullcontext
        self.redraw_budget = ttl / 3

    def get(self, key: Hashable, compute: Callable[[], T | Aged], *,
            keep: Callable[[T, float], bool] | None = None,
            of: object | None = None,
            redraw: Callable[[Any], object] | None = None) -> tuple[T, float | None]:
        """The value for a key and, when it came from the cache, how old it is in seconds.

        `keep(value, seconds_taken)` decides whether a fresh result is kept; by default only
        results that took `slow_after` or longer are. A compute that returns `Aged` hands in
        a value computed earlier elsewhere: it is kept, as old as it says. `of`: the kept
        value this one is derived from; it is kept only while that one is. `redraw(new)`,
        with `of`: draws (and keeps, through this cache) the successor of this result from
        `of`'s successor, called by the refresh of `of` before it is replaced.
        """
        if self.ttl <= 0:
            value = compute()
            return (value.value, None) if isinstance(value, Aged) else (value, None)
        # Monotonic time only decides cache expiry; it is never shown as a date or stored.
        now = time.monotonic()
        entry = self._entry(key)
        if entry is not None and (entry.derived or now - entry.stored <= self.ttl):
            entry.hits += 1  # a lost count in a race only reorders the redraws
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
                self._put(key, value.value, age=value.age, of=of, redraw=redraw)
                return value.value, value.age
            if (keep(value, took) if keep is not None else took >= self.slow_after):
                self._put(key, value, of=of, redraw=redraw)
            return value, None
        finally:
            flight.lock.release()
            self._leave(key, flight)

    def _refresh(self, key: Hashable, compute: Callable[[], T], flight: _Flight,
                 of: object | None) -> None:
        cleared = self._cleared
        try:
            value = compute()  # it was worth keeping before; keep its successor
            counted, age = time.monotonic(), 0.0
            if isinstance(value, Aged):
                value, age = value.value, value.age
            self._redraw(key, value, cleared)
            if self._cleared == cleared:  # else a write came meanwhile: the next get counts
                # As old as its count, the redraws' time included: the age a page shows.
                self._put(key, value, age=age + time.monotonic() - counted, of=of)
        except Exception:  # the old value stays until max_stale; the next request retries
            log.exception("background refresh of %r failed", key)
        finally:
            flight.lock.release()
            self._leave(key, flight)

    def _redraw(self, key: Hashable, value: Any, cleared: int) -> None:
        """Draw the successors of the results derived from `key`'s kept value from `value`,
        its successor, before it is published (held meanwhile, so they are kept with it)."""
        with self._guard:
            entry = self._data.get(key)
            if entry is None or self._held.get(id(entry.value)) != key or self._cleared != cleared:
                return
            # Those asked for again since they were drawn, the most asked first: one asked
            # once (a rare filter's total) is left to the next request that asks.
            derived = sorted((e for k in self._derived.get(id(entry.value), ())
                              if (e := self._data.get(k)) is not None
                              and e.redraw is not None and e.hits > 0),
                             key=lambda e: -e.hits)
            if not derived:
                return
            self._held[id(value)] = key  # staged: what is drawn from it is kept
        # Monotonic time only bounds the redraws; never shown or stored.
        until = time.monotonic() + self.redraw_budget
        try:
            with self.redraw_frame():
                for e in derived:
                    if time.monotonic() > until or self._cleared != cleared:
                        break
                    assert e.redraw is not None
                    e.redraw(value)
        except Exception:  # the rest are drawn by the first request that asks, as before
            log.exception("redrawing the results derived from %r failed", key)

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
             of: object | None = None, redraw: Callable[[Any], object] | None = None) -> None:
        with self._guard:
            if of is not None:
                if id(of) not in self._held:
                    return  # its source was replaced meanwhile: nothing will ask for it again
                self._derived.setdefault(id(of), {})[key] = None
            self._drop(key)
            self._data[key] = _Entry(float("inf") if forever else time.monotonic() - age, value,
                                     derived=of is not None, redraw=redraw)
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
            self._cleared += 1


def always(_: object, __: float) -> bool:
    """A keep policy for SlowResultCache.get: keep every result (for the ttl)."""
    return True
