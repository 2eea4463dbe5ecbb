"""The one place that turns a user into query filters: who may see which rows.

A town sees its own villages only; an office the problems routed to it as lead or co-office
(including offices it stands in for); a village its own households and problems; the county
office and the supervision groups see everything. Every page, export and API call that reads
problems, households, visits or notices goes through these clauses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from duban.domain.errors import NotFound, PermissionDenied
from duban.domain.lifecycle import Actor, Role, Status
from duban.domain.routing import village_office_code
from duban.services.actors import resolve_actor
from models import (
    Household,
    Office,
    Problem,
    ProblemCoOffice,
    User,
    Village,
)

ALL_SEEING = frozenset({Role.COUNTY, Role.SUPERVISOR})


@dataclass(frozen=True)
class Scope:
    """What a user may see: their actor (role, offices incl. substitutes) and their place."""

    actor: Actor
    town: str | None = None
    village: str | None = None

    @property
    def role(self) -> Role:
        """The user's role."""
        return self.actor.role

    @property
    def sees_all(self) -> bool:
        """County office and supervision groups see every row (also as a user's extra role)."""
        return bool(self.actor.roles & ALL_SEEING)

    @property
    def offices(self) -> frozenset[str]:
        """The offices the user acts for today (own office plus substitutions)."""
        return self.actor.offices

    def key(self) -> str:
        """A stable string naming this scope, for caching scoped aggregates."""
        if self.sees_all:
            return "all"
        return "|".join([self.role.value, ",".join(sorted(self.offices)), self.town or "",
                         self.village or ""])


def whole_campaign(user: str = "system") -> Scope:
    """The scope of duban's operator at the command line: every row, as the county office."""
    return Scope(actor=Actor(user=user, role=Role.COUNTY))


def scope_for(session: Session, username: str, on: dt.date) -> Scope:
    """The scope of a user on a day (substitutions count only while in force)."""
    actor = resolve_actor(session, username, on)
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None  # resolve_actor raised otherwise
    return Scope(actor=actor, town=user.town_code, village=user.village_code)


@dataclass(frozen=True)
class Reach:
    """The one access rule on problems, as data: which problems a scope reaches.

    Everything, or the problems of one town, of one village, or led by (or co-routed to) one
    of some offices; nothing when none is set. `problem_clause` renders it as SQL and
    `admits` as a test on a row's place and offices (for counts summed in memory); both read
    the same `reach_of`, so a filter can only narrow a scope, never replace it.
    """

    everything: bool = False
    town: str | None = None
    village: str | None = None
    offices: frozenset[str] = frozenset()
    # The campaigns an office, town or village account belongs to; None: any campaign.
    campaigns: frozenset[int] | None = None

    def covers(self, campaign_id: int) -> bool:
        """Whether the account may see anything of this campaign at all."""
        return self.campaigns is None or campaign_id in self.campaigns

    def admits(self, town: str | None, village: str | None, lead_office: str | None,
               co_offices: Iterable[str] = ()) -> bool:
        """Whether a problem with this place and these offices is in reach."""
        if self.everything:
            return True
        if self.town is not None:
            return town == self.town
        if self.village is not None:
            return village == self.village
        if self.offices:
            return lead_office in self.offices or any(o in self.offices for o in co_offices)
        return False


def reach_of(scope: Scope) -> Reach:
    """The problems a scope reaches: the rule every count, list, export and chart obeys."""
    if scope.sees_all:
        return Reach(everything=True)
    campaigns = scope.actor.campaigns
    if scope.role == Role.TOWN:
        return Reach(town=scope.town, campaigns=campaigns)
    if scope.role == Role.VILLAGE:
        return Reach(village=scope.village, campaigns=campaigns)
    if scope.role == Role.OFFICE:
        return Reach(offices=scope.offices, campaigns=campaigns)
    return Reach()


def in_campaigns(scope: Scope, column: Any, clause: ColumnElement[bool], *,
                 bound: bool = False) -> ColumnElement[bool]:
    """`clause`, narrowed to the campaigns an office, town or village account belongs to;
    `bound`: their ids are the parameter s_campaigns (see reach_values)."""
    campaigns = scope.actor.campaigns
    if campaigns is None or scope.sees_all:
        return clause
    if not campaigns:
        return false()
    ids: Any = bindparam("s_campaigns", expanding=True) if bound else sorted(campaigns)
    return and_(clause, column.in_(ids))


def problem_clause(scope: Scope, *, bound: bool = False,
                   campaign_id: int | None = None) -> ColumnElement[bool]:
    """The WHERE clause on Problem that a scope allows; `bound`: the reach's values are
    named parameters (reach_values), so one statement serves every scope of its kind.
    `campaign_id`: the caller reads that campaign only, so an office's co-routed problems
    are read from that campaign's rows of the co-office index (co_routed)."""
    return in_campaigns(scope, Problem.campaign_id,
                        _problem_clause(scope, bound, campaign_id), bound=bound)


def co_routed(offices: Any, campaign_id: int | None = None) -> Select[Any]:
    """The ids of the problems these offices are a co-office of, of one campaign when given.

    Give the campaign whenever the caller has one: the co-office index leads with it, so
    the ids come from that campaign's stretch alone. Without it they come from every
    campaign on the database (a city's ten counties: 46,368 rows read for 5,859 kept)."""
    stmt = select(ProblemCoOffice.problem_id).where(ProblemCoOffice.office_code.in_(offices))
    if campaign_id is not None:
        stmt = stmt.where(ProblemCoOffice.campaign_id == campaign_id)
    return stmt


def _problem_clause(scope: Scope, bound: bool = False,
                    campaign_id: int | None = None) -> ColumnElement[bool]:
    reach = reach_of(scope)
    if reach.everything:
        return true()
    if reach.town is not None:
        return Problem.town_code == (bindparam("s_town") if bound else reach.town)
    if reach.village is not None:
        return Problem.village_code == (bindparam("s_village") if bound else reach.village)
    if reach.offices:
        offices: Any = (bindparam("s_offices", expanding=True) if bound
                        else sorted(reach.offices))
        return or_(Problem.lead_office.in_(offices),
                   Problem.id.in_(co_routed(offices, campaign_id)))
    return false()


def reach_values(scope: Scope) -> dict[str, Any]:
    """The values of a scope's reach, by the names its bound clauses give them (s_town,
    s_village, s_offices, s_campaigns); a kept statement is run with them."""
    values: dict[str, Any] = {"s_offices": sorted(scope.offices)}
    if scope.town is not None:
        values["s_town"] = scope.town
    if scope.village is not None:
        values["s_village"] = scope.village
    if scope.actor.campaigns is not None:
        values["s_campaigns"] = sorted(scope.actor.campaigns)
    return values


def reach_kind(scope: Scope, campaign_id: int) -> tuple[Any, ...]:
    """What a bound clause of this scope is built from, without the reach's values: scopes
    of one kind share their statements (a town's clause is the same for every town)."""
    campaigns = scope.actor.campaigns
    return (scope.sees_all, scope.role, scope.town is not None, scope.village is not None,
            bool(scope.offices), Role.OFFICE in scope.actor.roles,
            None if campaigns is None else bool(campaigns), reach_of(scope).covers(campaign_id))


def scoped_problems(stmt: Select[Any], scope: Scope,
                    campaign_id: int | None = None) -> Select[Any]:
    """A SELECT over Problem narrowed to a scope (the SELECT reads `campaign_id` only, when
    given: see problem_clause)."""
    if scope.sees_all:
        return stmt
    return stmt.where(problem_clause(scope, campaign_id=campaign_id))


# Above this many problems, an office's rows are listed by walking a sort index (they are
# dense enough to fill a page soon); below it, their ids are gathered first and sorted.
GATHER_AT_MOST = 20_000


def office_shape(session: Session, campaign_id: int, offices: Iterable[str]) -> str:
    """How office_condition should look for these offices: "lead", "gather" or "or"."""
    codes = sorted(set(offices))
    co_rows = _capped(session, co_routed(codes, campaign_id))
    if co_rows == 0:
        return "lead"
    leads = select(Problem.id).where(Problem.campaign_id == campaign_id,
                                     Problem.lead_office.in_(codes))
    return "gather" if co_rows + _capped(session, leads) <= GATHER_AT_MOST else "or"


def office_condition(session: Session, campaign_id: int, offices: Iterable[str], *,
                     shape: str | None = None, probe: bool = False,
                     undated: bool = False, param: str | None = None) -> ColumnElement[bool]:
    """Problems of a campaign led by, or co-routed to, any of these offices, in the shape the
    planner handles best for listing.

    Most offices are nobody's co-office: for them this is a plain condition on the lead
    office, which the planner can estimate and serve from an index. An office with a few
    co-routed problems gets its ids gathered from the lead-office and co-office indexes; one
    with many keeps the OR, which the planner checks row by row while walking a sort index.

    `probe`: the caller walks a sort index and stops after a page, so the co-office part is
    probed row by row through the co-office key. Without it PostgreSQL hashes every id the
    offices co-work (up to 194,000 in the bench) before reading the first row, 20–150 ms,
    which pays only when most rows are read (a count, a sparse filter's gather).

    `undated`: only the problems without a deadline are wanted (the caller adds that
    condition). An office others co-route to then gets the ids of its undated problems
    gathered from indexes alone (see undated_ids), not every undated row of the campaign
    read from the table to check its lead and co-offices.

    `param`: the offices' codes are that named parameter (an expanding list), not values in
    the clause (see reach_values); their shape is still theirs.
    """
    codes = sorted(set(offices))
    if not codes:
        return false()
    shape = shape or office_shape(session, campaign_id, codes)
    listed: Any = bindparam(param, expanding=True) if param else codes
    lead = Problem.lead_office.in_(listed)
    if shape == "lead":
        return lead
    if undated:
        return Problem.id.in_(undated_ids(campaign_id, codes, param=param))
    if shape == "gather":
        led = aliased(Problem)
        return Problem.id.in_(union_all(
            select(led.id).where(led.campaign_id == campaign_id, led.lead_office.in_(listed)),
            co_routed(listed, campaign_id)))
    # EXISTS, probed per row through the co-office key, not IN, which hashes every
    # co-routed id of the office again for each query.
    probed = select(ProblemCoOffice.problem_id).where(ProblemCoOffice.problem_id == Problem.id,
                                                      ProblemCoOffice.office_code.in_(listed))
    if probe:
        # OFFSET 0 keeps PostgreSQL from turning the EXISTS into a hashed subplan (it only
        # rewrites EXISTS subqueries without one): each row is then probed on its own.
        probed = probed.offset(0)
    return or_(lead, probed.exists())


def undated_ids(campaign_id: int, offices: Iterable[str], *,
                param: str | None = None) -> CompoundSelect[Any]:
    """The ids of a campaign's problems without a deadline that these offices lead or are
    co-offices of: those they lead from the lead-office deadline index, those they are
    co-offices of among the undated problems that were routed (the status and deadline
    index), each probed in the co-office key.

    The undated problems are mostly 待交办 (unrouted: no lead, no co-office): the ledger
    sorted by deadline with its undated rows first (descending on PostgreSQL) read all of
    them (~30,000 in the bench) from the table, for an office others co-route to, to keep
    none (issue 17, item 4). An unrouted problem has no co-office: co-offices are written
    when a problem is routed (交办, 改派, a plan amendment's co-office change of an open
    routed problem) and no move leads back to 待交办 (tests/web/test_ledger_walks.py).
    `param`: the codes are that named parameter (see office_condition)."""
    codes: Any = bindparam(param, expanding=True) if param else sorted(set(offices))
    led, undated = aliased(Problem), aliased(Problem)
    co = select(ProblemCoOffice.problem_id).where(ProblemCoOffice.problem_id == undated.id,
                                                  ProblemCoOffice.office_code.in_(codes))
    return union_all(
        select(led.id).where(led.campaign_id == campaign_id, led.lead_office.in_(codes),
                             led.deadline.is_(None)),
        select(undated.id).where(undated.campaign_id == campaign_id,
                                 undated.status.in_(ROUTED_STATUSES),
                                 undated.deadline.is_(None), co.exists()))


# Every status but 待交办: a problem that was routed (only those have co-offices).
ROUTED_STATUSES = tuple(s.value for s in Status if s is not Status.UNROUTED)


def _capped(session: Session, ids: Select[Any]) -> int:
    """How many rows a one-column SELECT gives, counting no further than GATHER_AT_MOST + 1."""
    return int(session.scalar(select(func.count()).select_from(
        ids.limit(GATHER_AT_MOST + 1).subquery())) or 0)


def listing_clause(session: Session, scope: Scope, campaign_id: int, *,
                   shapes: Mapping[frozenset[str], str] | None = None,
                   probe: bool = False, undated: bool = False,
                   bound: bool = False) -> ColumnElement[bool]:
    """problem_clause shaped for listing many rows (see office_condition); `shapes` may
    carry office_shape answers a caller keeps, `probe` says a sort index is walked,
    `undated` that only problems without a deadline are wanted, `bound` that the reach's
    values are named parameters (reach_values)."""
    if scope.role == Role.OFFICE:
        if not reach_of(scope).covers(campaign_id):
            return false()
        return office_condition(session, campaign_id, scope.offices,
                                shape=(shapes or {}).get(scope.offices), probe=probe,
                                undated=undated, param="s_offices" if bound else None)
    return problem_clause(scope, bound=bound, campaign_id=campaign_id)


def visible_problem(session: Session, scope: Scope, problem_id: int) -> Problem:
    """A problem the scope may see, or NotFound (the same answer as for a missing one)."""
    problem = session.scalar(
        scoped_problems(select(Problem).where(Problem.id == problem_id), scope)
    )
    if problem is None:
        raise NotFound(f"问题不存在或无权查看：编号 {problem_id}")
    return problem


def household_clause(scope: Scope) -> ColumnElement[bool]:
    """The WHERE clause on Household (and, through its columns, coverage) a scope allows."""
    if scope.sees_all:
        return true()
    return in_campaigns(scope, Household.campaign_id, _household_clause(scope))


def _household_clause(scope: Scope) -> ColumnElement[bool]:
    if scope.role == Role.TOWN:
        return Household.town_code == scope.town if scope.town else false()
    if scope.role == Role.VILLAGE:
        return Household.village_code == scope.village if scope.village else false()
    return false()  # offices work on problems, not on the household register


def village_clause(scope: Scope) -> ColumnElement[bool]:
    """The WHERE clause on Village: the villages a scope covers."""
    if scope.sees_all:
        return true()
    return in_campaigns(scope, Village.campaign_id, _village_clause(scope))


def _village_clause(scope: Scope) -> ColumnElement[bool]:
    if scope.role == Role.TOWN:
        return Village.town_code == scope.town if scope.town else false()
    if scope.role == Role.VILLAGE:
        return Village.code == scope.village if scope.village else false()
    return false()


def office_clause(scope: Scope) -> ColumnElement[bool]:
    """The WHERE clause on Office: offices whose mail (notices, reminders) a scope may read.

    An office reads its own; a town the offices and villages of its town; a village its own
    village office; county and supervision groups all.
    """
    if scope.sees_all:
        return true()
    return in_campaigns(scope, Office.campaign_id, _office_clause(scope))


def _office_clause(scope: Scope) -> ColumnElement[bool]:
    if scope.role == Role.OFFICE:
        return Office.code.in_(sorted(scope.offices)) if scope.offices else false()
    if scope.role == Role.TOWN:
        return Office.town_code == scope.town if scope.town else false()
    if scope.role == Role.VILLAGE and scope.village:
        return Office.code == village_office_code(scope.village)
    return false()


def visible_office_codes(session: Session, scope: Scope, campaign_id: int) -> set[str] | None:
    """The office codes a scope may read mail for in a campaign; None means all."""
    if scope.sees_all:
        return None
    return set(session.scalars(
        select(Office.code).where(Office.campaign_id == campaign_id, office_clause(scope))
    ))


IMPORTERS = (Role.COUNTY, Role.TOWN)  # who may import at all (a tuple: messages list them in order)


def importable_towns(scope: Scope) -> list[str] | None:
    """The towns whose rows the user may import: None for every town (the county office).

    A town office imports its own town's files; other roles import nothing.
    """
    if scope.role == Role.COUNTY:
        return None
    if scope.role != Role.TOWN:
        raise PermissionDenied("导入仅限县级办公室和乡镇使用")
    if scope.town is None:
        raise PermissionDenied("您的账号没有设置所属乡镇，不能导入，请联系县级办公室")
    return [scope.town]
