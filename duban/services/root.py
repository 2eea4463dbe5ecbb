"""The composition root: what every edge (CLI, web, Prefect tasks, demo) builds its work on.

Configuration is read here, once per process: the database, the clock, the working-day
calendar, where files live and how mail is sent. Edges open units of work from the root and
commit them; services take the unit of work and never commit.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from duban.domain.clock import Clock, SystemClock
from duban.domain.errors import DubanError
from duban.services.database import (
    Database,
    UnitOfWork,
    data_dir,
    database_url,
    private_data_dir,
)

P = ParamSpec("P")
R = TypeVar("R")

if TYPE_CHECKING:
    from duban.adapters.messaging import SmtpSettings
    from duban.domain.workdays import WorkCalendar


@dataclass
class Root:
    """The database, the clock, the calendar, the file store and the mail settings."""

    db: Database
    clock: Clock
    files: Path = field(default_factory=data_dir)

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work on the root's database; it rolls back unless the edge commits."""
        return self.db.unit_of_work()

    def run(self, use_case: Callable[Concatenate[UnitOfWork, P], R],
            *args: P.args, **kwargs: P.kwargs) -> R:
        """One use case in its own unit of work, committed if it returns."""
        return self.db.run(use_case, *args, **kwargs)

    def at(self, clock: Clock) -> Root:
        """The same root seen from another clock (a task's simulated `now`)."""
        return dataclasses.replace(self, clock=clock)

    @property
    def evidence_dir(self) -> Path:
        """Where evidence blobs are stored."""
        return self.files / "evidence"

    @property
    def calendar(self) -> WorkCalendar:
        """China's working days as the holiday files are now (a file another process wrote
        is read within calendars.RECHECK_S seconds)."""
        from duban.services.calendars import working_calendar

        return working_calendar()

    def reload_calendar(self) -> None:
        """Read the holiday files again (a year file was just written)."""
        from duban.services.calendars import working_calendar

        working_calendar.cache_clear()

    @cached_property
    def mail(self) -> SmtpSettings | None:
        """Where e-mail goes ($DUBAN_SMTP_*; None: the mail channel is off), read on first use."""
        from duban.adapters.messaging import SmtpSettings

        return SmtpSettings.from_env()


def build_root(url: str | None = None, clock: Clock | None = None, *,
               db: Database | None = None, migrate: bool = False) -> Root:
    """A root from configuration: --db or $DUBAN_DATABASE_URL, the data directory, the clock.

    A Database handed in is used as it is (its owner migrated it); one opened here from the
    URL is brought to the newest schema when migrate is set.
    """
    if db is not None:
        return Root(db=db, clock=clock or SystemClock())
    private_data_dir()  # evidence, documents and the secret key live there: owner-only
    database = Database(url or database_url())
    if migrate:
        database.migrate()
    return Root(db=database, clock=clock or SystemClock())


_process: Root | None = None
_built: dict[str, Root] = {}
_lock = threading.Lock()


def install_root(root: Root | None) -> None:
    """Make root the process's root (the CLI, the demo and tests hand theirs to the tasks)."""
    global _process
    with _lock:
        _process = root


def process_root() -> Root:
    """The root installed by this process's edge, else one built from configuration once.

    A Prefect worker in scaled mode has no edge of ours above it: it builds its root from the
    environment ($DUBAN_DATABASE_URL, $DUBAN_DATA_DIR) the deployment gives it.
    """
    with _lock:
        if _process is not None:
            return _process
        if os.environ.get("PREFECT__FLOW_RUN_ID") and not os.environ.get("DUBAN_DATABASE_URL"):
            # A flow run started by a Prefect worker: without the variable it would create an
            # empty SQLite file in the worker's directory and tick nothing.
            raise DubanError("扩展模式的 Prefect worker 缺少环境变量 DUBAN_DATABASE_URL（督办数据库地址）："
                             "请在启动 worker 的环境或部署的 job_variables.env 中设置它"
                             "（以及 DUBAN_DATA_DIR）")
        url = database_url()
        if url not in _built:
            # A worker's flow run leads a session of its own: its nice counts only once the
            # session's scheduling group has it too.
            from duban.adapters.children import nice_own_session

            nice_own_session()
            _built[url] = build_root(url)
        return _built[url]
