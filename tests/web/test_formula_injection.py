"""Formula injection: every spreadsheet duban writes stores user text as text.

Each formula-looking payload (OWASP's list: a leading =, +, -, @, tab or carriage return) goes
through every xlsx writer and export (the ledger on the web for the county and a town, the
整改台账 and 月考评 workbooks through the streaming writer, the daily report through
xlsxwriter, the intake templates and both kinds of import error copies through openpyxl);
each file is read back at the XML level and with openpyxl: no formula cell anywhere, and the
payload is there as a string.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import update

from duban.adapters.documents import write_daily_report_xlsx, write_ledger_xlsx
from duban.adapters.documents.context import SpotCheckFailure
from duban.adapters.intake import report as report_module
from duban.adapters.intake import write_error_copy
from duban.adapters.intake.errors import CellError, ImportReport
from duban.adapters.intake.template import export_template
from duban.adapters.xlsx import FORMULA_STARTS, formula_like
from duban.services.reports.ledger import write_ledger
from models import Problem
from tests.integration.test_documents_fixtures import daily_context
from tests.web.conftest import World

PAYLOADS = (
    '=HYPERLINK("http://evil.example/x","点击查看整改要求")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)


def test_the_payloads_cover_every_trigger() -> None:
    assert {p[0] for p in PAYLOADS} == set(FORMULA_STARTS)
    assert all(formula_like(p) for p in PAYLOADS)
    assert not any(formula_like(v) for v in ("东关社区", "", None, 3, "1-2", " =1"))


def formula_free(data: bytes | Path) -> set[str]:
    """Assert no formula cell in an .xlsx (XML and openpyxl); return its string values."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = zf.read(name).decode("utf-8")
                assert not re.search(r"<(\w+:)?f[ >/]", xml), (name, xml[:300])
    wb = load_workbook(io.BytesIO(raw))
    texts: set[str] = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.add(cell.value)
    return texts


def assert_all_payloads_kept(texts: set[str], payloads: tuple[str, ...] = PAYLOADS) -> None:
    for p in payloads:
        # A carriage return is kept as &#13; or as Excel's escape _x000D_ (xlsxwriter).
        assert any(p in t or p.replace("\r", "_x000D_") in t for t in texts), (p, sorted(texts))


def test_streaming_writer_ledger_and_side_sheets(tmp_path: Path) -> None:
    rows = [{"问题描述": p, "乡镇": p, "编号": f"W{i:05d}"} for i, p in enumerate(PAYLOADS)]
    out = write_ledger_xlsx(rows, tmp_path / "ledger.xlsx",
                            more=[("常态化工作", ["事项", "说明"], [[p, p] for p in PAYLOADS])])
    assert_all_payloads_kept(formula_free(out))


def test_daily_report_through_xlsxwriter(tmp_path: Path) -> None:
    from dataclasses import replace

    ctx = daily_context()
    towns = [replace(t, name=p) for t, p in zip(ctx.towns, PAYLOADS, strict=False)]
    ctx = replace(ctx, towns=towns, spot_check_failures=[
        SpotCheckFailure(group=p, kind="销号问题", item=p, place=p, note=p) for p in PAYLOADS])
    out = write_daily_report_xlsx(ctx, tmp_path / "daily.xlsx")
    assert_all_payloads_kept(formula_free(out))


def test_intake_templates_through_openpyxl(tmp_path: Path) -> None:
    out = export_template("problems", tmp_path / "t.xlsx", towns=PAYLOADS,
                          villages={PAYLOADS[0]: PAYLOADS}, categories=PAYLOADS,
                          sources=PAYLOADS)
    assert_all_payloads_kept(formula_free(out))


def _report(sheet: str) -> ImportReport:
    return ImportReport(kind="problems", message="导入失败", sheet=sheet, header_row=1,
                        errors=[CellError(row=2, column="问题描述", value="x", reason="不能为空",
                                          col=0)])


@pytest.mark.parametrize("styled", [True, False])
def test_import_error_copies(tmp_path: Path, styled: bool,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    if not styled:
        monkeypatch.setattr(report_module, "STYLED_COPY_LIMIT", 0)
    src = tmp_path / "upload.xlsx"
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Sheet1"
    ws.append(["问题描述", "乡镇"])
    for p in PAYLOADS:
        ws.append(["", ""])
        ws.cell(row=ws.max_row, column=1).value = p  # openpyxl keeps "=…" as a formula
        ws.cell(row=ws.max_row, column=2).value = p
        ws.cell(row=ws.max_row, column=2).data_type = "s"  # and this one as text
    wb.save(src)
    out = write_error_copy(src, _report("Sheet1"), tmp_path / "errors.xlsx")
    texts = formula_free(out)
    assert_all_payloads_kept(texts, tuple(p for p in PAYLOADS if not p.startswith("=")))
    csv_src = tmp_path / "upload.csv"
    with csv_src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["问题描述", "乡镇"])
        w.writerows([p, p] for p in PAYLOADS)
    out = write_error_copy(csv_src, _report(""), tmp_path / "errors-csv.xlsx")
    formula_free(out)


def _describe_all(world: World) -> None:
    with world.db.transaction() as s:
        for (_name, pid), payload in zip(sorted(world.problems.items()), PAYLOADS,
                                         strict=False):
            s.execute(update(Problem).where(Problem.id == pid).values(description=payload))


def test_web_ledger_export_county_and_town(world: World, client_for) -> None:  # type: ignore[no-untyped-def]
    _describe_all(world)
    for username in ("county", "town_lz"):
        client, _ = client_for(username)
        r = client.get(f"/ledger.xlsx?campaign={world.campaign_id}&status=")
        assert r.status_code == 200
        texts = formula_free(r.content)
        with world.db.transaction() as s:
            shown = {p.description for p in s.query(Problem)
                     if p.id in {world.problems[n] for n in world.visible[username]}}
        assert shown and all(d in texts for d in shown), username


def test_ledger_workbook_of_the_cli(world: World, tmp_path: Path) -> None:
    _describe_all(world)
    out = world.db.run(write_ledger, world.campaign_id, tmp_path / "台账.xlsx")
    assert_all_payloads_kept(formula_free(out), PAYLOADS[:len(world.problems)])
