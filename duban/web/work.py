"""The pages of daily office work around the ledger: campaigns and plans, imports and
templates, notices, ranking and penalties, substitutes and users.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from duban.domain.clock import local_today
from duban.domain.errors import DubanError, NotFound, PermissionDenied
from duban.domain.lifecycle import ROLE_LABELS, Action, Payload, Role
from duban.domain.numbering import document_label
from duban.services import moves
from duban.services.database import data_dir
from duban.services.duties import occurrence_rows
from duban.services.notices.documents import KIND_LABELS as KIND_LABEL_OF
from duban.services.notices.reading import visible_notice, visible_notices
from duban.services.scoping import (
    IMPORTERS,
    importable_towns,
    reach_of,
    visible_office_codes,
)
from duban.services.views.choices import filter_choices
from duban.services.views.names import (
    document_file_name,
    notice_list_file_name,
    person_labels,
    unit_labels,
)
from duban.web.deps import WebState, csrf_session, current, state
from duban.web.forms import refusal_status
from duban.web.pages import (
    CtxDep,
    _attachment,
    _int,
    campaign_of,
    chosen_campaign,
    page,
    read,
    rules_of,
)
from duban.web.render import redirect
from duban.web.security import Ctx
from duban.web.uploads import MAX_IMPORT_FILE_BYTES, MIB, read_upload

# Sign-in is checked before the CSRF token, so a request without a session gets the sign-in
# answer (redirect / 401) rather than a CSRF refusal.
router = APIRouter(dependencies=[Depends(current), Depends(csrf_session)])

MAX_PLAN_BYTES = 2 * 1024 * 1024


def require_role(ctx: Ctx, *roles: Role) -> None:
    """Refuse a page or action to other roles (a user holding two may use either), in Chinese."""
    if not ctx.scope.actor.roles & set(roles):
        names = "、".join(ROLE_LABELS[r] for r in roles)
        raise PermissionDenied(f"此功能仅限{names}使用，您是{ctx.user.role_label}用户")


def _back(request: Request, st: WebState, url: str, *, ok: str | None = None,
          error: str | None = None) -> Response:
    return redirect(request, st.keys, url, ok=ok, error=error, secure=st.secure_cookies)


# ---- campaigns and plans ----------------------------------------------------------------


@router.get("/campaigns", include_in_schema=False)
def campaigns_page(request: Request, ctx: CtxDep) -> Response:
    from duban.services.campaigns import list_campaigns

    st = state(request)
    campaigns, chosen = campaign_of(st, None)
    today = local_today(st.clock)
    rows, _ = st.cache.get(("campaign-list", today.isoformat()),
                           lambda: st.db.run(list_campaigns, today))
    return page(st, ctx, "campaigns.html", "campaigns", campaign=chosen, campaigns=campaigns,
                rows=rows, errors=None, may_launch=ctx.scope.role == Role.COUNTY)


@router.post("/campaigns", include_in_schema=False)
async def campaign_launch(
    request: Request, ctx: CtxDep,
    plan: Annotated[UploadFile, File()],
    scope_table: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Launch a campaign from an uploaded plan (YAML, plus the scope table it names)."""
    from duban.adapters.plan.yaml_file import load_plan_text
    from duban.domain.plan_check import PlanInvalid
    from duban.services.campaigns import launch_campaign, list_campaigns

    st = state(request)
    require_role(ctx, Role.COUNTY)
    raw = await plan.read(MAX_PLAN_BYTES + 1)
    errors: list[dict[str, str]] = []
    message = ""
    if len(raw) > MAX_PLAN_BYTES:
        message = "方案文件超过 2 MB，请检查是否选错了文件"
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = ""
            message = "方案文件不是 UTF-8 编码的文本（YAML），请用记事本另存为 UTF-8"
        if text:
            with tempfile.TemporaryDirectory(prefix="duban-plan-") as tmp:
                if scope_table is not None and scope_table.filename:
                    name = Path(scope_table.filename).name
                    (Path(tmp) / name).write_bytes(await scope_table.read(MAX_PLAN_BYTES + 1))
                try:
                    parsed = await run_in_threadpool(load_plan_text, text, tmp)
                    campaign_id = await run_in_threadpool(
                        st.db.run, launch_campaign, st.clock, parsed, text, ctx.username)
                    st.cache.clear()
                    label = document_label(parsed.document_number)
                    return _back(request, st, f"/?campaign={campaign_id}",
                                 ok=f"行动已启动：{parsed.name}（{label}）")
                except PlanInvalid as exc:
                    message = f"方案有 {len(exc.errors)} 处错误，未启动行动。请修改后重新上传："
                    errors = [{"path": e.path, "line": str(getattr(e, "line", "") or ""),
                               "message": e.message} for e in exc.errors]
                except DubanError as exc:
                    message = exc.message
    campaigns, chosen = campaign_of(st, None)
    rows = await run_in_threadpool(st.db.run, list_campaigns, local_today(st.clock))
    return page(st, ctx, "campaigns.html", "campaigns", campaign=chosen, campaigns=campaigns,
                rows=rows, errors=errors, error_message=message, may_launch=True,
                filename=plan.filename or "", status_code=422,
                scope_filename=scope_table.filename if scope_table is not None else "")


# ---- imports and templates --------------------------------------------------------------

IMPORT_ERRORS = "import-errors"
IMPORT_PENDING = "import-pending"


@router.get("/imports", include_in_schema=False)
def imports_page(request: Request, ctx: CtxDep, campaign: str | None = None) -> Response:
    from duban.adapters.intake import KIND_LABELS, KINDS

    st, campaigns, chosen = chosen_campaign(request, ctx, campaign, "imports")
    return page(st, ctx, "imports.html", "imports", campaign=chosen, campaigns=campaigns,
                kinds=[(k, KIND_LABELS[k]) for k in KINDS], report=None, result=None,
                may_import=ctx.scope.role in IMPORTERS)  # a town: its own town's rows only


@router.post("/imports", include_in_schema=False)
async def import_upload(request: Request, ctx: CtxDep,
                        kind: Annotated[str, Form()], campaign: Annotated[int, Form()],
                        file: Annotated[UploadFile, File()]) -> Response:
    st = state(request)
    require_role(ctx, *IMPORTERS)
    _, chosen = campaign_of(st, campaign)
    if chosen is None or chosen.id != campaign:
        raise NotFound(f"行动不存在：编号 {campaign}")
    from duban.adapters.intake import KINDS

    if kind not in KINDS:
        raise DubanError(f"未知的导入类型：{kind[:30]}")
    suffix = Path(file.filename or "upload.xlsx").suffix.lower()[:8] or ".xlsx"
    if not re.fullmatch(r"\.[a-z0-9]{1,7}", suffix):
        suffix = ".xlsx"
    content = await file.read(MAX_IMPORT_FILE_BYTES + 1)
    if len(content) > MAX_IMPORT_FILE_BYTES:
        raise DubanError(f"导入文件超过 {MAX_IMPORT_FILE_BYTES // MIB} MB 的上限，已拒绝；"
                         "请按乡镇或村把表格分成几个文件，分批导入")
    # The upload is kept (the user's own, by a token) until it is imported, so that values
    # mapped to the plan's names can be checked again without sending the file twice.
    token = secrets.token_hex(12)
    path = _pending_path(ctx.username, token, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return await _check_and_import(request, ctx, campaign, kind, path, token,
                                   file.filename or "")


@router.post("/imports/map", include_in_schema=False)
async def import_map(request: Request, ctx: CtxDep, kind: Annotated[str, Form()],
                     campaign: Annotated[int, Form()], token: Annotated[str, Form()],
                     filename: Annotated[str, Form()] = "") -> Response:
    """Save the chosen meanings of unmatched values as aliases of the campaign's plan
    (audited as a plan version and a campaign event), then check the kept file again."""
    from duban.services.aliases import MAPPABLE, AliasMapping, add_aliases

    st = state(request)
    require_role(ctx, *IMPORTERS)
    match = re.fullmatch(r"([0-9a-f]{24})(\.[a-z0-9]{1,7})", token)
    path = _pending_path(ctx.username, *match.groups()) if match else None
    if path is None or not path.is_file():
        raise NotFound("上传的文件已过期，请重新上传")
    form = await request.form()
    mappings = []
    for key, value in form.multi_items():
        if not key.startswith("map:") or not isinstance(value, str) or not value:
            continue
        _, item_kind, word = key.split(":", 2)
        if item_kind == "village":  # the value is 乡镇代码/村代码
            town, _, village = value.partition("/")
            mappings.append(AliasMapping(item_kind, word, village, town))
        elif item_kind in MAPPABLE:
            mappings.append(AliasMapping(item_kind, word, value))
    if mappings:
        await run_in_threadpool(st.db.run, add_aliases, st.clock, campaign, mappings,
                                username=ctx.username)
        st.cache.clear()
    return await _check_and_import(request, ctx, campaign, kind, path, token.removesuffix(
        path.suffix), filename[:200], mapped=len(mappings))


async def _check_and_import(request: Request, ctx: Ctx, campaign: int, kind: str, path: Path,
                            token: str, filename: str, mapped: int = 0) -> Response:
    """Import the kept upload; on a refusal show every error, an error copy, and each value
    that names nothing in the plan once, with a choice of what it means."""
    from duban.adapters.intake import KIND_LABELS, KINDS, ImportRejected, write_error_copy
    from duban.services.intake import import_file

    st = state(request)
    towns = importable_towns(ctx.scope)
    campaigns, chosen = campaign_of(st, campaign)
    if chosen is None or chosen.id != campaign:
        raise NotFound(f"行动不存在：编号 {campaign}")
    if kind not in KINDS:
        raise DubanError(f"未知的导入类型：{kind[:30]}")
    report = result = None
    error_copy = None
    unmatched: list[dict[str, Any]] = []
    try:
        result = await run_in_threadpool(st.db.run, import_file, st.clock, chosen.id, kind,
                                         path, imported_by=ctx.username, towns=towns)
        st.cache.clear()
        path.unlink(missing_ok=True)
    except ImportRejected as exc:
        report = exc.report
        if report.errors and report.sheet is not None:
            copy_token = secrets.token_hex(12)
            dest = _error_copy_path(ctx.username, copy_token)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                await run_in_threadpool(write_error_copy, path, report, dest)
                error_copy = copy_token
            except Exception:  # the copy is a convenience; the report on screen stands
                error_copy = None
        unmatched = await run_in_threadpool(read, st, _unmatched_values, chosen.id, report)
        if not unmatched:
            path.unlink(missing_ok=True)
    return page(st, ctx, "imports.html", "imports", campaign=chosen, campaigns=campaigns,
                kinds=[(k, KIND_LABELS[k]) for k in KINDS], report=report, result=result,
                kind=kind, kind_label=KIND_LABELS[kind], filename=filename,
                error_copy=error_copy, may_import=True, unmatched=unmatched,
                pending=f"{token}{path.suffix}", mapped=mapped,
                status_code=422 if report is not None else 200)


def _unmatched_values(session: Any, campaign_id: int, report: Any) -> list[dict[str, Any]]:
    """Each value the plan has no name for, once, with how many rows wrote it, the closest
    names first and every choice after them."""
    from duban.domain.names import KINDS as ITEM_WORDS
    from duban.domain.names import plan_index
    from duban.services.campaigns import load_plan_of

    counts: dict[tuple[str, str], int] = {}
    for e in report.errors:
        if e.names and e.value and len(e.value) <= 30:
            counts[(e.names, e.value)] = counts.get((e.names, e.value), 0) + 1
    if not counts:
        return []
    plan = load_plan_of(session, campaign_id)
    out = []
    for (kind, value), rows in counts.items():
        if kind == "village":
            out.append(_village_choices(plan, value, rows))
            continue
        index = plan_index(plan, kind)
        close = index.suggest(value)
        by_name = {i.name: i.code for i in index.items}
        choices = [(by_name[n], n) for n in close] + [
            (i.code, i.name) for i in index.items if i.name not in close]
        out.append({"kind": kind, "what": ITEM_WORDS[kind], "value": value, "rows": rows,
                    "choices": choices, "best": by_name[close[0]] if close else ""})
    return out


def _village_choices(plan: Any, value: str, rows: int) -> dict[str, Any]:
    """An unmatched village: every town's closest villages first, then all, as 乡镇+村
    (a village is named within its town); each choice's value is 乡镇代码/村代码."""
    from duban.domain.names import plan_index

    close: list[tuple[str, str]] = []
    every: list[tuple[str, str]] = []
    for t in plan.towns:
        index = plan_index(plan, "village", t.code)
        by_name = {i.name: i.code for i in index.items}
        close += [(f"{t.code}/{by_name[n]}", f"{t.name}{n}") for n in index.suggest(value)]
        every += [(f"{t.code}/{v.code}", f"{t.name}{v.name}") for v in t.villages]
    chosen = {c for c, _ in close}
    return {"kind": "village", "what": "村", "value": value, "rows": rows,
            "choices": close + [c for c in every if c[0] not in chosen],
            "best": close[0][0] if close else ""}


def _pending_path(username: str, token: str, suffix: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", username)
    return data_dir() / IMPORT_PENDING / f"{safe}-{token}{suffix}"


def _error_copy_path(username: str, token: str) -> Path:
    # The username is part of the name so one user cannot fetch another's error copy.
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", username)
    return data_dir() / IMPORT_ERRORS / f"{safe}-{token}.xlsx"


@router.get("/imports/errors/{token}", include_in_schema=False)
def import_error_copy(request: Request, ctx: CtxDep, token: str) -> Response:
    if not re.fullmatch(r"[0-9a-f]{24}", token):
        raise NotFound("错误副本不存在")
    path = _error_copy_path(ctx.username, token)
    if not path.is_file():
        raise NotFound("错误副本不存在或已过期")
    return Response(path.read_bytes(),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": _attachment("导入错误说明.xlsx")})


@router.get("/templates/{kind}.xlsx", include_in_schema=False)
def template_download(request: Request, ctx: CtxDep, kind: str,
                      campaign: str | None = None) -> Response:
    from duban.adapters.intake import KIND_LABELS, KINDS, export_template, plan_template_options
    from duban.services.campaigns import load_plan_of

    st = state(request)
    if kind not in KINDS:
        raise NotFound(f"没有这种模板：{kind[:30]}")
    _, chosen = campaign_of(st, _int(campaign))
    options: dict[str, object] = {}
    if chosen is not None:
        with st.db.transaction() as session:
            plan = load_plan_of(session, chosen.id)
        options = plan_template_options(plan)
    with tempfile.TemporaryDirectory(prefix="duban-template-") as tmp:
        path = Path(tmp) / "template.xlsx"
        export_template(kind, path, **options)  # type: ignore[arg-type]
        data = path.read_bytes()
    return Response(data,
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": _attachment(f"{KIND_LABELS[kind]}模板.xlsx")})


# ---- notices ----------------------------------------------------------------------------


@router.get("/notices", include_in_schema=False)
def notices_page(request: Request, ctx: CtxDep, campaign: str | None = None) -> Response:
    return _notices(request, ctx, campaign)


def _notices(request: Request, ctx: Ctx, campaign: str | None,
             kept: dict[str, object] | None = None, status_code: int = 200) -> Response:
    """The notices page; a refused 签收 (kept: the notice, the reason, the box as sent) is drawn
    again beside its form."""
    st, campaigns, chosen = chosen_campaign(request, ctx, campaign, "notices")
    rows = read(st, visible_notices, ctx.scope, chosen.id)
    names = rules_of(st, chosen.id, ctx.today).names
    people = read(st, person_labels, [n.acknowledged_by for n in rows])
    return page(st, ctx, "notices.html", "notices", campaign=chosen, campaigns=campaigns,
                rows=list(reversed(rows)), names=names, people=people,
                batch_key=secrets.token_hex(8), kept=kept or {}, status_code=status_code,
                may_issue=ctx.scope.role == Role.COUNTY)


@router.post("/notices/issue", include_in_schema=False)
def notices_issue(request: Request, ctx: CtxDep, campaign: Annotated[int, Form()],
                  batch_key: Annotated[str, Form(max_length=64)]) -> Response:
    from duban.services.notices.issuing import issue_notices

    st = state(request)
    require_role(ctx, Role.COUNTY)
    back = f"/notices?campaign={campaign}"
    key = f"web-{ctx.today.isoformat()}-{re.sub(r'[^0-9a-f]', '', batch_key)[:16]}"
    issued = st.db.run(issue_notices, st.clock, campaign, issued_by=ctx.username, batch_key=key)
    if not issued:
        return _back(request, st, back, ok="没有需要下发通知书的问题（均已在通知书中列出）")
    return _back(request, st, back, ok=f"已下发督办通知书 {len(issued)} 份：" + "、".join(
        n.number for n in issued[:5]) + ("等" if len(issued) > 5 else ""))


@router.post("/notices/{notice_id}/ack", include_in_schema=False)
def notice_ack(request: Request, ctx: CtxDep, notice_id: int,
               accept: Annotated[str, Form()] = "") -> Response:
    from duban.services.notices.receipts import acknowledge_notice

    st = state(request)
    campaign_id = read(st, visible_notice, ctx.scope, notice_id).campaign_id
    # The receipt and the accepted problems are one unit: a failure leaves neither behind.
    try:
        with st.unit_of_work() as uow:
            row = acknowledge_notice(uow, st.clock, notice_id, ctx.username)
            text = f"已签收通知书 {row.number}"
            if accept:
                lines = moves.apply_many(uow, st.clock, ctx.scope, list(row.problem_ids),
                                         Action.ACCEPT,
                                         Payload(note=f"签收督办通知书 {row.number}"))
                ok = [line for line in lines if line.ok]
                text += f"，签收其中问题 {len(ok)} 个"
                skipped = len(lines) - len(ok)
                if skipped:
                    text += f"（{skipped} 个已不在待签收状态）"
            uow.commit()
    except DubanError as exc:
        return _notices(request, ctx, str(campaign_id), kept={
            "notice": notice_id, "error": exc.message, "accept": bool(accept)},
            status_code=refusal_status(exc))
    return _back(request, st, f"/notices?campaign={campaign_id}", ok=text)


@router.get("/notices/{notice_id}/file", include_in_schema=False)
def notice_download(request: Request, ctx: CtxDep, notice_id: int) -> Response:
    return notice_file_response(state(request), ctx, notice_id)


def notice_file_response(st: WebState, ctx: Ctx, notice_id: int) -> Response:
    """A notice's .docx, named 文号-单位名称, if the scope may read it (page and API)."""
    from duban.services.notices.reading import notice_file

    return _notice_download(st, ctx, notice_id, notice_file, DOCX_TYPE, lambda notice, names:
                            document_file_name(names, notice.number, notice.office_code,
                                               KIND_LABEL_OF.get(notice.kind, "通知书")))


@router.get("/notices/{notice_id}/list", include_in_schema=False)
def notice_list_download(request: Request, ctx: CtxDep, notice_id: int) -> Response:
    return notice_list_response(state(request), ctx, notice_id)


def notice_list_response(st: WebState, ctx: Ctx, notice_id: int) -> Response:
    """A long notice's full 督办问题清单 (.xlsx), by the name the notice gives it (page, API)."""
    from duban.services.notices.reading import notice_list_file

    return _notice_download(st, ctx, notice_id, notice_list_file, XLSX_TYPE, lambda notice, names:
                            notice_list_file_name(notice.number, names.office(notice.office_code)))


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _notice_download(st: WebState, ctx: Ctx, notice_id: int, read_file: Callable[..., bytes],
                     media_type: str, name_of: Callable[[Any, Any], str]) -> Response:
    """One of a notice's files, if the scope may read the notice, under the name it is known by."""
    notice = read(st, visible_notice, ctx.scope, notice_id)
    data = st.db.run(read_file, notice_id)
    names = rules_of(st, notice.campaign_id, local_today(st.clock)).names
    return Response(data, media_type=media_type,
                    headers={"Content-Disposition": _attachment(name_of(notice, names))})


# ---- ranking and penalties --------------------------------------------------------------


@router.get("/ranking", include_in_schema=False)
def ranking_page(request: Request, ctx: CtxDep, campaign: str | None = None,
                 month: str | None = None) -> Response:
    from duban.services.scoring.monthly import compute_ranking, frozen_months, parse_month, ranking
    from duban.services.scoring.penalties import current_penalties

    st, campaigns, chosen = chosen_campaign(request, ctx, campaign, "ranking")
    if not reach_of(ctx.scope).covers(chosen.id):
        # Its figures (each unit's problems, closed, overdue) belong to that campaign's units.
        return page(st, ctx, "message.html", "ranking", campaign=chosen, campaigns=campaigns,
                    title="月考评", message="本账号不属于该行动，不能查看其考评排名。",
                    status_code=403)
    plan = rules_of(st, chosen.id, ctx.today).plan
    # Without a month: this month, kept within the campaign (an ended campaign shows its last).
    this_month = ctx.today.replace(day=1)
    if plan.end is not None and this_month > plan.end.replace(day=1):
        this_month = plan.end.replace(day=1)
    this_month = max(this_month, plan.start.replace(day=1))
    first = parse_month(month) if month and re.fullmatch(r"\d{4}-\d{2}", month) \
        else this_month
    snap = st.db.run(ranking, chosen.id, first)
    preview = snap is None
    error = None
    if snap is None:
        try:
            snap, _ = st.cache.get(("ranking", chosen.id, first, ctx.today),
                                   lambda: st.db.run(compute_ranking, st.clock, chosen.id, first))
        except DubanError as exc:
            error = exc.message
    lines, _ = st.cache.get(("penalties", chosen.id, ctx.today),
                            lambda: st.db.run(current_penalties, st.clock, chosen.id, ctx.today))
    lines = _scoped_penalties(ctx, lines, chosen.id)
    names = rules_of(st, chosen.id, ctx.today).names
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.town] = totals.get(line.town, 0) + line.amount_yuan
    months = st.db.run(frozen_months, chosen.id)
    r = rules_of(st, chosen.id, ctx.today)
    choosable = []
    m = r.plan.start.replace(day=1)
    while m <= min(r.plan.end or ctx.today, ctx.today):
        choosable.append(m)
        m = (m + dt.timedelta(days=32)).replace(day=1)
    if first not in choosable:  # the menu shows the month the page is about, always
        choosable = sorted([*choosable, first])
    return page(st, ctx, "ranking.html", "ranking", campaign=chosen, campaigns=campaigns,
                snap=snap, preview=preview, error=error, month=first, months=months,
                choosable=choosable,
                penalties=lines, totals=sorted(totals.items(), key=lambda kv: -kv[1]),
                names=names, total_yuan=sum(totals.values()))


def _scoped_penalties(ctx: Ctx, lines: list[Any], campaign_id: int) -> list[Any]:
    # A fine names its problem's town and lead office, not its village: the one access rule
    # keeps a town's and an office's own, and villages see the published ranking only.
    reach = reach_of(ctx.scope)
    if not reach.covers(campaign_id):
        return []
    return [x for x in lines if reach.admits(x.town, None, x.office)]


# ---- substitutes and users --------------------------------------------------------------


PEOPLE_PAGE = 30  # users per page


@router.get("/people", include_in_schema=False)
def people_page(request: Request, ctx: CtxDep, campaign: str | None = None,
                role: str | None = None, q: Annotated[str | None, Query(max_length=100)] = None,
                page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1) -> Response:
    return _people(request, ctx, campaign, role, q, page_no)


def _people(request: Request, ctx: Ctx, campaign: str | None, role: str | None = None,
            q: str | None = None, page_no: int = 1, kept: dict[str, str] | None = None,
            status_code: int = 200) -> Response:
    """The users page; a refused form (kept: which form, its reason and values) is drawn again
    with what was typed."""
    from duban.services.accounts import list_users
    from duban.services.delegation import delegation_log, list_substitutes

    st = state(request)
    require_role(ctx, Role.COUNTY)
    campaigns, chosen = campaign_of(st, _int(campaign))
    everyone = st.db.run(list_users)
    # One page of users, found by role and by name or login (a county has hundreds).
    wanted = (q or "").strip()[:50]
    users = [u for u in everyone if (not role or u.role.value == role)
             and (not wanted or wanted in u.username or wanted in (u.name or ""))]
    total = len(users)
    pages = max((total + PEOPLE_PAGE - 1) // PEOPLE_PAGE, 1)
    page_no = min(page_no, pages)
    users = users[(page_no - 1) * PEOPLE_PAGE:page_no * PEOPLE_PAGE]
    subs = st.db.run(list_substitutes)
    log = st.db.run(delegation_log, limit=50)
    offices = (read(st, filter_choices, ctx.scope, chosen.id)["offices"]
               if chosen is not None else [])
    names = rules_of(st, chosen.id, ctx.today).names if chosen is not None else None
    office_users = [u for u in everyone if u.role == Role.OFFICE and u.active]
    units = st.db.run(unit_labels, [u.username for u in [*users, *office_users]])
    people = read(st, person_labels, [*(s.granted_by for s in subs), *(e.actor for e in log),
                                      *(e.subject for e in log)])
    return page(st, ctx, "people.html", "people", campaign=chosen, campaigns=campaigns,
                users=users, subs=subs, log=log, offices=offices, names=names, people=people,
                units=units, total=total, pages=pages, page_no=page_no, q=wanted, role=role or "",
                roles=[(r.value, ROLE_LABELS[r]) for r in Role if r != Role.SYSTEM],
                base={k: v for k, v in (("campaign", campaign or ""), ("role", role or ""),
                                        ("q", wanted)) if v},
                office_users=office_users, kept=kept or {}, status_code=status_code)


@router.post("/people/substitutes", include_in_schema=False)
def substitute_add(request: Request, ctx: CtxDep,
                   username: Annotated[str, Form(max_length=50)],
                   office: Annotated[str, Form(max_length=80)],
                   starts_on: Annotated[dt.date, Form()], ends_on: Annotated[dt.date, Form()],
                   reason: Annotated[str, Form(max_length=200)]) -> Response:
    from duban.services.delegation import set_substitute

    st = state(request)
    require_role(ctx, Role.COUNTY)
    try:
        sid = st.db.run(set_substitute, st.clock, office, username, starts_on, ends_on, reason,
                             ctx.username)
    except DubanError as exc:
        return _people(request, ctx, None, kept={
            "form": "substitute", "error": exc.message, "username": username, "office": office,
            "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(),
            "reason": reason}, status_code=refusal_status(exc))
    who = read(st, person_labels, [username]).get(username, username)
    return _back(request, st, "/people",
                 ok=f"已设置代理（编号 {sid}）：{who} 代理 {_office_name(st, ctx, office)}")


def _office_name(st: WebState, ctx: Ctx, code: str) -> str:
    """An office's name in the newest campaign that has it."""
    from duban.services.views.names import office_labels

    return st.db.run(office_labels, [code]).get(code, code)


@router.post("/people/substitutes/{substitute_id}/end", include_in_schema=False)
def substitute_end(request: Request, ctx: CtxDep, substitute_id: int) -> Response:
    from duban.services.delegation import end_substitute

    st = state(request)
    require_role(ctx, Role.COUNTY)
    try:
        last = st.db.run(end_substitute, st.clock, substitute_id, ctx.username)
    except DubanError as exc:
        return _back(request, st, "/people", error=exc.message)
    return _back(request, st, "/people", ok=f"代理 {substitute_id} 已结束（最后一天：{last}）")


@router.post("/people/reassign", include_in_schema=False)
def office_reassign(request: Request, ctx: CtxDep, campaign: Annotated[int, Form()],
                    from_office: Annotated[str, Form(max_length=80)],
                    to_office: Annotated[str, Form(max_length=80)],
                    note: Annotated[str, Form(max_length=500)]) -> Response:
    from duban.services.delegation import reassign_bulk

    st = state(request)
    require_role(ctx, Role.COUNTY)
    try:
        result = st.db.run(reassign_bulk, st.clock, campaign, from_office, to_office, ctx.username,
                               note)
    except DubanError as exc:
        return _people(request, ctx, str(campaign), kept={
            "form": "reassign", "error": exc.message, "from_office": from_office,
            "to_office": to_office, "note": note}, status_code=refusal_status(exc))
    return _back(request, st, f"/people?campaign={campaign}", ok=result.describe())


@router.post("/people/users/{username}/active", include_in_schema=False)
def user_active(request: Request, ctx: CtxDep, username: str,
                active: Annotated[str, Form()]) -> Response:
    from duban.services.accounts import set_active

    st = state(request)
    require_role(ctx, Role.COUNTY)
    if username == ctx.username:
        return _back(request, st, "/people", error="不能停用自己的账号")
    st.db.run(set_active, st.clock, username, active == "1", by=ctx.username)
    return _back(request, st, "/people",
                 ok=f"用户 {username} 已{'启用' if active == '1' else '停用'}")


# ---- the inbox of reminders -------------------------------------------------------------


def inbox_offices(st: WebState, ctx: Ctx, campaign_id: int | None,
                  session: Session | None = None) -> list[str]:
    """Whose messages a user reads: their offices (with substitutions); a town its offices;
    a village its own; the county office and supervision groups the campaign's office.
    Read in `session` when given (a page's own transaction), else in a transaction of its own."""
    from duban.services.campaigns import load_plan_of

    if ctx.scope.offices:
        return sorted(ctx.scope.offices)
    if campaign_id is None:
        return []
    if session is None:
        with st.db.transaction() as own:
            return inbox_offices(st, ctx, campaign_id, own)
    codes = visible_office_codes(session, ctx.scope, campaign_id)
    if codes is None:
        return [load_plan_of(session, campaign_id).county_office]
    return sorted(codes)


@router.get("/inbox", include_in_schema=False)
def inbox_page(request: Request, ctx: CtxDep, campaign: str | None = None,
               unread: int = 0) -> Response:
    return _inbox(request, ctx, campaign, unread)


def _inbox(request: Request, ctx: Ctx, campaign: str | None, unread: int = 0,
           kept: dict[str, object] | None = None, status_code: int = 200) -> Response:
    """The inbox; a refused duty report (kept: its duty, reason, note and file names) is drawn
    again with what was typed."""
    from duban.services.messages import list_inbox

    st = state(request)
    campaigns, chosen = campaign_of(st, _int(campaign))
    offices = inbox_offices(st, ctx, chosen.id if chosen else None)
    lines = st.db.run(list_inbox, st.clock, offices, unread_only=bool(unread), limit=200,
                       username=ctx.username)
    if chosen is not None:
        lines = [m for m in lines if m.campaign_id in (None, chosen.id)]
    names = rules_of(st, chosen.id, ctx.today).names if chosen else None
    duties = read(st, occurrence_rows, chosen.id, ctx.today, offices=offices,
                  states=("待完成", "逾期未完成")) if chosen else []
    people = read(st, person_labels, [m.read_by for m in lines])
    return page(st, ctx, "inbox.html", "inbox", campaign=chosen, campaigns=campaigns,
                lines=lines, unread=bool(unread), names=names, offices=offices, duties=duties,
                people=people, kept=kept or {}, status_code=status_code)


@router.post("/duties/{occurrence_id}/done", include_in_schema=False)
async def duty_done(request: Request, ctx: CtxDep, occurrence_id: int,
                    campaign: Annotated[str, Form()] = "",
                    note: Annotated[str, Form(max_length=500)] = "",
                    files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    """A unit's user reports a recurring duty done (常态化工作), with evidence."""
    from duban.services.duties import report_done

    st = state(request)
    cid = _int(campaign)
    back = f"/inbox?campaign={cid}" if cid else "/inbox"
    if cid is None:
        return _back(request, st, back, error="请先选择行动")
    uploads = [await read_upload(f) for f in files or [] if f.filename]

    def run() -> str:
        with st.db.unit_of_work() as uow:
            row = report_done(uow, st.clock, cid, occurrence_id, by=ctx.username,
                              files=uploads, note=note)
            uow.commit()
        return f"已报告完成：{row.office}{row.place}“{row.duty}”（{row.state}）"

    try:
        ok = await run_in_threadpool(run)
    except DubanError as exc:
        return _inbox(request, ctx, str(cid), kept={
            "duty": occurrence_id, "error": exc.message, "note": note,
            "files": [f.filename for f in files or [] if f.filename]},
            status_code=refusal_status(exc))
    return _back(request, st, back, ok=ok)


@router.post("/inbox/{message_id}/read", include_in_schema=False)
def inbox_read(request: Request, ctx: CtxDep, message_id: int,
               campaign: Annotated[str, Form()] = "") -> Response:
    from duban.services.messages import mark_read

    st = state(request)
    cid = _int(campaign)
    st.db.run(mark_read, st.clock, message_id, ctx.username, inbox_offices(st, ctx, cid))
    return _back(request, st, f"/inbox?campaign={cid}" if cid else "/inbox", ok="已标为已读")


# ---- daily spot checks (随机抽查) ---------------------------------------------------------


SPOT_PAGE = 30  # spot checks per page


@router.get("/spotchecks", include_in_schema=False)
def spotchecks_page(request: Request, ctx: CtxDep, campaign: str | None = None,
                    day: str | None = None, group: str | None = None,
                    page_no: Annotated[int, Query(alias="page", ge=1, le=100000)] = 1
                    ) -> Response:
    from duban.services.reviews import (
        count_spot_checks,
        groups_of,
        list_spot_checks,
        spot_check_draws,
    )

    require_role(ctx, Role.COUNTY, Role.SUPERVISOR)
    st, campaigns, chosen = chosen_campaign(request, ctx, campaign, "spotchecks")
    try:
        wanted = dt.date.fromisoformat(day) if day else ctx.today
    except ValueError:
        wanted = ctx.today
    plan = rules_of(st, chosen.id, ctx.today).plan
    groups = {g.code: g.name for g in plan.review.groups}
    # Each group sees its own checks; the county office every group's, one group at a time
    # when it picks one.
    mine = groups_of(plan, ctx.scope.actor)
    seen = list(groups) if mine is None else [g for g in groups if g in mine]
    picked = [group] if group in seen else (None if mine is None else seen)
    total = st.db.run(count_spot_checks, chosen.id, day=wanted, groups=picked)
    pages = max((total + SPOT_PAGE - 1) // SPOT_PAGE, 1)
    page_no = min(page_no, pages)
    checks = st.db.run(list_spot_checks, chosen.id, day=wanted, groups=picked, page=page_no,
                       per_page=SPOT_PAGE)
    draws = st.db.run(spot_check_draws, chosen.id)
    names = rules_of(st, chosen.id, ctx.today).names
    people = read(st, person_labels, [c.checked_by for c in checks])
    # Days whose draw found something to check; a 不定期 plan draws nothing most days.
    shown = [d for d in draws if d.checks][:14]
    return page(st, ctx, "spotchecks.html", "spotchecks", campaign=chosen,
                campaigns=campaigns, checks=checks, draws=shown, day=wanted,
                names=names, groups=groups, people=people, drawn=any(d.day == wanted for d in draws),
                total=total, pages=pages, page_no=page_no,
                group_choices=[(g, groups[g]) for g in seen], group=group if group in seen else "",
                base={"campaign": chosen.id, "day": wanted.isoformat(),
                      **({"group": group} if group in seen else {})},
                may_draw=ctx.scope.role == Role.COUNTY and wanted == ctx.today)


@router.post("/spotchecks/draw", include_in_schema=False)
def spotchecks_draw(request: Request, ctx: CtxDep,
                    campaign: Annotated[int, Form()]) -> Response:
    from duban.services.reviews import draw_daily_spot_checks

    st = state(request)
    require_role(ctx, Role.COUNTY)
    ids = st.db.run(draw_daily_spot_checks, st.clock, campaign, drawn_by=ctx.username)
    return _back(request, st, f"/spotchecks?campaign={campaign}",
                 ok=f"已抽取今日随机抽查 {len(ids)} 项")


@router.post("/spotchecks/{check_id}", include_in_schema=False)
def spotcheck_record(request: Request, ctx: CtxDep, check_id: int,
                     campaign: Annotated[int, Form()], result: Annotated[str, Form()],
                     note: Annotated[str, Form(max_length=500)] = "",
                     deadline: Annotated[str, Form(max_length=20)] = "") -> Response:
    from duban.services.reviews import record_spot_check
    from duban.web.forms import parse_date

    st = state(request)
    require_role(ctx, Role.COUNTY, Role.SUPERVISOR)
    back = f"/spotchecks?campaign={campaign}"
    try:
        info = st.db.run(record_spot_check, st.clock, check_id, ctx.username, result == "passed",
                                 note.strip(), parse_date(deadline))
    except NotFound:
        raise
    except DubanError as exc:
        return _back(request, st, back, error=exc.message)
    return _back(request, st, f"{back}&day={info.day.isoformat()}",
                 ok=f"已记录抽查结果：{info.kind_label} {info.item_id}，{info.result_label}")
