"""The daily report (整改进度日报): the day's figures with their change, as .docx and .xlsx."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.clock import Clock
from duban.domain.filenames import report_file_stem
from duban.domain.numbering import format_date_cn
from duban.domain.plan import OfficeLevel, Plan, area_word
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork
from duban.services.notices.documents import letterhead
from duban.services.reports.figures import (
    ZERO,
    ScopedCounts,
    ScopeFigures,
    ScopeKind,
    counts_as_of,
    counts_by_source,
)
from duban.services.reports.snapshots import (
    SERIES_DAYS,
    keep_rebuilt,
    snapshot_counts,
    take_daily_snapshot,
    trend,
)
from duban.services.templates import template_dir_for
from duban.services.views.common import campaign_row
from duban.services.views.names import names_in
from models import Office, Problem


@dataclass(frozen=True, slots=True)
class DailyFigures:
    """The daily report's figures: per town, per lead office, and the campaign total.

    `yesterday_from` says where the day-before figures come from: "snapshot" (what was
    reported that day) or "ledger" (rebuilt from the audit trail, now or when it was kept
    for a day without a report). `today_counts` and `yesterday_counts`: both days' counts
    per scope, for the snapshots written from them.
    """

    campaign_id: int
    day: dt.date
    total: ScopeFigures
    towns: tuple[ScopeFigures, ...]
    offices: tuple[ScopeFigures, ...]
    yesterday_from: str
    today_counts: ScopedCounts = field(compare=False, repr=False)
    yesterday_counts: ScopedCounts = field(compare=False, repr=False)

    def town(self, code: str) -> ScopeFigures:
        """The figures of one town by code."""
        return next(t for t in self.towns if t.code == code)

    def office(self, code: str) -> ScopeFigures:
        """The figures of one lead office by code."""
        return next(o for o in self.offices if o.code == code)


def _office_order(session: Session, campaign_id: int) -> list[str]:
    """Declared offices first (plan order), then village offices, by id."""
    rows = session.execute(
        select(Office.code, Office.level).where(Office.campaign_id == campaign_id)
        .order_by(Office.id)
    ).all()
    declared = [code for code, level in rows if level != OfficeLevel.VILLAGE.value]
    villages = [code for code, level in rows if level == OfficeLevel.VILLAGE.value]
    return declared + villages


def daily_figures(uow: UnitOfWork, campaign_id: int, day: dt.date) -> DailyFigures:
    """Per town and per lead office at the end of `day`, with the change since the day before.

    The day before comes from its daily snapshot (what was reported) when there is one,
    else from the audit trail as of that day.
    """
    session = uow.session
    campaign_row(session, campaign_id)
    today = counts_as_of(session, campaign_id, day, sources=True)
    previous_day = day - dt.timedelta(days=1)
    kept = snapshot_counts(session, campaign_id, previous_day)
    if kept is None:
        yesterday = counts_as_of(session, campaign_id, previous_day, sources=True)
        source = "ledger"
    else:
        yesterday, source = kept.counts, "ledger" if kept.rebuilt else "snapshot"
    names = names_in(session, campaign_id)
    town_names, office_names = names.towns, names.offices
    towns = tuple(
        ScopeFigures(ScopeKind.TOWN, code, name, today.towns.get(code, ZERO),
                     yesterday.towns.get(code, ZERO))
        for code, name in town_names.items()
    )
    # Problems in a town outside the plan's scope still count (listed after the plan's towns).
    extra_towns = sorted((set(today.towns) | set(yesterday.towns)) - set(town_names))
    towns += tuple(
        ScopeFigures(ScopeKind.TOWN, code, code, today.towns.get(code, ZERO),
                     yesterday.towns.get(code, ZERO))
        for code in extra_towns
    )
    active = set(today.offices) | set(yesterday.offices)
    order = [c for c in _office_order(session, campaign_id) if c in active]
    order += sorted(active - set(order))
    offices = tuple(
        ScopeFigures(ScopeKind.OFFICE, code, office_names.get(code, code),
                     today.offices.get(code, ZERO), yesterday.offices.get(code, ZERO))
        for code in order
    )
    total = ScopeFigures(ScopeKind.CAMPAIGN, "", "合计", today.total, yesterday.total)
    return DailyFigures(campaign_id, day, total, towns, offices, source, today, yesterday)


def daily_report_context(
    session: Session, campaign_id: int, day: dt.date, figures: DailyFigures,
    sources: list[ScopeFigures] | None = None, *, keep: Clock | None = None,
    series_days: int = SERIES_DAYS, whole: bool = False,
) -> Any:
    """The DailyReportContext of a day's figures (see duban.adapters.documents); `sources`:
    the day's `source_figures` when the caller has them already; `keep`: a writing caller's
    clock, to keep the trend's days rebuilt from the audit trail (`trend`); `series_days`:
    how many days the trend chart reaches back (the closing report's: the whole campaign);
    `whole`: spot checks and duties over the campaign up to the day (the closing report)."""
    from duban.adapters.documents.context import DailyReportContext, DailyRow, SeriesPoint

    plan = load_plan_of(session, campaign_id)

    def daily_row(f: ScopeFigures) -> DailyRow:
        c = f.today
        return DailyRow(
            name=f.name, found=c.found, routed=c.routed, rectifying=c.rectifying,
            awaiting_review=c.awaiting_review, closed=c.closed, overdue=c.overdue,
            closed_change=f.change.closed, rate_change=f.closure_rate_change,
        )

    t = figures.total
    intro = (
        f"截至{format_date_cn(day)}，{area_word(plan)}累计排查发现问题{t.today.found}个，"
        f"已交办{t.today.routed}个，整改中{t.today.rectifying}个，待复核{t.today.awaiting_review}个，"
        f"已销号{t.today.closed}个，销号率{t.closure_rate * 100:.1f}%；逾期未整改"
        f"{t.today.overdue}个。较前一日新增发现{t.change.found}个，新增销号{t.change.closed}个。"
    )
    series = [
        SeriesPoint(s.day, s.counts.found, s.counts.closed, s.counts.overdue)
        for s in trend(session, campaign_id, day, series_days, today=figures.total.today,
                       keep=keep)
    ]
    checks, failures = spot_check_lines(session, plan, campaign_id, day,
                                        since=plan.start if whole else None)
    head = letterhead(plan)
    del head["seal_text"]  # a report carries no seal
    return DailyReportContext(
        **head,
        title=f"{plan.name}问题整改进度日报",
        issued_on=day,
        report_date=day,
        intro=intro,
        towns=[daily_row(f) for f in figures.towns],
        offices=[daily_row(f) for f in figures.offices],
        series=series,
        sources=[daily_row(f) for f in (
            sources if sources is not None
            else source_figures(session, plan, campaign_id, day, figures))],
        spot_checks=checks,
        spot_check_failures=failures,
        whole_campaign=whole,
        **duty_fields(session, campaign_id, day, whole=whole),
    )


def duty_fields(session: Session, campaign_id: int, day: dt.date, *,
                whole: bool = False) -> dict[str, Any]:
    """The report's 常态化工作与整改节点 section: the day's duties by unit, milestones missed
    (`whole`: the campaign's up to the day)."""
    from duban.adapters.documents.context import DutyUnitRow, LateMilestoneRow
    from duban.services.duty_reports import duty_day

    d = duty_day(session, campaign_id, day, whole=whole)
    if not (d.has_duties or d.has_milestones):
        return {}
    return {
        "duty_section": True,
        "duty_text": d.duty_text,
        "duty_units": [DutyUnitRow(u.unit, u.due, u.done, u.missed) for u in d.units],
        "milestone_text": d.milestone_text,
        "milestones_missed": [LateMilestoneRow(m.problem, m.name, m.date, m.office, m.place)
                              for m in d.milestones_missed],
    }


def source_figures(session: Session, plan: Plan, campaign_id: int, day: dt.date,
                   figures: DailyFigures | None = None) -> list[ScopeFigures]:
    """The day's figures per 问题来源 (the plan's order; sources with no problem left out).

    `figures`: the day's `daily_figures`, whose passes counted by source too; the day before
    then comes from its snapshot like the scopes' (what that day's report said), and is
    rebuilt from the ledger only when the snapshot holds no sources."""
    today = (figures.today_counts.sources if figures is not None else None)
    if today is None:
        today = counts_by_source(session, campaign_id, day)
    yesterday = (figures.yesterday_counts.sources if figures is not None else None)
    if yesterday is None:
        yesterday = counts_by_source(session, campaign_id, day - dt.timedelta(days=1))
    names = {src.code: src.name for src in plan.sources}
    order = [c for c in names if c in today] + sorted(set(today) - set(names))
    return [ScopeFigures(ScopeKind.CAMPAIGN, code, names.get(code, code), today[code],
                         yesterday.get(code, ZERO)) for code in order]


def spot_check_lines(session: Session, plan: Plan, campaign_id: int, day: dt.date, *,
                     since: dt.date | None = None) -> tuple[list[Any], list[Any]]:
    """The report day's spot checks per supervision group, and the failed ones in words
    (`since`: those drawn from that day to the report day, the closing report's)."""
    from duban.adapters.documents.context import SpotCheckFailure, SpotCheckRow
    from duban.domain.sampling import SPOT_CHECK_KIND_LABELS, SpotCheckKind
    from models import Household, SpotCheck

    checks = list(session.scalars(
        select(SpotCheck).where(
            SpotCheck.campaign_id == campaign_id,
            SpotCheck.day == day if since is None else SpotCheck.day.between(since, day))
        .order_by(SpotCheck.group_code, SpotCheck.id)))
    if not checks:
        return [], []
    groups = {g.code: g.name for g in plan.review.groups}
    names = names_in(session, campaign_id, plan)
    failed = [c for c in checks if c.result == "failed"]
    codes: dict[int, str] = {pid: code for pid, code in session.execute(
        select(Problem.id, Problem.code).where(
            Problem.id.in_([c.problem_id for c in failed if c.problem_id])))}
    heads: dict[str, str] = {hid: head for hid, head in session.execute(
        select(Household.household_id, Household.head).where(
            Household.campaign_id == campaign_id,
            Household.household_id.in_([c.household_id for c in failed if c.household_id])))}
    rows: list[Any] = []
    for code in dict.fromkeys(c.group_code for c in checks):
        mine = [c for c in checks if c.group_code == code]
        rows.append(SpotCheckRow(
            group=groups.get(code, code), drawn=len(mine),
            passed=sum(1 for c in mine if c.result == "passed"),
            failed=sum(1 for c in mine if c.result == "failed")))

    def item(c: SpotCheck) -> str:
        if c.kind == SpotCheckKind.CLOSED_PROBLEM.value and c.problem_id:
            return str(codes.get(c.problem_id, c.item_id))
        if c.kind == SpotCheckKind.HOUSEHOLD.value and c.household_id:
            return str(heads.get(c.household_id) or c.household_id)
        return names.villages.get(c.village_code or "", c.item_id)

    failures = [SpotCheckFailure(
        group=groups.get(c.group_code, c.group_code),
        kind=SPOT_CHECK_KIND_LABELS[SpotCheckKind(c.kind)], item=item(c),
        place=names.town(c.town_code) + names.villages.get(c.village_code or "", ""),
        note=c.note or "—") for c in failed]
    return rows, failures


def write_daily_report(
    uow: UnitOfWork, clock: Clock, campaign_id: int, day: dt.date, out_dir: Path,
    pdf: bool = False, *, figures: DailyFigures | None = None,
    sources: list[ScopeFigures] | None = None,
) -> list[Path]:
    """Write the day's report (.docx with a trend chart, .xlsx; .pdf on request); snapshot it.

    Returns the written paths. The day's snapshot is taken from the report's own figures
    (once per day), so the next day's change is measured against what this report said. `figures` and `sources`: the
    day's `daily_figures` and `source_figures` when the caller computed them in this unit
    (the tick delivers the same figures: each is a pass over the whole ledger).
    """
    from duban.adapters.documents.render import render_daily_report
    from duban.adapters.documents.xlsx import write_daily_report_xlsx

    figures = figures or daily_figures(uow, campaign_id, day)
    take_daily_snapshot(uow, clock, campaign_id, day, counts=figures.today_counts)
    if figures.yesterday_from == "ledger":
        # A day without a report (a weekend) is rebuilt once and kept: the next days' trend
        # reads it instead of rebuilding it from the audit trail every evening.
        keep_rebuilt(uow.session, clock, campaign_id, day - dt.timedelta(days=1),
                     figures.yesterday_counts)
    ctx = daily_report_context(uow.session, campaign_id, day, figures, sources, keep=clock)
    out_dir = Path(out_dir)
    stem = report_file_stem(load_plan_of(uow.session, campaign_id).name, "日报",
                            format_date_cn(day))
    docx = render_daily_report(ctx, out_dir / f"{stem}.docx",
                               template_dir=template_dir_for(campaign_id))
    xlsx = write_daily_report_xlsx(ctx, out_dir / f"{stem}.xlsx")
    paths = [docx, xlsx]
    if pdf:
        from duban.adapters.documents.pdf import convert_to_pdf

        paths.append(convert_to_pdf(docx, out_dir))
    return paths
