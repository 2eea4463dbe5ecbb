"""签收 with 同时签收问题: the receipt and the accepted problems are one unit of work."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from duban.services import moves
from duban.services.notices.issuing import issue_notices
from models import NoticeReceipt
from tests.web.conftest import World

Clients = Any


def _receipts(world: World) -> int:
    with world.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(NoticeReceipt)) or 0)


def test_a_failure_while_accepting_leaves_no_receipt(world: World, client_for: Clients,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    issued = world.db.run(issue_notices, world.clock, world.campaign_id, issued_by="county",
                          batch_key="ack")
    nid = next(n.id for n in issued if n.office_code == "zjj")
    client, csrf = client_for("off_zjj")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("accepting failed after the receipt was written")

    monkeypatch.setattr(moves, "apply_many", broken)
    with pytest.raises(RuntimeError, match="accepting failed"):
        client.post(f"/notices/{nid}/ack", data={"csrf_token": csrf, "accept": "1"},
                    follow_redirects=False)
    assert _receipts(world) == 0
    assert world.problem("hd_housing").status == "routed"
    monkeypatch.undo()
    r = client.post(f"/notices/{nid}/ack", data={"csrf_token": csrf, "accept": "1"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert _receipts(world) == 1
    assert world.problem("hd_housing").status == "rectifying"
