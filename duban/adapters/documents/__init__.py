"""Official documents (GB/T 9704-2012) rendered from .docx templates, Excel exports and PDF.

The names are loaded when first asked for: the context dataclasses (`.context`) are plain,
while rendering, PDF and Excel pull docxtpl, lxml and openpyxl in (~1 s), which a tick or a
command that renders nothing should not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from duban.adapters.documents.context import (
        AlertColour,
        BulletinContext,
        BulletinGroup,
        BulletinItem,
        ContactPerson,
        DailyReportContext,
        DailyRow,
        LedgerContext,
        LedgerItem,
        NoticeContext,
        NoticeItem,
        OfficialDocument,
        Penalty,
        RankingContext,
        RankingRow,
        ReminderContext,
        ReminderItem,
        Requirement,
        ScoreLine,
        SeriesPoint,
    )
    from duban.adapters.documents.pdf import (
        PdfConversionError,
        batch_to_pdf,
        convert_to_pdf,
        install_font_aliases,
        libreoffice_available,
    )
    from duban.adapters.documents.render import (
        SHIPPED_TEMPLATE_DIR,
        TemplateError,
        render_bulletin,
        render_daily_report,
        render_ledger,
        render_notice,
        render_ranking,
        render_reminder,
        resolve_template,
    )
    from duban.adapters.documents.xlsx import (
        write_daily_report_xlsx,
        write_ledger_xlsx,
        write_ranking_xlsx,
    )

# Which submodule defines each name.
_DEFINED_IN = {
    "AlertColour": "context",
    "BulletinContext": "context",
    "BulletinGroup": "context",
    "BulletinItem": "context",
    "ContactPerson": "context",
    "DailyReportContext": "context",
    "DailyRow": "context",
    "LedgerContext": "context",
    "LedgerItem": "context",
    "NoticeContext": "context",
    "NoticeItem": "context",
    "OfficialDocument": "context",
    "PdfConversionError": "pdf",
    "Penalty": "context",
    "RankingContext": "context",
    "RankingRow": "context",
    "ReminderContext": "context",
    "ReminderItem": "context",
    "Requirement": "context",
    "SHIPPED_TEMPLATE_DIR": "render",
    "ScoreLine": "context",
    "SeriesPoint": "context",
    "TemplateError": "render",
    "batch_to_pdf": "pdf",
    "convert_to_pdf": "pdf",
    "install_font_aliases": "pdf",
    "libreoffice_available": "pdf",
    "render_bulletin": "render",
    "render_daily_report": "render",
    "render_ledger": "render",
    "render_notice": "render",
    "render_ranking": "render",
    "render_reminder": "render",
    "resolve_template": "render",
    "write_daily_report_xlsx": "xlsx",
    "write_ledger_xlsx": "xlsx",
    "write_ranking_xlsx": "xlsx",
}

__all__ = [
    "SHIPPED_TEMPLATE_DIR",
    "AlertColour",
    "BulletinContext",
    "BulletinGroup",
    "BulletinItem",
    "ContactPerson",
    "DailyReportContext",
    "DailyRow",
    "LedgerContext",
    "LedgerItem",
    "NoticeContext",
    "NoticeItem",
    "OfficialDocument",
    "PdfConversionError",
    "Penalty",
    "RankingContext",
    "RankingRow",
    "ReminderContext",
    "ReminderItem",
    "Requirement",
    "ScoreLine",
    "SeriesPoint",
    "TemplateError",
    "batch_to_pdf",
    "convert_to_pdf",
    "install_font_aliases",
    "libreoffice_available",
    "render_bulletin",
    "render_daily_report",
    "render_ledger",
    "render_notice",
    "render_ranking",
    "render_reminder",
    "resolve_template",
    "write_daily_report_xlsx",
    "write_ledger_xlsx",
    "write_ranking_xlsx",
]


def __getattr__(name: str) -> Any:
    """A name of the package, imported from its submodule when first asked for."""
    module = _DEFINED_IN.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
