"""Towns and villages from a 乡镇/村 table (CSV or a workbook), as an alternative to inline towns.

A plan's `scope: {file: 乡镇村名单.xlsx}` is read here; errors name the table's row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from duban.domain.plan_check import PlanError

__all__ = ["read_scope_table", "scope_path", "scope_row_error"]


_COLUMNS = {
    "乡镇": "town",
    "town": "town",
    "村": "village",
    "village": "village",
    "乡镇代码": "town_code",
    "town_code": "town_code",
    "村代码": "village_code",
    "village_code": "village_code",
}
_COLUMN_LABELS = {
    "town": "乡镇",
    "village": "村",
    "town_code": "乡镇代码",
    "village_code": "村代码",
}


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets store 3 as 3.0
    return str(value).strip()


def _table_rows(path: Path, sheet: str | None) -> list[list[str]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")  # Excel on Chinese Windows saves CSV as GBK
        return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    table = book.get_sheet_by_name(sheet) if sheet else book.get_sheet_by_index(0)
    return [[_cell(c) for c in row] for row in table.to_python(skip_empty_area=False)]


def table_rows(path: Path, sheet: str | None = None) -> list[list[str]]:
    """Every row of a CSV or spreadsheet's sheet (the first by default), cells as text."""
    return _table_rows(path, sheet)


def read_scope_table(
    path: Path, sheet: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, int], list[PlanError]]:
    """Towns from a 乡镇/村 table: (towns as plan data, town/village path -> row, errors)."""
    name = path.name
    errors: list[PlanError] = []
    if path.suffix.lower() not in (".csv", ".xlsx", ".xlsm", ".xls", ".ods"):
        return [], {}, [PlanError("scope.file", f"只支持 .csv、.xlsx、.xls 或 .ods 文件：{name}")]
    try:
        rows = _table_rows(path, sheet)
    except FileNotFoundError:
        return [], {}, [PlanError("scope.file", f"找不到文件：{path}")]
    except Exception as exc:  # a corrupt workbook or a missing sheet: name the file, keep going
        return [], {}, [PlanError("scope.file", f"无法读取 {name}：{exc}")]
    if not rows:
        return [], {}, [PlanError("scope.file", f"{name} 是空的")]
    header = {_COLUMNS[h]: i for i, h in reversed(list(enumerate(rows[0]))) if h in _COLUMNS}
    missing = [_COLUMN_LABELS[c] for c in ("town", "village") if c not in header]
    if missing:
        found = "、".join(h for h in rows[0] if h) or "空"
        columns = "、".join(missing)
        return [], {}, [PlanError(f"{name} 第1行", f"缺少“{columns}”列（表头是：{found}）")]

    towns: dict[str, dict[str, Any]] = {}  # town name -> plan data
    town_of_code: dict[str, str] = {}
    bad_towns: set[str] = set()
    rows_of: dict[str, int] = {}
    villages_seen: dict[tuple[str, str], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        cells = {key: row[i] if i < len(row) else "" for key, i in header.items()}
        if not any(cells.values()):
            continue
        where = f"{name} 第{number}行"
        town, village = cells["town"], cells["village"]
        for key in ("town", "village"):
            if not cells[key]:
                errors.append(PlanError(where, f"{_COLUMN_LABELS[key]} 为空"))
        if not town:
            continue
        town_code = cells.get("town_code") or town
        if town in bad_towns:
            continue
        if town not in towns:
            if town_code in town_of_code:
                other = town_of_code[town_code]
                errors.append(PlanError(where, f"乡镇代码 {town_code} 已用于 {other}"))
                bad_towns.add(town)  # its later rows would only repeat the same complaint
                continue
            town_of_code[town_code] = town
            rows_of[f"towns[{len(towns)}]"] = number
            towns[town] = {"code": town_code, "name": town, "villages": [], "index": len(towns)}
        elif cells.get("town_code") and towns[town]["code"] != town_code:
            errors.append(
                PlanError(
                    where, f"乡镇 {town} 的代码前后不一：{towns[town]['code']} 与 {town_code}"
                )
            )
        if not village:
            continue
        village_code = cells.get("village_code") or village
        entry = towns[town]
        clash = next(
            (
                (key, villages_seen[(town, key)])
                for key in (f"name:{village}", f"code:{village_code}")
                if (town, key) in villages_seen
            ),
            None,
        )
        if clash is not None:
            what = "村" if clash[0].startswith("name:") else "村代码"
            errors.append(PlanError(where, f"{what}重复：{clash[0][5:]}（第{clash[1]}行已有）"))
            continue
        villages_seen[(town, f"name:{village}")] = number
        villages_seen[(town, f"code:{village_code}")] = number
        rows_of[f"towns[{entry['index']}].villages[{len(entry['villages'])}]"] = number
        entry["villages"].append({"code": village_code, "name": village})
    if not towns and not errors:
        errors.append(PlanError(f"{name}", "没有任何乡镇和村"))
    return [{k: v for k, v in t.items() if k != "index"} for t in towns.values()], rows_of, errors


def scope_path(spec: object) -> tuple[str, str | None] | PlanError:
    """The (file, sheet) a plan's `scope` names, or the mistake in how it is written."""
    if isinstance(spec, str):
        return spec, None
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in ("file", "sheet")]
        if unknown:
            return PlanError(f"scope.{unknown[0]}", "未知字段（scope 只有 file 和 sheet）")
        file, sheet = spec.get("file"), spec.get("sheet")
        if isinstance(file, str) and file.strip() and (sheet is None or isinstance(sheet, str)):
            return file.strip(), sheet
    return PlanError("scope", "应写成 scope: {file: 乡镇村名单.xlsx}（可加 sheet: 工作表名）")


def scope_row_error(err: PlanError, rows: Mapping[str, int], table: str) -> PlanError:
    """Point an error about towns that came from the table at the table's row."""
    match = re.match(r"^(towns\[\d+\](?:\.villages\[\d+\])?)(?:\.(\w+))?$", err.path)
    if match is None or match.group(1) not in rows:
        return err
    is_village = ".villages[" in match.group(1)
    column = {
        "name": "村" if is_village else "乡镇",
        "code": "村代码" if is_village else "乡镇代码",
    }
    label = column.get(match.group(2) or "", "")
    return PlanError(f"{table} 第{rows[match.group(1)]}行", f"{label} {err.message}".strip())

