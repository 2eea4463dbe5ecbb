"""Commands for recurring duties (常态化工作) and problem milestones (整改节点)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from duban.cli.base import campaign_or_only, cli, env
from duban.cli.output import echo_json, json_option, table

DATE = click.DateTime(["%Y-%m-%d"])
STATES = ("待完成", "已完成", "逾期完成", "逾期未完成")


@cli.group("duty", help="常态化工作：按方案定期走访、会商、报送，完成后上报佐证。")
def duty_group() -> None:
    pass


@duty_group.command("list", help="列出已开始的常态化工作及其状态（按办室、日期、状态筛选）。")
@click.option("--office", default=None, help="办室（代码或名称）；默认全部。")
@click.option("--date", "day", type=DATE, default=None, help="以此日期查看（默认今天）。")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES),
              help="只看某状态（可多次）。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@json_option
def duty_list(office: str | None, day: dt.datetime | None, states: tuple[str, ...],
              campaign_id: int | None, json_out: bool) -> None:
    from duban.services.duties import list_occurrences

    e = env()
    with e.unit_of_work() as uow:
        rows = list_occurrences(uow, e.clock, campaign_or_only(campaign_id), office=office,
                                day=day.date() if day else None, states=states)
    if json_out:
        echo_json(rows)
        return
    if not rows:
        click.echo("没有已开始的常态化工作。")
        return
    click.echo(table(
        ["编号", "工作", "频次", "责任单位", "村", "应完成日", "状态", "完成日", "佐证"],
        [[r.id, r.duty, r.how_often, r.office, r.place, r.due_on, r.state, r.done_on or "",
          r.files] for r in rows]))


@duty_group.command("done", help="报告一项常态化工作已完成（附佐证资料或情况说明）。")
@click.argument("occurrence", type=int)
@click.option("--as", "username", required=True, help="报告人用户名（本单位用户或县级办公室）。")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="佐证资料文件（可多次）。")
@click.option("--note", default="", help="完成情况说明。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
def duty_done(occurrence: int, username: str, files: tuple[Path, ...], note: str,
              campaign_id: int | None) -> None:
    from duban.services.duties import report_done
    from duban.services.evidence import UploadedFile

    e = env()
    uploads = [UploadedFile(p.name, p.read_bytes()) for p in files]
    with e.unit_of_work() as uow:
        row = report_done(uow, e.clock, campaign_or_only(campaign_id), occurrence, by=username,
                          files=uploads, note=note, root=e.root.evidence_dir)
        uow.commit()
    click.echo(f"已报告完成：第{row.id}项 {row.office}{row.place}“{row.duty}”"
               f"（应完成日 {row.due_on}）→ {row.state}，佐证 {row.files} 个")


@cli.group("milestone", help="整改节点：一个问题的多个时间节点（如 开工、完工）。")
def milestone_group() -> None:
    pass


@milestone_group.command("list", help="列出一个问题的整改节点及其状态。")
@click.argument("problem")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@json_option
def milestone_list(problem: str, campaign_id: int | None, json_out: bool) -> None:
    from duban.domain.clock import local_today
    from duban.services.campaigns import load_plan_of
    from duban.services.duties import milestones_of
    from duban.services.problems import find_problem
    from duban.services.views.names import person_labels

    e = env()
    cid = campaign_or_only(campaign_id)
    with e.unit_of_work() as uow:
        p = find_problem(uow.session, cid, problem)
        code = p.code  # read inside the unit: the row is detached once it ends
        rows = milestones_of(uow.session, load_plan_of(uow.session, cid), p,
                             local_today(e.clock))
        people = person_labels(uow.session, [m.reached_by for m in rows])
    if json_out:
        echo_json({"code": code, "campaign_id": cid, "milestones": rows})
        return
    if not rows:
        click.echo(f"问题 {code} 没有整改节点。")
        return
    click.echo(table(["节点", "日期", "状态", "完成日", "报告人"],
                     [[m.name, m.date, m.state, m.reached_on or "",
                       people.get(m.reached_by, m.reached_by) if m.reached_by else ""]
                      for m in rows]))


@milestone_group.command("reach", help="报告问题的一个整改节点已完成（牵头办室，附佐证）。")
@click.argument("problem")
@click.argument("milestone")
@click.option("--as", "username", required=True, help="报告人用户名（牵头办室用户）。")
@click.option("--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="佐证资料文件（可多次）。")
@click.option("--note", default="", help="完成情况说明。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
def milestone_reach(problem: str, milestone: str, username: str, files: tuple[Path, ...],
                    note: str, campaign_id: int | None) -> None:
    from duban.services.duties import reach_milestone
    from duban.services.evidence import UploadedFile

    e = env()
    uploads = [UploadedFile(p.name, p.read_bytes()) for p in files]
    with e.unit_of_work() as uow:
        row = reach_milestone(uow, e.clock, campaign_or_only(campaign_id), problem, milestone,
                              by=username, files=uploads, note=note, root=e.root.evidence_dir)
        uow.commit()
    click.echo(f"已报告节点完成：{problem}“{row.name}”（节点日期 {row.date}）→ {row.state}")
