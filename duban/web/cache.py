"""A small in-process cache for expensive scoped aggregates (dashboard, counts).

Only results that took long to compute are kept, for a short time: on a small database every
page is computed fresh, on a million-row ledger fifty clients share one computation. One
computation per key runs at a time; the others wait for it rather than pile onto the
database (single flight).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class SlowResultCache:
    """Keep results that took at least `slow_after` seconds for `ttl` seconds."""

    def __init__(self, ttl: float = 30.0, slow_after: float = 0.05, size: int = 512) -> None:
        self.ttl = ttl
        self.slow_after = slow_after
        self.size = size
        self._data: OrderedDict[Hashable, tuple[float, Any, float]] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, float | None]:
        """The value for a key and, when it came from the cache, how old it is in seconds."""
        if self.ttl <= 0:
            return compute(), None
        hit = self._fresh(key)
        if hit is not None:
            return hit
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._fresh(key)
            if hit is not None:
                return hit
            # Monotonic time only decides cache expiry; it is never shown or stored as a date.
            started = time.monotonic()
            value = compute()
            took = time.monotonic() - started
            if took >= self.slow_after:
                with self._guard:
                    self._data[key] = (time.monotonic(), value, took)
                    self._data.move_to_end(key)
                    while len(self._data) > self.size:
                        self._data.popitem(last=False)
            return value, None

    def _fresh(self, key: Hashable) -> tuple[Any, float] | None:
        with self._guard:
            entry = self._data.get(key)
            if entry is None:
                return None
            stored, value, _ = entry
            age = time.monotonic() - stored
            if age > self.ttl:
                del self._data[key]
                return None
            return value, age

    def clear(self) -> None:
        """Forget everything (after a write that must show at once)."""
        with self._guard:
            self._data.clear()
