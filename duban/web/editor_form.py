"""The plan editor's sections as forms over the plan's plain data (the YAML's mapping).

A section is a few parts: a group of fields of one mapping, or a table over one list of
mappings (one row per item, one column per key). Each part knows its keys (label, kind), and
keys the data holds beyond them are shown too (their kind guessed from the value), so saving a
section never drops what the editor does not know. Values are shown as a person reads them
(references by name, lists joined with 、) and read back to the same plain data; `parse_plan`
then checks the whole plan, and its errors (field paths) are placed beside their fields.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TEXT, INT, FLOAT, BOOL, DATE, TIME, LIST, CHOICE, COMPLEX, DAY = (
    "text", "int", "float", "bool", "date", "time", "list", "choice", "complex", "day")
MISSING = object()


@dataclass(frozen=True)
class Col:
    """One key of a part: its label, kind, choices and what it refers to (office, …)."""

    key: str
    label: str
    kind: str = TEXT
    options: tuple[tuple[str, str], ...] = ()
    ref: str = ""  # office | category | source | town: shown by name
    hint: str = ""
    words: tuple[tuple[str, str], ...] = ()  # list items shown in the plan's Chinese words


@dataclass(frozen=True)
class Part:
    """Fields of the mapping at `path` ("" = top level), or a table over the list at `path`."""

    path: str
    label: str
    cols: tuple[Col, ...]
    table: bool = False


@dataclass(frozen=True)
class Section:
    """One page of the editor."""

    key: str
    label: str
    parts: tuple[Part, ...]
    note: str = ""


STAGE_KINDS = (("动员部署", "动员部署"), ("排查", "排查"), ("整改", "整改"), ("复核提升", "复核提升"))
LEVELS = (("county", "县级（县直部门）"), ("town", "乡镇级"), ("village", "村级"))
BASES = (("found", "发现之日"), ("routed", "交办之日"), ("signed", "签收之日"))
ACTIONS = (("remind", "提醒"), ("due", "到期提醒"), ("urge", "催办"), ("supervise", "督办"),
           ("bulletin", "通报"))
ALIASES = Col("aliases", "别名", LIST, hint="其他叫法，用、分隔")
AUDIENCES = (("office", "责任办室"), ("office_head", "办室负责人"), ("county", "县级"))
REPORT_AUDIENCES = (("county", "县级"), ("towns", "各乡镇"), ("offices", "各部门"))
CHANNELS = (("inbox", "站内信"), ("email", "邮件"), ("webhook", "机器人"))
AUDIENCES_HINT = "责任办室、办室负责人、县级"

SECTIONS: tuple[Section, ...] = (
    Section("basics", "基本信息", (
        Part("", "方案", (
            Col("name", "行动名称"), Col("issuer", "发文机关"),
            Col("issuer_short", "发文机关标志（通知书用）"), Col("document_number", "文号"),
            Col("issued_on", "成文日期", DATE), Col("notice_prefix", "督办通知书文号前缀",
                                                   hint="如 沈巩督 → 沈巩督〔2022〕7号"),
            Col("county_office", "县级办公室（牵头办公室）", ref="office"),
        )),
        Part("documents", "公文落款（督办通知书、通报、日报等）", (
            Col("issuer", "发文机关（署名）"), Col("mark", "发文机关标志"),
            Col("printer", "印发机关"), Col("copy_to", "抄送机关", LIST),
            Col("contact", "联系人", COMPLEX, hint="如 {name: 张三, phone: '0394-…'}"))),
    )),
    Section("stages", "阶段", (
        Part("stages", "阶段", (
            Col("kind", "类型", CHOICE, STAGE_KINDS), Col("name", "名称"),
            Col("start", "开始", DATE), Col("end", "结束（空：直至总结）", DATE),
        ), table=True),
    ), note="阶段可以重叠；时间轴显示重叠与空档。"),
    Section("offices", "办室", (
        Part("offices", "办室（责任单位）", (
            Col("code", "代码"), Col("name", "名称"), Col("level", "级别", CHOICE, LEVELS),
            Col("town", "所属乡镇", ref="town"), Col("head", "负责人"),
            Col("contacts", "联系人", COMPLEX, hint="如 [{name: 张三, phone: '138…'}]"),
            Col("webhook", "机器人地址"), ALIASES,
        ), table=True),
    ), note="可从 Excel 导入办室名单（列：名称、代码、级别、所属乡镇、负责人、联系人、电话、邮箱）。"),
    Section("towns", "乡镇与村", (), note="可从 Excel 导入乡镇村名单（列：乡镇、村，可选 乡镇代码、村代码）。"),
    Section("categories", "类别与来源", (
        Part("categories", "问题类别", (Col("code", "代码"), Col("name", "名称"),
                                    Col("group", "分组"), ALIASES), table=True),
        Part("sources", "问题来源", (Col("code", "代码"), Col("name", "名称"), ALIASES),
             table=True),
    )),
    Section("routing", "路由表", (
        Part("routing", "路由规则（自上而下，第一条匹配的生效；空 = 任意）", (
            Col("categories", "类别", LIST, ref="category"),
            Col("sources", "来源", LIST, ref="source"),
            Col("towns", "乡镇", LIST, ref="town"),
            Col("office", "牵头办室", ref="office", hint="或 各乡镇"),
            Col("co_offices", "协办单位", LIST, ref="office", hint="可写 各村、各乡镇"),
        ), table=True),
    ), note="最后一条不写类别、来源、乡镇，兜底所有问题。"),
    Section("deadlines", "整改时限", (
        Part("deadlines", "时限政策", (
            Col("default_working_days", "默认工作日数", INT),
            Col("basis", "起算日", CHOICE, BASES),
            Col("deemed_signed_after_working_days", "逾期未签收视为签收（工作日）", INT),
            Col("cap_at_rectify_end", "不超过整改阶段结束", BOOL),
        )),
        Part("deadlines.tiers", "时限档次", (
            Col("code", "代码"), Col("name", "名称"), Col("working_days", "工作日数", INT),
            Col("date", "日期", DATE)), table=True),
        Part("deadlines.rules", "时限规则（第一条匹配的生效）", (
            Col("categories", "类别", LIST, ref="category"),
            Col("sources", "来源", LIST, ref="source"), Col("tier", "档次"),
            Col("date", "日期", DATE), Col("working_days", "工作日数", INT),
            Col("stages", "发现阶段", LIST), Col("found_from", "发现自", DATE),
            Col("found_to", "发现至", DATE), Col("milestones", "节点", COMPLEX)), table=True),
    )),
    Section("reminders", "提醒阶梯", (
        Part("reminders", "工作时间", (
            Col("work_start", "上班", TIME), Col("work_end", "下班", TIME),
            Col("remind_unacknowledged_after_working_days", "未签收提醒（工作日）", INT),
        )),
        Part("reminders.rungs", "阶梯（按时间先后）", (
            Col("code", "代码"), Col("name", "名称"), Col("action", "动作", CHOICE, ACTIONS),
            Col("offset", "距时限（工作日，负数为之前）", INT),
            Col("share_left", "剩余时间比例", FLOAT),
            Col("audience", "发给", LIST, hint=AUDIENCES_HINT, words=AUDIENCES),
            Col("colour", "颜色", CHOICE, (("yellow", "黄"), ("orange", "橙"), ("red", "红"))),
            Col("accrue_penalty", "记扣分", BOOL)), table=True),
    )),
    Section("review", "复核与抽查", (
        Part("review", "复核", (
            Col("reviewer_level", "复核单位级别", CHOICE, LEVELS),
            Col("rectify_days_after_failed_review", "复核不通过后整改（工作日）", INT),
            Col("three_signatures", "三方分别签字", BOOL),
            Col("spot_check_source", "抽查问题来源", ref="source"),
        )),
        Part("review.quota", "每组每天抽查数", (
            Col("closed_problems", "已销号问题", INT), Col("households", "农户", INT),
            Col("villages", "村", INT))),
        Part("review.groups", "督查组", (
            Col("code", "代码"), Col("name", "名称"), Col("towns", "负责乡镇", LIST, ref="town"),
            Col("members", "成员", LIST)), table=True),
    )),
    Section("ranking", "考评与扣分", (
        Part("ranking", "月考评", (
            Col("by", "排名对象", CHOICE, (("town", "乡镇"), ("office", "办室"))),
            Col("commend_top", "表彰前几名", INT), Col("name_bottom", "通报后几名", INT),
            Col("failed_check_points", "抽查不合格扣分", INT))),
        Part("penalties", "扣分规则", (
            Col("code", "代码"), Col("name", "名称"), Col("amount_yuan", "金额（元）", INT),
            Col("basis", "计扣", CHOICE, (("problem", "按问题"), ("household", "按户"))),
            Col("categories", "类别", LIST, ref="category")), table=True),
        Part("reports", "报表", (
            Col("daily_at", "日报时间", TIME), Col("monthly_day", "月考评结账日", INT),
            Col("daily_to", "日报发给", LIST, words=REPORT_AUDIENCES),
            Col("ranking_to", "月考评发给", LIST, words=REPORT_AUDIENCES),
            Col("channels", "渠道", LIST, words=CHANNELS))),
        Part("notices", "督办通知书", (
            Col("co_offices", "协办单位收文", COMPLEX),
            Col("rolling", "新问题通知", CHOICE, (("daily", "每日"), ("weekly", "每周"),
                                                 ("manual", "手工"))),
            Col("weekday", "每周星期几", INT), Col("at", "时间", TIME))),
    )),
    Section("detection", "发现规则", (
        Part("detection", "比对", (
            Col("monitoring_line_yuan", "监测线（元）", INT),
            Col("source", "发现问题来源", ref="source"))),
        Part("detection.rules", "规则", (
            Col("code", "代码"), Col("name", "名称"), Col("category", "类别", ref="category"),
            Col("enabled", "启用", BOOL)), table=True),
        Part("detection.rules.when", "规则的条件（每个条件一行，同一规则的条件须同时成立）", (),
             table=True),
        Part("household.fields", "农户信息附加字段", (
            Col("key", "代码"), Col("label", "名称"), Col("type", "类型"),
            Col("values", "选项", LIST), Col("multiple", "多选", BOOL),
            Col("required", "必填", BOOL), Col("note", "说明")), table=True),
    )),
    Section("duties", "常态化工作", (
        Part("duties", "常态化工作", (
            Col("code", "代码"), Col("name", "名称"), Col("units", "承担单位", LIST, ref="office"),
            Col("every", "频次"), Col("weekday", "星期几"), Col("day", "每月几日", INT),
            Col("date", "日期", DATE), Col("start", "开始", DATE), Col("end", "结束", DATE),
            Col("working_days", "仅工作日", BOOL),
            Col("within_working_days", "几个工作日内报送", INT)), table=True),
        Part("visits", "走访记录（手机填报）", (
            Col("household_signature", "农户签字", BOOL), Col("photo_max_kb", "照片上限（KB）", INT),
            Col("photo_types", "照片格式", LIST), Col("max_photos", "照片张数上限", INT))),
    )),
)

SECTION_OF = {s.key: s for s in SECTIONS}
TOWN_COLS = (Col("town", "乡镇"), Col("town_code", "乡镇代码"),
             Col("town_aliases", "乡镇别名", LIST), Col("village", "村"),
             Col("village_code", "村代码"), Col("village_aliases", "村别名", LIST),
             Col("liaison", "包保单位", ref="office"))

# A blank plan: nothing written yet, so every required field is reported missing at its place.
BLANK: dict[str, Any] = {}


# ---- reading values out of the data ------------------------------------------------------


def get_at(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, MISSING when a step is absent."""
    node: Any = data
    for step in [p for p in path.split(".") if p]:
        if not isinstance(node, Mapping) or step not in node:
            return MISSING
        node = node[step]
    return node


def set_at(data: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, with MISSING, remove) the value at a dotted path, creating mappings."""
    steps = [p for p in path.split(".") if p]
    node = data
    for step in steps[:-1]:
        child = node.get(step)
        if not isinstance(child, dict):
            if value is MISSING:
                return
            child = node[step] = {}
        node = child
    if value is MISSING:
        node.pop(steps[-1], None)
    else:
        node[steps[-1]] = value


def _guess(key: str, value: Any) -> Col:
    if isinstance(value, bool):
        return Col(key, key, BOOL)
    if isinstance(value, int):
        return Col(key, key, INT)
    if isinstance(value, float):
        return Col(key, key, FLOAT)
    if isinstance(value, dt.date):
        return Col(key, key, DATE)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return Col(key, key, LIST)
    if isinstance(value, list | dict):
        return Col(key, key, COMPLEX)
    return Col(key, key, TEXT)


def columns(part: Part, data: Mapping[str, Any], sub_parts: Sequence[str] = ()) -> list[Col]:
    """The part's own keys and every other key the data holds there (but a sub-part's)."""
    cols = list(part.cols)
    known = {c.key for c in cols}
    value = get_at(data, part.path) if part.path else data
    items: list[Any] = (value if isinstance(value, list) else []) if part.table else [value]
    for item in items:
        if not isinstance(item, Mapping):
            continue
        for key, v in item.items():
            if key in known or key in sub_parts:
                continue
            if not part.table and not part.path and key in TOP_SECTIONS:
                continue
            known.add(key)
            cols.append(_guess(str(key), v))
    return cols


# Top-level keys other sections edit (the basics part shows only the remaining scalars).
TOP_SECTIONS = {"stages", "towns", "offices", "categories", "sources", "routing", "deadlines",
                "review", "reminders", "penalties", "ranking", "reports", "detection",
                "household", "duties", "notices", "scope", "aliases", "documents", "visits"}


def sub_parts_of(section: Section, part: Part) -> list[str]:
    """Keys under the part's mapping that another part of the section edits."""
    prefix = part.path + "." if part.path else ""
    return [p.path[len(prefix):].split(".")[0] for p in section.parts
            if p is not part and p.path.startswith(prefix) and p.path != part.path]


# ---- names for codes ---------------------------------------------------------------------


@dataclass
class Names:
    """code → name of the plan's offices, categories, sources and towns, from the data."""

    of: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of_data(cls, data: Mapping[str, Any]) -> Names:
        out: dict[str, dict[str, str]] = {}
        for ref, key in (("office", "offices"), ("category", "categories"),
                         ("source", "sources"), ("town", "towns")):
            table: dict[str, str] = {}
            items = data.get(key)
            for item in items if isinstance(items, list) else []:
                if isinstance(item, Mapping) and item.get("name"):
                    code = item.get("code")
                    if code not in (None, ""):
                        table[str(code)] = str(item["name"])
            out[ref] = table
        return cls(out)

    def name(self, ref: str, value: str) -> str:
        return self.of.get(ref, {}).get(value, value)


# ---- showing and reading one value -------------------------------------------------------


def _flow(value: Any) -> str:
    import yaml

    text = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000)
    return text.strip().removesuffix("...").strip()


def show(col: Col, value: Any, names: Names) -> str:
    """The text a person sees (and edits) for a value."""
    if value is MISSING or value is None:
        return ""
    if col.kind == BOOL and isinstance(value, bool):
        return "是" if value else "否"
    if col.kind == LIST:
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            words = dict(col.words)
            return "、".join(names.name(col.ref, str(v)) if col.ref else words.get(str(v), str(v))
                            for v in value)
        if isinstance(value, str):
            return names.name(col.ref, value) if col.ref else value
        return _flow(value)
    if col.kind == COMPLEX or isinstance(value, list | dict):
        return _flow(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if col.ref and isinstance(value, str):
        return names.name(col.ref, value)
    return str(value)


class FieldError(ValueError):
    """A value typed into a field cannot be read; the message is Chinese."""


_SPLIT = re.compile(r"\s*[、，,；;]\s*")


def read(col: Col, text: str, before: Any) -> Any:
    """The plain value of what was typed; MISSING for an empty field."""
    text = text.strip()
    if text == "":
        return MISSING
    if col.kind == BOOL:
        if text in ("是", "true", "True", "1", "on"):
            return True
        if text in ("否", "false", "False", "0"):
            return False
        raise FieldError(f"“{text}”应为 是 或 否")
    if col.kind == INT:
        try:
            return int(text)
        except ValueError:
            raise FieldError(f"“{text}”不是整数") from None
    if col.kind == FLOAT:
        try:
            number = float(text)
        except ValueError:
            raise FieldError(f"“{text}”不是数字") from None
        return int(number) if number.is_integer() and isinstance(before, int) else number
    if col.kind in (DATE, DAY):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return text  # 2020年6月15日 and the like: the plan's reader says whether it is one
    if col.kind == LIST:
        if text.startswith("["):
            return _complex(text)
        if isinstance(before, str) and _SPLIT.search(text) is None and before == text:
            return before
        return [t for t in _SPLIT.split(text) if t]
    if col.kind == COMPLEX:
        return _complex(text)
    if isinstance(before, int | float) and not isinstance(before, bool):
        # a key the editor does not know, shown as text: keep its number
        try:
            return type(before)(text)
        except ValueError:
            return text
    return text


def _complex(text: str) -> Any:
    from duban.adapters.plan.yaml_file import read_plan_data
    from duban.domain.plan_check import PlanInvalid

    try:
        return read_plan_data(f"v: {text}\n").get("v")
    except PlanInvalid as exc:
        raise FieldError(f"写法有误：{exc.errors[0].message if exc.errors else exc.message}"
                         ) from None


# ---- a section's form: fields, posted back -----------------------------------------------


@dataclass
class Cell:
    """One input of the form."""

    name: str  # the form field's name
    col: Col
    text: str
    path: str  # the plan path the value lives at (for errors)
    error: str = ""


@dataclass
class PartForm:
    """A part shown: its cells (fields) or rows of cells (table)."""

    part: Part
    index: int
    cols: list[Col]
    fields: list[Cell] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    blank_rows: int = 0
    errors: list[str] = field(default_factory=list)  # the part's errors not at one field
    deleted: set[int] = field(default_factory=set)  # rows ticked 删除 in a refused save


BLANK_ROWS = 3


def town_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """towns[] flattened: one row per village (a town without villages: one row)."""
    rows: list[dict[str, Any]] = []
    towns = data.get("towns")
    for ti, t in enumerate(towns if isinstance(towns, list) else []):
        if isinstance(t, str):
            t = {"name": t}
        if not isinstance(t, Mapping):
            continue
        villages = t.get("villages") or []
        base = {"town": t.get("name", ""), "town_code": t.get("code", MISSING),
                "town_aliases": t.get("aliases", MISSING),
                "liaison": t.get("liaison", MISSING), "_town": ti}
        if not villages:
            rows.append({**base, "village": MISSING, "village_code": MISSING,
                         "village_aliases": MISSING})
        for vi, v in enumerate(villages):
            if isinstance(v, Mapping):
                rows.append({**base, "village": v.get("name", ""),
                             "village_code": v.get("code", MISSING),
                             "village_aliases": v.get("aliases", MISSING), "_village": vi})
            else:
                rows.append({**base, "village": v, "village_code": MISSING,
                             "village_aliases": MISSING, "_village": vi})
    return rows


def towns_of_rows(rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The towns[] list from flattened rows (town order: first row; a bare name stays bare)."""
    towns: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = row.get("town", MISSING)
        if name is MISSING:
            continue
        town = towns.setdefault(str(name), {"name": name})
        for key, target in (("town_code", "code"), ("liaison", "liaison"),
                            ("town_aliases", "aliases")):
            if row.get(key, MISSING) is not MISSING and target not in town:
                town[target] = row[key]
        village = row.get("village", MISSING)
        if village is not MISSING:
            code = row.get("village_code", MISSING)
            aliases = row.get("village_aliases", MISSING)
            if code is MISSING and aliases is MISSING:
                town.setdefault("villages", []).append(village)
            else:
                item: dict[str, Any] = {} if code is MISSING else {"code": code}
                item["name"] = village
                if aliases is not MISSING:
                    item["aliases"] = aliases
                town.setdefault("villages", []).append(item)
    out: list[Any] = []
    for town in towns.values():
        ordered = {k: town[k] for k in ("code", "name", "aliases", "liaison", "villages")
                   if k in town}
        out.append(ordered)
    return out


TOWNS_PART = Part("towns", "乡镇与村（每村一行）", TOWN_COLS, table=True)


def _condition_path(row: Mapping[str, Any], key: str) -> str:
    """Where a condition cell's errors are reported: the test cell takes the condition's own
    (detection.rules[6].when[0].before lands on it), the field cell its field's."""
    at = f"detection.rules[{row.get('_rule', 0)}].when[{row.get('_cond', 0)}]"
    return {"field": f"{at}.field", "test": at}.get(key, f"{at}.{key}")


def _town_path(row: Mapping[str, Any], key: str) -> str:
    town = f"towns[{row.get('_town', 0)}]"
    village = f"{town}.villages[{row.get('_village', 0)}]"
    return {"town": f"{town}.name", "town_code": f"{town}.code", "liaison": f"{town}.liaison",
            "town_aliases": f"{town}.aliases", "village": f"{village}.name",
            "village_code": f"{village}.code", "village_aliases": f"{village}.aliases"}[key]


# ---- detection rules' conditions, one row each ----------------------------------------------

CONDITIONS_PATH = "detection.rules.when"
# The tests a condition may use, as the plan's Chinese words name them (TEST_WORDS).
TESTS = (("is", "为"), ("is_not", "不为"), ("has", "含"), ("lacks", "不含"),
         ("blank", "未填写"), ("filled", "已填写"), ("below", "低于"), ("at_least", "不低于"),
         ("before", "早于"), ("not_before", "不早于"))
_VALUE_TESTS = ("is", "is_not", "has", "lacks")
_FLAG_TESTS = ("blank", "filled")
_NUMBER_TESTS = ("below", "at_least")
_DATE_TESTS = ("before", "not_before")
CHECK_DAY = "检查日"
AGAINST = ((CHECK_DAY, "检查日（比对当天）"), ("date", "指定日期"))


def condition_cols(data: Mapping[str, Any]) -> list[Col]:
    """The conditions table's columns; the rule and field choices come from the plan."""
    from duban.domain.facts import BUILTIN_FIELDS

    rules = get_at(data, "detection.rules")
    rule_options = [(str(r["code"]), str(r.get("name") or r["code"]))
                    for r in (rules if isinstance(rules, list) else [])
                    if isinstance(r, Mapping) and r.get("code") not in (None, "")]
    fields = get_at(data, "household.fields")
    own = [(str(f.get("key") or f["label"]), f"{f['label']}（{_FIELD_KIND.get(str(f.get('type')), f.get('type'))}）")
           for f in (fields if isinstance(fields, list) else [])
           if isinstance(f, Mapping) and f.get("label")]
    fixed = [(f.key, f.label) for f in BUILTIN_FIELDS]
    return [Col("rule", "规则", CHOICE, tuple(rule_options)),
            Col("field", "字段", CHOICE, tuple(own + fixed)),
            Col("test", "判断", CHOICE, TESTS),
            Col("values", "取值", LIST, hint="为/不为/含/不含：用、分隔"),
            Col("number", "数值", INT, hint="低于/不低于"),
            Col("against", "比较日", CHOICE, AGAINST, hint="早于/不早于"),
            Col("date", "日期", DAY, hint="比较日为指定日期时")]


# How a field's type reads in the field choice (the plan's words for them).
_FIELD_KIND = {"choice": "选项", "选项": "选项", "单选": "选项", "多选": "多选", "yes_no": "是/否",
               "是否": "是/否", "是/否": "是/否", "integer": "整数", "整数": "整数",
               "date": "日期", "日期": "日期", "text": "文本", "文本": "文本"}


def _test_key(word: Any) -> str:
    from duban.adapters.plan.wire import CONDITION_TEST_ALIASES

    test = CONDITION_TEST_ALIASES.get(str(word))
    return test.value if test is not None else str(word)


def _field_names(data: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """ref → key (a field's key, label, a fixed column's header with or without its unit) and
    key → label, for the fixed columns and the plan's fields."""
    from duban.domain.facts import BUILTIN_FIELDS

    refs: dict[str, str] = {}
    labels: dict[str, str] = {}
    fields = get_at(data, "household.fields")
    own = [(str(f.get("key") or f["label"]), str(f["label"]))
           for f in (fields if isinstance(fields, list) else [])
           if isinstance(f, Mapping) and f.get("label")]
    for key, label in [*((f.key, f.label) for f in BUILTIN_FIELDS), *own]:
        for word in (key, label, label.split("（")[0]):
            refs.setdefault(word, key)
        labels.setdefault(key, label.split("（")[0])
    return refs, labels


def condition_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every rule's conditions flattened: one row per condition, naming its rule by code and
    its field by key (the choice's value; a field the plan does not define stays as written)."""
    refs, _ = _field_names(data)
    rows: list[dict[str, Any]] = []
    rules = get_at(data, "detection.rules")
    for ri, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, Mapping):
            continue
        when = rule.get("when")
        for ci, c in enumerate(when if isinstance(when, list) else []):
            if not isinstance(c, Mapping):
                continue
            ref = c.get("field", MISSING)
            row: dict[str, Any] = {"rule": rule.get("code", MISSING),
                                   "field": refs.get(str(ref), ref) if ref is not MISSING
                                   else MISSING, "_rule": ri, "_cond": ci, "_orig": c}
            if "test" in c:
                test = _test_key(c["test"])
                row.update(test=test, values=c.get("values", MISSING),
                           number=c.get("number", MISSING))
                if test in _DATE_TESTS:
                    day = c.get("date")
                    row.update(against="date" if day not in (None, CHECK_DAY) else CHECK_DAY,
                               date=day if day not in (None, CHECK_DAY) else MISSING)
            else:
                test = next((k for k, _ in TESTS if k in c), "")
                row["test"] = test or MISSING
                value = c.get(test, MISSING) if test else MISSING
                if test in _VALUE_TESTS:
                    row["values"] = value
                elif test in _NUMBER_TESTS:
                    row["number"] = value
                elif test in _DATE_TESTS:
                    at_check = value is MISSING or value is None or str(value) == CHECK_DAY
                    row.update(against=CHECK_DAY if at_check else "date",
                               date=MISSING if at_check else value)
            rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def condition_of(row: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """A condition row as the plan's short form, the field by label:
    {field: 小额信贷到期日, before: 检查日}."""
    field = row.get("field", "")
    out: dict[str, Any] = {"field": labels.get(str(field), field)}
    test = str(row.get("test", "is")) if row.get("test", MISSING) is not MISSING else "is"
    test = _test_key(test)
    if test in _FLAG_TESTS:
        out[test] = True
    elif test in _NUMBER_TESTS:
        out[test] = row.get("number")
    elif test in _DATE_TESTS:
        day = row.get("date", MISSING)
        against = row.get("against", MISSING)
        if against == CHECK_DAY or (against is MISSING and day is MISSING):
            out[test] = CHECK_DAY
        else:  # 指定日期 without a date: the plan's check says it wants one
            out[test] = None if day is MISSING else day
    else:
        values = row.get("values", MISSING)
        out[test] = None if values is MISSING else values
    return out


def _apply_conditions(pf: PartForm, data: Mapping[str, Any], out: dict[str, Any],
                      posted: Mapping[str, str], names: Names, problems: list[str]) -> None:
    """Put the posted conditions back on the rules (already updated by the rules table)."""
    before_rows = condition_rows(data)
    _, labels = _field_names(data)
    count = _int(posted.get(f"t{pf.index}.rows"), len(pf.rows)) + BLANK_ROWS
    grouped: dict[str, list[Any]] = {}
    for ri in range(count):
        if posted.get(f"t{pf.index}.{ri}._delete"):
            continue
        before = before_rows[ri] if ri < len(before_rows) else {}
        row: dict[str, Any] = {}
        changed = False
        for c in pf.cols:
            name = f"t{pf.index}.{ri}.{c.key}"
            was = before.get(c.key, MISSING)
            if name not in posted:
                if was is not MISSING:
                    row[c.key] = was
                continue
            if show(c, was, names).strip() != posted[name].strip():
                changed = True
            try:
                v = _read_kept(c, posted[name], was, names)
            except FieldError as exc:
                problems.append(f"{pf.part.label}第{ri + 1}行“{c.label}”：{exc}")
                v = was
            if v is not MISSING:
                row[c.key] = v
        if not before and not any(k in row for k in ("field", "test")):
            continue  # a blank line left blank
        code = str(row.get("rule", ""))
        if not code:
            problems.append(f"{pf.part.label}第{ri + 1}行：请选择规则")
            continue
        kept = before.get("_orig") if before and not changed else None
        grouped.setdefault(code, []).append(
            copy.deepcopy(kept) if kept is not None else condition_of(row, labels))
    rules = get_at(out, "detection.rules")
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict):
            continue
        when = grouped.pop(str(rule.get("code", "")), None)
        if when is not None:
            rule["when"] = when
    # A rule deleted from the rules table in this save takes its conditions with it.
    gone = {str(o) for o, _ in pf.cols[0].options}
    for code in grouped:
        if code not in gone:
            problems.append(f"{pf.part.label}：规则“{code}”不在规则表中")


def _restore_when(data: Mapping[str, Any], rows: list[Any]) -> None:
    """The rules table does not edit `when`: each row keeps its rule's conditions (by code)
    until the conditions table, saved after it, writes them."""
    rules = get_at(data, "detection.rules")
    when = {str(r.get("code")): r["when"] for r in (rules if isinstance(rules, list) else [])
            if isinstance(r, Mapping) and "when" in r}
    for row in rows:
        if isinstance(row, dict) and str(row.get("code")) in when:
            row["when"] = copy.deepcopy(when[str(row.get("code"))])


def parts_of(section: Section) -> tuple[Part, ...]:
    return (TOWNS_PART,) if section.key == "towns" else section.parts


def form_of(section: Section, data: Mapping[str, Any]) -> list[PartForm]:
    """The section's parts, filled from the data."""
    names = Names.of_data(data)
    forms: list[PartForm] = []
    for pi, part in enumerate(parts_of(section)):
        if section.key == "towns":
            cols = list(part.cols)
            items: list[Any] = town_rows(data)
        elif part.path == CONDITIONS_PATH:
            cols = condition_cols(data)
            items = condition_rows(data)
        else:
            cols = columns(part, data, sub_parts_of(section, part))
            value = get_at(data, part.path) if part.path else data
            items = value if isinstance(value, list) else []
        pf = PartForm(part, pi, cols)
        if part.table:
            for ri, item in enumerate(items):
                row = item if isinstance(item, Mapping) else {}
                pf.rows.append([
                    Cell(f"t{pi}.{ri}.{c.key}", c, show(c, row.get(c.key, MISSING), names),
                         _town_path(row, c.key) if section.key == "towns"
                         else _condition_path(row, c.key) if part.path == CONDITIONS_PATH
                         else f"{part.path}[{ri}].{c.key}") for c in cols])
            pf.blank_rows = BLANK_ROWS
        else:
            mapping = (get_at(data, part.path) if part.path else data)
            mapping = mapping if isinstance(mapping, Mapping) else {}
            pf.fields = [Cell(f"f{pi}.{c.key}", c, show(c, mapping.get(c.key, MISSING), names),
                              f"{part.path}.{c.key}" if part.path else c.key) for c in cols]
        forms.append(pf)
    return forms


def apply_form(section: Section, data: Mapping[str, Any],
               posted: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The data with the section's posted form applied, and the fields that cannot be read."""
    out = copy.deepcopy(dict(data))
    names = Names.of_data(data)
    problems: list[str] = []
    for pf in form_of(section, data):
        part = pf.part
        if part.path == CONDITIONS_PATH:
            _apply_conditions(pf, data, out, posted, names, problems)
            continue
        if part.table:
            value = get_at(data, part.path) if part.path else MISSING
            before_rows: list[Any] = (town_rows(data) if section.key == "towns" else
                                      value if isinstance(value, list) else [])
            count = _int(posted.get(f"t{pf.index}.rows"), len(pf.rows)) + BLANK_ROWS
            rows: list[Any] = []
            for ri in range(count):
                if posted.get(f"t{pf.index}.{ri}._delete"):
                    continue
                before = before_rows[ri] if ri < len(before_rows) else {}
                before = before if isinstance(before, Mapping) else {}
                row: dict[str, Any] = {}
                seen_any = False
                for c in pf.cols:
                    name = f"t{pf.index}.{ri}.{c.key}"
                    if name not in posted:
                        if before.get(c.key, MISSING) is not MISSING:
                            row[c.key] = before[c.key]
                        continue
                    seen_any = True
                    try:
                        v = _read_kept(c, posted[name], before.get(c.key, MISSING), names)
                    except FieldError as exc:
                        problems.append(f"{part.label}第{ri + 1}行“{c.label}”：{exc}")
                        v = before.get(c.key, MISSING)
                    if v is not MISSING:
                        row[c.key] = v
                if not seen_any and not before:
                    continue
                if not row:
                    continue  # an empty row: nothing to keep
                # keep the item's own key order where it had one
                ordered = {k: row[k] for k in before if k in row}
                ordered.update({k: v for k, v in row.items() if k not in ordered})
                rows.append(ordered)
            if section.key == "towns":
                towns = towns_of_rows(rows)
                before_towns = data.get("towns")
                order = {str(t.get("name")): list(t) for t in (
                    before_towns if isinstance(before_towns, list) else [])
                    if isinstance(t, Mapping)}
                for i, town in enumerate(towns):
                    keys = order.get(str(town.get("name")), [])
                    ordered_town = {k: town[k] for k in keys if k in town}
                    ordered_town.update({k: v for k, v in town.items() if k not in ordered_town})
                    towns[i] = ordered_town
                out["towns"] = towns
            elif rows or get_at(data, part.path) is not MISSING:
                if part.path == "detection.rules":
                    _restore_when(data, rows)
                set_at(out, part.path, rows)
        else:
            for c in pf.cols:
                name = f"f{pf.index}.{c.key}"
                if name not in posted:
                    continue
                path = f"{part.path}.{c.key}" if part.path else c.key
                before_v = get_at(data, path)
                try:
                    v = _read_kept(c, posted[name], before_v, names)
                except FieldError as exc:
                    problems.append(f"{part.label}“{c.label}”：{exc}")
                    continue
                if v is MISSING and before_v is not MISSING and before_v in ("", None):
                    continue  # an empty value written as such stays as written
                set_at(out, path, v)
    return out, problems


def form_texts(section: Section, data: Mapping[str, Any]) -> dict[str, str]:
    """Each input's text as the section's form shows the data."""
    texts: dict[str, str] = {}
    for pf in form_of(section, data):
        for cell in [*pf.fields, *(c for row in pf.rows for c in row)]:
            texts[cell.name] = cell.text
    return texts


def kept_form(section: Section, data: Mapping[str, Any], posted: Mapping[str, str],
              shown: Mapping[str, str] | None = None) -> list[PartForm]:
    """The section's form as it was sent (a refused save): every field and row with the text
    typed, rows typed into the blank lines kept as rows. With `shown` (the form as the user
    saw it, before someone else saved) only what the user changed is laid over `data`."""
    forms = form_of(section, data)

    def keep(cell: Cell) -> None:
        if cell.name in posted and (shown is None or posted[cell.name] != shown.get(cell.name)):
            cell.text = posted[cell.name]

    for pf in forms:
        for cell in pf.fields:
            keep(cell)
        if not pf.part.table:
            continue
        for row in pf.rows:
            for cell in row:
                keep(cell)
        first = len(pf.rows)
        # A refused save shows the 删除 boxes as they were ticked, so the next save still
        # deletes those rows instead of silently keeping them.
        pf.deleted = {ri for ri in range(first) if posted.get(f"t{pf.index}.{ri}._delete")}
        count = _int(posted.get(f"t{pf.index}.rows"), first) + BLANK_ROWS
        typed = [ri for ri in range(first, count) if any(
            posted.get(f"t{pf.index}.{ri}.{c.key}", "").strip() for c in pf.cols)]
        for ri in range(first, max(typed, default=first - 1) + 1):
            path = f"{pf.part.path}[{ri}]" if pf.part.path else f"[{ri}]"
            pf.rows.append([Cell(f"t{pf.index}.{ri}.{c.key}", c,
                                 posted.get(f"t{pf.index}.{ri}.{c.key}", ""),
                                 f"{path}.{c.key}") for c in pf.cols])
    return forms


def _read_kept(col: Col, text: str, before: Any, names: Names) -> Any:
    """What was typed, read; a field left as it was shown keeps its value exactly."""
    if before is not MISSING and text.strip() == show(col, before, names).strip():
        return before
    return read(col, text, before)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def place_errors(forms: list[PartForm], errors: Sequence[tuple[str, str]],
                 section: Section) -> list[tuple[str, str]]:
    """Put each (path, message) beside its field; the rest are returned."""
    rest: list[tuple[str, str]] = []
    by_path: dict[str, Cell] = {}
    for pf in forms:
        for field_cell in pf.fields:
            by_path[field_cell.path] = field_cell
        for row in pf.rows:
            for row_cell in row:
                by_path.setdefault(row_cell.path, row_cell)
    for path, message in errors:
        cell = by_path.get(path)
        if cell is None:
            # the nearest enclosing field or row: routing[2].categories[1] → routing[2].categories
            trimmed = re.sub(r"\[\d+\]$", "", path)
            cell = by_path.get(trimmed) or by_path.get(re.sub(r"\.[^.\[]+$", "", trimmed))
        if cell is not None:
            cell.error = f"{cell.error}；{message}" if cell.error else message
            continue
        for pf in forms:
            if pf.part.path and (path == pf.part.path or path.startswith(pf.part.path + "[")
                                 or path.startswith(pf.part.path + ".")):
                pf.errors.append(f"{path} {message}")
                break
        else:
            rest.append((path, message))
    return rest


def section_of_path(path: str) -> str:
    """The editor section a plan path belongs to."""
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    for section in SECTIONS:
        for part in section.parts:
            if part.path and part.path.split(".")[0] == head:
                return section.key
    if head == "towns" or head == "scope":
        return "towns"
    return "basics"
