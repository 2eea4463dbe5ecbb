"""Rows of a synthetic county keyed by the Chinese column headers of the Excel sheets."""

from __future__ import annotations

from collections.abc import Iterator

from duban.domain.columns import HOUSEHOLD_COLUMNS, NO, PROBLEM_COLUMNS, VISIT_COLUMNS, YES
from duban.domain.facts import display
from duban.domain.household import (
    HOUSEHOLD_CATEGORY_LABELS,
    MONITORING_TYPE_LABELS,
    VISIT_MODE_LABELS,
)
from duban.synth.county import SyntheticCounty


def _yes_no(value: bool) -> str:
    return YES if value else NO


def household_headers(county: SyntheticCounty) -> tuple[str, ...]:
    """The 农户信息 headers of a county: the fixed columns, then its plan's own fields."""
    return HOUSEHOLD_COLUMNS + tuple(f.label for f in county.fields)


def iter_household_rows(county: SyntheticCounty) -> Iterator[dict[str, object]]:
    """农户信息 rows: names and labels, not codes; yes/no as 是/否; plan facts by their label."""
    towns, villages = county.town_names, county.village_names
    fields = county.fields
    for h in county.households:
        row = dict(
            zip(
                HOUSEHOLD_COLUMNS,
                (
                    towns[h.town],
                    villages[h.village],
                    h.household_id,
                    h.head,
                    h.members,
                    HOUSEHOLD_CATEGORY_LABELS[h.category],
                    MONITORING_TYPE_LABELS[h.monitoring_type] if h.monitoring_type else "",
                    h.income_per_person,
                    h.house_grade,
                    _yes_no(h.tap_water),
                    h.school_age_children,
                    h.children_out_of_school,
                    _yes_no(h.medical_insurance),
                    _yes_no(h.sanitary_toilet),
                ),
                strict=True,
            )
        )
        for f in fields:
            row[f.label] = display(h.plan_facts.get(f.key))
        yield row


def iter_visit_rows(county: SyntheticCounty) -> Iterator[dict[str, object]]:
    """走访记录 rows; the visit date stays a `datetime.date`."""
    for v in county.visits:
        yield dict(
            zip(
                VISIT_COLUMNS,
                (
                    v.household_id,
                    v.visitor,
                    v.visited_on,
                    VISIT_MODE_LABELS[v.mode],
                    v.answered_by,
                    v.findings,
                ),
                strict=True,
            )
        )


def iter_problem_rows(county: SyntheticCounty) -> Iterator[dict[str, object]]:
    """问题台账 rows with source, category, town and village names; blanks as ""."""
    towns, villages = county.town_names, county.village_names
    for p in county.problems:
        yield dict(
            zip(
                PROBLEM_COLUMNS,
                (
                    county.source_names[p.source],
                    county.category_names[p.category],
                    towns[p.town],
                    villages[p.village] if p.village else "",
                    p.household_id or "",
                    p.description,
                    p.found_by,
                    p.found_on,
                    county.tier_names.get(p.tier, "") if p.tier else "",
                    p.deadline or "",
                ),
                strict=True,
            )
        )
