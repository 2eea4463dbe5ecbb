"""Commands for users and roles: add, list, disable / enable, passwd."""

from __future__ import annotations

import getpass
import os

import click

from duban.cli.base import NamedChoice, cli, env
from duban.cli.output import echo_json, json_option, table
from duban.domain.errors import DubanError
from duban.domain.lifecycle import ROLE_LABELS, Role

ROLE_CHOICES = NamedChoice({r.value: ROLE_LABELS[r] for r in Role if r != Role.SYSTEM})
PASSWORD_ENV = "DUBAN_PASSWORD"


def _operator() -> str:
    """Who ran the command, for the account log (the CLI has no signed-in user)."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


def _read_password(username: str, given: str | None, *, prompt: bool) -> str | None:
    """The new password: --password, else $DUBAN_PASSWORD, else asked twice (hidden)."""
    from duban.services.accounts import check_password

    password = given if given is not None else os.environ.get(PASSWORD_ENV)
    if password is None and prompt:
        password = click.prompt(f"{username} 的新密码", hide_input=True,
                                confirmation_prompt="再输入一次")
    if password is not None:
        check_password(password, username)
    return password


# ---- user -------------------------------------------------------------------------------


@cli.group("user", help="用户与角色：新增、列表、停用、设置密码。")
def user_group() -> None:
    pass


@user_group.command("add", help="新增用户（可同时设置登录密码）。")
@click.argument("username")
@click.option("--name", required=True, help="姓名。")
@click.option("--role", type=ROLE_CHOICES,
              required=True, help="角色。")
@click.option("--office", help="所属责任办室代码（责任办室用户）。")
@click.option("--town", help="所属乡镇代码（乡镇、村用户）。")
@click.option("--village", help="所属村代码（村用户）。")
@click.option("--email", default="", help="电子邮箱（接收催办）。")
@click.option("--password", default=None, metavar="密码",
              help=f"登录密码（至少 8 位）；也可用环境变量 {PASSWORD_ENV}，或加 --ask 交互输入。"
              "不设密码的用户不能登录网页。")
@click.option("--ask", is_flag=True, help="交互输入密码（不回显）。")
@click.option("--also", "also", multiple=True,
              type=ROLE_CHOICES,
              help="兼任的其他角色（可多次）；同一问题上仍不能既整改又复核或销号。")
@click.option("--campaign", "campaign_id", type=int, default=None,
              help="所属行动编号（办室、乡镇、村用户；同一代码在多项行动中都有时必填）。")
@click.option("--all-campaigns", is_flag=True,
              help="明确授权该办室、乡镇、村用户在全部行动中办理（慎用）。")
def user_add(username: str, name: str, role: str, office: str | None, town: str | None,
             village: str | None, email: str, password: str | None, ask: bool,
             also: tuple[str, ...], campaign_id: int | None, all_campaigns: bool) -> None:
    from duban.services.accounts import hash_password
    from duban.services.actors import add_user

    e = env()
    secret = _read_password(username, password, prompt=ask)
    e.db.run(add_user, e.clock, username=username, name=name, role=Role(role), office=office,
             town=town, village=village, email=email,
             password_hash=hash_password(secret) if secret else None,
             extra_roles=[Role(r) for r in also], campaign_id=campaign_id,
             all_campaigns=all_campaigns)
    note = "" if secret else "（未设密码，可用 duban user passwd 设置）"
    roles = "、".join(ROLE_LABELS[Role(r)] for r in dict.fromkeys([role, *also]))
    click.echo(f"用户已添加：{username}（{name}，{roles}）{note}")


@user_group.command("list", help="列出用户。")
@click.option("--role", type=ROLE_CHOICES,
              help="只列出某一角色。")
@click.option("--active", "active_only", is_flag=True, help="只列出未停用的用户。")
@json_option
def user_list(role: str | None, active_only: bool, json_out: bool) -> None:
    from duban.services.accounts import list_users
    from duban.services.views.names import unit_labels

    e = env()
    rows = e.db.run(list_users, role=Role(role) if role else None,
                    include_disabled=not active_only)
    if json_out:
        echo_json(rows)
        return
    units = e.db.run(unit_labels, [u.username for u in rows])
    if not rows:
        click.echo("暂无用户。用 duban user add 新增。")
        return
    click.echo(table(["用户名", "姓名", "角色", "所属", "行动", "邮箱", "密码", "状态"],
                     [[u.username, u.name, u.role_label, units.get(u.username, u.scope), u.campaigns, u.email or "",
                       "已设" if u.has_password else "未设", "正常" if u.active else "已停用"]
                      for u in rows]))
    click.echo(f"共 {len(rows)} 个用户")


@user_group.command("grant", help="跨行动授权：允许办室、乡镇、村用户也在另一项行动中办理（须写明原因，留痕）。")
@click.argument("username")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--reason", required=True, help="授权原因。")
@click.option("--as", "granted_by", default="county", show_default=True,
              help="授权人用户名（县级办公室）。")
def user_grant(username: str, campaign_id: int, reason: str, granted_by: str) -> None:
    from duban.services.actors import grant_campaign

    e = env()
    e.db.run(grant_campaign, e.clock, username, campaign_id, reason, granted_by)
    click.echo(f"已授权：{username} 可在行动 {campaign_id} 中办理（{reason}）")


@user_group.command("disable", help="停用用户：立即结束其全部登录会话，不能再登录和办理。")
@click.argument("username")
def user_disable(username: str) -> None:
    _set_active(username, False)


@user_group.command("enable", help="重新启用已停用的用户。")
@click.argument("username")
def user_enable(username: str) -> None:
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    from duban.services.accounts import set_active

    e = env()
    e.db.run(set_active, e.clock, username, active, by=_operator())
    click.echo(f"用户已{'启用' if active else '停用'}：{username}")


@user_group.command("passwd", help="设置或重设登录密码（结束该用户已有的登录会话）。")
@click.argument("username")
@click.option("--password", default=None, metavar="密码",
              help=f"新密码；也可用环境变量 {PASSWORD_ENV}；都不给则交互输入。")
def user_passwd(username: str, password: str | None) -> None:
    from duban.services.accounts import set_password

    e = env()
    secret = _read_password(username, password, prompt=True)
    if secret is None:
        raise DubanError("未提供新密码")
    e.db.run(set_password, e.clock, username, secret, by=_operator())
    click.echo(f"密码已更新：{username}（其已有登录会话已结束）")
