"""A signed-in page reads in its sign-in's unit of work: one database session (one pooled
connection, one transaction) a page, not one for the sign-in and one more for each read;
the session's last-seen time is still written when it is due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.services.accounts import TOUCH_EVERY
from duban.services.database import Database
from models import WebSession
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]


def test_a_page_opens_one_database_session(world: World, client_for: Clients,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real = Database.new_session

    def counted(self: Database, *args: Any, **kwargs: Any) -> Any:
        opened.append("session")
        return real(self, *args, **kwargs)

    cid = world.campaign_id
    paths = [f"/?campaign={cid}", f"/ledger?campaign={cid}",
             f"/ledger?campaign={cid}&status=&sort=deadline&desc=1",
             f"/ledger?campaign={cid}&town=huaidian&page=2", f"/waiting?campaign={cid}",
             f"/coverage?campaign={cid}"]
    for username in ("county", "sup", "town_hd", "off_gov_hd", "off_zjj"):
        client, _ = client_for(username)
        monkeypatch.setattr(Database, "new_session", counted)
        for path in paths:
            opened.clear()
            r = client.get(path)
            # 403: coverage is not an office's page (refused after its sign-in, in it)
            assert r.status_code in (200, 403), (username, path, r.status_code)
            assert len(opened) == 1, (username, path, len(opened))
        monkeypatch.setattr(Database, "new_session", real)


def test_a_page_still_records_when_the_session_was_last_seen(world: World,
                                                            client_for: Clients) -> None:
    client, _ = client_for("town_hd")

    def last_seen() -> dt.datetime:
        with world.db.transaction() as s:
            return max(s.scalars(select(WebSession.last_seen_at)))

    before = last_seen()
    assert client.get(f"/?campaign={world.campaign_id}").status_code == 200
    assert last_seen() == before  # not due yet: nothing written
    world.clock.advance(TOUCH_EVERY + dt.timedelta(seconds=1))
    assert client.get(f"/ledger?campaign={world.campaign_id}").status_code == 200
    assert last_seen() > before
