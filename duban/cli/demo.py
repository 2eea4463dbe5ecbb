"""`duban demo`: a whole campaign on a generated township, in simulated time, on SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import click

from duban.cli.base import cli, env
from duban.cli.ledger import print_summary
from duban.cli.output import table


@cli.command("demo", help="演示：生成一个乡镇（或县）的模拟数据，按种子方案在模拟时间里跑完整个行动，"
             "把通知书和报表写到输出目录，并打印汇总。")
@click.option("--size", type=click.Choice(["small", "township", "county"]), default="township",
              show_default=True, help="规模：small 小村组 / township 乡镇（约500户）/ county 全县（约30万户）。")
@click.option("--plan", "plan_name",
              type=click.Choice(["seed-000", "seed-001", "seed-002", "seed-003", "seed-004"]),
              default="seed-002", show_default=True, help="使用哪份种子方案。")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out"), show_default=True, help="通知书、报表等文件的输出目录。")
@click.option("--seed", type=int, default=2022, show_default=True, help="随机种子（结果可复现）。")
@click.option("--fresh/--keep", default=True, show_default=True,
              help="先清空上一次演示的数据（只清空演示数据库，不碰真实数据）。")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="（开发用）只模拟前 N 个工作日就停止；行动不会跑完，汇总是停止时的情况。")
def demo_cmd(size: str, plan_name: str, out_dir: Path, seed: int, fresh: bool,
             days: int | None) -> None:
    from duban.cli.progress import progress
    from duban.simulation import run_demo

    started = time.perf_counter()
    e = env()
    with progress() as shown:
        result = run_demo(e.db_url, size=size, plan_name=plan_name, out_dir=out_dir, seed=seed,
                          fresh=fresh, echo=shown.echo, progress=shown.count, days=days)
    print_summary(result.summary, result.people)
    if result.duties is not None:
        d = result.duties
        click.echo(f"常态化工作：已到期 {d.due} 项，按时完成 {d.done}，逾期完成 {d.late}，"
                   f"逾期未完成 {d.missed}；未到期 {d.open}")
    if result.activity:
        click.echo("\n模拟人员办理：")
        click.echo(table(["办理事项", "次数"], sorted(result.activity.items())))
    if result.deliveries:
        click.echo("\n送达情况：")
        click.echo(table(["事项", "数量"], [[label, n] for label, n in result.deliveries]))
    if result.outcome:
        click.echo("\n督办、抽查与总结：")
        click.echo(table(["事项", "数量", "位置"], [list(r) for r in result.outcome]))
    if result.stages:
        click.echo("\n阶段运行：")
        click.echo(table(["阶段", "日期", "用时（秒）", "说明"],
                         [[s.name, s.day, f"{s.seconds:.1f}", s.note] for s in result.stages]))
    if result.files:
        click.echo("\n输出文件：")
        grouped: dict[str, list[Path]] = {}
        for label, path in result.files:
            grouped.setdefault(label, []).append(path)
        click.echo(table(["类别", "份数", "位置"], [
            [label, len(paths), str(paths[0]) if len(paths) == 1 else f"{paths[0].parent}/"]
            for label, paths in grouped.items()]))
    if result.accounts:
        click.echo("\n演示账号（duban serve 后可登录）：")
        click.echo(table(["角色", "用户名", "密码", "说明"], result.accounts))
    click.echo(f"\n数据库：{result.database}")
    if result.stopped_after is not None:
        click.echo(f"按 --days 在模拟第 {result.stopped_after} 个工作日后停止：行动未跑完，"
                   "以上是停止时的情况。")
    click.echo(f"演示完成，用时 {time.perf_counter() - started:.1f} 秒。")
