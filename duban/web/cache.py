"""A small in-process cache for expensive scoped aggregates (dashboard, counts).

Only results that took long to compute are kept: on a small database every page is computed
fresh, on a million-row ledger many clients share one computation. One computation per key
runs at a time (single flight). When a kept result grows older than `ttl`, a background
thread recomputes it while every request keeps getting the older result (stale while
revalidating), so a refresh makes nobody wait; after `max_stale` nobody gets the old one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger("duban.web.cache")


@dataclass
class _Entry:
    stored: float  # time.monotonic() when computed
    value: Any


class SlowResultCache:
    """Keep results that took at least `slow_after` seconds, fresh for `ttl` seconds."""

    def __init__(self, ttl: float = 30.0, slow_after: float = 0.05, size: int = 512,
                 max_stale: float | None = None) -> None:
        self.ttl = ttl
        self.slow_after = slow_after
        self.size = size
        self.max_stale = max_stale if max_stale is not None else ttl * 4
        self._data: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T], *,
            keep: Callable[[T, float], bool] | None = None) -> tuple[T, float | None]:
        """The value for a key and, when it came from the cache, how old it is in seconds.

        `keep(value, seconds_taken)` decides whether a fresh result is kept; by default only
        results that took `slow_after` or longer are.
        """
        if self.ttl <= 0:
            return compute(), None
        # Monotonic time only decides cache expiry; it is never shown as a date or stored.
        now = time.monotonic()
        entry = self._entry(key)
        if entry is not None and now - entry.stored <= self.ttl:
            return entry.value, now - entry.stored
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        usable = entry is not None and now - entry.stored <= self.max_stale
        if usable:
            assert entry is not None
            if lock.acquire(blocking=False):
                # Refresh in the background; this request and others get the older value.
                threading.Thread(target=self._refresh, args=(key, compute, lock),
                                 daemon=True, name="duban-cache-refresh").start()
            return entry.value, now - entry.stored
        lock.acquire()
        try:
            entry = self._entry(key)
            if entry is not None and time.monotonic() - entry.stored <= self.ttl:
                return entry.value, time.monotonic() - entry.stored
            started = time.monotonic()
            value = compute()
            took = time.monotonic() - started
            if (keep(value, took) if keep is not None else took >= self.slow_after):
                self._put(key, value)
            return value, None
        finally:
            lock.release()

    def _refresh(self, key: Hashable, compute: Callable[[], T], lock: threading.Lock) -> None:
        try:
            self._put(key, compute())  # it was worth keeping before; keep its successor
        except Exception:  # the old value stays until max_stale; the next request retries
            log.exception("background refresh of %r failed", key)
        finally:
            lock.release()

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

    def _put(self, key: Hashable, value: Any, forever: bool = False) -> None:
        with self._guard:
            self._data[key] = _Entry(float("inf") if forever else time.monotonic(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after a write that must show at once)."""
        with self._guard:
            self._data.clear()


def always(_: object, __: float) -> bool:
    """A keep policy for SlowResultCache.get: keep every result (for the ttl)."""
    return True
