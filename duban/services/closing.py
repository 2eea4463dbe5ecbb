"""A campaign's end (总结): final ranking, closing report, closed; and an explicit reopening.

A campaign closes when its plan's last day has passed (the tick closes it on the next day) or
when the county office closes it (`duban campaign close`). Closing freezes the monthly
rankings not yet frozen (the closing month as of the closing day: the final ranking), writes
the closing report (总结报告, .docx and .xlsx) and marks the campaign closed; from then on the
tick, the reminder sweep, spot-check draws and notices skip it. Reopening needs a reason and
a county user; a reopened campaign stays open until it is closed again by command (the tick
closes a campaign by its end date only once).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from duban.domain.clock import CHINA_TZ, Clock, local_today
from duban.domain.errors import DubanError, NotFound, PermissionDenied
from duban.domain.filenames import report_file_stem
from duban.domain.lifecycle import FINAL_STATUSES, ROLE_LABELS, Role, Status
from duban.domain.numbering import format_date_cn
from duban.services.actors import resolve_actor
from duban.services.campaigns import CLOSED, RUNNING, load_plan_of
from duban.services.database import UnitOfWork, data_dir
from duban.services.reports.daily import daily_figures, daily_report_context
from duban.services.reports.figures import Counts
from duban.services.scoring.monthly import freeze_final_rankings
from duban.services.templates import template_dir_for
from models import Campaign, CampaignEvent, Notice, Problem, SpotCheck

CLOSE = "close"
REOPEN = "reopen"
EVENT_LABELS = {CLOSE: "总结关闭", REOPEN: "重新开启", "amend": "方案修订", "aliases": "添加别名"}
REASON_END_DATE = "end_date"  # the plan's last day passed: the tick closed it
REASON_COMMAND = "command"  # the county office closed it
REASON_LABELS = {REASON_END_DATE: "方案结束日期已过，系统自动总结", REASON_COMMAND: "县级办公室总结关闭"}


class CampaignStateError(DubanError):
    """A close or reopen that does not fit the campaign's state."""


@dataclass(frozen=True)
class ClosingResult:
    """What closing did: the months ranked at the close and the closing report's files."""

    campaign_id: int
    closed_on: dt.date
    reason: str
    ranked_months: list[dt.date]
    report: list[Path]
    open_problems: int


def closing_dir(campaign_id: int) -> Path:
    """Where a campaign's closing report goes."""
    return data_dir() / "closing" / str(campaign_id)


def _county_actor(uow: UnitOfWork, clock: Clock, username: str, doing: str) -> str:
    session = uow.session
    actor = resolve_actor(session, username, local_today(clock))
    if actor.role not in (Role.COUNTY, Role.SYSTEM):
        raise PermissionDenied(f"{doing}须由县级办公室办理，{actor.name or actor.user}"
                               f"（{ROLE_LABELS[actor.role]}）无权办理")
    return actor.user


def close_campaign(uow: UnitOfWork, clock: Clock, campaign_id: int, username: str, note: str = "",
                   *, reason: str = REASON_COMMAND) -> ClosingResult:
    """Close a running campaign after its final ranking and closing report."""
    user = _county_actor(uow, clock, username, "行动总结关闭")
    today = local_today(clock)
    session = uow.session
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    if campaign.status == CLOSED:
        raise CampaignStateError(f"行动 {campaign_id}（{campaign.name}）已于"
                                 f"{_day(campaign.closed_at)}总结关闭，无需重复关闭")
    # The ranking, the report and the status change are one unit: a close by someone else
    # meanwhile bumps the campaign's version, and this one ends in a ConflictError.
    months = freeze_final_rankings(uow, clock, campaign_id, frozen_by=user)
    report, open_problems = write_closing_report(uow, clock, campaign_id, today, reason, note)
    campaign.status = CLOSED
    campaign.closed_at = clock.now()
    campaign.closed_by = user
    session.add(CampaignEvent(
        campaign_id=campaign_id, action=CLOSE, actor=user, at=clock.now(),
        note=note.strip() or REASON_LABELS.get(reason, reason),
        data={"reason": reason, "ranked_months": [m.strftime("%Y-%m") for m in months],
              "report": [str(p) for p in report], "open_problems": open_problems}))
    return ClosingResult(campaign_id, today, reason, months, report, open_problems)


def reopen_campaign(uow: UnitOfWork, clock: Clock, campaign_id: int, username: str,
                    reason: str) -> None:
    """Reopen a closed campaign, with a reason, on the record; only closing again ends it."""
    if not reason.strip():
        raise CampaignStateError("重新开启行动须写明原因（--reason）")
    user = _county_actor(uow, clock, username, "重新开启行动")
    session = uow.session
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    if campaign.status != CLOSED:
        raise CampaignStateError(f"行动 {campaign_id}（{campaign.name}）正在进行，无需重新开启")
    campaign.status = RUNNING
    campaign.closed_at = None
    campaign.closed_by = None
    session.add(CampaignEvent(campaign_id=campaign_id, action=REOPEN, actor=user,
                              at=clock.now(), note=reason.strip(), data={}))


def close_ended_campaigns(uow: UnitOfWork, clock: Clock) -> list[int]:
    """Close every running campaign whose plan's last day has passed; returns their ids.

    A campaign reopened after a close is left alone: reopening was explicit, so is the next
    close.
    """
    today = local_today(clock)
    session = uow.session
    closed_before = set(session.scalars(
        select(CampaignEvent.campaign_id).where(CampaignEvent.action == CLOSE)))
    candidates = [cid for cid in session.scalars(
        select(Campaign.id).where(Campaign.status == RUNNING).order_by(Campaign.id))
        if cid not in closed_before]
    # A plan with an open-ended stage never ends by date: the county office closes it.
    ended = [cid for cid in candidates
             if (end := load_plan_of(session, cid).end) is not None and end < today]
    done = []
    for cid in ended:
        try:
            close_campaign(uow, clock, cid, "system", reason=REASON_END_DATE)
        except CampaignStateError:
            continue  # closed concurrently
        done.append(cid)
    return done


@dataclass(frozen=True)
class CampaignEventLine:
    """One close or reopen as the CLI lists it."""

    action: str
    label: str
    actor: str
    at: dt.datetime
    note: str


def campaign_events(uow: UnitOfWork, campaign_id: int) -> list[CampaignEventLine]:
    """A campaign's closes and reopenings, oldest first."""
    session = uow.session
    return [CampaignEventLine(e.action, EVENT_LABELS.get(e.action, e.action), e.actor, e.at,
                              e.note)
            for e in session.scalars(select(CampaignEvent).where(
                CampaignEvent.campaign_id == campaign_id).order_by(CampaignEvent.id))]


def write_closing_report(uow: UnitOfWork, clock: Clock, campaign_id: int, day: dt.date,
                         reason: str, note: str = "") -> tuple[list[Path], int]:
    """Write the closing report (.docx, .xlsx) of a campaign as of a day; (paths, open count).

    It is the day's progress report by town and office, titled as the campaign's 总结报告,
    with an opening paragraph that adds what the whole campaign did: problems by status,
    those still open (handed over to routine work), spot checks, documents issued.
    """
    from duban.adapters.documents.render import render_daily_report
    from duban.adapters.documents.xlsx import write_daily_report_xlsx

    session = uow.session
    plan = load_plan_of(session, campaign_id)
    by_status = Counter(dict(session.execute(
        select(Problem.status, func.count()).where(Problem.campaign_id == campaign_id)
        .group_by(Problem.status)).all()))
    checks = Counter(dict(session.execute(
        select(SpotCheck.result, func.count()).where(SpotCheck.campaign_id == campaign_id)
        .group_by(SpotCheck.result)).all()))
    documents = Counter(dict(session.execute(
        select(Notice.kind, func.count()).where(Notice.campaign_id == campaign_id)
        .group_by(Notice.kind)).all()))
    figures = daily_figures(uow, campaign_id, day)
    # The chart spans the whole campaign (行动期间), not the daily report's last weeks.
    ctx = daily_report_context(session, campaign_id, day, figures,
                               series_days=max(1, (day - plan.start).days + 1), keep=clock,
                               whole=True)
    intro = (
        f"{plan.name}（{format_date_cn(plan.start)}至{format_date_cn(plan.end or day)}）"
        f"于{format_date_cn(day)}总结：{REASON_LABELS.get(reason, reason)}"
        f"{'（' + note.strip() + '）' if note.strip() else ''}。"
        + closing_figures_text(figures.total.today, by_status.get(Status.REVIEWED.value, 0))
        + f"随机抽查{sum(checks.values())}项，"
        f"合格{checks.get('passed', 0)}项，不合格{checks.get('failed', 0)}项，"
        f"未检查{checks.get('pending', 0)}项。下发督办通知书{documents.get('notice', 0)}份，"
        f"催办通知{documents.get('reminder', 0)}份，通报{documents.get('bulletin', 0)}份。"
    )
    final = {s.value for s in FINAL_STATUSES}
    still_open = sum(n for k, n in by_status.items() if k not in final)
    ctx = dataclasses.replace(ctx, title=f"{plan.name}工作总结报告", intro=intro,
                              chart_title="行动期间问题整改进度")
    out = closing_dir(campaign_id)
    stem = report_file_stem(plan.name, "总结报告", format_date_cn(day))
    docx = render_daily_report(ctx, out / f"{stem}.docx",
                               template_dir=template_dir_for(campaign_id))
    xlsx = write_daily_report_xlsx(ctx, out / f"{stem}.xlsx")
    return [docx, xlsx], still_open


def closing_figures_text(c: Counts, reviewed: int) -> str:
    """The whole campaign's problems in the daily report's terms (its columns say the same).

    Not the day's figures (较前一日 means nothing in a closing report), and not one count per
    status: the report's 待复核 column holds 复核通过 too, and two 待复核 figures that differ
    read as an error.
    """
    still_open = c.unrouted + c.rectifying + c.awaiting_review
    parts = [f"整改中{c.rectifying}个（其中逾期未整改{c.overdue}个）",
             f"待复核{c.awaiting_review}个" + (f"（含复核通过待销号{reviewed}个）" if reviewed else "")]
    if c.unrouted:
        parts.insert(0, f"待交办{c.unrouted}个")
    text = (f"行动期间累计排查发现问题{c.found}个，已交办{c.routed}个，已销号{c.closed}个，"
            f"销号率{c.closure_rate * 100:.1f}%")
    text += (f"；未办结{still_open}个，转入常态化整改：{'，'.join(parts)}" if still_open
             else "，问题全部办结")
    if c.voided:
        text += f"；经核实不属实或重复、已核销{c.voided}个"
    return text + "。"


def _day(moment: dt.datetime | None) -> str:
    return format_date_cn(moment.astimezone(CHINA_TZ).date()) if moment else ""
