"""督办通知书: one per office, gap-free numbers, idempotent batches, receipts, voiding."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, update

from duban.domain.clock import FixedClock
from duban.domain.errors import DubanError, PermissionDenied
from duban.domain.lifecycle import Role
from duban.services.actors import add_user
from duban.services.database import Database, data_dir
from duban.services.notices.documents import NoticeFileCorrupt
from duban.services.notices.issuing import issue_notices
from duban.services.notices.reading import list_notices, notice_file
from duban.services.notices.receipts import acknowledge_notice, void_notice
from models import InboxMessage, Notice, Office, OutboxMessage, Problem
from tests.orchestration.helpers import add_problems, launch
from tests.support import LostCommit


def test_one_notice_per_lead_office_with_consecutive_numbers(db: Database,
                                                             clock: FixedClock) -> None:
    cid = launch(db, clock)
    add_problems(db, clock, cid, 4, category="housing")
    add_problems(db, clock, cid, 2, category="water", tag="水")
    notices = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert [n.office_code for n in notices] == ["jhb", "nyzx"]
    assert [n.number for n in notices] == ["测巩督〔2022〕1号", "测巩督〔2022〕2号"]
    assert [len(n.problem_ids) for n in notices] == [4, 2]
    for n in notices:
        data = db.run(notice_file, n.id)
        assert hashlib.sha256(data).hexdigest() == n.sha256
        assert data[:2] == b"PK"  # a .docx is a zip
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(InboxMessage)) == 2
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2


def test_same_batch_returns_same_notices_and_new_batch_only_new_problems(
        db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    add_problems(db, clock, cid, 3)
    first = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    again = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert [n.number for n in again] == [n.number for n in first]
    assert db.run(issue_notices, clock, cid, issued_by="county", batch_key="b2") == []
    add_problems(db, clock, cid, 2, tag="新")
    later = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b3")
    assert [n.number for n in later] == ["测巩督〔2022〕2号"]
    assert len(later[0].problem_ids) == 2


def test_void_keeps_number_and_frees_problems(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    add_problems(db, clock, cid, 2)
    (first,) = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    db.run(add_user, clock, username="county", name="县办", role=Role.COUNTY)
    voided = db.run(void_notice, clock, first.id, username="county", reason="清单有误")
    assert voided.voided
    (second,) = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b2")
    assert second.number == "测巩督〔2022〕2号"
    assert set(second.problem_ids) == set(first.problem_ids)
    numbers = [n.number for n in db.run(list_notices, cid)]
    assert numbers == ["测巩督〔2022〕1号", "测巩督〔2022〕2号"]
    with pytest.raises(DubanError):
        db.run(void_notice, clock, first.id, username="county", reason="再次")


def test_receipt_only_by_addressee_and_once(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    add_problems(db, clock, cid, 2)
    (notice,) = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    db.run(add_user, clock, username="jhb1", name="建环办甲", role=Role.OFFICE, office="jhb")
    db.run(add_user, clock, username="ny1", name="农业乙", role=Role.OFFICE, office="nyzx")
    with pytest.raises(PermissionDenied):
        db.run(acknowledge_notice, clock, notice.id, "ny1")
    signed = db.run(acknowledge_notice, clock, notice.id, "jhb1")
    assert signed.acknowledged_by == "jhb1"
    with pytest.raises(DubanError):
        db.run(acknowledge_notice, clock, notice.id, "jhb1")


def test_tampered_file_is_refused(db: Database, clock: FixedClock) -> None:
    cid = launch(db, clock)
    add_problems(db, clock, cid, 1)
    (notice,) = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    path = data_dir() / notice.file_path
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(NoticeFileCorrupt):
        db.run(notice_file, notice.id)


def test_failed_render_uses_no_number(db: Database, clock: FixedClock,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import duban.services.notices.issuing as notices

    cid = launch(db, clock)
    add_problems(db, clock, cid, 2)

    def broken(ctx: object, path: object, template_dir: object = None) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(notices, "_render_notice", broken)
    with pytest.raises(RuntimeError):
        db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    monkeypatch.undo()
    (notice,) = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert notice.number == "测巩督〔2022〕1号"
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == 1



def test_a_batch_whose_transaction_failed_is_not_rendered_again(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: the retry takes the same numbers and reuses the documents rendered for them."""
    cid = launch(db, clock)
    add_problems(db, clock, cid, 4, category="housing")
    add_problems(db, clock, cid, 2, category="water", tag="水")
    lost = LostCommit(monkeypatch)
    rendered = lost.rendered
    with pytest.raises(RuntimeError, match="connection lost"):
        db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert rendered == ["测巩督〔2022〕1号", "测巩督〔2022〕2号"]
    lost.restore()
    issued = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert [n.number for n in issued] == ["测巩督〔2022〕1号", "测巩督〔2022〕2号"]
    assert len(rendered) == 2, "the retry rendered again"
    for n in issued:
        assert hashlib.sha256(db.run(notice_file, n.id)).hexdigest() == n.sha256
    # Another problem for the first office: its next notice is a new document, rendered.
    add_problems(db, clock, cid, 1, category="housing", tag="新")
    (later,) = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b2")
    assert rendered[2:] == [later.number] == ["测巩督〔2022〕3号"]


def test_notices_rendered_side_by_side_are_the_ones_rendered_one_by_one(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Worker processes render the batch's notices (issue 17): the files are byte for byte
    those the calling process renders, with the numbers and order unchanged."""
    import concurrent.futures

    from duban.adapters.documents import parallel

    cid = launch(db, clock)
    add_problems(db, clock, cid, 4, category="housing")
    add_problems(db, clock, cid, 2, category="water", tag="水")
    pools: list[object] = []
    jobs: list[parallel.Job] = []
    real_pool, real_render_all = concurrent.futures.ProcessPoolExecutor, parallel.render_all

    def counted(*args: Any, **kwargs: Any) -> concurrent.futures.ProcessPoolExecutor:
        pools.append(args)
        return real_pool(*args, **kwargs)

    def kept(batch: Sequence[parallel.Job], weights: Sequence[int] | None = None) -> None:
        jobs.extend(batch)
        real_render_all(batch, weights)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", counted)
    monkeypatch.setattr(parallel, "render_all", kept)
    monkeypatch.setattr(parallel, "POOL_MIN", 2)
    monkeypatch.setenv("DUBAN_RENDER_PROCESSES", "2")
    parallel.close_pool()
    notices = db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert len(pools) == 1 and len(jobs) == 2
    assert [n.number for n in notices] == ["测巩督〔2022〕1号", "测巩督〔2022〕2号"]
    for n, (render, ctx, _, templates) in zip(notices, jobs, strict=True):
        data = db.run(notice_file, n.id)
        assert hashlib.sha256(data).hexdigest() == n.sha256
        here = tmp_path / f"{n.id}.docx"
        render(ctx, here, template_dir=templates)
        # Same parts, same bytes (the zip's own entry times are the moment of writing).
        with zipfile.ZipFile(here) as mine, zipfile.ZipFile(io.BytesIO(data)) as theirs:
            assert mine.namelist() == theirs.namelist()
            for name in mine.namelist():
                assert mine.read(name) == theirs.read(name), name


def _offices_leading(db: Database, clock: FixedClock, cid: int, n: int, tag: str) -> None:
    """`n` more county offices with a contact's e-mail, each leading one new problem."""
    ids = add_problems(db, clock, cid, n, tag=tag)
    with db.transaction() as s:
        s.execute(insert(Office), [
            {"campaign_id": cid, "code": f"{tag}{i}", "name": f"县直单位{tag}{i}",
             "level": "county", "town_code": None, "head": "", "webhook": "",
             "contacts": [{"name": "联络员", "email": f"{tag}{i}@example.cn"}]}
            for i in range(n)])
        for i, pid in enumerate(ids):
            s.execute(update(Problem).where(Problem.id == pid).values(lead_office=f"{tag}{i}"))


def test_issuing_statements_do_not_grow_with_the_notices(db: Database,
                                                         clock: FixedClock) -> None:
    """A batch's notice rows, listed problems and messages go in a few statements a table:
    issuing eight notices runs no more statements than issuing two (it ran ~10 more a notice:
    each message's address query, dedupe query and two INSERTs, and each notice's rows)."""
    cid = launch(db, clock)
    counts = []
    ran: list[str] = []

    def count(*args: Any) -> None:
        ran.append(args[2])  # the statement

    for batch, n in (("b", 2), ("c", 8)):
        _offices_leading(db, clock, cid, n, batch)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            notices = db.run(issue_notices, clock, cid, issued_by="county", batch_key=batch)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert [n.office_code for n in notices] == [f"{batch}{i}" for i in range(n)]
        counts.append(len(ran))
        ran.clear()
        with db.transaction() as s:  # an inbox and an e-mail row each, one inbox message
            assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.dedupe_key.in_([f"notice:{x.id}:issued:email:{x.office_code}@example.cn"
                                              for x in notices]))) == n
            assert s.scalar(select(func.count()).select_from(InboxMessage).where(
                InboxMessage.office_code.in_([x.office_code for x in notices]))) == n
    assert counts[1] - counts[0] < 6, counts  # less than one more statement a notice


def test_a_batch_of_messages_writes_what_one_at_a_time_wrote(db: Database,
                                                             clock: FixedClock) -> None:
    """enqueue_all skips a dedupe key written before, or by an earlier message of the same
    batch, as successive enqueue calls did; a message wholly written adds no inbox row."""
    from duban.domain.plan import Audience
    from duban.services.campaigns import load_plan_of
    from duban.services.messages import Message, enqueue, enqueue_all, office_rows

    cid = launch(db, clock)
    with db.transaction() as s:
        plan = load_plan_of(s, cid)
        office = office_rows(s, cid)["jhb"]
        assert enqueue(s, clock, plan, campaign_id=cid, target=office, audience=Audience.OFFICE,
                       kind="k", subject="一", body="一", dedupe_key="k1") >= 1
        before = s.scalar(select(func.count()).select_from(OutboxMessage))
        added = enqueue_all(s, clock, plan, cid, [
            Message(target=office, audience=Audience.OFFICE, kind="k", subject="一", body="一",
                    dedupe_key="k1"),
            Message(target=office, audience=Audience.OFFICE, kind="k", subject="二", body="二",
                    dedupe_key="k2"),
            Message(target=office, audience=Audience.OFFICE, kind="k", subject="二", body="二",
                    dedupe_key="k2"),
        ])
        assert added == s.scalar(select(func.count()).select_from(OutboxMessage)) - before
        assert sorted(s.scalars(select(InboxMessage.dedupe_key))) == ["k1", "k2"]
        assert [m.subject for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == "k2:inbox"))] == ["二"]
