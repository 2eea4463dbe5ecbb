"""A town that is a co-office (各乡镇) sees its own 督办通知书 in its inbox, dashboard and list."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from duban.services.notices.issuing import issue_notices
from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]


def test_a_town_co_office_sees_its_notice_everywhere(world: World,
                                                    client_for: Clients) -> None:
    cid = world.campaign_id
    notices = {n.office_code: n for n in world.db.run(issue_notices, world.clock, cid,
                                                      issued_by="county", batch_key="web-1")}
    # Seed 002: 县住建局 and 县教育局 lead; each town rectifies with them and gets its own.
    assert sorted(notices) == ["gov-huaidian", "gov-liuzhuangdian", "jyj", "zjj"]
    town = notices["gov-huaidian"]
    assert town.problem_ids == (world.problems["hd_housing"],)

    office, _ = client_for("off_gov_hd")
    inbox = office.get(f"/inbox?campaign={cid}").text
    assert f"【督办通知书】{town.number}" in inbox
    board = office.get(f"/?campaign={cid}").text
    assert "主送 1 份" in board and "未签收 1 份" in board and "配合整改 1 个" in board
    listing = office.get(f"/notices?campaign={cid}").text
    assert town.number in listing
    assert notices["zjj"].number not in listing  # 住建局's own notice is not the town's
    assert office.get(f"/notices/{town.id}/file").status_code == 200
    api = office.get(f"/api/notices?campaign={cid}").json()
    assert [n["number"] for n in api] == [town.number]

    lead, _ = client_for("off_zjj")
    lead_board = lead.get(f"/?campaign={cid}").text
    assert "牵头整改 2 个" in lead_board and "配合整改 0 个" in lead_board
