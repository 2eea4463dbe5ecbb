"""Issuing 督办通知书: one per responsible office, to lead offices and co-offices (协办)."""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, func, literal, select, text
from sqlalchemy.orm import Session, aliased

from duban.adapters.documents.context import (
    ContactPerson,
    NoticeContext,
    NoticeItem,
    Requirement,
)
from duban.domain.clock import Clock, local_today
from duban.domain.deadlines import signing_days_text
from duban.domain.errors import NotFound
from duban.domain.lifecycle import OPEN_STATUSES
from duban.domain.numbering import format_date_cn
from duban.domain.plan import CoOfficeNotice, Plan
from duban.services.bulk import insert_rows
from duban.services.campaigns import ensure_running, load_plan_of
from duban.services.database import UnitOfWork
from duban.services.notices.documents import (
    KIND_NOTICE,
    county_contact,
    issue_documents,
    letterhead,
    lock_register,
    numbering_key,
)
from duban.services.notices.reading import NoticeRow, notice_rows
from duban.services.views.names import Names, names_in, notice_list_file_name
from models import (
    DocumentNumberRegister,
    Household,
    Notice,
    NoticeCopy,
    NoticeProblem,
    NoticeRound,
    Office,
    Problem,
    ProblemCoOffice,
)

NOTICE_REQUIREMENTS = (
    Requirement("提高站位，立行立改。", "请对照问题清单逐项明确整改措施、责任人和完成时限，"
                "能立即整改的立即整改，一时难以整改的制定计划限期整改。"),
    Requirement("对账销号，按时报送。", "整改完成后及时上传佐证资料，每日报送整改进度；"
                "逾期未完成的，将按规定催办、督办并予以通报。"),
)


# A notice listing more problems than this carries a per-town summary on its 附件 page and the
# full list as a spreadsheet beside it: a 15,000-row Word table is ~500 printed pages nobody
# reads and minutes of rendering and converting (docs/gbt9704.md, "A long 督办问题清单").
DEFAULT_INLINE_LIMIT = 200

NOTICE_PROBLEM = cast(Table, NoticeProblem.__table__)
_CODE_SEP = "\x1f"  # between a problem's co-office codes in SQLite's group_concat
NOTICE_PROBLEM_COLUMNS = ("notice_id", "problem_id", "kind", "office_code", "co_office")


def notice_inline_limit() -> int:
    """The deployment's DUBAN_NOTICE_INLINE_LIMIT: the most problems a notice's own 附件 table
    lists (an integer ≥ 1); 200 when unset."""
    raw = os.environ.get("DUBAN_NOTICE_INLINE_LIMIT", "").strip()
    if not raw:
        return DEFAULT_INLINE_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(f"环境变量 DUBAN_NOTICE_INLINE_LIMIT 的值“{raw}”无效，应为不小于1的整数"
                         "（督办通知书附件表格最多列出的问题数）")
    return limit


@dataclass(frozen=True)
class _Listed:
    """A problem on the notice to one addressee: as its lead, or as a co-office (配合)."""

    problem: Any  # a Row of the _LISTED columns
    co_office: bool


# What a notice lists of a problem, read as plain rows: a county's ~60,000 pending problems
# loaded as mapped objects were a quarter of the rectify stage's CPU (issue 17).
_LISTED = (Problem.id, Problem.code, Problem.town_code, Problem.village_code,
           Problem.household_id, Problem.description, Problem.category, Problem.deadline,
           Problem.deadline_basis, Problem.lead_office)


def _notice_context(
    plan: Plan,
    names: Names,
    contact: ContactPerson | None,
    office: Office,
    listed: Sequence[_Listed],
    households: dict[str, str],
    co_offices: dict[int, list[str]],
    copy_to: Sequence[str],
    number: str,
    *,
    clock: Clock,
    inline_limit: int = DEFAULT_INLINE_LIMIT,
    requirements: dict[tuple[str, bool], str] | None = None,
    signing: dict[tuple[str, bool], str] | None = None,
) -> NoticeContext:
    items = []
    # A county notice lists thousands of problems over a few categories and deadline bases:
    # each 整改要求 and 签收 wording is worked out once (the plan's lookups are linear scans),
    # once for a whole batch when it passes its dicts.
    requirements = {} if requirements is None else requirements
    signing = {} if signing is None else signing
    for i, entry in enumerate(listed, start=1):
        p = entry.problem
        co = entry.co_office
        requirement = requirements.get((p.category, co))
        if requirement is None:
            requirement = requirements[(p.category, co)] = _requirement(plan, p.category,
                                                                        co_office=co)
        deadline = p.deadline
        if not deadline:
            basis = (p.deadline_basis or "", co)
            deadline = signing.get(basis)
            if deadline is None:
                deadline = signing[basis] = (("牵头单位" if co else "")
                                             + signing_days_text(basis[0]))
        items.append(NoticeItem(
            seq=i,
            code=p.code,
            town=names.town(p.town_code),
            village=names.village(p.village_code),
            household=households.get(p.household_id or "", p.household_id or ""),
            description=p.description,
            requirement=requirement,
            deadline=deadline,
            co_offices=[names.office(c) for c in co_offices.get(p.id, ()) if c != office.code],
            lead=names.office(p.lead_office) if co else "",
        ))
    dated = [i.deadline for i in items if isinstance(i.deadline, dt.date)]
    waiting = sum(1 for e in listed if e.problem.deadline is None and not e.co_office)
    leads = sum(1 for e in listed if not e.co_office)
    if leads == len(items):
        share = f"交由你单位牵头整改的问题共{len(items)}个"
    elif leads == 0:
        share = f"需你单位配合牵头单位整改的问题共{len(items)}个"
    else:
        share = (f"交由你单位整改的问题共{len(items)}个（牵头{leads}个、"
                 f"配合{len(items) - leads}个）")
    head = letterhead(plan, contact)
    # The co-offices a notice copies, then the organs the plan copies every document to.
    head["copy_to"] = list(dict.fromkeys([*(names.office(c) for c in copy_to), *head["copy_to"]]))
    return NoticeContext(
        **head,
        title=f"关于限期整改{plan.name}排查问题的督办通知书",
        issued_on=local_today(clock),
        number=number,
        addressee=office.name,
        intro=(
            f"在{plan.name}中，经排查和汇总，{share}"
            f"（详见附件《督办问题清单》），{_when(dated, waiting)}"
            "现予督办，请按以下要求抓好整改落实。"
        ),
        problems=items,
        requirements=NOTICE_REQUIREMENTS,
        list_file=(notice_list_file_name(number, office.name)
                   if len(items) > inline_limit else ""),
    )


GENERAL_REQUIREMENT = "按时限完成整改并上传佐证资料"



def _requirement(plan: Plan, category: str, *, co_office: bool) -> str:
    """The 整改要求 of one problem: its category's rule in the plan, else the general one."""
    rule = plan.category_requirement(category) or GENERAL_REQUIREMENT
    return f"配合牵头单位：{rule}" if co_office else rule


def _when(dated: Sequence[dt.date], waiting: int) -> str:
    """The intro's words on deadlines: the earliest date, and those counted from the 签收."""
    parts = [f"最早整改时限为{format_date_cn(min(dated))}"] if dated else []
    if waiting:
        parts.append(f"{'其中' if dated else ''}{waiting}个问题的整改时限自你单位签收本通知书之日起算")
    if not parts:  # only a co-office's items, each waiting for its lead's 签收
        parts.append("整改时限自牵头单位签收督办通知书之日起算")
    return "，".join(parts) + "。"


def _render_notice(ctx: NoticeContext, path: Path, template_dir: Path | None = None) -> object:
    from duban.adapters.documents.render import render_notice

    return render_notice(ctx, path, template_dir=template_dir)


def _open_routed(campaign_id: int) -> list[ColumnElement[bool]]:
    return [
        Problem.campaign_id == campaign_id,
        Problem.status.in_([s.value for s in OPEN_STATUSES]),
        Problem.lead_office.is_not(None),
    ]


def _not_listed_for(office: Any) -> ColumnElement[bool]:
    """The problem is on no live 督办通知书 to `office` (a column or a code)."""
    return ~select(NoticeProblem.problem_id).where(
        NoticeProblem.problem_id == Problem.id, NoticeProblem.kind == KIND_NOTICE,
        NoticeProblem.office_code == office,
    ).exists()


def _modes(plan: Plan, offices: dict[str, Office]) -> dict[str, CoOfficeNotice]:
    """What each co-office of the campaign receives, by its level."""
    return {code: plan.notices.co_offices.of(o.level) for code, o in offices.items()}


def _with_head_and_co_offices(stmt: Select[*tuple[Any, ...]], campaign_id: int, dialect: str
                              ) -> Select[*tuple[Any, ...]]:
    """`stmt` (over Problem) with each problem's household's 户主 (`head`, None without a
    household row) and its co-offices (`co_codes`), read beside the listed rows.

    Both come from the listed problems themselves, through the household's unique key and
    the co-office key: a batch's reads grow with the problems it lists, not with the register
    (an array of a batch's household ids was a scan of every campaign's households, and its
    co-offices a merge over every campaign's problems, issue 17 item 6).
    """
    co = aliased(ProblemCoOffice)
    codes: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by  # not on SQLite

        codes = func.string_agg(co.office_code,
                                aggregate_order_by(literal(_CODE_SEP), co.office_code))
    else:
        codes = func.group_concat(co.office_code, _CODE_SEP)
    return (stmt.add_columns(
                Household.head,
                select(codes).where(co.problem_id == Problem.id).scalar_subquery()
                .label("co_codes"))
            .outerjoin(Household, (Household.campaign_id == campaign_id)
                       & (Household.household_id == Problem.household_id)))


def _co_codes(value: str | None, ordered: bool) -> list[str]:
    """A problem's co-offices as `_with_head_and_co_offices` read them, in code order (the
    database's own on PostgreSQL, as ORDER BY gave them before; SQLite's is the code points')."""
    if not value:
        return []
    return value.split(_CODE_SEP) if ordered else sorted(value.split(_CODE_SEP))


def _pending(session: Session, plan: Plan, office_of: dict[str, Office], campaign_id: int,
             offices: Sequence[str] | None) -> dict[str, list[_Listed]]:
    """Per addressee, the problems to list: led ones not yet on its notice, then co-offices'.

    Each row also carries its household's 户主 and its co-offices (`_with_head_and_co_offices`).
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # PostgreSQL's JIT compiled these listings' plans again for every batch: 2.6 s of the
        # co-office listing's 6.6 s at 1,000,000 households. For this transaction only.
        session.execute(text("SET LOCAL jit = off"))
    lead_stmt = (
        select(*_LISTED)
        .where(*_open_routed(campaign_id), _not_listed_for(Problem.lead_office))
        .order_by(Problem.lead_office, Problem.deadline, Problem.code)
    )
    if offices is not None:
        lead_stmt = lead_stmt.where(Problem.lead_office.in_(list(offices)))
    by_office: dict[str, list[_Listed]] = {}
    for p in session.execute(_with_head_and_co_offices(lead_stmt, campaign_id, dialect)):
        assert p.lead_office is not None
        by_office.setdefault(p.lead_office, []).append(_Listed(p, False))
    modes = _modes(plan, office_of)
    own = sorted(c for c, m in modes.items() if m is CoOfficeNotice.OWN
                 and (offices is None or c in offices))
    if own:
        co_stmt = (
            select(ProblemCoOffice.office_code.label("addressee"), *_LISTED)
            .join(Problem, Problem.id == ProblemCoOffice.problem_id)
            .where(*_open_routed(campaign_id), ProblemCoOffice.campaign_id == campaign_id,
                   ProblemCoOffice.office_code.in_(own),
                   _not_listed_for(ProblemCoOffice.office_code))
            .order_by(ProblemCoOffice.office_code, Problem.deadline, Problem.code)
        )
        for row in session.execute(_with_head_and_co_offices(co_stmt, campaign_id, dialect)):
            by_office.setdefault(row.addressee, []).append(_Listed(row, True))
    return by_office


def issue_notices(
    uow: UnitOfWork,
    clock: Clock,
    campaign_id: int,
    *,
    issued_by: str,
    batch_key: str,
    offices: Sequence[str] | None = None,
    round_key: str | None = None,
) -> list[NoticeRow]:
    """One 督办通知书 per responsible office, listing its open problems not yet on one to it.

    The lead office gets every problem it leads; a co-office (协办) gets its own notice, a copy
    (抄送) of the lead's, or nothing, as the plan's `notices.co_offices` says for its level.
    A retry with the same batch key returns the notices of the first (committed) run. With
    `round_key`, the rolling round is recorded in the same transaction (see issue_round).
    """
    from duban.services.messages import office_rows

    session = uow.session
    ensure_running(session, campaign_id, "下发督办通知书")
    plan = load_plan_of(session, campaign_id)
    register = lock_register(session, *numbering_key(plan, clock))
    done = batch_notices(session, campaign_id, batch_key)
    if done:
        return done
    office_of = office_rows(session, campaign_id)
    by_office = _pending(session, plan, office_of, campaign_id, offices)
    issued = _issue(session, clock, plan, office_of, register, campaign_id, by_office,
                    offices, issued_by=issued_by, batch_key=batch_key)
    if round_key is not None:
        session.add(NoticeRound(campaign_id=campaign_id, round_key=round_key,
                                ran_at=clock.now(), notices=len(issued)))
        session.flush()
    return notice_rows(session, issued)


def batch_notices(session: Session, campaign_id: int, batch_key: str) -> list[NoticeRow]:
    """The 督办通知书 a batch issued, in number order (none when it has not run)."""
    return notice_rows(session, session.scalars(
        select(Notice).where(Notice.campaign_id == campaign_id, Notice.kind == KIND_NOTICE,
                             Notice.batch_key == batch_key).order_by(Notice.seq)).all())


def _issue(session: Session, clock: Clock, plan: Plan, office_of: dict[str, Office],
           register: DocumentNumberRegister, campaign_id: int,
           by_office: dict[str, list[_Listed]], offices: Sequence[str] | None, *,
           issued_by: str, batch_key: str) -> list[Notice]:
    from duban.services.messages import (
        Message,
        enqueue_all,
        notice_copied_message,
        notice_issued_message,
    )

    if not by_office:
        return []
    problems = [e.problem for group in by_office.values() for e in group]
    names = names_in(session, campaign_id, plan)
    contact = county_contact(session, campaign_id, plan)
    households = _household_heads(problems)
    co_offices = _co_offices(problems, ordered=session.get_bind().dialect.name == "postgresql")
    modes = _modes(plan, office_of)
    inline_limit = notice_inline_limit()
    requirements: dict[tuple[str, bool], str] = {}  # shared by the batch's notices
    signing: dict[tuple[str, bool], str] = {}
    # Every office's notice is built first and rendered once, side by side in worker
    # processes (issue_documents); the rows and messages are written here, one writer.
    planned: list[tuple[Office, list[_Listed], list[str]]] = []
    for code in sorted(by_office):
        office = office_of.get(code)
        if office is None:
            raise NotFound(f"责任办室未定义：{code}（行动 {campaign_id}）")
        group = by_office[code]
        # 抄送: the co-offices of the problems this office leads whose level the plan copies.
        copy_to = sorted({c for e in group if not e.co_office
                          for c in co_offices.get(e.problem.id, [])
                          if c != code and modes.get(c) is CoOfficeNotice.COPY})
        planned.append((office, group, copy_to))
    notices = issue_documents(
        session, clock, register, campaign_id=campaign_id, kind=KIND_NOTICE,
        issued_by=issued_by, batch_key=batch_key,
        items=[(office.code, [e.problem.id for e in group],
                functools.partial(_notice_context, plan, names, contact, office, group,
                                  households, co_offices, copy_to, clock=clock,
                                  inline_limit=inline_limit, requirements=requirements,
                                  signing=signing))
               for office, group, copy_to in planned],
        render=_render_notice)
    # The side rows of the whole batch, each table in one statement (they were a few per
    # notice: an eighth of issuing 500, issue 17), in the notices' order.
    listed: list[tuple[int, int, str, str, bool]] = []
    copies: list[tuple[int, str]] = []
    messages: list[Message] = []
    for (office, group, copy_to), notice in zip(planned, notices, strict=True):
        code = office.code
        listed += [(notice.id, e.problem.id, KIND_NOTICE, code, e.co_office) for e in group]
        copies += [(notice.id, c) for c in copy_to]
        messages.append(notice_issued_message(plan, office, notice))
        for c in copy_to:
            shared = sum(1 for e in group if not e.co_office
                         and c in co_offices.get(e.problem.id, []))
            messages.append(notice_copied_message(plan, office_of[c], office, notice, shared))
    # COPY on PostgreSQL: an executemany ran one INSERT per row there (114,000 at a
    # county, ~3 s of the server's CPU); one raw executemany on SQLite.
    insert_rows(session, NOTICE_PROBLEM, NOTICE_PROBLEM_COLUMNS, listed)
    insert_rows(session, cast(Table, NoticeCopy.__table__), ("notice_id", "office_code"), copies)
    enqueue_all(session, clock, plan, campaign_id, messages)
    return notices


def _household_heads(problems: Sequence[Any]) -> dict[str, str]:
    """The 户主 of the listed problems' households, as their rows carry them."""
    return {p.household_id: p.head for p in problems
            if p.household_id and p.head is not None}


def _co_offices(problems: Sequence[Any], *, ordered: bool) -> dict[int, list[str]]:
    """The co-offices of the listed problems, sorted, as their rows carry them (`ordered`
    when the database sorted them)."""
    out: dict[int, list[str]] = {}
    for p in problems:
        if p.id not in out:
            codes = _co_codes(p.co_codes, ordered)
            if codes:
                out[p.id] = codes
    return out


def offices_without_notice(uow: UnitOfWork, campaign_id: int) -> list[str]:
    """Offices with open routed problems to list on a 督办通知书 that no live one lists for them.

    Lead offices, and co-offices that the plan gives notices of their own.
    """
    session = uow.session
    plan = load_plan_of(session, campaign_id)
    leads = set(session.scalars(
        select(Problem.lead_office)
        .where(*_open_routed(campaign_id), _not_listed_for(Problem.lead_office))
        .distinct()
    ))
    levels = [level for level in ("county", "town", "village")
              if plan.notices.co_offices.of(level) is CoOfficeNotice.OWN]
    co: set[str] = set()
    if levels:
        co = set(session.scalars(
            select(ProblemCoOffice.office_code)
            .join(Problem, Problem.id == ProblemCoOffice.problem_id)
            .join(Office, (Office.campaign_id == campaign_id)
                  & (Office.code == ProblemCoOffice.office_code))
            .where(*_open_routed(campaign_id), ProblemCoOffice.campaign_id == campaign_id,
                   Office.level.in_(levels), _not_listed_for(ProblemCoOffice.office_code))
            .distinct()
        ))
    return sorted(c for c in leads | co if c)


