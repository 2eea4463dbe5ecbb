"""Operating duban: `duban doctor` (the file sweep), backup and restore."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from duban.cli.base import cli, env


@cli.command("doctor", help="检查并清理数据目录：删除崩溃遗留的临时文件和没有任何记录引用的通知书文件"
             "（只删除超过宽限期的文件），并报告删除了什么。佐证资料从不删除。")
@click.option("--grace-hours", type=float, default=1.0, show_default=True,
              help="宽限期（小时）：比这更新的文件可能属于正在进行的下发，保留不动。")
@click.option("--dry-run", is_flag=True, help="只报告将删除的文件，不删除。")
def doctor_cmd(grace_hours: float, dry_run: bool) -> None:
    from duban.services.files import sweep_files

    if grace_hours < 0:
        raise click.BadParameter("宽限期不能为负数", param_hint="--grace-hours")
    e = env()
    with e.unit_of_work() as uow:
        result = sweep_files(uow, e.clock.now(), grace=dt.timedelta(hours=grace_hours),
                             dry_run=dry_run)
    verb = "将删除" if dry_run else "已删除"
    click.echo(f"数据目录：{_data_dir()}")
    click.echo(f"{verb}临时文件 {len(result.removed_temporary)} 个，"
               f"无记录引用的通知书文件 {len(result.removed_orphans)} 个，"
               f"共 {result.freed_bytes / 1024:.1f} KB；"
               f"未满宽限期而保留 {result.kept_young} 个。")
    for path in [*result.removed_temporary, *result.removed_orphans]:
        click.echo(f"  - {path}")


def _data_dir() -> str:
    from duban.services.database import data_dir

    return str(data_dir())


def duban_version() -> str:
    """The installed distribution's version (the checkout's pyproject when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("duban")
    except PackageNotFoundError:
        return "unknown"


@cli.command("backup", help="备份：数据库（SQLite 在线备份，运行中也一致；PostgreSQL 用 pg_dump）"
             "连同数据目录中的通知书、佐证资料、报表，写入一个新目录，并附带校验清单。")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup_cmd(dest: Path) -> None:
    from duban.services.backup import backup
    from duban.services.database import data_dir

    e = env()
    result = backup(e.db_url_or_default(), data_dir(), dest, e.clock.now(), duban_version())
    rows = sum(result.tables.values())
    click.echo(f"已备份到：{result.path}")
    click.echo(f"数据库：{'SQLite' if result.kind == 'sqlite' else 'PostgreSQL'}，"
               f"版本 {result.revision}，{len(result.tables)} 张表共 {rows} 行；"
               f"文件 {result.files} 个，共 {result.bytes / 1024 / 1024:.1f} MB。")


@cli.command("restore", help="从 duban backup 生成的目录恢复数据库和文件。先逐一核对校验值，"
             "备份不完整、被改动或数据库类型不符时拒绝恢复，不做任何改动。")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="目标数据库已有行动数据时仍然覆盖。")
def restore_cmd(src: Path, force: bool) -> None:
    from duban.services.backup import restore
    from duban.services.database import data_dir

    e = env()
    manifest = restore(src, e.db_url_or_default(), data_dir(), force=force)
    rows = sum(manifest["tables"].values())
    click.echo(f"已恢复：{len(manifest['tables'])} 张表共 {rows} 行，"
               f"文件 {len(manifest['files']) - 1} 个（备份于 {manifest['created_at']}）。")
