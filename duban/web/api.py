"""The JSON API under /api/: the same scoped services as the pages, for other programs.

Every route needs a signed-in session (401 otherwise, never data); changing requests need the
`X-CSRF-Token` header that GET /api/me returns.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response

from duban.domain.bands import Band
from duban.domain.errors import DubanError, NotFound, PermissionDenied
from duban.domain.lifecycle import STATUS_LABELS, Action, Payload, Role, Status
from duban.services import moves
from duban.services.evidence import EvidenceInfo
from duban.services.notices.reading import NoticeRow, visible_notice, visible_notices
from duban.services.views.choices import campaign_choices
from duban.services.views.coverage import coverage as coverage_view
from duban.services.views.dashboard import Progress
from duban.services.views.detail import EventLine, HouseholdLine, NoticeLine, problem_detail
from duban.services.views.ledger import Sort
from duban.services.views.today import Due, today_work
from duban.services.views.waiting import waiting_items
from duban.web.deps import csrf_session, current, state
from duban.web.pages import (
    CtxDep,
    campaign_of,
    dashboard_of,
    ledger_page_rows,
    ledger_query,
    ledger_total,
    read,
)
from duban.web.render import render
from duban.web.uploads import read_upload

router = APIRouter(dependencies=[Depends(current), Depends(csrf_session)], tags=["api"])


# ---- schemas ----------------------------------------------------------------------------


class MeOut(BaseModel):
    """The signed-in user and the CSRF token for changing requests."""

    username: str
    name: str
    role: str
    role_label: str
    offices: list[str]
    town: str | None
    village: str | None
    csrf_token: str = Field(description="send as the X-CSRF-Token header on POST requests")


class CampaignOut(BaseModel):
    """A campaign."""

    id: int
    name: str
    document_number: str


class ProblemOut(BaseModel):
    """One ledger row."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    status: str
    status_label: str
    band: str = Field(description="warning band of an open item: on_time, due_soon, overdue, "
                      "yellow, orange, red; empty when not open")
    category: str
    source: str
    # Read from a LedgerRow's attributes; FastAPI validates the dumped model again by name.
    town: str = Field(validation_alias=AliasChoices("town_code", "town"))
    village: str | None = Field(validation_alias=AliasChoices("village_code", "village"))
    household_id: str | None
    description: str
    lead_office: str | None
    deadline: dt.date | None
    found_on: dt.date
    updated_at: dt.datetime
    version: int
    workdays_left: int | None = Field(
        default=None, description="working days from today to the deadline of an open item "
        "(0: due today, negative: overdue by so many working days)")


class ProblemPage(BaseModel):
    """A page of the ledger."""

    total: int = Field(description="matching problems; counting stops past 10000")
    total_exact: bool = Field(description="false when there are more than `total`")
    page: int
    per_page: int
    items: list[ProblemOut]


class HouseholdFactOut(BaseModel):
    """One fact the plan's household fields define, under its Chinese label."""

    label: str
    value: str


class HouseholdOut(BaseModel):
    """The household a problem is about, as far as the reader's scope may see it."""

    household_id: str
    head: str = Field(description="户主")
    members: int
    category: str = Field(description="农户类别 code")
    category_label: str = Field(description="农户类别 in Chinese, with 监测对象类型")
    monitoring_type: str | None
    facts: list[HouseholdFactOut] = Field(description="the plan's household fields, in its order")


class ProblemDetailOut(BaseModel):
    """A problem with its routing, timeline, evidence and notices."""

    problem: ProblemOut
    campaign_id: int
    found_by: str
    co_offices: list[str]
    deadline_basis: str | None
    submitted_by: str | None
    review_passed_by: str | None
    closed_at: dt.datetime | None
    reopen_count: int
    # The problem page's own view types: one shape for the page and the API.
    events: list[EventLine]
    evidence: list[EvidenceInfo]
    notices: list[NoticeLine]
    allowed_actions: list[str]
    household: HouseholdOut | None = None
    default_deadlines: dict[str, dt.date] = Field(
        default_factory=dict, description="the deadline a move gets when none is sent "
        "(复核不通过、重新打开: the plan's working days; 批准延期: the date asked for)")


class MoveIn(BaseModel):
    """A lifecycle move."""

    action: Action
    note: str = Field("", max_length=2000)
    office: str | None = Field(None, max_length=80)
    deadline: dt.date | None = None
    evidence: list[str] = Field(default_factory=list, description="SHA-256 of files uploaded "
                                "with POST /api/problems/{id}/evidence")
    expected_version: int | None = Field(None, description="refuse if the problem changed since")


class MoveOut(BaseModel):
    """The problem after a move."""

    problem_id: int
    code: str
    status: str
    status_label: str
    version: int
    evidence: list[str]


class BulkIn(BaseModel):
    """The same move on many problems."""

    ids: list[int] = Field(min_length=1, max_length=500)
    action: Literal["reassign", "route", "close", "pass_review", "accept"]
    office: str | None = Field(None, max_length=80)
    note: str = Field("", max_length=2000)


class BulkLineOut(BaseModel):
    """The result for one problem of a bulk move."""

    problem_id: int
    code: str
    ok: bool
    message: str


class ProgressOut(BaseModel):
    """Counts for a town or office."""

    code: str
    name: str
    total: int
    closed: int
    pending: int
    submitted: int
    overdue: int
    closed_rate: float
    bands: dict[str, int]


class WaitingLineOut(BaseModel):
    """Whose move, which step, how many, since when."""

    party: str
    party_code: str
    status: str
    step: str
    count: int
    oldest_since: dt.datetime


class TrendOut(BaseModel):
    """One day of the trend."""

    day: dt.date
    found: int
    closed: int
    pending: int


class TodayLineOut(BaseModel):
    """One line of 今天要办 and the ledger query listing its items."""

    key: str = Field(description="today, week, overdue, accept, rectify, review, route, "
                     "dispute, extension, close")
    label: str
    count: int
    ledger: str = Field(description="the ledger page listing these items")


class DashboardOut(BaseModel):
    """The dashboard of a campaign for the signed-in user's scope."""

    campaign_id: int
    campaign_name: str
    today: dt.date
    current_stage: str | None
    total: ProgressOut
    by_status: dict[str, int]
    towns: list[ProgressOut]
    offices: list[ProgressOut]
    villages: list[ProgressOut] = Field(description="a town's own villages (a town user only)")
    waiting: list[WaitingLineOut]
    trend: list[TrendOut]
    cached_seconds: float | None
    today_work: list[TodayLineOut] = Field(description="今天要办 in the user's scope")


class WaitingItemOut(BaseModel):
    """An item on someone's desk."""

    problem: ProblemOut
    party: str
    step: str
    since: dt.datetime


class WaitingPage(BaseModel):
    """A page of the waiting list, longest-waiting first."""

    total: int
    items: list[WaitingItemOut]


class CoverageLineOut(BaseModel):
    """Visits in one village."""

    town_code: str
    town: str
    village_code: str
    village: str
    households: int
    visited: int = Field(description="households visited at least once")
    visits: int
    rate: float | None = Field(description="visited / households; null when the village has "
                               "no registered household (无农户)")
    by_mode: dict[str, int] = Field(description="visited households by their latest visit's "
                                    "mode: in_person, phone, proxy")


class NoticeOut(BaseModel):
    """An issued document."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    kind: str
    office_code: str
    title: str
    problem_ids: list[int]
    issued_on: str
    issued_by: str
    voided: bool
    acknowledged_by: str | None
    copy_to: list[str] = []  # office codes in the 抄送 line
    has_list: bool = False  # its full problem list is a spreadsheet: GET …/notices/{id}/list


class IssueIn(BaseModel):
    """Issue supervision notices for every open problem not yet on one."""

    campaign: int
    batch_key: str = Field(min_length=4, max_length=64,
                           description="the same key again returns the same notices")


class LaunchOut(BaseModel):
    """A launched campaign."""

    id: int
    name: str
    document_number: str


# ---- helpers ----------------------------------------------------------------------------


def _progress(p: Progress) -> ProgressOut:
    return ProgressOut(code=p.code, name=p.name, total=p.total, closed=p.closed,
                       pending=p.pending, submitted=p.submitted, overdue=p.overdue,
                       closed_rate=round(p.closed_rate, 4), bands=p.bands)


def _campaign_id(request: Request, wanted: int | None) -> int:
    _, chosen = campaign_of(state(request), wanted)
    if chosen is None or (wanted is not None and chosen.id != wanted):
        raise NotFound(f"行动不存在：编号 {wanted}" if wanted else "尚未启动任何行动")
    return chosen.id


# ---- routes -----------------------------------------------------------------------------


@router.get("/me", response_model=MeOut, summary="当前用户与 CSRF 令牌")
def me(ctx: CtxDep) -> MeOut:
    return MeOut(username=ctx.username, name=ctx.user.name, role=ctx.scope.role.value,
                 role_label=ctx.user.role_label, offices=sorted(ctx.scope.offices),
                 town=ctx.scope.town, village=ctx.scope.village, csrf_token=ctx.csrf)


@router.get("/campaigns", response_model=list[CampaignOut], summary="行动列表")
def campaigns(request: Request, ctx: CtxDep) -> list[CampaignOut]:
    return [CampaignOut(id=c.id, name=c.name, document_number=c.document_number)
            for c in read(state(request), campaign_choices)]


@router.post("/campaigns", response_model=LaunchOut, status_code=201,
             summary="上传方案并启动行动（县级办公室）",
             responses={422: {"description": "方案有错误：errors 列出每一处（path、message）"}})
async def launch(request: Request, ctx: CtxDep, plan: Annotated[UploadFile, File()],
                 scope_table: Annotated[UploadFile | None, File()] = None) -> Response:
    import tempfile
    from pathlib import Path

    from duban.adapters.plan.yaml_file import load_plan_text
    from duban.domain.plan_check import PlanInvalid
    from duban.services.campaigns import launch_campaign

    st = state(request)
    if ctx.scope.role != Role.COUNTY:
        raise PermissionDenied("只有县级办公室可以启动行动")
    try:
        text = (await plan.read(2 * 1024 * 1024)).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DubanError("方案文件不是 UTF-8 编码的文本（YAML）") from exc
    with tempfile.TemporaryDirectory(prefix="duban-plan-") as tmp:
        if scope_table is not None and scope_table.filename:
            (Path(tmp) / Path(scope_table.filename).name).write_bytes(await scope_table.read())
        try:
            parsed = await run_in_threadpool(load_plan_text, text, tmp)
        except PlanInvalid as exc:
            return JSONResponse({"error": exc.message.splitlines()[0], "errors": [
                {"path": e.path, "line": getattr(e, "line", None), "message": e.message}
                for e in exc.errors]}, status_code=422)
    cid = await run_in_threadpool(st.db.run, launch_campaign, st.clock, parsed, text, ctx.username)
    st.cache.clear()
    return JSONResponse(LaunchOut(id=cid, name=parsed.name,
                                  document_number=parsed.document_number).model_dump(),
                        status_code=201)


@router.get("/campaigns/{campaign_id}/dashboard", response_model=DashboardOut,
            summary="总览：阶段、各乡镇与办室进度、预警、待办看板、趋势")
def dashboard(request: Request, ctx: CtxDep, campaign_id: int) -> DashboardOut:
    st = state(request)
    cid = _campaign_id(request, campaign_id)
    d, age = dashboard_of(st, ctx, cid)
    stage = d.current_stage
    return DashboardOut(
        campaign_id=d.campaign_id, campaign_name=d.campaign_name, today=d.today,
        current_stage=stage.name if stage else None, total=_progress(d.total),
        by_status=d.by_status, towns=[_progress(p) for p in d.towns],
        offices=[_progress(p) for p in d.offices], villages=[_progress(p) for p in d.villages],
        waiting=[WaitingLineOut(**w.__dict__) for w in d.waiting],
        trend=[TrendOut(**t.__dict__) for t in d.trend], cached_seconds=age,
        today_work=[TodayLineOut(key=line.key, label=line.label, count=line.count,
                                 ledger=line.href(cid))
                    for line in read(st, today_work, ctx.scope, cid, ctx.today).lines])


@router.get("/problems", response_model=ProblemPage, summary="问题台账（按权限范围）")
def problems(
    request: Request, ctx: CtxDep,
    campaign: int | None = None, town: str | None = None, village: str | None = None,
    office: str | None = None, status: Status | None = None, category: str | None = None,
    source: str | None = None, band: Band | None = None,
    due: Annotated[Due | None, Query(description="today: 今日到期, week: 本周到期 (to Sunday), "
                                     "overdue: 已逾期; open items only")] = None,
    lead: Annotated[str | None, Query(description="mine: only problems the user's own "
                                      "offices lead", pattern="^mine$")] = None,
    pending: Annotated[bool, Query(description="only items not closed or voided")] = False,
    q: Annotated[str | None, Query(max_length=100)] = None,
    sort: Sort = Sort.DEADLINE, desc: bool = False,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProblemPage:
    st = state(request)
    cid = _campaign_id(request, campaign)
    params = {"town": town or "", "village": village or "", "office": office or "",
              "status": status.value if status else ("pending" if pending else ""),
              "category": category or "",
              "source": source or "", "band": band.value if band else "", "q": q or "",
              "due": due.value if due else "", "lead": lead or "",
              "sort": sort.value, "desc": "1" if desc else ""}
    query = ledger_query(cid, params, page, per_page)
    total, exact = ledger_total(st, ctx, query)
    rows = ledger_page_rows(st, ctx, query, total, exact)
    return ProblemPage(total=total, total_exact=exact, page=page, per_page=per_page,
                       items=[ProblemOut.model_validate(r) for r in rows])


@router.get("/problems/{problem_id}", response_model=ProblemDetailOut, summary="问题详情")
def problem(request: Request, ctx: CtxDep, problem_id: int) -> ProblemDetailOut:
    st = state(request)
    d = read(st, problem_detail, ctx.scope, problem_id, ctx.today)
    offer = st.db.run(moves.offer, st.clock, ctx.scope, problem_id)
    return ProblemDetailOut(
        problem=ProblemOut.model_validate(d.problem), campaign_id=d.campaign_id, found_by=d.found_by,
        co_offices=d.co_offices, deadline_basis=d.deadline_basis,
        submitted_by=d.submitted_by, review_passed_by=d.review_passed_by,
        closed_at=d.closed_at, reopen_count=d.reopen_count,
        events=d.events, evidence=d.evidence, notices=d.notices,
        allowed_actions=[a.value for a in offer.actions],
        household=_household(d.household),
        default_deadlines={a.value: day for a, day in offer.deadlines.items()})


def _household(h: HouseholdLine | None) -> HouseholdOut | None:
    """The problem page's household line, for the API."""
    if h is None:
        return None
    return HouseholdOut(household_id=h.household_id, head=h.head, members=h.members,
                        category=h.category, category_label=h.category_label,
                        monitoring_type=h.monitoring_type,
                        facts=[HouseholdFactOut(label=k, value=v) for k, v in h.facts])


@router.post("/problems/{problem_id}/moves", response_model=MoveOut,
             summary="办理一步：签收、提交整改、复核、销号、改派、延期……")
def move(request: Request, ctx: CtxDep, problem_id: int, body: MoveIn) -> MoveOut:
    st = state(request)
    out = st.db.run(moves.apply, st.clock, ctx.scope, problem_id, body.action,
                      Payload(note=body.note.strip(), office=body.office,
                              deadline=body.deadline, evidence=tuple(body.evidence)),
                      expected_version=body.expected_version)
    p = out.problem
    return MoveOut(problem_id=p.id, code=p.code, status=p.status,
                   status_label=STATUS_LABELS[Status(p.status)], version=p.version,
                   evidence=list(out.evidence))


@router.post("/problems/{problem_id}/evidence", response_model=list[str],
             summary="上传佐证资料（返回各文件的 SHA-256，提交整改时引用）")
async def upload_evidence(request: Request, ctx: CtxDep, problem_id: int,
                          files: Annotated[list[UploadFile], File()],
                          phase: Annotated[Literal["before", "after"], Form()] = "after",
                          ) -> list[str]:
    from duban.services.evidence import store_evidence
    from duban.services.scoping import visible_problem

    st = state(request)
    uploads = [await read_upload(f, phase) for f in files]

    def store() -> list[str]:
        with st.unit_of_work() as uow:
            p = visible_problem(uow.session, ctx.scope, problem_id)
            if not (ctx.scope.role == Role.COUNTY or (
                    ctx.scope.role == Role.OFFICE and p.lead_office in ctx.scope.offices)):
                raise PermissionDenied(f"只有牵头责任办室或县级办公室可以为问题 {p.code} 上传佐证资料")
            hashes = store_evidence(uow, st.clock, p.id, uploads, ctx.username)
            uow.commit()
            return hashes

    return await run_in_threadpool(store)


@router.post("/problems/bulk-moves", response_model=list[BulkLineOut],
             summary="批量办理（每个问题单独成败）")
def bulk(request: Request, ctx: CtxDep, body: BulkIn) -> list[BulkLineOut]:
    st = state(request)
    lines = st.db.run(moves.apply_many, st.clock, ctx.scope, body.ids, Action(body.action),
                      Payload(note=body.note.strip(), office=body.office))
    return [BulkLineOut(**line.__dict__) for line in lines]


@router.get("/waiting", response_model=WaitingPage, summary="待办看板：每个在办问题等谁、等了多久")
def waiting(request: Request, ctx: CtxDep, campaign: int | None = None,
            office: str | None = None, status: Status | None = None,
            page: Annotated[int, Query(ge=1, le=100000)] = 1) -> WaitingPage:
    st = state(request)
    cid = _campaign_id(request, campaign)
    total, items = read(st, waiting_items, ctx.scope, cid, ctx.today, office=office,
                        status=status, page=page)
    return WaitingPage(total=total, items=[
        WaitingItemOut(problem=ProblemOut.model_validate(i.row), party=i.party, step=i.step, since=i.since)
        for i in items])


@router.get("/coverage", response_model=list[CoverageLineOut], summary="走访覆盖")
def coverage(request: Request, ctx: CtxDep, campaign: int | None = None) -> list[CoverageLineOut]:
    st = state(request)
    cid = _campaign_id(request, campaign)
    cov = read(st, coverage_view, ctx.scope, cid)
    return [CoverageLineOut(town_code=c.town_code, town=c.town, village_code=c.village_code,
                            village=c.village, households=c.households, visited=c.visited,
                            visits=c.visits, rate=None if c.rate is None else round(c.rate, 4),
                            by_mode=c.by_mode)
            for c in cov.villages if c.village_code is not None]


def _notice_out(n: NoticeRow) -> NoticeOut:
    out = NoticeOut.model_validate(n)
    out.has_list = n.list_path is not None
    return out


@router.get("/notices", response_model=list[NoticeOut], summary="通知书（本人可见的）")
def notices(request: Request, ctx: CtxDep, campaign: int | None = None) -> list[NoticeOut]:
    cid = _campaign_id(request, campaign)
    return [_notice_out(n) for n in read(state(request), visible_notices, ctx.scope, cid)]


@router.post("/notices/issue", response_model=list[NoticeOut],
             summary="下发督办通知书（县级办公室）")
def issue(request: Request, ctx: CtxDep, body: IssueIn) -> list[NoticeOut]:
    from duban.services.notices.issuing import issue_notices

    st = state(request)
    if ctx.scope.role != Role.COUNTY:
        raise PermissionDenied("只有县级办公室可以下发督办通知书")
    cid = _campaign_id(request, body.campaign)
    return [_notice_out(n) for n in st.db.run(issue_notices, st.clock, cid, issued_by=ctx.username,
                                                  batch_key=f"api-{body.batch_key}")]


@router.post("/notices/{notice_id}/ack", response_model=NoticeOut, summary="签收通知书")
def ack(request: Request, ctx: CtxDep, notice_id: int) -> NoticeOut:
    from duban.services.notices.receipts import acknowledge_notice

    st = state(request)
    read(st, visible_notice, ctx.scope, notice_id)
    return _notice_out(st.db.run(acknowledge_notice, st.clock, notice_id, ctx.username))


@router.get("/notices/{notice_id}/file", summary="下载通知书（.docx）",
            response_class=Response)
def notice_file(request: Request, ctx: CtxDep, notice_id: int) -> Response:
    from duban.web.work import notice_file_response

    return notice_file_response(state(request), ctx, notice_id)


@router.get("/notices/{notice_id}/list", summary="下载通知书的问题清单电子表格（.xlsx，问题较多时）",
            response_class=Response)
def notice_list(request: Request, ctx: CtxDep, notice_id: int) -> Response:
    from duban.web.work import notice_list_response

    return notice_list_response(state(request), ctx, notice_id)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
def docs(request: Request, ctx: CtxDep) -> HTMLResponse:
    st = state(request)
    schema = request.app.openapi()
    return render(st.env, st.keys, request, "api_docs.html", ctx=ctx, schema=schema,
                  active="api", campaign=None, campaigns=[])


class InboxOut(BaseModel):
    """An in-app message (reminder, escalation, notice receipt reminder)."""

    id: int
    campaign_id: int | None
    office_code: str
    kind: str
    colour: str
    subject: str
    body: str
    visible_from: dt.datetime
    read_at: dt.datetime | None
    read_by: str | None


@router.get("/inbox", response_model=list[InboxOut], summary="消息（本人所属办室的）")
def inbox(request: Request, ctx: CtxDep, campaign: int | None = None,
          unread: bool = False) -> list[InboxOut]:
    from duban.services.messages import list_inbox
    from duban.web.work import inbox_offices

    st = state(request)
    _, chosen = campaign_of(st, campaign)
    lines = st.db.run(list_inbox, st.clock, inbox_offices(st, ctx, chosen.id if chosen else None),
                       unread_only=unread, limit=200, username=ctx.username)
    return [InboxOut(id=m.id, campaign_id=m.campaign_id, office_code=m.office_code,
                     kind=m.kind, colour=m.colour, subject=m.subject, body=m.body,
                     visible_from=m.visible_from, read_at=m.read_at, read_by=m.read_by)
            for m in lines if chosen is None or m.campaign_id in (None, chosen.id)]


@router.post("/inbox/{message_id}/read", summary="标为已读")
def inbox_read(request: Request, ctx: CtxDep, message_id: int,
               campaign: int | None = None) -> dict[str, bool]:
    from duban.services.messages import mark_read
    from duban.web.work import inbox_offices

    st = state(request)
    _, chosen = campaign_of(st, campaign)
    changed = st.db.run(mark_read, st.clock, message_id, ctx.username,
                        inbox_offices(st, ctx, chosen.id if chosen else None))
    return {"changed": changed}
