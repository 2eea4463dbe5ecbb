"""`duban calendar`: the year's holidays from the State Council's notice, and any year's grid."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from duban.cli.base import cli
from duban.domain.errors import DubanError


@cli.group("calendar", help="工作日历：导入国务院办公厅节假日安排通知，查看某年放假与调休。")
def calendar_group() -> None:
    pass


def _read_text(file: str) -> str:
    raw = sys.stdin.buffer.read() if file == "-" else _read_file(Path(file))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DubanError(f"无法识别 {file} 的文字编码，请另存为 UTF-8 文本")


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DubanError(f"无法读取文件 {path}：{exc.strerror or exc}") from exc


@calendar_group.command(
    "import",
    help="读取《国务院办公厅关于YYYY年部分节假日安排的通知》的正文（文件，或 - 表示标准输入），"
    "核对每个星期几与天数，显示全年月历，确认后写入节假日文件 YYYY.yaml。")
@click.argument("file", metavar="文件|-")
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="写入的目录（默认：DUBAN_CALENDAR_DIR 的第一个目录，否则 calendars/）。")
@click.option("--year", type=int, help="年份（通知正文中没有标题时指定）。")
@click.option("--yes", is_flag=True, help="不询问，直接写入。")
def import_cmd(file: str, folder: Path | None, year: int | None, yes: bool) -> None:
    from duban.domain.holiday_notice import festival_lines, grid_text
    from duban.services.calendars import read_notice, save_notice, save_target

    if file == "-" and not yes:
        raise DubanError("从标准输入读取通知时无法确认，请加 --yes")
    notice = read_notice(_read_text(file), year)
    target = save_target(notice, folder)
    click.echo(notice.source)
    for line in festival_lines(notice):
        click.echo(f"  {line}")
    click.echo(f"共放假 {len(notice.holidays)} 天，调休上班 {len(notice.workdays)} 天。")
    click.echo()
    click.echo(grid_text(notice.year, notice.holidays, notice.workdays))
    click.echo()
    if not target.loaded:
        click.echo(f"注意：目录 {target.path.parent} 不在 DUBAN_CALENDAR_DIR 中，"
                   "写入后 duban 不会读取它。")
    verb = "覆盖" if target.replaces else "写入"
    if not yes and not click.confirm(f"{verb} {target.path}？", default=False):
        click.echo("未写入。")
        return
    path = save_notice(notice, folder)
    click.echo(f"已写入 {path}。{notice.year}年的工作日按此计算。")


@calendar_group.command("show", help="显示某年的月历：放假（休）与调休上班（班）。")
@click.argument("year", type=int, metavar="年份")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出放假与调休上班日期。")
def show_cmd(year: int, as_json: bool) -> None:
    from duban.domain.holiday_notice import grid_text
    from duban.services.calendars import calendar_year

    cy = calendar_year(year)
    if as_json:
        import json

        click.echo(json.dumps({"year": year,
                               "holidays": sorted(d.isoformat() for d in cy.holidays),
                               "workdays": sorted(d.isoformat() for d in cy.workdays),
                               "working_days": cy.working_days}, ensure_ascii=False))
        return
    click.echo(grid_text(year, cy.holidays, cy.workdays))
    click.echo()
    click.echo(f"{year}年：放假 {len(cy.holidays)} 天（含假期中的周末），调休上班 {len(cy.workdays)} 天，"
               f"全年工作日 {cy.working_days} 天。")
