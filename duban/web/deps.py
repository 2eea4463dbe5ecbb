"""What every route gets: the app's state, the CSRF check and the signed-in context."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jinja2
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from duban.domain.clock import Clock, local_now
from duban.services.accounts import signing_in, token_hash, touch_session
from duban.services.actors import resolve_actor
from duban.services.database import Database, UnitOfWork
from duban.services.root import Root
from duban.services.scoping import Scope
from duban.web.cache import SlowResultCache, always
from duban.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    PRE_COOKIE,
    UNSAFE_METHODS,
    AuthRequired,
    CsrfRefused,
    Ctx,
    Keys,
    session_token,
)

# The plan version of each campaign in force for the current request: `frame.RequestFrame`
# gives each request a dict of its own, which its worker threads share (they run in copies of
# the request's context); sign-in fills it in its own transaction. Outside a request (None)
# every call asks the database.
PLAN_VERSIONS: ContextVar[dict[int, int] | None] = ContextVar("duban_plan_versions",
                                                              default=None)


@dataclass
class WebState:
    """The app's dependencies, built once by create_app over the composition root."""

    root: Root
    keys: Keys
    env: jinja2.Environment
    cache: SlowResultCache
    secure_cookies: bool | None
    actors: SlowResultCache

    @property
    def db(self) -> Database:
        """The root's database."""
        return self.root.db

    @property
    def clock(self) -> Clock:
        """The root's clock."""
        return self.root.clock

    def unit_of_work(self) -> UnitOfWork:
        """A unit of work for one request; the route commits it."""
        return self.root.unit_of_work()


def state(request: Request) -> WebState:
    """The WebState of the app serving a request."""
    st = request.app.state.duban
    assert isinstance(st, WebState)
    return st


async def _submitted_token(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def csrf_session(request: Request) -> None:
    """Refuse an unsafe request whose CSRF token does not match the signed-in session."""
    if request.method not in UNSAFE_METHODS:
        return
    st = state(request)
    token = session_token(request, st.keys)
    anchor = token_hash(token) if token else None
    if not st.keys.csrf_ok(anchor, await _submitted_token(request)):
        raise CsrfRefused()


async def csrf_pre(request: Request) -> None:
    """Refuse a sign-in POST whose CSRF token does not match the pre-session cookie."""
    if request.method not in UNSAFE_METHODS:
        return
    st = state(request)
    anchor = st.keys.unsign(request.cookies.get(PRE_COOKIE))
    if not st.keys.csrf_ok(anchor, await _submitted_token(request)):
        raise CsrfRefused()


def current(request: Request) -> Ctx:
    """The signed-in context, or AuthRequired (redirect to sign-in / 401)."""
    st = state(request)
    with st.unit_of_work() as uow:
        ctx = _signed_in_on(st, request, uow)
        if ctx.user.touched:
            touch_session(uow, st.clock, ctx.user.session_id)
            uow.commit()  # the session's last-seen time
    return ctx


def _signed_in_on(st: WebState, request: Request, uow: UnitOfWork) -> Ctx:
    """Sign in on a unit of work: one statement reads the session and the plan versions in
    force (`signing_in`). A due last-seen time (`ctx.user.touched`) is the caller's to write:
    a page's unit is read-only."""
    token = session_token(request, st.keys)
    if token is None:
        raise AuthRequired()
    now = local_now(st.clock)
    user, versions = signing_in(uow, st.clock, token)
    memo = PLAN_VERSIONS.get()
    if memo is not None:
        # Every page wants its campaign's plan version in force: asked with the sign-in,
        # instead of in a statement of its own per request.
        memo.update(versions)
    if user is None:
        raise AuthRequired()
    # The offices a user acts for today (own office plus substitutions) are kept for a
    # few seconds: a new substitution takes effect within ACTOR_SECONDS. The session
    # itself (revoked, expired, user disabled) is checked on every request above.
    actor, _ = st.actors.get((user.username, now.date()),
                             lambda: resolve_actor(uow.session, user.username, now.date()),
                             keep=always)
    scope = Scope(actor=actor, town=user.town_code, village=user.village_code)
    return Ctx(request=request, user=user, scope=scope, csrf=st.keys.csrf_for(user.token_hash),
               today=now.date(), now=now)


# The unit of work a signed-in page reads in (`signed_in`): its sign-in's, so a page checks
# out one pooled connection and opens one transaction, not one per read; read-only (it ends
# in COMMIT and the connection keeps its prepared statements). Set only in the page's own
# worker thread; a cache refresh runs in a thread of its own and reads apart.
PAGE_READS: ContextVar[UnitOfWork | None] = ContextVar("duban_page_reads", default=None)


def page_reads(st: WebState) -> AbstractContextManager[UnitOfWork]:
    """The unit of work a read-only view of a page runs in: the page's own (left open for
    its next read, ended when the page ends), else a read-only one of its own."""
    uow = PAGE_READS.get()
    return nullcontext(uow) if uow is not None else st.db.unit_of_work(read_only=True)


@contextmanager
def refresh_reads(st: WebState) -> Iterator[None]:
    """The reads of a cache refresh's redraws (each scope's sums drawn from a recounted
    cube), in one read-only unit of work for them all, as a page's reads are."""
    with st.db.unit_of_work(read_only=True) as uow:
        token = PAGE_READS.set(uow)
        try:
            yield
        finally:
            PAGE_READS.reset(token)


def signed_in(endpoint: Callable[..., Response]) -> Callable[..., Awaitable[Response]]:
    """A page's endpoint run with its sign-in in one worker thread.

    FastAPI hands a sync dependency (`current`) and a sync endpoint each to a worker thread
    of its own and back: two hand-offs per request, a good share of a busy server's Python.
    The endpoint's `ctx` parameter is left out of the parameters FastAPI reads (the others,
    `request` among them, it still parses and validates); in one thread `current` signs in,
    as the dependency did (AuthRequired when there is no session), then the page runs.
    Its router must not also depend on `current`.
    """
    hints = typing.get_type_hints(endpoint, include_extras=True)
    signature = inspect.signature(endpoint)
    params = [p.replace(annotation=hints.get(p.name, p.annotation))
              for name, p in signature.parameters.items() if name != "ctx"]
    if "ctx" not in signature.parameters or "request" not in signature.parameters:
        raise TypeError(f"{endpoint.__name__}: a signed-in page takes request and ctx")

    async def page(**kwargs: Any) -> Response:
        request = kwargs["request"]
        return await run_in_threadpool(_signed_in_page, endpoint, request, kwargs)

    page.__name__ = endpoint.__name__
    page.__qualname__ = endpoint.__qualname__
    page.__doc__ = endpoint.__doc__
    page.__module__ = endpoint.__module__
    page.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=Response)
    return page


def _signed_in_page(endpoint: Callable[..., Response], request: Request,
                    kwargs: dict[str, Any]) -> Response:
    """Sign in, then run the page, its reads in the sign-in's unit of work (PAGE_READS)."""
    st = state(request)
    ctx: Ctx | None = None
    try:
        with st.db.unit_of_work(read_only=True) as uow:
            ctx = _signed_in_on(st, request, uow)
            token = PAGE_READS.set(uow)
            try:
                return endpoint(ctx=ctx, **kwargs)
            finally:
                PAGE_READS.reset(token)
    finally:
        if ctx is not None and ctx.user.touched:  # once in TOUCH_EVERY, in a unit of its own
            st.db.run(touch_session, st.clock, ctx.user.session_id)
