"""PostgreSQL restarted under a running web app: no page fails.

The pool no longer pings a connection on every checkout (a round trip a page); a pooled
connection the server closed is found by polling its socket (`database._pg_alive`) and
replaced before the page uses it. A private cluster (tests/orchestration's, on a Unix socket)
is really stopped and started while the app keeps several pooled connections.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from duban.domain.clock import FixedClock
from duban.services.database import Database
from duban.services.root import Root
from duban.web.app import create_app
from tests.orchestration.test_faults_postgres import DB_NAME, Cluster, cluster
from tests.web.conftest import SECRET, build_world, login

__all__ = ["cluster"]  # the private cluster's fixture, used below

USERS = ("county", "town_hd", "off_zjj", "off_gov_hd")


@pytest.mark.usefixtures("data_dir")
def test_a_restarted_postgresql_fails_no_page(cluster: Cluster, clock: FixedClock) -> None:
    db = Database(cluster.url(DB_NAME))
    db.migrate()
    world = build_world(db, clock)
    app = create_app(Root(db=db, clock=world.clock), secret_key=SECRET, cache_seconds=0)
    clients = [TestClient(app, base_url="http://testserver") for _ in USERS]
    try:
        for client, username in zip(clients, USERS, strict=True):
            login(client, username)
        paths = [f"/?campaign={world.campaign_id}", f"/ledger?campaign={world.campaign_id}"]

        def pages() -> list[int]:
            # All clients at once: the pool holds a connection for each page in flight.
            with ThreadPoolExecutor(len(clients)) as pool:
                return [status for statuses in pool.map(
                    lambda c: [c.get(p).status_code for p in paths], clients)
                    for status in statuses]

        assert set(pages()) == {200}
        pooled = db.engine.pool.checkedin()
        assert pooled >= 2, pooled  # stale connections for the restart to leave behind
        cluster.stop()
        cluster.start()
        assert set(pages()) == {200}
        assert set(pages()) == {200}
    finally:
        for client in clients:
            client.close()
        db.dispose()
