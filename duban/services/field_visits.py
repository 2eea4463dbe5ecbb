"""Visits recorded on phones (issue 18): what a cadre downloads, and the sync of one visit.

A village cadre downloads the households of the villages in reach with their last known facts
and open problems, records visits offline, and syncs each visit later as one request. A visit
carries an id made on the phone (`client_id`), as does each of its photos and signatures, so a
retried or repeated upload is stored once. The server checks a visit with the Excel import's
own rules (`validate_visits`, and `validate_households` on the household's facts as the visit
leaves them), answers per visit (accepted, or refused with the Chinese reason), and writes an
accepted one in one savepoint: the visit, its photos and signatures, the facts it changed (with
their history: who, when, which visit), and the problems the plan's detection rules find in the
new facts, routed and dated, with the visitor as 排查人.

Time: the phone's clock may be far off. The phone says what its clock read when it sent the
visit (`sent_at`); the difference to the server's clock is taken off the visit's recorded time,
so the visit's day (and the deadlines counted from it) follows the server's clock, while the
phone's own reading is kept as recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from duban.adapters.intake import ImportRejected, SheetData, plan_columns
from duban.adapters.intake.spec import SPECS
from duban.adapters.intake.validate import ReferenceData, validate_households, validate_visits
from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.domain.detection import detect
from duban.domain.errors import NotFound, PermissionDenied
from duban.domain.facts import catalogue, stored
from duban.domain.household import (
    HouseholdFacts,
    ReportedProblem,
    VisitMode,
    VisitRecord,
)
from duban.domain.lifecycle import FINAL_STATUSES, Role
from duban.domain.plan import PHOTO_TYPE_LABELS, PHOTO_TYPES, Plan
from duban.services.campaigns import ensure_running, load_plan_of
from duban.services.database import UnitOfWork
from duban.services.evidence import evidence_root, sniff, write_blob
from duban.services.field_download import (
    FACT_COLUMNS,
    HOUSEHOLD_COLUMNS,
    covers_campaign,
    may_visit,
    visit_window,
    written_facts,
)
from duban.services.problems import record_problems
from duban.services.scoping import Scope
from models import tables as t

# The kinds of file a phone visit carries.
PHOTO = "photo"
VISITOR_SIGNATURE = "visitor_signature"
HOUSEHOLD_SIGNATURE = "household_signature"
FILE_KINDS = {PHOTO: "照片", VISITOR_SIGNATURE: "走访人签名", HOUSEHOLD_SIGNATURE: "农户签名"}
MAX_SIGNATURE_BYTES = 512 * 1024
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Past this difference between the phone's clock and the server's the answer says so.
CLOCK_TOLERANCE = dt.timedelta(minutes=5)
SOURCE_LABEL = "手机走访"


# ---- one visit's sync --------------------------------------------------------------------


@dataclass(frozen=True)
class PhoneFile:
    """A photo or signature as the phone sends it."""

    client_id: str
    kind: str
    content: bytes
    taken_at: dt.datetime | None = None


@dataclass(frozen=True)
class PhoneVisit:
    """A visit as the phone recorded it: facts are written as the register writes them."""

    client_id: str
    household_id: str
    mode: str
    recorded_at: dt.datetime  # the phone's clock when the visit was saved
    answered_by: str = ""
    findings: str = ""
    facts: Mapping[str, str] = field(default_factory=dict)
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    files: Sequence[PhoneFile] = ()


@dataclass
class SyncAnswer:
    """The server's answer to one visit."""

    client_id: str
    status: str  # accepted / refused
    reason: str = ""
    duplicate: bool = False
    visit_id: int | None = None
    visited_on: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # labels of the facts the visit changed
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The answer as the API sends it."""
        return {"client_id": self.client_id, "status": self.status, "reason": self.reason,
                "duplicate": self.duplicate, "visit_id": self.visit_id,
                "visited_on": self.visited_on, "problems": self.problems,
                "changed": self.changed, "notes": self.notes}


def _span(delta: dt.timedelta) -> str:
    """A time difference as people say it: 12分钟, 5小时, 40天."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes}分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60}小时"
    return f"{minutes // (24 * 60)}天"


def _refuse(visit: PhoneVisit, reason: str) -> SyncAnswer:
    return SyncAnswer(client_id=visit.client_id, status="refused", reason=reason)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=CHINA_TZ)


def _stored_answer(uow: UnitOfWork, campaign_id: int, client_id: str) -> SyncAnswer | None:
    """The answer for a visit already stored under this client id (a retry or a repeat)."""
    conn = uow.connection
    row = conn.execute(select(t.field_visit.c.id, t.field_visit.c.visit_id,
                              t.visit.c.visited_on)
                       .join(t.visit, t.visit.c.id == t.field_visit.c.visit_id)
                       .where(t.field_visit.c.campaign_id == campaign_id,
                              t.field_visit.c.client_id == client_id)).first()
    if row is None:
        return None
    found = [{"code": code, "description": text} for code, text in conn.execute(
        select(t.problem.c.code, t.problem.c.description)
        .join(t.field_visit_problem, t.field_visit_problem.c.problem_id == t.problem.c.id)
        .where(t.field_visit_problem.c.field_visit_id == row[0]).order_by(t.problem.c.code))]
    return SyncAnswer(client_id=client_id, status="accepted", duplicate=True, visit_id=row[1],
                      visited_on=row[2].isoformat(), problems=found,
                      notes=["此走访此前已同步，未重复保存"])


def _sheet(kind: str, rows: list[tuple[Any, ...]], extra: tuple[Any, ...] = ()) -> SheetData:
    specs = SPECS[kind] + extra
    columns = {s.header: i for i, s in enumerate(specs)}
    return SheetData(kind=kind, source=Path(SOURCE_LABEL), file_format="phone",  # type: ignore[arg-type]
                     sheet="", header_row=0, columns=columns, headers_in_file=dict(
                         (h, h) for h in columns), rows=rows,
                     row_numbers=list(range(1, len(rows) + 1)), extra=extra)


def _reasons(exc: ImportRejected) -> str:
    return "；".join(f"{e.column}：{e.reason}" if e.column else e.reason
                    for e in exc.report.errors) or exc.message


def _file_checks(plan: Plan, visit: PhoneVisit) -> list[str]:
    """What is wrong with a visit's files (photo size and kind, signatures), in Chinese."""
    policy = plan.visits
    allowed = {PHOTO_TYPES[k] for k in policy.photo_types}
    wrong: list[str] = []
    seen: set[str] = set()
    photos = 0
    for n, f in enumerate(visit.files, 1):
        what = FILE_KINDS.get(f.kind)
        if what is None:
            wrong.append(f"第{n}个文件的类型“{f.kind}”无法识别")
            continue
        if not CLIENT_ID_RE.match(f.client_id) or f.client_id in seen:
            wrong.append(f"{what}的编号无效或重复")
            continue
        seen.add(f.client_id)
        sniffed = sniff(f.content)
        if f.kind == PHOTO:
            photos += 1
            if sniffed is None or sniffed[0] not in allowed:
                kinds = "、".join(PHOTO_TYPE_LABELS[k] for k in policy.photo_types)
                wrong.append(f"第{photos}张照片不是方案允许的格式（{kinds}）")
            elif len(f.content) > policy.photo_max_kb * 1024:
                wrong.append(f"第{photos}张照片{len(f.content) // 1024}KB，超过方案规定的"
                             f"{policy.photo_max_kb}KB")
        else:
            if sniffed is None or sniffed[0] != "image/png":
                wrong.append(f"{what}不是PNG图片")
            elif len(f.content) > MAX_SIGNATURE_BYTES:
                wrong.append(f"{what}超过{MAX_SIGNATURE_BYTES // 1024}KB")
    if photos > policy.max_photos:
        wrong.append(f"照片{photos}张，超过方案规定的{policy.max_photos}张")
    sent = [f.kind for f in visit.files]
    if sent.count(VISITOR_SIGNATURE) != 1:
        wrong.append("缺少走访人签名" if VISITOR_SIGNATURE not in sent else "走访人签名只能有一个")
    needs_household = policy.household_signature and visit.mode != "电访"
    if needs_household and HOUSEHOLD_SIGNATURE not in sent:
        wrong.append("方案要求农户签字，缺少农户签名（电访除外）")
    if sent.count(HOUSEHOLD_SIGNATURE) > 1:
        wrong.append("农户签名只能有一个")
    return wrong


def sync_visit(uow: UnitOfWork, clock: Clock, scope: Scope, username: str, campaign_id: int,
               visit: PhoneVisit, *, sent_at: dt.datetime | None = None,
               blob_root: Path | None = None) -> SyncAnswer:
    """Store one phone visit once, or say why not; never raises for the visit's own mistakes.

    The visit's writes happen in a savepoint of the caller's unit: a refusal or a failure
    leaves nothing of it behind, and the same client id stored by someone else meanwhile
    (another tab) answers as already stored.
    """
    if not CLIENT_ID_RE.match(visit.client_id):
        return _refuse(visit, "走访编号无效（应由手机生成，8至64位字母数字）")
    if not covers_campaign(scope, campaign_id):
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    if scope.role is Role.OFFICE and not scope.sees_all:
        raise PermissionDenied("责任办室账号不能录入入户走访")
    stored_already = _stored_answer(uow, campaign_id, visit.client_id)
    if stored_already is not None:
        return stored_already
    session = uow.session
    ensure_running(session, campaign_id, "录入走访")
    plan = load_plan_of(session, campaign_id)
    conn = uow.connection
    row = conn.execute(select(t.household.c.id, *HOUSEHOLD_COLUMNS).where(
        t.household.c.campaign_id == campaign_id,
        t.household.c.household_id == visit.household_id)).first()
    if row is None:
        return _refuse(visit, f"户编号“{visit.household_id}”不在农户信息中")
    if not may_visit(scope, row.town_code, row.village_code):
        return _refuse(visit, f"户编号“{visit.household_id}”（{row.head}）不在您负责的村，"
                              "不能录入走访")
    visitor = conn.scalar(select(t.app_user.c.name).where(t.app_user.c.username == username))
    if visitor is None:
        raise NotFound(f"用户不存在：{username}")
    now = clock.now()
    recorded = _aware(visit.recorded_at)
    offset = (_aware(sent_at) - now) if sent_at is not None else dt.timedelta(0)
    visited_at = min(recorded - offset, now)
    day = visited_at.astimezone(CHINA_TZ).date()
    notes: list[str] = []
    if abs(offset) > CLOCK_TOLERANCE:
        notes.append(f"手机时间与服务器相差约{_span(abs(offset))}，走访日期和整改时限按服务器"
                     f"时间计（{day.isoformat()}）")
    # The visit, by the 走访记录 import's rules.
    lo, hi = visit_window(plan, local_today(clock))
    refs = ReferenceData.from_plan(plan, households=lambda ids: {
        i: (row.town_code, row.village_code) for i in ids if i == visit.household_id},
        date_range=(lo, hi))
    try:
        checked = validate_visits(_sheet("visits", [(
            visit.household_id, visitor, day.isoformat(), visit.mode, visit.answered_by,
            visit.findings)]), refs)
    except ImportRejected as exc:
        reason = _reasons(exc)
        if "日期应在" in reason:
            reason = (f"走访日期{day.isoformat()}不在走访期间（排查阶段开始至今："
                      f"{lo.isoformat()}至{hi.isoformat()}）")
        return _refuse(visit, reason)
    record = checked.rows[0]
    # The household's facts as the visit leaves them, by the 农户信息 import's rules.
    extra = plan_columns(plan.household.fields)
    before = written_facts(row, plan)
    unknown = [k for k in visit.facts if k not in before]
    if unknown:
        return _refuse(visit, f"未知的农户信息项：{'、'.join(unknown)}")
    after = {**before, **{k: str(v).strip() for k, v in visit.facts.items()}}
    cells = (row.town_code, row.village_code, row.household_id, row.head,
             *(after[k] or None for k in FACT_COLUMNS),
             *(after[f.key] or None for f in plan.household.fields))
    try:
        facts = validate_households(_sheet("households", [cells], extra), ReferenceData.from_plan(
            plan)).rows[0]
    except ImportRejected as exc:
        return _refuse(visit, _reasons(exc))
    wrong = _file_checks(plan, visit)
    if wrong:
        return _refuse(visit, "；".join(wrong))
    same_day = conn.scalar(select(t.visit.c.id).where(
        t.visit.c.campaign_id == campaign_id, t.visit.c.household_id == visit.household_id,
        t.visit.c.visited_on == day, t.visit.c.visitor == visitor))
    if same_day is not None:
        return _refuse(visit, f"{visitor}{day.isoformat()}对该户已有一条走访记录，"
                              "同一人同一天只记一次（如需补充请修改原记录的走访发现）")
    root = blob_root or evidence_root()
    try:
        with uow.savepoint():
            answer = _write(uow, clock, plan, campaign_id, username, visitor, visit, record,
                            row, facts, before, after, day, visited_at, offset, root)
    except IntegrityError:
        again = _stored_answer(uow, campaign_id, visit.client_id)
        if again is not None:
            return again  # stored meanwhile by another tab or a retried request
        return _refuse(visit, "该户当天已有同一走访人的走访记录，或照片编号已被使用")
    answer.visited_on = day.isoformat()
    answer.notes = notes
    if record.mode is not VisitMode.PROXY and visit.answered_by.strip():
        answer.notes.append("走访方式不是代答，已忽略所填的代答人")
    return answer


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _write(uow: UnitOfWork, clock: Clock, plan: Plan, campaign_id: int, username: str,
           visitor: str, visit: PhoneVisit, record: VisitRecord, row: Any,
           facts: HouseholdFacts,
           before: dict[str, str], after: dict[str, str], day: dt.date,
           visited_at: dt.datetime, offset: dt.timedelta, root: Path) -> SyncAnswer:
    conn = uow.connection
    now = clock.now()
    visit_id = _new_id(conn.execute(insert(t.visit).values(
        campaign_id=campaign_id, household_id=visit.household_id, visitor=visitor,
        visited_on=day, mode=record.mode.value, answered_by=record.answered_by,
        findings=record.findings)))
    written_facts = {k: after[k] for k in visit.facts}
    field_id = _new_id(conn.execute(insert(t.field_visit).values(
        campaign_id=campaign_id, visit_id=visit_id, client_id=visit.client_id,
        username=username, recorded_at=_aware(visit.recorded_at), visited_at=visited_at,
        received_at=now, clock_offset_seconds=int(offset.total_seconds()),
        latitude=visit.latitude, longitude=visit.longitude, accuracy_m=visit.accuracy_m,
        facts=written_facts)))
    file_rows = []
    for f in visit.files:
        sha = hashlib.sha256(f.content).hexdigest()
        write_blob(root, sha, f.content)
        sniffed = sniff(f.content)
        file_rows.append({"campaign_id": campaign_id, "field_visit_id": field_id,
                          "client_id": f.client_id, "kind": f.kind, "sha256": sha,
                          "content_type": sniffed[0] if sniffed else "application/octet-stream",
                          "size": len(f.content),
                          "taken_at": _aware(f.taken_at) if f.taken_at else None})
    if file_rows:
        conn.execute(insert(t.field_visit_file), file_rows)
    # What changed, with its history.
    labels = {f.key: f.label for f in catalogue(plan.household.fields).values()}
    changes = [k for k in after if after[k] != before[k]]
    if changes:
        conn.execute(insert(t.household_fact_change), [
            {"campaign_id": campaign_id, "household_id": visit.household_id, "fact": k,
             "old_value": before[k] or None, "new_value": after[k] or None,
             "changed_by": username, "changed_at": now, "field_visit_id": field_id}
            for k in changes])
        conn.execute(update(t.household).where(t.household.c.id == row.id).values(
            members=facts.members, category=facts.category.value,
            monitoring_type=facts.monitoring_type.value if facts.monitoring_type else None,
            income_per_person=facts.income_per_person, house_grade=facts.house_grade,
            tap_water=facts.tap_water, school_age_children=facts.school_age_children,
            children_out_of_school=facts.children_out_of_school,
            medical_insurance=facts.medical_insurance, sanitary_toilet=facts.sanitary_toilet,
            facts=stored(facts.plan_facts)))
    found = _detect(uow, clock, plan, campaign_id, facts, username, visitor, day, field_id)
    return SyncAnswer(client_id=visit.client_id, status="accepted", visit_id=visit_id,
                      problems=found, changed=[labels.get(k, k) for k in changes])


def _detect(uow: UnitOfWork, clock: Clock, plan: Plan, campaign_id: int,
            facts: HouseholdFacts, username: str, visitor: str, day: dt.date,
            field_id: int) -> list[dict[str, Any]]:
    """Run the plan's detection rules on the household's new facts; the visitor is 排查人."""
    policy = plan.detection
    if not policy.rules:
        return []
    conn = uow.connection
    final = [s.value for s in FINAL_STATUSES]
    open_categories = set(conn.scalars(select(t.problem.c.category).where(
        t.problem.c.campaign_id == campaign_id, t.problem.c.household_id == facts.household_id,
        t.problem.c.status.not_in(final))))
    source = policy.source or (plan.sources[0].code if plan.sources else "")
    reported: list[ReportedProblem] = []
    detections: list[tuple[str, dict[str, Any]] | None] = []
    for d in detect(facts, policy, plan.household.fields, day=day):
        if d.category in open_categories:
            continue
        open_categories.add(d.category)
        reported.append(ReportedProblem(
            source=source, category=d.category, town=facts.town, village=facts.village,
            household_id=facts.household_id, description=d.description, found_by=visitor,
            found_on=day))
        detections.append((d.rule, dict(d.facts)))
    if not reported:
        return []
    result = record_problems(uow, clock, campaign_id, reported, recorded_by=username,
                             detections=detections)
    if not result.problem_ids:
        return []
    conn.execute(insert(t.field_visit_problem), [
        {"field_visit_id": field_id, "problem_id": pid} for pid in result.problem_ids])
    rows = conn.execute(select(t.problem.c.code, t.problem.c.description, t.problem.c.deadline)
                        .where(t.problem.c.id.in_(result.problem_ids))
                        .order_by(t.problem.c.code)).all()
    return [{"code": c, "description": text, "deadline": d.isoformat() if d else None}
            for c, text, d in rows]
