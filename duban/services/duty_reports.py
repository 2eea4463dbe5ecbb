"""Recurring duties and milestones as the reports show them: the daily report's section, the
ledger workbook's 常态化工作 sheet, scoped like every number (a town sees its own)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.lifecycle import Role, Status
from duban.services.campaigns import load_plan_of
from duban.services.duties import (
    DONE,
    OPEN_PROBLEM,
    milestones_of,
    occurrence_rows,
    place_name,
    reached_milestones,
)
from duban.services.scoping import Scope
from models import DutyOccurrence, Problem


@dataclass(frozen=True)
class DutyUnitLine:
    """One unit's recurring duties on a report day: due that day, done of those, missed so far."""

    unit: str  # office name, or town and village names for a 各村 duty
    due: int
    done: int
    missed: int  # every occurrence past its due day and not done by the report day


@dataclass(frozen=True)
class MilestoneLine:
    """A milestone of an open problem past its date and not reached by the report day."""

    problem: str  # problem code
    name: str  # 开工 / 完工
    date: dt.date
    office: str  # lead office name
    place: str  # town (and village) names


@dataclass(frozen=True)
class DutyDay:
    """Recurring duties and milestones on a report day, for the whole campaign or one unit."""

    has_duties: bool
    has_milestones: bool
    units: tuple[DutyUnitLine, ...]
    milestones_due: int
    milestones_reached: int  # of those due that day
    milestones_missed: tuple[MilestoneLine, ...]
    more_units: int = 0  # units left out of `units` (every one done on time)
    # The whole campaign up to the day (the closing report), not the day alone: `due` is every
    # occurrence due by the day, `done` those done on their day, `missed` those still not done.
    whole: bool = False

    @property
    def due(self) -> int:
        """Occurrences due on the day."""
        return sum(u.due for u in self.units)

    @property
    def done(self) -> int:
        """Of those due on the day, done by its end."""
        return sum(u.done for u in self.units)

    @property
    def missed(self) -> int:
        """Occurrences past their day and not done."""
        return sum(u.missed for u in self.units)

    @property
    def duty_text(self) -> str:
        """One sentence on the day's recurring duties."""
        if not self.has_duties:
            return ""
        late = [u for u in self.units if u.missed]
        if self.whole:
            text = (f"行动期间常态化工作应完成{self.due}项，按时完成{self.done}项，未按时完成"
                    f"{self.due - self.done}项；至总结时仍未完成{self.missed}项")
        else:
            text = (f"当日到期常态化工作{self.due}项，按时完成{self.done}项，未完成"
                    f"{self.due - self.done}项；累计逾期未完成{self.missed}项")
        if late:
            names = "、".join(f"{u.unit}{u.missed}项" for u in late[:5])
            text += f"（{names}{'等' if len(late) > 5 else ''}）"
        return text + "。"

    @property
    def milestone_text(self) -> str:
        """One sentence on the day's milestones."""
        if not self.has_milestones:
            return ""
        if self.whole:
            return (f"行动期间到期整改节点{self.milestones_due}个，按期完成"
                    f"{self.milestones_reached}个；逾期未完成整改节点{len(self.milestones_missed)}个。")
        return (f"当日到期整改节点{self.milestones_due}个，已完成{self.milestones_reached}个；"
                f"逾期未完成整改节点{len(self.milestones_missed)}个。")


UNIT_ROWS = 40  # the report lists at most this many units (those with something missed first)


def duty_day(session: Session, campaign_id: int, day: dt.date, *,
             offices: Sequence[str] | None = None, town: str | None = None,
             whole: bool = False) -> DutyDay:
    """A read-only view: the day's duties by unit and the milestones due and missed.

    `offices` keeps the occurrences of those units and the milestones of problems they lead;
    `town` keeps a town's occurrences and its problems' milestones (a town sees its own);
    `whole`: the campaign up to the day instead of the day (see DutyDay.whole).
    """
    plan = load_plan_of(session, campaign_id)
    has_milestones = any(r.milestones for r in plan.deadlines.rules)
    stmt = select(DutyOccurrence).where(DutyOccurrence.campaign_id == campaign_id,
                                        DutyOccurrence.due_on <= day)
    if offices is not None:
        stmt = stmt.where(DutyOccurrence.office_code.in_(list(offices)))
    if town is not None:
        stmt = stmt.where(DutyOccurrence.town_code == town)
    tally: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for o in session.scalars(stmt):
        done = o.status == DONE and o.done_on is not None and o.done_on <= day
        t = tally[(o.office_code, o.town_code, o.village_code)]
        if whole:
            t[0] += 1
            t[1] += int(done and o.done_on is not None and o.done_on <= o.due_on)
            t[2] += int(not done)
        elif o.due_on == day:
            t[0] += 1
            t[1] += int(done)
        elif not done:
            t[2] += 1
    lines = []
    for (office, t_code, v_code), (due, done_n, missed) in tally.items():
        lead = plan.office(office)
        unit = place_name(plan, t_code, v_code) or (lead.name if lead else office)
        lines.append(DutyUnitLine(unit, due, done_n, missed))
    lines.sort(key=lambda u: (-u.missed, -(u.due - u.done), u.unit))
    shown = [u for u in lines if u.missed or u.due > u.done][:UNIT_ROWS]
    if len(shown) < UNIT_ROWS:
        shown += [u for u in lines if not u.missed and u.due == u.done and u.due][
            :UNIT_ROWS - len(shown)]
    missed_stones: list[MilestoneLine] = []
    due_stones = reached_stones = 0
    if has_milestones:
        from duban.services.views.names import names_in

        names = names_in(session, campaign_id, plan)
        # The whole campaign counts the milestones of closed problems too; only an open
        # problem's milestone is listed as missed (a closed one's rectification was reviewed).
        problems = select(Problem).where(
            Problem.campaign_id == campaign_id,
            Problem.status != Status.VOIDED.value if whole
            else Problem.status.in_(OPEN_PROBLEM))
        if offices is not None:
            problems = problems.where(Problem.lead_office.in_(list(offices)))
        if town is not None:
            problems = problems.where(Problem.town_code == town)
        reached_all = reached_milestones(session, campaign_id)
        for p in session.scalars(problems.order_by(Problem.code)):
            for m in milestones_of(session, plan, p, day, reached_all.get(p.id, {})):
                reached = m.reached_on is not None and m.reached_on <= day
                if whole and m.date <= day:
                    due_stones += 1
                    reached_stones += int(m.reached_on is not None and m.reached_on <= m.date)
                elif m.date == day:
                    due_stones += 1
                    reached_stones += int(reached)
                if (m.date < day and not reached
                        and (not whole or p.status in OPEN_PROBLEM)):
                    place = names.town(p.town_code) + (names.village(p.village_code)
                                                       if p.village_code else "")
                    missed_stones.append(MilestoneLine(p.code, m.name, m.date,
                                                       names.office(p.lead_office), place))
    # The units table of a whole county stays short: every unit is counted in the totals.
    totals = DutyUnitLine("", sum(u.due for u in lines), sum(u.done for u in lines),
                          sum(u.missed for u in lines))
    rest = [u for u in lines if u not in shown]
    if rest:
        shown.append(DutyUnitLine(f"其余{len(rest)}个单位", totals.due - sum(u.due for u in shown),
                                  totals.done - sum(u.done for u in shown),
                                  totals.missed - sum(u.missed for u in shown)))
    return DutyDay(has_duties=bool(plan.duties), has_milestones=has_milestones,
                   units=tuple(shown), milestones_due=due_stones,
                   milestones_reached=reached_stones,
                   milestones_missed=tuple(sorted(missed_stones, key=lambda m: (m.date, m.problem))),
                   more_units=len(rest), whole=whole)


DUTY_HEADERS = ("常态化工作", "频次", "责任单位", "应完成日", "状态", "完成日", "报告人",
                "佐证资料（份）")


def duty_sheet_rows(session: Session, campaign_id: int, today: dt.date, *,
                    offices: Sequence[str] | None = None, town: str | None = None,
                    village: str | None = None) -> list[list[Any]]:
    """The ledger workbook's 常态化工作 sheet: every occurrence opened by today, in words.

    `offices`, `town`, `village` keep a unit's own (a town sees its own), like every number.
    """
    from duban.services.views.names import person_labels

    plan = load_plan_of(session, campaign_id)
    if not plan.duties:
        return []
    stmt = select(DutyOccurrence.id).where(DutyOccurrence.campaign_id == campaign_id)
    if offices is not None:
        stmt = stmt.where(DutyOccurrence.office_code.in_(list(offices)))
    if town is not None:
        stmt = stmt.where(DutyOccurrence.town_code == town)
    if village is not None:
        stmt = stmt.where(DutyOccurrence.village_code == village)
    mine = set(session.scalars(stmt))
    rows = [r for r in occurrence_rows(session, campaign_id, today) if r.id in mine]
    people = person_labels(session, [r.done_by for r in rows])
    return [[r.duty, r.how_often, r.place or r.office, r.due_on, r.state, r.done_on,
             people.get(r.done_by, r.done_by) if r.done_by else "", r.files] for r in rows]


def duty_scope(scope: Scope) -> dict[str, Any]:
    """The filter of `duty_sheet_rows` for a signed-in scope: a town sees its own, and so on."""
    if scope.sees_all:
        return {}
    if scope.role is Role.TOWN:
        return {"town": scope.town or ""}
    if scope.role is Role.VILLAGE:
        return {"village": scope.village or ""}
    return {"offices": sorted(scope.offices)}
