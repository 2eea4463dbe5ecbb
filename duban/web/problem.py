"""A problem's page: its facts, the moves its reader may make, milestones and evidence.

A refused move never loses what was typed: the page is drawn again (400, 403 or 409) with
that move's form open, the note, office and deadline as they were sent, the reason beside
the form and the names of chosen files, which a browser cannot be given back. Required
fields carry `required` (and the photo input too), so the browser refuses before sending and
the chosen files stay chosen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from duban.domain.errors import DubanError, NotFound
from duban.domain.lifecycle import Action, Payload, Role
from duban.services import moves
from duban.services.calendars import working_calendar
from duban.services.duties import MilestoneRow, problem_milestones, reach_milestone
from duban.services.evidence import UploadedFile, evidence_file, named_for
from duban.services.scoping import visible_problem
from duban.services.views.choices import Choice, filter_choices
from duban.services.views.detail import ProblemDetail, problem_detail
from duban.web.deps import WebState, csrf_session, current, state
from duban.web.forms import FORMS, parse_date, refusal_status
from duban.web.pages import CtxDep, _attachment, campaign_of, ledger_of, page, read, rules_of
from duban.web.render import redirect, safe_next
from duban.web.uploads import read_upload

router = APIRouter(dependencies=[Depends(current), Depends(csrf_session)])


@dataclass(frozen=True)
class Kept:
    """What a refused form sent, drawn back into it."""

    form: str  # which form: a move's action value, or "milestone:<code>"
    error: str
    note: str = ""
    office: str = ""
    deadline: str = ""
    files: tuple[str, ...] = ()  # names of the files chosen (the browser must be given them again)


@router.get("/problems/{problem_id}", include_in_schema=False)
def problem_page(request: Request, ctx: CtxDep, problem_id: int) -> Response:
    return _problem(request, ctx, problem_id)


def _problem(request: Request, ctx: CtxDep, problem_id: int, kept: Kept | None = None,
             status_code: int = 200) -> Response:
    st = state(request)
    detail = read(st, problem_detail, ctx.scope, problem_id, ctx.today)
    campaigns, chosen = campaign_of(st, detail.campaign_id)
    rules = rules_of(st, detail.campaign_id, ctx.today)
    names = rules.names
    p = detail.problem
    tier = next((t.name for t in rules.plan.deadlines.tiers if t.code == detail.tier),
                detail.tier or "")
    offer = st.db.run(moves.offer, st.clock, ctx.scope, problem_id)
    forms = [FORMS[a] for a in offer.actions]
    defaults = {a.value: day for a, day in offer.deadlines.items()}
    suggestions = {**_deadline_suggestions(detail, ctx.today),
                   **{a: day.isoformat() for a, day in defaults.items()}}
    offices = list(read(st, filter_choices, ctx.scope, detail.campaign_id,
                        names=names)["offices"])
    if p.village_code:
        from duban.domain.routing import village_office_code

        own = village_office_code(p.village_code)
        offices.append(Choice(own, names.office(own)))
    stones = read(st, problem_milestones, problem_id, ctx.today)
    may_reach = Role.COUNTY in ctx.scope.actor.roles or p.lead_office in ctx.scope.actor.offices
    # A kept form that is no longer offered (someone moved the problem first) is told at the
    # top, with the note quoted so it can be copied.
    shown = kept is not None and (any(f.action.value == kept.form for f in forms)
                                  or kept.form.startswith("milestone:"))
    return page(st, ctx, "problem.html", "ledger", campaign=chosen, campaigns=campaigns,
                d=detail, p=p, names=names, moves=forms, suggestions=suggestions,
                defaults=defaults, offices=offices, milestones=stones, may_reach=may_reach,
                kept=kept, kept_shown=shown, tier=tier, status_code=status_code)


@router.post("/problems/{problem_id}/milestones", include_in_schema=False)
async def problem_milestone(
    request: Request, ctx: CtxDep, problem_id: int,
    milestone: Annotated[str, Form(max_length=80)],
    note: Annotated[str, Form(max_length=500)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """The lead office reports a milestone (整改节点) of a problem reached, with evidence."""
    from starlette.concurrency import run_in_threadpool

    st = state(request)
    back = f"/problems/{problem_id}"
    detail = read(st, problem_detail, ctx.scope, problem_id, ctx.today)  # 404 outside scope
    try:
        uploads = await _files([], files or [])
        row = await run_in_threadpool(partial(
            _reach, st, ctx.username, detail.campaign_id, problem_id, milestone, note, uploads))
    except NotFound:
        raise
    except DubanError as exc:
        kept = Kept(f"milestone:{milestone}", exc.message, note=note,
                    files=_chosen(files or []))
        return _problem(request, ctx, problem_id, kept, refusal_status(exc))
    return redirect(request, st.keys, back, ok=f"已报告节点“{row.name}”完成（{row.state}）",
                    secure=st.secure_cookies)


def _reach(st: WebState, username: str, campaign_id: int, problem_id: int, milestone: str,
           note: str, uploads: list[UploadedFile]) -> MilestoneRow:
    with st.db.unit_of_work() as uow:
        row = reach_milestone(uow, st.clock, campaign_id, problem_id, milestone, by=username,
                              files=uploads, note=note)
        uow.commit()
    return row


def _deadline_suggestions(detail: ProblemDetail, today: dt.date) -> dict[str, str]:
    """A date to start from in the extension request form: five working days on.

    Moves with a default deadline (复核不通过, 重新打开, 批准延期) start from that default
    and get it when the field is left empty (moves.default_deadlines), as on every edge.
    """
    try:
        base = max(detail.problem.deadline or today, today)
        return {Action.REQUEST_EXTENSION.value: working_calendar().add_workdays(base, 5)
                .isoformat()}
    except DubanError:
        return {}  # outside the calendar's years: the user types the date


def _chosen(*groups: list[UploadFile]) -> tuple[str, ...]:
    return tuple(f.filename for group in groups for f in group if f.filename)


async def _files(before: list[UploadFile], after: list[UploadFile]) -> list[UploadedFile]:
    files = []
    for phase, group in (("before", before), ("after", after)):
        for f in group:
            if not f.filename:
                continue  # an empty file input still sends one nameless part
            files.append(await read_upload(f, phase))  # type: ignore[arg-type]
    return files


@router.post("/problems/{problem_id}/move", include_in_schema=False)
async def problem_move(
    request: Request, ctx: CtxDep, problem_id: int,
    action: Annotated[str, Form()],
    version: Annotated[int | None, Form()] = None,
    note: Annotated[str, Form(max_length=2000)] = "",
    office: Annotated[str, Form(max_length=80)] = "",
    deadline: Annotated[str, Form(max_length=20)] = "",
    before: Annotated[list[UploadFile] | None, File()] = None,
    after: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    from starlette.concurrency import run_in_threadpool

    st = state(request)
    back = f"/problems/{problem_id}"
    try:
        act = Action(action)
    except ValueError:
        return redirect(request, st.keys, back, error=f"未知的办理步骤：{action[:30]}",
                        secure=st.secure_cookies)
    try:
        files = await _files(before or [], after or [])
        payload = Payload(note=note.strip(), office=office or None,
                          deadline=parse_date(deadline))
        out = await run_in_threadpool(partial(
            st.db.run, moves.apply, st.clock, ctx.scope, problem_id, act, payload,
            expected_version=version, files=files))
    except NotFound:
        raise  # another town's or office's problem: the same 404 page as a missing one
    except DubanError as exc:
        kept = Kept(act.value, exc.message, note=note, office=office, deadline=deadline,
                    files=_chosen(before or [], after or []))
        return _problem(request, ctx, problem_id, kept, refusal_status(exc))
    return redirect(request, st.keys, back, ok=f"已{FORMS[act].label}：{out.problem.code}",
                    secure=st.secure_cookies)


@router.post("/problems/bulk", include_in_schema=False)
def problem_bulk(
    request: Request, ctx: CtxDep,
    ids: Annotated[list[int], Form(alias="id")],
    action: Annotated[str, Form()] = Action.REASSIGN.value,
    office: Annotated[str, Form(max_length=80)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form()] = "/ledger",
) -> Response:
    st = state(request)
    target = safe_next(back, "/ledger")
    try:
        act = Action(action)
    except ValueError:
        return redirect(request, st.keys, target, error="未知的批量办理步骤",
                        secure=st.secure_cookies)
    if act not in {Action.REASSIGN, Action.ROUTE, Action.CLOSE, Action.PASS_REVIEW}:
        return redirect(request, st.keys, target, error="此步骤不支持批量办理",
                        secure=st.secure_cookies)
    if len(ids) > 500:
        return redirect(request, st.keys, target, error="一次最多批量办理 500 个问题",
                        secure=st.secure_cookies)
    lines = st.db.run(moves.apply_many, st.clock, ctx.scope, ids, act,
                      Payload(note=note.strip(), office=office or None))
    ok = sum(1 for line in lines if line.ok)
    failed = [line for line in lines if not line.ok]
    text = f"批量{FORMS[act].label}：成功 {ok} 个"
    if failed:
        text += f"，未办理 {len(failed)} 个：" + "；".join(
            line.message for line in failed[:5]) + ("……" if len(failed) > 5 else "")
        # The ledger again, as filtered, with the problems not done still chosen and the
        # step, office and note as sent.
        url = urlsplit(target)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        page_no = int(query["page"]) if query.get("page", "").isdigit() else 1
        return ledger_of(request, ctx, query.get("campaign"), query, max(page_no, 1), kept={
            "error": text, "ids": {line.problem_id for line in failed}, "action": act.value,
            "office": office, "note": note}, status_code=200 if ok else 400, back=target)
    return redirect(request, st.keys, target, ok=text, secure=st.secure_cookies)


@router.get("/evidence/{evidence_id}", include_in_schema=False)
def evidence_download(request: Request, ctx: CtxDep, evidence_id: int,
                      download: int = 0) -> Response:
    from models import Evidence

    st = state(request)
    with st.db.transaction() as session:
        row = session.get(Evidence, evidence_id)
        if row is None:
            raise NotFound(f"佐证资料不存在：编号 {evidence_id}")
        visible_problem(session, ctx.scope, row.problem_id)  # scoped like its problem
        sha, name, kind = row.sha256, row.filename, row.content_type
    content = st.db.run(evidence_file, sha)
    inline = kind in {"image/jpeg", "image/png", "application/pdf"} and not download
    return Response(content, media_type=kind, headers={
        "Content-Disposition": _attachment(named_for(name, kind), inline=inline),
        "Cache-Control": "private, max-age=3600",
    })
