"""The strata a daily spot-check draw picks from, read from the database as the draw needs them.

Closed problems by town and households by (town, village): each stratum is counted (the
closed problems in the database, the households by the intake as it writes the register) and
only the drawn positions are read, so a draw costs what it draws, not the register.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from duban.domain.lifecycle import Status
from duban.domain.sampling import ClosedItem, HouseholdRef
from duban.services.problems import BATCH
from models import Household, Problem, VillageHouseholds
from models.tables import MARK_EVERY


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i:i + BATCH] for i in range(0, len(items), BATCH)]


class ClosedStrata:
    """A campaign's closed problems not checked recently, by town, in id order.

    The towns are counted in the database; a town's closed problems are read only when the
    draw picks from it.
    """

    def __init__(self, session: Session, campaign_id: int, recent: frozenset[int]) -> None:
        self._session = session
        self._where = (Problem.campaign_id == campaign_id,
                       Problem.status == Status.CLOSED.value)
        self._counts: dict[str, int] = {
            town: n for town, n in session.execute(
                select(Problem.town_code, func.count()).where(*self._where)
                .group_by(Problem.town_code))}
        self.total = sum(self._counts.values())
        self._out: dict[str, set[int]] = {}
        for chunk in _chunks(sorted(recent)):
            for pid, town in session.execute(select(Problem.id, Problem.town_code).where(
                    *self._where, Problem.id.in_(chunk))):
                self._out.setdefault(town, set()).add(pid)
        self._members: dict[str, list[ClosedItem]] = {}

    def sizes(self) -> dict[str, int]:
        return {town: n - len(self._out.get(town, ())) for town, n in self._counts.items()}

    def _stratum(self, town: str) -> list[ClosedItem]:
        members = self._members.get(town)
        if members is None:
            out = self._out.get(town, set())
            members = self._members[town] = [
                ClosedItem(pid, town, village) for pid, village in self._session.execute(
                    select(Problem.id, Problem.village_code)
                    .where(*self._where, Problem.town_code == town).order_by(Problem.id))
                if pid not in out]
        return members

    def pick(self, stratum: str, positions: Sequence[int]) -> list[ClosedItem]:
        members = self._stratum(stratum)
        return [members[i] for i in positions]

    def remove(self, item: ClosedItem) -> None:
        self._out.setdefault(item.town, set()).add(item.problem_id)
        if item.town in self._members:
            self._members[item.town].remove(item)


class HouseholdStrata:
    """A campaign's households not checked recently, by (town, village), in household-id order.

    The villages' sizes and marks are the intake's (`village_households`): a drawn position is
    found in the index on (campaign, village, town, household id) from the nearest mark before
    it (`OFFSET` of at most MARK_EVERY and the village's recent checks), so the register is
    never loaded, counted or walked: a draw costs what it draws. The order is the database's
    order of household ids: on SQLite and on a PostgreSQL database with the C or C.UTF-8
    collation, code-point order, as in memory.
    """

    def __init__(self, session: Session, campaign_id: int,
                 recent: Iterable[tuple[str, str, str]]) -> None:
        """`recent`: (household id, town, village) of each household checked recently, as the
        register places it now."""
        self._session = session
        self._campaign_id = campaign_id
        self._counts: dict[tuple[str, str], int] = {}
        self._marks: dict[tuple[str, str], list[str]] = {}
        for town, village, n, marks in session.execute(
                select(VillageHouseholds.town_code, VillageHouseholds.village_code,
                       VillageHouseholds.households, VillageHouseholds.marks)
                .where(VillageHouseholds.campaign_id == campaign_id)):
            self._counts[town, village] = n
            self._marks[town, village] = marks
        self.total = sum(self._counts.values())
        self._out: dict[tuple[str, str], set[str]] = {}
        for hid, town, village in recent:
            self._out.setdefault((town, village), set()).add(hid)

    def villages(self) -> list[tuple[str, str]]:
        """Every (town, village) with households, checked recently or not."""
        return list(self._counts)

    def sizes(self) -> dict[tuple[str, str], int]:
        return {place: n - len(self._out.get(place, ())) for place, n in self._counts.items()}

    def _before(self, out: list[str], mark: str) -> int:
        """How many of `out` sort before `mark` in the database's order (its collation), asked
        of a list of values: the register's index would be walked up to the mark."""
        # VALUES names its column column1 on SQLite and on PostgreSQL, neither taking the
        # other's way of naming it.
        rows = ", ".join(f"(:h{k})" for k in range(len(out)))
        return int(self._session.scalar(
            text(f"SELECT count(*) FROM (VALUES {rows}) AS recent WHERE column1 < :mark"),
            {"mark": mark, **{f"h{k}": h for k, h in enumerate(out)}}) or 0)

    def pick(self, stratum: tuple[str, str], positions: Sequence[int]) -> list[HouseholdRef]:
        town, village = stratum
        out = sorted(self._out.get(stratum, ()))
        marks = self._marks[stratum]
        stmt = (select(Household.household_id)
                .where(Household.campaign_id == self._campaign_id,
                       Household.village_code == village, Household.town_code == town)
                .order_by(Household.household_id).limit(1))
        if out:
            stmt = stmt.where(Household.household_id.not_in(out))
        picked = []
        for i in positions:
            # Position i among the households not checked recently lies at or after mark m:
            # the mark's own position m × MARK_EVERY, less the recent ones before it, is ≤ i.
            m = min(i // MARK_EVERY, len(marks) - 1)
            before = m * MARK_EVERY - (self._before(out, marks[m]) if out and m else 0)
            hid = self._session.scalar(stmt.where(Household.household_id >= marks[m])
                                       .offset(i - before))
            assert hid is not None, "a drawn position lies within its stratum's count"
            picked.append(HouseholdRef(hid, town, village))
        return picked

    def remove(self, item: HouseholdRef) -> None:
        self._out.setdefault((item.town, item.village), set()).add(item.household_id)
