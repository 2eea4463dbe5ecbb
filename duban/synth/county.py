"""The seeded generator of a synthetic county: places, households, visits and problems."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import random
from bisect import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Generic, Protocol, TypeVar

from duban.domain.errors import DubanError
from duban.domain.facts import BUILTIN_KEYS, allowed_values, holds, value_of
from duban.domain.household import (
    FactValue,
    HouseholdCategory,
    HouseholdFacts,
    MonitoringType,
    ReportedProblem,
    VisitMode,
    VisitRecord,
)
from duban.domain.plan import (
    DATE_TESTS,
    ConditionTest,
    DeadlineTier,
    DetectionRule,
    FactCondition,
    FieldType,
    HouseholdField,
    Plan,
    StageKind,
    Town,
    Village,
)
from duban.synth import names, slots, templates
from duban.synth.templates import (
    BUILTIN_CATEGORIES,
    BUILTIN_SOURCES,
    CATEGORY_TEMPLATES,
    CHANNEL_WEIGHTS,
    FACT_TEMPLATES,
    SCOPE_WEIGHTS,
    SOURCE_AFFINITY,
    Channel,
    FactRule,
    Needs,
    ProblemTemplate,
    Scope,
)

T = TypeVar("T")


class SynthError(DubanError, ValueError):
    """Bad arguments to the generator; the message is in Chinese for the user."""


@dataclass(frozen=True, slots=True)
class SizeSpec:
    """How big a named size is."""

    households: int
    towns: int
    villages: int


SIZES: dict[str, SizeSpec] = {
    "small": SizeSpec(households=60, towns=1, villages=3),
    "township": SizeSpec(households=500, towns=1, villages=12),
    "county": SizeSpec(households=300_000, towns=22, villages=400),
}

# Shares that shape the register; chosen so each detection rule fires on a few percent at most.
LIFTED_SHARE = 0.18
MONITORED_SHARE = 0.03
MONITORING_TYPE_SHARES: tuple[tuple[MonitoringType, float], ...] = (
    (MonitoringType.UNSTABLE, 0.35),
    (MonitoringType.MARGINAL, 0.45),
    (MonitoringType.SUDDEN_HARDSHIP, 0.20),
)
MEMBER_SHARES = (0.12, 0.22, 0.22, 0.20, 0.13, 0.07, 0.04)  # 1..7 members
UNDER_LINE_SHARE = 0.015  # of households not monitored: 应纳未纳
GRADE_SHARES = (("A", 0.66), ("B", 0.31), ("C", 0.022), ("D", 0.008))
NO_TAP_WATER_SHARE = 0.025
NO_INSURANCE_SHARE = 0.008
NO_TOILET_SHARE = 0.04
DROPOUT_SHARE = 0.012  # of households with school-age children
UNVISITED_SHARE = 0.03
PHONE_SHARE = 0.10
PROXY_SHARE = 0.05
FACT_RECORDED_SHARE = 0.4  # how often a visit records a fact-revealed problem
PROBLEMS_PER_HOUSEHOLD = 0.10
EXTERNAL_DEADLINE_SHARE = 0.2  # external items that come with "限期一个月"
OPEN_STAGE_DAYS = 14  # days of finds in an investigate stage that has no end
# Plan-defined household facts: an optional one is recorded for this share of households; each
# plan rule then fires on this share of the households its fixed-column conditions allow,
# at most RULE_HOUSEHOLDS_MAX of the register and at least one household.
OPTIONAL_FACT_SHARE = 0.3
RULE_SHARE = 0.4
RULE_HOUSEHOLDS_MAX = 0.03
TEXT_FACTS = ("已落实", "已登记在册", "已核实")

# Median yearly net income per person, and the spread of its logarithm, per category.
_INCOME = {
    HouseholdCategory.ORDINARY: (13_500.0, 0.40),
    HouseholdCategory.LIFTED: (11_000.0, 0.33),
    HouseholdCategory.MONITORED: (8_500.0, 0.30),
}

_PROVINCES = ("50", "41", "34", "51", "43", "52", "53", "62", "45", "36", "42", "61")


class _Coded(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...


NameCodes = Mapping[str, str] | Iterable[_Coded | str]
"""Plan codes for built-in names: {Chinese name: code}, plan Category/Source objects, or names."""


@dataclass(slots=True)
class SyntheticCounty:
    """A generated county: places in scope, the household register, visits and the ledger."""

    seed: int
    size: str
    start: dt.date
    end: dt.date
    monitoring_line: int
    towns: tuple[Town, ...]
    households: list[HouseholdFacts]
    visits: list[VisitRecord]
    problems: list[ReportedProblem]
    category_names: dict[str, str]  # code -> Chinese name
    source_names: dict[str, str]  # code -> Chinese name
    tier_names: dict[str, str] = field(default_factory=dict)  # code -> Chinese name
    fields: tuple[HouseholdField, ...] = ()  # the plan's own household facts, filled in
    town_names: dict[str, str] = field(default_factory=dict)  # code -> name
    village_names: dict[str, str] = field(default_factory=dict)  # code -> name

    def __post_init__(self) -> None:
        if not self.town_names:
            self.town_names = {t.code: t.name for t in self.towns}
        if not self.village_names:
            self.village_names = {v.code: v.name for t in self.towns for v in t.villages}


# ---------------------------------------------------------------------------------------------
# Name → code matching


def _match_builtin(name: str, candidates: Sequence[tuple[str, tuple[str, ...]]]) -> str | None:
    """The built-in name a caller's name stands for: exact name or alias, else longest contained."""
    name = name.strip()
    for builtin, aliases in candidates:
        if name == builtin or name in aliases:
            return builtin
    best: str | None = None
    best_len = 0
    for builtin, aliases in candidates:
        for term in (builtin, *aliases):
            if len(term) > best_len and term in name:
                best, best_len = builtin, len(term)
    return best


def _resolve(
    spec: NameCodes | None,
    candidates: Sequence[tuple[str, tuple[str, ...]]],
    defaults: Mapping[str, str],
) -> dict[str, tuple[str, str]]:
    """Built-in name -> (caller's code, caller's name)."""
    if spec is None:
        return {name: (code, name) for name, code in defaults.items()}
    if isinstance(spec, Mapping):
        pairs = [(str(k), str(v)) for k, v in spec.items()]
    else:
        pairs = [(x, x) if isinstance(x, str) else (x.name, x.code) for x in spec]
    out: dict[str, tuple[str, str]] = {}
    for name, code in pairs:
        builtin = _match_builtin(name, candidates)
        if builtin is not None and builtin not in out:
            out[builtin] = (code, name)
    return out


def resolve_category_codes(categories: NameCodes | None) -> dict[str, tuple[str, str]]:
    """Map built-in category names to (the caller's code, the caller's name); others left out.

    None gives the built-in default codes. Names match exactly, by alias (金融 → 小额信贷), or by
    the longest built-in name or alias the caller's name contains (住房安全保障 → 住房安全).
    """
    return _resolve(
        categories,
        [(b.name, b.aliases) for b in BUILTIN_CATEGORIES],
        {b.name: b.code for b in BUILTIN_CATEGORIES},
    )


def resolve_source_codes(sources: NameCodes | None) -> dict[str, tuple[str, str]]:
    """Map built-in source names (入户排查, 巡视 …) to (code, name), as for categories."""
    return _resolve(
        sources,
        [(b.name, b.aliases) for b in BUILTIN_SOURCES],
        {b.name: b.code for b in BUILTIN_SOURCES},
    )


# ---------------------------------------------------------------------------------------------
# Small helpers


def _apportion(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split `total` by weights (largest remainder), each part at least `minimum` if it fits."""
    n = len(weights)
    if n == 0:
        return []
    base = minimum if minimum * n <= total else 0
    rest = total - base * n
    wsum = sum(weights)
    quotas = [rest * w / wsum for w in weights]
    parts = [math.floor(q) for q in quotas]
    left = rest - sum(parts)
    order = sorted(range(n), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [p + base for p in parts]


class _Picker(Generic[T]):
    """Weighted choice over fixed items with one random() call."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1] if self.cum else 0.0

    def __call__(self, rng: random.Random) -> T:
        i = bisect(self.cum, rng.random() * self.total)
        return self.items[min(i, len(self.items) - 1)]


def _date_picker(start: dt.date, end: dt.date) -> tuple[list[dt.date], list[float]]:
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    # Campaign cadres work weekends too, but less.
    weights = [(1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.4)[d.weekday()] for d in days]
    return days, list(accumulate(weights))


# ---------------------------------------------------------------------------------------------
# Places


def _county_code(rng: random.Random) -> str:
    return f"{rng.choice(_PROVINCES)}{rng.randint(1, 15):02d}{rng.randint(21, 35):02d}"


def _make_places(spec: SizeSpec, rng: random.Random, county: str) -> tuple[Town, ...]:
    taken: set[str] = set()
    if spec.towns == 1:
        kinds = ["镇"]
    else:
        streets = rng.randint(2, 4)
        xiang = round((spec.towns - streets) * rng.uniform(0.25, 0.35))
        kinds = ["街道"] * streets + ["镇"] * (spec.towns - streets - xiang) + ["乡"] * xiang
    n_villages = spec.villages
    if spec.towns > 1:
        n_villages = round(spec.villages * rng.uniform(0.96, 1.04))
    weights = [rng.lognormvariate(0.0, 0.35) for _ in kinds]
    counts = _apportion(n_villages, weights, minimum=min(5, n_villages // len(kinds)))
    towns: list[Town] = []
    seq = {"街道": 0, "镇": 100, "乡": 200}
    for kind, count in zip(kinds, counts, strict=True):
        seq[kind] += 1
        town_code = f"{county}{seq[kind]:03d}"
        town_name = names.unique_place(rng, kind, taken)
        community_share = {"街道": 0.7, "镇": 0.08, "乡": 0.02}[kind]
        n_comm = sum(1 for _ in range(count) if rng.random() < community_share)
        if kind == "街道":
            n_comm = max(n_comm, 1)
        villages: list[Village] = []
        for j in range(count):
            if j < n_comm:
                code, vname = f"{town_code}{j + 1:03d}", names.unique_place(rng, "社区", taken)
            else:
                code = f"{town_code}{200 + j - n_comm + 1:03d}"
                vname = names.unique_place(rng, "村", taken, surname_share=0.25)
            villages.append(Village(code=code, name=vname))
        towns.append(Town(code=town_code, name=town_name, villages=tuple(villages)))
    return tuple(towns)


# ---------------------------------------------------------------------------------------------
# The generator


class _Generator:
    def __init__(
        self,
        seed: int,
        start: dt.date,
        end: dt.date,
        line: int,
        categories: dict[str, str],
        sources: dict[str, str],
        tiers: Sequence[DeadlineTier],
    ) -> None:
        self.seed = seed
        self.start, self.end, self.line = start, end, line
        self.categories, self.sources, self.tiers = categories, sources, tiers
        self.days, self.day_cum = _date_picker(start, end)
        self.households: list[HouseholdFacts] = []
        self.village_of: list[int] = []  # household index -> village index
        self.villages: list[tuple[Town, Village]] = []
        self.cadres: list[list[str]] = []  # per village
        self.town_staff: dict[str, list[str]] = {}
        self.county_staff: list[str] = []
        self.by_scope: dict[str, dict[Scope, list[ProblemTemplate]]] = {}
        for cat_name, temps in CATEGORY_TEMPLATES.items():
            groups: dict[Scope, list[ProblemTemplate]] = {s: [] for s in Scope}
            for t in temps:
                groups[t.scope].append(t)
            self.by_scope[cat_name] = groups
        n = len(tiers)
        # Earlier tiers (立查立改) are the commonest.
        self.tier_pick = _Picker([t.code for t in tiers], [n - k for k in range(n)]) if n else None

    def rng(self, stage: str) -> random.Random:
        # One stream per stage, so changing e.g. the category mapping leaves households unchanged.
        return random.Random(f"duban-synth/{self.seed}/{stage}")

    def day(self, rng: random.Random) -> dt.date:
        return self.days[bisect(self.day_cum, rng.random() * self.day_cum[-1])]

    # -- households ---------------------------------------------------------------------------

    def make_households(self, towns: Sequence[Town], total: int, id_prefix: str) -> None:
        rng = self.rng("households")
        self.villages = [(t, v) for t in towns for v in t.villages]
        if not self.villages:
            raise SynthError("范围内没有村（社区），无法生成农户")
        weights = [rng.lognormvariate(0.0, 0.4) for _ in self.villages]
        counts = _apportion(total, weights)
        width = max(4, len(str(max(counts, default=0))))
        rand = rng.random
        lognorm = rng.lognormvariate
        line = self.line
        member_cum = list(accumulate(MEMBER_SHARES))
        grade_cum = list(accumulate(s for _, s in GRADE_SHARES))
        grades = [g for g, _ in GRADE_SHARES]
        mtypes = _Picker(
            [m for m, _ in MONITORING_TYPE_SHARES], [s for _, s in MONITORING_TYPE_SHARES]
        )
        income_params = {k: (math.log(m), s) for k, (m, s) in _INCOME.items()}
        floor = line * 1.03
        out = self.households
        village_of = self.village_of
        for vi, ((town, village), count) in enumerate(zip(self.villages, counts, strict=True)):
            self.cadres.append([names.cadre_name(rng) for _ in range(rng.randint(3, 6))])
            prefix = f"{id_prefix}-{vi + 1:04d}-"
            for j in range(count):
                r = rand()
                if r < MONITORED_SHARE:
                    cat = HouseholdCategory.MONITORED
                    mtype: MonitoringType | None = mtypes(rng)
                elif r < MONITORED_SHARE + LIFTED_SHARE:
                    cat, mtype = HouseholdCategory.LIFTED, None
                else:
                    cat, mtype = HouseholdCategory.ORDINARY, None
                members = min(bisect(member_cum, rand()), 6) + 1
                mu, sigma = income_params[cat]
                if cat is HouseholdCategory.MONITORED:
                    income = max(3_000, int(lognorm(mu, sigma)))
                elif rand() < UNDER_LINE_SHARE:
                    income = int(line * (0.6 + 0.37 * rand()))
                else:
                    income = int(lognorm(mu, sigma))
                    while income < floor:
                        income = int(lognorm(mu, sigma))
                grade = grades[min(bisect(grade_cum, rand()), 3)]
                if members >= 3:
                    rc = rand()
                    kids = 0 if rc < 0.45 else 1 if rc < 0.80 else 2 if rc < 0.95 else 3
                    kids = min(kids, members - 2)
                elif members == 2:
                    kids = 1 if rand() < 0.15 else 0
                else:
                    kids = 0
                dropouts = 1 if kids and rand() < DROPOUT_SHARE else 0
                out.append(
                    HouseholdFacts(
                        household_id=f"{prefix}{j + 1:0{width}d}",
                        town=town.code,
                        village=village.code,
                        head=names.person_name(rng),
                        members=members,
                        category=cat,
                        monitoring_type=mtype,
                        income_per_person=income,
                        house_grade=grade,
                        tap_water=rand() >= NO_TAP_WATER_SHARE,
                        school_age_children=kids,
                        children_out_of_school=dropouts,
                        medical_insurance=rand() >= NO_INSURANCE_SHARE,
                        sanitary_toilet=rand() >= NO_TOILET_SHARE,
                    )
                )
                village_of.append(vi)
        for town in towns:
            self.town_staff[town.code] = [names.cadre_name(rng) for _ in range(rng.randint(4, 8))]
        self.county_staff = [
            names.cadre_name(rng) for _ in range(max(6, min(60, len(self.villages) // 6)))
        ]

    # -- plan-defined facts -------------------------------------------------------------------

    def fill_plan_facts(self, fields: Sequence[HouseholdField],
                        rules: Sequence[DetectionRule]) -> None:
        """Record the plan's own facts; each of its rules fires on a few households only."""
        if not fields:
            return
        rng = self.rng("plan-facts")
        facts: list[dict[str, FactValue]] = []
        for _ in self.households:
            one: dict[str, FactValue] = {}
            for f in fields:
                if f.required or rng.random() < OPTIONAL_FACT_SHARE:
                    one[f.key] = _some_value(f, rng, self.start)
            facts.append(one)
        by_key = {f.key: f for f in fields}
        hh = self.households
        # A register is mostly clean: where a rule fires by chance, one of its plan facts is
        # turned the other way; then each rule is made to fire on a few chosen households.
        for rule in rules:
            for i, h in enumerate(hh):
                if _fires(rule, h, facts[i], self.start, self.end):
                    _negate(rule, facts[i], by_key, rng, self.start, self.end)
        for rule in rules:
            pool = [i for i, h in enumerate(hh)
                    if all(_holds_every_day(c, value_of(h, c.field), self.start, self.end)
                           for c in rule.when if c.field in BUILTIN_KEYS)]
            if not pool:
                continue
            n = max(1, min(round(len(pool) * RULE_SHARE), round(len(hh) * RULE_HOUSEHOLDS_MAX)))
            for i in rng.sample(pool, min(n, len(pool))):
                for c in rule.when:
                    if c.field in by_key:
                        _make_hold(c, by_key[c.field], facts[i], rng, self.start, self.end)
        self.households = [dataclasses.replace(h, plan_facts=one)
                           for h, one in zip(hh, facts, strict=True)]

    # -- visits -------------------------------------------------------------------------------

    def plan_visits(self) -> list[tuple[str, dt.date, VisitMode, str] | None]:
        rng = self.rng("visits")
        rand = rng.random
        plans: list[tuple[str, dt.date, VisitMode, str] | None] = []
        days, cum = self.days, self.day_cum
        total = cum[-1]
        for i, h in enumerate(self.households):
            if rand() < UNVISITED_SHARE:
                plans.append(None)
                continue
            cadres = self.cadres[self.village_of[i]]
            visitor = cadres[int(rand() * len(cadres))]
            day = days[bisect(cum, rand() * total)]
            r = rand()
            if r < PROXY_SHARE:
                if rand() < 0.7:
                    relation = names.PROXY_RELATIONS[int(rand() * len(names.PROXY_RELATIONS))]
                    proxy = names.person_name(rng, h.head[0], female=relation in ("女儿", "儿媳"))
                else:
                    # A village cadre answers; never the visitor themselves.
                    others = [c for c in cadres if c != visitor] or cadres
                    proxy = others[int(rand() * len(others))]
                plans.append((visitor, day, VisitMode.PROXY, proxy))
            elif r < PROXY_SHARE + PHONE_SHARE:
                plans.append((visitor, day, VisitMode.PHONE, ""))
            else:
                plans.append((visitor, day, VisitMode.IN_PERSON, ""))
        return plans

    def build_visits(
        self,
        plans: list[tuple[str, dt.date, VisitMode, str] | None],
        found: dict[int, list[str]],
    ) -> list[VisitRecord]:
        rng = self.rng("findings")
        rand = rng.random
        plain = templates.PLAIN_FINDINGS
        phone = [t.format(place=p) for t in templates.PHONE_FINDINGS for p in names.WORK_PLACES]
        visits: list[VisitRecord] = []
        for i, plan in enumerate(plans):
            if plan is None:
                continue
            visitor, day, mode, proxy = plan
            issues = found.get(i)
            if issues:
                findings = "发现问题：" + "；".join(issues)
            elif mode is VisitMode.PHONE:
                findings = phone[int(rand() * len(phone))]
            elif mode is VisitMode.PROXY:
                t = templates.PROXY_FINDINGS[int(rand() * len(templates.PROXY_FINDINGS))]
                findings = t.format(proxy=proxy)
            else:
                findings = plain[int(rand() * len(plain))]
            visits.append(
                VisitRecord(
                    household_id=self.households[i].household_id,
                    visitor=visitor,
                    visited_on=day,
                    mode=mode,
                    answered_by=proxy,
                    findings=findings,
                )
            )
        return visits

    # -- problems -----------------------------------------------------------------------------

    def _ctx(
        self,
        rng: random.Random,
        vi: int,
        found_on: dt.date,
        *,
        town_only: bool = False,
        household: HouseholdFacts | None = None,
    ) -> slots.SlotContext:
        town, village = self.villages[vi]
        return slots.SlotContext(
            rng=rng,
            town=town.name,
            village="" if town_only else village.name,
            found_on=found_on,
            monitoring_line=self.line,
            cadres=self.cadres[vi],
            household=household,
        )

    def _tier(self, rng: random.Random) -> str | None:
        return None if self.tier_pick is None else self.tier_pick(rng)

    def make_problems(
        self, plans: list[tuple[str, dt.date, VisitMode, str] | None]
    ) -> tuple[list[ReportedProblem], dict[int, list[str]]]:
        rng = self.rng("problems")
        rand = rng.random
        hh = self.households
        problems: list[ReportedProblem] = []
        found: dict[int, list[str]] = {}
        seen: set[tuple[str | None, str, str]] = set()
        by_channel: dict[Channel, list[tuple[str, str, int]]] = {c: [] for c in Channel}
        for b in BUILTIN_SOURCES:
            if b.name in self.sources:
                by_channel[b.channel].append((b.name, self.sources[b.name], b.weight))
        visit_source = by_channel[Channel.VISIT][0][1] if by_channel[Channel.VISIT] else None
        tier_rng = self.rng("tiers")

        def add(p: ReportedProblem, hi: int | None) -> bool:
            key = (p.household_id, p.village or "", p.description)
            if key in seen:
                return False
            seen.add(key)
            problems.append(p)
            if hi is not None:
                found.setdefault(hi, []).append(p.description)
            return True

        # 1. Visits record part of what the household facts reveal.
        if visit_source is not None:
            for i, h in enumerate(hh):
                plan = plans[i]
                if plan is None:
                    continue
                for rule in _fact_rules(h, self.line):
                    cat_name, _, texts = FACT_TEMPLATES[rule]
                    code = self.categories.get(cat_name)
                    if code is None or rand() >= FACT_RECORDED_SHARE:
                        continue
                    ctx = self._ctx(rng, self.village_of[i], plan[1], household=h)
                    text = slots.fill(texts[int(rand() * len(texts))], ctx)
                    add(
                        self._problem(
                            visit_source,
                            code,
                            h.town,
                            h.village,
                            h.household_id,
                            text,
                            plan[0],
                            plan[1],
                            tier_rng,
                            Channel.VISIT,
                        ),
                        i,
                    )

        # 2. Generic problems from all channels, filled from household and place facts.
        cats = [b for b in BUILTIN_CATEGORIES if b.name in self.categories]
        channels = [c for c in Channel if by_channel[c]]
        if not cats or not channels:
            problems.sort(key=lambda p: p.found_on)
            return problems, found
        target = round(PROBLEMS_PER_HOUSEHOLD * len(hh))
        generic = max(0, target - len(problems))
        forced = [b.name for b in cats] if target >= len(cats) else []
        rng.shuffle(forced)
        generic = max(generic, len(forced))
        channel_pick = _Picker(channels, [CHANNEL_WEIGHTS[c] for c in channels])
        source_pick = {
            c: _Picker(
                [(n, code) for n, code, _ in by_channel[c]], [w for _, _, w in by_channel[c]]
            )
            for c in channels
        }
        cat_pick: dict[str, _Picker[str]] = {}
        for c in channels:
            for sname, _, _ in by_channel[c]:
                aff = SOURCE_AFFINITY.get(sname, {})
                cat_pick[sname] = _Picker(
                    [b.name for b in cats], [b.weight * aff.get(b.name, 1) for b in cats]
                )
        pools = _household_pools(hh)
        made = attempts = 0
        while made < generic and attempts < generic * 5:
            attempts += 1
            channel = channel_pick(rng)
            sname, scode = source_pick[channel](rng)
            cat_name = forced[made] if made < len(forced) else cat_pick[sname](rng)
            p, hi = self._generic(rng, channel, scode, cat_name, pools, plans, tier_rng)
            if p is not None and add(p, hi):
                made += 1
        problems.sort(key=lambda p: p.found_on)
        return problems, found

    def _generic(
        self,
        rng: random.Random,
        channel: Channel,
        source: str,
        cat_name: str,
        pools: dict[Needs, list[int]],
        plans: list[tuple[str, dt.date, VisitMode, str] | None],
        tier_rng: random.Random,
    ) -> tuple[ReportedProblem | None, int | None]:
        code = self.categories[cat_name]
        by_scope = self.by_scope[cat_name]
        scopes = [s for s in Scope if by_scope[s]]
        sw = dict(zip(Scope, SCOPE_WEIGHTS[channel], strict=True))
        weights = [sw[s] for s in scopes]
        if sum(weights) == 0:
            weights = [1.0] * len(scopes)
        scope = _Picker(scopes, weights)(rng)
        options = by_scope[scope]
        template = options[int(rng.random() * len(options))]
        hh = self.households
        if scope is Scope.HOUSEHOLD:
            pool = pools[template.needs]
            if not pool:
                return None, None
            hi = pool[int(rng.random() * len(pool))]
            plan = plans[hi]
            if channel is Channel.VISIT:
                if plan is None:
                    return None, None
                finder, day = plan[0], plan[1]
            else:
                finder, day = self._finder(rng, channel, hh[hi].town), self.day(rng)
            h = hh[hi]
            ctx = self._ctx(rng, self.village_of[hi], day, household=h)
            text = slots.fill(template.text, ctx)
            return self._problem(
                source,
                code,
                h.town,
                h.village,
                h.household_id,
                text,
                finder,
                day,
                tier_rng,
                channel,
            ), (hi if channel is Channel.VISIT else None)
        # Village- and town-scope problems land where households are (bigger places, more items).
        hi = int(rng.random() * len(hh))
        vi = self.village_of[hi]
        town, village = self.villages[vi]
        day = self.day(rng)
        if channel is Channel.VISIT:
            cadres = self.cadres[vi]
            finder = cadres[int(rng.random() * len(cadres))]
        else:
            finder = self._finder(rng, channel, town.code)
        ctx = self._ctx(rng, vi, day, town_only=scope is Scope.TOWN)
        text = slots.fill(template.text, ctx)
        village_code = None if scope is Scope.TOWN else village.code
        return self._problem(
            source, code, town.code, village_code, None, text, finder, day, tier_rng, channel
        ), None

    def _finder(self, rng: random.Random, channel: Channel, town: str) -> str:
        staff = self.county_staff if channel is Channel.SECTOR else self.town_staff[town]
        return staff[int(rng.random() * len(staff))]

    def _problem(
        self,
        source: str,
        category: str,
        town: str,
        village: str | None,
        household_id: str | None,
        text: str,
        finder: str,
        day: dt.date,
        tier_rng: random.Random,
        channel: Channel,
    ) -> ReportedProblem:
        tier = self._tier(tier_rng)
        deadline = None
        if (
            tier is None
            and channel is Channel.EXTERNAL
            and tier_rng.random() < EXTERNAL_DEADLINE_SHARE
        ):
            deadline = day + dt.timedelta(days=30)
        return ReportedProblem(
            source=source,
            category=category,
            town=town,
            village=village,
            household_id=household_id,
            description=text,
            found_by=finder,
            found_on=day,
            tier=tier,
            deadline=deadline,
        )


def _some_value(f: HouseholdField, rng: random.Random, start: dt.date) -> FactValue:
    """A plausible value of a plan field: earlier choices commoner, mostly 是."""
    if f.type is FieldType.CHOICE:
        n = len(f.values)
        pick = _Picker(list(f.values), [n - k for k in range(n)])
        if not f.multiple:
            return pick(rng)
        chosen = {pick(rng) for _ in range(1 if rng.random() < 0.8 else 2)}
        return tuple(v for v in f.values if v in chosen)
    if f.type is FieldType.YES_NO:
        return rng.random() < 0.9
    if f.type is FieldType.INTEGER:
        lo = f.minimum if f.minimum is not None else 0
        hi = f.maximum if f.maximum is not None else lo + 5
        return lo + int(rng.random() * (min(hi, lo + 5) - lo + 1))
    if f.type is FieldType.DATE:
        return (start - dt.timedelta(days=int(rng.random() * 365))).isoformat()
    return TEXT_FACTS[int(rng.random() * len(TEXT_FACTS))]


def _fires(rule: DetectionRule, h: HouseholdFacts, facts: Mapping[str, FactValue],
           start: dt.date, end: dt.date) -> bool:
    """Whether the rule may fire on the household on some day of the investigate period."""
    return all(_holds_some_day(c, facts.get(c.field) if c.field not in BUILTIN_KEYS
                               else value_of(h, c.field), start, end) for c in rule.when)


def _holds_some_day(c: FactCondition, value: FactValue | None, start: dt.date,
                    end: dt.date) -> bool:
    """A condition that holds on some detection day (检查日) between start and end."""
    if c.date is None and c.test is ConditionTest.BEFORE:
        return holds(c, value, end)
    return holds(c, value, start)


def _holds_every_day(c: FactCondition, value: FactValue | None, start: dt.date,
                     end: dt.date) -> bool:
    """A condition that holds on every detection day (检查日) between start and end."""
    if c.date is None and c.test is ConditionTest.NOT_BEFORE:
        return holds(c, value, end)
    return holds(c, value, start)


def _date_outside(c: FactCondition, rng: random.Random, start: dt.date, end: dt.date,
                  *, hold: bool) -> str:
    """A date a date test holds on (`hold`) or fails on, whatever day of start..end detects."""
    earlier = c.test is ConditionTest.BEFORE
    if not hold:
        earlier = not earlier
    if earlier:  # before the fixed date, or before the first detection day
        pivot = c.date or start
        return (pivot - dt.timedelta(days=1 + int(rng.random() * 365))).isoformat()
    pivot = c.date or end  # on or after the fixed date, or after the last detection day
    return (pivot + dt.timedelta(days=int(rng.random() * 365) + (0 if c.date else 1))).isoformat()


def _as_value(f: HouseholdField, word: str) -> FactValue:
    """A condition's written value as the field stores it."""
    if f.type is FieldType.YES_NO:
        return word == "是"
    if f.type is FieldType.INTEGER:
        return int(word)
    if f.type is FieldType.CHOICE and f.multiple:
        return (word,)
    return word


def _other(f: HouseholdField, avoid: Sequence[str], rng: random.Random,
           start: dt.date) -> FactValue | None:
    """A value of the field outside `avoid` (None when every value is avoided)."""
    if f.type is FieldType.TEXT or f.type is FieldType.DATE:
        value = _some_value(f, rng, start)
        return None if str(value) in avoid else value
    options = [v for v in allowed_values(f) if v not in avoid]
    return _as_value(f, options[0]) if options else None


def _negate(rule: DetectionRule, facts: dict[str, FactValue],
            fields: Mapping[str, HouseholdField], rng: random.Random, start: dt.date,
            end: dt.date) -> None:
    """Turn one of the rule's plan-fact conditions false (the last one that can be)."""
    for c in reversed(rule.when):
        f = fields.get(c.field)
        if f is None:
            continue
        value = facts.get(c.field)
        if c.test is ConditionTest.BLANK:
            facts[c.field] = _some_value(f, rng, start)
        elif c.test is ConditionTest.FILLED and not f.required:
            facts.pop(c.field, None)
        elif c.test in (ConditionTest.IS, ConditionTest.HAS):
            if isinstance(value, tuple):
                kept = tuple(v for v in value if v not in c.values)
                if kept:
                    facts[c.field] = kept
                elif f.required:
                    continue
                else:
                    facts.pop(c.field)
            else:
                other = _other(f, c.values, rng, start)
                if other is None:
                    continue
                facts[c.field] = other
        elif c.test is ConditionTest.IS_NOT and c.values:
            facts[c.field] = _as_value(f, c.values[0])
        elif c.test is ConditionTest.LACKS and c.values and f.multiple:
            current = value if isinstance(value, tuple) else ()
            facts[c.field] = tuple(v for v in f.values if v in current or v == c.values[0])
        elif c.test is ConditionTest.BELOW and c.number is not None:
            facts[c.field] = c.number
        elif c.test is ConditionTest.AT_LEAST and c.number is not None:
            facts[c.field] = c.number - 1
        elif c.test in DATE_TESTS and f.type is FieldType.DATE:
            facts[c.field] = _date_outside(c, rng, start, end, hold=False)
        else:
            continue
        return


def _make_hold(c: FactCondition, f: HouseholdField, facts: dict[str, FactValue],
               rng: random.Random, start: dt.date, end: dt.date) -> None:
    """Make one plan-fact condition true for a household (on every day of start..end)."""
    value = facts.get(c.field)
    if _holds_every_day(c, value, start, end):
        return
    if c.test is ConditionTest.BLANK:
        facts.pop(c.field, None)
    elif c.test is ConditionTest.FILLED:
        facts[c.field] = _some_value(f, rng, start)
    elif c.test is ConditionTest.HAS and c.values:
        current = value if isinstance(value, tuple) else ()
        facts[c.field] = tuple(v for v in f.values if v in current or v == c.values[0])
    elif c.test is ConditionTest.LACKS:
        kept = tuple(v for v in value if v not in c.values) if isinstance(value, tuple) else ()
        facts[c.field] = kept or tuple(v for v in f.values if v not in c.values)[:1]
    elif c.test is ConditionTest.IS and c.values:
        facts[c.field] = _as_value(f, c.values[0])
    elif c.test is ConditionTest.IS_NOT:
        other = _other(f, c.values, rng, start)
        if other is not None:
            facts[c.field] = other
    elif c.test is ConditionTest.BELOW and c.number is not None:
        facts[c.field] = c.number - 1
    elif c.test is ConditionTest.AT_LEAST and c.number is not None:
        facts[c.field] = c.number
    elif c.test in DATE_TESTS and f.type is FieldType.DATE:
        facts[c.field] = _date_outside(c, rng, start, end, hold=True)


def _fact_rules(h: HouseholdFacts, line: int) -> list[FactRule]:
    """The fact rules a household trips (the same facts the detection rules read)."""
    rules: list[FactRule] = []
    if h.income_per_person < line and not h.is_monitored:
        rules.append(FactRule.INCOME_BELOW_LINE)
    if h.house_grade in ("C", "D"):
        rules.append(FactRule.UNSAFE_HOUSE)
    if not h.tap_water:
        rules.append(FactRule.NO_TAP_WATER)
    if h.children_out_of_school:
        rules.append(FactRule.CHILD_OUT_OF_SCHOOL)
    if not h.medical_insurance:
        rules.append(FactRule.NO_MEDICAL_INSURANCE)
    if not h.sanitary_toilet:
        rules.append(FactRule.NO_SANITARY_TOILET)
    return rules


def _household_pools(hh: Sequence[HouseholdFacts]) -> dict[Needs, list[int]]:
    pools: dict[Needs, list[int]] = {n: [] for n in Needs}
    pools[Needs.ANY] = list(range(len(hh)))
    registered, monitored, children = (
        pools[Needs.REGISTERED],
        pools[Needs.MONITORED],
        pools[Needs.CHILDREN],
    )
    for i, h in enumerate(hh):
        if h.category is not HouseholdCategory.ORDINARY:
            registered.append(i)
            if h.category is HouseholdCategory.MONITORED:
                monitored.append(i)
        if h.school_age_children:
            children.append(i)
    return pools


# ---------------------------------------------------------------------------------------------
# Public entry points


def generate_county(
    size: str = "township",
    seed: int = 2022,
    *,
    start: dt.date,
    end: dt.date,
    towns: Sequence[Town] | None = None,
    categories: NameCodes | None = None,
    sources: NameCodes | None = None,
    tiers: Sequence[DeadlineTier] = (),
    monitoring_line: int = 6900,
    households: int | None = None,
    fields: Sequence[HouseholdField] = (),
    rules: Sequence[DetectionRule] = (),
) -> SyntheticCounty:
    """Generate a synthetic county, the same for the same arguments.

    `start`..`end` is the investigate period: visits and problems fall inside it. `towns` puts
    households into exactly those places instead of invented ones. `categories`/`sources` give the
    plan's codes (see `resolve_category_codes`); built-in names without a code are skipped.
    `tiers` assigns each problem a deadline tier. `households` overrides the size's count.
    `fields` are a plan's own household facts, recorded on every household; `rules` (the plan's
    rules on them) each fire on a few households.
    """
    spec = SIZES.get(size)
    if spec is None:
        raise SynthError(f"未知的规模“{size}”，可选：{'、'.join(SIZES)}")
    if end < start:
        raise SynthError(f"排查结束日期 {end} 早于开始日期 {start}")
    if households is not None and households < 0:
        raise SynthError(f"农户数不能为负数：{households}")
    place_rng = random.Random(f"duban-synth/{seed}/places")
    county_code = _county_code(place_rng)
    scope = tuple(towns) if towns is not None else _make_places(spec, place_rng, county_code)
    total = households
    if total is None:
        total = round(spec.households * place_rng.uniform(0.96, 1.04))
    cat_codes = resolve_category_codes(categories)
    src_codes = resolve_source_codes(sources)
    gen = _Generator(
        seed,
        start,
        end,
        monitoring_line,
        {b: code for b, (code, _) in cat_codes.items()},
        {b: code for b, (code, _) in src_codes.items()},
        tuple(tiers),
    )
    gen.make_households(scope, total, county_code)
    gen.fill_plan_facts(tuple(fields), [r for r in rules if r.when and r.enabled])
    plans = gen.plan_visits()
    problems, found = gen.make_problems(plans)
    visits = gen.build_visits(plans, found)
    return SyntheticCounty(
        seed=seed,
        size=size,
        start=start,
        end=end,
        monitoring_line=monitoring_line,
        towns=scope,
        households=gen.households,
        visits=visits,
        problems=problems,
        category_names={code: name for code, name in cat_codes.values()},
        source_names={code: name for code, name in src_codes.values()},
        tier_names={t.code: t.name for t in tiers},
        fields=tuple(fields),
    )


def generate_for_plan(
    plan: Plan, size: str = "township", seed: int = 2022, *, households: int | None = None
) -> SyntheticCounty:
    """Generate a county in a plan's scope, with its codes, tiers, line and investigate stage.

    Problems are found in the investigate stage; a plan without one (seed 001 rectifies what
    inspections already found) hands its problems in during its first stage.
    """
    stage = plan.stage(StageKind.INVESTIGATE) or min(plan.stages, key=lambda s: s.start)
    # A stage without an end (seed 004 "适时调整") finds its problems in its first two weeks.
    start, end = stage.start, stage.end or stage.start + dt.timedelta(days=OPEN_STAGE_DAYS - 1)
    return generate_county(
        size,
        seed,
        start=start,
        end=end,
        towns=plan.towns or None,
        categories=plan.categories,
        sources=plan.sources,
        tiers=plan.deadlines.tiers,
        monitoring_line=plan.detection.monitoring_line_yuan,
        households=households,
        fields=plan.household.fields,
        rules=plan.detection.rules,
    )
