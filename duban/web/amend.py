"""The county office's page for amending a running campaign's plan (方案修订).

Upload or paste a new plan version, see the validated preview (the same `preview_amendment` as
`duban campaign amend`), then apply it with the version the preview showed (optimistic
locking: someone else's amendment in between is refused and the preview shown again), or not.
The plan's text (and its scope table, base64) travels in the preview's form, so applying
validates exactly what was previewed.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from duban.domain.errors import ConflictError, DubanError, NotFound
from duban.domain.lifecycle import Role
from duban.domain.plan import Plan
from duban.domain.plan_check import PlanError, PlanInvalid
from duban.web.deps import WebState, csrf_session, current, state
from duban.web.pages import CtxDep, campaign_of, page
from duban.web.security import Ctx
from duban.web.work import MAX_PLAN_BYTES, _back, require_role

router = APIRouter(dependencies=[Depends(current), Depends(csrf_session)])


@dataclass
class Draft:
    """A new plan version as the county office sent it, and what became of checking it."""

    text: str = ""
    scope_name: str = ""
    scope_data: str = ""  # the scope table, base64, carried from the preview to the apply
    filename: str = ""
    message: str = ""  # why it cannot be previewed or applied, in Chinese
    errors: list[dict[str, str]] = field(default_factory=list)  # field path, line, message
    warnings: list[str] = field(default_factory=list)


def _errors(errors: tuple[PlanError, ...] | list[PlanError]) -> list[dict[str, str]]:
    return [{"path": e.path, "line": str(e.line or ""), "message": e.message} for e in errors]


def _parse(draft: Draft) -> Plan | None:
    """The plan of a draft, or None with the draft's message and errors set."""
    from duban.adapters.plan.yaml_file import load_plan_text
    from duban.services.plan_warnings import plan_warnings

    if not draft.text.strip():
        draft.message = "请上传方案文件或粘贴方案内容（YAML）"
        return None
    if len(draft.text.encode("utf-8")) > MAX_PLAN_BYTES:
        draft.message = "方案内容超过 2 MB，请检查是否选错了文件"
        return None
    with tempfile.TemporaryDirectory(prefix="duban-amend-") as tmp:
        if draft.scope_name and draft.scope_data:
            try:
                data = base64.b64decode(draft.scope_data, validate=True)
            except (binascii.Error, ValueError):
                draft.message = "乡镇村名单数据已损坏，请重新上传"
                return None
            (Path(tmp) / Path(draft.scope_name).name).write_bytes(data)
        try:
            plan = load_plan_text(draft.text, tmp)
        except PlanInvalid as exc:
            draft.message = f"方案有 {len(exc.errors)} 处错误，未修订。请修改后重新预览："
            draft.errors = _errors(exc.errors)
            return None
        except DubanError as exc:
            draft.message = exc.message
            return None
    draft.warnings = plan_warnings(plan)
    return plan


def _campaign(st: WebState, campaign_id: int) -> tuple[list[Any], Any]:
    campaigns, chosen = campaign_of(st, campaign_id)
    if chosen is None or chosen.id != campaign_id:
        raise NotFound(f"行动不存在：编号 {campaign_id}")
    return campaigns, chosen


def _show(st: WebState, ctx: Ctx, campaign_id: int, draft: Draft, *, preview: Any = None,
          alert: str = "", status_code: int = 200) -> Response:
    from duban.services.plan_store import plan_version_of

    campaigns, chosen = _campaign(st, campaign_id)
    with st.db.unit_of_work() as uow:
        version = plan_version_of(uow.session, campaign_id)
    return page(st, ctx, "amend.html", "campaigns", campaign=chosen, campaigns=campaigns,
                draft=draft, preview=preview, version=version, alert=alert,
                status_code=status_code)


def _preview(st: WebState, ctx: Ctx, campaign_id: int, draft: Draft, plan: Plan | None,
             alert: str = "", status_code: int = 200) -> Response:
    """The preview of a parsed draft (nothing written), or the draft's errors."""
    from duban.services.amendments import preview_amendment

    if plan is None:
        return _show(st, ctx, campaign_id, draft, status_code=422)
    try:
        with st.db.unit_of_work() as uow:  # rolled back: a preview writes nothing
            preview = preview_amendment(uow, st.clock, campaign_id, plan)
    except DubanError as exc:
        draft.message = exc.message
        return _show(st, ctx, campaign_id, draft, status_code=422)
    if preview.diff.refusals:
        draft.message = (f"新方案有 {len(preview.diff.refusals)} 处不能用于进行中的行动，"
                         "未修订。请修改后重新预览：")
        draft.errors = _errors(preview.diff.refusals)
        return _show(st, ctx, campaign_id, draft, status_code=422)
    return _show(st, ctx, campaign_id, draft, preview=preview, alert=alert,
                 status_code=status_code)


@router.get("/campaigns/{campaign_id}/amend", include_in_schema=False)
def amend_page(request: Request, ctx: CtxDep, campaign_id: int) -> Response:
    """The form: upload or paste the new plan version."""
    st = state(request)
    require_role(ctx, Role.COUNTY)
    return _show(st, ctx, campaign_id, Draft())


@router.post("/campaigns/{campaign_id}/amend", include_in_schema=False)
async def amend_preview(
    request: Request, ctx: CtxDep, campaign_id: int,
    plan: Annotated[UploadFile | None, File()] = None,
    plan_text: Annotated[str, Form(max_length=MAX_PLAN_BYTES)] = "",
    scope_table: Annotated[UploadFile | None, File()] = None,
    scope_name: Annotated[str, Form(max_length=300)] = "",
    scope_data: Annotated[str, Form(max_length=MAX_PLAN_BYTES * 2)] = "",
) -> Response:
    """Check a new plan version and show what it would change; writes nothing. A scope table
    sent before (kept in the page) is used again unless another is chosen."""
    st = state(request)
    require_role(ctx, Role.COUNTY)
    draft = Draft(text=plan_text, scope_name=scope_name, scope_data=scope_data)
    if plan is not None and plan.filename:
        raw = await plan.read(MAX_PLAN_BYTES + 1)
        draft.filename = plan.filename
        if len(raw) > MAX_PLAN_BYTES:
            draft.message = "方案文件超过 2 MB，请检查是否选错了文件"
            return _show(st, ctx, campaign_id, draft, status_code=422)
        try:
            draft.text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            draft.message = "方案文件不是 UTF-8 编码的文本（YAML），请用记事本另存为 UTF-8"
            return _show(st, ctx, campaign_id, draft, status_code=422)
    if scope_table is not None and scope_table.filename:
        data = await scope_table.read(MAX_PLAN_BYTES + 1)
        if len(data) > MAX_PLAN_BYTES:
            draft.message = "乡镇村名单超过 2 MB，请检查是否选错了文件"
            return _show(st, ctx, campaign_id, draft, status_code=422)
        draft.scope_name = Path(scope_table.filename).name
        draft.scope_data = base64.b64encode(data).decode("ascii")
    parsed = await run_in_threadpool(_parse, draft)
    return await run_in_threadpool(_preview, st, ctx, campaign_id, draft, parsed)


@router.post("/campaigns/{campaign_id}/amend/apply", include_in_schema=False)
async def amend_apply(
    request: Request, ctx: CtxDep, campaign_id: int,
    plan_text: Annotated[str, Form(max_length=MAX_PLAN_BYTES)],
    expect_version: Annotated[int, Form()],
    note: Annotated[str, Form(max_length=1000)] = "",
    scope_name: Annotated[str, Form(max_length=300)] = "",
    scope_data: Annotated[str, Form(max_length=MAX_PLAN_BYTES * 2)] = "",
) -> Response:
    """Put the previewed plan in force, if the version in force is still the one previewed."""
    from duban.services.amendments import AmendmentRefused, apply_amendment

    st = state(request)
    require_role(ctx, Role.COUNTY)
    draft = Draft(text=plan_text, scope_name=scope_name, scope_data=scope_data)
    parsed = await run_in_threadpool(_parse, draft)
    if parsed is None:
        return _show(st, ctx, campaign_id, draft, status_code=422)

    def apply() -> Any:
        with st.db.unit_of_work() as uow:
            result = apply_amendment(uow, st.clock, campaign_id, parsed, plan_text,
                                     username=ctx.username, note=note,
                                     expect_version=expect_version)
            uow.commit()
            return result

    try:
        result = await run_in_threadpool(apply)
    except AmendmentRefused as exc:
        draft.message = f"新方案有 {len(exc.errors)} 处不能用于进行中的行动，未修订："
        draft.errors = _errors(exc.errors)
        return _show(st, ctx, campaign_id, draft, status_code=422)
    except ConflictError as exc:
        # Someone amended meanwhile: the preview again, against the version now in force.
        return await run_in_threadpool(_preview, st, ctx, campaign_id, draft, parsed,
                                       exc.message, 409)
    except DubanError as exc:  # no reason given, not a county user, a closed campaign
        return await run_in_threadpool(_preview, st, ctx, campaign_id, draft, parsed,
                                       exc.message, 422)
    st.cache.clear()
    d = result.diff
    return _back(request, st, f"/campaigns?campaign={campaign_id}", ok=(
        f"方案已修订：第 {result.version} 版生效。改派 {len(d.reroutes)} 个问题，交办 "
        f"{len(d.routed)} 个，调整整改时限 {len(d.deadline_moves)} 个，调整协办单位 "
        f"{len(d.co_office_changes)} 个。"))
