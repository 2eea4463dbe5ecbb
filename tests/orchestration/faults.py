"""The fault-injection suite's tools: a `duban tick` child with a fault, what must hold after it
(nothing duplicated, nothing left behind), and the tried/survived table."""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from duban.services.database import Database
from duban.services.files import sweep_files
from duban.services.notices.documents import RENDERED_DIR
from models import (
    DailyReportRun,
    InboxMessage,
    Notice,
    NoticeProblem,
    OutboxMessage,
    Problem,
    ReminderFired,
    StageRun,
)
from tests.conftest import ROOT

MARK_VAR = "DUBAN_FAULT_RUN"
REPORT_VAR = "DUBAN_FAULT_REPORT"  # a JSON-lines file every row of every table is appended to


@dataclass
class Ran:
    """How a child ended."""

    returncode: int
    stdout: str
    stderr: str
    mark: str
    seconds: float
    cpu: float  # the child's CPU seconds (user + system): a figure a loaded machine keeps

    @property
    def killed(self) -> bool:
        """Ended by SIGKILL."""
        return self.returncode == -9


def duban_child(args: list[str], *, url: str, data: Path, api: str | None,
                fault: str | None = None, extra: dict[str, str] | None = None,
                timeout_s: float = 900) -> Ran:
    """Run `duban ARGS` in a child process (tests.orchestration.fault_child) and wait for it.

    `api` None: the child starts and owns its own Prefect server (as `duban tick` does on a
    county server); else it uses that one. Every process the child starts inherits a mark in
    its environment, so what outlives it is found (`survivors`).
    """
    mark = uuid.uuid4().hex
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUBAN_DATABASE_URL": url,
           "DUBAN_DATA_DIR": str(data), MARK_VAR: mark, **(extra or {})}
    env.pop("DUBAN_TEST_FAULT", None)
    if fault:
        env["DUBAN_TEST_FAULT"] = fault
    if api is None:
        env.pop("PREFECT_API_URL", None)
    else:
        env["PREFECT_API_URL"] = api
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "tests.orchestration.fault_child", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s,
                          check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Ran(proc.returncode, proc.stdout, proc.stderr, mark, time.monotonic() - started, cpu)


def survivors(mark: str, within_s: float = 60) -> list[str]:
    """Processes still carrying the mark after `within_s` (children die asynchronously)."""
    deadline = time.monotonic() + within_s
    while True:
        found = []
        needle = f"{MARK_VAR}={mark}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if needle not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                if (entry / "status").read_text().split("State:")[1].strip().startswith("Z"):
                    continue
                found.append(f"{entry.name} "
                             + (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120])
            except (OSError, IndexError):
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def snapshot(db: Database) -> dict[str, Any]:
    """What the tick promised, as comparable values."""
    with db.transaction() as s:
        notices = s.execute(select(Notice.seq, Notice.kind, Notice.office_code)).all()
        return {
            "problems": s.scalar(select(func.count()).select_from(Problem)),
            "seqs": sorted(n.seq for n in notices),
            "notices": sorted(Counter((n.kind, n.office_code) for n in notices).items()),
            "on_notice": Counter(s.execute(select(NoticeProblem.problem_id, NoticeProblem.kind,
                                                  NoticeProblem.office_code))),
            "fired": Counter(s.execute(select(ReminderFired.problem_id, ReminderFired.rung_code))),
            "outbox": Counter(s.scalars(select(OutboxMessage.dedupe_key))),
            "outbox_status": Counter(s.scalars(select(OutboxMessage.status))),
            "inbox": s.scalar(select(func.count()).select_from(InboxMessage)),
            "stages": sorted((r.stage_seq, r.kind, r.status) for r in s.scalars(select(StageRun))),
            "daily_reports": s.scalar(select(func.count()).select_from(DailyReportRun)),
        }


def duplicates(snap: dict[str, Any]) -> list[str]:
    """What breaks a promise that must hold at every moment, even right after a kill."""
    found = []
    seqs = snap["seqs"]
    if seqs != list(range(1, len(seqs) + 1)):
        found.append(f"文号 not contiguous: {seqs}")
    for key in ("on_notice", "fired", "outbox"):
        twice = [k for k, n in snap[key].items() if n > 1]
        if twice:
            found.append(f"{key} twice: {twice[:5]}")
    return found


def differences(snap: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """Where a run that was interrupted ended differently from one that was not."""
    return [f"{key}: {snap[key]!r:.200} != {reference[key]!r:.200}"
            for key in reference if snap[key] != reference[key]]


def swept_files(db: Database, data: Path) -> list[str]:
    """Run the file sweep (no grace period), then what is still wrong in the data directory:
    a temporary file, a document no row names, a row whose file is missing."""
    with db.unit_of_work() as uow:
        sweep_files(uow, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5),
                    grace=dt.timedelta(0), root=data)
        named = {str(p) for p in uow.session.scalars(select(Notice.file_path))}
    wrong = []
    documents = data / "documents"
    # Files only: documents/.rendered is the folder of render records, swept as temporary.
    present = {str(p.relative_to(data)) for p in documents.iterdir() if p.is_file()} \
        if documents.is_dir() else set()
    wrong += [f"file without row: {p}" for p in sorted(present - named)]
    wrong += [f"row without file: {p}" for p in sorted(named - present)]
    for path in data.rglob("*"):
        if path.is_file() and (path.name.startswith((".render-", ".upload-"))
                               or path.name.endswith(".part")
                               or path.parent.name == RENDERED_DIR):
            wrong.append(f"temporary file left: {path.relative_to(data)}")
    return wrong


@dataclass
class Trial:
    """One fault tried: did everything promised survive it?"""

    fault: str
    backend: str
    point: str
    survived: bool = False
    seconds: float = 0.0  # wall time of the fault and the checks after it
    cpu: float = 0.0  # CPU seconds of the duban processes run for it
    notes: list[str] = field(default_factory=list)


@dataclass
class Table:
    """The tried/survived table of one test, printed and written as JSON."""

    path: Path
    trials: list[Trial] = field(default_factory=list)

    def add(self, trial: Trial) -> None:
        """Record a trial and rewrite the table."""
        self.trials.append(trial)
        rows = [asdict(t) for t in self.trials]
        self.path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        shared = os.environ.get(REPORT_VAR)
        if shared:
            with open(shared, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(trial), ensure_ascii=False) + "\n")
        print(f"[fault] {trial.fault:<14} {trial.backend:<10} {trial.point:<34} "
              f"{'survived' if trial.survived else 'LOST'} {trial.seconds:6.1f}s "
              f"(cpu {trial.cpu:5.1f}s) "
              + "; ".join(trial.notes)[:300], flush=True)

    def failures(self) -> list[str]:
        """The trials that did not survive, for the test's one assertion."""
        return [f"{t.backend} {t.point}: {'; '.join(t.notes)}" for t in self.trials
                if not t.survived]
