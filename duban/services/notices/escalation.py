"""The documents fired rungs of the reminder ladder issue: a 催办通知 per office for its 催办
rungs, and one 通报 for the 通报 rungs of a sweep (`reminders.sweep` calls it in its transaction).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.adapters.documents.context import (
    AlertColour,
    BulletinContext,
    BulletinGroup,
    BulletinItem,
    ReminderContext,
    ReminderItem,
    Requirement,
)
from duban.domain.clock import Clock
from duban.domain.plan import Audience, OfficeLevel, Plan, RungAction, towns_addressee
from duban.domain.reminders import DueReminder
from duban.services.messages import Message, enqueue_all
from duban.services.notices.documents import (
    KIND_BULLETIN,
    KIND_REMINDER,
    county_contact,
    issue_document,
    letterhead,
)
from duban.services.views.names import names_in
from models import Notice, NoticeCopy, Office, Problem


def _alert(entry: DueReminder) -> AlertColour:
    if entry.rung.colour in {c.value for c in AlertColour}:
        return AlertColour(entry.rung.colour)
    if entry.overdue_days > 0:
        return AlertColour.RED
    return AlertColour.ORANGE if entry.remaining_days <= 1 else AlertColour.YELLOW


def _days_overdue(entry: DueReminder) -> int:
    return entry.overdue_days if entry.overdue_days > 0 else -entry.remaining_days


def escalation_documents(session: Session, clock: Clock, plan: Plan, register: Any,
                          campaign_id: int, today: dt.date,
                          entries: Sequence[DueReminder]) -> list[str]:
    """Issue a 催办通知 per office for fired 催办 rungs and one 通报 for fired 通报 rungs."""
    urge: dict[str, dict[int, DueReminder]] = defaultdict(dict)
    bulletin: dict[int, DueReminder] = {}
    for e in entries:
        if e.rung.action is RungAction.URGE:
            urge[e.office][e.problem_id] = e
        elif e.rung.action is RungAction.BULLETIN:
            bulletin[e.problem_id] = e
    if not urge and not bulletin:
        return []
    # Only now: most sweeps fire no 催办 or 通报, and the renderer's modules (python-docx, lxml,
    # jinja2) cost a process ~0.07 s of CPU to import.
    from duban.adapters.documents.render import render_bulletin, render_reminder

    names = names_in(session, campaign_id, plan)
    places = dict(session.execute(
        select(Problem.id, Problem.town_code).where(
            Problem.id.in_([e.problem_id for group in urge.values() for e in group.values()]
                           + list(bulletin)))
    ).all())
    villages = dict(session.execute(
        select(Problem.id, Problem.village_code).where(Problem.id.in_(list(places)))
    ).all())
    numbers: list[str] = []
    head = letterhead(plan, county_contact(session, campaign_id, plan))
    batch = f"sweep:{today.isoformat()}"
    for office_code in sorted(urge):
        office_name = names.office(office_code)
        group = sorted(urge[office_code].values(), key=lambda e: (e.deadline, e.number))
        items = [
            ReminderItem(
                seq=n, code=e.number,
                town=names.towns.get(places.get(e.problem_id, ""), ""),
                village=names.villages.get(villages.get(e.problem_id) or "", ""),
                description=e.description, deadline=e.deadline,
                days_overdue=_days_overdue(e), colour=_alert(e),
            )
            for n, e in enumerate(group, start=1)
        ]

        def build(number: str, office_name: str = office_name,
                  items: list[ReminderItem] = items) -> ReminderContext:
            return ReminderContext(
                **head, title=f"关于催促{office_name}限期整改问题的通知", issued_on=today,
                number=number, office=office_name, as_of=today,
                intro=(f"截至{today.year}年{today.month}月{today.day}日，你单位牵头整改的"
                       f"{len(items)}个问题已到期或逾期仍未完成整改，现予催办。"),
                items=items,
                requirements=(Requirement("", "请于收到本通知后立即组织整改，"
                                          "并在系统中提交整改情况和佐证资料。"),),
            )

        notice = issue_document(
            session, clock, register, campaign_id=campaign_id, kind=KIND_REMINDER,
            office_code=office_code, problem_ids=[e.problem_id for e in group],
            issued_by="system", batch_key=batch, build=build, render=render_reminder)
        numbers.append(notice.number)
    if bulletin:
        group_items = sorted(bulletin.values(), key=lambda e: (-e.overdue_days, e.number))

        def item(e: DueReminder) -> BulletinItem:
            return BulletinItem(
                code=e.number, town=names.towns.get(places.get(e.problem_id, ""), ""),
                village=names.villages.get(villages.get(e.problem_id) or "", ""),
                office=names.office(e.office), description=e.description,
                deadline=e.deadline, days_overdue=e.overdue_days)

        # A town's 包保 county unit answers with it (seed 004's 一票否决): named beside it.
        liaison = {t.name: names.office(t.liaison) for t in plan.towns if t.liaison}
        by_town: dict[str, list[BulletinItem]] = defaultdict(list)
        by_office: dict[str, list[BulletinItem]] = defaultdict(list)
        for e in group_items:
            it = item(e)
            heading = it.town or "—"
            if it.town in liaison:
                heading = f"{heading}（包保单位：{liaison[it.town]}）"
            by_town[heading].append(it)
            by_office[it.office].append(it)

        # The place words come from the plan's scope (各乡镇（开发区）, 各村（社区）), not a fixed
        # "各乡镇（街道）".
        departments = any(o.level is OfficeLevel.COUNTY and o.code != plan.county_office
                          for o in plan.offices)
        addressee = f"{towns_addressee(plan)}、{'县直有关单位' if departments else '各有关办室'}"

        def build_bulletin(number: str) -> BulletinContext:
            return BulletinContext(
                **head, title=f"关于{plan.name}逾期未整改问题的通报", issued_on=today,
                number=number, addressee=addressee, as_of=today,
                intro=(f"截至{today.year}年{today.month}月{today.day}日，仍有"
                       f"{len(group_items)}个问题逾期未完成整改，现予通报。"),
                by_town=[BulletinGroup(k, v) for k, v in sorted(by_town.items())],
                by_office=[BulletinGroup(k, v) for k, v in sorted(by_office.items())],
                requirements=(Requirement("", "被通报单位要深刻反思，立即整改到位；"
                                          "逾期问题按规定计入考评并追究责任。"),),
            )

        notice = issue_document(
            session, clock, register, campaign_id=campaign_id, kind=KIND_BULLETIN,
            office_code="", problem_ids=[e.problem_id for e in group_items],
            issued_by="system", batch_key=batch, build=build_bulletin, render=render_bulletin)
        numbers.append(notice.number)
        _send_bulletin(session, clock, plan, campaign_id, notice, group_items, places)
    return numbers


def _send_bulletin(session: Session, clock: Clock, plan: Plan, campaign_id: int,
                   notice: Notice, entries: Sequence[DueReminder],
                   places: dict[int, str]) -> None:
    """Send a 通报 to each town it names and to the town's 包保 county unit.

    Seed 004 L79: 一票否决 falls on the town (开发区) and on the county unit that 包保 it; naming
    them in the document is not enough, each gets the document (kept as a copy row, so their
    notice pages list it and they may download it) and a message in its inbox and channels.
    """
    rung = "、".join(dict.fromkeys(e.rung.name for e in entries))
    by_town: dict[str, list[DueReminder]] = defaultdict(list)
    for e in entries:
        by_town[places.get(e.problem_id, "")].append(e)
    offices = {o.code: o for o in session.scalars(
        select(Office).where(Office.campaign_id == campaign_id))}
    towns = {t.code: t for t in plan.towns}
    told: dict[str, list[str]] = defaultdict(list)  # office code -> message lines
    for town_code, items in sorted(by_town.items()):
        town = towns.get(town_code)
        if town is None:
            continue
        codes = "、".join(e.number for e in items[:5]) + ("等" if len(items) > 5 else "")
        own = [o.code for o in plan.offices
               if o.level is OfficeLevel.TOWN and o.town == town_code]
        if len(own) == 1:
            told[own[0]].append(f"你单位（{town.name}）有{len(items)}个问题逾期未整改"
                                f"（{codes}），被通报（{rung}）。")
        if town.liaison:
            told[town.liaison].append(
                f"你单位包保的{town.name}有{len(items)}个问题逾期未整改（{codes}），"
                f"你单位作为包保单位一并被通报（{rung}）。")
    known = set(session.scalars(
        select(NoticeCopy.office_code).where(NoticeCopy.notice_id == notice.id)))
    messages: list[Message] = []
    for code, lines in sorted(told.items()):
        office = offices.get(code)
        if office is None:
            continue
        if code not in known:
            session.add(NoticeCopy(notice_id=notice.id, office_code=code))
        messages.append(Message(
            target=office, audience=Audience.OFFICE, kind=f"{KIND_BULLETIN}_issued",
            colour="red", subject=f"【通报】{notice.number} {notice.title}",
            body=(f"{office.name}：\n{plan.issuer}印发通报（{notice.number}）。"
                  + "".join(lines) + "请立即督促整改到位，并在系统中查看通报全文。"),
            dedupe_key=f"bulletin:{notice.id}:{code}",
            payload={"notice_id": notice.id, "number": notice.number}, about_office=code))
    enqueue_all(session, clock, plan, campaign_id, messages)
