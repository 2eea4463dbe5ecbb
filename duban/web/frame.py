"""What duban does around every HTTP request, in one plain ASGI layer.

Three middlewares used to wrap the app one inside the other, each a coroutine and a wrapped
`send` or `receive` per request. `RequestFrame` does their work in one:

- **a plan-version memo per request** (`deps.PLAN_VERSIONS`): a page asks the database for
  a campaign's plan version once, however often it needs the rules; the worker threads of the
  request share it (they run in copies of its context), and nothing is kept after it;
- **the security headers** (`SECURITY_HEADERS`) on every response, a header the response set
  itself (the field app's own Content-Security-Policy) left as it is;
- **the request body's limit** (`uploads.bounded_receive`): refused by its declared length
  before a byte is read, and cut off at the first chunk past the limit;
- **how long the server took** (`Server-Timing: app;dur=…`, milliseconds from the request's
  arrival in the app to its response's start): a browser's developer tools show it beside
  the network's time, and the city bench reads it to tell the server's time from the
  load generator's own (issue 17 item 6).

Lifespan and websocket scopes pass through untouched.
"""

from __future__ import annotations

import time

from starlette.types import Message, Receive, Scope, Send

from duban.web.asgi import HttpMiddleware
from duban.web.deps import PLAN_VERSIONS
from duban.web.uploads import bounded_receive

# What browsers may load: only this site's own files (no CDN; the network is closed anyway).
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class RequestFrame(HttpMiddleware):
    """The plan-version memo, the security headers, the body limit and the Server-Timing of
    each request."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        arrived = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                took = (time.perf_counter() - arrived) * 1000
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message["headers"] = headers
            await send(message)

        token = PLAN_VERSIONS.set({})
        try:
            await self.app(scope, bounded_receive(scope, receive), send_with_headers)
        finally:
            PLAN_VERSIONS.reset(token)
