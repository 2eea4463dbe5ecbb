"""Matching what clerks write to the plan's names (duban.domain.names) and the plan's aliases."""

from __future__ import annotations

from pathlib import Path

import pytest

from duban.adapters.plan.codec import decode_plan, encode_plan
from duban.adapters.plan.wire import parse_plan
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.names import Named, NameIndex, normalise, plan_index
from duban.domain.plan_check import PlanInvalid

SEED_000 = Path(__file__).parents[2] / "plans" / "seed-000-canggou-2020.yaml"


def test_normalise_folds_width_spaces_and_variants() -> None:
    assert normalise("住　房 安全") == normalise("住房安全")
    assert normalise("ＡＢ１") == "ab1"
    assert normalise("沧沟鄉") == normalise("沧沟乡")
    assert normalise("乡（镇）") == normalise("乡(镇)")


def test_seed_000_everyday_words_find_their_category() -> None:
    plan = load_plan_file(SEED_000)
    index = plan_index(plan, "category")
    found = {w: index.find(w) for w in
             ("住房", "饮水", "教育", "医疗保险", "就业", "产业", "兜底保障", "数据质量")}
    assert found == {"住房": "housing", "饮水": "water", "教育": "education",
                     "医疗保险": "medical", "就业": "employment", "产业": "industry",
                     "兜底保障": "assistance", "数据质量": "data"}
    assert index.find("住　房") == "housing"  # a full-width space typed in the middle
    assert index.find("housing") == "housing"  # the code still works
    assert index.find("住房安全保障") is None


def test_unknown_value_suggests_the_closest_names() -> None:
    plan = load_plan_file(SEED_000)
    index = plan_index(plan, "category")
    assert index.suggest("住房安全保障") == ["住房安全"]
    assert index.unknown("住房安全保障", "问题类别") == (
        "不是方案中的问题类别“住房安全保障”，是否为「住房安全」？")
    assert index.suggest("氢能源") == []
    assert "可选：两不愁及收入、义务教育" in index.unknown("氢能源", "问题类别")


def test_places_match_with_or_without_their_ending() -> None:
    plan = load_plan_file(SEED_000)
    towns = plan_index(plan, "town")
    assert [towns.find(w) for w in ("沧沟乡", "沧沟", "沧沟镇", "canggou", "沧 沟 乡")] == [
        "canggou"] * 5
    villages = plan_index(plan, "village")
    assert villages.find("关庙") == villages.find("关庙村委会") == "guanmiao"
    offices = plan_index(plan, "office")
    assert offices.find("乡建环办") == offices.find("建环办") == offices.find("jhb") == "jhb"
    assert offices.suggest("乡建办") == ["乡建环办"]


def test_a_stem_two_places_share_finds_neither() -> None:
    index = NameIndex([Named("a", "王湾乡"), Named("b", "王湾镇")], ("乡", "镇"))
    assert index.find("王湾乡") == "a"
    assert index.find("王湾") is None


def _plan_data() -> dict[str, object]:
    return encode_plan(load_plan_file(SEED_000))


def test_aliases_survive_the_stored_form_and_are_references() -> None:
    plan = load_plan_file(SEED_000)
    housing = next(c for c in plan.categories if c.code == "housing")
    assert "住房" in housing.aliases
    again = decode_plan(encode_plan(plan))
    assert again == plan
    assert parse_plan(encode_plan(plan)) == plan
    # An alias may stand for its item wherever the plan refers to one.
    data = _plan_data()
    data["routing"] = [{"categories": ["住房"], "office": "建环办"}, {"office": "乡扶贫办"}]
    assert parse_plan(data).routing[0].categories == ("housing",)
    assert parse_plan(data).routing[0].office == "jhb"


@pytest.mark.parametrize(("alias", "where", "message"), [
    ("两不愁及收入", "aliases[0]", "别名与另一类别的名称或别名相同：两不愁及收入"),
    ("两不愁", "aliases[0]", "别名与另一类别的名称或别名相同：两不愁"),
    ("两　不愁", "aliases[0]", "别名与另一类别的名称或别名相同：两　不愁"),
    ("住房安全", "aliases[0]", "别名重复：住房安全"),
    # A later category's name: the error is on that name.
    ("饮水安全", "+name", "名称已是另一类别的别名：饮水安全"),
    ("饮水 安全", "+name", "名称与另一类别的名称或别名只差空格或全角半角：饮水安全"),
])
def test_an_alias_naming_another_item_is_refused(alias: str, where: str, message: str) -> None:
    data = _plan_data()
    categories = data["categories"]
    assert isinstance(categories, list)
    housing = next(c for c in categories if c["code"] == "housing")
    housing["aliases"] = [alias]
    with pytest.raises(PlanInvalid) as exc:
        parse_plan(data)
    at = categories.index(housing)
    path = f"categories[{at + 1}].name" if where == "+name" else f"categories[{at}].{where}"
    assert (path, message) in [(e.path, e.message) for e in exc.value.errors]
