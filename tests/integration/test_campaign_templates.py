"""A campaign's own templates override the shipped ones; a broken one issues nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import func, select

from duban.adapters.documents import TemplateError
from duban.adapters.plan.yaml_file import load_plan_file
from duban.domain.clock import FixedClock
from duban.domain.household import ReportedProblem
from duban.services.campaigns import launch_campaign
from duban.services.database import Database
from duban.services.notices.issuing import issue_notices
from duban.services.problems import record_problems
from duban.services.templates import TemplateFolderError, install_templates
from models import DocumentNumberRegister, Notice
from tests.conftest import PLANS, ROOT

SHIPPED = ROOT / "templates" / "documents" / "notice.docx"


pytestmark = pytest.mark.usefixtures("data_dir")


def _campaign(db: Database, clock: FixedClock) -> int:
    path = PLANS / "seed-002-shenqiu.yaml"
    plan = load_plan_file(path)
    campaign = db.run(launch_campaign,  clock, plan, path.read_text(encoding="utf-8"), "county")
    town = plan.towns[0]
    db.run(record_problems, clock, campaign, [ReportedProblem(
        source=plan.sources[0].code, category="housing", town=town.code,
        village=town.villages[0].code, household_id=None, description="危房未改造",
        found_by="王村干", found_on=dt.date(2022, 9, 20))], recorded_by="county")
    return campaign


def _template(folder: Path, extra: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    doc = Document(str(SHIPPED))
    doc.add_paragraph(extra)
    doc.save(str(folder / "notice.docx"))
    return folder


def test_own_template_overrides_the_shipped_one(db: Database, clock: FixedClock,
                                                tmp_path: Path) -> None:
    campaign = _campaign(db, clock)
    install_templates(campaign, _template(tmp_path / "own", "本行动专用督办模板"))
    # The lead office and the town (seed 002 gives towns their own notice) each get one.
    notices = db.run(issue_notices,  clock, campaign, issued_by="county", batch_key="t1")
    assert len(notices) == 2
    for notice in notices:
        text = "\n".join(p.text for p in Document(str(notice.path)).paragraphs)
        assert "本行动专用督办模板" in text and "督办通知书" in text


def test_a_broken_template_issues_and_numbers_nothing(db: Database, clock: FixedClock,
                                                      tmp_path: Path) -> None:
    campaign = _campaign(db, clock)
    install_templates(campaign, _template(tmp_path / "bad", "{{ 未闭合的变量 "))
    with pytest.raises(TemplateError) as err:
        db.run(issue_notices,  clock, campaign, issued_by="county", batch_key="t2")
    assert "notice.docx" in err.value.message and "行" in err.value.message
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == 0
        registers = s.scalars(select(DocumentNumberRegister)).all()
        assert all(r.next_number == 1 for r in registers)


def test_unknown_files_are_refused_whole(tmp_path: Path) -> None:
    folder = _template(tmp_path / "mixed", "x")
    (folder / "通知.docx").write_bytes(b"not a zip")
    with pytest.raises(TemplateFolderError, match=r"通知\.docx"):
        install_templates(1, folder)
