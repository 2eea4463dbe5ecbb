"""`duban user add|list|disable|enable|passwd` and signing in with what they set."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient

from duban.cli import cli
from duban.services.database import Database
from tests.web.conftest import csrf_of


def _runner(db: Database) -> Any:
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        # The commands work on the test's database (obj), inside its transaction.
        result = runner.invoke(cli, ["--now", "2022-09-26T10:00", *args], obj=db,
                               standalone_mode=False, catch_exceptions=True, env=env)
        out = result.output + (str(result.exception) if result.exception else "")
        return (1 if result.exception else 0), out

    return run


def _signs_in(app: Any, username: str, password: str) -> bool:
    client = TestClient(app)
    page = client.get("/login")
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    return r.status_code == 303


def test_users_from_the_command_line_sign_in(db: Database, app: Any) -> None:
    run = _runner(db)
    rc, out = run("user", "add", "zhou", "--name", "周科员", "--role", "office",
                  "--office", "zjj", "--password", "short")
    assert rc == 1 and "密码至少须 8 位" in out
    rc, out = run("user", "add", "zhou", "--name", "周科员", "--role", "office",
                  "--office", "zjj", "--password", "Zhou-2022-pass")
    assert rc == 0 and "用户已添加：zhou" in out, out
    # A role by its name, as a clerk says it, or by its code.
    rc, out = run("user", "add", "wu", "--name", "吴干事", "--role", "乡镇", "--town", "huaidian",
                  env={"DUBAN_PASSWORD": "Wu-pass-2022"})
    assert rc == 0, out
    assert _signs_in(app, "zhou", "Zhou-2022-pass") and _signs_in(app, "wu", "Wu-pass-2022")
    rc, out = run("user", "list", "--role", "office")
    assert rc == 0 and "周科员" in out and "吴干事" not in out and "已设" in out
    assert "县住建局" in out and " zjj " not in out  # 所属 by name
    assert run("user", "list", "--role", "责任办室") == (rc, out)
    rc, refused = run("user", "list", "--role", "办室")
    assert rc == 1 and "“办室”不是可选的值，可选：县级办公室、督查组、乡镇、责任办室、村" in refused
    rc, out = run("user", "disable", "zhou")
    assert rc == 0 and "用户已停用：zhou" in out
    assert not _signs_in(app, "zhou", "Zhou-2022-pass")
    rc, out = run("user", "list", "--active")
    assert "周科员" not in out
    rc, out = run("user", "enable", "zhou")
    assert rc == 0 and "用户已启用：zhou" in out
    assert _signs_in(app, "zhou", "Zhou-2022-pass")
    rc, out = run("user", "passwd", "zhou", "--password", "Zhou-new-pass-1")
    assert rc == 0 and "密码已更新" in out
    assert not _signs_in(app, "zhou", "Zhou-2022-pass")
    assert _signs_in(app, "zhou", "Zhou-new-pass-1")
    rc, out = run("user", "disable", "nobody")
    assert rc == 1 and "用户不存在" in out


def test_a_user_may_hold_a_second_role(db: Database) -> None:
    run = _runner(db)
    rc, out = run("user", "add", "zhang", "--name", "张兼任", "--role", "county",
                  "--also", "office")
    assert rc == 1 and "责任办室用户须指定所属办室" in out, out
    rc, out = run("user", "add", "zhang", "--name", "张兼任", "--role", "office", "--office",
                  "zjj", "--also", "supervisor")
    assert rc == 0 and "（张兼任，责任办室、督查组）" in out, out
    rc, out = run("user", "list", "--role", "office")
    assert rc == 0 and "责任办室、督查组" in out, out
