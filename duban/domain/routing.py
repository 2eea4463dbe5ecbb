"""Routing a problem to its responsible office (责任办室) from the plan's routing table.

Rules are tried in plan order and the first whose categories, sources and towns all match wins
(an empty tuple matches anything). The OWN_VILLAGE token (各村) among the co-offices stands for
the problem's own village.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from duban.domain.plan import OWN_VILLAGE, RoutingRule

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
    before_village: tuple[str, ...]  # co-offices before the 各村 token (all, if none)
    after_village: tuple[str, ...]  # co-offices after the token
    has_village: bool

    def matches(self, category: str, source: str, town: str) -> bool:
        return (
            (self.categories is None or category in self.categories)
            and (self.sources is None or source in self.sources)
            and (self.towns is None or town in self.towns)
        )


def _compile(rule: RoutingRule) -> _Compiled:
    co = tuple(dict.fromkeys(c for c in rule.co_offices if c != rule.office))
    if OWN_VILLAGE in co:
        at = co.index(OWN_VILLAGE)
        before, after = co[:at], tuple(c for c in co[at + 1 :] if c != OWN_VILLAGE)
    else:
        before, after = co, ()
    return _Compiled(
        office=rule.office,
        categories=frozenset(rule.categories) or None,
        sources=frozenset(rule.sources) or None,
        towns=frozenset(rule.towns) or None,
        before_village=before,
        after_village=after,
        has_village=OWN_VILLAGE in co,
    )


class Router:
    """Routes problems with a plan's routing table; build once per plan and reuse."""

    __slots__ = ("_memo", "_plain", "_rules")

    def __init__(self, rules: Sequence[RoutingRule]) -> None:
        self._rules = tuple(_compile(r) for r in rules)
        # Routes of rules without 各村 do not depend on the village: build them once.
        self._plain: tuple[Route | None, ...] = tuple(
            None if c.has_village else Route(c.office, c.before_village, i)
            for i, c in enumerate(self._rules)
        )
        self._memo: dict[tuple[str, str, str], int] = {}

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
                f"路由表中没有匹配 类别={category} 来源={source} 乡镇={town} 的规则，"
                f"请在方案的路由表中补充，或手工指定责任办室"
            )
        plain = self._plain[index]
        if plain is not None:
            return plain
        c = self._rules[index]
        if not village:
            return Route(c.office, c.before_village + c.after_village, index)
        own = village_office_code(village)
        if own == c.office:
            return Route(c.office, c.before_village + c.after_village, index)
        # dict.fromkeys keeps order and drops the village if the rule also names it.
        co = tuple(dict.fromkeys((*c.before_village, own, *c.after_village)))
        return Route(c.office, co, index)
