"""Validate intake rows against the campaign's reference data and build domain records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from duban.adapters.batch import Progress, gc_paused
from duban.adapters.intake.errors import CellError, ImportRejected
from duban.adapters.intake.normalize import (
    _EDGE_CHARS,
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
from duban.adapters.intake.reader import SheetData, formula_cells
from duban.adapters.intake.spec import KIND_LABELS, int_bounds
from duban.adapters.intake.template import NOTES_SHEET
from duban.domain.facts import FactProblem, match_choice
from duban.domain.household import (
    HOUSE_GRADES,
    HOUSEHOLD_CATEGORY_LABELS,
    MONITORING_TYPE_LABELS,
    VISIT_MODE_LABELS,
    FactValue,
    HouseholdCategory,
    HouseholdFacts,
    MonitoringType,
    ReportedProblem,
    VisitMode,
    VisitRecord,
)
from duban.domain.names import PLACE_SUFFIXES, Named, NameIndex, did_you_mean
from duban.domain.plan import Category, FieldType, HouseholdField, Plan, Source

T = TypeVar("T")
# Asked for the household ids a file names, answers with those the register holds: each id's
# (town, village) codes, or None where the place is not known. Asking only for the ids in the
# file keeps a 30,000-row ledger from loading a 300,000-household register.
HouseholdLookup = Callable[[Collection[str]], Mapping[str, tuple[str, str] | None]]

# Dates outside this window are typing mistakes when the caller gives no campaign range.
DEFAULT_DATE_RANGE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))
MAX_MEMBERS = 20
MAX_CHILDREN = 20
MAX_INCOME = 10_000_000
MAX_TEXT = 500
MAX_NAME = 30
MAX_CODE = 64
REQUIRED = "必填，不能为空"
# A formula whose value was never computed (a file written by a program, not saved by Excel).
FORMULA = ("这一格是公式，文件里没有它的计算结果；请在 Excel 中打开并保存，或复制后“选择性粘贴→数值”，"
           "填入数值后再导入")


@dataclass(frozen=True)
class ReferenceData:
    """What the service knows: towns, villages, categories, sources, tiers, households, dates."""

    # Mapping keys are names or codes as users may write them; values are codes. Matching
    # ignores spaces and full-width/half-width differences.

    towns: Mapping[str, str]  # town name or code -> town code
    villages: Mapping[str, Mapping[str, str]]  # town code -> (village name or code -> code)
    categories: Mapping[str, str] = field(default_factory=dict)  # problem category -> code
    sources: Mapping[str, str] = field(default_factory=dict)  # problem source -> code
    tiers: Mapping[str, str] = field(default_factory=dict)  # deadline tier -> code
    households: HouseholdLookup | None = None  # None: household ids are not checked
    date_range: tuple[dt.date, dt.date] | None = None  # allowed visit / finding dates
    allowed_towns: frozenset[str] | None = None  # town codes the importer answers for; None: all

    @classmethod
    def from_plan(
        cls,
        plan: Plan,
        *,
        households: HouseholdLookup | None = None,
        date_range: tuple[dt.date, dt.date] | None = None,
        allowed_towns: Iterable[str] | None = None,
    ) -> ReferenceData:
        """Reference data from a campaign plan (names and codes both accepted)."""
        towns: dict[str, str] = {}
        villages: dict[str, dict[str, str]] = {}
        # Other words first, then the name, then the code: _Lookup reads the name from the order.
        for t in plan.towns:
            towns.update(dict.fromkeys(t.aliases, t.code))
            towns[t.name] = t.code
            towns[t.code] = t.code
            vmap = villages.setdefault(t.code, {})
            for v in t.villages:
                vmap.update(dict.fromkeys(v.aliases, v.code))
                vmap[v.name] = v.code
                vmap[v.code] = v.code
        tiers = {x.name: x.code for x in plan.deadlines.tiers} | {
            x.code: x.code for x in plan.deadlines.tiers
        }

        def words(items: Iterable[Category | Source]) -> dict[str, str]:
            out: dict[str, str] = {}
            for item in items:
                out.update(dict.fromkeys(item.aliases, item.code))
                out[item.name] = item.code
                out[item.code] = item.code
            return out

        return cls(
            towns=towns,
            villages=villages,
            categories=words(plan.categories),
            sources=words(plan.sources),
            tiers=tiers,
            households=households,
            date_range=date_range,
            allowed_towns=frozenset(allowed_towns) if allowed_towns is not None else None,
        )

    def with_households(self, ids: Iterable[str]) -> ReferenceData:
        """A copy that also knows these household ids (e.g. from the same import)."""
        extra = known_households(ids)
        base = self.households
        if base is None:
            return replace(self, households=extra)

        def lookup(wanted: Collection[str]) -> Mapping[str, tuple[str, str] | None]:
            return {**extra(wanted), **base(wanted)}

        return replace(self, households=lookup)


def known_households(
    places: Mapping[str, tuple[str, str] | None] | Iterable[str],
) -> HouseholdLookup:
    """A lookup over households held in memory: ids, or ids with their (town, village) codes."""
    known: dict[str, tuple[str, str] | None] = (
        dict(places) if isinstance(places, Mapping) else dict.fromkeys(places)
    )

    def lookup(wanted: Collection[str]) -> Mapping[str, tuple[str, str] | None]:
        return {i: known[i] for i in wanted if i in known}

    return lookup


class ColumnRows(Sequence[T]):
    """Validated rows kept column by column; a row's record is built only when asked for.

    A 300,000-row register checked column by column need not become 300,000 frozen records
    before the writer, which reads `columns` (in `make`'s argument order), stores it.
    """

    def __init__(self, make: Callable[..., T], columns: Sequence[Sequence[Any]]) -> None:
        self.make = make
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            return list(map(self.make, *(c[index] for c in self.columns)))
        return self.make(*(c[index] for c in self.columns))

    def __iter__(self) -> Iterator[T]:
        return map(self.make, *self.columns)

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same records (a list of them included)."""
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@dataclass
class ValidatedImport(Generic[T]):
    """Rows that passed validation, with the sheet row each came from."""

    kind: str
    rows: Sequence[T]
    source_rows: list[int]  # 1-based sheet row of rows[i]
    warnings: list[str]
    source: Path
    sheet: str

    def __len__(self) -> int:
        return len(self.rows)


# ---------------------------------------------------------------- lookups


class _Lookup:
    """Name, alias or code to code, forgiving spaces, full-width forms, variants and a missing
    or extra 村/乡/镇 ending (`duban.domain.names`); suggests the closest names when none fits."""

    def __init__(self, mapping: Mapping[str, str], suffixes: tuple[str, ...] = ()) -> None:
        # The mapping lists other words first, then each name, then each code (from_plan's
        # order): the last word that is not the code is the name people read.
        words: dict[str, list[str]] = {}
        for key, code in mapping.items():
            words.setdefault(code, [])
            if key != code:
                words[code].append(key)
        items = [Named(code, ws[-1] if ws else code, tuple(ws[:-1])) for code, ws in words.items()]
        self.index = NameIndex(items, suffixes)
        self.exact = bool(items)

    def get(self, raw: object) -> str | None:
        key = raw if raw.__class__ is str else code_text(raw)
        return self.index.find(key) if key else None

    def choices(self, limit: int = 8) -> str:
        names = self.index.names()
        more = "等" if len(names) > limit else ""
        return "、".join(names[:limit]) + more

    def unknown(self, raw: object, what: str) -> str:
        """Why a value names nothing: the closest choices, and where every choice is listed."""
        close = self.index.suggest(display(raw))
        if close:
            return (f"不是方案中的{what}，是否为{did_you_mean(close)}？"
                    f"全部可选值见导入模板的下拉列表和“{NOTES_SHEET}”页")
        return (f"不是方案中的{what}（可选：{self.choices()}；全部可选值见导入模板的下拉列表和"
                f"“{NOTES_SHEET}”页）")

    def name(self, code: str) -> str:
        return self.index.name(code)


_TOWN_SUFFIXES = PLACE_SUFFIXES["town"]
_VILLAGE_SUFFIXES = PLACE_SUFFIXES["village"]

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


class _Unknown(str):
    """The reason a value names no item of the plan; `kind` says which kind of item
    (category, source, town), so the web can offer to map the value."""

    kind: str


def _unknown(reason: str, kind: str) -> _Unknown:
    out = _Unknown(reason)
    out.kind = kind
    return out


def _ref(lookup: _Lookup, what: str, kind: str = "") -> Callable[[object], str]:
    def convert(raw: object) -> str:
        code = lookup.get(raw)
        if code is None:
            if not lookup.exact:
                raise CellProblem(f"方案中没有设置{what}，不能填写")
            raise CellProblem(_unknown(lookup.unknown(raw, what), kind))
        return code

    return convert


def _town(places: _Places, allowed: frozenset[str] | None) -> Callable[[object], str]:
    """The town column: a town of the plan, and one the importer answers for."""
    resolve = _ref(places.towns, "乡镇", "town")
    if allowed is None:
        return resolve
    mine = "、".join(places.towns.name(t) for t in sorted(allowed)) or "无"

    def convert(raw: object) -> str:
        code = resolve(raw)
        if code not in allowed:
            raise CellProblem(f"乡镇“{places.towns.name(code)}”不在本账号可导入的范围（可导入：{mine}）")
        return code

    return convert


def _int_range(lo: int, hi: int, what: str) -> Callable[[object], int]:
    def convert(raw: object) -> int:
        n = parse_int(raw)
        if n < lo or n > hi:
            raise CellProblem(f"{what}应在{lo}～{hi}之间")
        return n

    return convert


def _whole_money(values: tuple[Any, ...]) -> list[int] | None:
    """Whole yuan amounts in range, as numeric cells: ints without a call per cell."""
    if not set(map(type, values)) <= {int, float}:
        return None
    try:
        amounts = list(map(int, values))
    except (ValueError, OverflowError):  # NaN, infinity
        return None
    if tuple(amounts) != values or min(amounts) < 0 or max(amounts) > MAX_INCOME:
        return None  # a fraction to round, or a cell _money refuses
    return amounts


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


def _plain_codes(values: tuple[Any, ...]) -> bool:
    """Every cell is non-empty ASCII text without white space or "+", short enough: a code
    `code_text` would keep as it is (nothing to strip or fold, no 4.1E+17)."""
    try:
        joined = "\n".join(values)
    except TypeError:  # a number or a date among them
        return False
    return (
        joined.isascii()
        and all(values)
        and max(map(len, values)) <= MAX_CODE
        and joined.count("\n") == len(values) - 1
        and not any(c in joined for c in " \t\r+")
    )


def _codes_or_blank(values: tuple[Any, ...]) -> list[Any] | None:
    """Every cell empty (None, "": None) or a code `_plain_codes` accepts, else None."""
    codes = tuple(v for v in values if v is not None and v != "")
    if codes and not _plain_codes(codes):
        return None
    return [None if v == "" else v for v in values]


def _plain_texts(values: tuple[Any, ...]) -> bool:
    """Every cell is non-empty text with nothing to strip at its edges, short enough."""
    try:
        stripped = tuple(map(str.strip, values, repeat(_EDGE_CHARS)))
    except TypeError:  # a number or a date among them
        return False
    return stripped == values and all(values) and max(map(len, values)) <= MAX_TEXT


def _plain_names(values: tuple[Any, ...]) -> bool:
    """Every cell is a name without spaces or punctuation, short enough."""
    try:
        return all(map(str.isalnum, values)) and max(map(len, values)) <= MAX_NAME
    except TypeError:
        return False


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

# A converted cell that had an error (already recorded); rows holding one are not built.
_BAD: Any = type("_Bad", (), {"__repr__": lambda self: "<bad cell>"})()


@dataclass(slots=True)
class _Col:
    pos: int  # position in SPECS[kind]
    header: str
    col: int | None  # sheet column, when present
    convert: Callable[[object], Any]
    required: bool
    cached: bool
    # A whole-column test that every cell is already in final form (C-speed), or None.
    ready: Callable[[tuple[Any, ...]], bool] | None = None
    # A whole-column conversion at C speed, None when some cell needs `convert` (or None).
    whole: Callable[[tuple[Any, ...]], list[Any] | None] | None = None


class _Run:
    """One validation pass: converts whole columns, collects errors, reports progress."""

    # Work goes column by column: a low-cardinality column (town, yes/no, grade) is converted
    # with one C-level dict look-up per cell, and only values not seen before reach Python code.

    def __init__(self, sheet: SheetData, progress: Progress | None, steps: int) -> None:
        self.sheet = sheet
        self.numbers = sheet.row_numbers
        self.errors: list[CellError] = []
        self.warnings: list[str] = list(sheet.warnings)
        self.bad: set[int] = set()  # indexes of rows with an error
        self.progress = progress
        self.total = len(sheet.rows)
        self.specs = sheet.specs
        self.columns: list[tuple[Any, ...]] = (
            list(zip(*sheet.rows, strict=True)) if sheet.rows else [() for _ in self.specs]
        )
        # Progress counts rows: column steps are the first part, building rows the rest.
        self._column_share = self.total * steps // (steps + 1)
        self._steps = steps
        self._steps_done = 0
        self._last = -1
        self.step = max(1000, self.total // 100)
        self._formulas: frozenset[tuple[int, int]] | None = None

    def col(
        self,
        key: str,
        convert: Callable[[object], Any],
        *,
        cache: bool = False,
        ready: Callable[[tuple[Any, ...]], bool] | None = None,
        whole: Callable[[tuple[Any, ...]], list[Any] | None] | None = None,
    ) -> _Col:
        pos = next(i for i, s in enumerate(self.specs) if s.key == key)
        spec = self.specs[pos]
        return _Col(
            pos,
            spec.header,
            self.sheet.columns.get(spec.header),
            convert,
            spec.required,
            cache,
            ready,
            whole,
        )

    def raw(self, c: _Col) -> tuple[Any, ...]:
        """The cells of one column as read."""
        return self.columns[c.pos]

    def error(self, i: int, c: _Col, raw: object, reason: str) -> None:
        """Record an error in data row index `i`."""
        self.bad.add(i)
        if reason == REQUIRED and c.col is not None and self._is_formula(self.numbers[i], c.col):
            reason = FORMULA
        self.errors.append(CellError(self.numbers[i], c.header, display(raw), reason, c.col,
                                     getattr(reason, "kind", "")))

    def _is_formula(self, row: int, col: int) -> bool:
        """Whether an empty cell is a formula without a computed value (read lazily, once)."""
        if self._formulas is None:
            self._formulas = (formula_cells(self.sheet.source, self.sheet.sheet)
                              if self.sheet.file_format in ("xlsx", "xlsm") else frozenset())
        return (row, col) in self._formulas

    def convert(self, c: _Col) -> list[Any]:
        """Converted cells of a column; a blank optional cell gives None, a bad one _BAD."""
        values = self.columns[c.pos]
        out: list[Any] | None = None
        # `ready` answers False for a column holding a blank cell; `whole` may take a blank
        # for None, so a required column with one takes the cell by cell path, which names
        # the row. Each pass over a column of 300,000 cells costs ~10-50 ms (every cell is its
        # own object, read from memory), so the passes are few.
        if not values:
            pass
        elif c.ready is not None and c.ready(values):
            out = list(values)
        elif (c.whole is not None and not (c.required and (None in values or "" in values))
              and (out := c.whole(values)) is not None):
            pass
        elif c.cached:
            out = self._convert_distinct(c, values)
        if out is None:
            one = self._one
            out = [one(c, v, i) for i, v in enumerate(values)]
        self.step_done()
        return out

    def step_done(self) -> None:
        """One column-wide step finished (a conversion or a check)."""
        self._steps_done += 1
        self._report(self._column_share * self._steps_done // max(1, self._steps))

    def check(self, rule: Callable[..., tuple[_Col, str] | None], *cols: Sequence[Any]) -> None:
        """Apply `rule` to each distinct combination of the columns' values; record failures."""
        # Combinations holding a bad cell are skipped: that cell already has its error.
        failing: dict[tuple[Any, ...], tuple[_Col, str]] = {}
        for combo in set(zip(*cols, strict=True)):
            if any(v is _BAD for v in combo):
                continue
            verdict = rule(*combo)
            if verdict is not None:
                failing[combo] = verdict
        if failing:
            for i, combo in enumerate(zip(*cols, strict=True)):
                verdict = failing.get(combo)
                if verdict is not None:
                    c, reason = verdict
                    self.error(i, c, self.columns[c.pos][i], reason)
        self.step_done()

    def unique(self, c: _Col, keys: Sequence[Any], what: Callable[[int], str]) -> None:
        """Record an error on each row whose key repeats an earlier row's (bad keys skipped)."""
        if len(set(keys)) == len(keys):
            self.step_done()
            return
        seen: dict[Any, int] = {}
        for i, key in enumerate(keys):
            if key is _BAD or (isinstance(key, tuple) and any(k is _BAD for k in key)):
                continue
            first = seen.setdefault(key, i)
            if first != i:
                self.error(i, c, self.columns[c.pos][i], what(first))
        self.step_done()

    def _convert_distinct(self, c: _Col, values: tuple[Any, ...]) -> list[Any] | None:
        """Convert each distinct value once, on first sight, mapping the column through a dict
        in one pass at C speed; None when TRUE/FALSE cells are there (a call per cell)."""
        done = _Converted(c)
        out = list(map(done.__getitem__, values))
        # 1, 1.0 and True are one key: 1 and 1.0 convert alike, TRUE/FALSE may not. Any bool
        # makes 1 or 0 a key, so only then are the cells' types looked at.
        if (0 in done or 1 in done) and bool in set(map(type, values)):
            return None
        reasons = done.reasons
        if reasons:
            for i, raw in enumerate(values):
                reason = reasons.get(raw)
                if reason is not None:
                    self.error(i, c, raw, reason)
        return out

    @staticmethod
    def _try(c: _Col, raw: Any) -> tuple[bool, Any]:
        """(True, value) or (False, Chinese reason)."""
        if raw is None or (raw.__class__ is str and not raw.strip(_EDGE_CHARS)):
            return (False, REQUIRED) if c.required else (True, None)
        try:
            return True, c.convert(raw)
        except CellProblem as exc:
            return False, exc.reason

    def _one(self, c: _Col, raw: Any, i: int) -> Any:
        ok, value = self._try(c, raw)
        if ok:
            return value
        self.error(i, c, raw, value)
        return _BAD

    def tick(self, done: int) -> None:
        """Report progress while building rows (done = rows built)."""
        if self.progress is not None and done % self.step == 0:
            share = self.total - self._column_share
            self._report(self._column_share + done * share // max(1, self.total))

    def _report(self, done: int) -> None:
        if self.progress is not None and done > self._last and done < self.total:
            self._last = done
            self.progress(done, self.total)

    def finish(self, rows: Sequence[T], numbers: list[int]) -> ValidatedImport[T]:
        kind = self.sheet.kind
        if self.progress is not None:
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


class _Converted(dict[Any, Any]):
    """A column's converted values by raw value, each worked out on its first sight (a miss);
    a bad one is _BAD, its reason in `reasons`."""

    def __init__(self, c: _Col) -> None:
        super().__init__()
        self.c = c
        self.reasons: dict[Any, str] = {}

    def __missing__(self, raw: Any) -> Any:
        ok, value = _Run._try(self.c, raw)
        if not ok:
            self.reasons[raw] = value
            value = _BAD
        self[raw] = value
        return value


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

    def village_column(
        self, run: _Run, village: _Col, towns: Sequence[Any], *, required: bool
    ) -> list[str | None]:
        """Village codes of a column, checked against each row's town; errors recorded."""
        raws = run.columns[village.pos]
        reasons: dict[tuple[Any, Any], str] = {}
        resolve = self._resolve

        class Resolved(dict[tuple[Any, Any], str | None]):
            """Each distinct (town, village cell) resolved on its first sight, in one pass."""

            def __missing__(self, pair: tuple[Any, Any]) -> str | None:
                town, raw = pair
                if raw.__class__ is tuple:  # (type, cell): a number or TRUE/FALSE, below
                    raw = raw[1]
                code: str | None = None
                if _blank(raw):
                    if required:
                        reasons[pair] = REQUIRED
                elif town is not _BAD:
                    code, why = resolve(town, raw)
                    if code is None:
                        reasons[pair] = why
                self[pair] = code
                return code

        resolved = Resolved()
        keys: Sequence[Any] = raws
        out = list(map(resolved.__getitem__, zip(towns, keys, strict=True)))
        if any(raw.__class__ is not str and raw is not None for _, raw in resolved) and (
                bool in set(map(type, raws))):
            # 1, 1.0 and TRUE were one key: each number or TRUE/FALSE is keyed by its type.
            resolved, reasons = Resolved(), {}
            keys = [raw if raw.__class__ is str else (raw.__class__, raw) for raw in raws]
            out = list(map(resolved.__getitem__, zip(towns, keys, strict=True)))
        if reasons:
            for i, pair in enumerate(zip(towns, keys, strict=True)):
                reason = reasons.get(pair)
                if reason is not None:
                    run.error(i, village, raws[i], reason)
        run.step_done()
        return out

    def _resolve(self, town: str, raw: object) -> tuple[str | None, str]:
        own = self.villages.get(town)
        code = own.get(raw) if own is not None else None
        if code is not None:
            return code, ""
        elsewhere = [t for t, lk in self.villages.items() if t != town and lk.get(raw)]
        town_name = self.towns.name(town)
        if elsewhere:
            other = "、".join(self.towns.name(t) for t in elsewhere[:3])
            return None, f"村“{_cut(display(raw))}”不属于乡镇“{town_name}”（属于{other}）"
        hint = ""
        if own is not None and own.exact:
            close = own.index.suggest(display(raw))
            hint = (f"，是否为{did_you_mean(close)}？" if close
                    else f"（{town_name}的村有：{own.choices()}）")
        return None, _unknown(f"乡镇“{town_name}”没有名为“{_cut(display(raw))}”的村{hint}",
                              "village")


def _cut(text: str, limit: int = 30) -> str:
    """A value quoted in a message, cut so a pasted page does not fill the screen."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dates(refs: ReferenceData) -> tuple[dt.date, dt.date]:
    return refs.date_range or DEFAULT_DATE_RANGE


def _blank(raw: Any) -> bool:
    return raw is None or (raw.__class__ is str and not raw.strip(_EDGE_CHARS))


def _as_is(raw: object) -> object:
    return raw


# ---------------------------------------------------------------- households


@gc_paused()
def validate_households(
    sheet: SheetData, refs: ReferenceData, *, progress: Progress | None = None
) -> ValidatedImport[HouseholdFacts]:
    """Check every 农户信息 row; return HouseholdFacts, or raise ImportRejected listing all errors."""
    _check_kind(sheet, "households")
    plan_specs = [spec for spec in sheet.specs if spec.field is not None]
    run = _Run(sheet, progress, steps=17 + len(plan_specs))
    places = _Places(refs)
    town = run.col("town", _town(places, refs.allowed_towns), cache=True)
    village = run.col("village", _as_is)
    hid = run.col("household_id", _code, ready=_plain_codes)
    head = run.col("head", _name, ready=_plain_names)
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
    income = run.col("income", _money, cache=True, whole=_whole_money)
    grade = run.col("house_grade", _grade, cache=True)
    water = run.col("tap_water", parse_bool, cache=True)
    school = run.col("school_age", _int_range(0, MAX_CHILDREN, "适龄儿童数"), cache=True)
    out = run.col("out_of_school", _int_range(0, MAX_CHILDREN, "失学辍学儿童数"), cache=True)
    insurance = run.col("insurance", parse_bool, cache=True)
    toilet = run.col("toilet", parse_bool, cache=True)

    towns = run.convert(town)
    villages = places.village_column(run, village, towns, required=True)
    ids = run.convert(hid)
    numbers = sheet.row_numbers
    run.unique(hid, ids, lambda first: f"户编号重复（与第{numbers[first]}行相同）")
    heads = run.convert(head)
    members_v = run.convert(members)
    cats = run.convert(category)
    types = run.convert(mtype)
    monitored = HouseholdCategory.MONITORED

    def monitoring_rule(
        cat: HouseholdCategory, mt: MonitoringType | None
    ) -> tuple[_Col, str] | None:
        if cat is monitored and mt is None:
            return mtype, "农户类别为监测对象时必须填写监测对象类型"
        if cat is not monitored and mt is not None:
            return mtype, (
                f"农户类别为{HOUSEHOLD_CATEGORY_LABELS[cat]}，不应填写监测对象类型"
                "（如已纳入监测，请把农户类别改为监测对象）"
            )
        return None

    run.check(monitoring_rule, cats, types)
    incomes = run.convert(income)
    grades = run.convert(grade)
    waters = run.convert(water)
    schools = [v or 0 for v in run.convert(school)]  # blank counts as none
    outs = [v or 0 for v in run.convert(out)]

    def children_rule(sc: int, oo: int, m: int) -> tuple[_Col, str] | None:
        if oo > sc:
            return out, f"失学辍学儿童数（{oo}）不能大于适龄儿童数（{sc}）"
        if sc > m:
            return school, f"适龄儿童数（{sc}）不能大于家庭人口（{m}）"
        return None

    run.check(children_rule, schools, outs, members_v)
    insured = run.convert(insurance)
    toilets = run.convert(toilet)
    # The plan's own columns: each value checked against its field (an unknown choice names the
    # allowed values); a blank optional cell records nothing.
    # Without plan columns every row shares one empty mapping (never written to).
    plan_facts: list[dict[str, FactValue]] = (
        [{} for _ in ids] if plan_specs else [{}] * len(ids))
    for spec in plan_specs:
        assert spec.field is not None
        values = run.convert(run.col(spec.key, _plan_fact(spec.field), cache=True))
        for facts, value in zip(plan_facts, values, strict=True):
            if value is not None and value is not _BAD:
                facts[spec.field.key] = value
    if run.errors:
        return run.finish([], [])
    rows = ColumnRows(HouseholdFacts, (ids, towns, villages, heads, members_v, cats, types,
                                       incomes, grades, waters, schools, outs, insured, toilets,
                                       plan_facts))
    return run.finish(rows, list(numbers))


def _plan_fact(f: HouseholdField) -> Callable[[object], FactValue]:
    """The converter of a plan field's cells."""
    if f.type is FieldType.CHOICE:
        def choice(raw: object) -> FactValue:
            try:
                return match_choice(f, clean_text(raw))
            except FactProblem as exc:
                raise CellProblem(exc.reason) from None

        return choice
    if f.type is FieldType.YES_NO:
        return parse_bool
    if f.type is FieldType.INTEGER:
        lo, hi = int_bounds(f)
        return _int_range(lo, hi, f.label)
    if f.type is FieldType.DATE:
        day = _date_in(*DEFAULT_DATE_RANGE)
        return lambda raw: day(raw).isoformat()
    return _text


# ---------------------------------------------------------------- visits


@gc_paused()
def validate_visits(
    sheet: SheetData, refs: ReferenceData, *, progress: Progress | None = None
) -> ValidatedImport[VisitRecord]:
    """Check every 走访记录 row; return VisitRecords, or raise ImportRejected listing all errors."""
    _check_kind(sheet, "visits")
    run = _Run(sheet, progress, steps=9)
    lo, hi = _dates(refs)
    hid = run.col("household_id", _code, ready=_plain_codes)
    visitor = run.col("visitor", _name, ready=_plain_names)
    visited = run.col("visited_on", _date_in(lo, hi), cache=True)
    mode = run.col(
        "mode", _enum(_MODE_WORDS, "走访方式", "、".join(VISIT_MODE_LABELS.values())), cache=True
    )
    answered = run.col("answered_by", _name)
    findings = run.col("findings", _text)
    numbers = sheet.row_numbers
    ids = run.convert(hid)
    if refs.households is not None:
        ids_set = set(ids)
        ids_set.discard(_BAD)
        known = refs.households(ids_set)
        allowed = refs.allowed_towns
        elsewhere = allowed is not None and any(
            place is not None and place[0] not in allowed for place in known.values())
        if len(known) < len(ids_set) or elsewhere:
            towns = _Lookup(refs.towns)
            for i, key in enumerate(ids):
                if key is _BAD:
                    continue
                if key not in known:
                    run.error(i, hid, run.raw(hid)[i],
                              f"户编号“{key}”不在农户信息中，请先导入该户的农户信息")
                    continue
                place = known[key]
                if allowed is not None and place is not None and place[0] not in allowed:
                    run.error(i, hid, run.raw(hid)[i],
                              f"户编号“{key}”的农户属于{towns.name(place[0])}，"
                              "不在本账号可导入的范围")
    who = run.convert(visitor)
    days = run.convert(visited)
    how = [VisitMode.IN_PERSON if v is None else v for v in run.convert(mode)]  # 面访 by default
    answerers = [v or "" if v is not _BAD else v for v in run.convert(answered)]
    found = [v or "" if v is not _BAD else v for v in run.convert(findings)]
    proxy = VisitMode.PROXY

    def proxy_rule(mode_v: VisitMode, answerer: str) -> tuple[_Col, str] | None:
        if mode_v is proxy and not answerer:
            return answered, "走访方式为代答时必须填写代答人"
        return None

    run.check(proxy_rule, how, answerers)
    ignored: list[int] = []
    for i, (mode_v, answerer) in enumerate(zip(how, answerers, strict=True)):
        if answerer and answerer is not _BAD and mode_v is not proxy and mode_v is not _BAD:
            ignored.append(numbers[i])
            answerers[i] = ""
    if ignored:
        listed = "、".join(f"第{n}行" for n in ignored[:10])
        more = f"等{len(ignored)}行" if len(ignored) > 10 else ""
        run.warnings.append(f"{listed}{more}的走访方式不是代答，已忽略所填的代答人")
    run.unique(
        hid,
        list(zip(ids, days, who, strict=True)),
        lambda first: f"与第{numbers[first]}行是同一条走访记录（户编号、走访人、日期都相同）",
    )
    if run.errors:
        return run.finish([], [])
    rows = list(map(VisitRecord, ids, who, days, how, answerers, found))
    return run.finish(rows, list(numbers))


# ---------------------------------------------------------------- problems


@gc_paused()
def validate_problems(
    sheet: SheetData, refs: ReferenceData, *, progress: Progress | None = None
) -> ValidatedImport[ReportedProblem]:
    """Check every 问题台账 row; return ReportedProblems, or raise ImportRejected with all errors."""
    _check_kind(sheet, "problems")
    run = _Run(sheet, progress, steps=11)
    places = _Places(refs)
    lo, hi = _dates(refs)
    source = run.col("source", _ref(_Lookup(refs.sources), "问题来源", "source"), cache=True)
    category = run.col("category", _ref(_Lookup(refs.categories), "问题类别", "category"), cache=True)
    town = run.col("town", _town(places, refs.allowed_towns), cache=True)
    village = run.col("village", _as_is)
    hid = run.col("household_id", _code, whole=_codes_or_blank)
    description = run.col("description", _text, ready=_plain_texts)
    found_by = run.col("found_by", _name, ready=_plain_names)
    found_on = run.col("found_on", _date_in(lo, hi), cache=True)
    tier = run.col("tier", _ref(_Lookup(refs.tiers), "整改时限类型"), cache=True)
    deadline = run.col("deadline", _date_in(lo, DEFAULT_DATE_RANGE[1]), cache=True)
    columns = [
        run.convert(c)
        for c in (source, category, town, hid, description, found_by, found_on, tier, deadline)
    ]
    sources, categories, towns, ids, descriptions, finders, days, tiers, deadlines = columns
    numbers = sheet.row_numbers
    # Column by column, as the register (issue 17): the village of each distinct (town, cell)
    # resolved once; a blank one may come from the register below.
    villages = places.village_column(run, village, towns, required=False)
    named = {h for h in ids if h is not _BAD and h}
    where = refs.households(named) if refs.households is not None else None
    if where is not None:
        raw_ids = run.raw(hid)
        for i, (hid_v, t, village_v) in enumerate(zip(ids, towns, villages, strict=True)):
            if hid_v is _BAD or not hid_v:
                continue
            place = where.get(hid_v, _BAD)
            if place is _BAD:
                run.error(i, hid, raw_ids[i], f"户编号“{hid_v}”不在农户信息中")
            elif place is not None and t is not _BAD:
                h_town, h_village = place
                if h_town != t or (village_v is not None and h_village != village_v):
                    run.error(
                        i,
                        hid,
                        raw_ids[i],
                        f"户编号“{hid_v}”的农户不在所填乡镇、村（农户信息中属于"
                        f"{places.towns.name(h_town)}）",
                    )
                elif village_v is None:
                    villages[i] = h_village

    def deadline_rule(on: dt.date, due: dt.date | None) -> tuple[_Col, str] | None:
        if due is not None and due < on:
            return deadline, f"整改时限（{due.isoformat()}）早于排查日期（{on.isoformat()}）"
        return None

    run.check(deadline_rule, days, deadlines)
    # The same problem twice: rows with an error already are not compared.
    keys = list(zip(sources, categories, towns, villages, ids, descriptions, strict=True))
    bad = run.bad
    if bad or len(set(keys)) != len(keys):
        raw_descriptions = run.raw(description)
        seen: dict[tuple[Any, ...], int] = {}
        for i, key in enumerate(keys):
            if i in bad:
                continue
            first = seen.setdefault(key, i)
            if first != i:
                run.error(
                    i,
                    description,
                    raw_descriptions[i],
                    f"与第{numbers[first]}行是同一个问题（来源、类别、地点和描述都相同）",
                )
    if run.errors:
        return run.finish([], [])
    rows = ColumnRows(ReportedProblem, (sources, categories, towns, villages,
                                        [h or None for h in ids], descriptions, finders, days,
                                        tiers, deadlines))
    return run.finish(rows, list(numbers))
