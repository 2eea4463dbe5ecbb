"""Use cases of intake: import the three files and detect problems.

Each import is one transaction: every row is validated first; on any error nothing is written
and the caller gets ImportRejected with a report it can show or save as an annotated copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from duban.adapters.batch import gc_paused
from duban.adapters.intake import (
    ColumnRows,
    HouseholdLookup,
    Kind,
    Progress,
    ReferenceData,
    plan_columns,
    read_rows,
    validate,
)
from duban.domain.clock import Clock, local_today
from duban.domain.detection import ColumnTest, detector, firing_tests
from duban.domain.facts import loaded, stored
from duban.domain.household import (
    HouseholdCategory,
    HouseholdFacts,
    MonitoringType,
    ReportedProblem,
    VisitRecord,
)
from duban.domain.lifecycle import FINAL_STATUSES
from duban.domain.plan import Plan
from duban.services.bulk import ANALYZE_ROWS, insert_columns, insert_rows, sqlite_in, where_in
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.problems import RecordResult, record_problems
from duban.services.views.kept import forget_kept
from models import Household, VillageHouseholds, Visit, tables
from models.tables import MARK_EVERY

DETECTED_BY = "系统比对"  # who "found" a problem that a detection rule raised from the register

HOUSEHOLD_FIELDS = (
    "town_code", "village_code", "head", "members", "category", "monitoring_type",
    "income_per_person", "house_grade", "tap_water", "school_age_children",
    "children_out_of_school", "medical_insurance", "sanitary_toilet", "facts",
)  # fmt: skip


VISIT_COLUMNS = ("campaign_id", "household_id", "visitor", "visited_on", "mode", "answered_by",
                 "findings")


@dataclass
class ImportResult:
    """What an import wrote."""

    kind: str
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    problems: RecordResult | None = None


def reference_data(session: Session, campaign_id: int, plan: Plan, kind: str,
                   towns: Collection[str] | None = None) -> ReferenceData:
    """What a file of this kind is checked against: the plan's scope, and known households.

    `towns`, when given, are the only towns the importer answers for (a town clerk's file).
    """
    # Visits and findings may fall anywhere in the campaign, plus a little slack either side.
    slack = dt.timedelta(days=31)
    return ReferenceData.from_plan(
        plan, date_range=(plan.start - slack,
                          plan.end + slack if plan.end is not None else dt.date.max),
        households=(_register_lookup(session, campaign_id)
                    if kind in ("visits", "problems") else None),
        allowed_towns=towns,
    )


# SQLite's own name for the index of household's UNIQUE (campaign_id, household_id), the
# table's first unique constraint (tests/integration/test_intake_columns.py checks it is so).
REGISTER_KEY_INDEX = "sqlite_autoindex_household_1"

# SQLite, having no statistics, takes the covering (campaign, village, town, id) index for
# `campaign_id = ? AND household_id IN (…)` and scans the whole campaign for each chunk of ids
# (70 ms at 300,000 households, even for 10 ids); pinned to the unique index it finds each id.
_SQLITE_REGISTER_LOOKUP = (
    "SELECT household_id, town_code, village_code FROM household "
    f"INDEXED BY {REGISTER_KEY_INDEX} WHERE campaign_id = ? AND household_id IN ({{marks}})"
)


def _register_lookup(session: Session, campaign_id: int) -> HouseholdLookup:
    """Where the register puts each of the asked household ids (only those asked are read)."""

    def lookup(ids: Collection[str]) -> dict[str, tuple[str, str] | None]:
        wanted = sorted(ids)
        if session.get_bind().dialect.name == "sqlite":
            return {hid: (town, village) for hid, town, village
                    in sqlite_in(session, _SQLITE_REGISTER_LOOKUP, (campaign_id,), wanted)}
        stmt = select(Household.household_id, Household.town_code, Household.village_code
                      ).where(Household.campaign_id == campaign_id)
        return {hid: (town, village) for hid, town, village
                in where_in(session, stmt, Household.household_id, wanted)}

    return lookup


def import_file(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    kind: Kind,
    path: str | Path,
    *,
    imported_by: str,
    progress: Callable[[str], Progress] | None = None,
    towns: Collection[str] | None = None,
) -> ImportResult:
    """Read, validate and write one intake file in one transaction (all rows or none).

    `progress`, when given, makes a progress callback for each named phase (校验, 写入).
    `towns` limits the rows to those towns (a town office imports only its own).
    """
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    # The register's columns follow the plan: its own household fields come after the fixed ones.
    sheet = read_rows(path, kind, plan_columns(plan.household.fields) if kind == "households"
                      else ())
    checked = validate(sheet, reference_data(session, campaign_id, plan, kind, towns),
                       progress=progress("校验") if progress else None)
    writing = progress("写入") if progress else None
    if kind == "households":
        result = write_households(session, campaign_id, checked.rows, progress=writing)
        if result.created + result.updated >= ANALYZE_ROWS:
            uow.analyze_after_commit("household", "campaign_id", "household_id")
    elif kind == "visits":
        result = write_visits(session, campaign_id, checked.rows, progress=writing)
    else:
        result = ImportResult(kind="problems", rows=len(checked.rows))
        result.problems = record_problems(uow, clock, campaign_id, checked.rows,
                                             recorded_by=imported_by, progress=writing)
        result.created = result.problems.created
        result.unchanged = result.problems.skipped_duplicates
        forget_kept(session, campaign_id)  # the ledger changed: no process shows the old counts
    result.warnings = list(checked.warnings)
    return result


def _register_rows(campaign_id: int, households: Sequence[HouseholdFacts]
                   ) -> Iterator[tuple[Any, ...]]:
    """(campaign, 户编号, the HOUSEHOLD_FIELDS columns) of each household, as stored."""
    if isinstance(households, ColumnRows):
        return zip(*_register_columns(campaign_id, households), strict=True)
    return ((campaign_id, h.household_id, *_household_values(h)) for h in households)


def _register_columns(campaign_id: int, households: ColumnRows[HouseholdFacts]
                      ) -> list[Sequence[Any]]:
    """The columns of `_register_rows`, from a validated file's columns: each enum and each
    distinct facts object converted once, without building a record or a row per household."""
    (ids, towns, villages, heads, members, categories, monitoring, incomes, grades, water,
     school, out, insurance, toilets, facts) = households.columns
    enums = {v: v.value for v in {*categories, *monitoring} if v is not None} | {None: None}
    # Facts are dicts (unhashable), mostly one shared empty one: stored once per object.
    objects = dict(zip(map(id, facts), facts, strict=True))
    kept = {key: stored(value) for key, value in objects.items()}
    return [[campaign_id] * len(ids), ids, towns, villages, heads, members,
            list(map(enums.__getitem__, categories)), list(map(enums.__getitem__, monitoring)),
            incomes, grades, water, school, out, insurance, toilets,
            list(map(kept.__getitem__, map(id, facts)))]


def _household_values(h: HouseholdFacts) -> tuple[Any, ...]:
    """The register columns of a household, in HOUSEHOLD_FIELDS order."""
    return (
        h.town, h.village, h.head, h.members, h.category.value,
        h.monitoring_type.value if h.monitoring_type else None, h.income_per_person,
        h.house_grade, h.tap_water, h.school_age_children, h.children_out_of_school,
        h.medical_insurance, h.sanitary_toilet, stored(h.plan_facts),
    )  # fmt: skip


def _out_of(progress: Progress | None, total: int) -> Callable[[int], None] | None:
    """Rows written so far, told to `progress` against a known total."""
    if progress is None:
        return None
    return lambda done: progress(done, total)


@gc_paused()
def write_households(
    session: Session, campaign_id: int, households: Sequence[HouseholdFacts],
    progress: Progress | None = None,
) -> ImportResult:
    """Insert new households and update changed ones, keyed by 户编号 (re-imports add nothing)."""
    result = ImportResult(kind="households", rows=len(households))
    existing: dict[str, tuple[Any, ...]] = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            select(Household.household_id, Household.id,
                   *(getattr(Household, f) for f in HOUSEHOLD_FIELDS))
            .where(Household.campaign_id == campaign_id)
        )
    }
    columns = ("campaign_id", "household_id", *HOUSEHOLD_FIELDS)
    if not existing and isinstance(households, ColumnRows):
        # A first import of a validated file: every row is new, written from its columns.
        insert_columns(session, cast(Table, Household.__table__), columns,
                       _register_columns(campaign_id, households),
                       progress=_out_of(progress, len(households)))
        result.created = len(households)
        recount_villages(session, campaign_id)
        return result
    new_rows: list[tuple[Any, ...]] = []
    changed: list[dict[str, Any]] = []
    rows = _register_rows(campaign_id, households)
    if not existing:  # a first import: every row is new
        new_rows = list(rows)
    for row in rows if existing else ():
        current = existing.get(row[1])
        if current is None:
            new_rows.append(row)
        elif row[2:] != current[1:]:
            changed.append({"id": current[0], **dict(zip(HOUSEHOLD_FIELDS, row[2:], strict=True))})
        else:
            result.unchanged += 1
    insert_rows(session, cast(Table, Household.__table__), columns, new_rows,
                progress=_out_of(progress, len(new_rows) + len(changed)))
    if changed:
        session.execute(update(Household), changed)
        if progress is not None:
            progress(len(new_rows) + len(changed), len(new_rows) + len(changed))
    result.created, result.updated = len(new_rows), len(changed)
    if new_rows or changed:
        recount_villages(session, campaign_id)
    return result


def recount_villages(session: Session, campaign_id: int) -> None:
    """Count the campaign's households per village again into `village_households`, with every
    MARK_EVERY-th 户编号, in the caller's transaction: what the spot-check draw sizes its strata
    by and walks a drawn position from (one pass over the register's index at the write that
    changed it, instead of one each review day)."""
    h = Household
    place = (h.village_code, h.town_code)
    villages = session.execute(
        select(*place, func.count(), func.min(h.household_id))
        .where(h.campaign_id == campaign_id).group_by(*place)).all()
    # The next mark, MARK_EVERY entries on in the index from the last (a row_number() window
    # over the register cost ~1 µs a household: 3 s at 3,000,000 on SQLite).
    after = (select(h.household_id)
             .where(h.campaign_id == campaign_id, h.village_code == bindparam("village"),
                    h.town_code == bindparam("town"), h.household_id >= bindparam("mark"))
             .order_by(h.household_id).limit(1).offset(MARK_EVERY))
    rows = []
    for village, town, n, first in villages:
        marks = [first]
        for _ in range((n - 1) // MARK_EVERY):
            mark = session.scalar(after, {"village": village, "town": town, "mark": marks[-1]})
            assert mark is not None, "a village counted n households holds its marks"
            marks.append(mark)
        rows.append({"campaign_id": campaign_id, "village_code": village, "town_code": town,
                     "households": n, "marks": marks})
    table = cast(Table, VillageHouseholds.__table__)
    session.execute(delete(table).where(table.c.campaign_id == campaign_id))
    if rows:
        session.execute(insert(table), rows)


@gc_paused()
def write_visits(session: Session, campaign_id: int, visits: Sequence[VisitRecord],
                 progress: Progress | None = None) -> ImportResult:
    """Insert visits not already recorded (household, day and visitor make a visit unique)."""
    result = ImportResult(kind="visits", rows=len(visits))
    seen = {
        (r[0], r[1], r[2])
        for r in session.execute(
            select(Visit.household_id, Visit.visited_on, Visit.visitor)
            .where(Visit.campaign_id == campaign_id)
        )
    }
    rows: list[tuple[Any, ...]] = []
    for v in visits:
        key = (v.household_id, v.visited_on, v.visitor)
        if key in seen:
            result.unchanged += 1
            continue
        seen.add(key)
        rows.append((campaign_id, v.household_id, v.visitor, v.visited_on, v.mode.value,
                     v.answered_by, v.findings))
    insert_rows(session, cast(Table, Visit.__table__), VISIT_COLUMNS, rows,
                progress=_out_of(progress, len(rows)))
    result.created = len(rows)
    return result


def import_records(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    *,
    households: Sequence[HouseholdFacts] = (),
    visits: Sequence[VisitRecord] = (),
    problems: Sequence[ReportedProblem] = (),
    imported_by: str,
) -> list[ImportResult]:
    """Write already-validated records (e.g. a generated county) in one transaction."""
    session = uow.session
    results = [write_households(session, campaign_id, households),
               write_visits(session, campaign_id, visits)]
    if results[0].created + results[0].updated >= ANALYZE_ROWS:
        uow.analyze_after_commit("household", "campaign_id", "household_id")
    recorded = record_problems(uow, clock, campaign_id, problems,
                                  recorded_by=imported_by)
    results.append(ImportResult(kind="problems", rows=len(problems),
                                created=recorded.created,
                                unchanged=recorded.skipped_duplicates, problems=recorded))
    return results


# The register columns detection reads, in HouseholdFacts' field order (facts come last).
_FACT_COLUMNS = ("household_id", "town_code", "village_code", "head", "members", "category",
                 "monitoring_type", "income_per_person", "house_grade", "tap_water",
                 "school_age_children", "children_out_of_school", "medical_insurance",
                 "sanitary_toilet")


# HouseholdFacts attributes stored under another column name.
_COLUMN_OF = {"town": "town_code", "village": "village_code"}


def _column_test(test: ColumnTest) -> ColumnElement[bool]:
    """A detection rule's column test as SQL on the household table."""
    column = tables.household.c[_COLUMN_OF.get(test.column, test.column)]
    if test.op == "<":
        return column < test.value
    if test.op == ">":
        return column > test.value
    if test.op == "!=":
        return column != test.value
    if test.op == "in":
        return column.in_(cast(Collection[Any], test.value))
    return not_(column)


def register_read(plan: Plan, campaign_id: int) -> Select[Any] | None:
    """The register rows detection must check, in id order: only households some rule fires on
    when every enabled rule is a built-in one (the database filters the register instead of
    Python reading all of it); None when no rule is enabled."""
    h = tables.household
    columns = [h.c[name] for name in _FACT_COLUMNS]
    if plan.household.fields:
        columns.append(h.c.facts)
    stmt = select(*columns).where(h.c.campaign_id == campaign_id).order_by(h.c.id)
    tests = firing_tests(plan.detection)
    if tests is None:
        return stmt
    if not tests:
        return None
    return stmt.where(or_(*(and_(*map(_column_test, rule)) for rule in tests)))


@gc_paused()
def detect_problems(uow: UnitOfWork, clock: Clock, campaign_id: int, *,
                    detected_by: str = "system",
                    households: Iterable[str] | None = None,
                    progress: Progress | None = None,
                    pace: Callable[[], None] | None = None) -> RecordResult:
    """Run the plan's detection rules over the register and put what fires on the ledger.

    A household that already has an open problem of the same category gets no second one;
    `households`, when given, limits the run to those households; `progress` hears the
    problems written (done, total); `pace`, when given, is called between batches of the
    register's read and of the writes (a tick's stage pauses there: duban/domain/pacing.py).
    """
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    policy = plan.detection
    if not policy.rules:
        return RecordResult()
    source = policy.source or (plan.sources[0].code if plan.sources else "")
    final = [s.value for s in FINAL_STATUSES]
    p = tables.problem  # Core columns: the ORM's row handling cost more than the read
    open_pairs: set[tuple[str | None, str]] = {
        (hid, category)
        for hid, category in session.execute(
            select(p.c.household_id, p.c.category).where(
                p.c.campaign_id == campaign_id, p.c.household_id.is_not(None),
                p.c.status.not_in(final))
        )
    }
    today = local_today(clock)
    wanted = set(households) if households is not None else None
    reported: list[ReportedProblem] = []
    detections: list[tuple[str, dict[str, Any]] | None] = []
    # Plain rows, not mapped objects, built positionally: building 300,000 ORM instances, then
    # keyword-built facts, cost most of a county's detection (issue 17). The plan's own facts
    # are decoded only when the plan defines some.
    stmt = register_read(plan, campaign_id)
    if stmt is None:
        return RecordResult()
    categories = {c.value: c for c in HouseholdCategory}
    monitoring = {m.value: m for m in MonitoringType}
    with_facts = bool(plan.household.fields)
    run = detector(policy, plan.household.fields, day=today)
    shared_facts: dict[tuple[Any, ...], dict[str, object]] = {}
    signed: dict[str, str] = {}  # who found it, per rule label
    report, note = reported.append, detections.append
    # Streamed in batches (a server-side cursor on PostgreSQL): between two, a paced stage
    # leaves both this process and the database's backend idle.
    for batch in session.execute(stmt.execution_options(yield_per=5000)).partitions():
        for row in batch:
            hid = row[0]
            if wanted is not None and hid not in wanted:
                continue
            facts = HouseholdFacts(
                hid, row[1], row[2], row[3], row[4], categories[row[5]],
                monitoring[row[6]] if row[6] else None, row[7], row[8], row[9], row[10],
                row[11], row[12], row[13], loaded(row[14]) if with_facts else {})
            for d in run(facts):
                pair = (hid, d.category)
                if pair in open_pairs:
                    continue
                open_pairs.add(pair)
                # Equal facts become one dict, which the bulk writer serialises once.
                try:
                    fired = shared_facts.setdefault(
                        tuple((k, type(v), v) for k, v in d.facts.items()), d.facts)
                except TypeError:  # an unhashable fact value: kept as it is
                    fired = d.facts
                found_by = signed.get(d.label)
                if found_by is None:
                    found_by = signed[d.label] = f"{DETECTED_BY}（{d.label}）"
                report(ReportedProblem(source, d.category, row[1], row[2], hid,
                                       d.description, found_by, today))
                note((d.rule, fired))
        if pace is not None:
            pace()
    return record_problems(uow, clock, campaign_id, reported, recorded_by=detected_by,
                              detections=detections, progress=progress, pace=pace)
