"""The aggregate cache: keeps slow results, one computation at a time, stale while it
refreshes in the background."""

from __future__ import annotations

import threading
import time

from duban.web.cache import SlowResultCache, always


def test_fast_results_are_not_kept_unless_asked() -> None:
    cache = SlowResultCache(ttl=60, slow_after=10)
    calls = []
    for _ in range(3):
        value, age = cache.get("k", lambda: calls.append(1) or len(calls))
        assert age is None
    assert len(calls) == 3
    value, _ = cache.get("kept", lambda: 42, keep=always)
    assert cache.get("kept", lambda: 0, keep=always)[0] == value == 42


def test_one_computation_for_many_waiters() -> None:
    cache = SlowResultCache(ttl=60, slow_after=0)
    started = threading.Event()
    calls: list[int] = []

    def slow() -> int:
        started.set()
        time.sleep(0.2)
        calls.append(1)
        return 7

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow)[0]))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [7] * 8 and len(calls) == 1


def test_stale_values_are_served_while_a_background_refresh_runs() -> None:
    cache = SlowResultCache(ttl=0.05, slow_after=0, max_stale=60)
    gate = threading.Event()
    versions = iter([1, 2])

    def compute() -> int:
        version = next(versions)
        if version == 2:
            gate.wait(5)
        return version

    assert cache.get("k", compute) == (1, None)
    time.sleep(0.1)  # now stale
    value, age = cache.get("k", compute)
    assert value == 1 and age is not None and age > 0.05  # served at once, refresh started
    gate.set()
    deadline = time.monotonic() + 5
    while cache.get("k", lambda: -1)[0] != 2:
        assert time.monotonic() < deadline, "the background refresh never landed"
        time.sleep(0.01)


def test_a_disabled_cache_always_computes() -> None:
    cache = SlowResultCache(ttl=0)
    assert [cache.get("k", lambda i=i: i)[0] for i in range(3)] == [0, 1, 2]
    assert [cache.constant("c", lambda i=i: i) for i in range(2)] == [0, 1]


def test_no_lock_outlives_its_use() -> None:
    """A long-running server keeps no lock per key ever asked for (issue 10)."""
    cache = SlowResultCache(ttl=60, slow_after=10, size=2)
    for i in range(100):  # fast results, not kept
        cache.get(("fast", i), lambda i=i: i)
    for i in range(10):  # kept, then evicted by the size limit
        cache.get(("kept", i), lambda i=i: i, keep=always)
    assert len(cache._data) == 2
    assert cache._flights == {}
    cache.clear()
    assert cache._flights == {}


def test_locks_are_pruned_after_waiters_and_background_refreshes() -> None:
    cache = SlowResultCache(ttl=0.05, slow_after=0, max_stale=60)
    gate = threading.Event()

    def slow() -> int:
        gate.wait(5)
        return 7

    threads = [threading.Thread(target=lambda: cache.get("k", slow)) for _ in range(5)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while "k" not in cache._flights or cache._flights["k"].users < 5:
        assert time.monotonic() < deadline, "the waiters never queued"
        time.sleep(0.01)
    gate.set()
    for t in threads:
        t.join()
    assert cache._flights == {}
    time.sleep(0.1)  # stale: the next request starts a background refresh
    gate.clear()
    assert cache.get("k", slow)[0] == 7
    assert cache._flights["k"].users == 1  # the refresh's
    assert cache.get("k", slow)[0] == 7  # a second request leaves at once
    assert cache._flights["k"].users == 1
    gate.set()
    while cache._flights:
        assert time.monotonic() < deadline + 5, "the refresh never let go of its lock"
        time.sleep(0.01)


class _Source:
    """A kept value others are derived from (compared by identity, as the ledger cube)."""


def test_results_derived_from_a_replaced_value_are_dropped() -> None:
    """A scope's sums are kept with the cube they came from: when the cube is recounted the
    old sums go with it, not only when the size limit is reached."""
    cache = SlowResultCache(ttl=0.05, slow_after=0, size=10_000, max_stale=0)
    for _ in range(20):
        source, _ = cache.get("cube", _Source)
        for scope in range(50):
            cache.get(("sums", scope, source), lambda: object(), keep=always, of=source)
        time.sleep(0.06)  # the cube is older than ttl: the next get counts a new one
    # One cube and its 50 scopes' sums at most, not 20 cubes' worth (1,020 entries).
    assert len(cache._data) <= 51
    assert len(cache._derived) <= 1


def test_a_result_derived_from_a_value_no_longer_kept_is_not_kept() -> None:
    cache = SlowResultCache(ttl=60, slow_after=0)
    old, _ = cache.get("cube", _Source)
    cache.clear()
    new, _ = cache.get("cube", _Source)
    calls: list[int] = []
    for _ in range(2):
        cache.get(("sums", old), lambda: calls.append(1) or 1, keep=always, of=old)
    assert len(calls) == 2  # computed each time, never kept: nothing would drop it
    for _ in range(2):
        cache.get(("sums", new), lambda: calls.append(1) or 1, keep=always, of=new)
    assert len(calls) == 3


def test_evicting_a_source_takes_its_derived_results() -> None:
    cache = SlowResultCache(ttl=60, slow_after=0, size=3)
    source, _ = cache.get("cube", _Source)
    cache.get(("sums", 1, source), lambda: 1, keep=always, of=source)
    cache.get("a", lambda: 2, keep=always)
    cache.get("b", lambda: 3, keep=always)  # over the size: the oldest (the cube) goes
    assert "cube" not in cache._data and ("sums", 1, source) not in cache._data
    assert set(cache._data) == {"a", "b"}


def test_a_derived_result_does_not_age_while_its_source_is_kept() -> None:
    """A scope's sums are as fresh as the cube they came from: past the ttl they are served
    as they are, with no background refresh from the same cube (a busy server started a few
    hundred such threads a minute), until the cube is recounted and they go with it."""
    cache = SlowResultCache(ttl=0.05, slow_after=0, max_stale=60)
    source, _ = cache.get("cube", _Source)
    calls: list[int] = []
    for _ in range(3):
        value, _ = cache.get(("sums", source), lambda: calls.append(1) or len(calls),
                             keep=always, of=source)
        assert value == 1
        time.sleep(0.06)  # older than the ttl, and so is the cube
    assert len(calls) == 1
    # The cube itself still ages: its refresh replaces it, and its sums go with it.
    cache.get("cube", _Source)  # stale: a background recount starts
    deadline = time.monotonic() + 5
    while cache._entry("cube").value is source:  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the cube's refresh never landed"
        time.sleep(0.01)
    assert ("sums", source) not in cache._data


def _refreshed(cache: SlowResultCache, key: str, old: object) -> object:
    """Wait for the background refresh of `key` to replace `old`; the new value."""
    deadline = time.monotonic() + 5
    while (entry := cache._entry(key)) is None or entry.value is old:
        assert time.monotonic() < deadline, "the refresh never landed"
        time.sleep(0.01)
    return entry.value


def test_a_refresh_draws_the_derived_results_again_before_it_publishes() -> None:
    """The scopes' sums of a recounted cube are drawn by the refresh from the new cube while
    the old one is still served, so no request after it draws them (a burst of slow requests
    after every recount)."""
    cache = SlowResultCache(ttl=0.05, slow_after=0, max_stale=60)
    drawn: list[tuple[int, object]] = []

    def sums(scope: int, source: object) -> int:
        def draw() -> int:
            drawn.append((scope, source))
            return len(drawn)

        return cache.get(("sums", scope, source), draw, keep=always, of=source,
                         redraw=lambda new: sums(scope, new))[0]

    source, _ = cache.get("cube", _Source)
    for scope in range(4):
        sums(scope, source)
    for scope in range(3):  # asked again: worth drawing ahead (scope 3 is not)
        sums(scope, source)
    time.sleep(0.06)
    assert cache.get("cube", _Source)[0] is source  # stale: served, a recount starts
    new = _refreshed(cache, "cube", source)
    # Drawn before the new cube was published: every scope's successor is there already.
    assert drawn[4:] == [(scope, new) for scope in range(3)]
    assert {k for k in cache._data if k != "cube"} == {("sums", s, new) for s in range(3)}
    for scope in range(3):
        sums(scope, new)
    assert len(drawn) == 7  # nothing drawn by the requests after the refresh


def test_a_failed_redraw_leaves_it_to_the_first_request() -> None:
    cache = SlowResultCache(ttl=0.05, slow_after=0, max_stale=60)
    calls: list[object] = []

    def sums(source: object) -> int:
        def draw() -> int:
            calls.append(source)
            if len(calls) == 2:
                raise RuntimeError("the database went away")
            return len(calls)

        return cache.get(("sums", source), draw, keep=always, of=source,
                         redraw=sums)[0]

    source, _ = cache.get("cube", _Source)
    assert sums(source) == sums(source) == 1
    time.sleep(0.06)
    cache.get("cube", _Source)
    new = _refreshed(cache, "cube", source)  # published all the same
    assert ("sums", new) not in cache._data
    assert sums(new) == 3


def test_the_redraws_stop_at_their_budget_and_the_most_asked_come_first() -> None:
    """A source is not held back past its budget by its redraws: it is published with those
    drawn by then (the most asked first), the rest are drawn by the requests that ask."""
    cache = SlowResultCache(ttl=0.05, slow_after=0, max_stale=60)
    cache.redraw_budget = 0.5
    drawn: list[tuple[int, object]] = []

    def sums(scope: int, source: object) -> int:
        def draw() -> int:
            drawn.append((scope, source))
            if source is not first:
                time.sleep(0.6)  # past the budget: no other is drawn ahead
            return scope

        return cache.get(("sums", scope, source), draw, keep=always, of=source,
                         redraw=lambda new: sums(scope, new))[0]

    first, _ = cache.get("cube", _Source)
    for scope in range(5):
        for _ in range(scope + 1):  # scope 4 the most asked
            sums(scope, first)
    time.sleep(0.06)
    cache.get("cube", _Source)
    new = _refreshed(cache, "cube", first)
    assert [scope for scope, of in drawn if of is new] == [4]
    _, age = cache.get("cube", _Source)
    assert age is not None and age >= 0.6  # as old as its count: the redraw's time counts
    assert sums(3, new) == 3 and drawn[-1] == (3, new)  # drawn by the request that asks


def test_a_refresh_begun_before_a_clear_is_not_kept() -> None:
    """A write that must show at once clears the cache: a recount that began before it
    counted without that write and is not kept (nor is anything drawn from it)."""
    cache = SlowResultCache(ttl=0.05, slow_after=0, max_stale=60)
    gate, counting = threading.Event(), threading.Event()
    versions = iter(["old", "before the write", "after the write"])

    def count() -> str:
        version = next(versions)
        if version == "before the write":
            counting.set()
            gate.wait(5)
        return version

    cache.get("cube", count)
    time.sleep(0.06)
    assert cache.get("cube", count)[0] == "old"  # stale: the recount starts
    assert counting.wait(5)
    cache.clear()  # the write
    gate.set()
    deadline = time.monotonic() + 5
    while cache._flights:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert cache.get("cube", count)[0] == "after the write"
