"""The `duban` command line: grouped by noun, Chinese help, Chinese errors, no tracebacks."""

from __future__ import annotations

import sys
import traceback

import click

# The command modules are imported on demand by the root group (see base.COMMAND_MODULES).
from duban.adapters.children import exit_on_signals
from duban.cli.base import cli
from duban.domain.errors import DubanError

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_REFUSED", "EXIT_USAGE", "cli", "main"]

# Exit codes (README, "Exit codes"): 0 done; 1 refused input (a Chinese message says why; the
# database is unreachable); 2 usage (an unknown command or option, a bad option value: click's
# own code); 3 an internal error (logged to duban-error.log in the data directory).
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def main() -> None:
    """Entry point: run the CLI; a refusal is a Chinese message and exit 1, a usage mistake
    exit 2, an internal error exit 3 (never a traceback on screen)."""
    try:
        # SIGTERM and SIGHUP end the command through its `finally` blocks, which stop the
        # child processes it owns (Prefect's server, LibreOffice).
        with exit_on_signals():
            cli.main(standalone_mode=False)
    except DubanError as exc:
        _print_error(exc)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("已中止。", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # never a traceback on a clerk's screen; keep it in the log
        if _is_database_unreachable(exc):
            click.echo(f"错误：无法访问数据库：{_first_line(exc)}", err=True)
            sys.exit(1)
        from duban.domain.clock import SystemClock
        from duban.services.database import data_dir

        log = data_dir() / "duban-error.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as fh:
            # Each entry starts with when it happened and the command that failed.
            fh.write(f"--- {SystemClock().now().isoformat(timespec='seconds')} "
                     f"duban {' '.join(sys.argv[1:])}\n")
            traceback.print_exc(file=fh)
        click.echo(f"错误：内部错误（{type(exc).__name__}），详情已记入 {log}", err=True)
        sys.exit(EXIT_INTERNAL)


def _is_database_unreachable(exc: Exception) -> bool:
    # Imported here, not at the top: `duban --help` must not pay for SQLAlchemy; an error
    # raised by SQLAlchemy means it is loaded already.
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _print_error(exc: DubanError) -> None:
    errors = getattr(exc, "errors", None)
    click.echo(f"错误：{exc.message}", err=True)
    if errors:
        for err in errors:
            path = getattr(err, "path", "")
            message = getattr(err, "message", str(err))
            click.echo(f"  - {path} {message}".rstrip(), err=True)
