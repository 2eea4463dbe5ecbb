"""A county office's list of offices (办室名单) from Excel or CSV, as plan data for the editor.

Columns are found by name, in any order (the first row is the header): 名称 (or 单位名称, 办室,
单位), 代码, 级别 (县级 / 乡镇级 / 村级 or county / town / village), 所属乡镇, 负责人, 联系人,
电话, 邮箱, 机器人地址. Only 名称 is required; the code defaults to the name. Errors name the
row as Excel numbers it (the header is row 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from duban.adapters.plan.scope import table_rows

HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "单位名称", "办室", "单位", "办室名称", "name"),
    "code": ("代码", "单位代码", "办室代码", "code"),
    "level": ("级别", "层级", "level"),
    "town": ("所属乡镇", "乡镇", "town"),
    "head": ("负责人", "head"),
    "contact": ("联系人", "contact"),
    "phone": ("电话", "联系电话", "手机", "phone"),
    "email": ("邮箱", "电子邮箱", "email"),
    "webhook": ("机器人地址", "webhook"),
}


LEVEL_WORDS = {"县级": "county", "县直": "county", "县直部门": "county", "县直单位": "county",
               "乡镇级": "town", "乡镇": "town", "乡级": "town", "镇级": "town",
               "村级": "village", "村": "village"}


def read_office_list(path: Path, sheet: str | None = None) -> tuple[list[dict[str, Any]],
                                                                   list[str]]:
    """The offices of the list as plan data, and every problem found (row by row)."""
    try:
        rows = table_rows(path, sheet)
    except Exception as exc:  # a file we cannot open (not a spreadsheet) is the user's to fix
        return [], [f"{path.name} 无法读取：{exc}"]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return [], [f"{path.name} 是空的"]
    header = [c.strip() for c in rows[0]]
    where: dict[str, int] = {}
    for key, names in HEADERS.items():
        for i, heading in enumerate(header):
            if heading in names:
                where[key] = i
                break
    if "name" not in where:
        return [], [f"{path.name} 第1行 缺少“名称”列（表头是：{'、'.join(header)}）"]
    offices: list[dict[str, Any]] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        def cell(key: str, row: list[str] = row) -> str:
            i = where.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        name = cell("name")
        if not name:
            errors.append(f"{path.name} 第{n}行 名称为空")
            continue
        if name in seen:
            errors.append(f"{path.name} 第{n}行 名称重复：{name}（第{seen[name]}行已有）")
            continue
        seen[name] = n
        office: dict[str, Any] = {"code": cell("code") or name, "name": name}
        level = cell("level")
        if level:
            office["level"] = LEVEL_WORDS.get(level, level)
        for key in ("town", "head", "webhook"):
            if cell(key):
                office[key] = cell(key)
        if cell("contact"):
            contact = {"name": cell("contact")}
            for key in ("phone", "email"):
                if cell(key):
                    contact[key] = cell(key)
            office["contacts"] = [contact]
        offices.append(office)
    return offices, errors
