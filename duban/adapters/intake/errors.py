"""What an intake tells the user: cell errors, the report, and the rejection exception."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from duban.adapters.intake.spec import KIND_LABELS
from duban.domain.errors import DubanError

# How many cell errors the exception message lists before it says "and N more".
MESSAGE_ERROR_LIMIT = 20


@dataclass(frozen=True, slots=True)
class CellError:
    """One bad cell: 1-based sheet row, column header text, the value as read, the reason."""

    row: int  # 1-based row in the sheet (0: the file as a whole)
    column: str  # the template's header text ("" when the error is about the file)
    value: str
    reason: str  # Chinese
    col: int | None = None  # 0-based column position in the sheet, when the column exists
    # The kind of plan item (category, source, town, village) the value names none of; "" otherwise.
    names: str = ""

    def describe(self) -> str:
        """One Chinese line naming the row, the column, the value and the reason."""
        where = f"第{self.row}行" if self.row else "文件"
        if self.column:
            where += f"“{self.column}”列"
        shown = f"（值：{_short(self.value)}）" if self.value else ""
        return f"{where}{shown}：{self.reason}"


@dataclass
class ImportReport:
    """The outcome of reading or validating one file; `errors` empty means it was accepted."""

    kind: str
    message: str  # Chinese summary
    errors: list[CellError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: Path | None = None
    sheet: str | None = None  # the sheet the data came from ("" for CSV)
    header_row: int | None = None  # 1-based row of the (last) header row
    columns: dict[str, int] = field(default_factory=dict)  # header text -> 0-based column
    rows_read: int = 0

    @property
    def bad_rows(self) -> list[int]:
        """Sheet rows that have at least one error, ascending."""
        return sorted({e.row for e in self.errors if e.row})


class ImportRejected(DubanError):
    """An intake file refused as a whole; `report` lists every problem found."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(render_message(report))


def render_message(report: ImportReport, limit: int = MESSAGE_ERROR_LIMIT) -> str:
    """The exception text: the summary, then the first `limit` errors, one per line."""
    lines = [report.message]
    for err in report.errors[:limit]:
        lines.append(err.describe())
    rest = len(report.errors) - limit
    if rest > 0:
        lines.append(f"……另有{rest}处错误，请查看错误副本")
    return "\n".join(lines)


def file_rejected(kind: str, source: Path | None, message: str) -> ImportRejected:
    """A rejection of the file as a whole (not a spreadsheet, encrypted, empty …)."""
    label = KIND_LABELS.get(kind, "")
    prefix = f"{label}导入失败：" if label else "导入失败："
    return ImportRejected(ImportReport(kind=kind, message=prefix + message, source=source))


def _short(value: str, limit: int = 30) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
