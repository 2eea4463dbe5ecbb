"""Read a campaign plan given as plain data in its wire format (as loaded from YAML or JSON).

`parse_plan` collects every mistake before it raises, so an office fixes its plan in one pass.
Each error names the field path (`stages[1].end`; list indexes count from 0) and the reason in
Chinese. The wire format is forgiving: Chinese aliases for enumerated values, dates as
2020/6/15 or 2020年6月15日, references to offices, towns, categories, sources and deadline tiers
by code or by name; the parsed Plan stores codes. Rules that span sections of the typed plan
live in `duban.domain.plan_check`; the stored form is `duban.adapters.plan.codec`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from duban.domain.detection import RULE_CODES, RULE_LABELS
from duban.domain.facts import BUILTIN_FIELDS
from duban.domain.names import normalise
from duban.domain.plan import (
    CHECK_DAY,
    OWN_TOWN,
    OWN_VILLAGE,
    PHOTO_TYPE_LABELS,
    PHOTO_TYPES,
    Audience,
    Category,
    Channel,
    ConditionTest,
    Contact,
    CoOfficeNotice,
    CoOfficeNotices,
    DeadlineBasis,
    DeadlinePolicy,
    DeadlineRule,
    DeadlineTier,
    DetectionPolicy,
    DetectionRule,
    DocumentPolicy,
    Duty,
    FactCondition,
    FieldType,
    HouseholdDraw,
    HouseholdField,
    HouseholdPolicy,
    Milestone,
    NoticePolicy,
    NoticeRhythm,
    Office,
    OfficeLevel,
    PenaltyBasis,
    PenaltyRule,
    Plan,
    RankingPolicy,
    Recurrence,
    ReminderPolicy,
    ReminderRung,
    ReportAudience,
    ReportSchedule,
    ReviewPolicy,
    RoutingRule,
    RungAction,
    Source,
    SpotCheckQuota,
    Stage,
    StageKind,
    SupervisionGroup,
    TieRule,
    Town,
    Village,
    VisitPolicy,
)
from duban.domain.plan_check import PlanError, PlanInvalid, check_plan

__all__ = ["parse_plan"]

_E = TypeVar("_E")

# ---------------------------------------------------------------------------------------------
# Chinese aliases accepted for enumerated values (English values are always accepted too)

STAGE_KIND_ALIASES: dict[str, StageKind] = {
    "mobilise": StageKind.MOBILISE,
    "mobilize": StageKind.MOBILISE,
    "动员": StageKind.MOBILISE,
    "动员部署": StageKind.MOBILISE,
    "investigate": StageKind.INVESTIGATE,
    "排查": StageKind.INVESTIGATE,
    "rectify": StageKind.RECTIFY,
    "整改": StageKind.RECTIFY,
    "review": StageKind.REVIEW,
    "复核提升": StageKind.REVIEW,
    "复核": StageKind.REVIEW,
    "提升": StageKind.REVIEW,
    "迎检": StageKind.REVIEW,
}

TIE_RULE_ALIASES: dict[str, TieRule] = {
    "whole": TieRule.WHOLE,
    "一并": TieRule.WHOLE,
    "并列者一并表扬": TieRule.WHOLE,
    "none": TieRule.NONE,
    "均不": TieRule.NONE,
    "并列者均不表扬": TieRule.NONE,
}

LEVEL_ALIASES: dict[str, OfficeLevel] = {
    "county": OfficeLevel.COUNTY,
    "县直部门": OfficeLevel.COUNTY,
    "县级": OfficeLevel.COUNTY,
    "town": OfficeLevel.TOWN,
    "乡镇办室": OfficeLevel.TOWN,
    "乡镇": OfficeLevel.TOWN,
    "乡级": OfficeLevel.TOWN,
    "village": OfficeLevel.VILLAGE,
    "村": OfficeLevel.VILLAGE,
    "村级": OfficeLevel.VILLAGE,
}

ACTION_ALIASES: dict[str, RungAction] = {
    "remind": RungAction.REMIND,
    "提醒": RungAction.REMIND,
    "due": RungAction.DUE,
    "到期提醒": RungAction.DUE,
    "urge": RungAction.URGE,
    "催办": RungAction.URGE,
    "supervise": RungAction.SUPERVISE,
    "督办": RungAction.SUPERVISE,
    "bulletin": RungAction.BULLETIN,
    "通报": RungAction.BULLETIN,
}

AUDIENCE_ALIASES: dict[str, Audience] = {
    "office": Audience.OFFICE,
    "责任办室": Audience.OFFICE,
    "office_head": Audience.OFFICE_HEAD,
    "办室负责人": Audience.OFFICE_HEAD,
    "county": Audience.COUNTY,
    "县级": Audience.COUNTY,
    "领导小组办公室": Audience.COUNTY,
}

COLOUR_ALIASES: dict[str, str] = {
    "": "",
    "yellow": "yellow",
    "黄": "yellow",
    "黄色": "yellow",
    "orange": "orange",
    "橙": "orange",
    "橙色": "orange",
    "red": "red",
    "红": "red",
    "红色": "red",
}

BASIS_ALIASES: dict[str, PenaltyBasis] = {
    "problem": PenaltyBasis.PROBLEM,
    "件": PenaltyBasis.PROBLEM,
    "问题": PenaltyBasis.PROBLEM,
    "household": PenaltyBasis.HOUSEHOLD,
    "户": PenaltyBasis.HOUSEHOLD,
}

DEADLINE_BASIS_ALIASES: dict[str, DeadlineBasis] = {
    "found": DeadlineBasis.FOUND,
    "发现": DeadlineBasis.FOUND,
    "发现之日": DeadlineBasis.FOUND,
    "routed": DeadlineBasis.ROUTED,
    "交办": DeadlineBasis.ROUTED,
    "交办之日": DeadlineBasis.ROUTED,
    "signed": DeadlineBasis.SIGNED,
    "签收": DeadlineBasis.SIGNED,
    "签收之日": DeadlineBasis.SIGNED,
}

RANK_BY_ALIASES: dict[str, str] = {
    "town": "town",
    "乡镇": "town",
    "office": "office",
    "办室": "office",
}

REPORT_AUDIENCE_ALIASES: dict[str, ReportAudience] = {
    "county": ReportAudience.COUNTY,
    "县级": ReportAudience.COUNTY,
    "领导小组办公室": ReportAudience.COUNTY,
    "towns": ReportAudience.TOWNS,
    "各乡镇": ReportAudience.TOWNS,
    "offices": ReportAudience.OFFICES,
    "各部门": ReportAudience.OFFICES,
    "各责任单位": ReportAudience.OFFICES,
}

CHANNEL_ALIASES: dict[str, Channel] = {
    "inbox": Channel.INBOX,
    "站内信": Channel.INBOX,
    "email": Channel.EMAIL,
    "邮件": Channel.EMAIL,
    "电子邮件": Channel.EMAIL,
    "webhook": Channel.WEBHOOK,
    "机器人": Channel.WEBHOOK,
}

CO_OFFICE_NOTICE_ALIASES: dict[str, CoOfficeNotice] = {
    "own": CoOfficeNotice.OWN,
    "单独下发": CoOfficeNotice.OWN,
    "单独": CoOfficeNotice.OWN,
    "copy": CoOfficeNotice.COPY,
    "抄送": CoOfficeNotice.COPY,
    "none": CoOfficeNotice.NONE,
    "不发": CoOfficeNotice.NONE,
}

RHYTHM_ALIASES: dict[str, NoticeRhythm] = {
    "daily": NoticeRhythm.DAILY,
    "每日": NoticeRhythm.DAILY,
    "每天": NoticeRhythm.DAILY,
    "weekly": NoticeRhythm.WEEKLY,
    "每周": NoticeRhythm.WEEKLY,
    "manual": NoticeRhythm.MANUAL,
    "手工": NoticeRhythm.MANUAL,
    "手动": NoticeRhythm.MANUAL,
}

RECURRENCE_ALIASES: dict[str, Recurrence] = {
    "daily": Recurrence.DAILY,
    "每天": Recurrence.DAILY,
    "每日": Recurrence.DAILY,
    "每晚": Recurrence.DAILY,
    "weekly": Recurrence.WEEKLY,
    "每周": Recurrence.WEEKLY,
    "monthly": Recurrence.MONTHLY,
    "每月": Recurrence.MONTHLY,
    "once": Recurrence.ONCE,
    "一次": Recurrence.ONCE,
}

WEEKDAY_ALIASES: dict[str, int] = {
    **{str(i): i for i in range(1, 8)},
    **{w: i for i, w in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"), 1)},
    **{w: i for i, w in enumerate(("星期一", "星期二", "星期三", "星期四", "星期五", "星期六",
                                   "星期日"), 1)},
    "周天": 7,
    "星期天": 7,
}

FIELD_TYPE_ALIASES: dict[str, FieldType] = {
    "choice": FieldType.CHOICE,
    "选项": FieldType.CHOICE,
    "单选": FieldType.CHOICE,
    "多选": FieldType.CHOICE,
    "yes_no": FieldType.YES_NO,
    "是否": FieldType.YES_NO,
    "是/否": FieldType.YES_NO,
    "integer": FieldType.INTEGER,
    "整数": FieldType.INTEGER,
    "date": FieldType.DATE,
    "日期": FieldType.DATE,
    "text": FieldType.TEXT,
    "文本": FieldType.TEXT,
}

CONDITION_TEST_ALIASES: dict[str, ConditionTest] = {
    "is": ConditionTest.IS,
    "为": ConditionTest.IS,
    "is_not": ConditionTest.IS_NOT,
    "不为": ConditionTest.IS_NOT,
    "has": ConditionTest.HAS,
    "含": ConditionTest.HAS,
    "lacks": ConditionTest.LACKS,
    "不含": ConditionTest.LACKS,
    "blank": ConditionTest.BLANK,
    "未填写": ConditionTest.BLANK,
    "filled": ConditionTest.FILLED,
    "已填写": ConditionTest.FILLED,
    "below": ConditionTest.BELOW,
    "低于": ConditionTest.BELOW,
    "at_least": ConditionTest.AT_LEAST,
    "不低于": ConditionTest.AT_LEAST,
    "before": ConditionTest.BEFORE,
    "早于": ConditionTest.BEFORE,
    "not_before": ConditionTest.NOT_BEFORE,
    "不早于": ConditionTest.NOT_BEFORE,
}
# A condition may name its test as a key: {field: 改厕意愿, is: 愿意}, {field: 帮扶, blank: true}.
_VALUE_TESTS = ("is", "is_not", "has", "lacks")
_FLAG_TESTS = ("blank", "filled")
_NUMBER_TESTS = ("below", "at_least")
# {field: 小额信贷到期日, before: 检查日} or {…, before: 2022-10-01}; with `test`, the day is `date`
# (absent: the detection day, 检查日).
_DATE_TESTS = ("before", "not_before")

_OWN_TOKENS = (OWN_VILLAGE, OWN_TOWN)

# ---------------------------------------------------------------------------------------------
# The keys each mapping may hold (unknown keys are reported, with a guess at the intended one)

# Every top-level key in reading order, and whether a plan must give it.
_TOP_FIELDS: dict[str, bool] = {
    "name": True,
    "issuer": True,
    "issuer_short": False,
    "document_number": False,
    "issued_on": False,
    "notice_prefix": True,
    "county_office": True,
    "stages": True,
    "towns": True,
    "offices": True,
    "categories": True,
    "sources": True,
    "routing": True,
    "deadlines": False,
    "review": False,
    "reminders": False,
    "penalties": False,
    "ranking": False,
    "reports": False,
    "detection": False,
    "duties": False,
    "notices": False,
    "household": False,
    "visits": False,
    "documents": False,
}
_TOP_KEYS = tuple(_TOP_FIELDS)
_TOP_REQUIRED = tuple(key for key, required in _TOP_FIELDS.items() if required)

_TOP_LISTS = ("stages", "towns", "offices", "categories", "sources", "routing")

_CODE_RE = re.compile(r"^\S+$")
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_PHONE_RE = re.compile(r"^[0-9+\-() ]{5,24}$")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    """The Chinese name of a value's type, for 'expected X, got Y' messages."""
    if value is None:
        return "空值"
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, int | float):
        return f"数字 {value}"
    if isinstance(value, str):
        return f"文本 “{value}”"
    if isinstance(value, dt.datetime):
        return "日期时间"
    if isinstance(value, dt.date):
        return "日期"
    if isinstance(value, Mapping):
        return "映射"
    if isinstance(value, list | tuple):
        return "列表"
    return type(value).__name__


def _guess(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"（是否想写 {close[0]}？）" if close else ""


# ---------------------------------------------------------------------------------------------
# The checker: typed getters that record an error and return a harmless default


class _Ctx:
    """Collects errors; every getter returns a usable value even when it records an error."""

    def __init__(self) -> None:
        self.errors: list[PlanError] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(PlanError(path, message))

    def fields(
        self,
        node: object,
        path: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
    ) -> Mapping[str, Any]:
        """`node` as a mapping, reporting unknown and missing keys."""
        if not isinstance(node, Mapping):
            self.fail(path or "（顶层）", f"应为映射（键: 值），实际是{_kind(node)}")
            return {}
        for key in node:
            if not isinstance(key, str):
                self.fail(path or "（顶层）", f"字段名应为文本，实际是{_kind(key)}")
            elif key not in allowed:
                self.fail(_join(path, key), f"未知字段{_guess(key, allowed)}")
        for key in required:
            if node.get(key) is None:
                self.fail(_join(path, key), "缺少（必填）")
        return node

    def text(
        self,
        m: Mapping[str, Any],
        key: str,
        path: str,
        *,
        default: str = "",
        code: bool = False,
        numbers: bool = False,
    ) -> str:
        """A string field; `code` forbids blanks and spaces, `numbers` accepts 13800000000."""
        value = m.get(key)
        where = _join(path, key)
        if value is None:
            return default
        if numbers and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            hint = '（以 0 开头或纯数字的代码请加引号，如 "001"）' if code else ""
            self.fail(where, f"应为文本，实际是{_kind(value)}{hint}")
            return default
        value = value.strip()
        if code and not _CODE_RE.match(value):
            self.fail(where, "代码不能为空，也不能含空格")
        return value

    def whole(
        self,
        m: Mapping[str, Any],
        key: str,
        path: str,
        *,
        default: int,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        """An integer field within [minimum, maximum]."""
        value = m.get(key)
        where = _join(path, key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, f"应为整数，实际是{_kind(value)}")
            return default
        if minimum is not None and value < minimum:
            self.fail(
                where, "应为正整数" if minimum == 1 else f"不能小于 {minimum}，实际是 {value}"
            )
            return default
        if maximum is not None and value > maximum:
            self.fail(where, f"不能大于 {maximum}，实际是 {value}")
            return default
        return value

    def optional_whole(
        self, m: Mapping[str, Any], key: str, path: str, *, minimum: int | None = None
    ) -> int | None:
        """An integer field that may be absent."""
        if m.get(key) is None:
            return None
        return self.whole(m, key, path, default=0, minimum=minimum)

    def flag(self, m: Mapping[str, Any], key: str, path: str, *, default: bool) -> bool:
        """A true/false field."""
        value = m.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(_join(path, key), f"应为 true 或 false，实际是{_kind(value)}")
            return default
        return value

    def date(self, m: Mapping[str, Any], key: str, path: str) -> dt.date | None:
        """A date field: a YAML date, 2020-06-15, 2020/6/15 or 2020年6月15日."""
        value = m.get(key)
        if value is None:
            return None
        where = _join(path, key)
        if isinstance(value, dt.datetime):
            self.fail(where, "应为日期，不要带时间")
            return None
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            match = _DATE_RE.match(value.strip())
            if match:
                try:
                    return dt.date(*(int(g) for g in match.groups()))
                except ValueError:
                    self.fail(where, f"日期不存在：{value}")
                    return None
        self.fail(where, f"应为日期（如 2020-06-15），实际是{_kind(value)}")
        return None

    def clock(self, m: Mapping[str, Any], key: str, path: str, *, default: dt.time) -> dt.time:
        """A time-of-day field, "17:30" (quoted in YAML) or "17:30:00"."""
        value = m.get(key)
        if value is None:
            return default
        where = _join(path, key)
        if isinstance(value, dt.time):
            return value
        if isinstance(value, str):
            match = _TIME_RE.match(value.strip())
            if match:
                h, mi, s = (int(g) if g else 0 for g in match.groups())
                if h < 24 and mi < 60 and s < 60:
                    return dt.time(h, mi, s)
            self.fail(where, f"时间不对：{value}（应为 时:分，如 17:30）")
            return default
        self.fail(where, f'应为时间（如 "17:30"，请加引号），实际是{_kind(value)}')
        return default

    def choice(
        self, m: Mapping[str, Any], key: str, path: str, aliases: Mapping[str, _E], default: _E
    ) -> _E:
        """An enumerated field, English value or Chinese alias."""
        value = m.get(key)
        if value is None:
            return default
        return self.choose(value, _join(path, key), aliases, default)

    def choose(self, value: object, where: str, aliases: Mapping[str, _E], default: _E) -> _E:
        """One enumerated value, English or Chinese."""
        if isinstance(value, str) and value.strip() in aliases:
            return aliases[value.strip()]
        allowed = "、".join(k for k in aliases if k)
        self.fail(where, f"取值不认识：{value}（可用：{allowed}）")
        return default

    def items(self, m: Mapping[str, Any], key: str, path: str) -> list[tuple[str, Any]]:
        """A list field as (path, item) pairs; absent means empty."""
        value = m.get(key)
        where = _join(path, key)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            self.fail(where, f"应为列表，实际是{_kind(value)}")
            return []
        return [(_join(where, i), item) for i, item in enumerate(value)]

    def words(self, m: Mapping[str, Any], key: str, path: str) -> list[tuple[str, str]]:
        """A list of strings (a single string is a list of one) as (path, word) pairs."""
        value = m.get(key)
        if isinstance(value, str):
            return [(_join(path, key), value.strip())]
        out: list[tuple[str, str]] = []
        for where, item in self.items(m, key, path):
            if isinstance(item, str) and item.strip():
                out.append((where, item.strip()))
            else:
                self.fail(where, f"应为文本，实际是{_kind(item)}")
        return out


class _Names:
    """The codes and names of one kind of thing, so references can use either."""

    def __init__(self, ctx: _Ctx, what: str) -> None:
        self.ctx = ctx
        self.what = what
        self.codes: dict[str, str] = {}  # code -> path where it was defined
        self.refs: dict[str, str] = {}  # code or name -> code
        self.words: dict[str, str] = {}  # a name or alias, normalised -> code
        self.aliased: set[str] = set()  # the aliases, as written

    def add(self, code: str, name: str, path: str) -> None:
        """Register an item, reporting a repeated code or a name that clashes."""
        if not code:
            return
        if code in self.codes:
            self.ctx.fail(_join(path, "code"), f"代码重复：{code}（{self.codes[code]} 已使用）")
        elif code in self.refs and code == name:  # a code defaulted from a repeated name
            self.ctx.fail(_join(path, "name"), f"名称重复：{name}")
            return
        elif code in self.refs:
            self.ctx.fail(_join(path, "code"), f"代码与另一{self.what}的名称相同：{code}")
        else:
            self.codes[code] = path
            self.refs[code] = code
        # The name is kept even after a bad code, so references to it raise no second error.
        owner = self.words.get(normalise(name)) if name else None
        if name and name != code:
            if name in self.aliased:
                self.ctx.fail(_join(path, "name"), f"名称已是另一{self.what}的别名：{name}")
            elif name in self.refs:
                self.ctx.fail(_join(path, "name"), f"名称重复：{name}")
            elif owner is not None:
                self.ctx.fail(_join(path, "name"), f"名称与另一{self.what}的名称或别名只差空格或"
                              f"全角半角：{name}")
            else:
                self.refs[name] = self.refs.get(code, code)
        if name and owner is None:
            self.words[normalise(name)] = self.refs.get(code, code)

    def aliases(self, m: Mapping[str, Any], code: str, name: str, path: str) -> tuple[str, ...]:
        """Read an item's `aliases` (other words people write for it) and register them as
        references; an alias may not be another item's code, name or alias (after normalising
        width and spaces)."""
        out: list[str] = []
        for where, word in self.ctx.words(m, "aliases", path):
            key = normalise(word)
            owner = self.words.get(key, self.refs.get(word))
            if word == name or word in out:
                self.ctx.fail(where, f"别名重复：{word}")
            elif owner is not None and owner != code:
                self.ctx.fail(where, f"别名与另一{self.what}的名称或别名相同：{word}")
            else:
                out.append(word)
                self.aliased.add(word)
                self.words[key] = code
                self.refs.setdefault(word, code)
        return tuple(out)

    def entry(self, m: Mapping[str, Any], path: str) -> tuple[str, str]:
        """Read an item's code and name at `path` and register it; returns (code, name)."""
        code = self.ctx.text(m, "code", path, code=True)
        name = self.ctx.text(m, "name", path)
        self.add(code, name, path)
        return code, name

    def resolve(self, ref: str, where: str) -> str | None:
        """The code a reference stands for, or None after recording 未定义."""
        code = self.refs.get(ref)
        if code is None:
            self.ctx.fail(where, f"未定义: {ref}{_guess(ref, self.refs)}")
        return code

    def resolve_all(self, refs: Iterable[tuple[str, str]]) -> tuple[str, ...]:
        """Resolve (path, ref) pairs, dropping unknown ones and repeats."""
        out: list[str] = []
        for where, ref in refs:
            code = self.resolve(ref, where)
            if code is not None:
                if code in out:
                    self.ctx.fail(where, f"重复：{ref}")
                else:
                    out.append(code)
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# Sections


def _towns(ctx: _Ctx, data: Mapping[str, Any], names: _Names) -> tuple[Town, ...]:
    towns: list[Town] = []
    for path, node in ctx.items(data, "towns", ""):
        if isinstance(node, str):
            node = {"name": node}
        m = ctx.fields(node, path, ("code", "name", "villages", "liaison", "aliases"), ("name",))
        name = ctx.text(m, "name", path)
        code = ctx.text(m, "code", path, default=name, code=True)
        names.add(code, name, path)
        aliases = names.aliases(m, code, name, path)
        villages: list[Village] = []
        seen = _Names(ctx, "村")
        for vpath, vnode in ctx.items(m, "villages", path):
            if isinstance(vnode, str):
                vnode = {"name": vnode}
            vm = ctx.fields(vnode, vpath, ("code", "name", "aliases"), ("name",))
            vname = ctx.text(vm, "name", vpath)
            vcode = ctx.text(vm, "code", vpath, default=vname, code=True)
            seen.add(vcode, vname, vpath)
            villages.append(Village(vcode, vname, seen.aliases(vm, vcode, vname, vpath)))
        # The 包保 unit is an office reference, resolved once the offices are read.
        towns.append(Town(code, name, tuple(villages), ctx.text(m, "liaison", path), aliases))
    return tuple(towns)


def _liaisons(ctx: _Ctx, towns: tuple[Town, ...], offices: _Names) -> tuple[Town, ...]:
    """Towns with their 包保 unit references resolved to office codes."""
    out = []
    for i, town in enumerate(towns):
        code = ""
        if town.liaison:
            code = offices.resolve(town.liaison, f"towns[{i}].liaison") or ""
        out.append(dataclasses.replace(town, liaison=code))
    return tuple(out)


def _offices(
    ctx: _Ctx, data: Mapping[str, Any], names: _Names, towns: _Names, town_list: Sequence[Town]
) -> tuple[Office, ...]:
    offices: list[Office] = []
    allowed = ("code", "name", "level", "town", "head", "contacts", "webhook", "aliases")
    for path, node in ctx.items(data, "offices", ""):
        m = ctx.fields(node, path, allowed, ("code", "name", "level"))
        code = ctx.text(m, "code", path, code=True)
        name = ctx.text(m, "name", path)
        if code in _OWN_TOKENS or name in _OWN_TOKENS:
            ctx.fail(path, f"“{OWN_VILLAGE}”“{OWN_TOWN}”是路由用的保留词，不能作办室代码或名称")
        names.add(code, name, path)
        aliases = names.aliases(m, code, name, path)
        level = ctx.choice(m, "level", path, LEVEL_ALIASES, OfficeLevel.TOWN)
        town: str | None = None
        town_ref = ctx.text(m, "town", path)
        if level is OfficeLevel.COUNTY:
            if town_ref:
                ctx.fail(_join(path, "town"), "县级办室不属于某个乡镇，请删去 town")
        elif town_ref:
            town = towns.resolve(town_ref, _join(path, "town"))
        elif len(town_list) == 1:
            town = town_list[0].code  # a one-town plan need not repeat the town on every office
        elif town_list:
            ctx.fail(_join(path, "town"), "缺少（乡镇级、村级办室须写明所属乡镇）")
        contacts: list[Contact] = []
        for cpath, cnode in ctx.items(m, "contacts", path):
            if isinstance(cnode, str):
                cnode = {"name": cnode}
            cm = ctx.fields(cnode, cpath, ("name", "phone", "email"), ("name",))
            phone = ctx.text(cm, "phone", cpath, numbers=True)
            email = ctx.text(cm, "email", cpath)
            if phone and not _PHONE_RE.match(phone):
                ctx.fail(_join(cpath, "phone"), f"电话号码格式不对：{phone}")
            if email and ("@" not in email or " " in email):
                ctx.fail(_join(cpath, "email"), f"邮箱格式不对：{email}")
            contacts.append(Contact(ctx.text(cm, "name", cpath), phone, email))
        webhook = ctx.text(m, "webhook", path)
        if webhook and not webhook.startswith(("https://", "http://")):
            ctx.fail(_join(path, "webhook"), "应为 http:// 或 https:// 开头的地址")
        head = ctx.text(m, "head", path)
        offices.append(Office(code, name, level, town, head, tuple(contacts), webhook, aliases))
    return tuple(offices)


def _labelled(
    ctx: _Ctx, data: Mapping[str, Any], key: str, names: _Names, grouped: bool
) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """Categories or sources as (code, name, group, aliases)."""
    out: list[tuple[str, str, str, tuple[str, ...]]] = []
    allowed = (("code", "name", "group", "aliases", "requirement") if grouped
               else ("code", "name", "aliases"))
    for path, node in ctx.items(data, key, ""):
        m = ctx.fields(node, path, allowed, ("code", "name"))
        code, name = names.entry(m, path)
        out.append((code, name, ctx.text(m, "group", path), names.aliases(m, code, name, path)))
    return out


def _stages(ctx: _Ctx, data: Mapping[str, Any]) -> tuple[Stage, ...]:
    stages: list[Stage] = []
    for path, node in ctx.items(data, "stages", ""):
        # `end` may be left out: the stage runs until the campaign is closed (适时调整).
        m = ctx.fields(node, path, ("kind", "name", "start", "end"), ("kind", "start"))
        kind = ctx.choice(m, "kind", path, STAGE_KIND_ALIASES, StageKind.INVESTIGATE)
        name = ctx.text(m, "name", path) or _default_stage_name(kind)
        start = ctx.date(m, "start", path)
        end = ctx.date(m, "end", path)
        if start and end and end < start:
            ctx.fail(_join(path, "end"), "早于 start")
        stages.append(Stage(kind, name, start or dt.date.min, end))
    if stages and not any(s.kind is StageKind.RECTIFY for s in stages):
        ctx.fail("stages", "至少要有一个整改（rectify）阶段")
    return tuple(stages)


def _default_stage_name(kind: StageKind) -> str:
    return {
        StageKind.MOBILISE: "动员部署",
        StageKind.INVESTIGATE: "排查",
        StageKind.RECTIFY: "整改",
        StageKind.REVIEW: "复核提升",
    }[kind]


@dataclass
class _Refs:
    """The registries references are resolved against."""

    towns: _Names
    offices: _Names
    categories: _Names
    sources: _Names


def _routing(ctx: _Ctx, data: Mapping[str, Any], refs: _Refs) -> tuple[RoutingRule, ...]:
    rules: list[RoutingRule] = []
    allowed = ("office", "categories", "sources", "towns", "co_offices")
    for path, node in ctx.items(data, "routing", ""):
        m = ctx.fields(node, path, allowed, ("office",))
        lead_ref = ctx.text(m, "office", path)
        lead = ""
        if lead_ref == OWN_TOWN:
            lead = OWN_TOWN  # each problem's own town's office leads (seed 001's data items)
        elif lead_ref == OWN_VILLAGE:
            ctx.fail(
                _join(path, "office"),
                f"牵头办室须是一个具体办室或“{OWN_TOWN}”，“{lead_ref}”只能写在 co_offices",
            )
        elif lead_ref:
            lead = refs.offices.resolve(lead_ref, _join(path, "office")) or ""
        co: list[str] = []
        for where, ref in ctx.words(m, "co_offices", path):
            code = ref if ref in _OWN_TOKENS else refs.offices.resolve(ref, where)
            if code is None:
                continue
            if code == lead:
                ctx.fail(where, f"与牵头办室相同：{ref}")
            elif code in co:
                ctx.fail(where, f"重复：{ref}")
            else:
                co.append(code)
        rules.append(
            RoutingRule(
                office=lead,
                categories=refs.categories.resolve_all(ctx.words(m, "categories", path)),
                sources=refs.sources.resolve_all(ctx.words(m, "sources", path)),
                towns=refs.towns.resolve_all(ctx.words(m, "towns", path)),
                co_offices=tuple(co),
            )
        )
    return tuple(rules)


def _exactly_one(ctx: _Ctx, m: Mapping[str, Any], path: str, keys: Sequence[str]) -> None:
    given = [k for k in keys if m.get(k) is not None]
    if len(given) != 1:
        options = "、".join(keys)
        detail = f"，现在给了 {'、'.join(given)}" if given else ""
        ctx.fail(path, f"{options} 须恰好给出一个{detail}")


def _stage_refs(
    ctx: _Ctx, m: Mapping[str, Any], path: str, stages: Sequence[Stage]
) -> tuple[str, ...]:
    """Stage names from references by name (提升阶段) or kind (提升, review: every such stage)."""
    out: list[str] = []
    for where, ref in ctx.words(m, "stages", path):
        named = [s.name for s in stages if s.name == ref]
        if not named and ref in STAGE_KIND_ALIASES:
            named = [s.name for s in stages if s.kind is STAGE_KIND_ALIASES[ref]]
        if not named:
            known = "、".join(s.name for s in stages) or "无"
            ctx.fail(where, f"未定义的阶段：{ref}（方案的阶段：{known}）")
        out.extend(n for n in named if n not in out)
    return tuple(out)


def _found_between(
    ctx: _Ctx, m: Mapping[str, Any], path: str
) -> tuple[dt.date | None, dt.date | None]:
    """`found_between: [from, to]`: two dates, inclusive, the first not after the second."""
    if m.get("found_between") is None:
        return None, None
    where = _join(path, "found_between")
    value = m["found_between"]
    if not isinstance(value, list | tuple) or len(value) != 2:
        ctx.fail(where, f"应为两个日期的列表，如 [2022-10-16, 2022-12-31]，实际是{_kind(value)}")
        return None, None
    # Keys spelt as list items, so that a bad date's path reads found_between[1].
    first = ctx.date({"found_between[0]": value[0]}, "found_between[0]", path)
    last = ctx.date({"found_between[1]": value[1]}, "found_between[1]", path)
    if first and last and last < first:
        ctx.fail(where, f"结束日期 {last} 早于开始日期 {first}")
    return first, last


def _deadlines(
    ctx: _Ctx, data: Mapping[str, Any], refs: _Refs, stages: Sequence[Stage]
) -> DeadlinePolicy:
    path = "deadlines"
    if data.get(path) is None:
        return DeadlinePolicy()
    allowed = ("default_working_days", "cap_at_rectify_end", "tiers", "rules", "basis",
               "deemed_signed_after_working_days")
    m = ctx.fields(data[path], path, allowed)
    tiers: list[DeadlineTier] = []
    tier_names = _Names(ctx, "时限档次")
    for tpath, node in ctx.items(m, "tiers", path):
        tm = ctx.fields(node, tpath, ("code", "name", "working_days", "date"), ("code", "name"))
        code, name = tier_names.entry(tm, tpath)
        _exactly_one(ctx, tm, tpath, ("working_days", "date"))
        days = ctx.optional_whole(tm, "working_days", tpath, minimum=0)
        tiers.append(DeadlineTier(code, name, days, ctx.date(tm, "date", tpath)))
    rules: list[DeadlineRule] = []
    rule_keys = (
        "categories", "sources", "stages", "found_between", "tier", "date", "working_days",
        "milestones",
    )
    for rpath, node in ctx.items(m, "rules", path):
        rm = ctx.fields(node, rpath, rule_keys)
        milestones = _milestones(ctx, rm, rpath)
        if not (milestones and all(rm.get(k) is None for k in ("tier", "date", "working_days"))):
            _exactly_one(ctx, rm, rpath, ("tier", "date", "working_days"))
        tier_ref = ctx.text(rm, "tier", rpath)
        found_from, found_to = _found_between(ctx, rm, rpath)
        rule_date = ctx.date(rm, "date", rpath)
        for i, stone in enumerate(milestones):
            if rule_date is not None and stone.date > rule_date:
                ctx.fail(_join(_join(_join(rpath, "milestones"), i), "date"),
                         f"晚于本条规则的整改时限 {rule_date.isoformat()}")
        rules.append(
            DeadlineRule(
                categories=refs.categories.resolve_all(ctx.words(rm, "categories", rpath)),
                sources=refs.sources.resolve_all(ctx.words(rm, "sources", rpath)),
                tier=tier_names.resolve(tier_ref, _join(rpath, "tier")) if tier_ref else None,
                date=rule_date,
                working_days=ctx.optional_whole(rm, "working_days", rpath, minimum=0),
                stages=_stage_refs(ctx, rm, rpath, stages),
                found_from=found_from,
                found_to=found_to,
                milestones=milestones,
            )
        )
    basis = ctx.choice(m, "basis", path, DEADLINE_BASIS_ALIASES, DeadlineBasis.FOUND)
    deemed = ctx.whole(m, "deemed_signed_after_working_days", path, default=3, minimum=1)
    return DeadlinePolicy(
        default_working_days=ctx.whole(m, "default_working_days", path, default=10, minimum=1),
        tiers=tuple(tiers),
        rules=tuple(rules),
        cap_at_rectify_end=ctx.flag(m, "cap_at_rectify_end", path, default=True),
        basis=basis,
        deemed_signed_after_working_days=deemed,
    )


def _milestones(ctx: _Ctx, rm: Mapping[str, Any], rpath: str) -> tuple[Milestone, ...]:
    """A deadline rule's milestones (节点), in date order as written."""
    out: list[Milestone] = []
    names = _Names(ctx, "节点")
    for mpath, node in ctx.items(rm, "milestones", rpath):
        mm = ctx.fields(node, mpath, ("code", "name", "date"), ("name", "date"))
        name = ctx.text(mm, "name", mpath)
        code = ctx.text(mm, "code", mpath, default=name, code=True)
        names.add(code, name, mpath)
        day = ctx.date(mm, "date", mpath)
        if day is None or not code:
            continue
        if out and day <= out[-1].date:
            ctx.fail(_join(mpath, "date"),
                     f"应晚于上一个节点“{out[-1].name}”（{out[-1].date.isoformat()}），节点按时间先后排列")
        out.append(Milestone(code, name, day))
    return tuple(out)


def _duties(ctx: _Ctx, data: Mapping[str, Any], refs: _Refs) -> tuple[Duty, ...]:
    """Recurring duties: who, how often, by when."""
    out: list[Duty] = []
    names = _Names(ctx, "常态化工作")
    allowed = ("code", "name", "units", "every", "weekday", "day", "date", "start", "end",
               "working_days", "within_working_days")
    for path, node in ctx.items(data, "duties", ""):
        m = ctx.fields(node, path, allowed, ("name", "units", "every"))
        name = ctx.text(m, "name", path)
        code = ctx.text(m, "code", path, default=name, code=True)
        names.add(code, name, path)
        units: list[str] = []
        for where, ref in ctx.words(m, "units", path):
            unit = ref if ref in _OWN_TOKENS else refs.offices.resolve(ref, where)
            if unit is None:
                continue
            if unit in units:
                ctx.fail(where, f"重复：{ref}")
            else:
                units.append(unit)
        if isinstance(m.get("units"), list) and not m["units"]:
            ctx.fail(_join(path, "units"), "不能为空")
        every = ctx.choice(m, "every", path, RECURRENCE_ALIASES, Recurrence.DAILY)
        wanted = {Recurrence.WEEKLY: "weekday", Recurrence.MONTHLY: "day",
                  Recurrence.ONCE: "date"}.get(every)
        for key in ("weekday", "day", "date"):
            if key == wanted and m.get(key) is None and m.get("every") is not None:
                ctx.fail(_join(path, key), f"缺少（{m.get('every')} 的工作须写明 {key}）")
            elif key != wanted and m.get(key) is not None:
                ctx.fail(_join(path, key), f"与 every: {m.get('every')} 不符，请删去")
        weekday = None
        if m.get("weekday") is not None and wanted == "weekday":
            raw = m["weekday"]
            weekday = ctx.choose(str(raw) if isinstance(raw, int) else raw,
                                 _join(path, "weekday"), WEEKDAY_ALIASES, 1)
        day = ctx.optional_whole(m, "day", path, minimum=1) if wanted == "day" else None
        if day is not None and day > 31:
            ctx.fail(_join(path, "day"), f"不能大于 31，实际是 {day}")
        once = ctx.date(m, "date", path) if wanted == "date" else None
        start, end = ctx.date(m, "start", path), ctx.date(m, "end", path)
        if start is not None and end is not None and end < start:
            ctx.fail(_join(path, "end"), "早于 start")
        out.append(Duty(
            code=code, name=name, units=tuple(units), recurrence=every, weekday=weekday,
            day=day, date=once, start=start, end=end,
            working_days=ctx.flag(m, "working_days", path, default=False),
            within_working_days=ctx.whole(m, "within_working_days", path, default=0,
                                          minimum=0),
        ))
    return tuple(out)


def _review(ctx: _Ctx, data: Mapping[str, Any], refs: _Refs) -> ReviewPolicy:
    path = "review"
    if data.get(path) is None:
        return ReviewPolicy()
    allowed = ("groups", "quota", "reviewer_level", "rectify_days_after_failed_review",
               "spot_check_source", "three_signatures")
    m = ctx.fields(data[path], path, allowed)
    groups: list[SupervisionGroup] = []
    group_names = _Names(ctx, "督查组")
    for gpath, node in ctx.items(m, "groups", path):
        gm = ctx.fields(node, gpath, ("code", "name", "towns", "members"), ("code", "name"))
        code, name = group_names.entry(gm, gpath)
        towns = refs.towns.resolve_all(ctx.words(gm, "towns", gpath))
        members = tuple(w for _, w in ctx.words(gm, "members", gpath))
        groups.append(SupervisionGroup(code, name, towns, members))
    quota = SpotCheckQuota()
    if m.get("quota") is not None:
        qpath = _join(path, "quota")
        qkeys = ("closed_problems", "households", "villages", "more_households",
                 "villages_without_households")
        qm = ctx.fields(m["quota"], qpath, qkeys)
        more: list[HouseholdDraw] = []
        draw_names = _Names(ctx, "抽查项")
        for dpath, node in ctx.items(qm, "more_households", qpath):
            dm = ctx.fields(node, dpath, ("code", "name", "households"), ("code", "name", "households"))
            code, name = draw_names.entry(dm, dpath)
            more.append(HouseholdDraw(code, name,
                                      ctx.whole(dm, "households", dpath, default=0, minimum=1)))
        quota = SpotCheckQuota(
            closed_problems=ctx.whole(qm, "closed_problems", qpath, default=5, minimum=0),
            households=ctx.whole(qm, "households", qpath, default=10, minimum=0),
            villages=ctx.whole(qm, "villages", qpath, default=0, minimum=0),
            more_households=tuple(more),
            villages_without_households=ctx.flag(
                qm, "villages_without_households", qpath, default=False
            ),
        )
    return ReviewPolicy(
        groups=tuple(groups),
        quota=quota,
        reviewer_level=ctx.choice(m, "reviewer_level", path, LEVEL_ALIASES, OfficeLevel.COUNTY),
        rectify_days_after_failed_review=ctx.whole(
            m, "rectify_days_after_failed_review", path, default=5, minimum=1
        ),
        spot_check_source=_spot_check_source(ctx, m, path, refs),
        three_signatures=ctx.flag(m, "three_signatures", path, default=False),
    )


def _spot_check_source(ctx: _Ctx, m: Mapping[str, Any], path: str, refs: _Refs) -> str | None:
    """The source a failed household or village spot check's problem gets, when named."""
    ref = ctx.text(m, "spot_check_source", path)
    if not ref:
        return None
    return refs.sources.resolve(ref, _join(path, "spot_check_source"))


def _reminders(ctx: _Ctx, data: Mapping[str, Any]) -> ReminderPolicy:
    path = "reminders"
    if data.get(path) is None:
        return ReminderPolicy()
    allowed = ("rungs", "work_start", "work_end", "remind_unacknowledged_after_working_days")
    m = ctx.fields(data[path], path, allowed)
    rungs: list[ReminderRung] = []
    rung_names = _Names(ctx, "催办级别")
    last_offset: int | None = None
    last_share: float | None = None
    rung_keys = (
        "code",
        "name",
        "action",
        "offset",
        "share_left",
        "audience",
        "colour",
        "accrue_penalty",
    )
    for rpath, node in ctx.items(m, "rungs", path):
        rm = ctx.fields(node, rpath, rung_keys, ("code", "name", "action"))
        code, name = rung_names.entry(rm, rpath)
        _exactly_one(ctx, rm, rpath, ("offset", "share_left"))
        offset = ctx.optional_whole(rm, "offset", rpath)
        if offset is not None:
            if last_offset is not None and offset <= last_offset:
                ctx.fail(
                    _join(rpath, "offset"), f"应晚于上一级（{last_offset}），级别按时间先后排列"
                )
            last_offset = offset
        share = _share(ctx, rm, rpath)
        if share is not None:
            if last_share is not None and share >= last_share:
                ctx.fail(
                    _join(rpath, "share_left"), f"应小于上一级（{last_share}），级别按时间先后排列"
                )
            last_share = share
        audience: list[Audience] = []
        for where, word in ctx.words(rm, "audience", rpath):
            who = ctx.choose(word, where, AUDIENCE_ALIASES, Audience.OFFICE)
            if who not in audience:
                audience.append(who)
        if rm.get("audience") is not None and not audience and not isinstance(rm["audience"], str):
            ctx.fail(_join(rpath, "audience"), "至少要有一个对象")
        rungs.append(
            ReminderRung(
                code=code,
                name=name,
                action=ctx.choice(rm, "action", rpath, ACTION_ALIASES, RungAction.REMIND),
                offset_working_days=offset,
                share_left=share,
                audience=tuple(audience) or (Audience.OFFICE,),
                colour=ctx.choice(rm, "colour", rpath, COLOUR_ALIASES, ""),
                accrue_penalty=ctx.flag(rm, "accrue_penalty", rpath, default=False),
            )
        )
    start = ctx.clock(m, "work_start", path, default=dt.time(8, 30))
    end = ctx.clock(m, "work_end", path, default=dt.time(17, 30))
    if end <= start:
        ctx.fail(_join(path, "work_end"), "应晚于 work_start")
    unack = ctx.whole(m, "remind_unacknowledged_after_working_days", path, default=1, minimum=1)
    return ReminderPolicy(tuple(rungs), start, end, unack)


def _share(ctx: _Ctx, m: Mapping[str, Any], path: str) -> float | None:
    value = m.get("share_left")
    if value is None:
        return None
    where = _join(path, "share_left")
    if isinstance(value, bool) or not isinstance(value, int | float):
        ctx.fail(where, f"应为 0 与 1 之间的小数（如 0.3），实际是{_kind(value)}")
        return None
    if not 0 < value < 1:
        ctx.fail(where, f"应在 0 与 1 之间（不含两端），实际是 {value}")
        return None
    return float(value)


def _penalties(ctx: _Ctx, data: Mapping[str, Any], refs: _Refs) -> tuple[PenaltyRule, ...]:
    out: list[PenaltyRule] = []
    names = _Names(ctx, "罚则")
    claimed: dict[str, str] = {}  # category code (or "" for the catch-all) -> path
    allowed = ("code", "name", "amount_yuan", "basis", "categories")
    for path, node in ctx.items(data, "penalties", ""):
        m = ctx.fields(node, path, allowed, ("code", "name", "amount_yuan"))
        code, name = names.entry(m, path)
        amount = ctx.whole(m, "amount_yuan", path, default=0, minimum=1)
        given = ctx.words(m, "categories", path)
        categories = refs.categories.resolve_all(given)
        for category in categories if given else ("",):
            if category in claimed:
                what = f"类别 {category}" if category else "不限类别的罚则"
                ctx.fail(path, f"{what}已由 {claimed[category]} 规定，一个类别只能有一条罚则")
            else:
                claimed[category] = path
        basis = ctx.choice(m, "basis", path, BASIS_ALIASES, PenaltyBasis.PROBLEM)
        out.append(PenaltyRule(code, name, amount, basis, categories))
    return tuple(out)


def _ranking(ctx: _Ctx, data: Mapping[str, Any]) -> RankingPolicy:
    path = "ranking"
    if data.get(path) is None:
        return RankingPolicy()
    m = ctx.fields(data[path], path, ("commend_top", "name_bottom", "by", "failed_check_points",
                                      "ties", "rank_without_problems"))
    return RankingPolicy(
        commend_top=ctx.whole(m, "commend_top", path, default=3, minimum=0),
        name_bottom=ctx.whole(m, "name_bottom", path, default=1, minimum=0),
        by=ctx.choice(m, "by", path, RANK_BY_ALIASES, "town"),
        failed_check_points=ctx.whole(m, "failed_check_points", path, default=2, minimum=0),
        ties=ctx.choice(m, "ties", path, TIE_RULE_ALIASES, TieRule.WHOLE),
        rank_without_problems=ctx.flag(m, "rank_without_problems", path, default=False),
    )


def _reports(ctx: _Ctx, data: Mapping[str, Any], refs: _Refs) -> ReportSchedule:
    path = "reports"
    if data.get(path) is None:
        return ReportSchedule()
    m = ctx.fields(data[path], path, ("daily_at", "monthly_day", "daily_to", "ranking_to",
                                      "channels"))
    defaults = ReportSchedule()
    channels = defaults.channels
    if m.get("channels") is not None:
        chosen = [ctx.choose(w, where, CHANNEL_ALIASES, Channel.INBOX)
                  for where, w in ctx.words(m, "channels", path)]
        if not chosen:
            ctx.fail(_join(path, "channels"), "不能为空（可用：站内信、邮件、机器人）")
        channels = tuple(dict.fromkeys(chosen)) or defaults.channels
    return ReportSchedule(
        daily_at=ctx.clock(m, "daily_at", path, default=dt.time(17, 0)),
        monthly_day=ctx.whole(m, "monthly_day", path, default=1, minimum=1, maximum=28),
        daily_to=_report_audience(ctx, m, "daily_to", path, refs, defaults.daily_to),
        ranking_to=_report_audience(ctx, m, "ranking_to", path, refs, defaults.ranking_to),
        channels=channels,
    )


def _report_audience(ctx: _Ctx, m: Mapping[str, Any], key: str, path: str, refs: _Refs,
                     default: tuple[str, ...]) -> tuple[str, ...]:
    """Groups (county, towns, offices) and office references; an empty list sends nothing."""
    if m.get(key) is None:
        return default
    out: list[str] = []
    for where, word in ctx.words(m, key, path):
        # The group words win over an office of the same code: the county office is the
        # county group anyway, and nobody codes an office "towns".
        group = REPORT_AUDIENCE_ALIASES.get(word)
        if group is not None:
            out.append(group.value)
            continue
        if word in _OWN_TOKENS:
            ctx.fail(where, f"“{word}”只用于路由，报表不发送到村")
            continue
        code = refs.offices.resolve(word, where)
        if code:
            out.append(code)
    return tuple(dict.fromkeys(out))


def _notices(ctx: _Ctx, data: Mapping[str, Any]) -> NoticePolicy:
    path = "notices"
    if data.get(path) is None:
        return NoticePolicy()
    m = ctx.fields(data[path], path, ("co_offices", "rolling", "weekday", "at"))
    co = CoOfficeNotices()
    node = m.get("co_offices")
    where = _join(path, "co_offices")
    if isinstance(node, str):
        one = ctx.choose(node, where, CO_OFFICE_NOTICE_ALIASES, CoOfficeNotice.COPY)
        co = CoOfficeNotices(county=one, town=one, village=one)
    elif node is not None:
        cm = ctx.fields(node, where, ("county", "town", "village"))
        co = CoOfficeNotices(
            county=ctx.choice(cm, "county", where, CO_OFFICE_NOTICE_ALIASES, co.county),
            town=ctx.choice(cm, "town", where, CO_OFFICE_NOTICE_ALIASES, co.town),
            village=ctx.choice(cm, "village", where, CO_OFFICE_NOTICE_ALIASES, co.village),
        )
    rolling = ctx.choice(m, "rolling", path, RHYTHM_ALIASES, NoticeRhythm.DAILY)
    weekday: int | None = None
    raw = m.get("weekday")
    if isinstance(raw, str):
        weekday = ctx.choose(raw, _join(path, "weekday"), WEEKDAY_ALIASES, 1)
    elif raw is not None:
        weekday = ctx.whole(m, "weekday", path, default=1, minimum=1, maximum=7)
    if raw is not None and rolling is not NoticeRhythm.WEEKLY:
        ctx.fail(_join(path, "weekday"), "只在 rolling: weekly（每周）时使用")
    at = ctx.clock(m, "at", path, default=dt.time(0, 0)) if m.get("at") is not None else None
    if at is not None and rolling is NoticeRhythm.MANUAL:
        ctx.fail(_join(path, "at"), "rolling: manual（手工）时不自动下发，不能写 at")
    return NoticePolicy(co_offices=co, rolling=rolling, weekday=weekday, at=at)


def _documents(ctx: _Ctx, data: Mapping[str, Any]) -> DocumentPolicy:
    """The 发文机关, its 标志, the 印发机关, 抄送 and the 附注's contact of every document."""
    path = "documents"
    if data.get(path) is None:
        return DocumentPolicy()
    m = ctx.fields(data[path], path, ("issuer", "mark", "printer", "copy_to", "contact"))
    copy_to = tuple(dict.fromkeys(w for _where, w in ctx.words(m, "copy_to", path)))
    contact: Contact | None = None
    node = m.get("contact")
    if node is not None:
        cpath = _join(path, "contact")
        cm = ctx.fields(node, cpath, ("name", "phone"), ("name", "phone"))
        phone = ctx.text(cm, "phone", cpath, numbers=True)
        if phone and not _PHONE_RE.match(phone):
            ctx.fail(_join(cpath, "phone"), f"电话号码格式不对：{phone}")
        contact = Contact(ctx.text(cm, "name", cpath), phone)
    return DocumentPolicy(
        issuer=ctx.text(m, "issuer", path), mark=ctx.text(m, "mark", path),
        printer=ctx.text(m, "printer", path), copy_to=copy_to, contact=contact)


def _household(ctx: _Ctx, data: Mapping[str, Any]) -> HouseholdPolicy:
    path = "household"
    if data.get(path) is None:
        return HouseholdPolicy()
    m = ctx.fields(data[path], path, ("fields",))
    fields: list[HouseholdField] = []
    allowed = ("key", "label", "type", "values", "multiple", "required", "minimum", "maximum",
               "note")
    for fpath, node in ctx.items(m, "fields", path):
        fm = ctx.fields(node, fpath, allowed, ("label", "type"))
        label = ctx.text(fm, "label", fpath)
        key = ctx.text(fm, "key", fpath, default=label, code=True)
        kind = ctx.choice(fm, "type", fpath, FIELD_TYPE_ALIASES, FieldType.TEXT)
        multiple = ctx.flag(fm, "multiple", fpath, default=fm.get("type") == "多选")
        values: list[str] = []
        for where, item in ctx.items(fm, "values", fpath):
            if isinstance(item, bool) or item is None or isinstance(item, Mapping | list):
                ctx.fail(where, f"应为文本，实际是{_kind(item)}")
            elif str(item).strip():
                values.append(str(item).strip())
            else:
                ctx.fail(where, "不能为空")
        fields.append(HouseholdField(
            key=key, label=label, type=kind, values=tuple(values), multiple=multiple,
            required=ctx.flag(fm, "required", fpath, default=False),
            minimum=ctx.optional_whole(fm, "minimum", fpath),
            maximum=ctx.optional_whole(fm, "maximum", fpath),
            note=ctx.text(fm, "note", fpath),
        ))
    return HouseholdPolicy(tuple(fields))


def _visits(ctx: _Ctx, data: Mapping[str, Any]) -> VisitPolicy:
    path = "visits"
    if data.get(path) is None:
        return VisitPolicy()
    m = ctx.fields(data[path], path, ("household_signature", "photo_max_kb", "photo_types",
                                      "max_photos"))
    kinds: list[str] = []
    for where, item in ctx.items(m, "photo_types", path):
        word = str(item).strip().lower()
        word = {"jpg": "jpeg"}.get(word, word)
        if word not in PHOTO_TYPES:
            ctx.fail(where, f"不支持的照片格式“{item}”（可选：{'、'.join(PHOTO_TYPE_LABELS.values())}）")
        elif word not in kinds:
            kinds.append(word)
    return VisitPolicy(
        household_signature=ctx.flag(m, "household_signature", path, default=False),
        photo_max_kb=ctx.whole(m, "photo_max_kb", path, default=2048, minimum=50,
                               maximum=10240),
        photo_types=tuple(kinds) if kinds else VisitPolicy().photo_types,
        max_photos=ctx.whole(m, "max_photos", path, default=6, minimum=0, maximum=20),
    )


def _field_refs(fields: Sequence[HouseholdField]) -> dict[str, str]:
    """Field key or label (the fixed columns' too, with or without their unit) -> key."""
    refs: dict[str, str] = {}
    for f in (*BUILTIN_FIELDS, *fields):
        for word in (f.key, f.label, f.label.split("（")[0]):
            refs.setdefault(word, f.key)
    return refs


def _condition(ctx: _Ctx, node: object, where: str, refs: Mapping[str, str],
               fields: Mapping[str, HouseholdField]) -> FactCondition | None:
    tests = (*_VALUE_TESTS, *_FLAG_TESTS, *_NUMBER_TESTS, *_DATE_TESTS)
    allowed = ("field", "test", "values", "number", "date", *tests)
    m = ctx.fields(node, where, allowed, ("field",))
    ref = ctx.text(m, "field", where)
    # An unknown field stays as written: plan_check names it with the fields there are.
    key = refs.get(ref, ref)
    given = [k for k in ("test", *tests) if k in m]
    if len(given) != 1:
        ctx.fail(where, "须恰好写一种判断：is、is_not、has、lacks、blank、filled、below、"
                        f"at_least、before、not_before 之一（或 test），现在写了{len(given)}种")
        return None
    name = given[0]
    if name == "test":
        test = ctx.choice(m, "test", where, CONDITION_TEST_ALIASES, ConditionTest.IS)
        raw_values: object = m.get("values")
        raw_number: object = m.get("number")
        number_key, values_key, date_key = "number", "values", "date"
    else:
        test = ConditionTest(name)
        raw_values = m[name] if name in _VALUE_TESTS else None
        raw_number = m[name] if name in _NUMBER_TESTS else None
        number_key = values_key = date_key = name
        if name in _FLAG_TESTS and m[name] is not True:
            ctx.fail(_join(where, name), f"应写 {name}: true，实际是{_kind(m[name])}")
    values: list[str] = []
    if test.value in _VALUE_TESTS:
        items = raw_values if isinstance(raw_values, list | tuple) else [raw_values]
        yes_no = (f := fields.get(key)) is not None and f.type is FieldType.YES_NO
        for item in items:
            if isinstance(item, bool):
                values.append("是" if item else "否")  # YAML reads 是/否 written as yes/no so
            elif isinstance(item, int | str) and str(item).strip():
                word = str(item).strip()
                if yes_no and word.lower() in ("true", "false"):
                    word = "是" if word.lower() == "true" else "否"
                values.append(word)
            else:
                ctx.fail(_join(where, values_key), f"应为一个或几个取值，实际是{_kind(item)}")
    number: int | None = None
    if test.value in _NUMBER_TESTS:
        if isinstance(raw_number, bool) or not isinstance(raw_number, int):
            ctx.fail(_join(where, number_key), f"应为整数，实际是{_kind(raw_number)}")
        else:
            number = raw_number
    day: dt.date | None = None
    if test.value in _DATE_TESTS:
        raw_day = m.get(date_key)
        if raw_day is None and date_key == name:
            ctx.fail(_join(where, date_key), f"应写某日（如 2022-10-01）或{CHECK_DAY}")
        elif raw_day is not None and str(raw_day).strip() != CHECK_DAY:
            day = ctx.date(m, date_key, where)
    elif m.get("date") is not None:
        ctx.fail(_join(where, "date"), "只用于 before（早于）、not_before（不早于）")
    return FactCondition(key, test, tuple(values), number, day)


def _detection(ctx: _Ctx, data: Mapping[str, Any], refs: _Refs,
               household: HouseholdPolicy) -> DetectionPolicy:
    path = "detection"
    if data.get(path) is None:
        return DetectionPolicy()
    m = ctx.fields(data[path], path, ("monitoring_line_yuan", "rules", "source"))
    rules: list[DetectionRule] = []
    seen: set[str] = set()
    field_refs = _field_refs(household.fields)
    fields = {f.key: f for f in (*BUILTIN_FIELDS, *household.fields)}
    for rpath, node in ctx.items(m, "rules", path):
        rm = ctx.fields(node, rpath, ("code", "category", "enabled", "name", "when"),
                        ("code", "category"))
        code = ctx.text(rm, "code", rpath)
        own = bool(rm.get("when"))  # the stored form of a built-in rule has `when: []`
        if own and code in RULE_CODES:
            ctx.fail(_join(rpath, "when"),
                     f"{code} 是内置规则，不能再写条件；按条件发现问题的规则请另起代码")
        elif code and not own and code not in RULE_CODES:
            known = "、".join(f"{c}（{RULE_LABELS[c]}）" for c in RULE_CODES)
            ctx.fail(
                _join(rpath, "code"),
                f"未知的发现规则：{code}{_guess(code, RULE_CODES)}；可用：{known}；"
                "或用 name 和 when 写按条件发现问题的规则",
            )
        elif code in seen:
            ctx.fail(_join(rpath, "code"), f"重复：{code}")
        seen.add(code)
        when: list[FactCondition] = []
        for cpath, cnode in ctx.items(rm, "when", rpath):
            condition = _condition(ctx, cnode, cpath, field_refs, fields)
            if condition is not None:
                when.append(condition)
        ref = ctx.text(rm, "category", rpath)
        category = refs.categories.resolve(ref, _join(rpath, "category")) if ref else None
        enabled = ctx.flag(rm, "enabled", rpath, default=True)
        rules.append(DetectionRule(code, category or "", enabled, ctx.text(rm, "name", rpath),
                                   tuple(when)))
    source = ""
    source_ref = ctx.text(m, "source", path)
    if source_ref:
        source = refs.sources.resolve(source_ref, _join(path, "source")) or ""
    elif rules:
        ctx.fail(_join(path, "source"), "缺少（有发现规则时须指明问题来源，如 入户排查）")
    line = ctx.whole(m, "monitoring_line_yuan", path, default=6900, minimum=1)
    return DetectionPolicy(line, tuple(rules), source)


# ---------------------------------------------------------------------------------------------
# Entry point


def _county_office(ctx: _Ctx, data: Mapping[str, Any], offices: _Names) -> str:
    """The code the county_office reference stands for ("" when missing or unknown)."""
    ref = ctx.text(data, "county_office", "")
    if not ref:
        return ""
    return offices.resolve(ref, "county_office") or ""


def parse_plan(data: Mapping[str, Any]) -> Plan:
    """Validate plain plan data and build the Plan; raise PlanInvalid listing every mistake."""
    ctx = _Ctx()
    top = ctx.fields(data, "", (*_TOP_KEYS, "scope"), _TOP_REQUIRED)
    if "scope" in top:
        ctx.fail("scope", "scope 只能写在 YAML 方案文件里（由 load_plan_file 读取），请改用 towns")
    for key in _TOP_LISTS:
        if isinstance(top.get(key), list | tuple) and not top[key]:
            ctx.fail(key, "不能为空")
    refs = _Refs(
        towns=_Names(ctx, "乡镇"),
        offices=_Names(ctx, "办室"),
        categories=_Names(ctx, "类别"),
        sources=_Names(ctx, "来源"),
    )
    name = ctx.text(top, "name", "")
    issuer = ctx.text(top, "issuer", "")
    issuer_short = ctx.text(top, "issuer_short", "")
    document_number = ctx.text(top, "document_number", "")
    notice_prefix = ctx.text(top, "notice_prefix", "")
    issued_on = ctx.date(top, "issued_on", "")
    stages = _stages(ctx, top)
    towns = _towns(ctx, top, refs.towns)
    offices = _offices(ctx, top, refs.offices, refs.towns, towns)
    towns = _liaisons(ctx, towns, refs.offices)
    requirements = [ctx.text(node, "requirement", path) if isinstance(node, Mapping) else ""
                     for path, node in ctx.items(top, "categories", "")]
    categories = tuple(
        Category(*t, requirement=r) for t, r in zip(
            _labelled(ctx, top, "categories", refs.categories, True), requirements, strict=False)
    )
    sources = tuple(
        Source(c, n, a) for c, n, _, a in _labelled(ctx, top, "sources", refs.sources, False)
    )
    routing = _routing(ctx, top, refs)
    deadlines = _deadlines(ctx, top, refs, stages)
    review = _review(ctx, top, refs)
    reminders = _reminders(ctx, top)
    penalties = _penalties(ctx, top, refs)
    ranking = _ranking(ctx, top)
    reports = _reports(ctx, top, refs)
    notices = _notices(ctx, top)
    household = _household(ctx, top)
    visits = _visits(ctx, top)
    documents = _documents(ctx, top)
    detection = _detection(ctx, top, refs, household)
    duties = _duties(ctx, top, refs)
    county_office = _county_office(ctx, top, refs.offices)
    # Built even when mistakes were found (getters return harmless defaults), so the rules
    # spanning sections report theirs in the same pass.
    plan = Plan(
        name=name,
        issuer=issuer,
        document_number=document_number,
        notice_prefix=notice_prefix,
        county_office=county_office,
        stages=stages,
        towns=towns,
        offices=offices,
        categories=categories,
        sources=sources,
        routing=routing,
        deadlines=deadlines,
        review=review,
        reminders=reminders,
        penalties=penalties,
        ranking=ranking,
        reports=reports,
        detection=detection,
        issuer_short=issuer_short,
        issued_on=issued_on,
        duties=duties,
        notices=notices,
        household=household,
        visits=visits,
        documents=documents,
    )
    ctx.errors.extend(check_plan(plan))
    if ctx.errors:
        raise PlanInvalid(ctx.errors)
    return plan

