"""Reports are delivered: the daily report and the monthly ranking reach their audience.

Mail goes to a real local SMTP server (aiosmtpd); the .docx arrives attached and opens.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import io
from typing import Any

import docx
import pytest
from sqlalchemy import select

from duban.adapters.messaging import SmtpSettings, send_email
from duban.domain.clock import FixedClock
from duban.domain.plan import (
    Channel,
    Contact,
    Office,
    OfficeLevel,
    Plan,
    ReportAudience,
    ReportSchedule,
    ReviewPolicy,
    SupervisionGroup,
)
from duban.services.database import Database
from duban.services.messages import list_inbox
from duban.services.outbox import Senders
from duban.services.reports.delivery import deliver_daily_report
from models import OutboxMessage, SpotCheck, SpotCheckDraw
from tasks.delivery import deliver
from tests.orchestration.helpers import add_problems, at, launch, make_plan, use_database
from tests.orchestration.test_outbox import _Mailbox, _subject, smtp_server  # noqa: F401

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"


def report_plan(daily_at: dt.time = dt.time(17, 0), **reports: Any) -> Plan:
    """Two towns with a town office each; every office with its own e-mail address."""
    base = make_plan()
    offices = tuple(dataclasses.replace(o, contacts=(Contact(f"{o.code}联系人", "",
                                                             f"{o.code}@example.org"),))
                    for o in base.offices)
    return dataclasses.replace(
        base,
        offices=(*offices,
                 Office("gov-t1", "城关镇人民政府", OfficeLevel.TOWN, town="t1",
                        contacts=(Contact("镇办", "", "t1@example.org"),)),
                 Office("gov-t2", "河口乡人民政府", OfficeLevel.TOWN, town="t2",
                        contacts=(Contact("乡办", "", "t2@example.org"),))),
        review=ReviewPolicy(groups=(SupervisionGroup("g1", "第一督查组"),)),
        reports=ReportSchedule(daily_at=daily_at, **reports),
    )


def _spot_checks(db: Database, cid: int, day: dt.date, moment: dt.datetime) -> None:
    """Three of the day's spot checks: one passed, one failed with a note, one pending."""
    with db.transaction() as s:
        draw = SpotCheckDraw(campaign_id=cid, day=day, seed=1, drawn_by="system",
                             drawn_at=moment, checks=3, data={})
        s.add(draw)
        s.flush()
        for i, (result, note) in enumerate((("passed", ""), ("failed", "门前仍堆放杂物"),
                                            ("pending", ""))):
            s.add(SpotCheck(campaign_id=cid, draw_id=draw.id, day=day, group_code="g1",
                            kind="village", item_id=f"v{i + 1}", town_code="t1" if i < 2 else "t2",
                            village_code=f"v{i + 1}", draw_seed="s", result=result,
                            checked_by="checker" if result != "pending" else None,
                            checked_at=moment if result != "pending" else None, note=note))


def _senders(settings: SmtpSettings) -> Senders:
    return Senders(
        email=lambda to, s, b, attachments=(): send_email(settings, to, s, b,
                                                          attachments=attachments),
        webhook=lambda *a: None)


def _modern(mail: Any) -> Any:
    """The received message parsed with the modern e-mail API."""
    return email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)


def _body(mail: Any) -> str:
    return str(_modern(mail).get_body(preferencelist=("plain",)).get_content())


def _attachment(mail: Any) -> tuple[str, bytes]:
    (part,) = list(_modern(mail).iter_attachments())
    return str(part.get_filename()), bytes(part.get_payload(decode=True))


def test_daily_report_reaches_county_towns_and_offices_with_the_docx(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        smtp_server: tuple[SmtpSettings, _Mailbox]) -> None:  # noqa: F811
    from prefect.logging import disable_run_logger

    from tasks.orchestration import daily_report_task

    settings, box = smtp_server
    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 26, 9))
    plan = report_plan(daily_to=(ReportAudience.COUNTY.value, ReportAudience.TOWNS.value,
                                 "jhb"))
    cid = launch(db, clock, plan)
    add_problems(db, clock, cid, 3)  # housing → 建环办: t1, t1, t2
    add_problems(db, clock, cid, 1, category="water", tag="水")
    _spot_checks(db, cid, dt.date(2022, 9, 26), clock.now())
    clock.set(at(2022, 9, 26, 16, 59))
    with disable_run_logger():
        assert daily_report_task.fn(cid, clock.now().isoformat()) is None  # before 17:00
        clock.set(at(2022, 9, 26, 17, 5))
        path = daily_report_task.fn(cid, clock.now().isoformat())
        assert path is not None
        assert daily_report_task.fn(cid, clock.now().isoformat()) is None  # written once
    result = deliver(db, clock, senders=_senders(settings))
    assert result.failed == 0
    by_to = {m["To"]: m for m in box.messages}
    assert sorted(by_to) == ["county@example.org", "jhb@example.org", "t1@example.org",
                             "t2@example.org"]
    assert all("问题整改进度日报（2022年9月26日）" in _subject(m) for m in box.messages)
    town = by_to["t1@example.org"]
    body = _body(town)
    assert "本乡镇 城关镇：发现问题3个" in body  # its own row: t1 has two housing + one water
    assert "当日随机抽查3项，合格1项，不合格1项。" in body
    assert "抽查不合格：第一督查组 行政村西村（城关镇西村）" in body
    assert "按问题来源：入户排查4个" in body
    assert "本单位牵头 建环办：发现问题3个" in _body(by_to["jhb@example.org"])
    name, data = _attachment(by_to["county@example.org"])
    assert name == f"{plan.name}-日报-2022年9月26日.docx"  # a name, not the campaign's id
    text = "".join(t.text or "" for t in docx.Document(io.BytesIO(data)).element.body.iter(W))
    assert "四、当日随机抽查" in text
    assert "当日1个督查组共抽查3项，合格1项，不合格1项，待检查0项。" not in text
    assert "当日1个督查组共抽查3项，合格1项，不合格1项，待检查1项。" in text
    assert "门前仍堆放杂物" in text and "第一督查组" in text
    assert "三、问题来源分布" in text and "入户排查" in text
    # Each office also finds it in its inbox; 农业服务中心 was not in the audience.
    assert [m.kind for m in db.run(list_inbox, clock, ["gov-t2"])] == ["daily_report"]
    assert db.run(list_inbox, clock, ["nyzx"]) == []
    # Delivering the same report again adds nothing.
    assert db.run(deliver_daily_report,  clock, cid, dt.date(2022, 9, 26), None) == 0
    assert deliver(db, clock, senders=_senders(settings)).claimed == 0


def test_a_report_written_after_hours_goes_out_next_working_morning(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        smtp_server: tuple[SmtpSettings, _Mailbox]) -> None:  # noqa: F811
    from prefect.logging import disable_run_logger

    from tasks.orchestration import daily_report_task

    settings, box = smtp_server
    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 30, 9))
    cid = launch(db, clock, report_plan(daily_at=dt.time(18, 0),
                                        channels=(Channel.EMAIL,)))
    add_problems(db, clock, cid, 1)
    clock.set(at(2022, 9, 30, 18, 5))  # Friday evening, then the 国庆 holiday
    with disable_run_logger():
        assert daily_report_task.fn(cid, clock.now().isoformat()) is not None
    with db.transaction() as s:
        (row,) = s.scalars(select(OutboxMessage)).all()  # e-mail only, to the county office
    assert row.channel == "email" and row.recipient == "county@example.org"
    assert row.next_attempt_at == at(2022, 10, 8, 8, 30)  # 10/8 is a 调休 working Saturday
    assert deliver(db, clock, senders=_senders(settings)).claimed == 0
    clock.set(at(2022, 10, 8, 8, 31))
    assert deliver(db, clock, senders=_senders(settings)).sent == 1
    assert [m["To"] for m in box.messages] == ["county@example.org"]


def test_monthly_ranking_is_sent_once_to_each_town(
        db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch,
        smtp_server: tuple[SmtpSettings, _Mailbox]) -> None:  # noqa: F811
    from prefect.logging import disable_run_logger

    from tasks.orchestration import monthly_ranking_task

    settings, box = smtp_server
    use_database(db, monkeypatch)
    clock.set(at(2022, 9, 15, 9))
    plan = report_plan(ranking_to=(ReportAudience.COUNTY.value, ReportAudience.TOWNS.value))
    cid = launch(db, clock, plan)
    add_problems(db, clock, cid, 3)
    clock.set(at(2022, 10, 8, 9))
    with disable_run_logger():
        assert monthly_ranking_task.fn(cid, clock.now().isoformat()) == "2022-09"
        monthly_ranking_task.fn(cid, clock.now().isoformat())
    assert deliver(db, clock, senders=_senders(settings)).failed == 0
    assert sorted(m["To"] for m in box.messages) == ["county@example.org", "t1@example.org",
                                                     "t2@example.org"]
    mail = next(m for m in box.messages if m["To"] == "t1@example.org")
    assert "2022年9月考评结果通报" in _subject(mail)
    name, data = _attachment(mail)
    assert name == f"{plan.name}-月考评-2022年9月.docx"
    text = "".join(t.text or "" for t in docx.Document(io.BytesIO(data)).element.body.iter(W))
    assert "城关镇" in text and "河口乡" in text
