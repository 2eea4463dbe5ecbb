"""Validate intake rows against the campaign's reference data and build domain records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from duban.adapters.intake.errors import CellError, ImportRejected
from duban.adapters.intake.normalize import (
    CellProblem,
    clean_text,
    code_text,
    compact,
    display,
    fold,
    parse_bool,
    parse_date,
    parse_int,
    parse_money,
)
from duban.adapters.intake.reader import SheetData
from duban.adapters.intake.spec import KIND_LABELS, SPECS
from duban.domain.household import (
    HOUSE_GRADES,
    HOUSEHOLD_CATEGORY_LABELS,
    MONITORING_TYPE_LABELS,
    VISIT_MODE_LABELS,
    HouseholdCategory,
    HouseholdFacts,
    MonitoringType,
    ReportedProblem,
    VisitMode,
    VisitRecord,
)
from duban.domain.plan import Plan

T = TypeVar("T")
Progress = Callable[[int, int], None]

# Dates outside this window are typing mistakes when the caller gives no campaign range.
DEFAULT_DATE_RANGE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))
MAX_MEMBERS = 20
MAX_CHILDREN = 20
MAX_INCOME = 10_000_000
MAX_TEXT = 500
MAX_NAME = 30
MAX_CODE = 64
# Distinct raw values remembered per column; beyond it values are converted each time.
_CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class ReferenceData:
    """What the service knows: towns, villages, categories, sources, tiers, households, dates.

    Mapping keys are names or codes as users may write them; values are codes. Matching ignores
    spaces and full-width/half-width differences.
    """

    towns: Mapping[str, str]  # town name or code -> town code
    villages: Mapping[str, Mapping[str, str]]  # town code -> (village name or code -> code)
    categories: Mapping[str, str] = field(default_factory=dict)  # problem category -> code
    sources: Mapping[str, str] = field(default_factory=dict)  # problem source -> code
    tiers: Mapping[str, str] = field(default_factory=dict)  # deadline tier -> code
    known_households: AbstractSet[str] | None = None  # None: not checked
    household_places: Mapping[str, tuple[str, str]] | None = None  # id -> (town, village) codes
    date_range: tuple[dt.date, dt.date] | None = None  # allowed visit / finding dates

    @classmethod
    def from_plan(
        cls,
        plan: Plan,
        *,
        known_households: AbstractSet[str] | None = None,
        household_places: Mapping[str, tuple[str, str]] | None = None,
        date_range: tuple[dt.date, dt.date] | None = None,
    ) -> ReferenceData:
        """Reference data from a campaign plan (names and codes both accepted)."""
        towns: dict[str, str] = {}
        villages: dict[str, dict[str, str]] = {}
        for t in plan.towns:
            towns[t.name] = t.code
            towns[t.code] = t.code
            vmap = villages.setdefault(t.code, {})
            for v in t.villages:
                vmap[v.name] = v.code
                vmap[v.code] = v.code
        tiers = {x.name: x.code for x in plan.deadlines.tiers} | {
            x.code: x.code for x in plan.deadlines.tiers
        }
        return cls(
            towns=towns,
            villages=villages,
            categories={c.name: c.code for c in plan.categories}
            | {c.code: c.code for c in plan.categories},
            sources={s.name: s.code for s in plan.sources} | {s.code: s.code for s in plan.sources},
            tiers=tiers,
            known_households=known_households,
            household_places=household_places,
            date_range=date_range,
        )

    def with_households(self, ids: Iterable[str]) -> ReferenceData:
        """A copy that also knows these household ids (e.g. from the same import)."""
        known = set(self.known_households or ())
        known.update(ids)
        return replace(self, known_households=frozenset(known))


@dataclass
class ValidatedImport(Generic[T]):
    """Rows that passed validation, with the sheet row each came from."""

    kind: str
    rows: list[T]
    source_rows: list[int]  # 1-based sheet row of rows[i]
    warnings: list[str]
    source: Path
    sheet: str

    def __len__(self) -> int:
        return len(self.rows)


# ---------------------------------------------------------------- lookups


class _Lookup:
    """Name-or-code to code, forgiving spaces, full-width forms and a missing 村/乡/镇 suffix."""

    def __init__(self, mapping: Mapping[str, str], suffixes: tuple[str, ...] = ()) -> None:
        self.exact: dict[str, str] = {}
        for key, code in mapping.items():
            self.exact.setdefault(fold(key), code)
        self.suffixes = suffixes
        self.names: dict[str, str] = {}  # code -> a display name
        for key, code in mapping.items():
            if key != code or code not in self.names:
                self.names[code] = key

    def get(self, raw: object) -> str | None:
        key = fold(raw) if raw.__class__ is str else code_text(raw)
        code = self.exact.get(key)
        if code is not None or not key:
            return code
        for suffix in self.suffixes:
            alt = key[: -len(suffix)] if key.endswith(suffix) else key + suffix
            code = self.exact.get(alt)
            if code is not None:
                return code
        return None

    def choices(self, limit: int = 8) -> str:
        names = [n for c, n in self.names.items()][:limit]
        more = "等" if len(self.names) > limit else ""
        return "、".join(names) + more

    def name(self, code: str) -> str:
        return self.names.get(code, code)


_TOWN_SUFFIXES = ("乡", "镇", "街道", "街道办事处", "办事处")
_VILLAGE_SUFFIXES = ("村", "社区", "村委会", "居委会")

_CATEGORY_WORDS: dict[str, HouseholdCategory] = {
    **{fold(v): k for k, v in HOUSEHOLD_CATEGORY_LABELS.items()},
    **{k.value: k for k in HouseholdCategory},
    "脱贫户": HouseholdCategory.LIFTED,
    "建档立卡户": HouseholdCategory.LIFTED,
    "已脱贫户": HouseholdCategory.LIFTED,
    "建档立卡贫困户": HouseholdCategory.LIFTED,
    "脱贫人口": HouseholdCategory.LIFTED,
    "监测户": HouseholdCategory.MONITORED,
    "防返贫监测对象": HouseholdCategory.MONITORED,
    "监测帮扶对象": HouseholdCategory.MONITORED,
    "一般户": HouseholdCategory.ORDINARY,
    "非贫困户": HouseholdCategory.ORDINARY,
    "普通农户": HouseholdCategory.ORDINARY,
    "一般农户": HouseholdCategory.ORDINARY,
}
_MONITORING_WORDS: dict[str, MonitoringType] = {
    **{fold(v): k for k, v in MONITORING_TYPE_LABELS.items()},
    **{k.value: k for k in MonitoringType},
    "不稳定户": MonitoringType.UNSTABLE,
    "脱贫不稳定": MonitoringType.UNSTABLE,
    "边缘户": MonitoringType.MARGINAL,
    "边缘易致贫": MonitoringType.MARGINAL,
    "边缘易致贫人口": MonitoringType.MARGINAL,
    "突发困难户": MonitoringType.SUDDEN_HARDSHIP,
    "突发严重困难": MonitoringType.SUDDEN_HARDSHIP,
    "严重困难户": MonitoringType.SUDDEN_HARDSHIP,
}
_MODE_WORDS: dict[str, VisitMode] = {
    **{fold(v): k for k, v in VISIT_MODE_LABELS.items()},
    **{k.value: k for k in VisitMode},
    "入户": VisitMode.IN_PERSON,
    "入户走访": VisitMode.IN_PERSON,
    "实地走访": VisitMode.IN_PERSON,
    "面对面": VisitMode.IN_PERSON,
    "当面": VisitMode.IN_PERSON,
    "电话": VisitMode.PHONE,
    "电话走访": VisitMode.PHONE,
    "电话访问": VisitMode.PHONE,
    "电话回访": VisitMode.PHONE,
    "他人代答": VisitMode.PROXY,
    "亲属代答": VisitMode.PROXY,
}


def _enum(words: Mapping[str, Any], what: str, choices: str) -> Callable[[object], Any]:
    def convert(raw: object) -> Any:
        key = fold(raw)
        value = words.get(key)
        if value is None:
            value = words.get(key.lower())
        if value is None:
            raise CellProblem(f"不是有效的{what}（可选：{choices}）")
        return value

    return convert


def _grade(raw: object) -> str:
    s = fold(raw).upper()
    for suffix in ("级危房", "级", "类"):
        if s.endswith(suffix):
            s = s[: -len(suffix)]
    if s in HOUSE_GRADES:
        return s
    raise CellProblem("住房安全等级应为A、B、C、D之一")


def _ref(lookup: _Lookup, what: str) -> Callable[[object], str]:
    def convert(raw: object) -> str:
        code = lookup.get(raw)
        if code is None:
            if not lookup.exact:
                raise CellProblem(f"方案中没有设置{what}，不能填写")
            raise CellProblem(f"不是方案中的{what}（可选：{lookup.choices()}）")
        return code

    return convert


def _int_range(lo: int, hi: int, what: str) -> Callable[[object], int]:
    def convert(raw: object) -> int:
        n = parse_int(raw)
        if n < lo or n > hi:
            raise CellProblem(f"{what}应在{lo}～{hi}之间")
        return n

    return convert


def _money(raw: object) -> int:
    n = parse_money(raw)
    if n < 0:
        raise CellProblem("收入不能为负数")
    if n > MAX_INCOME:
        raise CellProblem("收入数额过大，请检查单位（应为元）")
    return n


def _code(raw: object) -> str:
    s = code_text(raw)
    if len(s) > MAX_CODE:
        raise CellProblem(f"编号过长（超过{MAX_CODE}个字符）")
    return s


def _name(raw: object) -> str:
    s = compact(raw)
    if len(s) > MAX_NAME:
        raise CellProblem(f"姓名过长（超过{MAX_NAME}个字）")
    return s


def _text(raw: object) -> str:
    s = clean_text(raw)
    if len(s) > MAX_TEXT:
        raise CellProblem(f"内容过长（超过{MAX_TEXT}个字）")
    return s


def _date_in(lo: dt.date, hi: dt.date) -> Callable[[object], dt.date]:
    def convert(raw: object) -> dt.date:
        d = parse_date(raw)
        if d < lo or d > hi:
            raise CellProblem(f"日期应在{lo.isoformat()}至{hi.isoformat()}之间")
        return d

    return convert


# ---------------------------------------------------------------- engine


@dataclass
class _Col:
    pos: int  # position in SPECS[kind]
    header: str
    col: int | None  # sheet column, when present
    convert: Callable[[object], Any]
    required: bool
    cache: dict[Any, tuple[bool, Any]] | None


class _Run:
    """One validation pass: converts cells, collects errors, reports progress."""

    def __init__(self, sheet: SheetData, progress: Progress | None) -> None:
        self.sheet = sheet
        self.errors: list[CellError] = []
        self.warnings: list[str] = list(sheet.warnings)
        self.progress = progress
        self.total = len(sheet.rows)
        self.step = max(1000, self.total // 100)
        self.specs = SPECS[sheet.kind]

    def col(self, key: str, convert: Callable[[object], Any], *, cache: bool = False) -> _Col:
        pos = next(i for i, s in enumerate(self.specs) if s.key == key)
        spec = self.specs[pos]
        return _Col(
            pos,
            spec.header,
            self.sheet.columns.get(spec.header),
            convert,
            spec.required,
            {} if cache else None,
        )

    def error(self, row: int, c: _Col, raw: object, reason: str) -> None:
        self.errors.append(CellError(row, c.header, display(raw), reason, c.col))

    def convert(self, c: _Col, raw: object, row: int) -> tuple[bool, Any]:
        """(ok, value); a blank cell gives (True, None) unless the column is required."""
        cache = c.cache
        if cache is not None:
            key = raw if raw.__class__ is str else (raw.__class__, raw)
            hit = cache.get(key)
            if hit is None:
                hit = self._convert(c, raw)
                if len(cache) < _CACHE_LIMIT:
                    cache[key] = hit
        else:
            hit = self._convert(c, raw)
        if not hit[0]:
            self.error(row, c, raw, hit[1])
        return hit

    @staticmethod
    def _convert(c: _Col, raw: object) -> tuple[bool, Any]:
        if raw is None or (raw.__class__ is str and not clean_text(raw)):
            return (False, "必填，不能为空") if c.required else (True, None)
        try:
            return True, c.convert(raw)
        except CellProblem as exc:
            return False, exc.reason

    def tick(self, done: int) -> None:
        if self.progress is not None and (done % self.step == 0 or done == self.total):
            self.progress(done, self.total)

    def finish(self, rows: list[T], numbers: list[int]) -> ValidatedImport[T]:
        kind = self.sheet.kind
        if self.progress is not None and self.total % self.step:
            self.progress(self.total, self.total)
        if self.errors:
            self.errors.sort(key=lambda e: (e.row, e.col if e.col is not None else -1))
            nrows = len({e.row for e in self.errors})
            raise ImportRejected(
                self.sheet.report(
                    f"{KIND_LABELS[kind]}导入失败：共{len(self.errors)}处错误，涉及{nrows}行"
                    f"（共{self.total}行数据）；请修改后重新导入，本次没有导入任何数据",
                    self.errors,
                )
            )
        return ValidatedImport(
            kind=kind,
            rows=rows,
            source_rows=numbers,
            warnings=self.warnings,
            source=self.sheet.source,
            sheet=self.sheet.sheet,
        )


def _check_kind(sheet: SheetData, kind: str) -> None:
    if sheet.kind != kind:
        raise ValueError(f"sheet was read as {sheet.kind!r}, not {kind!r}")


class _Places:
    """Town and village resolution with the village checked against its town."""

    def __init__(self, refs: ReferenceData) -> None:
        self.towns = _Lookup(refs.towns, _TOWN_SUFFIXES)
        self.villages = {
            town: _Lookup(vmap, _VILLAGE_SUFFIXES) for town, vmap in refs.villages.items()
        }
        self._cache: dict[tuple[str, Any], tuple[str | None, str]] = {}

    def village(self, town: str, raw: object) -> tuple[str | None, str]:
        """(village code, "") or (None, Chinese reason)."""
        key = (town, raw if raw.__class__ is str else (raw.__class__, raw))
        hit = self._cache.get(key)
        if hit is None:
            hit = self._resolve(town, raw)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = hit
        return hit

    def _resolve(self, town: str, raw: object) -> tuple[str | None, str]:
        own = self.villages.get(town)
        code = own.get(raw) if own is not None else None
        if code is not None:
            return code, ""
        elsewhere = [t for t, lk in self.villages.items() if t != town and lk.get(raw)]
        town_name = self.towns.name(town)
        if elsewhere:
            other = "、".join(self.towns.name(t) for t in elsewhere[:3])
            return None, f"村“{display(raw)}”不属于乡镇“{town_name}”（属于{other}）"
        hint = f"（{town_name}的村有：{own.choices()}）" if own is not None and own.exact else ""
        return None, f"乡镇“{town_name}”没有名为“{display(raw)}”的村{hint}"


def _dates(refs: ReferenceData) -> tuple[dt.date, dt.date]:
    return refs.date_range or DEFAULT_DATE_RANGE


# ---------------------------------------------------------------- households


def validate_households(
    sheet: SheetData, refs: ReferenceData, *, progress: Progress | None = None
) -> ValidatedImport[HouseholdFacts]:
    """Check every 农户信息 row; return HouseholdFacts, or raise ImportRejected listing all errors."""
    _check_kind(sheet, "households")
    run = _Run(sheet, progress)
    places = _Places(refs)
    town = run.col("town", _ref(places.towns, "乡镇"), cache=True)
    village = run.col("village", lambda raw: raw, cache=False)
    hid = run.col("household_id", _code)
    head = run.col("head", _name)
    members = run.col("members", _int_range(1, MAX_MEMBERS, "家庭人口"), cache=True)
    category = run.col(
        "category",
        _enum(_CATEGORY_WORDS, "农户类别", "、".join(HOUSEHOLD_CATEGORY_LABELS.values())),
        cache=True,
    )
    mtype = run.col(
        "monitoring_type",
        _enum(_MONITORING_WORDS, "监测对象类型", "、".join(MONITORING_TYPE_LABELS.values())),
        cache=True,
    )
    income = run.col("income", _money, cache=True)
    grade = run.col("house_grade", _grade, cache=True)
    water = run.col("tap_water", parse_bool, cache=True)
    school = run.col("school_age", _int_range(0, MAX_CHILDREN, "适龄儿童数"), cache=True)
    out = run.col("out_of_school", _int_range(0, MAX_CHILDREN, "失学辍学儿童数"), cache=True)
    insurance = run.col("insurance", parse_bool, cache=True)
    toilet = run.col("toilet", parse_bool, cache=True)
    convert = run.convert
    seen: dict[str, int] = {}
    rows: list[HouseholdFacts] = []
    numbers: list[int] = []
    for done, (rn, r) in enumerate(zip(sheet.row_numbers, sheet.rows, strict=True), 1):
        ok_t, town_code = convert(town, r[0], rn)
        ok_h, hid_v = convert(hid, r[2], rn)
        ok_n, head_v = convert(head, r[3], rn)
        ok_m, members_v = convert(members, r[4], rn)
        ok_c, cat_v = convert(category, r[5], rn)
        ok_y, mtype_v = convert(mtype, r[6], rn)
        ok_i, income_v = convert(income, r[7], rn)
        ok_g, grade_v = convert(grade, r[8], rn)
        ok_w, water_v = convert(water, r[9], rn)
        ok_s, school_v = convert(school, r[10], rn)
        ok_o, out_v = convert(out, r[11], rn)
        ok_a, ins_v = convert(insurance, r[12], rn)
        ok_l, toilet_v = convert(toilet, r[13], rn)
        ok = ok_t and ok_h and ok_n and ok_m and ok_c and ok_y and ok_i and ok_g and ok_w
        ok = ok and ok_s and ok_o and ok_a and ok_l
        # Cross-field checks.
        village_code: str | None = None
        vraw = r[1]
        if vraw is None or (vraw.__class__ is str and not clean_text(vraw)):
            run.error(rn, village, vraw, "必填，不能为空")
            ok = False
        elif ok_t:
            village_code, why = places.village(town_code, vraw)
            if village_code is None:
                run.error(rn, village, vraw, why)
                ok = False
        if ok_h:
            first = seen.setdefault(hid_v, rn)
            if first != rn:
                run.error(rn, hid, r[2], f"户编号重复（与第{first}行相同）")
                ok = False
        if ok_c and ok_y:
            if cat_v is HouseholdCategory.MONITORED and mtype_v is None:
                run.error(rn, mtype, r[6], "农户类别为监测对象时必须填写监测对象类型")
                ok = False
            elif cat_v is not HouseholdCategory.MONITORED and mtype_v is not None:
                run.error(
                    rn,
                    mtype,
                    r[6],
                    f"农户类别为{HOUSEHOLD_CATEGORY_LABELS[cat_v]}，不应填写监测对象类型"
                    "（如已纳入监测，请把农户类别改为监测对象）",
                )
                ok = False
        school_n = school_v or 0
        out_n = out_v or 0
        if ok_s and ok_o and out_n > school_n:
            run.error(rn, out, r[11], f"失学辍学儿童数（{out_n}）不能大于适龄儿童数（{school_n}）")
            ok = False
        if ok_s and ok_m and school_n > members_v:
            run.error(rn, school, r[10], f"适龄儿童数（{school_n}）不能大于家庭人口（{members_v}）")
            ok = False
        if ok and village_code is not None:
            rows.append(
                HouseholdFacts(
                    hid_v,
                    town_code,
                    village_code,
                    head_v,
                    members_v,
                    cat_v,
                    mtype_v,
                    income_v,
                    grade_v,
                    water_v,
                    school_n,
                    out_n,
                    ins_v,
                    toilet_v,
                )
            )
            numbers.append(rn)
        run.tick(done)
    return run.finish(rows, numbers)


# ---------------------------------------------------------------- visits


def validate_visits(
    sheet: SheetData, refs: ReferenceData, *, progress: Progress | None = None
) -> ValidatedImport[VisitRecord]:
    """Check every 走访记录 row; return VisitRecords, or raise ImportRejected listing all errors."""
    _check_kind(sheet, "visits")
    run = _Run(sheet, progress)
    lo, hi = _dates(refs)
    hid = run.col("household_id", _code)
    visitor = run.col("visitor", _name)
    visited = run.col("visited_on", _date_in(lo, hi), cache=True)
    mode = run.col(
        "mode", _enum(_MODE_WORDS, "走访方式", "、".join(VISIT_MODE_LABELS.values())), cache=True
    )
    answered = run.col("answered_by", _name)
    findings = run.col("findings", _text)
    known = refs.known_households
    convert = run.convert
    seen: dict[tuple[str, dt.date, str], int] = {}
    rows: list[VisitRecord] = []
    numbers: list[int] = []
    for done, (rn, r) in enumerate(zip(sheet.row_numbers, sheet.rows, strict=True), 1):
        ok_h, hid_v = convert(hid, r[0], rn)
        ok_v, visitor_v = convert(visitor, r[1], rn)
        ok_d, date_v = convert(visited, r[2], rn)
        ok_m, mode_v = convert(mode, r[3], rn)
        ok_a, answered_v = convert(answered, r[4], rn)
        ok_f, findings_v = convert(findings, r[5], rn)
        ok = ok_h and ok_v and ok_d and ok_m and ok_a and ok_f
        mode_v = mode_v or VisitMode.IN_PERSON
        if ok_h and known is not None and hid_v not in known:
            run.error(rn, hid, r[0], f"户编号“{hid_v}”不在农户信息中，请先导入该户的农户信息")
            ok = False
        if ok_m and ok_a:
            if mode_v is VisitMode.PROXY and not answered_v:
                run.error(rn, answered, r[4], "走访方式为代答时必须填写代答人")
                ok = False
            elif mode_v is not VisitMode.PROXY and answered_v:
                run.warnings.append(
                    f"第{rn}行：走访方式为{VISIT_MODE_LABELS[mode_v]}，已忽略代答人“{answered_v}”"
                )
                answered_v = ""
        if ok:
            key = (hid_v, date_v, visitor_v)
            first = seen.setdefault(key, rn)
            if first != rn:
                run.error(
                    rn, hid, r[0], f"与第{first}行是同一条走访记录（户编号、走访人、日期都相同）"
                )
                ok = False
        if ok:
            rows.append(
                VisitRecord(hid_v, visitor_v, date_v, mode_v, answered_v or "", findings_v or "")
            )
            numbers.append(rn)
        run.tick(done)
    return run.finish(rows, numbers)


# ---------------------------------------------------------------- problems


def validate_problems(
    sheet: SheetData, refs: ReferenceData, *, progress: Progress | None = None
) -> ValidatedImport[ReportedProblem]:
    """Check every 问题台账 row; return ReportedProblems, or raise ImportRejected with all errors."""
    _check_kind(sheet, "problems")
    run = _Run(sheet, progress)
    places = _Places(refs)
    lo, hi = _dates(refs)
    source = run.col("source", _ref(_Lookup(refs.sources), "问题来源"), cache=True)
    category = run.col("category", _ref(_Lookup(refs.categories), "问题类别"), cache=True)
    town = run.col("town", _ref(places.towns, "乡镇"), cache=True)
    village = run.col("village", lambda raw: raw)
    hid = run.col("household_id", _code)
    description = run.col("description", _text)
    found_by = run.col("found_by", _name)
    found_on = run.col("found_on", _date_in(lo, hi), cache=True)
    tier = run.col("tier", _ref(_Lookup(refs.tiers), "整改时限类型"), cache=True)
    deadline = run.col("deadline", _date_in(lo, DEFAULT_DATE_RANGE[1]), cache=True)
    known = refs.known_households
    where = refs.household_places
    convert = run.convert
    seen: dict[tuple[Any, ...], int] = {}
    rows: list[ReportedProblem] = []
    numbers: list[int] = []
    for done, (rn, r) in enumerate(zip(sheet.row_numbers, sheet.rows, strict=True), 1):
        ok_s, source_v = convert(source, r[0], rn)
        ok_c, cat_v = convert(category, r[1], rn)
        ok_t, town_v = convert(town, r[2], rn)
        ok_h, hid_v = convert(hid, r[4], rn)
        ok_d, desc_v = convert(description, r[5], rn)
        ok_b, by_v = convert(found_by, r[6], rn)
        ok_o, on_v = convert(found_on, r[7], rn)
        ok_r, tier_v = convert(tier, r[8], rn)
        ok_l, deadline_v = convert(deadline, r[9], rn)
        ok = ok_s and ok_c and ok_t and ok_h and ok_d and ok_b and ok_o and ok_r and ok_l
        village_v: str | None = None
        vraw = r[3]
        if ok_t and not (vraw is None or (vraw.__class__ is str and not clean_text(vraw))):
            village_v, why = places.village(town_v, vraw)
            if village_v is None:
                run.error(rn, village, vraw, why)
                ok = False
        if ok_h and hid_v:
            if known is not None and hid_v not in known:
                run.error(rn, hid, r[4], f"户编号“{hid_v}”不在农户信息中")
                ok = False
            elif where is not None and hid_v in where and ok_t:
                h_town, h_village = where[hid_v]
                if h_town != town_v or (village_v is not None and h_village != village_v):
                    run.error(
                        rn,
                        hid,
                        r[4],
                        f"户编号“{hid_v}”的农户不在所填乡镇、村（农户信息中属于"
                        f"{places.towns.name(h_town)}）",
                    )
                    ok = False
                elif village_v is None:
                    village_v = h_village
        if ok_o and ok_l and deadline_v is not None and deadline_v < on_v:
            run.error(
                rn,
                deadline,
                r[9],
                f"整改时限（{deadline_v.isoformat()}）早于排查日期（{on_v.isoformat()}）",
            )
            ok = False
        if ok:
            key = (source_v, cat_v, town_v, village_v, hid_v, desc_v)
            first = seen.setdefault(key, rn)
            if first != rn:
                run.error(
                    rn,
                    description,
                    r[5],
                    f"与第{first}行是同一个问题（来源、类别、地点和描述都相同）",
                )
                ok = False
        if ok:
            rows.append(
                ReportedProblem(
                    source=source_v,
                    category=cat_v,
                    town=town_v,
                    village=village_v,
                    household_id=hid_v or None,
                    description=desc_v,
                    found_by=by_v,
                    found_on=on_v,
                    tier=tier_v,
                    deadline=deadline_v,
                )
            )
            numbers.append(rn)
        run.tick(done)
    return run.finish(rows, numbers)
