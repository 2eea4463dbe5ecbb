"""A tick killed in the middle of a rolling round of notices, then run again: no duplicate."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from duban.domain.clock import FixedClock
from duban.services.database import Database
from models import Notice, NoticeProblem, NoticeRound
from tests.orchestration.helpers import (
    add_problems,
    at,
    count_rows,
    launch,
    make_plan,
    use_database,
)
from tests.orchestration.helpers import committed as committed  # this module's db: committed
from tests.orchestration.test_kill_rerun import _tick


def test_a_tick_killed_in_the_middle_of_a_round_reruns_without_duplicates(
        db: Database, clock: FixedClock, prefect_api: str, data_dir_tmp: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    offices = 12
    url = use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock, make_plan(extra_offices=offices))
    add_problems(db, clock, cid, 1, category="c00")
    assert _tick(url, prefect_api, at(2022, 9, 26, 10).isoformat(), kill_when=None) == 0
    assert count_rows(db, Notice) == 1  # the rectify stage's own notice
    for i in range(offices):
        add_problems(db, clock, cid, 2, category=f"c{i:02d}", tag=f"迟{i}-")
    store = data_dir_tmp / "documents"
    rendered = len(list(store.iterdir()))
    now = at(2022, 9, 27, 10).isoformat()
    # Killed once the round has rendered a file and before it could commit the last one.
    _tick(url, prefect_api, now, kill_when=lambda: len(list(store.iterdir())) > rendered)
    assert count_rows(db, Notice) in (1, 1 + offices)  # all of the round or none of it
    for _ in range(2):
        assert _tick(url, prefect_api, now, kill_when=None) == 0
    with db.transaction() as s:
        seqs = sorted(s.scalars(select(Notice.seq)))
        listed = Counter(s.execute(select(NoticeProblem.problem_id, NoticeProblem.office_code)))
        rounds = sorted(s.scalars(select(NoticeRound.round_key)))
    assert seqs == list(range(1, 2 + offices))
    assert set(listed.values()) == {1} and len(listed) == 1 + 2 * offices
    assert rounds == ["2022-09-26", "2022-09-27"]
