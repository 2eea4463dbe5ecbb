"""Villages have aliases like towns: in the plan, mapped at import (web) or by
`duban campaign alias`, matched after width and space normalisation; an unknown village is
refused with the closest choices."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from duban.cli import cli
from duban.domain.clock import FixedClock
from duban.domain.errors import DubanError
from duban.services.aliases import AliasMapping, add_aliases
from duban.services.campaigns import load_plan_of
from duban.services.database import Database
from tests.integration.test_reviews import one_problem

pytestmark = pytest.mark.usefixtures("data_dir")


def _cli(db: Database, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--now", "2022-09-26T10:00", *args], obj=db,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _refused(db: Database, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--now", "2022-09-26T10:00", *args], obj=db)
    assert isinstance(result.exception, DubanError), result.output
    return result.exception.message


def test_a_village_alias_is_added_by_the_cli_and_filters_the_ledger(
        db: Database, clock: FixedClock) -> None:
    cid, plan, _ = one_problem(db, clock)  # in the plan's first town's first village
    town, village = plan.towns[0], plan.towns[0].villages[0]
    c = str(cid)
    added = _cli(db, "campaign", "alias", c, "village", "老街村", village.name, "--town",
                 town.name)
    assert added.strip() == (f"已添加别名：“老街村”→村“{town.name}{village.name}”"
                             f"（方案版本 2）")
    with db.unit_of_work() as uow:
        stored = load_plan_of(uow.session, cid)
    assert stored.towns[0].villages[0].aliases == (*village.aliases, "老街村")

    def listed(*filters: str) -> str:
        return _cli(db, "problem", "list", "--campaign", c, *filters).splitlines()[-1]

    assert listed("--village", "老街村") == "共 1 条，显示 1 条"
    # Width, spaces and the village's ending do not matter (全角, a space, 老街 for 老街村).
    assert listed("--village", "老　街") == "共 1 条，显示 1 条"
    assert listed("--village", "老 街 村", "--town", town.name) == \
        "共 1 条，显示 1 条"
    assert listed("--village", village.name) == "共 1 条，显示 1 条"
    # Another town's village: nothing of this town's ledger.
    other = plan.towns[1]
    assert listed("--village", other.villages[0].name, "--town", other.name) == \
        "共 0 条，显示 0 条"
    # An unknown village lists the closest choices.
    message = _refused(db, "problem", "list", "--campaign", c, "--village", "老街甲村",
                       "--town", town.name)
    assert message == "--village：没有名为“老街甲村”的村，是否为「" + village.name + "」？"
    # A village's alias is its town's: --town is required, and must name a town.
    result = CliRunner().invoke(cli, ["campaign", "alias", c, "village", "新村", village.name],
                                obj=db)
    assert result.exit_code == 2 and "--town" in result.output
    assert _refused(db, "campaign", "alias", c, "village", "新村", village.name, "--town",
                    "不存在镇").startswith("--town：没有名为“不存在镇”的乡镇")


def test_a_village_alias_may_not_name_another_village_of_its_town(
        db: Database, clock: FixedClock) -> None:
    cid, plan, _ = one_problem(db, clock)
    town = plan.towns[0]
    first, second = town.villages[0], town.villages[1]
    with pytest.raises(DubanError, match=f"已是村“{second.name}”的名称或别名"):
        db.run(add_aliases, clock, cid, [AliasMapping("village", second.name, first.code,
                                                      town.code)], username="county")
    # The same word in another town is that town's own business.
    other = plan.towns[1]
    version = db.run(add_aliases, clock, cid, [
        AliasMapping("village", "老街村", first.code, town.code),
        AliasMapping("village", "老街村", other.villages[0].code, other.code)],
        username="county")
    assert version == 2
    with pytest.raises(DubanError, match="方案中没有这个乡镇"):
        db.run(add_aliases, clock, cid, [AliasMapping("village", "某村", first.code, "nowhere")],
               username="county")
