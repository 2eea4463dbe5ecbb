"""Sign in and sign out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from duban.domain.errors import DubanError
from duban.services.accounts import (
    SESSION_LIFETIME,
    LoginFailed,
    authenticate,
    close_session,
    open_session,
    session_user,
)
from duban.web.deps import WebState, csrf_pre, csrf_session, state
from duban.web.render import redirect, render, safe_next
from duban.web.security import (
    PRE_COOKIE,
    SESSION_COOKIE,
    client_ip,
    session_token,
    set_cookie,
)

router = APIRouter(dependencies=[Depends(csrf_pre)])
logout_router = APIRouter(dependencies=[Depends(csrf_session)])


def _login_page(request: Request, st: WebState, *, error: str | None = None,
                username: str = "", next_url: str = "/", status_code: int = 200) -> Response:
    pre = st.keys.unsign(request.cookies.get(PRE_COOKIE))
    fresh = pre is None
    if fresh:
        pre = secrets.token_urlsafe(24)
    assert pre is not None
    response = render(st.env, st.keys, request, "login.html", status_code=status_code,
                      csrf=st.keys.csrf_for(pre), error=error, username=username,
                      next_url=next_url)
    if fresh:
        # SameSite=Strict: the pre-session anchor is never sent on a cross-site request.
        set_cookie(response, request, PRE_COOKIE, st.keys.sign(pre), max_age=3600,
                   secure=st.secure_cookies, same_site="strict")
    return response


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    st = state(request)
    token = session_token(request, st.keys)
    if token and st.db.run(session_user, st.clock, token) is not None:
        return redirect(request, st.keys, safe_next(next))
    return _login_page(request, st, next_url=safe_next(next))


@router.post("/login", include_in_schema=False)
def login(request: Request, username: Annotated[str, Form(max_length=50)],
          password: Annotated[str, Form(max_length=200)],
          next: Annotated[str, Form()] = "/") -> Response:
    st = state(request)
    with st.unit_of_work() as uow:
        try:
            user_id = authenticate(uow, st.clock, username, password, client_ip(request))
        except DubanError as exc:
            if isinstance(exc, LoginFailed):
                uow.commit()  # the failed attempt counts towards the lock-out
            return _login_page(request, st, error=exc.message, username=username,
                               next_url=safe_next(next), status_code=401)
        token = open_session(uow, st.clock, user_id, ip=client_ip(request),
                             user_agent=request.headers.get("user-agent", ""))
        uow.commit()
    response = redirect(request, st.keys, safe_next(next))
    set_cookie(response, request, SESSION_COOKIE, st.keys.sign(token),
               max_age=int(SESSION_LIFETIME.total_seconds()), secure=st.secure_cookies)
    # A new pre-session anchor for the next sign-in; the old one must not be reused.
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@logout_router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    st = state(request)
    token = session_token(request, st.keys)
    if token:
        st.db.run(close_session, st.clock, token)
    response = redirect(request, st.keys, "/login", ok="已退出登录")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
