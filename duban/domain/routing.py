"""Routing a problem to its responsible office (责任办室) from the plan's routing table.

Rules are tried in plan order and the first whose categories, sources and towns all match wins
(an empty tuple matches anything). Among the co-offices the OWN_VILLAGE token (各村) stands for
the problem's own village and OWN_TOWN (各乡镇) for its own town's office; OWN_TOWN may also be
the lead (seed 001: each 乡镇（街道） leads its own data-quality items).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from duban.domain.plan import OWN_TOWN, OWN_VILLAGE, Plan, RoutingRule

# The memo of (category, source, town) -> rule index is dropped when it grows past this, so
# that a stream of junk keys cannot grow memory without bound.
_MEMO_LIMIT = 100_000


def village_office_code(village: str) -> str:
    """The office code that stands for a village's own cadres (村两委)."""
    return f"village:{village}"


@dataclass(frozen=True, slots=True)
class Route:
    """Where a problem goes: the lead office, co-offices, and the index of the rule used."""

    lead: str
    co_offices: tuple[str, ...]
    rule_index: int


@dataclass(frozen=True, slots=True)
class Unrouted:
    """No rule matched; `reason` is Chinese and names the problem's keys."""

    reason: str


@dataclass(frozen=True, slots=True)
class _Compiled:
    office: str
    categories: frozenset[str] | None
    sources: frozenset[str] | None
    towns: frozenset[str] | None
    co_offices: tuple[str, ...]  # may hold the 各村 / 各乡镇 tokens, resolved per problem
    has_token: bool

    def matches(self, category: str, source: str, town: str) -> bool:
        return (
            (self.categories is None or category in self.categories)
            and (self.sources is None or source in self.sources)
            and (self.towns is None or town in self.towns)
        )


def _compile(rule: RoutingRule) -> _Compiled:
    co = tuple(dict.fromkeys(c for c in rule.co_offices if c != rule.office))
    return _Compiled(
        office=rule.office,
        categories=frozenset(rule.categories) or None,
        sources=frozenset(rule.sources) or None,
        towns=frozenset(rule.towns) or None,
        co_offices=co,
        has_token=rule.office == OWN_TOWN or OWN_VILLAGE in co or OWN_TOWN in co,
    )


class Router:
    """Routes problems with a plan's routing table; build once per plan and reuse.

    `town_offices` maps a town code to its town-level office, which the 各乡镇 token stands for;
    `names` maps each kind ("category", "source", "town") to its codes' names, which the reasons
    print (a person reads them).
    """

    __slots__ = ("_memo", "_names", "_plain", "_rules", "_town_offices")

    def __init__(
        self, rules: Sequence[RoutingRule], town_offices: Mapping[str, str] | None = None,
        names: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self._rules = tuple(_compile(r) for r in rules)
        self._town_offices = dict(town_offices or {})
        self._names = {kind: dict(m) for kind, m in (names or {}).items()}
        # Routes of rules without tokens do not depend on the place: build them once.
        self._plain: tuple[Route | None, ...] = tuple(
            None if c.has_token else Route(c.office, c.co_offices, i)
            for i, c in enumerate(self._rules)
        )
        self._memo: dict[tuple[str, str, str], int] = {}

    @classmethod
    def for_plan(cls, plan: Plan) -> Router:
        """A router for a plan, resolving 各乡镇 to each town's own office."""
        town_offices = {}
        for town in plan.towns:
            office = plan.town_office(town.code)
            if office is not None:
                town_offices[town.code] = office.code
        names = {"town": {t.code: t.name for t in plan.towns},
                 "source": {s.code: s.name for s in plan.sources},
                 "category": {c.code: c.name for c in plan.categories}}
        return cls(plan.routing, town_offices, names)

    def _name(self, kind: str, code: str) -> str:
        return self._names.get(kind, {}).get(code, code) if code else "（未填）"

    def _rule_index(self, category: str, source: str, town: str) -> int:
        key = (category, source, town)
        index = self._memo.get(key)
        if index is None:
            index = next(
                (i for i, c in enumerate(self._rules) if c.matches(category, source, town)), -1
            )
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = index
        return index

    def route(self, category: str, source: str, town: str, village: str | None) -> Route | Unrouted:
        """The route of a problem, or why there is none."""
        index = self._rule_index(category, source, town)
        if index < 0:
            return Unrouted(
                f"路由表中没有匹配 类别「{self._name('category', category)}」、"
                f"来源「{self._name('source', source)}」、乡镇「{self._name('town', town)}」的规则，"
                f"请在方案的路由表中补充，或手工指定责任办室"
            )
        plain = self._plain[index]
        if plain is not None:
            return plain
        c = self._rules[index]
        lead = c.office
        if lead == OWN_TOWN:
            # 各乡镇 as lead: the problem's own town's office leads it.
            lead = self._town_offices.get(town, "") if town else ""
            if not lead:
                return Unrouted(
                    f"路由规则第{index + 1}条由“{OWN_TOWN}”牵头，但乡镇「{self._name('town', town)}」"
                    f"没有唯一的乡镇级办室，请在方案中为它设一个乡镇级办室，或手工指定责任办室"
                )
        resolved: list[str] = []
        for co in c.co_offices:
            if co == OWN_VILLAGE:
                # 各村 means the problem's own village; a problem with no village has none.
                if village:
                    resolved.append(village_office_code(village))
            elif co == OWN_TOWN:
                own_town = self._town_offices.get(town) if town else None
                if own_town:
                    resolved.append(own_town)
            else:
                resolved.append(co)
        # dict.fromkeys keeps order and drops repeats; the lead is never its own co-office.
        co_offices = tuple(o for o in dict.fromkeys(resolved) if o != lead)
        return Route(lead, co_offices, index)
