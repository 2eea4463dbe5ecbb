"""Delivering the daily report and the monthly ranking to the audience the plan names.

Each recipient office gets one message per report (站内信, e-mail with the .docx attached,
robot), through the outbox, which sends in the plan's working hours. Dedupe keys name the
report and the office, so writing a report again (a rerun, a kill and rerun) sends nothing
twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.domain.clock import Clock
from duban.domain.filenames import document_file_name, report_file_stem
from duban.domain.numbering import format_date_cn
from duban.domain.plan import Audience, OfficeLevel, Plan, ReportAudience
from duban.services.campaigns import load_plan_of
from duban.services.database import UnitOfWork, data_dir
from duban.services.messages import Message, enqueue_all
from duban.services.reports.daily import (
    DailyFigures,
    daily_figures,
    source_figures,
    spot_check_lines,
    write_daily_report,
)
from duban.services.reports.figures import ScopeFigures
from duban.services.stages import daily_report_due, record_daily_report, reports_dir
from models import Office, OutboxMessage, Town


def recipients(plan: Plan, offices: dict[str, Office], audience: Sequence[str]) -> list[Office]:
    """The offices an audience names, in plan order, each once."""
    order = {o.code: i for i, o in enumerate(plan.offices)}
    declared = sorted((o for o in offices.values() if o.code in order),
                      key=lambda o: order[o.code])
    out: dict[str, Office] = {}
    for entry in audience:
        if entry == ReportAudience.COUNTY.value:
            picked = [offices[plan.county_office]] if plan.county_office in offices else []
        elif entry == ReportAudience.TOWNS.value:
            picked = [o for o in declared if o.level == OfficeLevel.TOWN.value]
        elif entry == ReportAudience.OFFICES.value:
            picked = [o for o in declared if o.level == OfficeLevel.COUNTY.value
                      and o.code != plan.county_office]
        else:
            picked = [offices[entry]] if entry in offices else []
        for o in picked:
            out.setdefault(o.code, o)
    return list(out.values())


def _stored(path: Path | None, name: str) -> list[list[str]]:
    """A report file as the outbox stores it: [relative to the data directory, the name the
    recipient sees] (the file on disk carries the campaign's id; a person reads its name)."""
    if path is None:
        return []
    try:
        stored = str(Path(path).resolve().relative_to(data_dir().resolve()))
    except ValueError:
        return []  # written outside the data directory: the message goes without it
    return [[stored, document_file_name(name, suffix=Path(path).suffix)]]


def _line(f: ScopeFigures) -> str:
    c = f.today
    return (f"{f.name}：发现问题{c.found}个，已销号{c.closed}个（销号率"
            f"{f.closure_rate * 100:.1f}%），整改中{c.rectifying}个，逾期{c.overdue}个；"
            f"较前一日新增销号{f.change.closed}个。")


def _duty_lines(session: Session, plan: Plan, campaign_id: int, day: dt.date,
                office: Office) -> list[str]:
    """The recipient's own recurring duties and milestones (the county office: all)."""
    from duban.services.duty_reports import duty_day

    if not plan.duties and not any(r.milestones for r in plan.deadlines.rules):
        return []
    if office.code == plan.county_office:
        d = duty_day(session, campaign_id, day)
    elif office.level == OfficeLevel.TOWN.value and office.town_code:
        d = duty_day(session, campaign_id, day, town=office.town_code)
    else:
        d = duty_day(session, campaign_id, day, offices=[office.code])
    return [f"常态化工作：{d.duty_text}" if d.duty_text else "",
            f"整改节点：{d.milestone_text}" if d.milestone_text else ""]


def deliver_daily_report(uow: UnitOfWork, clock: Clock, campaign_id: int, day: dt.date,
                         docx: Path | None, *, figures: DailyFigures | None = None,
                         sources: list[ScopeFigures] | None = None) -> int:
    """Send the day's report to the plan's `reports.daily_to`; returns outbox rows added.

    The message carries the totals, the recipient's own row (a town's, or an office's as
    lead), the day's spot checks and the breakdown by source; e-mail attaches the .docx.
    `figures` and `sources`: the ones the report was written from, when the caller has them.
    """
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    offices = {o.code: o for o in session.scalars(
        select(Office).where(Office.campaign_id == campaign_id))}
    targets = recipients(plan, offices, plan.reports.daily_to)
    if not targets:
        return 0
    figures = figures or daily_figures(uow, campaign_id, day)
    checks, failures = spot_check_lines(session, plan, campaign_id, day)
    if sources is None:
        sources = source_figures(session, plan, campaign_id, day, figures)
    towns = {t.code: t for t in figures.towns}
    leads = {o.code: o for o in figures.offices}
    t = figures.total
    drawn = sum(g.drawn for g in checks)
    spot = (f"当日随机抽查{drawn}项，合格{sum(g.passed for g in checks)}项，不合格"
            f"{sum(g.failed for g in checks)}项。" if drawn else "当日未安排随机抽查。")
    by_source = "；".join(f"{s.name}{s.today.found}个（已销号{s.today.closed}个）"
                          for s in sources)
    head = (f"截至{format_date_cn(day)}，累计发现问题{t.today.found}个，已销号"
            f"{t.today.closed}个（销号率{t.closure_rate * 100:.1f}%），逾期未整改"
            f"{t.today.overdue}个。")
    files = _stored(docx, report_file_stem(plan.name, "日报", format_date_cn(day)))
    messages: list[Message] = []
    for office in targets:
        own: list[str] = []
        if office.level == OfficeLevel.TOWN.value and office.town_code in towns:
            own.append("本乡镇 " + _line(towns[office.town_code]))
        if office.code in leads:
            own.append("本单位牵头 " + _line(leads[office.code]))
        lines = [f"{office.name}：", head, *own, spot, *_duty_lines(session, plan, campaign_id,
                                                                    day, office)]
        if failures:
            lines.append("抽查不合格：" + "；".join(
                f"{f.group} {f.kind}{f.item}（{f.place}）" for f in failures) + "。")
        if by_source:
            lines.append(f"按问题来源：{by_source}。")
        lines.append("日报全文（Word 文档）随邮件附送。" if files else "")
        messages.append(Message(
            target=office, audience=Audience.OFFICE, kind="daily_report",
            subject=f"【日报】{plan.name}问题整改进度日报（{format_date_cn(day)}）",
            body="\n".join(x for x in lines if x),
            dedupe_key=f"report:daily:{campaign_id}:{day.isoformat()}:{office.code}",
            payload={"report": "daily", "day": day.isoformat(), "attachments": files},
            channels=[c.value for c in plan.reports.channels],
        ))
    return enqueue_all(session, clock, plan, campaign_id, messages)


def publish_daily_report(uow: UnitOfWork, clock: Clock,
                         campaign_id: int) -> tuple[dt.date, Path | None] | None:
    """Today's report once the plan's hour has passed: written, delivered and recorded in the
    caller's unit (a rerun after a kill writes it again; dedupe keys keep messages single).
    Returns its day and .docx, or None when no report is due."""
    day = daily_report_due(uow, clock, campaign_id)
    if day is None:
        return None
    # Written and delivered from the same figures: each is a pass over the whole ledger.
    figures = daily_figures(uow, campaign_id, day)
    sources = source_figures(uow.session, load_plan_of(uow.session, campaign_id),
                             campaign_id, day, figures)
    paths = write_daily_report(uow, clock, campaign_id, day, reports_dir(campaign_id),
                               figures=figures, sources=sources)
    docx = next((p for p in paths if p.suffix == ".docx"), None)
    digest = hashlib.sha256(docx.read_bytes()).hexdigest() if docx else None
    deliver_daily_report(uow, clock, campaign_id, day, docx, figures=figures, sources=sources)
    record_daily_report(uow, clock, campaign_id, day, docx, digest)
    return day, docx


def ranking_delivered(session: Session, campaign_id: int, month: dt.date) -> bool:
    """Whether a month's ranking went into the outbox already."""
    prefix = f"report:ranking:{campaign_id}:{month.strftime('%Y-%m')}:"
    return session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.campaign_id == campaign_id,
        OutboxMessage.dedupe_key.startswith(prefix)).limit(1)) is not None


def deliver_ranking(uow: UnitOfWork, clock: Clock, campaign_id: int, month: dt.date,
                    docx: Path | None, summary: str) -> int:
    """Send a frozen month's 月考评 通报 to the plan's `reports.ranking_to`."""
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    offices = {o.code: o for o in session.scalars(
        select(Office).where(Office.campaign_id == campaign_id))}
    town_names = dict(session.execute(
        select(Town.code, Town.name).where(Town.campaign_id == campaign_id)).all())
    label = f"{month.year}年{month.month}月"
    files = _stored(docx, report_file_stem(plan.name, "月考评", label))
    messages: list[Message] = []
    for office in recipients(plan, offices, plan.reports.ranking_to):
        town = town_names.get(office.town_code or "")
        lines = [f"{office.name}：", f"{plan.name}{label}考评结果已冻结。{summary}"]
        if town and town in summary:
            lines.append(f"请{town}对照考评结果查找差距、抓好整改。")
        if files:
            lines.append("通报全文（Word 文档）随邮件附送。")
        messages.append(Message(
            target=office, audience=Audience.OFFICE, kind="ranking",
            subject=f"【月考评】{plan.name}{label}考评结果通报",
            body="\n".join(lines),
            dedupe_key=f"report:ranking:{campaign_id}:{month.strftime('%Y-%m')}:{office.code}",
            payload={"report": "ranking", "month": month.strftime("%Y-%m"),
                     "attachments": files},
            channels=[c.value for c in plan.reports.channels],
        ))
    return enqueue_all(session, clock, plan, campaign_id, messages)


def ranking_to_deliver(uow: UnitOfWork, campaign_id: int) -> dt.date | None:
    """The latest frozen month when its ranking has not gone out and has someone to go to
    (deliver_due_ranking's rule, also the tick's), else None."""
    from duban.services.scoring.monthly import frozen_months

    months = frozen_months(uow, campaign_id)
    if not months:
        return None
    month = months[-1]
    session = uow.session
    if ranking_delivered(session, campaign_id, month):
        return None
    plan = load_plan_of(session, campaign_id)
    offices = {o.code: o for o in session.scalars(
        select(Office).where(Office.campaign_id == campaign_id))}
    return month if recipients(plan, offices, plan.reports.ranking_to) else None


def monthly_ranking_due(uow: UnitOfWork, clock: Clock,
                        campaign_id: int) -> tuple[bool, dt.date | None]:
    """Whether the monthly ranking's daily step has work today (a month to freeze, a frozen
    ranking to send), and the month freeze_due_month reports today: the services' own rules
    (due_month and `ranking`, ranking_to_deliver), asked by the tick before a task run."""
    from duban.domain.clock import local_today
    from duban.services.scoring.monthly import due_month, ranking

    month = due_month(load_plan_of(uow.session, campaign_id), local_today(clock))
    if month is not None and ranking(uow, campaign_id, month) is None:
        return True, month
    return ranking_to_deliver(uow, campaign_id) is not None, month


def deliver_due_ranking(uow: UnitOfWork, clock: Clock, campaign_id: int,
                        out_dir: Path) -> dt.date | None:
    """Write and send the latest frozen month's ranking once; returns the month sent."""
    from duban.domain.scoring import Standing
    from duban.services.scoring.documents import write_ranking
    from duban.services.scoring.monthly import ranking

    month = ranking_to_deliver(uow, campaign_id)
    if month is None:
        return None
    paths = write_ranking(uow, clock, campaign_id, month, out_dir)
    snap = ranking(uow, campaign_id, month)
    assert snap is not None  # frozen_months listed it
    rows = sorted(snap.ranking.rows, key=lambda r: r.position)
    top = [r.name for r in rows if r.standing is Standing.COMMENDED]
    last = [r.name for r in rows if r.standing is Standing.NAMED]
    summary = "；".join(x for x in (
        f"第1名：{'、'.join(r.name for r in rows if r.position == 1)}"
        + ("（并列）" if len(rows) > 1 and rows[1].position == 1 else "") if rows else "",
        f"表彰：{'、'.join(top)}" if top else "",
        f"末位：{'、'.join(last)}" if last else "",
    ) if x) + "。"
    docx = next((p for p in paths if p.suffix == ".docx"), None)
    deliver_ranking(uow, clock, campaign_id, month, docx, summary)
    return month


def delivery_summary(uow: UnitOfWork, campaign_id: int) -> list[tuple[str, int]]:
    """Who received what, in words and counts, for the demo's summary."""
    from sqlalchemy import func

    from duban.services.messages import STATUS_SENT
    from models import Notice, NoticeCopy, NoticeProblem, NoticeRound

    session = uow.session
    live = (Notice.campaign_id == campaign_id, Notice.kind == "notice",
            Notice.voided.is_(False))
    co_only = ~select(NoticeProblem.notice_id).where(
        NoticeProblem.notice_id == Notice.id, NoticeProblem.co_office.is_(False)).exists()
    to_towns = select(func.count()).select_from(Notice).join(
        Office, (Office.campaign_id == campaign_id) & (Office.code == Notice.office_code)
    ).where(*live, Office.level == OfficeLevel.TOWN.value)

    def count(stmt: object) -> int:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    def sent(kind: str) -> int:
        return count(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.campaign_id == campaign_id, OutboxMessage.status == STATUS_SENT,
            OutboxMessage.payload["report"].as_string() == kind))

    return [
        ("督办通知书（合计）", count(select(func.count()).select_from(Notice).where(*live))),
        ("其中主送乡镇", count(to_towns)),
        ("其中只列配合整改问题（协办单位单独下发）",
         count(select(func.count()).select_from(Notice).where(*live, co_only))),
        ("抄送协办单位（份次）", count(select(func.count()).select_from(NoticeCopy).join(
            Notice, Notice.id == NoticeCopy.notice_id).where(*live))),
        ("滚动下发轮次（有新问题的）", count(select(func.count()).select_from(NoticeRound).where(
            NoticeRound.campaign_id == campaign_id, NoticeRound.notices > 0))),
        ("滚动下发的督办通知书", count(select(func.count()).select_from(Notice).where(
            *live, Notice.batch_key.startswith("round:")))),
        ("日报已送达（站内信、邮件、机器人）", sent("daily")),
        ("月考评已送达", sent("ranking")),
    ]
