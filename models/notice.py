"""Issued documents (督办通知书, 催办通知, 通报), their 文号 register and receipts (签收)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Mapped

from models import tables
from models.base import Base


class DocumentNumberRegister(Base):
    """The next 文号 sequence number of one 机关代字 in one year; locked while numbering."""

    __table__ = tables.document_number_register

    id: Mapped[int]
    prefix: Mapped[str]  # 机关代字, e.g. 沈巩督
    year: Mapped[int]
    next_number: Mapped[int]


class Notice(Base):
    """An issued, numbered document; voided ones stay on record with their number."""

    __table__ = tables.notice

    id: Mapped[int]
    campaign_id: Mapped[int]
    kind: Mapped[str]  # notice / reminder / bulletin
    number: Mapped[str]  # 文号
    prefix: Mapped[str]
    year: Mapped[int]
    seq: Mapped[int]
    office_code: Mapped[str]  # addressee; "" for county-wide 通报
    title: Mapped[str]
    problem_ids: Mapped[list[Any]]
    issued_at: Mapped[dt.datetime]
    issued_on: Mapped[dt.date]
    issued_by: Mapped[str]
    batch_key: Mapped[str]
    file_path: Mapped[str]  # relative to the data directory
    sha256: Mapped[str]
    size: Mapped[int]
    list_path: Mapped[str | None]  # the full list (.xlsx) of a notice too long for its 附件
    list_sha256: Mapped[str | None]
    list_size: Mapped[int | None]
    voided: Mapped[bool]
    void_reason: Mapped[str | None]
    voided_at: Mapped[dt.datetime | None]
    voided_by: Mapped[str | None]
    reminders_sent: Mapped[int]  # unacknowledged-notice reminders
    last_reminded_on: Mapped[dt.date | None]


class NoticeProblem(Base):
    """A problem on a live 督办通知书 to one office (its lead or a co-office).

    At most one live notice of a kind lists a problem for the same office, by constraint; a
    co-office's own notice lists the problem a second time, for that office.
    """

    __table__ = tables.notice_problem

    notice_id: Mapped[int]
    problem_id: Mapped[int]
    kind: Mapped[str]
    office_code: Mapped[str]  # the addressee it is listed for
    co_office: Mapped[bool]  # listed for a co-office (配合)


class NoticeCopy(Base):
    """An office a document is copied to besides its addressee: it lists and may read it.

    A co-office the plan copies (抄送) rather than notifies, or a town a 通报 names and the
    town's 包保 county unit (seed 004's 一票否决).
    """

    __table__ = tables.notice_copy

    notice_id: Mapped[int]
    office_code: Mapped[str]


class NoticeReceipt(Base):
    """The addressee's receipt (签收) of a notice: once per notice."""

    __table__ = tables.notice_receipt

    id: Mapped[int]
    notice_id: Mapped[int]
    office_code: Mapped[str]
    username: Mapped[str]
    received_at: Mapped[dt.datetime]


class NoticeRound(Base):
    """A rolling round of 督办通知书 for problems found after the rectify stage began.

    One row per campaign and round (a day, or an ISO week), written in the transaction that
    issues the round's notices, so a round runs once even when it finds nothing to issue.
    """

    __table__ = tables.notice_round

    id: Mapped[int]
    campaign_id: Mapped[int]
    round_key: Mapped[str]  # 2022-09-27 or 2022-W39
    ran_at: Mapped[dt.datetime]
    notices: Mapped[int]
