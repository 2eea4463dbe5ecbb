"""Intake of the three campaign files (农户信息, 走访记录, 问题台账): templates, reading, checks.

The service layer calls `read_rows` then `validate_*` (or `read_and_validate`), writes the
returned records, and on `ImportRejected` shows `format_error_table(exc.report)` and offers
`write_error_copy(path, exc.report, dest)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from duban.adapters.intake.errors import CellError, ImportRejected, ImportReport
from duban.adapters.intake.reader import SheetData, read_rows
from duban.adapters.intake.report import (
    ERROR_COLUMN,
    format_error_table,
    progress_bar,
    write_error_copy,
)
from duban.adapters.intake.spec import (
    HEADERS,
    KIND_LABELS,
    KINDS,
    SPECS,
    ColumnSpec,
    Kind,
    plan_columns,
)
from duban.adapters.intake.template import export_template, plan_template_options
from duban.adapters.intake.validate import (
    ColumnRows,
    HouseholdLookup,
    Progress,
    ReferenceData,
    ValidatedImport,
    known_households,
    validate_households,
    validate_problems,
    validate_visits,
)


def validate(
    sheet: SheetData, refs: ReferenceData, *, progress: Progress | None = None
) -> ValidatedImport[Any]:
    """Validate a sheet with the validator of its kind."""
    if sheet.kind == "households":
        return validate_households(sheet, refs, progress=progress)
    if sheet.kind == "visits":
        return validate_visits(sheet, refs, progress=progress)
    return validate_problems(sheet, refs, progress=progress)


def read_and_validate(
    path: str | Path, kind: Kind, refs: ReferenceData, *, progress: Progress | None = None,
    extra: tuple[ColumnSpec, ...] = (),
) -> ValidatedImport[Any]:
    """Read and validate one intake file; raises ImportRejected on any problem.

    `extra` are the plan's own columns (`plan_columns(plan.household.fields)`).
    """
    return validate(read_rows(path, kind, extra), refs, progress=progress)


__all__ = [
    "ERROR_COLUMN",
    "HEADERS",
    "KINDS",
    "KIND_LABELS",
    "SPECS",
    "CellError",
    "ColumnRows",
    "ColumnSpec",
    "HouseholdLookup",
    "ImportRejected",
    "ImportReport",
    "Kind",
    "Progress",
    "ReferenceData",
    "SheetData",
    "ValidatedImport",
    "export_template",
    "format_error_table",
    "known_households",
    "plan_columns",
    "plan_template_options",
    "progress_bar",
    "read_and_validate",
    "read_rows",
    "validate",
    "validate_households",
    "validate_problems",
    "validate_visits",
    "write_error_copy",
]
