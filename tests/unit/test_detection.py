"""Problems detected from household facts."""

from __future__ import annotations

import dataclasses

import pytest

from duban.domain.detection import RULE_CODES, RULE_LABELS, UnknownDetectionRule, detect
from duban.domain.household import HouseholdCategory, HouseholdFacts, MonitoringType
from duban.domain.plan import DetectionPolicy, DetectionRule

CATEGORY = {
    "income_below_line": "监测帮扶",
    "unsafe_house": "住房安全",
    "no_tap_water": "饮水安全",
    "child_out_of_school": "义务教育",
    "no_medical_insurance": "基本医疗",
    "no_sanitary_toilet": "厕所革命",
}
POLICY = DetectionPolicy(
    monitoring_line_yuan=6900,
    rules=tuple(DetectionRule(code, CATEGORY[code]) for code in RULE_CODES),
    source="入户排查",
)
FINE = HouseholdFacts(
    household_id="H001",
    town="t1",
    village="v1",
    head="张三",
    members=4,
    category=HouseholdCategory.LIFTED,
    monitoring_type=None,
    income_per_person=12000,
    house_grade="B",
    tap_water=True,
    school_age_children=2,
    children_out_of_school=0,
    medical_insurance=True,
    sanitary_toilet=True,
)


def rules_fired(h: HouseholdFacts, policy: DetectionPolicy = POLICY) -> list[str]:
    return [d.rule for d in detect(h, policy)]


def test_a_household_without_problems() -> None:
    assert detect(FINE, POLICY) == []


def test_income_below_line_when_not_monitored() -> None:
    h = dataclasses.replace(FINE, income_per_person=6500)
    [d] = detect(h, POLICY)
    assert d.rule == "income_below_line"
    assert d.category == "监测帮扶"
    assert d.facts["income_per_person"] == 6500
    assert d.facts["monitoring_line_yuan"] == 6900
    assert "6500元" in d.description and "6900元" in d.description
    assert "应纳未纳" in d.description


def test_income_below_line_is_silent_for_monitored_households() -> None:
    h = dataclasses.replace(
        FINE,
        income_per_person=5000,
        category=HouseholdCategory.MONITORED,
        monitoring_type=MonitoringType.MARGINAL,
    )
    assert rules_fired(h) == []


def test_income_at_the_line_is_not_below_it() -> None:
    assert rules_fired(dataclasses.replace(FINE, income_per_person=6900)) == []
    assert rules_fired(dataclasses.replace(FINE, income_per_person=6899)) == ["income_below_line"]


def test_line_comes_from_the_policy() -> None:
    h = dataclasses.replace(FINE, income_per_person=6950)
    assert rules_fired(h) == []
    seed_003 = dataclasses.replace(POLICY, monitoring_line_yuan=7000)
    [d] = detect(h, seed_003)
    assert "7000元" in d.description


@pytest.mark.parametrize(
    ("change", "rule", "cited"),
    [
        ({"house_grade": "C"}, "unsafe_house", "C级"),
        ({"house_grade": "D"}, "unsafe_house", "D级"),
        ({"tap_water": False}, "no_tap_water", "自来水"),
        ({"children_out_of_school": 1}, "child_out_of_school", "1人失学辍学"),
        ({"medical_insurance": False}, "no_medical_insurance", "基本医疗保险"),
        ({"sanitary_toilet": False}, "no_sanitary_toilet", "卫生厕所"),
    ],
)
def test_each_rule_fires_on_its_fact(change: dict[str, object], rule: str, cited: str) -> None:
    [d] = detect(dataclasses.replace(FINE, **change), POLICY)  # type: ignore[arg-type]
    assert d.rule == rule
    assert d.category == CATEGORY[rule]
    assert cited in d.description


def test_safe_grades_do_not_fire() -> None:
    assert rules_fired(dataclasses.replace(FINE, house_grade="A")) == []


def test_several_problems_in_policy_order() -> None:
    h = dataclasses.replace(FINE, house_grade="D", sanitary_toilet=False, income_per_person=3000)
    assert rules_fired(h) == ["income_below_line", "unsafe_house", "no_sanitary_toilet"]


def test_disabled_and_absent_rules_do_not_fire() -> None:
    policy = DetectionPolicy(
        rules=(
            DetectionRule("unsafe_house", "住房安全", enabled=False),
            DetectionRule("no_tap_water", "饮水"),
        )
    )
    h = dataclasses.replace(FINE, house_grade="D", tap_water=False, sanitary_toilet=False)
    assert rules_fired(h, policy) == ["no_tap_water"]
    assert detect(h, policy)[0].category == "饮水"


def test_unknown_rule_code_is_a_chinese_error() -> None:
    policy = DetectionPolicy(rules=(DetectionRule("no_internet", "网络"),))
    with pytest.raises(UnknownDetectionRule, match="no_internet"):
        detect(FINE, policy)


def test_a_detector_refuses_an_unknown_rule_when_it_checks_a_household() -> None:
    # A detector is built before a register is read; an empty register raises nothing, as
    # detect over no household did, and the first household checked raises as detect does.
    from duban.domain.detection import detector

    policy = DetectionPolicy(rules=(DetectionRule("no_tap_water", "饮水"),
                                    DetectionRule("no_internet", "网络")))
    run = detector(policy)
    with pytest.raises(UnknownDetectionRule, match="no_internet"):
        run(dataclasses.replace(FINE, tap_water=False))


def test_a_detector_checks_the_enabled_rules_in_order_with_their_labels() -> None:
    import itertools

    from duban.domain.detection import detector
    from duban.domain.plan import ConditionTest, FactCondition

    own = DetectionRule("own", "厕所革命", name="改厕", when=(
        FactCondition("sanitary_toilet", ConditionTest.IS, ("否",)),))
    policy = dataclasses.replace(POLICY, rules=(
        *POLICY.rules[:2], dataclasses.replace(POLICY.rules[2], enabled=False),
        *POLICY.rules[3:], own))
    run = detector(policy)
    for income, grade, toilet, out in itertools.product(
            (3000, 6900), ("B", "D"), (True, False), (0, 1)):
        h = dataclasses.replace(FINE, income_per_person=income, house_grade=grade,
                                sanitary_toilet=toilet, children_out_of_school=out,
                                tap_water=not toilet)
        expected = [code for code, fires in (
            ("income_below_line", income < 6900), ("unsafe_house", grade == "D"),
            ("child_out_of_school", out > 0), ("no_sanitary_toilet", not toilet),
            ("own", not toilet)) if fires]  # no_tap_water disabled; everyone insured
        found = run(h)
        assert [d.rule for d in found] == expected
        assert [d.label for d in found] == [
            "改厕" if code == "own" else RULE_LABELS[code] for code in expected]
        assert [d.category for d in found] == [
            "厕所革命" if code == "own" else CATEGORY[code] for code in expected]
        assert found == detect(h, policy)


def test_each_built_in_rule_fires_exactly_when_its_column_tests_hold() -> None:
    # The register is asked in SQL for the households these tests pass; a household they
    # leave out must be one no rule fires on, and each test must match its rule's own check.
    import itertools

    from duban.domain.detection import firing_tests

    tests = firing_tests(POLICY)
    assert tests is not None and len(tests) == len(RULE_CODES)
    grid = itertools.product(
        HouseholdCategory, (0, 6899, 6900, 6901), ("A", "B", "C", "D"), (True, False),
        (0, 1, 2), (True, False), (True, False))
    for category, income, grade, water, out, insured, toilet in grid:
        h = dataclasses.replace(
            FINE, category=category, income_per_person=income, house_grade=grade,
            tap_water=water, children_out_of_school=out, medical_insurance=insured,
            sanitary_toilet=toilet,
            monitoring_type=MonitoringType.UNSTABLE
            if category is HouseholdCategory.MONITORED else None)
        fired = set(rules_fired(h))
        for code, rule_tests in zip(RULE_CODES, tests, strict=True):
            assert (code in fired) == all(t.holds(h) for t in rule_tests), (code, h)


def test_plan_rules_and_disabled_rules_in_the_column_tests() -> None:
    from duban.domain.detection import firing_tests
    from duban.domain.plan import ConditionTest, FactCondition

    disabled = DetectionPolicy(rules=(DetectionRule("no_tap_water", "饮水安全", enabled=False),))
    assert firing_tests(disabled) == ()
    own = DetectionRule("own", "厕所革命", name="改厕", when=(
        FactCondition("sanitary_toilet", ConditionTest.IS, ("否",)),))
    assert firing_tests(dataclasses.replace(POLICY, rules=(*POLICY.rules, own))) is None
    unknown = DetectionPolicy(rules=(DetectionRule("no_such_rule", "x"),))
    assert firing_tests(unknown) is None
