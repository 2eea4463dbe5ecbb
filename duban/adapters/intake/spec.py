"""Column specifications of the three intake files: headers, aliases, formats and notes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from duban.domain.plan import FieldType, HouseholdField

Kind = Literal["households", "visits", "problems"]
KINDS: tuple[Kind, ...] = ("households", "visits", "problems")

KIND_LABELS: dict[str, str] = {
    "households": "农户信息",
    "visits": "走访记录",
    "problems": "问题台账",
}

# Value formats a column may have; the validators and the template both read them.
Format = Literal["text", "name", "code", "int", "money", "date", "bool", "enum", "longtext"]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of an intake file as the template defines it."""

    key: str  # attribute name used in code
    header: str  # the template's header text
    fmt: Format
    required: bool  # the cell must be filled
    column_required: bool  # the column must exist in the file
    aliases: tuple[str, ...] = ()  # other header texts real files use
    allowed: str = ""  # allowed values, as told to the user
    example: str = ""
    note: str = ""
    width: int = 12
    field: HouseholdField | None = None  # the plan's household field this column holds


def header_key(text: object) -> str:
    """Normalise a header cell for matching: NFKC, no spaces, markers or bracketed units."""
    s = str(text)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    s = _SPACE_RE.sub("", s)
    s = s.strip("*:：★※")
    s = _BRACKET_RE.sub("", s)
    return s.strip("*:：★※")


_SPACE_RE = re.compile(r"[\s\u200b\ufeff]+")
_BRACKET_RE = re.compile(r"[(\[【〔][^)\]】〕]*[)\]】〕]")

_TOWN_ALIASES = ("乡镇", "乡镇街道", "乡", "镇", "乡镇名称", "所属乡镇", "乡镇名", "乡镇街道开发区")
_VILLAGE_ALIASES = ("村", "行政村", "村名", "村名称", "村委会", "所属村", "村社区", "行政村名称")
_HOUSEHOLD_ID_ALIASES = ("户编号", "户号", "农户编号", "户码", "家庭编号", "农户户号", "户编码")

# The place and household columns more than one file has; each kind says what it asks of them.
_TOWN = ColumnSpec("town", "乡镇", "code", True, True, _TOWN_ALIASES,
                   "方案中的乡镇名称（下拉选择）", "沧沟乡")
_VILLAGE = ColumnSpec("village", "村", "code", True, True, _VILLAGE_ALIASES,
                      "方案中的村名称，须属于所填乡镇", "王湾村")
_HOUSEHOLD_ID = ColumnSpec("household_id", "户编号", "code", True, True, _HOUSEHOLD_ID_ALIASES,
                           "文本，本表内不得重复", "4116240101001", width=20)

HOUSEHOLD_SPECS: tuple[ColumnSpec, ...] = (
    _TOWN,
    _VILLAGE,
    replace(_HOUSEHOLD_ID, note="请把本列设为文本格式，长编号存成数字会丢失末位"),
    ColumnSpec("head", "户主姓名", "name", True, True, ("户主", "户主名称", "户主名", "姓名"),
               "文本", "张三", width=10),
    ColumnSpec("members", "家庭人口", "int", True, True,
               ("家庭人口数", "人口", "人口数", "家庭成员数", "户人口", "家庭人数", "人数"),
               "整数，1～20", "4", width=10),
    ColumnSpec("category", "农户类别", "enum", True, True,
               ("农户类型", "户类别", "户类型", "农户属性", "户属性", "类别"),
               "建档立卡脱贫户 / 监测对象 / 一般农户", "建档立卡脱贫户", width=16),
    ColumnSpec("monitoring_type", "监测对象类型", "enum", False, False,
               ("监测类型", "监测对象类别", "监测户类型", "监测户类别"),
               "脱贫不稳定户 / 边缘易致贫户 / 突发严重困难户", "边缘易致贫户",
               "农户类别为监测对象时必填，其他农户留空", width=16),
    ColumnSpec("income", "年人均纯收入（元）", "money", True, True,
               ("年人均纯收入", "人均纯收入", "人均收入", "年人均收入", "家庭年人均纯收入",
                "人均年纯收入"), "不小于0的数字，单位元；可带千分位", "8650", width=18),
    ColumnSpec("house_grade", "住房安全等级", "enum", True, True,
               ("住房等级", "房屋等级", "住房安全鉴定等级", "房屋安全等级", "房屋鉴定等级",
                "危房等级", "住房鉴定等级"), "A / B / C / D（C、D级为危房）", "A", width=14),
    ColumnSpec("tap_water", "是否通自来水", "bool", True, True,
               ("通自来水", "自来水", "是否通自来水", "饮水是否通自来水", "是否饮用自来水"),
               "是 / 否", "是", width=14),
    ColumnSpec("school_age", "适龄儿童数", "int", False, True,
               ("义务教育阶段适龄儿童数", "义务教育适龄儿童数", "适龄儿童", "适龄儿童人数",
                "义务教育阶段儿童数"), "不小于0的整数；没有可填0或留空", "1"),
    ColumnSpec("out_of_school", "失学辍学儿童数", "int", False, True,
               ("辍学儿童数", "失学辍学人数", "失学辍学", "辍学人数", "失学辍学儿童",
                "失学辍学学生数"), "不小于0的整数，不超过适龄儿童数；没有可填0或留空", "0",
               width=14),
    ColumnSpec("insurance", "是否参加基本医疗保险", "bool", True, True,
               ("是否参加医保", "参加基本医疗保险", "基本医疗保险", "医保", "是否参保",
                "是否参加城乡居民基本医疗保险", "是否全员参保"), "是 / 否（全家都参保填是）", "是",
               width=20),
    ColumnSpec("toilet", "是否有卫生厕所", "bool", True, True,
               ("卫生厕所", "有无卫生厕所", "是否有卫生户厕", "是否改厕", "是否卫生厕所"),
               "是 / 否", "是", width=14),
)

VISIT_SPECS: tuple[ColumnSpec, ...] = (
    replace(_HOUSEHOLD_ID, allowed="须是已导入或本次导入的农户"),
    ColumnSpec("visitor", "走访人", "name", True, True,
               ("走访干部", "走访人员", "走访责任人", "走访人姓名"), "文本", "李四", width=10),
    ColumnSpec("visited_on", "走访日期", "date", True, True,
               ("走访时间", "日期", "入户日期", "入户时间"), "日期，如2022-05-06", "2022-05-06"),
    ColumnSpec("mode", "走访方式", "enum", False, False, ("走访形式", "方式", "入户方式"),
               "面访 / 电访 / 代答；留空按面访", "面访",
               "全家外出可电访；户主无法交流时由亲属或干部代答", width=10),
    ColumnSpec("answered_by", "代答人", "name", False, False, ("代答人姓名", "代答人员"),
               "走访方式为代答时必填", "王五", width=10),
    ColumnSpec("findings", "走访发现", "longtext", False, False,
               ("发现问题", "走访情况", "走访发现问题", "存在问题", "走访内容"), "文本，可留空",
               "房屋漏雨", width=30),
)

PROBLEM_SPECS: tuple[ColumnSpec, ...] = (
    ColumnSpec("source", "问题来源", "enum", True, True, ("来源", "问题来源渠道"),
               "方案中的问题来源（下拉选择）", "入户排查"),
    ColumnSpec("category", "问题类别", "enum", True, True,
               ("问题类型", "类别", "问题分类", "问题种类"), "方案中的问题类别（下拉选择）",
               "住房安全"),
    _TOWN,
    replace(_VILLAGE, required=False, column_required=False,
            allowed="须属于所填乡镇；行业排查问题可留空"),
    replace(_HOUSEHOLD_ID, required=False, column_required=False,
            allowed="涉及具体农户时填写，须是已导入的农户"),
    ColumnSpec("description", "问题描述", "longtext", True, True,
               ("问题内容", "问题", "问题表现", "具体问题", "存在问题"), "文本", "房屋C级未改造",
               width=40),
    ColumnSpec("found_by", "排查人", "name", True, True,
               ("发现人", "排查责任人", "排查人员", "排查干部"), "文本（谁排查谁签字）", "李四",
               width=10),
    ColumnSpec("found_on", "排查日期", "date", True, True, ("发现时间", "发现日期", "排查时间"),
               "日期，如2022-05-06", "2022-05-10"),
    ColumnSpec("tier", "整改时限类型", "enum", False, False,
               ("时限类型", "整改类型", "整改时限分类"), "方案中的时限类型（下拉选择），可留空",
               "立查立改", width=14),
    ColumnSpec("deadline", "整改时限", "date", False, False,
               ("整改期限", "完成时限", "整改完成时限", "整改完成时间", "限期"),
               "日期，不早于排查日期；可留空，按方案计算", "2022-07-31"),
)

SPECS: dict[str, tuple[ColumnSpec, ...]] = {
    "households": HOUSEHOLD_SPECS,
    "visits": VISIT_SPECS,
    "problems": PROBLEM_SPECS,
}

HEADERS: dict[str, tuple[str, ...]] = {k: tuple(c.header for c in v) for k, v in SPECS.items()}

# Header cells that carry no data and are dropped without a warning.
SILENT_HEADERS = frozenset({"序号", "编号序号", "No", "NO", "no", "No.", "行号"})


# Key prefix of the columns a plan's household fields add (the field key follows).
PLAN_KEY = "plan:"
_PLAN_FORMATS: dict[FieldType, Format] = {
    FieldType.CHOICE: "enum",
    FieldType.YES_NO: "bool",
    FieldType.INTEGER: "int",
    FieldType.DATE: "date",
    FieldType.TEXT: "longtext",
}
# An integer field without bounds takes 0 up to this.
PLAN_INT_MAX = 1_000_000


def int_bounds(f: HouseholdField) -> tuple[int, int]:
    """The range an integer field accepts."""
    return (f.minimum if f.minimum is not None else 0,
            f.maximum if f.maximum is not None else PLAN_INT_MAX)


def _allowed(f: HouseholdField) -> str:
    if f.type is FieldType.CHOICE:
        values = "、".join(f.values)
        return f"{values}（可填多个，用“、”分隔）" if f.multiple else f"{values}（下拉选择）"
    if f.type is FieldType.YES_NO:
        return "是 / 否"
    if f.type is FieldType.INTEGER:
        lo, hi = int_bounds(f)
        return f"整数，{lo}～{hi}"
    if f.type is FieldType.DATE:
        return "日期，如2022-05-06"
    return "文本"


def _example(f: HouseholdField) -> str:
    if f.type is FieldType.CHOICE:
        return "、".join(f.values[:2]) if f.multiple else f.values[0] if f.values else ""
    return {FieldType.YES_NO: "是", FieldType.INTEGER: str(int_bounds(f)[0]),
            FieldType.DATE: "2022-05-06"}.get(f.type, "")


def plan_columns(fields: Sequence[HouseholdField]) -> tuple[ColumnSpec, ...]:
    """The 农户信息 columns a plan's household fields add, after the fixed ones."""
    return tuple(
        ColumnSpec(f"{PLAN_KEY}{f.key}", f.label, _PLAN_FORMATS[f.type], f.required, f.required,
                   allowed=_allowed(f), example=_example(f),
                   note=f.note or ("方案规定的农户信息" + ("，必填" if f.required else "，可留空")),
                   width=max(12, min(30, len(f.label) * 2 + 4)), field=f)
        for f in fields
    )


def header_index(kind: str, extra: Sequence[ColumnSpec] = ()) -> dict[str, int]:
    """Map every normalised header text and alias of a kind to its column position.

    `extra` columns (a plan's household fields) follow the fixed ones; their headers win over a
    fixed column's alias, never over a fixed column's header (plan_check forbids that).
    """
    out: dict[str, int] = {}
    for i, spec in enumerate(SPECS[kind]):
        for text in (spec.header, *spec.aliases):
            out.setdefault(header_key(text), i)
    headers = {header_key(s.header) for s in SPECS[kind]}
    for i, spec in enumerate(extra, len(SPECS[kind])):
        key = header_key(spec.header)
        if key not in headers:
            out[key] = i
    return out
