"""Cookies, CSRF tokens and the signed-in context of a request.

The session cookie carries a random token, signed with the app's secret; the database keeps
only the token's hash (duban.services.accounts). Every unsafe request (POST, PUT, PATCH,
DELETE) must carry a CSRF token: a form field `csrf_token` or the header `X-CSRF-Token`. The
token is an HMAC of the session token (synchronizer token bound to the session), or, before
sign-in, of a random pre-session cookie, so a request replayed from another site or without
the token is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass

from fastapi import Request
from itsdangerous import BadSignature, Signer
from starlette.responses import Response

from duban.services.accounts import SessionUser
from duban.services.database import data_dir, private_dir
from duban.services.scoping import Scope

SESSION_COOKIE = "duban_session"
PRE_COOKIE = "duban_pre"
FLASH_COOKIE = "duban_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_FILE = "web-secret.key"


class AuthRequired(Exception):
    """No valid session: pages redirect to the sign-in page, the API answers 401."""


class CsrfRefused(Exception):
    """An unsafe request without a valid CSRF token."""


def load_secret(secret_key: str | None) -> str:
    """The signing secret: given, else $DUBAN_SECRET_KEY, else a file kept in the data dir."""
    if secret_key:
        return secret_key
    env = os.environ.get("DUBAN_SECRET_KEY")
    if env:
        return env
    path = data_dir() / SECRET_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    private_dir(path.parent)
    value = secrets.token_urlsafe(48)
    # Created owner-only; a secret readable by others would let them forge cookies.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value)
    return value


class Keys:
    """Signing and CSRF derivation from one secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._signer = Signer(secret, salt="duban.cookie")

    def sign(self, value: str) -> str:
        """A value with its signature appended."""
        return self._signer.sign(value).decode()

    def unsign(self, value: str | None) -> str | None:
        """The value of a signed string, or None if missing or forged."""
        if not value:
            return None
        try:
            return self._signer.unsign(value).decode()
        except BadSignature:
            return None

    def csrf_for(self, anchor: str) -> str:
        """The CSRF token bound to an anchor (a session's token hash, or a pre-session id)."""
        return hmac.new(self._secret, b"csrf:" + anchor.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, anchor: str | None, token: str | None) -> bool:
        """Whether a submitted token matches the anchor, compared in constant time."""
        if not anchor or not token:
            return False
        return hmac.compare_digest(self.csrf_for(anchor), token)


def cookie_secure(request: Request, forced: bool | None) -> bool:
    """Whether cookies get the Secure flag: always over HTTPS and on loopback, or as forced.

    Browsers treat http://localhost and 127.0.0.1 as secure contexts, so Secure cookies work
    there; on a plain-HTTP intranet address they would be dropped, so those need TLS in front
    or DUBAN_COOKIE_SECURE=0 set knowingly.
    """
    if forced is not None:
        return forced
    if request.url.scheme == "https":
        return True
    host = (request.url.hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def set_cookie(response: Response, request: Request, name: str, value: str, *,
               max_age: int | None, secure: bool | None, same_site: str = "lax") -> None:
    """Set an HttpOnly cookie with the app's flags."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite=same_site,  # type: ignore[arg-type]
                        secure=cookie_secure(request, secure))


def client_ip(request: Request) -> str:
    """The client's address as the server sees it (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


@dataclass
class Ctx:
    """A signed-in request: who, what they may see, their CSRF token, the office day."""

    request: Request
    user: SessionUser
    scope: Scope
    csrf: str
    today: dt.date
    now: dt.datetime

    @property
    def username(self) -> str:
        """The signed-in username."""
        return self.user.username


def session_token(request: Request, keys: Keys) -> str | None:
    """The session token of a request, if its cookie is present and correctly signed."""
    return keys.unsign(request.cookies.get(SESSION_COOKIE))
