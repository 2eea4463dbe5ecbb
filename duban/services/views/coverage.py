"""Visit coverage (走访覆盖): households, households visited and how, per village and town.

The one implementation behind the coverage page, the API and `duban coverage`.

A village with no registered households has nothing to visit: its rate is None, shown as
无农户, and it adds nothing to a town's or the scope's rate, which is households visited over
households registered (not an average of village rates). Counting such a village as 100%
would flatter a town whose register is missing; counting it as 0% would blame a town for a
village it has no households in. Either way the county office would chase the wrong place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from duban.domain.errors import PermissionDenied
from duban.domain.household import VisitMode
from duban.domain.lifecycle import Role
from duban.services.scoping import Scope, household_clause, village_clause
from duban.services.views.names import Names, names_in
from models import Household, Village, Visit

NO_HOUSEHOLDS = "无农户"


@dataclass
class CoverageLine:
    """Households and visits of one village, or of a town (its villages summed)."""

    town_code: str
    town: str
    village_code: str | None  # None on a town's line
    village: str
    households: int = 0
    visited: int = 0  # households visited at least once
    visits: int = 0
    by_mode: dict[str, int] = field(default_factory=dict)  # households by latest visit's mode

    @property
    def name(self) -> str:
        """The village's name, or the town's on a town's line."""
        return self.village if self.village_code is not None else self.town

    @property
    def rate(self) -> float | None:
        """Share of households visited, 0..1; None when none are registered (无农户)."""
        return self.visited / self.households if self.households else None

    def add(self, other: CoverageLine) -> None:
        """Count another line's households and visits in this one."""
        self.households += other.households
        self.visited += other.visited
        self.visits += other.visits
        for mode, n in other.by_mode.items():
            self.by_mode[mode] = self.by_mode.get(mode, 0) + n


class Unvisited(NamedTuple):
    """A registered household nobody has visited yet."""

    town: str
    village: str
    household_id: str
    head: str


@dataclass
class Coverage:
    """Visit coverage of a scope: per village, per town, and in all."""

    villages: list[CoverageLine]
    towns: list[CoverageLine]
    modes: list[str]
    unvisited: list[Unvisited] | None = None  # listed only when asked for

    @property
    def households(self) -> int:
        """Households in scope."""
        return sum(line.households for line in self.villages)

    @property
    def visited(self) -> int:
        """Households visited at least once."""
        return sum(line.visited for line in self.villages)

    @property
    def rate(self) -> float | None:
        """Households visited over households registered; None when none are."""
        return self.visited / self.households if self.households else None

    @property
    def without_households(self) -> int:
        """Villages with no registered household (无农户), left out of every rate."""
        return sum(1 for line in self.villages if not line.households)


def coverage(session: Session, scope: Scope, campaign_id: int, *, town: str | None = None,
             unvisited: bool = False, names: Names | None = None) -> Coverage:
    """Per village and town of the scope: households, visited, visits, and households by
    the mode (面访 / 电访 / 代答) of their latest visit; `town` narrows to one town."""
    if scope.role == Role.OFFICE:
        raise PermissionDenied("责任办室不查看走访覆盖情况")
    names = names or names_in(session, campaign_id)
    households = [Household.campaign_id == campaign_id, household_clause(scope)]
    villages = [Village.campaign_id == campaign_id, village_clause(scope)]
    if town:
        households.append(Household.town_code == town)
        villages.append(Village.town_code == town)
    lines: dict[str, CoverageLine] = {}

    def line(town_code: str, village_code: str) -> CoverageLine:
        if village_code not in lines:
            lines[village_code] = CoverageLine(
                town_code=town_code, town=names.town(town_code), village_code=village_code,
                village=names.village(village_code))
        return lines[village_code]

    for t, v in session.execute(select(Village.town_code, Village.code).where(*villages)):
        line(t, v)
    for t, v, n in session.execute(
            select(Household.town_code, Household.village_code, func.count())
            .where(*households).group_by(Household.town_code, Household.village_code)):
        line(t, v).households = int(n)
    # A household visited more than once counts under its latest visit's mode (the latest
    # id breaks a tie on the day), so a village's modes add up to its visited households.
    ranked = select(
        Visit.household_id, Visit.mode,
        func.row_number().over(partition_by=Visit.household_id,
                               order_by=(Visit.visited_on.desc(), Visit.id.desc())).label("nth"),
    ).where(Visit.campaign_id == campaign_id).subquery()
    modes = {m.value for m in VisitMode}
    for t, v, mode, n in session.execute(
            select(Household.town_code, Household.village_code, ranked.c.mode, func.count())
            .join(ranked, and_(ranked.c.household_id == Household.household_id,
                               ranked.c.nth == 1))
            .where(*households)
            .group_by(Household.town_code, Household.village_code, ranked.c.mode)):
        at = line(t, v)
        at.by_mode[mode] = at.by_mode.get(mode, 0) + int(n)
        at.visited += int(n)
        modes.add(mode)
    for t, v, n in session.execute(
            select(Household.town_code, Household.village_code, func.count())
            .join(Visit, and_(Visit.campaign_id == Household.campaign_id,
                              Visit.household_id == Household.household_id))
            .where(*households).group_by(Household.town_code, Household.village_code)):
        line(t, v).visits = int(n)
    by_village = sorted(lines.values(), key=lambda c: (c.town_code, c.village_code or ""))
    towns: dict[str, CoverageLine] = {}
    for v_line in by_village:
        t_line = towns.setdefault(v_line.town_code, CoverageLine(
            town_code=v_line.town_code, town=v_line.town, village_code=None, village=""))
        t_line.add(v_line)
    listed = None
    if unvisited:
        seen = select(Visit.household_id).where(Visit.campaign_id == campaign_id)
        listed = [Unvisited(names.town(t), names.village(v), hid, head)
                  for t, v, hid, head in session.execute(
                      select(Household.town_code, Household.village_code,
                             Household.household_id, Household.head)
                      .where(*households, Household.household_id.not_in(seen))
                      .order_by(Household.town_code, Household.village_code,
                                Household.household_id))]
    order = [m.value for m in VisitMode]
    return Coverage(villages=by_village, towns=[towns[t] for t in sorted(towns)],
                    modes=order + sorted(modes - set(order)), unvisited=listed)
