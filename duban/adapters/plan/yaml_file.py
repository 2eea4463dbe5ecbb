"""Read a campaign plan from YAML (plus an optional scope table) into a validated Plan.

YAML is read with a SafeLoader variant that does not turn 17:30 into the sexagesimal number
1050 (YAML 1.1), and that reports keys written twice instead of silently keeping the last one.
Every error carries the YAML line it points at; errors in a scope table name the table's row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from duban.adapters.plan.scope import read_scope_table, scope_path, scope_row_error
from duban.adapters.plan.wire import parse_plan
from duban.domain.plan import Plan
from duban.domain.plan_check import PlanError, PlanInvalid

__all__ = ["dump_plan_data", "load_plan_file", "load_plan_text", "read_plan_data"]


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
        spec = scope_path(data.pop("scope"))
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
            [scope_row_error(e, rows, table) for e in invalid.errors] if rows else invalid.errors
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


def read_plan_data(text: str, base_dir: str | Path | None = None) -> dict[str, object]:
    """The plan's YAML as plain data (the editor's form), a scope table read into `towns`.

    YAML mistakes and scope-table mistakes raise PlanInvalid; the plan itself is not checked.
    """
    loader = _PlanYamlLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        raise PlanInvalid([_yaml_problem(err)]) from err
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PlanInvalid([PlanError("（顶层）", "方案文件的顶层应为映射（键: 值）")])
    if "scope" in data and "towns" not in data:
        spec = scope_path(data.pop("scope"))
        if isinstance(spec, PlanError):
            raise PlanInvalid([spec])
        file, sheet = spec
        towns, _, errors = read_scope_table(Path(base_dir or ".") / file, sheet)
        if errors:
            raise PlanInvalid(errors)
        data["towns"] = towns
    return data


def dump_plan_data(data: Mapping[str, object]) -> str:
    """Plan data as YAML text that `read_plan_data` and `load_plan_text` read back the same."""
    return yaml.safe_dump(dict(data), allow_unicode=True, sort_keys=False,
                          default_flow_style=False, width=100)
