"""Commands for intake: templates, imports, detection and visit coverage."""

from __future__ import annotations

from pathlib import Path

import click

from duban.adapters.intake import (
    KIND_LABELS,
    ImportRejected,
    export_template,
    format_error_table,
    plan_template_options,
    progress_bar,
    write_error_copy,
)
from duban.cli.base import NamedChoice, cli, env, known_campaign
from duban.cli.output import echo_json, json_option, table
from duban.domain.household import VISIT_MODE_LABELS, VisitMode

KIND_HELP = "、".join(KIND_LABELS.values())


@cli.group("template", help="导入模板（Excel）。")
def template_group() -> None:
    pass


@template_group.command("export", help=f"导出空白模板（{KIND_HELP}），含填写说明与下拉选项。")
@click.argument("kind", type=NamedChoice(KIND_LABELS))
@click.option("--campaign", "campaign_id", type=int,
              help="行动编号：下拉选项和示例取自其方案（只有一项行动时可省略）。")
@click.option("--out", "out", type=click.Path(path_type=Path), help="输出文件（默认：当前目录）。")
def template_export(kind: str, campaign_id: int | None, out: Path | None) -> None:
    from duban.domain.errors import DubanError
    from duban.services.campaigns import list_campaigns, load_plan_of

    e = env()
    options: dict[str, object] = {}
    if campaign_id is None:
        rows = e.db.run(list_campaigns)
        if len(rows) > 1:
            listed = "；".join(f"{r.id} {r.name}" for r in rows)
            raise DubanError(f"有多项行动，模板的下拉选项和示例取自所选行动的方案，请用 --campaign "
                             f"指定行动编号：{listed}")
        if rows:
            campaign_id = rows[0].id
    if campaign_id is not None:
        with e.db.transaction() as session:
            plan = load_plan_of(session, campaign_id)
        options = plan_template_options(plan)
    path = out or Path(f"{KIND_LABELS[kind]}模板.xlsx")
    export_template(kind, path, **options)  # type: ignore[arg-type]
    if campaign_id is None:
        click.echo(f"模板已导出：{path}（尚无行动，下拉列表为空；启动行动后用 --campaign 导出该行动的模板）")
    else:
        click.echo(f"模板已导出：{path}（选项取自行动 {campaign_id}：{plan.name}）")


@cli.command("import", help=f"导入 Excel/CSV 文件（{KIND_HELP}）；任何一行有错则全部不写入。")
@click.argument("kind", type=NamedChoice(KIND_LABELS))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--as", "username", default="county", show_default=True, help="导入人（用户名）。")
@click.option("--errors-to", type=click.Path(path_type=Path),
              help="出错时错误副本的保存位置（默认：原文件旁，文件名加“-错误说明”）。")
def import_cmd(kind: str, file: Path, campaign_id: int, username: str,
               errors_to: Path | None) -> None:
    from duban.services.intake import import_file

    e = env()
    try:
        result = e.db.run(import_file, e.clock, campaign_id, kind, file,  # type: ignore[arg-type]
                             imported_by=username,
                             progress=lambda phase: progress_bar(label=phase))
    except ImportRejected as exc:
        click.echo(format_error_table(exc.report), err=True)
        if exc.report.errors:
            dest = errors_to or file.with_name(f"{file.stem}-错误说明.xlsx")
            write_error_copy(file, exc.report, dest)
            click.echo(f"已生成标注错误的副本：{dest}", err=True)
        click.echo(f"错误：{exc.report.message}；未写入任何数据。", err=True)
        raise SystemExit(1) from None
    label = KIND_LABELS[kind]
    line = f"{label}导入完成：共 {result.rows} 行，新增 {result.created}"
    if result.updated:
        line += f"，更新 {result.updated}"
    if result.unchanged:
        line += f"，已存在未变 {result.unchanged}"
    click.echo(line)
    if result.problems is not None:
        click.echo(f"交办 {result.problems.routed}，待交办 {result.problems.unrouted}")
    for warning in result.warnings:
        click.echo(f"提示：{warning}")


@cli.command("detect", help="按方案的发现规则比对农户信息，生成问题并交办（同户同类未销号问题不重复）。")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--as", "username", default="system", show_default=True, help="执行人（用户名）。")
def detect_cmd(campaign_id: int, username: str) -> None:
    from duban.cli.progress import progress
    from duban.services.intake import detect_problems

    e = env()
    with progress() as shown:
        shown.step("按发现规则比对农户信息")
        result = e.db.run(detect_problems, e.clock, campaign_id, detected_by=username,
                          progress=shown.count("写入问题"))
    click.echo(f"比对完成：新增问题 {result.created}（交办 {result.routed}，待交办 {result.unrouted}），"
               f"重复跳过 {result.skipped_duplicates}")


@cli.command("coverage", help="走访覆盖率：按村、乡镇统计已走访/总户数、走访方式，并列出未走访农户。"
             "没有登记农户的村显示“无农户”，不计入覆盖率。")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--town", help="只看一个乡镇（代码）。")
@click.option("--unvisited", is_flag=True, help="列出未走访农户。")
@json_option
def coverage_cmd(campaign_id: int, town: str | None, unvisited: bool, json_out: bool) -> None:
    from duban.services.scoping import whole_campaign
    from duban.services.views.coverage import NO_HOUSEHOLDS, CoverageLine, coverage

    known_campaign(campaign_id)
    with env().unit_of_work() as uow:  # read only: rolled back
        cov = coverage(uow.session, whole_campaign(), campaign_id, town=town,
                       unvisited=unvisited)
    if json_out:
        echo_json(cov)
        return
    modes = list(VisitMode)

    def rows(lines: list[CoverageLine]) -> list[list[object]]:
        return [[c.name, c.households, c.visited,
                 NO_HOUSEHOLDS if c.rate is None else f"{c.rate:.1%}",
                 *[c.by_mode.get(m.value, 0) for m in modes]] for c in lines]

    headers = ["名称", "总户数", "已走访", "覆盖率", *[VISIT_MODE_LABELS[m] for m in modes]]
    click.echo("按乡镇：")
    click.echo(table(headers, rows(cov.towns)))
    click.echo("\n按村：")
    click.echo(table(headers, rows(cov.villages)))
    click.echo(f"\n未走访农户：{cov.households - cov.visited} 户")
    if cov.unvisited:
        click.echo(table(["乡镇", "村", "户编号", "户主"], cov.unvisited))
