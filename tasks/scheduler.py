"""The embedded scheduler: APScheduler with its jobs in duban's database, run by one leader.

APScheduler 3 fires a job from every scheduler process that shares a job store, so only the
leader runs a scheduler at all. Leadership is a PostgreSQL advisory lock held on its own
connection, or on SQLite a lease row that the leader renews and others may take once it has
expired. The tick itself is idempotent, so a leader change mid-tick does no harm.

It lives with the tasks, not the services: taking and renewing the lease commits on its
own schedule, as only an edge may.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from duban.domain.clock import Clock
from duban.services.database import Database
from models import SchedulerLease

log = logging.getLogger(__name__)

LEASE_NAME = "duban-scheduler"
LEASE_SECONDS = 30
RENEW_SECONDS = 5
JOBS_TABLE = "apscheduler_jobs"
TICK_JOB_ID = "duban-tick"
DEFAULT_TICK_JOB = "flows.tick:run_tick"
# A job missed while nobody led (restart, leader change) still runs within this grace.
MISFIRE_GRACE_SECONDS = 6 * 3600
# Advisory-lock key: a constant both sides agree on ("duban" as a number).
ADVISORY_KEY = 0x647562616E


def holder_id() -> str:
    """Who this process is, in the lease row."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaderLease:
    """Leadership among `duban serve` processes sharing one database."""

    def __init__(self, db: Database, clock: Clock, *, name: str = LEASE_NAME,
                 seconds: int = LEASE_SECONDS, holder: str | None = None) -> None:
        self.db = db
        self.clock = clock
        self.name = name
        self.seconds = seconds
        self.holder = holder or holder_id()
        self._pg: Connection | None = None

    @property
    def postgres(self) -> bool:
        """Whether the database is PostgreSQL (advisory lock) rather than SQLite (lease row)."""
        return self.db.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take or renew leadership; True while this process leads."""
        if self.postgres:
            return self._try_advisory()
        return self._try_row()

    def release(self) -> None:
        """Give leadership up (on shutdown) so another process can lead at once."""
        if self._pg is not None:
            try:
                # Unlock explicitly: close() only returns the connection to the pool, where
                # a session-level advisory lock would live on.
                self._pg.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._pg.close()
            finally:
                self._pg = None
            return
        with self.db.transaction() as session:
            session.execute(update(SchedulerLease).where(
                SchedulerLease.name == self.name, SchedulerLease.holder == self.holder
            ).values(expires_at=self.clock.now() - dt.timedelta(seconds=1)))

    def _try_advisory(self) -> bool:
        if self._pg is not None:
            try:
                self._pg.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection died, and the lock with it
                self._pg = None
        conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                {"k": ADVISORY_KEY}).scalar())
        if got:
            self._pg = conn
        else:
            conn.close()
        return got

    def _try_row(self) -> bool:
        now = self.clock.now()
        until = now + dt.timedelta(seconds=self.seconds)
        with self.db.transaction() as session:
            # The UPDATE comes first so SQLite takes its write lock before anything is read.
            taken = session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name,
                       (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now))
                .values(holder=self.holder, acquired_at=now, expires_at=until)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if taken:
                return True
            exists = session.scalar(select(SchedulerLease.name).where(
                SchedulerLease.name == self.name))
            if exists is not None:
                return False
        try:
            with self.db.transaction() as session:
                session.execute(insert(SchedulerLease).values(
                    name=self.name, holder=self.holder, acquired_at=now, expires_at=until))
            return True
        except IntegrityError:
            return False


def build_scheduler(db: Database, *, tick_seconds: float, job_ref: str = DEFAULT_TICK_JOB,
                    job_kwargs: dict[str, Any] | None = None) -> Any:
    """A BackgroundScheduler whose job store is a table in duban's database, with the tick."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from duban.domain.clock import CHINA_TZ

    store = SQLAlchemyJobStore(engine=db.engine, tablename=JOBS_TABLE)
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        timezone=CHINA_TZ,
    )
    scheduler.add_job(job_ref, "interval", seconds=tick_seconds, id=TICK_JOB_ID,
                      name="duban tick", replace_existing=True, kwargs=job_kwargs or {})
    return scheduler


class LeaderScheduler:
    """Runs the scheduler only while this process holds the lease; checks every few seconds."""

    def __init__(self, db: Database, clock: Clock, *, tick_seconds: float,
                 job_ref: str = DEFAULT_TICK_JOB, renew_seconds: float = RENEW_SECONDS,
                 lease_seconds: int = LEASE_SECONDS,
                 on_change: Callable[[bool], None] | None = None) -> None:
        self.db = db
        self.lease = LeaderLease(db, clock, seconds=lease_seconds)
        self.tick_seconds = tick_seconds
        self.job_ref = job_ref
        self.renew_seconds = renew_seconds
        self.on_change = on_change
        self.scheduler: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def leading(self) -> bool:
        """Whether this process runs the scheduler now."""
        return self.scheduler is not None

    def step(self) -> bool:
        """One lease check: start or stop the scheduler to match leadership."""
        try:
            lead = self.lease.try_acquire()
        except Exception:  # the database is unreachable: stop firing, try again later
            log.exception("scheduler lease check failed")
            lead = False
        if lead and self.scheduler is None:
            self.scheduler = build_scheduler(self.db, tick_seconds=self.tick_seconds,
                                             job_ref=self.job_ref)
            self.scheduler.start()
            if self.on_change:
                self.on_change(True)
        elif not lead and self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
            if self.on_change:
                self.on_change(False)
        return lead

    def start(self) -> None:
        """Check the lease now and then every `renew_seconds` in a background thread."""
        self.step()
        self._thread = threading.Thread(target=self._loop, name="duban-lease", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.renew_seconds):
            self.step()

    def stop(self) -> None:
        """Stop the scheduler and give the lease up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.renew_seconds + 5)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        try:
            self.lease.release()
        except Exception:
            log.exception("could not release the scheduler lease")
