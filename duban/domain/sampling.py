"""Daily spot checks (随机抽查) for supervision groups, stratified and reproducible.

Seed 004 gives each supervision group a daily quota: closed problems (盘点销号问题), households
and villages. The draw here is:

* per group, in the order the plan lists the groups, over the group's towns (all when the
  group lists none);
* closed problems stratified by town and households stratified by village (villages, when the
  quota asks for them, by town): every stratum that has candidates gets one when the quota is
  at least the number of strata, and the rest is shared out in proportion to what each stratum
  has beyond that first one, by largest remainder (`allocate`). When the quota is smaller than
  the number of strata, the quota is shared in proportion to stratum size, so larger towns are
  likelier to be drawn;
* reproducible: each (seed, day, group, kind) gets a derived seed string, recorded on every
  `SpotCheck`, that seeds `random.Random`; candidates are sorted first, so the order rows come
  from storage does not matter;
* never the same closed problem (household, village) for two groups on the same day, and never
  a problem or household passed in as recently checked (a hard exclusion: the caller decides
  what "recently" means by the window it queries).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any, Generic, Protocol, TypeVar

from duban.domain.plan import SpotCheckQuota, SupervisionGroup


class SpotCheckKind(StrEnum):
    """What a spot check looks at."""

    CLOSED_PROBLEM = "closed_problem"  # 盘点销号问题抽查
    HOUSEHOLD = "household"  # 入户抽查
    VILLAGE = "village"  # 村级抽查（人居环境）


SPOT_CHECK_KIND_LABELS: dict[SpotCheckKind, str] = {
    SpotCheckKind.CLOSED_PROBLEM: "销号问题",
    SpotCheckKind.HOUSEHOLD: "农户",
    SpotCheckKind.VILLAGE: "行政村",
}


@dataclass(frozen=True, slots=True)
class ClosedItem:
    """A closed (销号) problem that may be spot-checked."""

    problem_id: int
    town: str  # town code
    village: str | None = None


@dataclass(frozen=True, slots=True)
class HouseholdRef:
    """A household that may be visited in a spot check."""

    household_id: str
    town: str
    village: str


@dataclass(frozen=True, slots=True)
class SpotCheck:
    """One drawn spot check: which group checks what, and the seed that drew it."""

    group: str  # supervision group code
    kind: SpotCheckKind
    item_id: int | str  # problem id (int), household id or village code (str)
    town: str
    draw_seed: str
    village: str | None = None
    purpose: str = ""  # the further household draw's name (专班排查入户); "" for the main draws


def derive_seed(
    seed: int, day: dt.date, group: str, kind: SpotCheckKind, purpose: str = ""
) -> str:
    """The seed string of one draw; `random.Random(str)` hashes it the same way everywhere."""
    tail = f"/{purpose}" if purpose else ""
    return f"duban-spot-check/{seed}/{day.isoformat()}/{group}/{kind.value}{tail}"


K = TypeVar("K", bound=Hashable)


def allocate(sizes: Mapping[K, int], n: int, tie_order: Sequence[K]) -> dict[K, int]:
    """Share n draws among strata of the given sizes (see module notes); ties by tie_order.

    Every stratum with candidates gets one when n allows; no stratum gets more than it has;
    the shares sum to min(n, total).
    """
    strata = [k for k in tie_order if sizes.get(k, 0) > 0]
    if set(strata) != {k for k, size in sizes.items() if size > 0}:
        raise ValueError("tie_order must list every non-empty stratum")
    total = sum(sizes[k] for k in strata)
    n = min(max(n, 0), total)
    shares = dict.fromkeys(strata, 0)
    if n == 0:
        return shares
    if n >= len(strata):
        shares = dict.fromkeys(strata, 1)
        rest = n - len(strata)
        weights = {k: sizes[k] - 1 for k in strata}
    else:
        rest = n
        weights = {k: sizes[k] for k in strata}
    weight_sum = sum(weights.values())
    if rest == 0 or weight_sum == 0:
        return shares
    exact = {k: Fraction(rest * weights[k], weight_sum) for k in strata}
    floors = {k: math.floor(v) for k, v in exact.items()}
    leftover = rest - sum(floors.values())
    rank = {k: i for i, k in enumerate(strata)}
    by_remainder = sorted(strata, key=lambda k: (-(exact[k] - floors[k]), rank[k]))
    for k in by_remainder[:leftover]:
        floors[k] += 1
    for k in strata:
        shares[k] += floors[k]
    return shares


S = TypeVar("S", str, tuple[str, str])  # a stratum: a town, or a (town, village)
T = TypeVar("T")


class Strata(Protocol[S, T]):
    """Candidates in strata, each stratum in a fixed order, without holding them all.

    A stratum's order is its candidates sorted as `_stratified_sample`'s sort key sorts them;
    the strata themselves sort by key. `pick` answers the candidates at 0-based positions of a
    stratum as it is now (after the removals); `remove` takes a drawn candidate out.
    """

    def sizes(self) -> dict[S, int]:
        """How many candidates each stratum has now; strata with none may be left out."""
        ...

    def pick(self, stratum: S, positions: Sequence[int]) -> list[T]:
        """The stratum's candidates at these positions, in the positions' order."""
        ...

    def remove(self, item: T) -> None:
        """Take a drawn candidate out of its stratum."""
        ...


class ListStrata(Generic[S, T]):
    """Strata held in memory: every candidate, grouped and sorted."""

    def __init__(self, candidates: Iterable[T], stratum: Callable[[T], S],
                 sort_key: Callable[[T], Any]) -> None:
        self._stratum: Callable[[T], S] = stratum
        self._groups: dict[S, list[T]] = {}
        for c in sorted(candidates, key=sort_key):
            self._groups.setdefault(stratum(c), []).append(c)

    def sizes(self) -> dict[S, int]:
        return {k: len(v) for k, v in self._groups.items() if v}

    def pick(self, stratum: S, positions: Sequence[int]) -> list[T]:
        group = self._groups[stratum]
        return [group[i] for i in positions]

    def remove(self, item: T) -> None:
        self._groups[self._stratum(item)].remove(item)


def _stratified_draw(
    rng: random.Random,
    strata: Strata[S, T],
    towns: frozenset[str] | None,
    town_of: Callable[[S], str],
    sort_key: Callable[[T], Any],
    n: int,
) -> list[T]:
    """Draw n candidates stratified by stratum, deterministically for a given rng state.

    `rng.sample(range(size), k)` picks the same positions `rng.sample(members, k)` would, so
    only the drawn candidates are ever looked up.
    """
    sizes = {k: size for k, size in strata.sizes().items()
             if size > 0 and (not towns or town_of(k) in towns)}
    keys = sorted(sizes)
    tie_order = list(keys)
    rng.shuffle(tie_order)  # ties in the remainder go to a random stratum, not the first name
    shares = allocate(sizes, n, tie_order)
    drawn: list[T] = []
    for k in keys:
        if shares[k]:
            drawn.extend(strata.pick(k, rng.sample(range(sizes[k]), shares[k])))
    return sorted(drawn, key=sort_key)


def _stratified_sample(
    rng: random.Random,
    candidates: Sequence[T],
    stratum: Callable[[T], S],
    sort_key: Callable[[T], Any],
    n: int,
) -> list[T]:
    """Draw n candidates stratified by `stratum`, deterministically for a given rng state."""
    return _stratified_draw(rng, ListStrata(candidates, stratum, sort_key), None, str,
                            sort_key, n)


def _in_scope(group: SupervisionGroup, town: str) -> bool:
    return not group.towns or town in group.towns


def _town_of_place(place: tuple[str, str]) -> str:
    return place[0]


def _closed_key(c: ClosedItem) -> tuple[str, int]:
    return c.town, c.problem_id


def _household_key(h: HouseholdRef) -> tuple[str, str, str]:
    return h.town, h.village, h.household_id


def draw_spot_checks(
    closed: Sequence[ClosedItem],
    households: Sequence[HouseholdRef],
    groups: Sequence[SupervisionGroup],
    quota: SpotCheckQuota,
    seed: int,
    day: dt.date,
    already_checked: frozenset[int] = frozenset(),
    households_checked: frozenset[str] = frozenset(),
    villages: Sequence[tuple[str, str]] = (),
) -> list[SpotCheck]:
    """Today's spot checks for every group: closed problems, households and villages.

    `already_checked` holds problem ids and `households_checked` household ids checked
    recently; both are left out. `villages` ((town, village) pairs) are the villages in scope,
    drawn from when the quota allows villages without households. Results come grouped by group
    (plan order), then kind, the further household draws after the main one.
    """
    return draw_spot_checks_from(
        ListStrata((c for c in closed if c.problem_id not in already_checked),
                   lambda c: c.town, _closed_key),
        ListStrata((h for h in households if h.household_id not in households_checked),
                   lambda h: (h.town, h.village), _household_key),
        {(h.town, h.village) for h in households},
        groups, quota, seed, day, villages)


def draw_spot_checks_from(
    closed: Strata[str, ClosedItem],
    households: Strata[tuple[str, str], HouseholdRef],
    household_villages: Iterable[tuple[str, str]],
    groups: Sequence[SupervisionGroup],
    quota: SpotCheckQuota,
    seed: int,
    day: dt.date,
    villages: Sequence[tuple[str, str]] = (),
) -> list[SpotCheck]:
    """`draw_spot_checks` over strata that look candidates up only when drawn.

    `closed` holds the closed problems not checked recently, by town; `households` the
    households not checked recently, by (town, village); `household_villages` every
    (town, village) with households, checked or not. The same seed draws the same checks as
    `draw_spot_checks` over the same candidates.
    """
    villages_pool = set(household_villages)
    if quota.villages_without_households:
        villages_pool |= set(villages)
    checks: list[SpotCheck] = []
    for group in groups:
        kind = SpotCheckKind.CLOSED_PROBLEM
        draw_seed = derive_seed(seed, day, group.code, kind)
        picked_items = _stratified_draw(
            random.Random(draw_seed), closed, frozenset(group.towns), str, _closed_key,
            quota.closed_problems)
        for c in picked_items:
            closed.remove(c)
            checks.append(SpotCheck(group.code, kind, c.problem_id, c.town, draw_seed, c.village))

        kind = SpotCheckKind.HOUSEHOLD
        # The main draw, then each purpose's own, never a household already drawn today:
        # (purpose code salting the seed, how many, purpose name).
        draws = [("", quota.households, ""),
                 *((d.code, d.households, d.name) for d in quota.more_households)]
        for purpose_code, n, purpose in draws:
            draw_seed = derive_seed(seed, day, group.code, kind, purpose_code)
            picked = _stratified_draw(
                random.Random(draw_seed), households, frozenset(group.towns), _town_of_place,
                _household_key, n)
            for h in picked:
                households.remove(h)
                checks.append(SpotCheck(group.code, kind, h.household_id, h.town, draw_seed,
                                        h.village, purpose))

        if quota.villages > 0:
            kind = SpotCheckKind.VILLAGE
            draw_seed = derive_seed(seed, day, group.code, kind)
            picked_villages = _stratified_sample(
                random.Random(draw_seed),
                [v for v in villages_pool if _in_scope(group, v[0])],
                stratum=lambda v: v[0],
                sort_key=lambda v: v,
                n=quota.villages,
            )
            for town, village in picked_villages:
                villages_pool.discard((town, village))
                checks.append(SpotCheck(group.code, kind, village, town, draw_seed, village))
    return checks


def quota_shortfall(
    checks: Iterable[SpotCheck], groups: Sequence[SupervisionGroup], quota: SpotCheckQuota
) -> dict[tuple[str, SpotCheckKind], int]:
    """How many checks each group is short of its quota today (only the short ones)."""
    counts: dict[tuple[str, SpotCheckKind], int] = {}
    for c in checks:
        counts[(c.group, c.kind)] = counts.get((c.group, c.kind), 0) + 1
    wanted = {
        SpotCheckKind.CLOSED_PROBLEM: quota.closed_problems,
        SpotCheckKind.HOUSEHOLD: quota.households + sum(d.households for d in quota.more_households),
        SpotCheckKind.VILLAGE: quota.villages,
    }
    short = {}
    for group in groups:
        for kind, n in wanted.items():
            missing = n - counts.get((group.code, kind), 0)
            if missing > 0:
                short[(group.code, kind)] = missing
    return short
