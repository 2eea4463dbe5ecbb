"""The web app: Chinese pages for every role and a JSON API, sharing the service layer.

`create_app(root)` builds the app over the composition root (duban/services/root.py) that the
CLI and the tasks share; `duban serve` mounts it with uvicorn. Nothing here reads the wall
clock: the root's clock is handed in.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from duban.domain.errors import DubanError
from duban.services.root import Root
from duban.web import amend, api, auth, editor, field, holidays, pages, problem, work
from duban.web.cache import SlowResultCache
from duban.web.deps import WebState, refresh_reads
from duban.web.forms import refusal_status
from duban.web.frame import RequestFrame
from duban.web.heap import settle_heap
from duban.web.render import STATIC, came_from, make_env, redirect, render
from duban.web.security import AuthRequired, CsrfRefused, Keys, load_secret
from duban.web.validation import chinese_messages

log = logging.getLogger("duban.web")

# How long the offices a user acts for (own office, substitutions) are kept per process.
ACTOR_SECONDS = 10.0

# FastAPI's OpenTelemetry bridge, off: duban exports no traces, metrics or logs through it,
# and asking whether a provider is configured cost ~3 % of a busy server's Python per request.
NO_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False,
                     "operation_spans": False}


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.lower() in {"1", "true", "yes", "on"}


def create_app(root: Root, *, secret_key: str | None = None,
               secure_cookies: bool | None = None, cache_seconds: float = 30.0,
               threads: int | None = None) -> FastAPI:
    """The web app over the composition root (its database and clock).

    secret_key signs cookies and derives CSRF tokens (default: $DUBAN_SECRET_KEY, else a key
    generated once into the data directory). secure_cookies forces the cookies' Secure flag on
    or off (default: $DUBAN_COOKIE_SECURE, else on for HTTPS and loopback). cache_seconds is
    how long expensive aggregates (dashboard, ledger counts) are shared; 0 disables it.
    threads caps how many requests run their (synchronous) database work at once per process
    (default: $DUBAN_WEB_THREADS, else 12): more only queue inside PostgreSQL and the GIL,
    and each holds a pooled connection.
    """
    limit = threads or int(os.environ.get("DUBAN_WEB_THREADS", "12"))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints run in anyio's worker threads (40 by default); fewer, busier threads
        # give more answers per second on a small server than many switching ones.
        anyio.to_thread.current_default_thread_limiter().total_tokens = limit
        settle_heap()
        yield

    app = FastAPI(title="督办 duban API", version="1", openapi_url=None, docs_url=None,
                  redoc_url=None, lifespan=lifespan, telemetry=NO_TELEMETRY,
                  description="督办系统的 JSON 接口：与网页共用服务层，须先登录（会话 Cookie），"
                  "修改类请求须带 X-CSRF-Token 请求头（取自 GET /api/me）。")
    forced = secure_cookies if secure_cookies is not None else _env_flag("DUBAN_COOKIE_SECURE")
    app.state.duban = WebState(root=root, keys=Keys(load_secret(secret_key)),
                               env=make_env(), cache=SlowResultCache(ttl=cache_seconds, size=20_000),
                               secure_cookies=forced,
                               actors=SlowResultCache(ttl=min(cache_seconds, ACTOR_SECONDS),
                                                      size=5000, max_stale=0))
    st: WebState = app.state.duban
    st.cache.redraw_frame = lambda: refresh_reads(st)  # a recount's redraws read in one unit
    # One plain ASGI layer: the plan-version memo, the security headers, the body limit.
    app.add_middleware(RequestFrame)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router, prefix in ROUTERS:
        app.include_router(router, prefix=prefix)
    _handlers(app)
    return app


# Every router of the app with its prefix; route_table() lists what they serve. A request is
# matched against the routers in this order, route by route, twice (FastAPI's included
# routers match, then dispatch): the pages router, whose dashboard and ledger are most of a
# busy server's requests, comes first (it was fourth, behind ~23 routes matched in vain on
# every page). No (method, path) is served by two routers, so the order decides nothing else
# (tests/web/test_routers.py).
ROUTERS = ((pages.router, ""), (auth.router, ""), (auth.logout_router, ""),
           (api.router, "/api"), (problem.router, ""), (work.router, ""), (amend.router, ""),
           (holidays.router, ""), (field.pages, ""), (field.api, "/api"),
           (editor.router, ""))


def route_table() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (static files aside)."""
    out: set[tuple[str, str]] = set()
    for router, prefix in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                out.update((m, prefix + route.path) for m in route.methods or ())
    return out


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


_status_of = refusal_status


def _handlers(app: FastAPI) -> None:
    def st(request: Request) -> WebState:
        value = request.app.state.duban
        assert isinstance(value, WebState)
        return value

    def failed(request: Request, status: int, title: str, message: str) -> Response:
        """The error as JSON for the API, as a page for a person."""
        if _is_api(request):
            return JSONResponse({"error": message}, status_code=status)
        return render(st(request).env, st(request).keys, request, "error.html",
                      status_code=status, title=title, message=message,
                      back=came_from(request))

    @app.exception_handler(AuthRequired)
    async def auth_required(request: Request, _: AuthRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"error": "未登录或会话已过期，请先登录"}, status_code=401,
                                headers={"WWW-Authenticate": "Cookie"})
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        if request.method != "GET":
            target = "/"
        from urllib.parse import quote

        return redirect(request, st(request).keys, f"/login?next={quote(target, safe='')}")

    @app.exception_handler(pages.NoCampaignYet)
    async def no_campaign_yet(_: Request, exc: pages.NoCampaignYet) -> Response:
        return exc.response

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> Response:
        message = "请求缺少有效的安全令牌（CSRF），已拒绝。请刷新页面后重试。"
        return failed(request, 403, "请求被拒绝", message)

    @app.exception_handler(DubanError)
    async def duban_error(request: Request, exc: DubanError) -> Response:
        status = _status_of(exc)
        errors = [{"path": getattr(e, "path", ""), "message": getattr(e, "message", str(e))}
                  for e in getattr(exc, "errors", None) or []]
        if _is_api(request):
            body: dict[str, object] = {"error": exc.message}
            if errors:
                body["errors"] = errors
            return JSONResponse(body, status_code=status)
        return render(st(request).env, st(request).keys, request, "error.html",
                      status_code=status, title="无法完成", message=exc.message,
                      back=came_from(request))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        message = f"请求参数有误：{chinese_messages(exc.errors())}"
        return failed(request, 422, "请求参数有误", message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "页面不存在", 405: "不支持此请求方式"}.get(exc.status_code,
                                                            str(exc.detail))
        return failed(request, exc.status_code, "出错了", message)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = f"内部错误（{type(exc).__name__}），已记录日志，请联系管理员"
        return failed(request, 500, "内部错误", message)
