"""Under deadline basis signed, the ledger and the problem page show a deadline still waiting."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.web.conftest import World

Clients = Callable[[str], tuple[TestClient, str]]


def test_a_deadline_waiting_for_its_signing_shows_so(world: World,
                                                     client_for: Clients) -> None:
    from dataclasses import replace

    from duban.domain.plan import DeadlineBasis
    from duban.services.campaigns import launch_campaign
    from tests.orchestration.helpers import add_problems, make_plan

    plan = make_plan(number="测试委发〔2022〕9号", working_days=5)
    plan = replace(plan, deadlines=replace(plan.deadlines, basis=DeadlineBasis.SIGNED))
    cid = world.db.run(launch_campaign, world.clock, plan, "# signed", "county")
    (pid,) = add_problems(world.db, world.clock, cid, 1)
    client, _ = client_for("county")
    ledger = client.get(f"/ledger?campaign={cid}").text
    assert "待签收" in ledger
    page = client.get(f"/problems/{pid}").text
    assert "待签收" in page and "签收后5个工作日（待签收督办通知书后起算）" in page
