"""文号 under concurrency: threads and processes issuing at once leave no gap, no duplicate."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select

from duban.domain.clock import FixedClock
from duban.services.database import Database
from duban.services.notices.issuing import issue_notices
from models import Notice, NoticeProblem, Problem
from tests.conftest import ROOT
from tests.orchestration.helpers import add_problems, launch
from tests.orchestration.helpers import committed as committed  # this module's db: committed


def _check_register(db: Database) -> int:
    with db.transaction() as s:
        seqs = sorted(s.scalars(select(Notice.seq)))
        numbers = list(s.scalars(select(Notice.number)))
        on_notice = list(s.scalars(select(NoticeProblem.problem_id)))
        problems = set(s.scalars(select(Problem.id)))
    assert seqs == list(range(1, len(seqs) + 1)), "numbers must have no gaps"
    assert len(set(numbers)) == len(numbers)
    assert len(on_notice) == len(set(on_notice)) and set(on_notice) == problems
    return len(seqs)


def test_threads_issuing_at_once(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    errors: list[BaseException] = []
    intake = threading.Lock()  # this test is about numbering; intake is serialised

    def work(tag: str) -> None:
        try:
            for i in range(4):
                with intake:
                    add_problems(db, clock, cid, 1, tag=f"{tag}{i}-")
                db.run(issue_notices, clock, cid, issued_by="county", batch_key=f"{tag}{i}")
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert _check_register(db) >= 4


def test_processes_issuing_at_once(db: Database, clock: FixedClock, tmp_path: Path) -> None:
    cid = launch(db, clock)
    add_problems(db, clock, cid, 1)
    url = db.engine.url.render_as_string(hide_password=False)
    start = time.time() + 3.0  # let both processes import before they race
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    lock_dir = tmp_path
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.orchestration.worker", "issue",
                          "--url", url, "--campaign", str(cid), "--rounds", "5",
                          "--tag", f"p{n}", "--start-at", str(start)], cwd=lock_dir, env=env)
        for n in range(3)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    assert _check_register(db) >= 5
