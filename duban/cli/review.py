"""Commands for submission, review and closing, spot checks, evidence and delegation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from duban.cli.base import NamedChoice, cli, env, known_campaign
from duban.cli.ledger import problem_group
from duban.cli.output import echo_json, json_option, table
from duban.domain.clock import CHINA_TZ, local_today
from duban.domain.lifecycle import (
    SPOT_CHECK_RESULT_LABELS,
    STATUS_LABELS,
    Action,
    Payload,
    Status,
)

if TYPE_CHECKING:
    from duban.services.recurrence import ReopenFigure
    from duban.services.reviews import SpotCheckInfo

DATE = click.DateTime(["%Y-%m-%d"])


def _day(value: dt.datetime | None) -> dt.date | None:
    return value.date() if value else None


def _apply(step: str, username: str, problem: str, action: Action, payload: Payload,
           campaign_id: int | None, expect_version: int | None, **more: Any) -> None:
    """Make one move through the one use case and say what it did."""
    from duban.services import moves

    e = env()
    p = e.db.run(moves.apply, e.clock, username, problem, action, payload,
                 campaign_id=campaign_id, expected_version=expect_version, **more).problem
    status = Status(p.status)
    tail = f"，整改时限 {p.deadline}" if p.deadline and status == Status.RECTIFYING else ""
    click.echo(f"已{step}：{p.code} → {STATUS_LABELS[status]}{tail}（版本 {p.version}）")


# ---- problem submit ---------------------------------------------------------------------


@problem_group.command("submit", help="提交整改：上传佐证资料并提交复核（同一事务，失败则不留记录）。")
@click.argument("problem")
@click.option("--as", "username", required=True, help="提交人用户名（谁整改谁签字）。")
@click.option("--note", required=True, help="整改情况说明。")
@click.option("--file", "files", multiple=True, metavar="路径",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="整改后佐证资料（JPEG、PNG、HEIC、PDF、docx、xlsx；可多次）。")
@click.option("--before", "before", multiple=True, metavar="路径",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="整改前照片或资料（可多次）。")
@click.option("--evidence", "hashes", multiple=True, metavar="哈希",
              help="沿用已上传的佐证资料（内容哈希，可多次）。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号（按问题编号查找时）。")
@click.option("--expect-version", type=int, help="期望的版本号；他人已修改时拒绝提交。")
def problem_submit(problem: str, username: str, note: str, files: tuple[Path, ...],
                   before: tuple[Path, ...], hashes: tuple[str, ...], campaign_id: int | None,
                   expect_version: int | None) -> None:
    from duban.services.evidence import UploadedFile

    uploads = [UploadedFile(p.name, p.read_bytes(), "before") for p in before]
    uploads += [UploadedFile(p.name, p.read_bytes(), "after") for p in files]
    _apply("提交整改", username, problem, Action.SUBMIT, Payload(note=note, evidence=hashes),
           campaign_id, expect_version, files=uploads)
    if uploads:
        click.echo(f"佐证资料 {len(uploads)} 个已保存（按内容哈希存放）。")


# ---- review -----------------------------------------------------------------------------


@cli.group("review", help="复核与销号（谁督查谁签字）。")
def review_group() -> None:
    pass


@review_group.command("pass", help="复核通过（复核人不能是整改提交人）。")
@click.argument("problem")
@click.option("--as", "username", required=True, help="复核人用户名（督查组或县级办公室）。")
@click.option("--note", default="", help="复核意见。")
@click.option("--close", "close_after", is_flag=True,
              help="复核通过后随即销号（须县级办公室用户）。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@click.option("--expect-version", type=int, help="期望的版本号。")
def review_pass(problem: str, username: str, note: str, close_after: bool,
                campaign_id: int | None, expect_version: int | None) -> None:
    _apply("复核通过并销号" if close_after else "复核通过", username, problem,
           Action.PASS_REVIEW, Payload(note=note), campaign_id, expect_version,
           then=(Action.CLOSE,) if close_after else ())


@review_group.command("fail", help="复核不通过：退回整改，写明原因并重新限期。")
@click.argument("problem")
@click.option("--as", "username", required=True, help="复核人用户名。")
@click.option("--note", required=True, help="不通过的原因。")
@click.option("--deadline", type=DATE, metavar="日期",
              help="新的整改时限（默认：方案规定的工作日数之后）。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@click.option("--expect-version", type=int, help="期望的版本号。")
def review_fail(problem: str, username: str, note: str, deadline: dt.datetime | None,
                campaign_id: int | None, expect_version: int | None) -> None:
    _apply("退回整改", username, problem, Action.FAIL_REVIEW,
           Payload(note=note, deadline=_day(deadline)), campaign_id, expect_version)


@review_group.command("close", help="销号（须有排查人、整改人、复核人三方签字）。")
@click.argument("problem")
@click.option("--as", "username", required=True, help="销号人用户名（县级办公室）。")
@click.option("--note", default="", help="说明。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@click.option("--expect-version", type=int, help="期望的版本号。")
def review_close(problem: str, username: str, note: str, campaign_id: int | None,
                 expect_version: int | None) -> None:
    _apply("销号", username, problem, Action.CLOSE, Payload(note=note), campaign_id,
           expect_version)


@review_group.command("close-all", help="将一项行动中全部复核通过的问题批量销号。")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--as", "username", required=True, help="销号人用户名（县级办公室）。")
def review_close_all(campaign_id: int, username: str) -> None:
    from duban.services.reviews import close_reviewed

    e = env()
    result = e.db.run(close_reviewed, e.clock, campaign_id, username)
    click.echo(f"已销号 {result.closed} 个问题。")
    if result.refused:
        click.echo(f"未能销号 {len(result.refused)} 个：")
        click.echo(table(["问题编号", "原因"], result.refused))


@review_group.command("reopen-rate", help="销号后重新打开（抽查不合格）的比例，按乡镇和责任办室。")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@json_option
def review_reopen_rate(campaign_id: int, json_out: bool) -> None:
    from duban.services.recurrence import reopen_rate

    figures = env().db.run(reopen_rate, known_campaign(campaign_id))
    if json_out:
        echo_json(figures)
        return

    def rows(items: list[ReopenFigure]) -> list[list[object]]:
        return [[f.name, f.closed, f.reopened, f.reopens, f.recurrences,
                 "" if f.rate is None else f"{f.rate:.1%}"] for f in items]

    headers = ["", "销号", "重新打开", "打开次数", "屡改屡犯", "重开率"]
    click.echo(table(["合计", *headers[1:]], rows([figures.total])[0:1]))
    click.echo("\n按乡镇：")
    click.echo(table(["乡镇", *headers[1:]], rows(figures.by_town)))
    click.echo("\n按牵头办室：")
    click.echo(table(["牵头办室", *headers[1:]], rows(figures.by_office)))


# ---- evidence ---------------------------------------------------------------------------


@cli.group("evidence", help="佐证资料：列出、导出（按内容哈希存放，读取时校验）。")
def evidence_group() -> None:
    pass


@evidence_group.command("list", help="列出一个问题的佐证资料。")
@click.argument("problem")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@json_option
def evidence_list(problem: str, campaign_id: int | None, json_out: bool) -> None:
    from duban.services.evidence import PHASE_LABELS, list_evidence
    from duban.services.views.names import people_labels

    rows = env().db.run(list_evidence, problem, campaign_id=campaign_id)
    if json_out:
        echo_json(rows)
        return
    if not rows:
        click.echo("该问题暂无佐证资料。")
        return
    who = env().db.run(people_labels, [r.uploaded_by for r in rows])
    click.echo(table(["哈希", "文件名", "类型", "大小", "阶段", "上传人", "上传时间"],
                     [[r.sha256[:16], r.filename, r.content_type.rsplit("/", 1)[-1][:20],
                       r.size, PHASE_LABELS.get(r.phase, r.phase), who.get(r.uploaded_by, r.uploaded_by),
                       r.uploaded_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")]
                      for r in rows]))


@evidence_group.command("save", help="把一份佐证资料（校验哈希后）写到指定文件。")
@click.argument("sha256")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def evidence_save(sha256: str, out: Path) -> None:
    from duban.services.evidence import evidence_file

    content = env().db.run(evidence_file, sha256)
    out.write_bytes(content)
    click.echo(f"已写出 {out}（{len(content)} 字节，哈希校验通过）")


# ---- spot checks ------------------------------------------------------------------------


@cli.group("spotcheck", help="随机抽查：各督查组每日按方案配额抽取，结果记录在案。")
def spotcheck_group() -> None:
    pass


def _print_checks(checks: list[SpotCheckInfo], campaign_id: int) -> None:
    from duban.services.views.names import campaign_names, group_names, people_labels

    e = env()
    names = e.db.run(campaign_names, campaign_id)
    groups = e.db.run(group_names, campaign_id)
    people = e.db.run(people_labels, [c.checked_by for c in checks])
    click.echo(table(
        ["编号", "日期", "督查组", "类型", "对象", "乡镇", "村", "结果", "检查人", "说明"],
        [[c.id, c.day, groups.get(c.group, c.group), c.kind_label,
          c.problem_code or c.household_label
          or (names.village(c.item_id) if c.kind == "village" else c.item_id),
          names.town(c.town), names.village(c.village),
          c.result_label, people.get(c.checked_by, c.checked_by) if c.checked_by else "",
          c.note] for c in checks]))


@spotcheck_group.command("draw", help="抽取某日的随机抽查（同一天重复执行得到同一结果）。")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--day", type=DATE, metavar="日期", help="抽查日期（默认今天）。")
@click.option("--seed", type=int, help="随机种子（默认由行动编号和文号导出）；记录在案，可复现。")
@click.option("--as", "username", default="system", show_default=True, help="抽取人用户名。")
def spotcheck_draw(campaign_id: int, day: dt.datetime | None, seed: int | None,
                   username: str) -> None:
    from duban.domain.sampling import SPOT_CHECK_KIND_LABELS, SpotCheckKind
    from duban.services.reviews import draw_daily_spot_checks, list_spot_checks, spot_check_draws

    e = env()
    ids = e.db.run(draw_daily_spot_checks, e.clock, campaign_id, _day(day), seed, drawn_by=username)
    when = _day(day) or local_today(e.clock)
    draw = next(d for d in e.db.run(spot_check_draws, campaign_id) if d.day == when)
    click.echo(f"{when} 随机抽查 {len(ids)} 项（随机种子 {draw.seed}）")
    _print_checks(e.db.run(list_spot_checks, campaign_id, ids=ids), campaign_id)
    missing: dict[str, list[str]] = {}
    for short in draw.data.get("shortfall", []):
        label = SPOT_CHECK_KIND_LABELS[SpotCheckKind(short["kind"])]
        missing.setdefault(short["group"], []).append(f"{label}少 {short['missing']} 项")
    if missing:
        from duban.services.views.names import group_names

        groups = e.db.run(group_names, campaign_id)
    for group, parts in missing.items():
        click.echo(f"注意：{groups.get(group, group)} 可抽对象不足配额：{'、'.join(parts)}")


@spotcheck_group.command("list", help="列出随机抽查及结果。")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--day", type=DATE, metavar="日期", help="抽查日期。")
@click.option("--group", help="督查组代码。")
@click.option("--result", type=NamedChoice(SPOT_CHECK_RESULT_LABELS), help="结果。")
@json_option
def spotcheck_list(campaign_id: int, day: dt.datetime | None, group: str | None,
                   result: str | None, json_out: bool) -> None:
    from duban.services.reviews import list_spot_checks

    checks = env().db.run(list_spot_checks, known_campaign(campaign_id), day=_day(day),
                          group=group, result=result)
    if json_out:
        echo_json(checks)
        return
    if not checks:
        click.echo("没有符合条件的抽查。")
        return
    _print_checks(checks, campaign_id)
    click.echo(f"共 {len(checks)} 项")


@spotcheck_group.command("record", help="记录抽查结果；销号问题不合格即重新打开整改，农户、行政村不合格即登记新问题。")
@click.argument("spot_check_id", type=int, metavar="抽查编号")
@click.option("--as", "username", required=True, help="检查人用户名（督查组或县级办公室）。")
@click.option("--pass/--fail", "passed", required=True, help="合格 / 不合格。")
@click.option("--note", default="", help="检查情况；不合格须写明原因。")
@click.option("--deadline", type=DATE, metavar="日期",
              help="重新整改的时限（默认：方案规定的工作日数之后）。")
@click.option("--category", default=None, metavar="类别",
              help="农户、行政村抽查不合格时登记的问题类别（代码或名称），按路由表交办。")
def spotcheck_record(spot_check_id: int, username: str, passed: bool, note: str,
                     deadline: dt.datetime | None, category: str | None) -> None:
    from duban.services.reviews import record_spot_check

    e = env()
    info = e.db.run(record_spot_check, e.clock, spot_check_id, username, passed, note, _day(deadline),
                             category=category)
    click.echo(f"已记录：抽查 {info.id}（{info.kind_label} {info.problem_code or info.item_id}）"
               f"{info.result_label}")
    if info.problem_status == Status.RECTIFYING.value and not passed:
        click.echo(f"问题 {info.problem_code} 已重新打开，退回整改。")
    if info.raised_problem_code:
        click.echo(f"已登记新问题 {info.raised_problem_code}，按路由表交办。")



@spotcheck_group.command("adhoc", help="不定期抽查：督查组随时抽查本行动任一已销号问题（不占每日抽取）；"
                         "不合格即重新打开整改。")
@click.argument("problem_code", metavar="问题编号")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--as", "username", required=True, help="检查人用户名（督查组或县级办公室）。")
@click.option("--group", default=None, help="督查组代码（默认：检查人即督查组时为其本组）。")
@click.option("--pass/--fail", "passed", required=True, help="合格 / 不合格。")
@click.option("--note", default="", help="检查情况；不合格须写明原因。")
@click.option("--deadline", type=DATE, metavar="日期",
              help="重新整改的时限（默认：方案规定的工作日数之后）。")
def spotcheck_adhoc(problem_code: str, campaign_id: int, username: str, group: str | None,
                    passed: bool, note: str, deadline: dt.datetime | None) -> None:
    from duban.services.reviews import record_adhoc_spot_check

    e = env()
    info = e.db.run(record_adhoc_spot_check, e.clock, campaign_id, problem_code, username, passed,
                    note, group=group, new_deadline=_day(deadline))
    from duban.services.views.names import group_names

    group_name = e.db.run(group_names, campaign_id).get(info.group, info.group)
    click.echo(f"已记录：不定期抽查 {info.id}（{group_name}，销号问题 {info.problem_code}）"
               f"{info.result_label}")
    if not passed:
        click.echo(f"问题 {info.problem_code} 已重新打开，退回整改。")

# ---- office and substitutes -------------------------------------------------------------


@cli.group("office", help="责任办室：机构或人员变动时批量改派。")
def office_group() -> None:
    pass


# The statuses a batch reassignment (office reassign-all) moves by default: not yet submitted.
REASSIGNABLE = (Status.ROUTED, Status.RECTIFYING, Status.DISPUTED)


@office_group.command("reassign-all", help="把一个办室未办结的问题全部改派到另一办室（逐条留痕）。")
@click.argument("from_office", metavar="原办室")
@click.argument("to_office", metavar="新办室")
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--as", "username", required=True, help="办理人用户名（县级办公室）。")
@click.option("--note", required=True, help="改派原因。")
@click.option("--status", "statuses", multiple=True,
              type=NamedChoice({s.value: STATUS_LABELS[s] for s in REASSIGNABLE}),
              help="只改派这些状态（默认：已交办、整改中、申请改派）。")
@click.option("--keep-co-offices", is_flag=True, help="不更换协办单位中的原办室。")
def office_reassign_all(from_office: str, to_office: str, campaign_id: int, username: str,
                        note: str, statuses: tuple[str, ...], keep_co_offices: bool) -> None:
    from duban.services.delegation import reassign_bulk

    e = env()
    result = e.db.run(reassign_bulk, e.clock, campaign_id, from_office, to_office, username, note,
                           statuses=[Status(s) for s in statuses] or None,
                           co_offices=not keep_co_offices)
    click.echo(result.describe())


@cli.group("substitute", help="代理：办室人员外出期间由他人代为办理（留痕）。")
def substitute_group() -> None:
    pass


@substitute_group.command("add", help="设置代理：某用户在期间内代理某办室。")
@click.argument("office", metavar="办室")
@click.argument("username", metavar="代理人")
@click.option("--from", "starts_on", type=DATE, required=True, metavar="日期", help="开始日期。")
@click.option("--to", "ends_on", type=DATE, required=True, metavar="日期", help="结束日期（含）。")
@click.option("--reason", required=True, help="代理原因。")
@click.option("--as", "granted_by", required=True, help="设置人用户名（县级办公室）。")
def substitute_add(office: str, username: str, starts_on: dt.datetime, ends_on: dt.datetime,
                   reason: str, granted_by: str) -> None:
    from duban.services.delegation import set_substitute

    e = env()
    sid = e.db.run(set_substitute, e.clock, office, username, starts_on.date(), ends_on.date(),
                         reason, granted_by)
    from duban.services.views.names import office_labels

    name = e.db.run(office_labels, [office]).get(office, office)
    click.echo(f"已设置代理 {sid}：{username} 于 {starts_on.date()} 至 {ends_on.date()} 代理 {name}")


@substitute_group.command("end", help="结束代理：自今天起不再代理。")
@click.argument("substitute_id", type=int, metavar="代理编号")
@click.option("--as", "username", required=True, help="办理人用户名（县级办公室）。")
@click.option("--note", default="", help="说明。")
def substitute_end(substitute_id: int, username: str, note: str) -> None:
    from duban.services.delegation import end_substitute

    e = env()
    ended = e.db.run(end_substitute, e.clock, substitute_id, username, note)
    if ended.cancelled:
        click.echo(f"代理 {substitute_id} 已取消（尚未生效）")
    else:
        click.echo(f"代理 {substitute_id} 已结束（最后一天：{ended.ends_on}）")


@substitute_group.command("list", help="列出代理安排。")
@click.option("--on", type=DATE, metavar="日期", help="只列该日有效的代理。")
@click.option("--office", help="办室代码。")
@json_option
def substitute_list(on: dt.datetime | None, office: str | None, json_out: bool) -> None:
    from duban.services.delegation import list_substitutes
    from duban.services.views.names import office_labels, people_labels

    e = env()
    rows = e.db.run(list_substitutes, on=_day(on), office=office)
    if json_out:
        echo_json(rows)
        return
    if not rows:
        click.echo("暂无代理安排。")
        return
    offices = e.db.run(office_labels, [r.office_code for r in rows])
    people = e.db.run(people_labels, [r.granted_by for r in rows])
    click.echo(table(["编号", "代理人", "姓名", "办室", "开始", "结束", "原因", "设置人"],
                     [[r.id, r.username, r.name, offices.get(r.office_code, r.office_code),
                       r.starts_on, r.ends_on, r.reason, people.get(r.granted_by, r.granted_by)]
                      for r in rows]))
