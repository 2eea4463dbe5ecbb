"""The tick's housekeeping: a stage run its tick left behind is resumed, crash leftovers swept."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from duban.domain.clock import FixedClock
from duban.services.database import Database
from duban.services.notices.documents import RENDERED_DIR
from duban.services.stages import begin_stage_run
from models import Notice, StageRun
from tests.orchestration.helpers import add_problems, at, count_rows, launch, use_database
from tests.orchestration.helpers import committed as committed  # this module's db: committed


def test_a_stage_left_running_is_marked_crashed_and_resumed(
        db: Database, clock: FixedClock, prefect_api: str, data_dir_tmp: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.tick import run_tick

    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 20, 9))
    cid = launch(db, clock)
    add_problems(db, clock, cid, 3)
    moment = at(2022, 9, 26, 9, 30)
    # A tick that died inside the investigate stage: its run is left `running`.
    clock.set(moment)
    db.run(begin_stage_run, clock, cid, 1, "investigate")
    # What a crash left in the data directory: a half-written render, a document no notice
    # names (old enough), and a fresh temporary file (an issuance in progress elsewhere).
    documents = data_dir_tmp / "documents"
    documents.mkdir(parents=True)
    stale = time.time() - 2 * 3600
    for name in (".render-dead.docx", "f" * 64 + ".docx"):
        (documents / name).write_bytes(b"" if name.startswith(".") else b"PK")
        os.utime(documents / name, (stale, stale))
    (documents / ".render-live.docx").write_bytes(b"")

    summary = run_tick(moment.isoformat())
    assert summary["reaped"] == [{"campaign_id": cid, "seq": 1, "kind": "investigate",
                                  "attempt": 1}]
    assert [s["kind"] for s in summary["campaigns"][str(cid)]["stages"]] == [
        "investigate", "rectify"]
    with db.transaction() as s:
        runs = {r.kind: r for r in s.scalars(select(StageRun))}
        assert runs["investigate"].status == "done" and runs["investigate"].attempts == 2
        assert [i["attempt"] for i in runs["investigate"].detail["interrupted"]] == [1]
        numbers = list(s.scalars(select(Notice.number)))
    assert runs["rectify"].attempts == 1 and runs["rectify"].detail["notices"] == numbers
    files = summary["files"]
    assert files["removed_temporary"] == ["documents/.render-dead.docx"]
    assert files["removed_orphans"] == ["documents/" + "f" * 64 + ".docx"]
    # Young and kept: the live render, and the records of this tick's own renders (each notice
    # the resumed stages issued), which a retry within the grace period would reuse.
    records = sorted((documents / RENDERED_DIR).iterdir())
    assert len(records) == len(numbers) > 0
    assert files["kept_young"] == 1 + len(records) and (documents / ".render-live.docx").exists()
    # The notice the stage issued is named by its row: the sweep left it in place.
    with db.transaction() as s:
        path = s.scalar(select(Notice.file_path))
    assert path and (data_dir_tmp / path).is_file()

    again = run_tick(moment.isoformat())
    assert again["reaped"] == [] and again["campaigns"][str(cid)]["stages"] == []
    assert count_rows(db, Notice) == 1
