"""The application of the Prefect server duban owns: Prefect's own, its SQLite writes begun
IMMEDIATE.

Prefect's server opens its write transactions DEFERRED on SQLite unless the endpoint asks for
`with_for_update`. One that reads before it writes — `POST /task_runs/`, which every subflow
run's tracking task goes through, reads the flow run's labels first — then fails at once with
"database is locked" (SQLITE_BUSY_SNAPSHOT: no busy timeout applies) whenever the server's
task-run recorder or event persister committed the previous task runs' events in between. The
server answers 503 and Prefect's client waits 2 s (2**1, jittered) before trying again: a tick
with a stage due spent 2–2.5 s there per subflow (docs/benchmarks.md, "Handed to `duban
serve`"). Prefect's own guidance for such transactions is `BEGIN IMMEDIATE`
(prefect/server/AGENTS.md): the write lock is taken first, and a writer that finds it held
waits under SQLite's busy timeout (60 s in Prefect) instead of failing. Here every transaction
Prefect's server begins on SQLite is begun that way; PostgreSQL's configuration is untouched.

uvicorn imports this module in the server process (`flows.common._start_server`):
`--factory flows.prefect_app:create_app`. Prefect's server is imported here, at the top, as
uvicorn imported it before: uvicorn imports the module before it takes SIGTERM over, so a server
told to stop while it is still loading (its parent killed, PR_SET_PDEATHSIG) dies at once
instead of finishing its start (migrations) first.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from prefect.server.api.server import create_app as prefect_app
from prefect.server.database.configurations import AioSqliteConfiguration


def immediate_sqlite_transactions() -> None:
    """Make Prefect's SQLite configuration begin every transaction IMMEDIATE (idempotent)."""
    if getattr(AioSqliteConfiguration.begin_transaction, "_duban_immediate", False):
        return
    deferred_or_immediate = AioSqliteConfiguration.begin_transaction

    @asynccontextmanager
    async def begin_transaction(self: AioSqliteConfiguration, session: Any,
                                with_for_update: bool = False) -> AsyncGenerator[Any, None]:
        async with deferred_or_immediate(self, session, with_for_update=True) as transaction:
            yield transaction

    begin_transaction._duban_immediate = True  # type: ignore[attr-defined]
    AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]


Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def frozen_after_start(lifespan: Lifespan) -> Lifespan:
    """`lifespan`, then every object the server holds once it has started (Prefect's modules,
    its app, what the migrations and the block registration left, its services) moved out of
    the garbage collector's reach (gc.freeze).

    Without it each full collection walks the whole started server, 0.35–0.42 s of CPU on this
    machine, one every minute or two while serve's ticks run: one inside a handed tick doubled
    the server's CPU over the tick (docs/benchmarks.md, "The owned server's services, its
    collections"). Frozen, a full collection takes 0.01–0.03 s. Objects made afterwards are
    collected as before. (Freezing before the start as well did not shorten the start: each
    migration step's objects still grew the heap.)
    """
    if getattr(lifespan, "_duban_frozen", False):
        return lifespan

    @asynccontextmanager
    async def frozen(app: Any) -> AsyncGenerator[Any, None]:
        async with lifespan(app) as state:
            gc.collect()
            gc.freeze()
            yield state

    frozen._duban_frozen = True  # type: ignore[attr-defined]
    return frozen


def create_app() -> Any:
    """Prefect's API server application (prefect.server.api.server:create_app), as duban runs it."""
    immediate_sqlite_transactions()
    app = prefect_app()
    app.router.lifespan_context = frozen_after_start(app.router.lifespan_context)
    return app
