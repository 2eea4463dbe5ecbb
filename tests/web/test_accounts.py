"""Accounts: Argon2 hashes, throttled sign-in, sessions that end, cookie flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duban.domain.clock import FixedClock
from duban.services import accounts
from duban.services.accounts import (
    MAX_FAILURES,
    LoginFailed,
    LoginThrottled,
    WeakPassword,
    authenticate,
    check_password,
    hash_password,
    open_session,
    session_user,
    set_active,
    set_password,
    verify_password,
)
from duban.services.database import Database
from models import AccountEvent, LoginAttempt
from tests.web.conftest import PASSWORD, World, csrf_of, login


def test_passwords_are_argon2id_and_verify() -> None:
    digest = hash_password("correct horse")
    assert digest.startswith("$argon2id$")
    assert verify_password("correct horse", digest)
    assert not verify_password("wrong horse", digest)
    assert not verify_password("anything", None)
    assert not verify_password("anything", "not-a-hash")


@pytest.mark.parametrize("password", ["short", "aaaaaaaaaaa", "county12"])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_password(password, "county12")


def sign_in(db: Database, clock: FixedClock, username: str, password: str, ip: str) -> int:
    """authenticate as the sign-in page runs it: a failed attempt is committed too."""
    with db.unit_of_work() as uow:
        try:
            user_id = authenticate(uow, clock, username, password, ip)
        except LoginFailed:
            uow.commit()
            raise
        uow.commit()
        return user_id


def test_sign_in_is_throttled_by_username_and_address(world: World) -> None:
    db, clock = world.db, world.clock
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginFailed):
            sign_in(db, clock, "county", "wrong-password", "10.0.0.1")
    # Locked for this pair: even the right password is refused, and nothing is checked.
    with pytest.raises(LoginThrottled, match="15 分钟"):
        sign_in(db, clock, "county", PASSWORD, "10.0.0.1")
    # Another address, or another user from that address, is not locked.
    assert sign_in(db, clock, "county", PASSWORD, "10.0.0.2") > 0
    assert sign_in(db, clock, "sup", PASSWORD, "10.0.0.1") > 0
    # The lock lifts when the window has passed.
    clock.advance(accounts.FAILURE_WINDOW + dt.timedelta(seconds=1))
    assert sign_in(db, clock, "county", PASSWORD, "10.0.0.1") > 0
    with db.transaction() as s:
        failures = s.scalar(select(func.count()).select_from(LoginAttempt)
                            .where(LoginAttempt.success.is_(False)))
    assert failures == MAX_FAILURES


def test_a_disabled_user_is_told_so_only_after_the_right_password(world: World) -> None:
    with pytest.raises(LoginFailed, match="用户名或密码错误"):
        sign_in(world.db, world.clock, "nobody", PASSWORD, "10.0.0.9")
    world.db.run(set_active, world.clock, "sup", False, by="county")
    # A wrong password reveals nothing about the account.
    with pytest.raises(LoginFailed, match="用户名或密码错误"):
        sign_in(world.db, world.clock, "sup", "wrong-password", "10.0.0.9")
    with pytest.raises(LoginFailed, match="该账号已停用") as info:
        sign_in(world.db, world.clock, "sup", PASSWORD, "10.0.0.9")
    assert "用户名或密码错误" not in str(info.value)
    with world.db.transaction() as s:
        attempts = s.execute(select(LoginAttempt.username, LoginAttempt.success)
                             .order_by(LoginAttempt.id)).all()
    assert [tuple(a) for a in attempts] == [("nobody", False), ("sup", False), ("sup", False)]


def test_sessions_expire_idle_and_end_on_disable_and_password_change(world: World) -> None:
    db, clock = world.db, world.clock
    uid = sign_in(db, clock, "off_zjj", PASSWORD, "10.0.0.3")
    token = db.run(open_session, clock, uid)
    user = db.run(session_user, clock, token)
    assert user is not None and user.username == "off_zjj" and user.office_code == "zjj"
    clock.advance(accounts.SESSION_IDLE + dt.timedelta(minutes=1))
    assert db.run(session_user, clock, token) is None  # idle too long
    token = db.run(open_session, clock, uid)
    db.run(set_password, clock, "off_zjj", "Another-pass-99", by="county")
    assert db.run(session_user, clock, token) is None  # a new password ends old sessions
    token = db.run(open_session, clock, uid)
    db.run(set_active, clock, "off_zjj", False, by="county")
    assert db.run(session_user, clock, token) is None
    with db.transaction() as s:
        events = s.execute(select(AccountEvent.action, AccountEvent.actor, AccountEvent.subject)
                           .order_by(AccountEvent.id)).all()
    assert [tuple(e) for e in events] == [("set_password", "county", "off_zjj"),
                                          ("disable", "county", "off_zjj")]


def test_session_lifetime_is_absolute(world: World) -> None:
    db, clock = world.db, world.clock
    token = db.run(open_session, clock, sign_in(db, clock, "sup", PASSWORD, "10.0.0.4"))
    for _ in range(int(accounts.SESSION_LIFETIME / accounts.TOUCH_EVERY) + 1):
        clock.advance(accounts.TOUCH_EVERY)
        user = db.run(session_user, clock, token)
        if user is None:
            break
    assert db.run(session_user, clock, token) is None
    assert isinstance(clock, FixedClock)


def test_session_cookie_flags(app: Any, world: World) -> None:
    for base, secure in (("https://duban.example", True), ("http://127.0.0.1", True),
                         ("http://192.168.1.20", False)):
        client = TestClient(app, base_url=base)
        page = client.get("/login")
        pre = page.headers["set-cookie"].lower()
        assert "httponly" in pre and "samesite=strict" in pre
        assert ("secure" in pre) is secure, (base, pre)
        if base == "http://127.0.0.1":
            continue  # browsers send Secure cookies to loopback over HTTP; httpx does not
        r = client.post("/login", data={"username": "county", "password": PASSWORD,
                                        "csrf_token": csrf_of(page.text)},
                        follow_redirects=False)
        assert r.status_code == 303
        cookie = next(c for c in r.headers.get_list("set-cookie")
                      if c.startswith("duban_session="))
        flags = {f.strip().lower() for f in cookie.split(";")[1:]}
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert ("secure" in flags) is secure, (base, cookie)
        value = cookie.split(";")[0].split("=", 1)[1]
        assert "." in value  # token.signature


def test_the_login_form_reports_errors_in_chinese_and_locks(app: Any, world: World) -> None:
    client = TestClient(app)
    for i in range(MAX_FAILURES):
        page = client.get("/login")
        r = client.post("/login", data={"username": "county", "password": f"bad-{i}",
                                        "csrf_token": csrf_of(page.text)})
        assert r.status_code == 401 and "用户名或密码错误" in r.text
    page = client.get("/login")
    r = client.post("/login", data={"username": "county", "password": PASSWORD,
                                    "csrf_token": csrf_of(page.text)})
    assert r.status_code == 401 and "登录失败次数过多" in r.text
    assert "duban_session" not in client.cookies


def test_next_parameter_cannot_leave_the_site(app: Any, world: World) -> None:
    client = TestClient(app)
    for target, expected in (("/ledger", "/ledger"), ("//evil.example/x", "/"),
                             ("https://evil.example", "/"), ("/\\evil.example", "/")):
        page = client.get("/login")
        r = client.post("/login", data={"username": "sup", "password": PASSWORD,
                                        "csrf_token": csrf_of(page.text), "next": target},
                        follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == expected
        client.cookies.clear()


def test_security_headers_on_every_page(app: Any, world: World) -> None:
    client = TestClient(app)
    login(client, "county")
    for path in ("/", "/login", "/api/me", "/static/app.css"):
        r = client.get(path)
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
