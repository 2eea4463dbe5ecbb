"""Blank intake templates (.xlsx) with styled headers, notes and drop-down lists."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duban.adapters.intake.spec import (
    KIND_LABELS,
    KINDS,
    SPECS,
    ColumnSpec,
    Kind,
    int_bounds,
    plan_columns,
)
from duban.domain.household import (
    HOUSE_GRADES,
    HOUSEHOLD_CATEGORY_LABELS,
    MONITORING_TYPE_LABELS,
    VISIT_MODE_LABELS,
)
from duban.domain.plan import FieldType, HouseholdField, Plan

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

# openpyxl is imported by the functions that write, not here: importing duban's intake package
# (every CLI command that names a kind of file) must not pay ~0.6 s for it.

NOTES_SHEET = "填写说明"
OPTIONS_SHEET = "选项"
# Excel refuses an inline list longer than this (the quoted, comma-joined formula).
INLINE_LIST_LIMIT = 255
# Rows the drop-downs and formats cover below the header.
TEMPLATE_ROWS = 50_000

_YES_NO = ("是", "否")
_HEAD_FONT: dict[str, Any] = {"name": "宋体", "bold": True, "size": 11}
_REQUIRED_FONT: dict[str, Any] = {**_HEAD_FONT, "color": "C00000"}


def _border() -> Any:
    from openpyxl.styles import Border, Side

    thin = Side(style="thin", color="808080")
    return Border(left=thin, right=thin, top=thin, bottom=thin)


def _head(cell: Any, font: dict[str, Any] = _HEAD_FONT) -> None:
    """Style a header cell: bold 宋体, light blue, centred and wrapped, thin border."""
    from openpyxl.styles import Alignment, Font, PatternFill

    cell.font = Font(**font)
    cell.fill = PatternFill("solid", fgColor="DDEBF7")
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    cell.border = _border()


def export_template(
    kind: Kind,
    path: str | Path,
    *,
    towns: Sequence[str] = (),
    villages: Mapping[str, Sequence[str]] | Sequence[str] = (),
    categories: Sequence[str] = (),
    sources: Sequence[str] = (),
    tiers: Sequence[str] = (),
    fields: Sequence[HouseholdField] = (),
) -> Path:
    """Write a blank intake template for `kind`; the option lists come from the campaign plan.

    `fields` (households only) are the plan's own household facts: a column each after the
    fixed ones, headed by its label, with its allowed values as a drop-down.
    """
    # `villages` is a flat list or a mapping town name -> village names: the drop-down offers
    # all of them, and the notes say a village must belong to its town.
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from duban.adapters.xlsx import openpyxl_no_formulas

    if kind not in KINDS:
        raise ValueError(f"unknown intake kind {kind!r}")
    dest = Path(path)
    village_names = _villages(villages)
    options = _options(kind, towns, village_names, categories, sources, tiers)
    extra = plan_columns(fields) if kind == "households" else ()
    for spec in extra:
        assert spec.field is not None
        if spec.field.type is FieldType.CHOICE:
            options[spec.key] = spec.field.values
        elif spec.field.type is FieldType.YES_NO:
            options[spec.key] = _YES_NO
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = KIND_LABELS[kind]
    specs = SPECS[kind] + extra
    _write_header(ws, specs)
    opt_ws: Worksheet | None = None
    for i, spec in enumerate(specs, 1):
        letter = get_column_letter(i)
        cells = f"{letter}2:{letter}{TEMPLATE_ROWS + 1}"
        values = options.get(spec.key, ())
        rule: dict[str, Any] | None = None
        if values:
            formula = _inline(values)
            if formula is None:
                if opt_ws is None:
                    opt_ws = wb.create_sheet(OPTIONS_SHEET)
                formula = _options_range(opt_ws, spec.header, values)
            several = spec.field is not None and spec.field.multiple
            # A multiple choice may hold several values ("重病户、残疾人户"): Excel only warns.
            rule = {"type": "list", "formula1": formula, "showDropDown": False,
                    "errorStyle": "warning" if several else "stop", "errorTitle": "无效的值",
                    "error": (f"“{spec.header}”可选：{'、'.join(values)}，多个用“、”分隔"
                              if several else f"“{spec.header}”请从下拉列表中选择")[:225]}
        elif spec.fmt == "date":
            rule = {"type": "date", "operator": "between", "formula1": "DATE(2000,1,1)",
                    "formula2": "DATE(2099,12,31)", "errorStyle": "warning",
                    "errorTitle": "日期有误", "error": "请填写日期，如2022-05-06"}
        elif spec.fmt in ("int", "money"):
            lo, hi = _number_bounds(spec)
            rule = {"type": "whole" if spec.fmt == "int" else "decimal", "operator": "between",
                    "formula1": str(lo), "formula2": str(hi), "errorStyle": "warning",
                    "errorTitle": "数值有误", "error": f"“{spec.header}”应为{spec.allowed}"}
        if rule is not None:
            # Every rule may be left blank, tells its error and shows the column's prompt.
            dv = DataValidation(allow_blank=True, showErrorMessage=True, showInputMessage=True,
                                promptTitle=spec.header[:32], prompt=_prompt(spec), **rule)
            dv.add(cells)
            ws.add_data_validation(dv)
        dim = ws.column_dimensions[letter]
        dim.width = max(spec.width, _text_width(spec.header) + 2)
        if spec.fmt == "code":
            dim.number_format = "@"  # long ids typed as numbers lose their last digits
        elif spec.fmt == "date":
            dim.number_format = "yyyy-mm-dd"
    if opt_ws is not None:
        opt_ws.sheet_state = "hidden"
    _write_notes(wb.create_sheet(NOTES_SHEET), kind, specs, options)
    wb.active = 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    openpyxl_no_formulas(wb)
    wb.save(dest)
    return dest


def plan_template_options(plan: Plan) -> dict[str, Any]:
    """export_template's option lists from a campaign plan: names, never codes."""
    return {
        "towns": [t.name for t in plan.towns],
        "villages": {t.name: [v.name for v in t.villages] for t in plan.towns},
        "categories": [c.name for c in plan.categories],
        "sources": [s.name for s in plan.sources],
        "tiers": [t.name for t in plan.deadlines.tiers],
        "fields": plan.household.fields,
    }


def _villages(villages: Mapping[str, Sequence[str]] | Sequence[str]) -> list[str]:
    names: Iterable[str] = (
        (v for vs in villages.values() for v in vs) if isinstance(villages, Mapping) else villages
    )
    return list(dict.fromkeys(names))


def _options(
    kind: str,
    towns: Sequence[str],
    villages: Sequence[str],
    categories: Sequence[str],
    sources: Sequence[str],
    tiers: Sequence[str],
) -> dict[str, tuple[str, ...]]:
    if kind == "households":
        return {
            "town": tuple(towns),
            "village": tuple(villages),
            "category": tuple(HOUSEHOLD_CATEGORY_LABELS.values()),
            "monitoring_type": tuple(MONITORING_TYPE_LABELS.values()),
            "house_grade": HOUSE_GRADES,
            "tap_water": _YES_NO,
            "insurance": _YES_NO,
            "toilet": _YES_NO,
        }
    if kind == "visits":
        return {"mode": tuple(VISIT_MODE_LABELS.values())}
    return {
        "source": tuple(sources),
        "category": tuple(categories),
        "town": tuple(towns),
        "village": tuple(villages),
        "tier": tuple(tiers),
    }


def _inline(values: Sequence[str]) -> str | None:
    if any("," in v or '"' in v for v in values):
        return None
    formula = '"' + ",".join(values) + '"'
    return formula if len(formula) <= INLINE_LIST_LIMIT else None


def _options_range(ws: Worksheet, header: str, values: Sequence[str]) -> str:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter, quote_sheetname

    col = ws.max_column + 1 if ws.max_row > 1 or ws["A1"].value else 1
    letter = get_column_letter(col)
    ws.cell(row=1, column=col, value=header).font = Font(**_HEAD_FONT)
    for r, value in enumerate(values, 2):
        ws.cell(row=r, column=col, value=value)
    return f"{quote_sheetname(ws.title)}!${letter}$2:${letter}${len(values) + 1}"


def _prompt(spec: ColumnSpec) -> str:
    text = ("必填。" if spec.required else "") + spec.allowed
    return text[:250]


def _number_bounds(spec: ColumnSpec) -> tuple[int, int]:
    if spec.field is not None:
        return int_bounds(spec.field)
    if spec.key == "members":
        return 1, 20
    if spec.fmt == "money":
        return 0, 10_000_000
    return 0, 20


def _text_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _write_header(ws: Worksheet, specs: Sequence[ColumnSpec]) -> None:
    for i, spec in enumerate(specs, 1):
        _head(ws.cell(row=1, column=i, value=spec.header),
              _REQUIRED_FONT if spec.required else _HEAD_FONT)
    ws.row_dimensions[1].height = 30
    ws.freeze_panes = "A2"


def _write_notes(
    ws: Worksheet, kind: str, specs: Sequence[ColumnSpec], options: Mapping[str, Sequence[str]]
) -> None:
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    ws.append(["列名", "是否必填", "格式", "可选值 / 取值范围", "示例", "说明"])
    for cell in ws[1]:
        _head(cell)
    border = _border()
    for spec in specs:
        values = options.get(spec.key, ())
        allowed = "、".join(values) if values else spec.allowed
        if len(allowed) > 300:
            allowed = allowed[:300] + "……（见下拉列表）"
        if values and spec.allowed and spec.allowed not in allowed:
            allowed = f"{allowed}（{spec.allowed}）"
        also = "；也可识别列名：" + "、".join(spec.aliases[:4]) if spec.aliases else ""
        ws.append(
            [
                spec.header,
                "必填" if spec.required else ("条件必填" if _conditional(spec) else "选填"),
                _FORMAT_LABELS[spec.fmt],
                allowed,
                _example_of(spec, values),
                (spec.note + also).lstrip("；"),
            ]
        )
    ws.append([])
    notes = list(_GENERAL_NOTES[kind])
    own = [spec.header for spec in specs if spec.field is not None]
    if own:
        notes.append(f"{len(notes) - len(_COMMON_NOTES) + 5}. 本行动方案另行规定了"
                     f"{'、'.join(own)}等列：取值须是方案列出的选项，可多选的用“、”分隔；"
                     "填写不符时整份文件不导入，并列出可选值。")
    for line in notes:
        ws.append([line])
    widths = (18, 10, 12, 50, 18, 60)
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    for row in ws.iter_rows(min_row=2, max_row=len(specs) + 1):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            cell.border = border
    ws.freeze_panes = "A2"


def _example_of(spec: ColumnSpec, values: Sequence[str]) -> str:
    """The example the notes show: the campaign's own first choice for a column with choices
    (its first town and village, category, source), else the column's generic example."""
    if values and spec.key in ("town", "village", "category", "source", "tier"):
        return values[0]
    return spec.example


def _conditional(spec: ColumnSpec) -> bool:
    return spec.key in ("monitoring_type", "answered_by")


_FORMAT_LABELS = {
    "text": "文本",
    "name": "姓名",
    "code": "文本（编号）",
    "int": "整数",
    "money": "金额（元）",
    "date": "日期",
    "bool": "是/否",
    "enum": "下拉选择",
    "longtext": "文本",
}

_COMMON_NOTES = (
    "填写要求：",
    "1. 第1行是表头，请不要修改列名；从第2行起每行填写一条，不要合并单元格。",
    "2. 红色列名为必填列；日期写成2022-05-06，也可识别2022/5/6、2022年5月6日。",
    "3. 数字不要带单位；收入可带千分位（如6,900）。",
    "4. 导入时逐格检查：只要有一处错误，整份文件都不导入，系统会给出错误清单"
    "和一份把错误单元格标红的副本（末列“错误说明”），改好后重新导入即可。",
)

_GENERAL_NOTES: dict[str, tuple[str, ...]] = {
    "households": (
        *_COMMON_NOTES,
        "5. 户编号是每户的唯一编号，同一文件内不得重复；请把该列设为文本格式。",
        "6. 农户类别为监测对象时必须填写监测对象类型；失学辍学儿童数不能大于适龄儿童数。",
    ),
    "visits": (
        *_COMMON_NOTES,
        "5. 户编号须是已导入（或与本表一同导入）的农户。",
        "6. 走访方式留空按面访；代答时必须填写代答人。",
    ),
    "problems": (
        *_COMMON_NOTES,
        "5. 问题来源、问题类别、整改时限类型须从方案设置的选项中选择。",
        "6. 村须属于所填乡镇；户编号须是已导入的农户；整改时限不能早于排查日期。",
    ),
}
