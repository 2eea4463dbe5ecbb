"""A 督办通知书 over DUBAN_NOTICE_INLINE_LIMIT problems: a per-town summary on its 附件 page
and the full 督办问题清单 as an .xlsx beside it, kept, reused, mailed and swept with it."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import io
import zipfile
from typing import Any

import docx
import openpyxl
import pytest
from sqlalchemy import func, select

from duban.adapters.documents.xlsx import NOTICE_LIST_HEADERS
from duban.adapters.messaging import SmtpSettings, send_email
from duban.domain.clock import FixedClock
from duban.services.database import Database, data_dir
from duban.services.files import sweep_files
from duban.services.notices.issuing import DEFAULT_INLINE_LIMIT, issue_notices, notice_inline_limit
from duban.services.notices.reading import NoticeRow, notice_file, notice_list_file
from duban.services.outbox import Senders
from models import Notice, Problem, Town, Village
from tasks.delivery import deliver
from tests.orchestration.helpers import add_problems, at, launch, make_plan
from tests.orchestration.test_outbox import _Mailbox, smtp_server  # noqa: F401
from tests.support import LostCommit


def _campaign(db: Database, clock: FixedClock, plan: Any = None) -> int:
    """Five housing problems (建环办) and two water problems (农业中心)."""
    cid = launch(db, clock, plan)
    add_problems(db, clock, cid, 5, category="housing")
    add_problems(db, clock, cid, 2, category="water", tag="水")
    return cid


def _issue(db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, limit: str,
           plan: Any = None) -> tuple[int, list[NoticeRow]]:
    """`_campaign`'s problems issued with DUBAN_NOTICE_INLINE_LIMIT=limit."""
    monkeypatch.setenv("DUBAN_NOTICE_INLINE_LIMIT", limit)
    cid = _campaign(db, clock, plan)
    return cid, db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")


def _tables(data: bytes) -> list[list[list[str]]]:
    document = docx.Document(io.BytesIO(data))
    return [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]


def _text(data: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)


def test_a_notice_over_the_limit_has_its_full_list_as_a_spreadsheet(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    cid, (jhb, nyzx) = _issue(db, clock, monkeypatch, "4")
    assert (jhb.office_code, len(jhb.problem_ids)) == ("jhb", 5)
    assert (nyzx.office_code, len(nyzx.problem_ids)) == ("nyzx", 2)
    assert nyzx.list_path is None  # at or below the limit: the notice as before
    assert jhb.list_path is not None and jhb.list_path.endswith(".xlsx")
    sheet = db.run(notice_list_file, jhb.id)
    assert hashlib.sha256(sheet).hexdigest() == jhb.list_sha256
    book = openpyxl.load_workbook(io.BytesIO(sheet))
    ws = book.active
    assert ws.title == "督办问题清单" and ws.freeze_panes == "A2"
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert tuple(rows[0]) == NOTICE_LIST_HEADERS
    # The Word 附件 table of a short notice has the same columns.
    assert tuple(_tables(db.run(notice_file, nyzx.id))[0][0]) == NOTICE_LIST_HEADERS
    with db.transaction() as s:
        towns = dict(s.execute(select(Town.code, Town.name).where(Town.campaign_id == cid)).all())
        villages = dict(s.execute(select(Village.code, Village.name)
                                  .where(Village.campaign_id == cid)).all())
        listed = {p.code: p for p in s.scalars(select(Problem).where(
            Problem.id.in_(jhb.problem_ids)))}
    assert [r[0] for r in rows[1:]] == [1, 2, 3, 4, 5]
    assert {r[1] for r in rows[1:]} == set(listed)
    for r in rows[1:]:
        p = listed[r[1]]
        assert r[2] == towns[p.town_code] + villages[p.village_code]  # names, never codes
        assert r[4] == p.description
        assert r[6]  # a date in words, or the words of a deadline counted from the 签收
    widths = [ws.column_dimensions[c].width for c in "ABCDEFGH"]
    assert all(6 <= w <= 60 for w in widths) and widths[4] > widths[0]
    # The .docx: the attachment note names the spreadsheet, the 附件 page summarises it.
    data = db.run(notice_file, jhb.id)
    name = "测巩督〔2022〕1号-建环办-督办问题清单.xlsx"
    text = _text(data)
    assert f"附件：督办问题清单（电子表格：{name}）" in text
    assert f"《{name}》" in text and "本清单共列问题5个" in text
    assert not any(code in text for code in listed)
    (summary,) = _tables(data)
    # The plan's towns are 城关镇 and 河口乡: no 办事处 in its words.
    assert summary[0] == ["序号", "乡镇", "问题数", "牵头", "配合", "最早整改时限"]
    by_town: dict[str, int] = {}
    for p in listed.values():
        by_town[towns[p.town_code]] = by_town.get(towns[p.town_code], 0) + 1
    body, total = summary[1:-1], summary[-1]
    assert {r[1]: int(r[2]) for r in body} == by_town
    assert all(int(r[3]) + int(r[4]) == int(r[2]) for r in body)
    assert total[1:5] == ["合计", "5", "5", "0"]
    assert sum(int(r[2]) for r in body) == len(rows) - 1 == len(jhb.problem_ids)


def test_a_notice_at_the_limit_lists_its_problems_in_the_docx(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    _cid, (jhb, _nyzx) = _issue(db, clock, monkeypatch, "5")
    assert jhb.list_path is None and jhb.list_sha256 is None
    data = db.run(notice_file, jhb.id)
    (table,) = _tables(data)
    assert len(table) == 1 + 5 and "电子表格" not in _text(data)
    assert "附件：督办问题清单" in _text(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert not [n for n in z.namelist() if n.endswith(".xlsx")]


def test_the_limit_is_an_integer_of_at_least_one(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUBAN_NOTICE_INLINE_LIMIT", raising=False)
    assert notice_inline_limit() == DEFAULT_INLINE_LIMIT == 200
    monkeypatch.setenv("DUBAN_NOTICE_INLINE_LIMIT", " 7 ")
    assert notice_inline_limit() == 7
    for bad in ("0", "-3", "abc", "2.5"):
        monkeypatch.setenv("DUBAN_NOTICE_INLINE_LIMIT", bad)
        with pytest.raises(ValueError, match=rf"DUBAN_NOTICE_INLINE_LIMIT 的值“{bad}”无效"):
            notice_inline_limit()
    # Refused before anything is numbered or written.
    cid = launch(db, clock)
    add_problems(db, clock, cid, 2)
    with pytest.raises(ValueError, match="不小于1的整数"):
        db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == 0


def test_a_retry_reuses_the_spreadsheet_rendered_for_it(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_NOTICE_INLINE_LIMIT", "3")
    cid = _campaign(db, clock)
    lost = LostCommit(monkeypatch)
    rendered = lost.rendered
    with pytest.raises(RuntimeError, match="connection lost"):
        db.run(issue_notices, clock, cid, issued_by="county", batch_key="b1")
    assert rendered == ["测巩督〔2022〕1号", "测巩督〔2022〕2号"]  # 建环办's is over the limit
    sheets = sorted((data_dir() / "documents").glob("*.xlsx"))
    assert len(sheets) == 1
    lost.restore()
    (notice,) = [n for n in db.run(issue_notices, clock, cid, issued_by="county",
                                   batch_key="b1") if n.list_path]
    assert len(rendered) == 2, "the retry rendered again"
    assert notice.list_path == f"documents/{sheets[0].name}"
    assert hashlib.sha256(db.run(notice_list_file, notice.id)).hexdigest() == notice.list_sha256
    # The sweep keeps what a row names and nothing else is left behind.
    swept = db.run(sweep_files, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert notice.list_path not in swept.removed_orphans
    assert (data_dir() / notice.list_path).is_file()
    assert not list((data_dir() / "documents").glob(".render-*"))


def test_the_notice_mail_carries_the_docx_and_the_spreadsheet(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        smtp_server: tuple[SmtpSettings, _Mailbox]) -> None:  # noqa: F811
    settings, box = smtp_server
    clock.set(at(2022, 9, 20, 10))
    _cid, issued = _issue(db, clock, monkeypatch, "3", make_plan(email="jhb@example.org"))
    (jhb,) = [n for n in issued if n.office_code == "jhb"]
    senders = Senders(email=lambda to, s, b, attachments=(): send_email(
        settings, to, s, b, attachments=attachments), webhook=lambda *a: None)
    deliver(db, clock, senders=senders)
    mails = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
             for m in box.messages]
    (mail,) = [m for m in mails if jhb.number in str(m["Subject"])]
    files = {str(p.get_filename()): bytes(p.get_payload(decode=True))
             for p in mail.iter_attachments()}
    sheet = "测巩督〔2022〕1号-建环办-督办问题清单.xlsx"
    assert files == {"测巩督〔2022〕1号-建环办.docx": db.run(notice_file, jhb.id),
                     sheet: db.run(notice_list_file, jhb.id)}
    body = str(mail.get_body(preferencelist=("plain",)).get_content())
    assert f"《{sheet}》" in body
