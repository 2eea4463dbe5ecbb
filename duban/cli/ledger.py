"""Commands for plans, campaigns, problems and the audit trail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from duban.cli.base import NamedChoice, cli, env
from duban.cli.output import as_json, echo_json, json_option, table
from duban.domain.clock import CHINA_TZ, local_today
from duban.domain.lifecycle import (
    ACTION_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    Action,
    Payload,
    Role,
    Status,
)
from duban.domain.numbering import document_label

# How a stage without an end date (适时调整) shows: it runs until the campaign is closed.
OPEN_END = "适时结束"

# ---- plan -------------------------------------------------------------------------------


@cli.group("plan", help="行动方案（YAML）。")
def plan_group() -> None:
    pass


@plan_group.command("check", help="校验方案文件，一次列出全部错误，不写入任何数据。")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def plan_check(file: Path) -> None:
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.domain.plan import STAGE_KIND_LABELS
    from duban.services.plan_warnings import plan_warnings

    plan = load_plan_file(file)
    warnings = plan_warnings(plan)
    tail = f"，有 {len(warnings)} 条提示" if warnings else ""
    click.echo(f"方案有效{tail}：{plan.name}（{document_label(plan.document_number)}）")
    _print_warnings(warnings)
    click.echo(table(["阶段", "名称", "开始", "结束"],
                     [[STAGE_KIND_LABELS[s.kind], s.name, s.start, s.end or OPEN_END]
                      for s in plan.stages]))
    click.echo(f"乡镇 {len(plan.towns)} 个，村 {sum(len(t.villages) for t in plan.towns)} 个，"
               f"责任办室 {len(plan.offices)} 个，路由规则 {len(plan.routing)} 条")
    if plan.household.fields:
        from duban.domain.plan import FIELD_TYPE_LABELS

        fields = "、".join(f"{f.label}（{FIELD_TYPE_LABELS[f.type]}{'，多选' if f.multiple else ''}"
                          f"{'，必填' if f.required else ''}）" for f in plan.household.fields)
        own = [r.name for r in plan.detection.rules if r.when]
        click.echo(f"农户信息另有 {len(plan.household.fields)} 列：{fields}；"
                   f"按条件发现问题的规则 {len(own)} 条" + (f"：{'、'.join(own)}" if own else ""))


def _print_warnings(warnings: list[str]) -> None:
    for n, line in enumerate(warnings, start=1):
        click.echo(f"提示 {n}：{line}")


# ---- campaign ---------------------------------------------------------------------------


@cli.group("campaign", help="专项行动：启动、列表、概况、修订方案、总结关闭、重新开启。")
def campaign_group() -> None:
    pass


@campaign_group.command("launch", help="按方案文件启动一项行动（先校验，全部通过才写入）。")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "actor", default="county", show_default=True, help="启动人（用户名）。")
@click.option("--templates", "templates", type=click.Path(file_okay=False, path_type=Path),
              help="本行动自带的文书模板目录（同名模板替换系统模板）。")
@click.option("--backfill", is_flag=True,
              help="补录：方案各阶段均已结束时仍按当前时间启动（否则拒绝，请改用 --now 模拟时间）。")
def campaign_launch(file: Path, actor: str, templates: Path | None, backfill: bool) -> None:
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.services.campaigns import launch_campaign
    from duban.services.plan_warnings import plan_warnings
    from duban.services.templates import install_templates

    plan = load_plan_file(file)
    e = env()
    campaign_id = e.db.run(launch_campaign, e.clock, plan, file.read_text(encoding="utf-8"), actor,
                                  backfill=backfill)
    _print_warnings(plan_warnings(plan))
    click.echo(f"行动已启动：编号 {campaign_id}，{plan.name}（{document_label(plan.document_number)}）")
    if templates is not None:
        names = install_templates(campaign_id, templates)
        click.echo(f"已安装本行动模板：{'、'.join(names)}")


@campaign_group.command("templates", help="安装（或用 --reset 撤销）一项行动自带的文书模板。")
@click.argument("campaign_id", type=int)
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("--reset", is_flag=True, help="撤销本行动模板，恢复使用系统模板。")
def campaign_templates(campaign_id: int, folder: Path | None, reset: bool) -> None:
    from duban.services.plan_store import plan_version_of
    from duban.services.templates import install_templates, remove_templates

    with env().db.transaction() as session:
        plan_version_of(session, campaign_id)  # the campaign must exist; nothing to decode
    if reset:
        removed = remove_templates(campaign_id)
        click.echo("已恢复使用系统模板。" if removed else "本行动没有自带模板。")
        return
    if folder is None:
        raise click.UsageError("请给出模板目录，或用 --reset 撤销")
    names = install_templates(campaign_id, folder)
    click.echo(f"已安装本行动模板：{'、'.join(names)}")


@campaign_group.command("list", help="列出全部行动。")
@click.option("--json", "json_out", is_flag=True, help="以 JSON 输出（含代码，供脚本使用）。")
def campaign_list(json_out: bool) -> None:
    from duban.services.campaigns import list_campaigns

    e = env()
    rows = e.db.run(list_campaigns, local_today(e.clock))
    if json_out:
        click.echo(as_json(rows))
        return
    if not rows:
        click.echo("暂无行动。用 duban campaign launch 方案.yaml 启动一项。")
        return
    click.echo(table(["编号", "名称", "文号", "开始", "结束", "状态", "问题数"],
                     [[r.id, r.name, document_label(r.document_number), r.start, r.end or OPEN_END,
                       r.status_label, r.problems] for r in rows]))


ALIAS_KINDS = {"category": "问题类别", "source": "问题来源", "town": "乡镇", "village": "村"}


@campaign_group.command("alias", help="为进行中行动的问题类别、来源、乡镇或村添加别名：导入台账和筛选时"
                        "可用这个词（新方案版本，留痕）。")
@click.argument("campaign_id", type=int)
@click.argument("kind", type=NamedChoice(ALIAS_KINDS))
@click.argument("word")
@click.argument("target")
@click.option("--town", help="村所属的乡镇（名称、别名或代码）；给村添加别名时必填。")
@click.option("--as", "username", default="county", show_default=True,
              help="办理人用户名（县级办公室或乡镇）。")
def campaign_alias(campaign_id: int, kind: str, word: str, target: str, town: str | None,
                   username: str) -> None:
    from duban.cli.base import known_campaign
    from duban.services.aliases import AliasMapping, add_aliases
    from duban.services.views.names import campaign_names, resolve_name

    e = env()
    known_campaign(campaign_id)
    town_code = ""
    if kind == "village":
        if not town:
            raise click.UsageError("给村添加别名须用 --town 指明所属乡镇")
        town_code = e.db.run(resolve_name, campaign_id, "town", town, "--town")
    code = e.db.run(resolve_name, campaign_id, kind, target, ALIAS_KINDS[kind],
                    town_code or None)
    version = e.db.run(add_aliases, e.clock, campaign_id,
                       [AliasMapping(kind, word, code, town_code)], username=username)
    n = e.db.run(campaign_names, campaign_id)
    name = {"category": n.category, "source": n.source, "town": n.town}.get(
        kind, lambda c: n.town(town_code) + n.village(c))(code)
    click.echo(f"已添加别名：“{word}”→{ALIAS_KINDS[kind]}“{name}”（方案版本 {version}）")


@campaign_group.command("close", help="总结关闭一项行动：先生成最终月考评和总结报告，此后不再催办、抽查、发文。")
@click.argument("campaign_id", type=int)
@click.option("--as", "username", default="county", show_default=True,
              help="办理人用户名（县级办公室）。")
@click.option("--note", default="", help="说明（写入总结报告和记录）。")
def campaign_close(campaign_id: int, username: str, note: str) -> None:
    from duban.services.closing import close_campaign

    e = env()
    result = e.db.run(close_campaign, e.clock, campaign_id, username, note)
    months = "、".join(f"{m.year}年{m.month}月" for m in result.ranked_months) or "无（已冻结）"
    click.echo(f"行动 {campaign_id} 已总结关闭（{result.closed_on}）。最终月考评：{months}；"
               f"未办结问题 {result.open_problems} 个。")
    for path in result.report:
        click.echo(f"总结报告：{path}")


@campaign_group.command("reopen", help="重新开启已总结的行动（须写明原因，留痕）；重新开启后仅能用 close 再次关闭。")
@click.argument("campaign_id", type=int)
@click.option("--reason", required=True, help="重新开启的原因。")
@click.option("--as", "username", default="county", show_default=True,
              help="办理人用户名（县级办公室）。")
def campaign_reopen(campaign_id: int, reason: str, username: str) -> None:
    from duban.services.closing import reopen_campaign

    e = env()
    e.db.run(reopen_campaign, e.clock, campaign_id, username, reason)
    click.echo(f"行动 {campaign_id} 已重新开启：{reason}")


@campaign_group.command("amend", help="修订进行中行动的方案：先预览对未办结问题的影响；加 --apply 才生效。")
@click.argument("campaign_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--apply", "apply_", is_flag=True, help="确认修订：写入新版方案并改派、调整时限。")
@click.option("--as", "username", help="办理人用户名（县级办公室；--apply 时必填）。")
@click.option("--note", default="", help="修订原因（--apply 时必填，留痕）。")
@click.option("--expect-version", "expect_version", type=int,
              help="预览时的方案版本号（--apply 时必填；期间方案被他人修订则拒绝）。")
def campaign_amend(campaign_id: int, file: Path, apply_: bool, username: str | None, note: str,
                   expect_version: int | None) -> None:
    from duban.adapters.plan.yaml_file import load_plan_file
    from duban.services.amendments import AmendmentRefused, apply_amendment, preview_amendment
    from duban.services.plan_warnings import plan_warnings

    plan = load_plan_file(file)
    _print_warnings(plan_warnings(plan))
    e = env()
    if not apply_:
        with e.unit_of_work() as uow:
            preview = preview_amendment(uow, e.clock, campaign_id, plan)
        if preview.diff.refusals:
            raise AmendmentRefused(preview.diff.refusals)
        click.echo(f"行动 {campaign_id}（{preview.campaign_name}）现行方案第 {preview.version} 版，"
                   f"修订后为第 {preview.version + 1} 版。预览如下：")
        _print_amendment(preview.diff)
        click.echo("以上为预览，未写入任何数据。确认后执行：\n"
                   f"  duban campaign amend {campaign_id} {file} --apply --as 用户名 "
                   f"--note 修订原因 --expect-version {preview.version}")
        return
    missing = [name for name, value in (("--as", username), ("--note", note.strip()),
                                        ("--expect-version", expect_version)) if not value]
    if missing:
        raise click.UsageError(f"--apply 须同时给出 {'、'.join(missing)}")
    assert username is not None and expect_version is not None
    with e.unit_of_work() as uow:
        result = apply_amendment(uow, e.clock, campaign_id, plan,
                                 file.read_text(encoding="utf-8"), username=username,
                                 note=note, expect_version=expect_version)
        uow.commit()
    _print_amendment(result.diff)
    click.echo(f"方案已修订：行动 {campaign_id} 第 {result.version} 版方案生效，"
               f"改派 {len(result.diff.reroutes)} 个问题，交办 {len(result.diff.routed)} 个，调整整改时限 "
               f"{len(result.diff.deadline_moves)} 个，调整协办单位 "
               f"{len(result.diff.co_office_changes)} 个。")


def _print_amendment(diff: Any) -> None:
    """Print an AmendmentDiff: counts first, then each change."""
    click.echo(f"未办结问题 {diff.open_problems} 个：改派 {len(diff.reroutes)} 个，"
               f"整改时限调整 {len(diff.deadline_moves)} 个，协办单位调整 "
               f"{len(diff.co_office_changes)} 个，保持不变但需留意 {len(diff.kept)} 个。")
    if diff.reroutes:
        click.echo(table(["问题编号", "原牵头办室", "新牵头办室"],
                         [[r.code, r.from_name, r.to_name] for r in diff.reroutes]))
    if diff.routed:
        click.echo(f"待交办问题按新路由交办 {len(diff.routed)} 个：")
        click.echo(table(["问题编号", "牵头办室"], [[r.code, r.to_name] for r in diff.routed]))
    if diff.co_office_changes:
        click.echo(f"协办单位调整 {len(diff.co_office_changes)} 个问题（牵头办室不变）：")
        for tally in diff.co_office_tallies():
            click.echo(f"  {tally.text}")
    if diff.deadline_moves:
        click.echo(table(["问题编号", "原整改时限", "新整改时限", "依据"],
                         [[m.code, m.from_date or "", m.to_date, m.basis]
                          for m in diff.deadline_moves]))
    for k in diff.kept:
        click.echo(f"不变：{k.code} {k.reason}")
    for line in diff.changes:
        click.echo(f"变化：{line}")
    for label, names in (("新增办室", diff.offices_added), ("方案不再列出的办室", diff.offices_removed),
                         ("新增乡镇", diff.towns_added), ("新增村", diff.villages_added)):
        if names:
            click.echo(f"{label}：{'、'.join(names)}")


@campaign_group.command("show", help="显示一项行动的阶段与台账概况。")
@click.argument("campaign_id", type=int)
@json_option
def campaign_show(campaign_id: int, json_out: bool) -> None:
    from duban.services.campaigns import summarise_campaign
    from duban.services.closing import campaign_events
    from duban.services.views.names import people_labels

    e = env()
    summary = e.db.run(summarise_campaign, campaign_id, local_today(e.clock))
    events = e.db.run(campaign_events, campaign_id)
    if json_out:
        echo_json({**{f: getattr(summary, f) for f in summary.__dataclass_fields__},
                   "events": events})
        return
    people = e.db.run(people_labels, [summary.closed_by, *(x.actor for x in events)])
    print_summary(summary, people)
    if events:
        click.echo(table(["时间", "事项", "办理人", "说明"],
                         [[x.at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"), x.label,
                           people.get(x.actor, x.actor), x.note] for x in events]))


def print_summary(s: Any, people: dict[str, str] | None = None) -> None:
    """Print a CampaignSummary; `people` names the signers (username → 姓名（单位）)."""
    click.echo(f"【{s.name}】 {document_label(s.document_number)}  发文机关：{s.issuer}")
    closed = ""
    if s.closed_at is not None:
        # The tick closes a campaign by its end date as the system user.
        who = ("系统按方案结束日期" if s.closed_by == "system"
               else (people or {}).get(s.closed_by, s.closed_by))
        closed = f"（{s.closed_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} 由{who}总结关闭）"
    click.echo(f"状态：{s.status_label}{closed}")
    click.echo(table(["阶段", "名称", "开始", "结束", "当前"],
                     [[st.kind, st.name, st.start, st.end or OPEN_END, "●" if st.current else ""]
                      for st in s.stages]))
    click.echo(f"乡镇 {s.towns}  村 {s.villages}  责任办室 {s.offices}  农户 {s.households}")
    rows = [[k, v] for k, v in s.problems_by_status.items()]
    rows.append(["合计", sum(s.problems_by_status.values())])
    click.echo(table(["问题状态", "数量"], rows))
    click.echo(f"逾期未改：{s.overdue}  待交办：{s.unrouted}")


# ---- problem ----------------------------------------------------------------------------


@cli.group("problem", help="问题台账：查询、详情、办理。")
def problem_group() -> None:
    pass


STATUS_CHOICES = NamedChoice({s.value: STATUS_LABELS[s] for s in Status})
ACTION_CHOICES = NamedChoice({a.value: ACTION_LABELS[a] for a in Action})


@problem_group.command("list", help="按条件列出问题。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@click.option("--town", help="乡镇（名称，如 沧沟乡 或 沧沟）。")
@click.option("--village", help="村（名称或别名，如 王湾村 或 王湾；可与 --town 同用）。")
@click.option("--office", help="责任办室（名称或简称，如 乡建环办；牵头或协办）。")
@click.option("--status", type=STATUS_CHOICES, help="状态。")
@click.option("--overdue", is_flag=True, help="只列逾期未改的问题。")
@click.option("--unrouted", is_flag=True, help="只列待交办（未匹配路由）的问题及原因。")
@click.option("--search", help="按描述、编号、户编号搜索。")
@click.option("--limit", type=int, default=50, show_default=True, help="最多列出条数。")
@click.option("--as", "username",
              help="按该用户的范围列出（乡镇、村、办室账号只见本范围的问题；默认县级全部）。")
@click.option("--json", "json_out", is_flag=True, help="以 JSON 输出（含代码，供脚本使用）。")
def problem_list(campaign_id: int | None, town: str | None, village: str | None,
                 office: str | None,
                 status: str | None, overdue: bool, unrouted: bool, search: str | None,
                 limit: int, username: str | None, json_out: bool) -> None:
    from duban.services.listing import ProblemFilter, list_problems
    from duban.services.views.names import require_campaign, resolve_name

    e = env()
    if campaign_id is not None:
        e.db.run(require_campaign, campaign_id)  # 行动不存在 for an unknown number
    if town is not None:
        town = e.db.run(resolve_name, campaign_id, "town", town, "--town")
    if village is not None:
        village = e.db.run(resolve_name, campaign_id, "village", village, "--village", town)
    if office is not None:
        office = e.db.run(resolve_name, campaign_id, "office", office, "--office")
    f = ProblemFilter(campaign_id=campaign_id, town=town, village=village, office=office,
                      status=Status(status) if status else None,
                      overdue_on=local_today(e.clock) if overdue else None,
                      unrouted=unrouted, search=search, limit=limit)
    scope = None
    if username is not None:
        from duban.services.scoping import scope_for

        scope = e.db.run(lambda uow: scope_for(uow.session, username, local_today(e.clock)))
    total, rows = e.db.run(list_problems, f, scope)
    if json_out:
        click.echo(as_json({"total": total, "items": rows}))
        return
    names = {}
    if rows:  # naming categories and sources decodes the plan; an empty listing needs neither
        from duban.services.views.names import campaign_names

        names = {cid: e.db.run(campaign_names, cid) for cid in {p.campaign_id for p in rows}}
    if unrouted:
        click.echo(table(["编号", "类别", "来源", "乡镇", "描述", "待交办原因"],
                         [[p.code, (n := names[p.campaign_id]).category(p.category),
                           n.source(p.source), n.town(p.town_code), _short(p.description),
                           p.unrouted_reason] for p in rows]))
    else:
        click.echo(table(["编号", "状态", "类别", "乡镇", "村", "牵头办室", "时限", "描述"],
                         [[p.code, STATUS_LABELS[Status(p.status)],
                           (n := names[p.campaign_id]).category(p.category), n.town(p.town_code),
                           n.village(p.village_code), n.office(p.lead_office),
                           p.deadline or "", _short(p.description)] for p in rows]))
    click.echo(f"共 {total} 条，显示 {len(rows)} 条")


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@problem_group.command("show", help="显示一个问题的详情。")
@click.argument("problem")
@click.option("--campaign", "campaign_id", type=int, help="行动编号（按问题编号查找时）。")
@click.option("--json", "json_out", is_flag=True, help="以 JSON 输出（含代码，供脚本使用）。")
def problem_show(problem: str, campaign_id: int | None, json_out: bool) -> None:
    from duban.services.problems import audit_trail, co_offices_of
    from duban.services.views.names import campaign_names, people_labels

    e = env()
    p, events = e.db.run(audit_trail, problem, campaign_id)
    co = e.db.run(co_offices_of, p.id)
    n = e.db.run(campaign_names, p.campaign_id)
    who = e.db.run(people_labels, [p.rectified_by, p.review_passed_by])
    if json_out:
        click.echo(as_json({
            "code": p.code, "campaign_id": p.campaign_id, "status": p.status,
            "source": p.source, "category": p.category, "town": p.town_code,
            "village": p.village_code, "household_id": p.household_id,
            "description": p.description, "found_by": p.found_by, "found_on": p.found_on,
            "lead_office": p.lead_office, "co_offices": list(co), "deadline": p.deadline,
            "deadline_basis": p.deadline_basis, "unrouted_reason": p.unrouted_reason,
            "rectified_by": p.rectified_by, "review_passed_by": p.review_passed_by,
            "version": p.version, "events": len(events)}))
        return
    fields = [
        ("问题编号", p.code), ("状态", STATUS_LABELS[Status(p.status)]),
        ("来源", n.source(p.source)), ("类别", n.category(p.category)),
        ("乡镇", n.town(p.town_code)), ("村", n.village(p.village_code)),
        ("户编号", p.household_id or ""), ("描述", p.description),
        ("排查人", f"{p.found_by}（{p.found_on}）"),
        ("牵头办室", n.office(p.lead_office) if p.lead_office else "未交办"),
        ("协办单位", "、".join(n.office(c) for c in co)), ("整改时限", p.deadline or ""),
        ("时限依据", p.deadline_basis or ""), ("待交办原因", p.unrouted_reason or ""),
        ("整改人", who.get(p.rectified_by or "", "")),
        ("复核人", who.get(p.review_passed_by or "", "")),
        ("版本", p.version), ("办理记录", f"{len(events)} 条（duban audit show {p.code}）"),
    ]
    if p.household_id:
        from duban.services.views.detail import household_line

        h = e.db.run(household_line, p.campaign_id, p.household_id)
        if h is not None:
            # The household's head and class, then the facts its plan defines, by their labels.
            at = next(i for i, (k, _) in enumerate(fields) if k == "户编号") + 1
            fields[at:at] = [("户主", f"{h.head}（{h.members} 人，{h.category_label}）"),
                             *h.facts]
    click.echo(table(["项目", "内容"], [[k, v] for k, v in fields if v != ""]))


@problem_group.command("move", help="以指定用户身份办理一步（交办、签收、提交、复核、销号等）。"
                       f"\n\n办理动作：{'、'.join(ACTION_CHOICES.names.values())}"
                       "（也可用英文代码，如 route）。")
@click.argument("problem")
@click.argument("action", type=ACTION_CHOICES, metavar="办理动作")
@click.option("--as", "username", required=True, help="办理人用户名（谁办理谁签字）。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@click.option("--note", default="", help="说明。")
@click.option("--office", help="交办或改派到的责任办室代码。")
@click.option("--deadline", type=click.DateTime(["%Y-%m-%d"]), help="新的整改时限。")
@click.option("--evidence", multiple=True, help="佐证资料的内容哈希（可多次）。")
@click.option("--expect-version", type=int, help="期望的版本号；他人已修改时拒绝办理。")
def problem_move(problem: str, action: str, username: str, campaign_id: int | None, note: str,
                 office: str | None, deadline: dt.datetime | None, evidence: tuple[str, ...],
                 expect_version: int | None) -> None:
    from duban.services import moves

    e = env()
    payload = Payload(note=note, office=office, deadline=deadline.date() if deadline else None,
                      evidence=evidence)
    p = e.db.run(moves.apply, e.clock, username, problem, Action(action), payload,
                    campaign_id=campaign_id, expected_version=expect_version).problem
    click.echo(f"已办理：{p.code} {ACTION_LABELS[Action(action)]} → "
               f"{STATUS_LABELS[Status(p.status)]}（版本 {p.version}）")


@problem_group.command("moves", help="列出某用户此刻可对一个问题办理的步骤（与网页、接口一致）。")
@click.argument("problem")
@click.option("--as", "username", required=True, help="用户名。")
@click.option("--campaign", "campaign_id", type=int, help="行动编号（按问题编号查找时）。")
@json_option
def problem_moves(problem: str, username: str, campaign_id: int | None, json_out: bool) -> None:
    from duban.services import moves

    e = env()
    offer = e.db.run(moves.offer, e.clock, username, problem, campaign_id)
    p = offer.problem
    if json_out:
        echo_json({"code": p.code, "campaign_id": p.campaign_id, "status": p.status,
                   "version": p.version, "actor": username,
                   "actions": [{"action": a.value,
                                "default_deadline": offer.deadlines.get(a)}
                               for a in offer.actions]})
        return
    head = f"问题 {p.code}（{STATUS_LABELS[Status(p.status)]}），{offer.actor.label}"
    if not offer.actions:
        click.echo(f"{head}此刻没有可办理的步骤。")
        return
    click.echo(f"{head}可办理：")
    click.echo(table(["步骤", "代码", "不填时限时"], [
        [ACTION_LABELS[a], a.value,
         f"时限为 {offer.deadlines[a].isoformat()}" if a in offer.deadlines else ""]
        for a in offer.actions]))


# ---- audit ------------------------------------------------------------------------------


@cli.group("audit", help="办理记录（只增不改）。")
def audit_group() -> None:
    pass


@audit_group.command("show", help="显示一个问题的全部办理记录。")
@click.argument("problem")
@click.option("--campaign", "campaign_id", type=int, help="行动编号。")
@json_option
def audit_show(problem: str, campaign_id: int | None, json_out: bool) -> None:
    from duban.services.problems import audit_trail

    p, events = env().db.run(audit_trail, problem, campaign_id)
    if json_out:
        echo_json({"code": p.code, "campaign_id": p.campaign_id, "events": [
            {"id": ev.id, "at": ev.at, "actor": ev.actor, "actor_role": ev.actor_role,
             "actor_name": ev.actor_name, "action": ev.action, "from_status": ev.from_status,
             "to_status": ev.to_status, "note": ev.note, "evidence": ev.evidence,
             "data": ev.data} for ev in events]})
        return
    click.echo(f"问题 {p.code}：{_short(p.description, 40)}")

    def label(action: str) -> str:
        extra = {"record": "登记", "unrouted": "未匹配路由", "amend_plan": "方案修订",
                "amend_co_offices": "方案修订", "start_deadline": "时限起算",
                "upload_evidence": "上传佐证资料"}
        return ACTION_LABELS[Action(action)] if action in Action._value2member_map_ else extra.get(
            action, action)

    def status(value: str | None) -> str:
        return STATUS_LABELS[Status(value)] if value else ""

    from duban.services.views.names import people_labels

    # Who acted, by name: an event without a stored name shows the account's 姓名（单位）.
    who = env().db.run(people_labels, [ev.actor for ev in events if not ev.actor_name])
    click.echo(table(
        ["时间", "办理人", "角色", "步骤", "原状态", "新状态", "说明", "佐证"],
        [[ev.at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"),
          ev.actor_name or who.get(ev.actor, ev.actor),
          ROLE_LABELS.get(Role(ev.actor_role), ev.actor_role), label(ev.action),
          status(ev.from_status), status(ev.to_status), ev.note, len(ev.evidence) or ""]
         for ev in events],
    ))


