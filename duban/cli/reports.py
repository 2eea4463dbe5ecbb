"""Commands for reports: the daily report, the ledger, the monthly ranking and penalties."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from duban.cli.base import NamedChoice, campaign_or_only, cli, env
from duban.cli.output import echo_json, json_option, table
from duban.domain.clock import CHINA_TZ, local_today
from duban.domain.numbering import format_date_cn

DATE = click.DateTime(["%Y-%m-%d"])
DEFAULT_OUT = Path("out") / "reports"


@cli.group("report", help="报表：日报、整改台账、月考评、考核罚款。")
def report_group() -> None:
    pass


def _day(value: dt.datetime | None) -> dt.date:
    return value.date() if value else local_today(env().clock)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


CAMPAIGN = click.option("--campaign", "campaign_id", type=int,
                        help="行动编号（只有一项行动时可省略）。")


@report_group.command("daily", help="生成某日整改进度日报（Word 含趋势图、Excel；可加 PDF）。")
@CAMPAIGN
@click.option("--date", "day", type=DATE, help="报告日期（默认今天）。")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_OUT, show_default=True, help="输出目录。")
@click.option("--pdf", is_flag=True, help="同时生成 PDF（需安装 LibreOffice）。")
def daily_cmd(campaign_id: int | None, day: dt.datetime | None, out_dir: Path,
              pdf: bool) -> None:
    from duban.cli.progress import progress
    from duban.services.reports.daily import daily_figures, write_daily_report

    e = env()
    cid, d = campaign_or_only(campaign_id), _day(day)
    with progress() as shown:
        shown.step("生成日报（Word、Excel" + ("、PDF）" if pdf else "）"))
        paths = e.db.run(write_daily_report, e.clock, cid, d, out_dir, pdf=pdf)
        shown.step("统计各乡镇、各单位进度")
        f = e.db.run(daily_figures, cid, d)
    headers = ["名称", "发现", "已交办", "整改中", "待复核", "已销号", "逾期", "销号率", "较昨日销号"]
    for title, scopes in (("乡镇", f.towns), ("责任单位", f.offices)):
        rows = [[s.name, s.today.found, s.today.routed, s.today.rectifying,
                 s.today.awaiting_review, s.today.closed, s.today.overdue,
                 _pct(s.closure_rate), f"{s.change.closed:+d}"]
                for s in (*scopes, f.total)]
        click.echo(f"【{title}】")
        click.echo(table([title, *headers[1:]], rows))
    source = "前一日日报快照" if f.yesterday_from == "snapshot" else "台账办理记录"
    click.echo(f"较昨日变化依据：{source}")
    for p in paths:
        click.echo(f"已生成：{p}")


@report_group.command("ledger", help="导出完整整改台账（Excel，中文表头，可筛选，首行冻结）。")
@CAMPAIGN
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="输出文件（默认 out/reports/行动名称-整改台账-日期.xlsx）。")
@click.option("--print", "for_print", is_flag=True,
              help="另生成打印版台账（Word，横排A4表格，与 Excel 同名）。")
@click.option("--pdf", is_flag=True, help="打印版同时生成 PDF（需安装 LibreOffice；含 --print）。")
def ledger_cmd(campaign_id: int | None, out_path: Path | None, for_print: bool,
               pdf: bool) -> None:
    from duban.services.reports.ledger import write_ledger, write_ledger_document

    e = env()
    cid = campaign_or_only(campaign_id)
    today = local_today(e.clock)
    if out_path is None:
        from duban.domain.filenames import report_file_stem
        from duban.services.views.common import campaign_row

        name = e.db.run(lambda uow: campaign_row(uow.session, cid).name)
        out_path = DEFAULT_OUT / f"{report_file_stem(name, '整改台账', format_date_cn(today))}.xlsx"
    from duban.cli.progress import progress

    with progress() as shown:
        shown.step("导出整改台账")
        written = [e.db.run(write_ledger, cid, out_path, as_of=today)]
        if for_print or pdf:
            shown.step("生成打印版台账")
            docx = e.db.run(write_ledger_document, cid, out_path.with_suffix(".docx"), today)
            written.append(docx)
            if pdf:
                from duban.adapters.documents import convert_to_pdf

                shown.step("转换 PDF")
                written.append(convert_to_pdf(docx, docx.parent, even_pages=False))
    for path in written:
        click.echo(f"已生成：{path}")


@report_group.command("ranking", help="月考评：按方案规则排名（--freeze 冻结后不再重算）。")
@CAMPAIGN
@click.option("--month", required=True, metavar="年-月", help="考评月份，如 2022-10。")
@click.option("--freeze", is_flag=True, help="冻结该月排名（月末之后；已冻结则显示原结果）。")
@click.option("--as", "username", default="county", show_default=True, help="冻结人（用户名）。")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_OUT, show_default=True, help="输出目录。")
@click.option("--pdf", is_flag=True, help="同时生成 PDF（需安装 LibreOffice）。")
def ranking_cmd(campaign_id: int | None, month: str, freeze: bool, username: str,
                out_dir: Path, pdf: bool) -> None:
    from duban.cli.progress import progress
    from duban.services.scoring.documents import write_ranking
    from duban.services.scoring.monthly import compute_ranking, monthly_snapshot, ranking

    e = env()
    cid = campaign_or_only(campaign_id)
    with progress() as shown:
        shown.step("计算月考评")
        if freeze:
            snap = e.db.run(monthly_snapshot, e.clock, cid, month, frozen_by=username)
        else:
            snap = e.db.run(ranking, cid, month) or e.db.run(compute_ranking, e.clock, cid,
                                                             month)
        shown.step("生成考评文书")
        written = e.db.run(write_ranking, e.clock, cid, month, out_dir)
    for line in snap.ranking.lines():
        click.echo(line)
    if snap.frozen_at is not None:
        frozen_at = snap.frozen_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
        from duban.services.views.names import people_labels

        by = snap.frozen_by or ""
        who = e.db.run(people_labels, [by]).get(by, by)
        click.echo(f"已冻结：{who}，{frozen_at}")
    else:
        click.echo("预览（未冻结）：月末之后用 --freeze 冻结。")
    basis = "督办阶梯记录的罚款" if snap.penalty_basis == "accrued" else "月末台账逾期未改事项"
    click.echo(f"考核罚款依据：{basis}，合计 {sum(x.amount_yuan for x in snap.penalties)} 元")
    for p in written:
        click.echo(f"已生成：{p}")
        if pdf and p.suffix == ".docx":
            from duban.adapters.documents import convert_to_pdf

            click.echo(f"已生成：{convert_to_pdf(p, out_dir)}")


@report_group.command("penalties", help="考核罚款：按方案规则列出逾期未整改事项的罚款。")
@CAMPAIGN
@click.option("--date", "day", type=DATE, help="考核日期（默认今天）。")
@click.option("--by", type=NamedChoice({"town": "乡镇", "office": "责任单位"}), default="office",
              help="按乡镇或责任单位合计（默认：责任单位）。")
@json_option
def penalties_cmd(campaign_id: int | None, day: dt.datetime | None, by: str,
                  json_out: bool) -> None:
    from duban.domain.scoring import penalty_totals
    from duban.services.reports.daily import daily_figures
    from duban.services.scoring.documents import problem_codes
    from duban.services.scoring.penalties import reconcile_penalties

    e = env()
    cid, d = campaign_or_only(campaign_id), _day(day)
    rec = e.db.run(reconcile_penalties, e.clock, cid, d)
    if json_out:
        echo_json({"campaign_id": cid, "day": d, "accrues": rec.accrues,
                   "lines": rec.official,
                   "totals": penalty_totals(rec.official, by=by)})
        return
    f = e.db.run(daily_figures, cid, d)
    names = {s.code: s.name for s in (*f.towns, *f.offices)}
    lines = rec.official
    label = "督办阶梯已记罚款（记后整改不免）" if rec.accrues else "台账逾期未整改事项"
    click.echo(f"{d.isoformat()} 考核罚款（{label}）：")
    codes = e.db.run(problem_codes, sorted({i for x in lines for i in x.problem_ids}))

    def unit(code: str) -> str:
        return names.get(code, code)

    click.echo(table(["规则", "责任单位", "乡镇", "户", "问题编号", "金额（元）"],
                     [[x.rule_name, unit(x.office), unit(x.town),
                       x.unit if x.basis.value == "household" else "",
                       "、".join(codes.get(i, str(i)) for i in x.problem_ids), x.amount_yuan]
                      for x in lines]))
    totals = penalty_totals(lines, by=by)
    click.echo(table(["责任单位" if by == "office" else "乡镇", "合计（元）"],
                     [[names.get(k, k), v] for k, v in sorted(totals.items(),
                                                              key=lambda kv: -kv[1])]))
    click.echo(f"合计：{sum(totals.values())} 元")
    if rec.accrues:
        click.echo(f"对照台账：逾期未整改 {rec.ledger_total} 元；逾期尚未到记罚节点 "
                   f"{len(rec.overdue_not_accrued)} 项；已记罚后整改 "
                   f"{len(rec.accrued_now_rectified)} 项。")
