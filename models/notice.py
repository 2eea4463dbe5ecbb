"""Issued documents (督办通知书, 催办通知, 通报), their 文号 register and receipts (签收)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class DocumentNumberRegister(Base):
    """The next 文号 sequence number of one 机关代字 in one year; locked while numbering."""

    __tablename__ = "document_number_register"
    __table_args__ = (UniqueConstraint("prefix", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(50))  # 机关代字, e.g. 沈巩督
    year: Mapped[int]
    next_number: Mapped[int] = mapped_column(default=1)


class Notice(Base):
    """An issued, numbered document; voided ones stay on record with their number."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("prefix", "year", "seq"),
        UniqueConstraint("campaign_id", "kind", "batch_key", "office_code"),
        Index("ix_notice_campaign_office", "campaign_id", "office_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # notice / reminder / bulletin
    number: Mapped[str] = mapped_column(String(100), unique=True)  # 文号
    prefix: Mapped[str] = mapped_column(String(50))
    year: Mapped[int]
    seq: Mapped[int]
    office_code: Mapped[str] = mapped_column(String(80))  # addressee; "" for county-wide 通报
    title: Mapped[str] = mapped_column(String(300))
    problem_ids: Mapped[list[Any]] = mapped_column(default=list)
    issued_at: Mapped[dt.datetime]
    issued_on: Mapped[dt.date]
    issued_by: Mapped[str] = mapped_column(String(100))
    batch_key: Mapped[str] = mapped_column(String(200))
    file_path: Mapped[str] = mapped_column(String(500))  # relative to the data directory
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    voided: Mapped[bool] = mapped_column(default=False)
    void_reason: Mapped[str | None] = mapped_column(Text)
    voided_at: Mapped[dt.datetime | None]
    voided_by: Mapped[str | None] = mapped_column(String(100))
    reminders_sent: Mapped[int] = mapped_column(default=0)  # unacknowledged-notice reminders
    last_reminded_on: Mapped[dt.date | None]


class NoticeProblem(Base):
    """A problem on a live 督办通知书 to one office (its lead or a co-office).

    At most one live notice of a kind lists a problem for the same office, by constraint; a
    co-office's own notice lists the problem a second time, for that office.
    """

    __tablename__ = "notice_problem"
    __table_args__ = (UniqueConstraint("problem_id", "kind", "office_code"),)

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True
    )
    problem_id: Mapped[int] = mapped_column(
        ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    office_code: Mapped[str] = mapped_column(String(80))  # the addressee it is listed for
    co_office: Mapped[bool] = mapped_column(default=False)  # listed for a co-office (配合)


class NoticeCopy(Base):
    """An office a document is copied to besides its addressee: it lists and may read it.

    A co-office the plan copies (抄送) rather than notifies, or a town a 通报 names and the
    town's 包保 county unit (seed 004's 一票否决).
    """

    __tablename__ = "notice_copy"

    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notice.id", ondelete="CASCADE"), primary_key=True
    )
    office_code: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)


class NoticeReceipt(Base):
    """The addressee's receipt (签收) of a notice: once per notice."""

    __tablename__ = "notice_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(
        ForeignKey("notice.id", ondelete="CASCADE"), unique=True
    )
    office_code: Mapped[str] = mapped_column(String(80))
    username: Mapped[str] = mapped_column(String(50))
    received_at: Mapped[dt.datetime]


class NoticeRound(Base):
    """A rolling round of 督办通知书 for problems found after the rectify stage began.

    One row per campaign and round (a day, or an ISO week), written in the transaction that
    issues the round's notices, so a round runs once even when it finds nothing to issue.
    """

    __tablename__ = "notice_round"
    __table_args__ = (UniqueConstraint("campaign_id", "round_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    round_key: Mapped[str] = mapped_column(String(30))  # 2022-09-27 or 2022-W39
    ran_at: Mapped[dt.datetime]
    notices: Mapped[int] = mapped_column(default=0)
