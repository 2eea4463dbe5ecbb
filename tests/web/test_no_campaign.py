"""Before any campaign is launched, every campaign page says so (with the navigation) instead
of failing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from duban.domain.clock import FixedClock
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.database import Database
from duban.services.root import Root
from duban.web.app import create_app
from tests.web.conftest import SECRET, login, password_hash

PAGES = ["/", "/ledger", "/waiting", "/coverage", "/imports", "/notices", "/ranking",
         "/spotchecks"]


@pytest.mark.parametrize("path", PAGES)
def test_campaign_page_before_any_campaign(db: Database, clock: FixedClock, path: str,
                                           tmp_path_factory: pytest.TempPathFactory,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    db.run(add_user, clock, username="county", name="王主任", role=Role.COUNTY, office=None,
           town=None, village=None, password_hash=password_hash())
    app = create_app(Root(db=db, clock=clock), secret_key=SECRET, cache_seconds=0)
    with TestClient(app, base_url="http://testserver") as client:
        login(client, "county")
        r = client.get(path)
    assert r.status_code == 200, r.text[:300]
    assert "尚未启动任何行动" in r.text
    assert "王主任" in r.text  # the signed-in page, navigation and all
