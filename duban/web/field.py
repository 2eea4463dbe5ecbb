"""The phone app for visits in the field (issue 18): `/m/` and its API under `/api/m/`.

`/m/` is an installable web app (a manifest and a service worker, plain JavaScript modules in
templates/web/static/m/, no build step). It signs in through the web's own sign-in page and
session, keeps what it downloads and records in IndexedDB, and syncs each visit as one
multipart request to `POST /api/m/campaigns/{id}/visits`, answered per visit
(`services/field_visits.sync_visit`).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from duban.domain.clock import local_today
from duban.domain.errors import DubanError
from duban.domain.lifecycle import ROLE_LABELS
from duban.services import field_download as fd
from duban.services import field_visits as fv
from duban.services.campaigns import load_plan_of, remember_plan
from duban.services.evidence import MAX_FILE_BYTES
from duban.services.plan_store import load_plan_version, plan_version_of
from duban.services.views.choices import campaign_choices
from duban.web.deps import csrf_session, current, state
from duban.web.pages import CtxDep, read
from duban.web.render import STATIC

APP_DIR = STATIC / "m"
# The app's pages may show photos the phone just took (blob: URLs) and run its worker.
APP_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
           "script-src 'self'; worker-src 'self'; connect-src 'self'; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
MAX_FILES = 30  # photos and signatures of one visit

pages = APIRouter(tags=["field"])
api = APIRouter(dependencies=[Depends(current), Depends(csrf_session)], tags=["field"])


def _app_file(name: str, media_type: str, **headers: str) -> Response:
    return FileResponse(APP_DIR / name, media_type=media_type,
                        headers={"cache-control": "no-cache", **headers})


@pages.get("/m/", include_in_schema=False)
def app_shell(ctx: CtxDep) -> Response:
    """The app's one page (sign-in first: an anonymous visit goes to /login?next=/m/)."""
    html = (APP_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"content-security-policy": APP_CSP,
                                       "cache-control": "no-cache"})


@pages.get("/m/sw.js", include_in_schema=False)
def service_worker() -> Response:
    """The service worker, served from /m/ so that it controls the app's pages."""
    return _app_file("sw.js", "text/javascript", **{"service-worker-allowed": "/m/"})


@pages.get("/m/manifest.webmanifest", include_in_schema=False)
def manifest() -> Response:
    """The web app manifest (name, icons, start URL) that makes the app installable."""
    return _app_file("manifest.webmanifest", "application/manifest+json")


# ---- API ---------------------------------------------------------------------------------


@api.get("/m/campaigns", summary="手机走访：可用的行动与当前用户")
def field_campaigns(request: Request, ctx: CtxDep) -> dict[str, Any]:
    st = state(request)
    campaigns = ctx.scope.actor.campaigns
    choices = [c for c in read(st, campaign_choices)
               if ctx.scope.sees_all or campaigns is None or c.id in campaigns]
    return {"user": {"username": ctx.username, "name": ctx.user.name,
                     "role": ctx.scope.role.value,
                     "role_label": ROLE_LABELS.get(ctx.scope.role, ctx.scope.role.value)},
            "csrf_token": ctx.csrf, "server_time": st.clock.now().isoformat(),
            "campaigns": [{"id": c.id, "name": c.name} for c in choices]}


@api.get("/m/campaigns/{campaign_id}/setup", summary="手机走访：表单（按方案）与可下载的村")
def field_setup(request: Request, ctx: CtxDep, campaign_id: int) -> dict[str, Any]:
    st = state(request)
    with st.unit_of_work() as uow:
        villages = fd.field_villages(uow, ctx.scope, campaign_id)
        plan = load_plan_of(uow.session, campaign_id)
        form = fd.form_of(plan, local_today(st.clock))
    return {"campaign": campaign_id, "campaign_name": plan.name, "form": form,
            "villages": villages, "server_time": st.clock.now().isoformat()}


@api.get("/m/campaigns/{campaign_id}/villages/{village}",
         summary="手机走访：下载一个村的农户（最新情况与在办问题）")
def field_village(request: Request, ctx: CtxDep, campaign_id: int, village: str) -> Response:
    st = state(request)
    with st.unit_of_work() as uow:
        data = fd.village_download(uow, st.clock, ctx.scope, campaign_id, village)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, media_type="application/json")


def _time(value: object, what: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise DubanError(f"{what}格式有误：{value}") from None
    return parsed


def _number(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value))
    except ValueError:
        return None


def phone_visit(data: dict[str, Any], files: dict[str, bytes]) -> fv.PhoneVisit:
    """A PhoneVisit from the JSON the app sends and the files of its request."""
    recorded = _time(data.get("recorded_at"), "走访时间")
    if recorded is None:
        raise DubanError("缺少走访时间")
    position = data.get("position") or {}
    attached: list[fv.PhoneFile] = []
    for item in data.get("files") or []:
        cid = str(item.get("client_id", ""))
        content = files.get(cid)
        if content is None:
            raise DubanError(f"文件{cid}未随走访上传，请重新同步")
        attached.append(fv.PhoneFile(client_id=cid, kind=str(item.get("kind", "")),
                                     content=content,
                                     taken_at=_time(item.get("taken_at"), "拍摄时间")))
    facts = data.get("facts") or {}
    return fv.PhoneVisit(
        client_id=str(data.get("client_id", "")), household_id=str(data.get("household_id", "")),
        mode=str(data.get("mode", "")), recorded_at=recorded,
        answered_by=str(data.get("answered_by") or ""), findings=str(data.get("findings") or ""),
        facts={str(k): "" if v is None else str(v) for k, v in facts.items()},
        latitude=_number(position.get("latitude")), longitude=_number(position.get("longitude")),
        accuracy_m=_number(position.get("accuracy")), files=tuple(attached))


@api.post("/m/campaigns/{campaign_id}/visits",
          summary="手机走访：同步一条走访（含照片、签名），按走访编号只保存一次")
async def field_sync(request: Request, ctx: CtxDep, campaign_id: int) -> Response:
    st = state(request)
    form = await request.form(max_files=MAX_FILES, max_fields=10)
    raw = form.get("visit")
    if not isinstance(raw, str):
        return JSONResponse({"error": "缺少走访内容（visit）"}, status_code=400)
    try:
        data = json.loads(raw)
    except ValueError:
        return JSONResponse({"error": "走访内容不是有效的 JSON"}, status_code=400)
    if not isinstance(data, dict):
        return JSONResponse({"error": "走访内容格式有误"}, status_code=400)
    files: dict[str, bytes] = {}
    for key, value in form.multi_items():
        if key == "file" and isinstance(value, UploadFile):
            # at most the per-file limit and a byte is read, as duban.web.uploads does
            files[value.filename or ""] = await value.read(MAX_FILE_BYTES + 1)
    sent = form.get("sent_at")
    visit = phone_visit(data, files)
    sent_at = _time(sent if isinstance(sent, str) else None, "发送时间")

    def sync() -> dict[str, Any]:
        with st.unit_of_work() as uow:
            # the plan version in force, decoded once per process (pages.rules_of's cache)
            version = plan_version_of(uow.session, campaign_id)
            plan = st.cache.constant(("plan", campaign_id, version),
                                     lambda: load_plan_version(uow.session, campaign_id, version))
            remember_plan(uow.session, campaign_id, version, plan)
            answer = fv.sync_visit(uow, st.clock, ctx.scope, ctx.username, campaign_id, visit,
                                   sent_at=sent_at)
            uow.commit()
        return answer.as_json()

    return JSONResponse(await run_in_threadpool(sync))


@api.get("/m/campaigns/{campaign_id}/households/{household_id}/history",
         summary="手机走访：一户农户信息的变更记录（谁、何时、哪次走访）")
def field_history(request: Request, ctx: CtxDep, campaign_id: int,
                  household_id: str) -> list[dict[str, Any]]:
    st = state(request)
    with st.unit_of_work() as uow:
        fd.household_in_reach(uow, ctx.scope, campaign_id, household_id)
        rows = fd.fact_history(uow, campaign_id, household_id)
    return [{**r, "changed_at": r["changed_at"].isoformat()} for r in rows]


def app_files() -> list[Path]:
    """The files the service worker keeps for offline use (tests check the list is complete)."""
    return sorted(p for p in APP_DIR.iterdir() if p.is_file())
