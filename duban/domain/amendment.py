"""What a plan amendment (方案修订) changes for a running campaign, compared purely.

`diff_plans(old, new, open_problems, calendar, today)` compares the plan in force with a new
version over the facts of the campaign's open problems and answers, without touching anything:
which changes cannot apply to a running campaign (`refusals`, each naming the field), which open
problems the new routing gives another lead office (`reroutes`) or, keeping the lead, other co-offices
(`co_office_changes`), whose plan-given deadline the
new deadline rules move (`deadline_moves`), which stay as they are and why (`kept`), and what
changes in stages, offices, towns and the header. The service applies exactly this.

Choices (docs/plan-format.md, "Amending a running campaign"):
- The 文号, the notice prefix and the county office identify a running campaign: never changed.
- A town, village, category, source or deadline tier that an open problem still uses cannot be
  removed; neither can an office that would still lead or help on an open problem after the
  re-routing (an office whose open problems the new routing moves elsewhere may go).
- A stage that has started (its start is today or earlier) keeps its kind and start and cannot be
  removed; its end may move, not before today. A stage not yet started may change freely, but may
  not start before today.
- A deadline still waiting for its notice's 签收 (basis `signed`) is the plan's: a new plan that
  dates it (another basis, a fixed date) dates it; one the new plan leaves waiting stays so.
- Only what the plan decided moves: a lead office another user set by hand (改派) stays, and so
  does a deadline set by an extension, a failed review, a reopening or the ledger itself.
- A new deadline that would fall before today is set to the next working day (立查立改 from the
  amendment), as a late find is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from duban.domain.deadlines import Deadline, DeadlineError, basis_labels, compute_deadline
from duban.domain.detection import rule_label
from duban.domain.lifecycle import Action, Status, rule_for
from duban.domain.plan import FIELD_TYPE_LABELS, STAGE_KIND_LABELS, Plan, Stage, StageKind
from duban.domain.plan_check import PlanError
from duban.domain.routing import Route, Router, village_office_code
from duban.domain.workdays import WorkCalendar

# The prefix of every basis text an amendment writes.
AMENDED = "方案修订"


@dataclass(frozen=True)
class OpenProblem:
    """The facts of one open problem that routing and deadlines read."""

    id: int
    code: str
    status: Status
    category: str
    source: str
    town: str
    village: str | None
    lead_office: str | None
    co_offices: tuple[str, ...]
    found_on: dt.date
    routed_on: dt.date | None
    tier: str | None
    deadline: dt.date | None
    deadline_by_hand: bool  # extension, failed review, reopening or a ledger date set it
    signed_on: dt.date | None = None  # its office signed for its notice (basis `signed`)
    deemed_signed: bool = False  # that notice was deemed signed (视为签收), not signed


@dataclass(frozen=True)
class Reroute:
    """An open problem the new routing gives another lead office."""

    problem_id: int
    code: str
    from_office: str | None
    to_office: str
    co_offices: tuple[str, ...]
    from_name: str
    to_name: str


@dataclass(frozen=True)
class DeadlineMove:
    """An open problem whose plan-given deadline the new rules move."""

    problem_id: int
    code: str
    from_date: dt.date | None
    to_date: dt.date
    basis: str


@dataclass(frozen=True)
class CoOfficeChange:
    """An open problem whose lead stays but whose co-offices (协办单位) the new routing changes."""

    problem_id: int
    code: str
    co_offices: tuple[str, ...]  # the new co-offices, codes
    gained: tuple[str, ...]  # codes added
    lost: tuple[str, ...]  # codes dropped
    gained_names: tuple[str, ...]
    lost_names: tuple[str, ...]


@dataclass(frozen=True)
class CoOfficeTally:
    """One office's co-office changes in an amendment: the problems it gains and loses."""

    code: str
    name: str
    gained: tuple[str, ...]  # problem codes
    lost: tuple[str, ...]

    @property
    def text(self) -> str:
        """One Chinese line: 县扶贫办：新增协办 2 个（W000001、W000002），不再协办 1 个（W000003）."""
        parts = []
        if self.gained:
            parts.append(f"新增协办 {len(self.gained)} 个（{_examples(self.gained)}）")
        if self.lost:
            parts.append(f"不再协办 {len(self.lost)} 个（{_examples(self.lost)}）")
        return f"{self.name}：{'，'.join(parts)}"


@dataclass(frozen=True)
class Kept:
    """An open problem the new plan would change but that stays as it is, and why."""

    code: str
    reason: str


@dataclass(frozen=True)
class AmendmentDiff:
    """Everything an amendment would change, and what it may not."""

    refusals: tuple[PlanError, ...]
    open_problems: int
    reroutes: tuple[Reroute, ...]
    deadline_moves: tuple[DeadlineMove, ...]
    kept: tuple[Kept, ...]
    routed: tuple[Reroute, ...]  # 待交办 problems the new routing now matches (交办)
    co_office_changes: tuple[CoOfficeChange, ...]  # same lead, other co-offices
    changes: tuple[str, ...]  # stages, dates, header: one Chinese line each
    offices_added: tuple[str, ...]  # names
    offices_removed: tuple[str, ...]
    towns_added: tuple[str, ...]
    villages_added: tuple[str, ...]

    def co_office_tallies(self) -> tuple[CoOfficeTally, ...]:
        """Per office, by name, the open problems it gains and loses as co-office (协办)."""
        gained: dict[str, list[str]] = {}
        lost: dict[str, list[str]] = {}
        names: dict[str, str] = {}
        for c in self.co_office_changes:
            for code, name in zip(c.gained, c.gained_names, strict=True):
                gained.setdefault(code, []).append(c.code)
                names[code] = name
            for code, name in zip(c.lost, c.lost_names, strict=True):
                lost.setdefault(code, []).append(c.code)
                names[code] = name
        return tuple(CoOfficeTally(code, names[code], tuple(gained.get(code, ())),
                                   tuple(lost.get(code, ())))
                     for code in sorted(names, key=lambda k: (names[k], k)))


def office_name(plan: Plan, code: str | None) -> str:
    """An office's name in a plan; a village's own office by its village's name."""
    if code is None:
        return "（无）"
    office = plan.office(code)
    if office is not None:
        return office.name
    for town in plan.towns:
        for village in town.villages:
            if village_office_code(village.code) == code:
                return village.name
    return code


def _rectify_end(plan: Plan) -> dt.date | None:
    stage = plan.stage(StageKind.RECTIFY)
    return stage.end if stage else None


def _deadline(plan: Plan, calendar: WorkCalendar, p: OpenProblem) -> Deadline | None:
    try:
        return compute_deadline(plan.deadlines, calendar, found_on=p.found_on,
                                routed_on=p.routed_on, category=p.category, source=p.source,
                                tier=p.tier, rectify_end=_rectify_end(plan), stages=plan.stages,
                                signed_on=p.signed_on, deemed=p.deemed_signed,
                                labels=basis_labels(plan))
    except DeadlineError:
        return None


def _stage_label(stage: Stage) -> str:
    return stage.name or STAGE_KIND_LABELS[stage.kind]


def _end_text(end: dt.date | None) -> str:
    return end.isoformat() if end else "适时结束"


def _header(old: Plan, new: Plan) -> tuple[list[PlanError], list[str]]:
    refusals: list[PlanError] = []
    changes: list[str] = []
    if old.document_number.strip() != new.document_number.strip():
        refusals.append(PlanError("document_number", (
            f"文号不能修改：进行中的行动以文号 {old.document_number or '（无）'} 标识，"
            f"新方案写的是 {new.document_number or '（无）'}；另发新文件请启动新行动")))
    if old.notice_prefix != new.notice_prefix:
        refusals.append(PlanError("notice_prefix", (
            f"督办通知书文号前缀不能修改：原为 {old.notice_prefix}，新方案写的是 "
            f"{new.notice_prefix}（已发文号按原前缀连续编号）")))
    if old.county_office != new.county_office:
        refusals.append(PlanError("county_office", (
            f"县级办公室不能修改：原为 {office_name(old, old.county_office)}，新方案写的是 "
            f"{office_name(new, new.county_office)}（账号与已办事项都属于原办公室）")))
    if old.name != new.name:
        changes.append(f"行动名称：{old.name} → {new.name}")
    if old.issuer != new.issuer:
        changes.append(f"发文机关：{old.issuer} → {new.issuer}")
    return refusals, changes


def _stages(old: Plan, new: Plan, today: dt.date) -> tuple[list[PlanError], list[str]]:
    refusals: list[PlanError] = []
    changes: list[str] = []
    for i, before in enumerate(old.stages):
        started = before.start <= today
        if i >= len(new.stages):
            if started:
                refusals.append(PlanError("stages", (
                    f"第{i + 1}个阶段“{_stage_label(before)}”已于 {before.start} 开始，不能删除")))
            else:
                changes.append(f"删除阶段：{_stage_label(before)}（{before.start} 起）")
            continue
        after = new.stages[i]
        path = f"stages[{i}]"
        if started and after.kind is not before.kind:
            refusals.append(PlanError(f"{path}.kind", (
                f"阶段“{_stage_label(before)}”已于 {before.start} 开始，不能改为"
                f"{STAGE_KIND_LABELS[after.kind]}阶段")))
        if started and after.start != before.start:
            refusals.append(PlanError(f"{path}.start", (
                f"阶段“{_stage_label(before)}”已于 {before.start} 开始，开始日期不能改为 "
                f"{after.start}")))
        if not started and after.start < today:
            refusals.append(PlanError(f"{path}.start", (
                f"尚未开始的阶段不能改到今天（{today}）以前开始：{after.start}")))
        if (after.end != before.end and started and after.end is not None
                and after.end < today):
            refusals.append(PlanError(f"{path}.end", (
                f"阶段“{_stage_label(before)}”已开始，结束日期不能改到今天（{today}）以前："
                f"{after.end}")))
        if after.name != before.name:
            changes.append(f"阶段名称：{_stage_label(before)} → {_stage_label(after)}")
        if after.kind is not before.kind and not started:
            changes.append(f"阶段“{_stage_label(after)}”类型：{STAGE_KIND_LABELS[before.kind]}"
                           f" → {STAGE_KIND_LABELS[after.kind]}")
        if after.start != before.start and not started:
            changes.append(f"阶段“{_stage_label(after)}”开始：{before.start} → {after.start}")
        if after.end != before.end:
            changes.append(f"阶段“{_stage_label(after)}”结束：{_end_text(before.end)} → "
                           f"{_end_text(after.end)}")
    for i in range(len(old.stages), len(new.stages)):
        stage = new.stages[i]
        if stage.start < today:
            refusals.append(PlanError(f"stages[{i}].start", (
                f"新增阶段不能在今天（{today}）以前开始：{stage.start}")))
        changes.append(f"新增阶段：{_stage_label(stage)}（{stage.start} 至 {_end_text(stage.end)}）")
    return refusals, changes


def _household_fields(old: Plan, new: Plan) -> tuple[list[PlanError], list[str]]:
    """Household fields added, dropped or changed; the kind of a field's values cannot change.

    Households keep what was imported: a dropped field's values stay stored (not shown), a new
    field is blank until the register is imported again.
    """
    refusals: list[PlanError] = []
    changes: list[str] = []
    before = {f.key: f for f in old.household.fields}
    for i, after in enumerate(new.household.fields):
        was = before.pop(after.key, None)
        if was is None:
            changes.append(f"新增农户信息：{after.label}（已导入的农户此项为空，重新导入农户信息后补齐）")
            continue
        kind = f"{FIELD_TYPE_LABELS[was.type]}{'（多选）' if was.multiple else ''}"
        kind_after = f"{FIELD_TYPE_LABELS[after.type]}{'（多选）' if after.multiple else ''}"
        if kind != kind_after:
            refusals.append(PlanError(f"household.fields[{i}].type", (
                f"农户信息“{was.label}”已按{kind}导入，不能改为{kind_after}；"
                "请另起一个字段（key）")))
        if was.label != after.label:
            changes.append(f"农户信息列名：{was.label} → {after.label}")
        if was.values != after.values:
            changes.append(f"农户信息“{after.label}”可选值：{'、'.join(was.values)} → "
                           f"{'、'.join(after.values)}")
    for gone in before.values():
        changes.append(f"删除农户信息：{gone.label}（已导入的值保留，不再显示和比对）")
    old_rules = {r.code: r for r in old.detection.rules}
    for rule in new.detection.rules:
        if rule.code not in old_rules:
            changes.append(f"新增发现规则：{rule_label(rule)}")
        elif old_rules.pop(rule.code) != rule:
            changes.append(f"发现规则变化：{rule_label(rule)}")
    for rule in old_rules.values():
        changes.append(f"删除发现规则：{rule_label(rule)}")
    return refusals, changes


def _examples(codes: Sequence[str]) -> str:
    shown = "、".join(codes[:3])
    return f"{shown} 等" if len(codes) > 3 else shown


def _in_use(open_problems: Sequence[OpenProblem], old: Plan, new: Plan,
            lead_after: dict[int, str | None],
            co_after: dict[int, tuple[str, ...]]) -> list[PlanError]:
    """Units, categories, sources and tiers the new plan drops while open problems use them."""
    refusals: list[PlanError] = []

    def refuse(path: str, what: str, codes: list[str]) -> None:
        if codes:
            refusals.append(PlanError(path, (
                f"{what}仍有 {len(codes)} 个未办结问题（{_examples(codes)}），不能删除；"
                "请先办结、核销或改派这些问题")))

    new_towns = {t.code: t for t in new.towns}
    for town in old.towns:
        if town.code not in new_towns:
            refuse("towns", f"乡镇 {town.name} ",
                   [p.code for p in open_problems if p.town == town.code])
            continue
        kept_villages = {v.code for v in new_towns[town.code].villages}
        for village in town.villages:
            if village.code not in kept_villages:
                refuse("towns", f"{town.name}的村 {village.name} ", [
                    p.code for p in open_problems
                    if p.town == town.code and p.village == village.code])
    new_offices = {o.code for o in new.offices}
    for office in old.offices:
        if office.code not in new_offices:
            refuse("offices", f"办室 {office.name} ", [
                p.code for p in open_problems
                if lead_after.get(p.id) == office.code or office.code in co_after.get(p.id, ())])
    for kind, olds, news, attr in (
            ("categories", old.categories, new.categories, "category"),
            ("sources", old.sources, new.sources, "source")):
        codes = {c.code for c in news}
        label = "类别" if kind == "categories" else "来源"
        for item in olds:
            if item.code not in codes:
                refuse(kind, f"{label} {item.name} ",
                       [p.code for p in open_problems if getattr(p, attr) == item.code])
    tiers = {t.code for t in new.deadlines.tiers}
    for tier in old.deadlines.tiers:
        if tier.code not in tiers:
            refuse("deadlines.tiers", f"整改时限档次 {tier.name} ",
                   [p.code for p in open_problems if p.tier == tier.code])
    return refusals


def _co_office_change(old: Plan, new: Plan, p: OpenProblem, before: Route | object,
                      after: Route) -> CoOfficeChange | Kept:
    """The co-offices the new routing gives a problem that keeps its lead, or why not."""
    names = [office_name(new, c) for c in after.co_offices]
    if not isinstance(before, Route) or before.lead != p.lead_office \
            or set(before.co_offices) != set(p.co_offices):
        return Kept(p.code, (f"协办单位系人工调整，不按新路由改为 {'、'.join(names) or '无'}"))
    gained = tuple(c for c in after.co_offices if c not in p.co_offices)
    lost = tuple(c for c in p.co_offices if c not in after.co_offices)
    return CoOfficeChange(
        p.id, p.code, tuple(after.co_offices), gained, lost,
        tuple(office_name(new, c) for c in gained), tuple(office_name(old, c) for c in lost))


def diff_plans(old: Plan, new: Plan, open_problems: Sequence[OpenProblem],
               calendar: WorkCalendar, today: dt.date,
               unrouted: Sequence[OpenProblem] = ()) -> AmendmentDiff:
    """What replacing `old` by `new` changes for a running campaign's open problems, purely.

    `unrouted` are the campaign's 待交办 problems: those the new routing matches are routed.
    """
    refusals, changes = _header(old, new)
    stage_refusals, stage_changes = _stages(old, new, today)
    refusals += stage_refusals
    changes += stage_changes
    field_refusals, field_changes = _household_fields(old, new)
    refusals += field_refusals
    changes += field_changes

    old_router, new_router = Router.for_plan(old), Router.for_plan(new)
    reroutes: list[Reroute] = []
    co_changes: list[CoOfficeChange] = []
    moves: list[DeadlineMove] = []
    kept: list[Kept] = []
    lead_after = {p.id: p.lead_office for p in open_problems}
    co_after = {p.id: p.co_offices for p in open_problems}
    for p in open_problems:
        before = old_router.route(p.category, p.source, p.town, p.village)
        after = new_router.route(p.category, p.source, p.town, p.village)
        if isinstance(after, Route) and after.lead != p.lead_office:
            if not isinstance(before, Route) or before.lead != p.lead_office:
                kept.append(Kept(p.code, (
                    f"牵头办室 {office_name(old, p.lead_office)} 系人工改派，不按新路由改为 "
                    f"{office_name(new, after.lead)}")))
            elif rule_for(p.status, Action.REASSIGN) is None:
                kept.append(Kept(p.code, (
                    f"正在申请延期，暂不改派；新路由为 {office_name(new, after.lead)}，"
                    "批复后可由县级办公室改派")))
            else:
                reroutes.append(Reroute(p.id, p.code, p.lead_office, after.lead,
                                        after.co_offices, office_name(old, p.lead_office),
                                        office_name(new, after.lead)))
                lead_after[p.id], co_after[p.id] = after.lead, after.co_offices
        elif not isinstance(after, Route) and isinstance(before, Route):
            kept.append(Kept(p.code, "新方案的路由表没有匹配的规则，保留原牵头办室"))
        elif isinstance(after, Route) and set(after.co_offices) != set(p.co_offices):
            change = _co_office_change(old, new, p, before, after)
            if isinstance(change, Kept):
                kept.append(change)
            else:
                co_changes.append(change)
                co_after[p.id] = after.co_offices

        if p.deadline_by_hand:
            continue
        was = _deadline(old, calendar, p)
        if was is None or was.date != p.deadline:
            continue  # not the old plan's own answer: someone set it, it stays
        will = _deadline(new, calendar, p)
        if will is None or will.date is None:
            continue  # a tier the new plan drops (refused below), or waiting for a 签收
        date, basis = will.date, will.basis
        if date == p.deadline:
            continue
        if date < today:
            date = calendar.add_workdays(today, 1)
            basis = f"{basis}，已过，自修订之日起1个工作日"
        moves.append(DeadlineMove(p.id, p.code, p.deadline, date, f"{AMENDED}：{basis}"))

    routed = []
    for p in unrouted:
        after = new_router.route(p.category, p.source, p.town, p.village)
        if isinstance(after, Route):
            routed.append(Reroute(p.id, p.code, None, after.lead, after.co_offices, "（待交办）",
                                  office_name(new, after.lead)))

    refusals += _in_use([*open_problems, *unrouted], old, new, lead_after, co_after)
    old_offices = {o.code for o in old.offices}
    new_offices = {o.code for o in new.offices}
    old_towns = {t.code: {v.code for v in t.villages} for t in old.towns}
    return AmendmentDiff(
        refusals=tuple(refusals),
        open_problems=len(open_problems),
        reroutes=tuple(reroutes),
        deadline_moves=tuple(moves),
        kept=tuple(kept),
        routed=tuple(routed),
        co_office_changes=tuple(co_changes),
        changes=tuple(changes),
        offices_added=tuple(o.name for o in new.offices if o.code not in old_offices),
        offices_removed=tuple(o.name for o in old.offices if o.code not in new_offices),
        towns_added=tuple(t.name for t in new.towns if t.code not in old_towns),
        villages_added=tuple(
            f"{t.name}{v.name}" for t in new.towns if t.code in old_towns
            for v in t.villages if v.code not in old_towns[t.code]),
    )
