"""Commands for users and roles."""

from __future__ import annotations

import click

from duban.cli.base import cli, env
from duban.domain.lifecycle import ROLE_LABELS, Role

# ---- user -------------------------------------------------------------------------------


@cli.group("user", help="用户与角色。")
def user_group() -> None:
    pass


@user_group.command("add", help="新增用户。")
@click.argument("username")
@click.option("--name", required=True, help="姓名。")
@click.option("--role", type=click.Choice([r.value for r in Role if r != Role.SYSTEM]),
              required=True, help="角色：county 县级办公室 / supervisor 督查组 / town 乡镇 / "
              "office 责任办室 / village 村。")
@click.option("--office", help="所属责任办室代码（责任办室用户）。")
@click.option("--town", help="所属乡镇代码（乡镇、村用户）。")
@click.option("--village", help="所属村代码（村用户）。")
@click.option("--email", default="", help="电子邮箱（接收催办）。")
def user_add(username: str, name: str, role: str, office: str | None, town: str | None,
             village: str | None, email: str) -> None:
    from duban.services.actors import add_user

    e = env()
    add_user(e.db, e.clock, username=username, name=name, role=Role(role), office=office,
             town=town, village=village, email=email)
    click.echo(f"用户已添加：{username}（{name}，{ROLE_LABELS[Role(role)]}）")


