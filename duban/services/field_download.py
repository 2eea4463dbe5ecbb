"""What a cadre's phone downloads (issue 18): the visit form the plan asks for, the villages in
reach, one village's households with their facts as the register writes them and their open
problems; and a household's fact history.

A village account reaches its own village, a town account its town's villages, the county
office and the supervision groups every village; offices record no visits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, select

from duban.domain.clock import Clock
from duban.domain.columns import NO, YES
from duban.domain.detection import RULE_LABELS
from duban.domain.errors import NotFound
from duban.domain.facts import BUILTIN_FIELDS, catalogue, display, loaded
from duban.domain.household import (
    HOUSEHOLD_CATEGORY_LABELS,
    MONITORING_TYPE_LABELS,
    VISIT_MODE_LABELS,
    HouseholdCategory,
    MonitoringType,
)
from duban.domain.lifecycle import FINAL_STATUSES, STATUS_LABELS, Role, Status
from duban.domain.plan import PHOTO_TYPE_LABELS, PHOTO_TYPES, Plan, StageKind
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.scoping import Scope
from models import tables as t

# The register's fixed facts a phone form may change: fact key -> intake column key.
FACT_COLUMNS: dict[str, str] = {
    "members": "members",
    "category": "category",
    "monitoring_type": "monitoring_type",
    "income_per_person": "income",
    "house_grade": "house_grade",
    "tap_water": "tap_water",
    "school_age_children": "school_age",
    "children_out_of_school": "out_of_school",
    "medical_insurance": "insurance",
    "sanitary_toilet": "toilet",
}
# The fixed facts each built-in detection rule reads.
RULE_FACTS: dict[str, tuple[str, ...]] = {
    "income_below_line": ("income_per_person", "category", "monitoring_type"),
    "unsafe_house": ("house_grade",),
    "no_tap_water": ("tap_water",),
    "child_out_of_school": ("school_age_children", "children_out_of_school"),
    "no_medical_insurance": ("medical_insurance",),
    "no_sanitary_toilet": ("sanitary_toilet",),
}


# ---- the form ----------------------------------------------------------------------------


def _field_json(f: Any, *, plan_field: bool, read_by: list[str]) -> dict[str, Any]:
    values = list(f.values)
    kind = f.type.value
    if f.key == "category":
        values = list(HOUSEHOLD_CATEGORY_LABELS.values())
    elif f.key == "monitoring_type":
        values = list(MONITORING_TYPE_LABELS.values())
    if kind == "yes_no":
        values = [YES, NO]
    return {"key": f.key, "label": f.label, "type": kind, "values": values,
            "multiple": bool(f.multiple), "required": bool(f.required) and plan_field,
            "minimum": f.minimum, "maximum": f.maximum, "note": f.note,
            "plan_field": plan_field, "rules": read_by}


def visit_window(plan: Plan, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days a visit may fall on: from the 排查 stage's start (else the campaign's) to the
    campaign's last day, and never after today."""
    stage = plan.stage(StageKind.INVESTIGATE)
    lo = stage.start if stage is not None else plan.start
    hi = plan.end or today
    return lo, (min(hi, today) if today >= lo else hi)


def form_of(plan: Plan, today: dt.date) -> dict[str, Any]:
    """The visit form the plan asks for: the facts its detection rules read (fixed columns and
    the plan's own fields, each with the rules reading it), modes, signatures, photo limits."""
    readers: dict[str, list[str]] = {}
    for rule in plan.detection.rules:
        if not rule.enabled:
            continue
        label = RULE_LABELS.get(rule.code) or rule.name or rule.code
        keys = [c.field for c in rule.when] if rule.when else list(RULE_FACTS.get(rule.code, ()))
        for key in keys:
            readers.setdefault(key, []).append(label)
    known = catalogue(plan.household.fields)
    fields: list[dict[str, Any]] = []
    for f in BUILTIN_FIELDS:
        if f.key in readers:
            fields.append(_field_json(known[f.key], plan_field=False, read_by=readers[f.key]))
    fields.extend(_field_json(f, plan_field=True, read_by=readers.get(f.key, []))
                  for f in plan.household.fields)
    lo, hi = visit_window(plan, today)
    policy = plan.visits
    return {
        "fields": fields,
        "modes": list(VISIT_MODE_LABELS.values()),
        "household_signature": policy.household_signature,
        "photo_max_kb": policy.photo_max_kb,
        "photo_types": [PHOTO_TYPES[k] for k in policy.photo_types],
        "photo_type_labels": [PHOTO_TYPE_LABELS[k] for k in policy.photo_types],
        "max_photos": policy.max_photos,
        "window": [lo.isoformat(), hi.isoformat()],
    }


# ---- what a cadre may reach --------------------------------------------------------------


def _village_clause(scope: Scope) -> Any:
    """Which villages' households a scope may download and visit (None: every village)."""
    if scope.sees_all:
        return None
    if scope.role is Role.TOWN and scope.town:
        return t.village.c.town_code == scope.town
    if scope.role is Role.VILLAGE and scope.village:
        return t.village.c.code == scope.village
    return False


def covers_campaign(scope: Scope, campaign_id: int) -> bool:
    campaigns = scope.actor.campaigns
    return scope.sees_all or campaigns is None or campaign_id in campaigns


def may_visit(scope: Scope, town: str, village: str) -> bool:
    """Whether a scope may record visits to a household of this town and village."""
    if scope.sees_all:
        return True
    if scope.role is Role.TOWN:
        return scope.town == town
    if scope.role is Role.VILLAGE:
        return scope.village == village
    return False


def field_villages(uow: UnitOfWork, scope: Scope, campaign_id: int) -> list[dict[str, Any]]:
    """The villages a cadre may download, with their town and number of households."""
    if not covers_campaign(scope, campaign_id):
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    clause = _village_clause(scope)
    if clause is False:
        return []
    conn = uow.connection
    counts = func.count(t.household.c.id)
    stmt = (select(t.village.c.code, t.village.c.name, t.village.c.town_code, t.town.c.name,
                   counts)
            .join(t.town, and_(t.town.c.campaign_id == t.village.c.campaign_id,
                               t.town.c.code == t.village.c.town_code))
            .outerjoin(t.household, and_(t.household.c.campaign_id == t.village.c.campaign_id,
                                         t.household.c.village_code == t.village.c.code))
            .where(t.village.c.campaign_id == campaign_id)
            .group_by(t.village.c.code, t.village.c.name, t.village.c.town_code, t.town.c.name)
            .order_by(t.village.c.town_code, t.village.c.code))
    if clause is not None:
        stmt = stmt.where(clause)
    return [{"code": code, "name": name, "town": town, "town_name": town_name,
             "households": int(n)} for code, name, town, town_name, n in conn.execute(stmt)]


HOUSEHOLD_COLUMNS = (t.household.c.household_id, t.household.c.town_code,
                      t.household.c.village_code, t.household.c.head, t.household.c.members,
                      t.household.c.category, t.household.c.monitoring_type,
                      t.household.c.income_per_person, t.household.c.house_grade,
                      t.household.c.tap_water, t.household.c.school_age_children,
                      t.household.c.children_out_of_school, t.household.c.medical_insurance,
                      t.household.c.sanitary_toilet, t.household.c.facts)


def _written(key: str, value: Any) -> str:
    """A fixed fact's value as the register writes it (labels, 是/否)."""
    if value is None:
        return ""
    if key == "category":
        return HOUSEHOLD_CATEGORY_LABELS[HouseholdCategory(value)]
    if key == "monitoring_type":
        return MONITORING_TYPE_LABELS[MonitoringType(value)]
    if isinstance(value, bool):
        return YES if value else NO
    return str(value)


def written_facts(row: Any, plan: Plan) -> dict[str, str]:
    out = {key: _written(key, row._mapping[t.household.c[key]]) for key in FACT_COLUMNS}
    facts = loaded(row.facts)
    for f in plan.household.fields:
        out[f.key] = display(facts.get(f.key))
    return out


def village_download(uow: UnitOfWork, clock: Clock, scope: Scope, campaign_id: int,
                     village: str) -> dict[str, Any]:
    """One village's households for the phone: facts as the register writes them, open
    problems, and the visits already recorded."""
    if not covers_campaign(scope, campaign_id):
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    conn = uow.connection
    place = conn.execute(select(t.village.c.town_code, t.village.c.name, t.town.c.name)
                         .join(t.town, and_(t.town.c.campaign_id == t.village.c.campaign_id,
                                            t.town.c.code == t.village.c.town_code))
                         .where(t.village.c.campaign_id == campaign_id,
                                t.village.c.code == village)).first()
    if place is None or not may_visit(scope, place[0], village):
        raise NotFound("该村不存在或不在您负责的范围")
    plan = load_plan_of(uow.session, campaign_id)
    rows = conn.execute(select(*HOUSEHOLD_COLUMNS).where(
        t.household.c.campaign_id == campaign_id, t.household.c.village_code == village)
        .order_by(t.household.c.household_id)).all()
    categories = {c.code: c.name for c in plan.categories}
    final = [s.value for s in FINAL_STATUSES]
    problems: dict[str, list[dict[str, Any]]] = {}
    for hid, code, category, description, status, deadline in conn.execute(
            select(t.problem.c.household_id, t.problem.c.code, t.problem.c.category,
                   t.problem.c.description, t.problem.c.status, t.problem.c.deadline)
            .where(t.problem.c.campaign_id == campaign_id, t.problem.c.village_code == village,
                   t.problem.c.household_id.is_not(None), t.problem.c.status.not_in(final))
            .order_by(t.problem.c.code)):
        problems.setdefault(hid, []).append({
            "code": code, "category": categories.get(category, category),
            "description": description, "status": STATUS_LABELS[Status(status)],
            "deadline": deadline.isoformat() if deadline else None})
    visits: dict[str, dict[str, Any]] = {}
    for hid, n, last in conn.execute(
            select(t.visit.c.household_id, func.count(), func.max(t.visit.c.visited_on))
            .join(t.household, and_(t.household.c.campaign_id == t.visit.c.campaign_id,
                                    t.household.c.household_id == t.visit.c.household_id))
            .where(t.visit.c.campaign_id == campaign_id, t.household.c.village_code == village)
            .group_by(t.visit.c.household_id)):
        visits[hid] = {"count": int(n), "last": last.isoformat() if last else None}
    households = [{"id": r.household_id, "head": r.head, "facts": written_facts(r, plan),
                   "problems": problems.get(r.household_id, []),
                   "visits": visits.get(r.household_id, {"count": 0, "last": None})}
                  for r in rows]
    return {"campaign": campaign_id, "village": village, "village_name": place[1],
            "town": place[0], "town_name": place[2], "plan_version": _plan_version(uow,
                                                                                   campaign_id),
            "downloaded_at": clock.now().isoformat(), "households": households}


def _plan_version(uow: UnitOfWork, campaign_id: int) -> int:
    return int(uow.connection.scalar(select(t.campaign.c.plan_version)
                                     .where(t.campaign.c.id == campaign_id)) or 0)


def household_in_reach(uow: UnitOfWork, scope: Scope, campaign_id: int,
                       household_id: str) -> None:
    """Raise NotFound unless the household exists and the scope may visit it."""
    row = uow.connection.execute(select(t.household.c.town_code, t.household.c.village_code)
                                 .where(t.household.c.campaign_id == campaign_id,
                                        t.household.c.household_id == household_id)).first()
    if row is None or not covers_campaign(scope, campaign_id) or not may_visit(scope, row[0], row[1]):
        raise NotFound(f"农户不存在或不在您负责的范围：{household_id}")


def fact_history(uow: UnitOfWork, campaign_id: int, household_id: str
                 ) -> list[dict[str, Any]]:
    """A household's fact changes, oldest first: which fact, from, to, who, when, which visit."""
    j = t.household_fact_change.outerjoin(
        t.field_visit, t.field_visit.c.id == t.household_fact_change.c.field_visit_id)
    return [dict(r._mapping) for r in uow.connection.execute(
        select(t.household_fact_change.c.fact, t.household_fact_change.c.old_value,
               t.household_fact_change.c.new_value, t.household_fact_change.c.changed_by,
               t.app_user.c.name.label("changed_by_name"),
               t.household_fact_change.c.changed_at, t.field_visit.c.client_id,
               t.field_visit.c.visit_id)
        .select_from(j.outerjoin(t.app_user, t.app_user.c.username
                                 == t.household_fact_change.c.changed_by))
        .where(t.household_fact_change.c.campaign_id == campaign_id,
               t.household_fact_change.c.household_id == household_id)
        .order_by(t.household_fact_change.c.id))]
