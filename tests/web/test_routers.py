"""The app's routers and their order (web/app.py, ROUTERS): the pages router is matched first,
and no request is served by two routers, so the order changes nothing but the matching's
cost."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from duban.web import pages
from duban.web.app import ROUTERS
from duban.web.deps import csrf_pre, csrf_session

# A value for each path parameter, so a route's own path can be asked of every other route.
PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


def _sample(path: str) -> str:
    return PARAM.sub(lambda m: "a/b" if m.group(2) == "path" else "1", path)


def _routes() -> list[tuple[int, str, set[str], APIRoute]]:
    out: list[tuple[int, str, set[str], APIRoute]] = []
    for index, (router, prefix) in enumerate(ROUTERS):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            out.append((index, prefix + route.path, set(route.methods or ()), route))
    return out


def test_no_request_is_served_by_two_routers() -> None:
    routes = _routes()
    for index, path, methods, _ in routes:
        sample = _sample(path)
        for other, other_path, other_methods, _ in routes:
            if other != index and methods & other_methods:
                assert not re.fullmatch(_as_regex(other_path), sample), (path, other_path)


def _as_regex(path: str) -> str:
    """A route path as the regex Starlette compiles for it (str and int parameters, path)."""
    out, last = [], 0
    for m in PARAM.finditer(path):
        out.append(re.escape(path[last:m.start()]))
        out.append(".*" if m.group(2) == "path" else "[^/]+")
        last = m.end()
    out.append(re.escape(path[last:]))
    return "".join(out)


def test_the_pages_router_is_matched_first() -> None:
    first, prefix = ROUTERS[0]
    assert first is pages.router and prefix == ""
    served = {route.path for route in first.routes if isinstance(route, APIRoute)}
    assert {"/", "/ledger"} <= served


def test_every_unsafe_route_checks_its_csrf_token() -> None:
    """The pages router has no CSRF dependency (its pages are GETs): a POST, PUT, PATCH or
    DELETE added anywhere must still be refused without its token."""
    unsafe = {"POST", "PUT", "PATCH", "DELETE"}
    missing = [path for _, path, methods, route in _routes()
               if methods & unsafe and not _depends_on(route, {csrf_session, csrf_pre})]
    assert missing == []
    assert any(methods & unsafe for _, _, methods, _ in _routes())


def _depends_on(route: APIRoute, calls: set[object]) -> bool:
    todo = list(route.dependant.dependencies)
    while todo:
        dep = todo.pop()
        if dep.call in calls:
            return True
        todo.extend(dep.dependencies)
    return False
