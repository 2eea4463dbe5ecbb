"""Read a campaign plan from YAML (plus an optional scope table) into a validated Plan.

YAML is read with a SafeLoader variant that does not turn 17:30 into the sexagesimal number
1050 (YAML 1.1), and that reports keys written twice instead of silently keeping the last one.
Every error carries the YAML line it points at; errors in a scope table name the table's row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from duban.domain.plan import Plan
from duban.domain.plan_loader import PlanError, PlanInvalid, parse_plan

__all__ = ["load_plan_file", "load_plan_text", "read_scope_table"]


class _PlanYamlLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 base-60 numbers, so `daily_at: 17:30` stays "17:30"."""


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_PlanYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlanYamlLoader.add_implicit_resolver(
    _INT,
    re.compile(
        r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0[0-7_]+
        |[-+]?(?:0|[1-9][0-9_]*)
        |[-+]?0x[0-9a-fA-F_]+)$""",
        re.X,
    ),
    list("-+0123456789"),
)
_PlanYamlLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

# PyYAML's most common complaints, in the words an office clerk can act on.
_YAML_PROBLEMS = (
    (
        "mapping values are not allowed",
        "此处不能出现“键: 值”：多半是缩进不对，或值里有冒号而没加引号",
    ),
    ("could not find expected ':'", "找不到应有的冒号“:”（键后要写冒号和空格）"),
    ("cannot start any token", "含有不能出现的字符（如制表符 Tab：YAML 只能用空格缩进）"),
    ("did not find expected key", "缩进不对：找不到应有的键"),
    ("expected <block end>", "缩进不一致：同一层的项目要对齐"),
    ("did not find expected '-' indicator", "列表缩进不对：同一列表的“-”要对齐"),
    ("found unexpected end of stream", "文件意外结束：引号或括号没有闭合"),
    ("found unexpected ':'", "多了一个冒号“:”，值里有冒号时请加引号"),
    ("expected ',' or ']'", "方括号 [ ] 没有闭合，或项目之间缺少逗号"),
    ("expected ',' or '}'", "花括号 { } 没有闭合，或项目之间缺少逗号"),
    ("expected a single document", "文件里只能有一个 YAML 文档（删去多余的 ---）"),
    ("found undefined alias", "引用了未定义的锚点（*名称）"),
)


def _yaml_problem(err: yaml.YAMLError) -> PlanError:
    problem = str(getattr(err, "problem", None) or err)
    context = str(getattr(err, "context", None) or "")
    text = next(
        (zh for en, zh in _YAML_PROBLEMS if en in problem or en in context),
        f"YAML 语法错误：{problem}",
    )
    if "quoted scalar" in context:
        text = "引号没有闭合"
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is None:
        return PlanError("（YAML）", text)
    return PlanError(f"第{mark.column + 1}列", text, line=mark.line + 1)


def _node_lines(node: yaml.Node) -> tuple[dict[str, int], list[PlanError]]:
    """The line of every field path in the document, and the keys written twice."""
    lines: dict[str, int] = {}
    repeats: list[PlanError] = []

    def walk(n: yaml.Node, path: str) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in n.value:
                key = str(key_node.value)
                child = f"{path}.{key}" if path else key
                line = key_node.start_mark.line + 1
                if key in seen:
                    repeats.append(
                        PlanError(child, "字段重复：前面已写过，后一个会覆盖前一个", line)
                    )
                seen.add(key)
                lines.setdefault(child, line)
                walk(value_node, child)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                child = f"{path}[{i}]"
                lines.setdefault(child, item.start_mark.line + 1)
                walk(item, child)

    walk(node, "")
    return lines, repeats


_LAST_STEP = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")


def _locate(err: PlanError, lines: Mapping[str, int]) -> PlanError:
    """The error with the line of its path, or of the nearest enclosing path that exists."""
    if err.line is not None:
        return err
    path = err.path
    while path:
        if path in lines:
            return PlanError(err.path, err.message, lines[path])
        shorter = _LAST_STEP.sub("", path)
        if shorter == path:
            break
        path = shorter
    return err


# ---------------------------------------------------------------------------------------------
# Scope tables (乡镇 / 村 with optional codes), as an alternative to inline towns

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


def _scope_path(spec: object) -> tuple[str, str | None] | PlanError:
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


def _scope_row_error(err: PlanError, rows: Mapping[str, int], table: str) -> PlanError:
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


# ---------------------------------------------------------------------------------------------
# Entry points


def load_plan_text(text: str, base_dir: str | Path | None = None) -> Plan:
    """Parse plan YAML; a scope file is read relative to `base_dir` (default: the cwd)."""
    loader = _PlanYamlLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        raise PlanInvalid([_yaml_problem(err)]) from err
    finally:
        loader.dispose()
    if node is None or data is None:
        raise PlanInvalid([PlanError("（文件）", "方案文件是空的", line=1)])
    if not isinstance(data, dict):
        kind = "列表" if isinstance(data, list) else f"“{data}”"
        message = f"方案文件的顶层应为映射（键: 值），实际是{kind}"
        raise PlanInvalid([PlanError("（顶层）", message, line=node.start_mark.line + 1)])
    lines, problems = _node_lines(node)

    rows: dict[str, int] = {}
    table = ""
    if "scope" in data:
        spec = _scope_path(data.pop("scope"))
        if isinstance(spec, PlanError):
            problems.append(spec)
        elif "towns" in data:
            problems.append(PlanError("scope", "scope 与 towns 只能写一个"))
        else:
            file, sheet = spec
            table_path = Path(base_dir or ".") / file
            table = table_path.name
            towns, rows, table_errors = read_scope_table(table_path, sheet)
            problems.extend(table_errors)
            data["towns"] = towns
            # Paths under towns now point at table rows, not at YAML lines.
            lines = {k: v for k, v in lines.items() if not k.startswith("towns")}
            if not towns:
                lines["towns"] = lines.get("scope", 1)

    try:
        plan = parse_plan(data)
    except PlanInvalid as invalid:
        found = (
            [_scope_row_error(e, rows, table) for e in invalid.errors] if rows else invalid.errors
        )
        problems.extend(found)
        raise PlanInvalid(_sorted([_locate(e, lines) for e in problems])) from None
    if problems:
        raise PlanInvalid(_sorted([_locate(e, lines) for e in problems]))
    return plan


def _sorted(errors: Sequence[PlanError]) -> list[PlanError]:
    """Errors in file order (line-less ones, such as scope rows, after those with lines)."""
    return sorted(errors, key=lambda e: (e.line is None, e.line or 0))


def load_plan_file(path: str | Path) -> Plan:
    """Read and validate a plan YAML file; a scope table is found next to it."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PlanInvalid([PlanError("（文件）", f"找不到方案文件：{file}")]) from None
    except UnicodeDecodeError:
        raise PlanInvalid(
            [PlanError("（文件）", f"{file.name} 不是 UTF-8 编码，请另存为 UTF-8")]
        ) from None
    return load_plan_text(text, base_dir=file.parent)
