"""Commands that run duban over time: serve, tick, the outbox and notices (督办通知书)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from duban.cli.base import cli, env, known_campaign
from duban.cli.output import echo_json, json_option, table
from duban.domain.clock import CHINA_TZ

if TYPE_CHECKING:
    from duban.cli.base import Env
    from duban.services.database import UnitOfWork
    from duban.services.notices.reading import NoticeRow
    from tasks.scheduler import LeaderScheduler

# ---- serve / tick ---------------------------------------------------------------------------


@cli.command("serve", help="启动常驻服务：调度器（定时推进行动、扫描时限、发送提醒、写日报）和网页。"
             "同一数据库可并行启动多个，只有一个负责调度。")
@click.option("--port", type=int, default=8000, show_default=True, help="网页端口。")
@click.option("--host", default="127.0.0.1", show_default=True, help="网页监听地址。")
@click.option("--tick-seconds", type=float, default=300.0, show_default=True,
              help="调度间隔（秒）。")
@click.option("--no-web", is_flag=True, help="只运行调度器，不启动网页。")
@click.option("--no-scheduler", is_flag=True,
              help="只运行网页，不调度（扩展模式下由 Prefect 部署负责调度）。")
@click.option("--prefect-port", type=int, default=None, envvar="DUBAN_PREFECT_PORT",
              help="本进程启动的 Prefect 服务的端口（也可用环境变量 DUBAN_PREFECT_PORT；"
              "默认由系统分配一个空闲端口）。")
@click.option("--web-workers", type=int, default=None, envvar="DUBAN_WEB_WORKERS",
              callback=lambda _ctx, _param, value: _positive(value, "--web-workers"),
              help="网页进程数（也可用环境变量 DUBAN_WEB_WORKERS）。默认：PostgreSQL 上为本机可用 CPU 数，"
              "最多 4 个（每个进程有自己的数据库连接池，4 个在 PostgreSQL 默认的 100 个连接以内）；"
              "SQLite 上为 1（网页在本进程内运行：SQLite 是单机小规模部署，写入无论来自哪个进程都要排队"
              "等同一把文件锁，多一个进程只多占内存）。大于 1 时各网页进程共用同一端口，调度器仍只在本进程运行一份；"
              "本进程被强制结束时网页进程随之退出，某个网页进程意外退出时报告并重新启动。")
@click.option("--access-log", is_flag=True, envvar="DUBAN_ACCESS_LOG",
              help="记录网页访问日志（每个请求一行，格式随 --log-format）。")
@click.option("--job", default=None, hidden=True, help="调度的任务（模块:函数），测试用。")
@click.option("--lease-seconds", type=int, default=None, hidden=True, help="调度租约时长（秒）。")
@click.option("--renew-seconds", type=float, default=None, hidden=True, help="租约续期间隔（秒）。")
def serve_cmd(port: int, host: str, tick_seconds: float, no_web: bool, no_scheduler: bool,
              prefect_port: int | None, web_workers: int | None, access_log: bool,
              job: str | None, lease_seconds: int | None, renew_seconds: float | None) -> None:
    from tasks.scheduler import (
        DEFAULT_TICK_JOB,
        LEASE_SECONDS,
        RENEW_SECONDS,
        LeaderScheduler,
    )

    e = env()
    db = e.db  # migrated on first use; the root is installed for the scheduled tasks

    def changed(leading: bool) -> None:
        click.echo("本进程负责调度。" if leading else "本进程不再负责调度。", err=True)

    if no_web and no_scheduler:
        raise click.UsageError("--no-web 与 --no-scheduler 不能同时使用：那样什么也不运行")
    runner = None if no_scheduler else LeaderScheduler(db, e.clock, tick_seconds=tick_seconds,
                             job_ref=job or DEFAULT_TICK_JOB, on_change=changed,
                             lease_seconds=lease_seconds or LEASE_SECONDS,
                             renew_seconds=renew_seconds or RENEW_SECONDS)
    from duban.web.heap import settle_heap
    from flows.common import owned_prefect_server

    # SIGTERM (systemd, docker stop) and SIGINT (Ctrl-C) end the service through the finally
    # blocks, at any moment, even while the Prefect server is starting: the scheduler stops,
    # the lease is given up (a follower leads at once), the Prefect server is stopped.
    try:
        with contextlib.ExitStack() as stack:
            if runner is not None and job is None:
                # What the ticks import when they first need it, imported once here (~0.1–0.3 s
                # of CPU, in this thread: no import races another's): a tick — a stage's first
                # day above all — does not pay it.
                warm_imports()
                # The scheduler's ticks run flows on one server, started and watched here,
                # owned by this process (it dies with it, even under SIGKILL), published in
                # the data directory while it answers for ticks run by hand or by cron.
                stack.enter_context(owned_prefect_server(prefect_port, publish=True))
                # What start-up made (the imports above, the engine, the scheduler) frozen out
                # of the collector's reach, as in the web workers: a full collection walked
                # it all (~0.1 s a time) once or twice in each tick with a county's stage due.
                settle_heap()
                # A hand-run `duban tick` hands its tick to this process while it leads: run
                # warm, under the lock of the scheduled ticks (never two ticks at once).
                stack.enter_context(_tick_desk(e, runner))
            _serve(runner, e, host, port, no_web, access_log, web_workers)
    except KeyboardInterrupt:
        raise SystemExit(128 + signal.SIGINT) from None
    finally:
        click.echo("已停止。", err=True)


def _positive(value: int | None, name: str) -> int | None:
    if value is not None and value < 1:
        raise click.BadParameter(f"应为正整数：{value}", param_hint=name)
    return value


# Imported ahead by serve (warm_imports): every module of these packages, and the modules their
# functions import when first called. The stage's services are otherwise first imported on the
# stage's first day, inside its tick (0.1–0.25 s of CPU on this machine).
WARM_PACKAGES = ("duban.services", "tasks", "flows")
WARM_MODULES = ("duban.adapters.documents.render", "duban.adapters.pacing",
                "sqlalchemy.dialects.postgresql", "sqlalchemy.dialects.sqlite")
# Not for this process: the Prefect server's application (its own child process imports it).
WARM_SKIP = ("flows.prefect_app",)


def warm_imports() -> None:
    """Import what serve's ticks import lazily (a module that fails is left to its tick)."""
    import importlib
    import logging
    import pkgutil

    names = list(WARM_MODULES)
    for package in WARM_PACKAGES:
        try:
            path = importlib.import_module(package).__path__
        except Exception:  # the tick that needs it reports it
            logging.getLogger(__name__).warning("could not import %s ahead", package,
                                                exc_info=True)
            continue
        names += [m.name for m in pkgutil.walk_packages(path, f"{package}.")
                  if m.name not in WARM_SKIP]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # the tick that needs it reports it
            logging.getLogger(__name__).warning("could not import %s ahead", name,
                                                exc_info=True)


@contextlib.contextmanager
def _tick_desk(e: Env, runner: LeaderScheduler) -> Iterator[None]:
    """Answer hand-run ticks for this data directory while this process leads the scheduler."""
    from duban.adapters.tick_desk import TICK_DESK, TickDesk, database_key
    from duban.services.database import private_data_dir
    from flows.tick import run_tick

    desk = TickDesk(private_data_dir() / TICK_DESK, database_key(e.db_url_or_default()),
                    run_tick, accepting=lambda: runner.leading)
    desk.start()
    try:
        yield
    finally:
        desk.stop()


TRUSTED_PROXIES_VAR = "DUBAN_TRUSTED_PROXIES"


def proxy_options(trusted: str) -> dict[str, object]:
    """uvicorn's options for forwarded headers (X-Forwarded-For, -Proto).

    The client's address (sign-in lock-out, the login record) is the socket's peer unless the
    operator names the reverse proxies in front of duban: a comma-separated list of addresses
    or networks in DUBAN_TRUSTED_PROXIES. Unset or empty, no forwarded header is believed,
    whoever sends it (uvicorn alone would believe them from 127.0.0.1).
    """
    names = ",".join(part.strip() for part in trusted.split(",") if part.strip())
    if not names:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": names}


def _serve(runner: LeaderScheduler | None, e: Env, host: str, port: int, no_web: bool,
           access_log: bool = False, web_workers: int | None = None) -> None:
    from duban.cli.web_workers import default_web_workers, run_web_workers

    workers = 1 if no_web else web_workers or default_web_workers(e.db_url_or_default())
    if runner is not None:
        runner.start()
    if runner is not None and not runner.leading:
        click.echo("另一进程正在负责调度，本进程待命。", err=True)
    try:
        if workers > 1:
            # The web in child processes; the scheduler (and the tick desk) stay here, once.
            run_web_workers(workers, host, port, _worker_env(e), access_log)
        elif not no_web:
            import uvicorn

            from duban.web.app import create_app

            app = create_app(e.root)
            click.echo(f"网页：http://{host}:{port}/", err=True)
            proxies = proxy_options(os.environ.get(TRUSTED_PROXIES_VAR, ""))
            # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again:
            # the entry point's handler turns it into SystemExit and the finally blocks run.
            # uvicorn's records go through duban's handler (--log-format); its access log
            # (one line per request) only with --access-log.
            uvicorn.run(app, host=host, port=port, log_config=None,
                        log_level="info" if access_log else "warning",
                        access_log=access_log,
                        proxy_headers=bool(proxies["proxy_headers"]),
                        forwarded_allow_ips=str(proxies["forwarded_allow_ips"]))
        else:
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()
    finally:
        if runner is not None:
            runner.stop()


def _worker_env(e: Env) -> dict[str, str]:
    """The environment a web worker builds the app from: this command's database, clock and
    logging (the root options), on top of serve's own environment."""
    from duban.domain.clock import FixedClock

    root = click.get_current_context().find_root().params
    child = {**os.environ, "DUBAN_DATABASE_URL": e.db_url_or_default(),
             "DUBAN_LOG_LEVEL": str(root.get("log_level") or "WARNING"),
             "DUBAN_LOG_FORMAT": str(root.get("log_format") or "text")}
    child.pop("DUBAN_NOW", None)
    if isinstance(e.clock, FixedClock):
        child["DUBAN_NOW"] = e.clock.now().isoformat()
    return child


@cli.command("tick", help="立即运行一次调度（推进行动阶段、扫描时限、发送提醒、写日报），供 cron 与测试使用。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果。")
def tick_cmd(as_json: bool) -> None:
    from duban.domain.clock import FixedClock

    e = env()
    now = e.clock.now().isoformat() if isinstance(e.clock, FixedClock) else None
    summary = _handed_tick(e, now)
    if summary is None:
        summary = _local_tick(e, now)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    rows = []
    for cid, entry in summary["campaigns"].items():
        sweep = entry.get("sweep") or {}
        rows.append([cid, "、".join(_stage_label(s["kind"]) for s in entry.get("stages", []))
                     or "—",
                     sweep.get("fired", 0), sweep.get("digests", 0),
                     "、".join(sweep.get("documents", [])) or "—",
                     entry.get("daily_report") or "—"])
    if rows:
        click.echo(table(["行动", "启动阶段", "触发提醒", "汇总消息", "催办/通报文号", "日报"], rows))
    else:
        click.echo("没有进行中的行动。")
    d = summary["delivery"]
    click.echo(f"发送：成功 {d['sent']}，待重试 {d['retrying']}，失败 {d['failed']}"
               + _mail_off(int(d.get("off", 0))))
    for run in summary.get("reaped", []):
        click.echo(f"接续中断的阶段：行动 {run['campaign_id']} 第 {run['seq']} 阶段"
                   f"（{_stage_label(run['kind'])}，第 {run['attempt']} 次运行中断）")
    files = summary.get("files") or {}
    if files.get("removed_temporary") or files.get("removed_orphans"):
        click.echo(f"清理崩溃遗留文件：临时文件 {len(files['removed_temporary'])} 个，"
                   f"无记录引用的通知书文件 {len(files['removed_orphans'])} 个")


def _handed_tick(e: Env, now: str | None) -> dict[str, Any] | None:
    """The tick run by `duban serve` for this data directory and database, if one answers
    (duban.adapters.tick_desk); None when there is none or it went away: run it here."""
    from duban.adapters.tick_desk import TICK_DESK, DeskGone, TickRefused, database_key, hand_off
    from duban.domain.errors import DubanError
    from duban.services.locations import data_dir

    try:
        return hand_off(data_dir() / TICK_DESK, database_key(e.db_url_or_default()), now)
    except DeskGone:
        click.echo("常驻服务（duban serve）在运行调度时退出，改由本进程运行。", err=True)
        return None
    except TickRefused as exc:
        if exc.duban:
            raise DubanError(exc.message) from None
        click.echo(f"错误：内部错误（{exc.message}），详情已记入常驻服务（duban serve）的日志",
                   err=True)
        raise SystemExit(3) from None


def _local_tick(e: Env, now: str | None) -> dict[str, Any]:
    """The tick run in this process, on serve's Prefect server when one is published."""
    e.root  # noqa: B018 - migrate and install the root before the flow's tasks use it
    from duban.cli.progress import progress
    from flows.common import owned_prefect_server
    from flows.tick import run_tick

    with progress() as shown:
        shown.step("连接调度服务（Prefect）")
        # duban serve's server when it runs for this data directory, else one of our own.
        with owned_prefect_server(share=True):
            shown.step("运行调度：推进阶段、扫描时限、发送提醒、写日报")
            return run_tick(now)


# ---- outbox --------------------------------------------------------------------------------



def _mail_off(n: int) -> str:
    return f"；邮件渠道未开启（未设置 DUBAN_SMTP_HOST），{n} 封邮件未发送" if n else ""


@cli.group("outbox", help="消息发件箱：站内信、邮件、机器人消息的发送状态、失败重试。")
def outbox_group() -> None:
    pass


@outbox_group.command("list", help="列出发件箱消息（默认最近 50 条）。")
@click.option("--failed", is_flag=True, help="只列出发送失败的消息。")
@click.option("--pending", is_flag=True, help="只列出待发送的消息。")
@click.option("--campaign", type=int, default=None, help="行动编号。")
@click.option("--limit", type=int, default=50, show_default=True, help="最多列出条数。")
@json_option
def outbox_list(failed: bool, pending: bool, campaign: int | None, limit: int,
                json_out: bool) -> None:
    from duban.services.messages import STATUS_LABELS
    from duban.services.outbox import list_outbox, outbox_counts
    from duban.services.views.names import office_labels

    status = "failed" if failed else "pending" if pending else None
    if campaign is not None:
        known_campaign(campaign)
    lines = env().db.run(list_outbox, status=status, campaign_id=campaign, limit=limit)
    if json_out:
        echo_json({"counts": env().db.run(outbox_counts), "items": lines})
        return
    # An inbox message's recipient is an office: named, not coded.
    offices = env().db.run(office_labels, [x.recipient for x in lines if x.channel == "inbox"])
    click.echo(table(
        ["编号", "渠道", "收件人", "主题", "状态", "次数", "下次发送", "错误"],
        [[x.id, CHANNEL_LABELS.get(x.channel, x.channel), offices.get(x.recipient, x.recipient)[:40], x.subject[:30],
          STATUS_LABELS.get(x.status, x.status),
          x.attempts, x.next_attempt_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"),
          (x.last_error or "")[:40]] for x in lines]))
    counts = env().db.run(outbox_counts)
    click.echo("合计：" + "，".join(f"{STATUS_LABELS.get(k, k)} {v}" for k, v in sorted(counts.items())))


@outbox_group.command("retry", help="把发送失败（或因邮件渠道未开启而未发送）的消息重新放回队列并立即发送。")
@click.option("--id", "ids", type=int, multiple=True, help="只重试这些编号（可多次给出）。")
@click.option("--no-send", is_flag=True, help="只放回队列，不立即发送。")
def outbox_retry(ids: tuple[int, ...], no_send: bool) -> None:
    from duban.services.outbox import retry_failed
    from tasks.delivery import deliver

    e = env()
    n = e.db.run(retry_failed, e.clock, list(ids) or None)
    click.echo(f"已放回队列：{n} 条")
    if not no_send and n:
        result = deliver(e.db, e.clock)
        click.echo(f"发送：成功 {result.sent}，待重试 {result.retrying}，失败 {result.failed}"
                   + _mail_off(result.off))
        for err in result.errors:
            click.echo(f"  - {err}", err=True)


@outbox_group.command("send", help="立即发送已到发送时间的消息。")
def outbox_send() -> None:
    from tasks.delivery import deliver

    e = env()
    result = deliver(e.db, e.clock)
    click.echo(f"发送：成功 {result.sent}，待重试 {result.retrying}，失败 {result.failed}"
               + _mail_off(result.off))
    for err in result.errors:
        click.echo(f"  - {err}", err=True)


# ---- notices -------------------------------------------------------------------------------

KIND_LABELS = {"notice": "督办通知书", "reminder": "催办通知", "bulletin": "通报"}
CHANNEL_LABELS = {"inbox": "站内信", "email": "邮件", "webhook": "工作群"}


@cli.group("notice", help="督办通知书、催办通知、通报：下发、签收、作废、下载。")
def notice_group() -> None:
    pass


@notice_group.command("issue", help="按责任办室下发督办通知书（每个办室一份，列出尚未下发的问题）。")
@click.argument("campaign", type=int)
@click.option("--as", "username", default="county", show_default=True, help="签发人（用户名）。")
@click.option("--batch", "batch_key", required=True,
              help="批次号：同一批次重复执行只返回已下发的通知书，不会重复编号。")
@click.option("--office", "offices", multiple=True, help="只下发给这些办室（可多次给出）。")
def notice_issue(campaign: int, username: str, batch_key: str, offices: tuple[str, ...]) -> None:
    from duban.cli.progress import progress
    from duban.services.notices.issuing import issue_notices
    from duban.services.views.names import campaign_names

    e = env()
    with progress() as shown:
        shown.step("生成并下发督办通知书")
        rows = e.db.run(issue_notices, e.clock, campaign, issued_by=username,
                        batch_key=batch_key, offices=list(offices) or None)
    if not rows:
        click.echo("没有需要下发的问题。")
        return
    names = e.db.run(campaign_names, campaign)
    click.echo(table(["编号", "文号", "主送", "问题数", "文件", "问题清单（电子表格）"],
                     [[r.id, r.number, names.office(r.office_code), len(r.problem_ids), r.path,
                       r.list_file or "—"] for r in rows]))


def _stage_label(kind: str) -> str:
    """A stage kind as the tick's table shows it: 排查, 整改 (never investigate, rectify)."""
    from duban.domain.plan import STAGE_KIND_LABELS, StageKind

    try:
        return STAGE_KIND_LABELS[StageKind(kind)]
    except ValueError:
        return kind


@notice_group.command("list", help="列出一项行动的通知书及签收情况。")
@click.argument("campaign", type=int)
@click.option("--office", default=None, help="只看某个办室（名称或简称）。")
@click.option("--json", "json_out", is_flag=True, help="以 JSON 输出（含代码，供脚本使用）。")
def notice_list(campaign: int, office: str | None, json_out: bool) -> None:
    from duban.services.notices.reading import list_notices
    from duban.services.views.names import campaign_names, people_labels, resolve_name

    e = env()
    known_campaign(campaign)
    if office is not None:
        office = e.db.run(resolve_name, campaign, "office", office, "--office")
    rows = e.db.run(list_notices, campaign, office=office)
    if json_out:
        from duban.cli.output import as_json

        click.echo(as_json(rows))
        return
    names = e.db.run(campaign_names, campaign)
    people = e.db.run(people_labels, [r.acknowledged_by for r in rows])
    click.echo(table(
        ["编号", "类型", "文号", "主送", "问题数", "下发日期", "签收", "状态"],
        [[r.id, KIND_LABELS.get(r.kind, r.kind), r.number,
          names.office(r.office_code) if r.office_code else "—", len(r.problem_ids),
          r.issued_on, people.get(r.acknowledged_by, "未签收") if r.acknowledged_by else "未签收",
          "已作废" if r.voided else "有效"] for r in rows]))


def _notice_row(uow: UnitOfWork, notice_id: int) -> NoticeRow:
    from duban.services.notices.reading import visible_notice
    from duban.services.scoping import whole_campaign

    return visible_notice(uow.session, whole_campaign(), notice_id)


@notice_group.command("sign", help="签收通知书（主送办室的用户）。")
@click.argument("notice_id", type=int)
@click.option("--as", "username", required=True, help="签收人（用户名）。")
def notice_sign(notice_id: int, username: str) -> None:
    from duban.services.notices.receipts import acknowledge_notice
    from duban.services.views.names import people_labels

    e = env()
    row = e.db.run(acknowledge_notice, e.clock, notice_id, username)
    who = e.db.run(people_labels, [username]).get(username, username)
    click.echo(f"已签收：{row.number}（{who}）")


@notice_group.command("void", help="作废通知书（文号保留在案，问题可重新下发）。")
@click.argument("notice_id", type=int)
@click.option("--as", "username", required=True, help="操作人（县级办公室用户）。")
@click.option("--reason", required=True, help="作废理由。")
def notice_void(notice_id: int, username: str, reason: str) -> None:
    from duban.services.notices.receipts import void_notice

    e = env()
    row = e.db.run(void_notice, e.clock, notice_id, username=username, reason=reason)
    click.echo(f"已作废：{row.number}")


@notice_group.command("download-batch", help="把同一批次（--batch）下发的全部文书合并为一个 PDF，"
                      "按文号排列，每份从新的一张纸开始（需安装 LibreOffice）。")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--campaign", "campaign_id", type=int, required=True, help="行动编号。")
@click.option("--batch", "batch_key", required=True, help="批次（下发时的 batch 键）。")
def notice_download_batch(out: Path, campaign_id: int, batch_key: str) -> None:
    import tempfile

    from duban.adapters.documents import batch_to_pdf
    from duban.services.notices.reading import list_notices, notice_file

    e = env()
    rows = [r for r in e.db.run(list_notices, campaign_id)
            if r.batch_key == batch_key and not r.voided]
    if not rows:
        raise click.ClickException(f"批次“{batch_key}”没有下发的文书")
    with tempfile.TemporaryDirectory(prefix="duban-batch-") as tmp:
        files = []
        for r in rows:
            path = Path(tmp) / f"{r.id}.docx"
            path.write_bytes(e.db.run(notice_file, r.id))
            files.append(path)
        batch_to_pdf(files, out)
    click.echo(f"已导出：{out}（{len(rows)} 份文书）")
    for r in rows:  # a long notice's full list is a spreadsheet: beside the PDF
        if r.list_path:
            click.echo(f"已导出问题清单：{_write_list(e, r, out.parent)}")


def _write_list(e: Env, row: NoticeRow, folder: Path) -> Path:
    """Write a long notice's full list (.xlsx, checksum verified) into folder by its name."""
    from duban.services.notices.reading import notice_list_file
    from duban.services.views.names import campaign_names, notice_list_file_name

    names = e.db.run(campaign_names, row.campaign_id)
    path = folder / notice_list_file_name(row.number, names.office(row.office_code))
    path.write_bytes(e.db.run(notice_list_file, row.id))
    return path


@notice_group.command("download", help="导出通知书文件（校验 SHA-256，与下发时逐字节一致）；"
                      "不给出文件名或给出目录时，文件名为“文号-主送单位.docx”。")
@click.argument("notice_id", type=int)
@click.argument("out", type=click.Path(path_type=Path), required=False)
@click.option("--pdf", is_flag=True, help="同时转换为 PDF（需安装 LibreOffice）。")
def notice_download(notice_id: int, out: Path | None, pdf: bool) -> None:
    from duban.services.notices.reading import notice_file
    from duban.services.views.names import campaign_names, document_file_name

    e = env()
    data = e.db.run(notice_file, notice_id)
    if out is None or out.is_dir():
        row = e.db.run(_notice_row, notice_id)
        name = document_file_name(e.db.run(campaign_names, row.campaign_id), row.number,
                                  row.office_code, KIND_LABELS.get(row.kind, "通知书"))
        out = (out or Path()) / name
    out.write_bytes(data)
    click.echo(f"已导出：{out}（{len(data)} 字节）")
    row = e.db.run(_notice_row, notice_id)
    if row.list_path:  # a long notice's full list is a spreadsheet of its own
        click.echo(f"已导出问题清单：{_write_list(e, row, out.parent)}")
    if pdf:
        from duban.adapters.documents import convert_to_pdf

        click.echo(f"已转换：{convert_to_pdf(out, out.parent)}")
