"""The root `duban` group and what every command gets: the database and the clock."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from duban.cli import zh
from duban.domain.clock import CHINA_TZ, Clock, FixedClock, SystemClock

if TYPE_CHECKING:
    from duban.services.database import Database, UnitOfWork
    from duban.services.root import Root

zh.install()

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# click derives metavars from type names (TEXT, INTEGER); show them in Chinese.
METAVARS = {"TEXT": "文本", "INTEGER": "整数", "FILE": "文件", "PATH": "路径",
            "FLOAT": "数值", "DIRECTORY": "目录", "FILENAME": "文件",
            "INTEGER RANGE": "整数", "FLOAT RANGE": "数值"}


class ZhOption(click.Option):
    """An option whose metavar reads in Chinese."""

    def make_metavar(self, ctx: click.Context) -> str:
        """The type's metavar, translated when it is one of click's English words."""
        if self.metavar is None and isinstance(self.type, click.DateTime):
            return "日期"  # click shows its formats: [%Y-%m-%d]
        metavar = super().make_metavar(ctx)
        return METAVARS.get(metavar, metavar)


class ZhArgument(click.Argument):
    """A positional argument shown by its name, as written."""


class NamedChoice(click.ParamType):
    """One of a few values, given by its Chinese name (整改中) or its code (rectifying, for
    scripts); the command receives the code, and the help lists the names."""

    name = "choice"

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = dict(names)  # code -> name
        self.codes = {**{label: code for code, label in self.names.items()},
                      **{code: code for code in self.names}}

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        """The names, as click shows a choice's values."""
        return "[" + "|".join(self.names.values()) + "]"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        """The code of a name or code; anything else is refused with the names to choose."""
        code = self.codes.get(str(value).strip())
        if code is None:
            self.fail(f"“{value}”不是可选的值，可选：{'、'.join(self.names.values())}", param, ctx)
        return code


# Positional arguments shown in Chinese in usage lines and "缺少参数" errors, by their name in
# the code (an argument with a metavar of its own keeps it; a choice shows its choices).
ARGUMENT_METAVARS = {
    "campaign": "行动编号", "campaign_id": "行动编号", "problem": "问题编号",
    "notice_id": "通知书编号", "occurrence": "事项编号", "milestone": "节点",
    "file": "文件", "folder": "目录", "dest": "目录", "src": "备份目录", "out": "输出文件",
    "username": "用户名", "word": "别名", "target": "名称", "sha256": "SHA-256",
}


def _in_chinese(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A command's or group's settings, with the usage line's words in Chinese."""
    return {"options_metavar": "[选项]", "context_settings": CONTEXT, **kwargs}


def _chinese_options(command: click.Command) -> None:
    """Show the command's options with ZhOption's Chinese metavars, and its arguments by
    their Chinese names."""
    for param in command.params:
        if isinstance(param, click.Option) and not isinstance(param, ZhOption):
            param.__class__ = ZhOption
        elif (isinstance(param, click.Argument) and param.metavar is None
              and not isinstance(param.type, click.Choice)):
            param.metavar = ARGUMENT_METAVARS.get(param.name or "")


class _ChineseShortHelp(click.Command):
    """A command's line in its group's list: the first sentence of its Chinese help, cut at a
    clause when too long (zh.short_help); click's own shortener for English help."""

    def get_short_help_str(self, limit: int = 45) -> str:
        """The first sentence of the help, shortened at a clause when too long."""
        if self.short_help or not self.help or self.help.isascii():
            return super().get_short_help_str(limit)
        return zh.short_help(self.help, limit)


class ZhCommand(_ChineseShortHelp):
    """A command whose usage line reads in Chinese."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **_in_chinese(kwargs))
        _chinese_options(self)


class ZhGroup(_ChineseShortHelp, click.Group):
    """A group whose usage line reads in Chinese and whose children are Chinese too."""

    command_class = ZhCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subcommand_metavar", "命令 [参数]...")
        super().__init__(*args, **_in_chinese(kwargs))
        _chinese_options(self)


ZhGroup.group_class = ZhGroup

# The modules (under duban.cli) that define, or add commands to, each top-level command. A call
# imports only its command's modules, so `duban problem list` does not pay for the documents,
# Excel, Prefect or web libraries other commands need (tests/unit/test_cli_startup.py checks
# that this table matches what the modules register).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "plan": ("ledger",), "campaign": ("ledger",), "problem": ("ledger", "review"),
    "audit": ("ledger",), "demo": ("demo",),
    "template": ("intake",), "import": ("intake",), "detect": ("intake",), "coverage": ("intake",),
    "report": ("reports",),
    "review": ("review",), "evidence": ("review",), "spotcheck": ("review",),
    "office": ("review",), "substitute": ("review",),
    "serve": ("serve",), "tick": ("serve",), "outbox": ("serve",), "notice": ("serve",),
    "user": ("users",), "duty": ("duties",), "milestone": ("duties",),
    "calendar": ("holidays",),
    "doctor": ("ops",), "backup": ("ops",), "restore": ("ops",), "worker": ("worker",),
}


# Each command's line in `duban --help`: the root lists its commands from here, so asking for
# help imports none of their modules (click asks every command for its short help; importing
# all of them was ~60 % of `duban --help`). tests/unit/test_cli_startup.py checks that every
# command has one; a command's own help (`duban doctor --help`) stays beside its code.
SUMMARIES: dict[str, str] = {
    "audit": "办理记录（只增不改）。",
    "backup": "备份数据库和数据目录中的文件，附校验清单。",
    "calendar": "工作日历：导入国务院办公厅节假日安排通知，查看某年放假与调休。",
    "campaign": "专项行动：启动、列表、概况、修订方案、总结关闭、重新开启。",
    "coverage": "走访覆盖率：按村、乡镇统计，列出未走访农户。",
    "demo": "演示：按种子方案在模拟时间里跑完整个行动，输出通知书和报表。",
    "detect": "按方案的发现规则比对农户信息，生成问题并交办。",
    "doctor": "清理数据目录中崩溃遗留的临时文件和无记录引用的通知书文件。",
    "duty": "常态化工作：按方案定期走访、会商、报送，完成后上报佐证。",
    "evidence": "佐证资料：列出、导出（按内容哈希存放，读取时校验）。",
    "import": "导入 Excel/CSV（农户、走访、问题），有错则全部不写入。",
    "init": "创建或升级数据库（应用全部迁移）。",
    "milestone": "整改节点：一个问题的多个时间节点（如 开工、完工）。",
    "notice": "督办通知书、催办通知、通报：下发、签收、作废、下载。",
    "office": "责任办室：机构或人员变动时批量改派。",
    "outbox": "消息发件箱：站内信、邮件、机器人消息的发送状态、失败重试。",
    "plan": "行动方案（YAML）。",
    "problem": "问题台账：查询、详情、办理。",
    "report": "报表：日报、整改台账、月考评、考核罚款。",
    "restore": "从 duban backup 生成的目录恢复数据库和文件。",
    "review": "复核与销号（谁督查谁签字）。",
    "serve": "启动常驻服务：调度器和网页。",
    "spotcheck": "随机抽查：各督查组每日按方案配额抽取，结果记录在案。",
    "substitute": "代理：办室人员外出期间由他人代为办理（留痕）。",
    "template": "导入模板（Excel）。",
    "tick": "立即运行一次调度，供 cron 与测试使用。",
    "user": "用户与角色：新增、列表、停用、设置密码。",
    "worker": "扩展模式：启动一个 Prefect worker，执行工作池中的督办调度。",
}


# The root group's options a user may also write after the command (`duban tick --now …`).
ROOT_OPTIONS = ("--now", "--db")


def hoist_root_options(args: list[str]) -> list[str]:
    """`--now T` and `--db URL` written anywhere in the line, moved before the command so the
    root group reads them (`duban tick --now 2022-09-26T09:00` = `duban --now … tick`)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.split("=", 1)[0]
        if name in ROOT_OPTIONS:
            if "=" in arg:
                front.append(arg)
            else:
                front.extend(args[i:i + 2])
                i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


class LazyGroup(ZhGroup):
    """The root group: a command's module is imported when the command is asked for."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Read the root options wherever they stand in the line."""
        return super().parse_args(ctx, hoist_root_options(list(args)))

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, loaded or not, sorted as click sorts them."""
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands, each with its line from SUMMARIES: no command's module imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        with formatter.section(zh.MESSAGES["Commands"]):
            formatter.write_dl([(name, zh.short_help(SUMMARIES[name], limit))
                                for name in names])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, after importing the modules that define it."""
        for module in COMMAND_MODULES.get(cmd_name, ()):
            importlib.import_module(f"duban.cli.{module}")
        return super().get_command(ctx, cmd_name)


@dataclass
class Env:
    """What every command gets: the composition root, built on first use."""

    db_url: str | None
    clock: Clock
    _db: Database | None = None
    _root: Root | None = None

    @property
    def root(self) -> Root:
        """The root: the database opened and migrated, installed for the tasks this process runs."""
        if self._root is None:
            from duban.services.root import build_root, install_root

            self._root = build_root(self.db_url, self.clock, db=self._db, migrate=True)
            install_root(self._root)
        return self._root

    def db_url_or_default(self) -> str:
        """The database URL this command uses (--db, $DUBAN_DATABASE_URL, else the SQLite file)."""
        if self._db is not None:
            return self._db.engine.url.render_as_string(hide_password=False)
        from duban.services.locations import database_url  # not SQLAlchemy: the tick's hand-off

        return self.db_url or database_url()

    @property
    def db(self) -> Database:
        """The root's database."""
        return self.root.db

    def unit_of_work(self) -> UnitOfWork:
        """A unit of work for the command; the command commits it."""
        return self.root.unit_of_work()


def parse_now(value: str | None) -> Clock:
    """A fixed clock from --now (simulated time), else the system clock."""
    if not value:
        return SystemClock()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"时间格式应为 2022-09-26 或 2022-09-26T09:00：{value}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return FixedClock(moment)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        click.echo(f"duban {version('duban')}")
    except PackageNotFoundError:
        click.echo("duban（未安装，从源码运行）")
    ctx.exit()


@click.group(cls=LazyGroup, help="督办：大走访 · 大排查 · 大整改 问题整改督办系统。")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="显示版本并退出。")
@click.option("--db", "db_url", envvar="DUBAN_DATABASE_URL", default=None, metavar="地址",
              help="数据库地址（默认：数据目录中的 SQLite 文件；"
              "也可用环境变量 DUBAN_DATABASE_URL）。")
@click.option("--now", envvar="DUBAN_NOW", default=None, metavar="时间",
              help="以此时间为“现在”运行（模拟时间，如 2022-09-26T09:00），用于演练与测试。")
@click.option("--log-level", envvar="DUBAN_LOG_LEVEL", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="日志级别（也可用环境变量 DUBAN_LOG_LEVEL）；INFO 时每次状态变化（问题流转、"
              "通知书下发、消息发送成功或失败）记一行，带行动和问题编号。")
@click.option("--log-format", envvar="DUBAN_LOG_FORMAT", default="text", show_default=True,
              type=click.Choice(["text", "json"]), help="日志格式：text 文本行，json 每行一个 JSON。")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, now: str | None, log_level: str,
        log_format: str) -> None:
    from duban.adapters.logs import configure

    configure(log_level, log_format)
    # A caller may hand in an open Database (tests run commands inside their transaction).
    given = None
    if ctx.obj is not None:
        from duban.services.database import Database

        given = ctx.obj if isinstance(ctx.obj, Database) else None
    ctx.obj = Env(db_url=db_url, clock=parse_now(now), _db=given)


def env() -> Env:
    """The current command's Env."""
    obj = click.get_current_context().obj
    assert isinstance(obj, Env)
    return obj


def known_campaign(campaign_id: int) -> int:
    """The campaign number, refused (行动不存在, exit 1) when it names no campaign, so a list
    for an unknown campaign is an error rather than an empty list."""
    from duban.services.views.names import require_campaign

    env().db.run(require_campaign, campaign_id)
    return campaign_id


def campaign_or_only(campaign_id: int | None) -> int:
    """The campaign asked for (which must exist), or the only one there is."""
    if campaign_id is not None:
        return known_campaign(campaign_id)
    from duban.domain.errors import DubanError
    from duban.services.campaigns import list_campaigns

    rows = env().db.run(list_campaigns)
    if len(rows) == 1:
        return rows[0].id
    if not rows:
        raise DubanError("暂无行动。用 duban campaign launch 方案.yaml 启动一项。")
    raise DubanError("有多项行动，请用 --campaign 指定行动编号（duban campaign list 可查看）")


@cli.command("init", help="创建或升级数据库（应用全部迁移）。")
def init_cmd() -> None:
    database = env().db
    click.echo(f"数据库已就绪：{database.url}")


