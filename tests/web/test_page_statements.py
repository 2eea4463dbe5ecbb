"""What a page costs the database in statements, on both backends: its sign-in is one
statement (the session with the plan versions in force, no pre-ping), and on PostgreSQL a
statement a page repeats is prepared and kept on its connection (the page's unit is read-only
and commits: psycopg forgets a connection's prepared statements on every ROLLBACK)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, text

from duban.domain.clock import FixedClock
from duban.services.database import Database
from models.tables import kept_count
from tests.web.conftest import World, build_world

Clients = Callable[[str], tuple[TestClient, str]]


@pytest.fixture
def world(committed_db: Database, clock: FixedClock) -> World:
    """The launched world, committed: the pages run on the pool as a server's do."""
    return build_world(committed_db, clock)


@pytest.fixture
def app(world: World, tmp_path_factory: pytest.TempPathFactory,
        monkeypatch: pytest.MonkeyPatch) -> object:
    """The web app as a server runs it: its caches on (a user's offices are kept a while)."""
    from duban.services.root import Root
    from duban.web.app import create_app
    from tests.web.conftest import SECRET

    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    return create_app(Root(db=world.db, clock=world.clock), secret_key=SECRET,
                      cache_seconds=60)


@pytest.fixture
def executed(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement sent to the database: SQLAlchemy's, and on PostgreSQL what the pool
    sends by itself through psycopg's cursors (a pre-ping is one)."""
    sent: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    engine = world.db.engine
    if engine.dialect.name == "postgresql":
        import psycopg

        real = psycopg.Cursor.execute

        def execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(query if isinstance(query, str) else repr(query))
            return real(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    else:
        event.listen(engine, "before_cursor_execute", before)
    yield sent
    if engine.dialect.name != "postgresql":
        event.remove(engine, "before_cursor_execute", before)


def test_a_page_signs_in_with_one_statement(world: World, client_for: Clients,
                                            executed: list[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything sent for a page's sign-in is one statement (it was a pre-ping, the session,
    and the plan versions in force: three round trips), on every kind of page."""
    from duban.web import deps

    signed_in: list[int] = []
    real = deps._signed_in_on

    def marked(*args: Any) -> Any:
        ctx = real(*args)
        signed_in.append(len(executed))  # what was sent until the sign-in ended
        return ctx

    monkeypatch.setattr(deps, "_signed_in_on", marked)
    cid = world.campaign_id
    for username in ("county", "town_hd", "off_zjj"):
        client, _ = client_for(username)
        for path in (f"/?campaign={cid}", f"/ledger?campaign={cid}", f"/waiting?campaign={cid}",
                     f"/coverage?campaign={cid}"):
            client.get(path)  # the user's offices and the counts are kept a while
            executed.clear()
            signed_in.clear()
            assert client.get(path).status_code in (200, 403), (username, path)
            assert signed_in == [1], (username, path, executed[:signed_in[0]])
            assert "web_session" in executed[0] and "campaign" in executed[0]


def test_a_statement_a_page_repeats_is_prepared_on_its_connection(
        world: World, client_for: Clients) -> None:
    """Pages one after another run on the same pooled connection; their sign-in's statement
    is prepared there after a few and PostgreSQL runs it from a kept plan. A page's unit is
    read-only on PostgreSQL: a write in it fails."""
    client, _ = client_for("town_hd")
    for _ in range(10):
        assert client.get(f"/coverage?campaign={world.campaign_id}").status_code == 200
    db = world.db
    if db.engine.dialect.name != "postgresql":
        return  # SQLite: no server to plan, nothing prepared to keep
    with db.engine.connect() as conn:  # the pool's one connection, the pages' own
        prepared = conn.execute(text(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%web_session%'")).all()
    assert len(prepared) == 1, prepared
    statement, generic, custom = prepared[0]
    assert generic + custom >= 7 and generic >= 1, (statement, generic, custom)
    with pytest.raises(Exception, match="read-only transaction"), \
            db.unit_of_work(read_only=True) as uow:
        uow.session.execute(insert(kept_count).values(key="x", counted_at=0, payload=b""))
