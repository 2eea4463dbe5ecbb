"""The web server's garbage collector, set for a busy process with a large kept heap.

A worker holds ~160,000 objects from its imports and the app (modules, classes, functions,
SQLAlchemy's tables). CPython's default collector (700 new objects a young collection)
promotes the objects of every request in flight (fifty at a time, each living for a few
hundred milliseconds) into the old generation, and a full collection walks the whole heap
each time a quarter of it has been promoted: on the web bench a worker ran 7–20 full
collections a minute of 130–200 ms each (~8 % of its CPU and a pause for every request in
flight). `settle_heap` moves what exists at start-up into the permanent generation
(`gc.freeze`: never walked again, freed by reference counting as before) and collects the
young generation less often, so a request's objects are mostly freed by reference counting
before a collection sees them. Cycles are still collected, just less often; memory stays
bounded (see docs/benchmarks.md, "Web").

What a middle collection (every MIDDLE young ones, about once a minute in a busy worker)
still walks is what became long-lived since the last: the requests in flight, the ledger
page statements built for new shapes and their compiled forms (`views.ledger.page_statement`:
one per kind of scope, ~170–260 under the web bench, where one per scope made 400–1,000),
the scopes' results drawn from each recounted cube: 100,000–108,000 objects, 44–68 ms of CPU
holding the GIL under the web bench (184,000–203,000 and 57–139 ms with a statement per
scope). A recounted cube's cells are plain tuples, which
CPython stops tracking at the first young collection they survive (they were ~33,000
dataclass instances walked by every middle and full collection; docs/benchmarks.md, "tenth
pass"). Freezing again after each recount would take those out too, but would keep forever
the cyclic garbage of the requests in flight at that moment: not done.
"""

from __future__ import annotations

import gc

# New container objects between young collections (CPython's default: 700), then young
# collections between middle ones and middle ones between full ones (defaults 10 and 10).
YOUNG = 20_000
MIDDLE = 20
OLD = 10
# Off in a process that builds apps for other work (the test suite turns it off: a frozen
# heap there would keep every later test's cyclic garbage that was alive at the freeze).
ENABLED = True


def settle_heap() -> None:
    """Freeze what the process holds after start-up and space the collections out.

    Called when the app starts serving (its lifespan), in every server process, and by
    `duban serve` once its scheduler's process has started (the ticks run there)."""
    if not ENABLED:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
