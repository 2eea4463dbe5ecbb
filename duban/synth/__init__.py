"""Seeded synthetic counties (places, households, visits, problems) for tests, demo and benchmarks."""

from duban.synth.county import (
    SIZES,
    NameCodes,
    SynthError,
    SyntheticCounty,
    generate_county,
    generate_for_plan,
    resolve_category_codes,
    resolve_source_codes,
)
from duban.synth.rows import (
    household_headers,
    iter_household_rows,
    iter_problem_rows,
    iter_visit_rows,
)
from duban.synth.templates import BUILTIN_CATEGORIES, BUILTIN_SOURCES, CATEGORY_TEMPLATES

__all__ = [
    "BUILTIN_CATEGORIES",
    "BUILTIN_SOURCES",
    "CATEGORY_TEMPLATES",
    "SIZES",
    "NameCodes",
    "SynthError",
    "SyntheticCounty",
    "generate_county",
    "generate_for_plan",
    "household_headers",
    "iter_household_rows",
    "iter_problem_rows",
    "iter_visit_rows",
    "resolve_category_codes",
    "resolve_source_codes",
]
