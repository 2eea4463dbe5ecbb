"""Every document of a campaign names one 发文机关 in its mark, signature and 版记 (issue 16)."""

from __future__ import annotations

from pathlib import Path

from docx import Document

from duban.adapters.documents import ContactPerson, render_notice
from duban.adapters.plan.yaml_file import load_plan_file
from duban.services.notices.documents import letterhead
from duban.services.notices.issuing import GENERAL_REQUIREMENT, _requirement
from tests.integration.test_documents_fixtures import (
    notice_context,
    para_text,
    paragraphs_with_style,
)

SEED_002 = Path(__file__).resolve().parents[2] / "plans" / "seed-002-shenqiu.yaml"
OFFICE = "沈丘县巩固拓展脱贫攻坚成果工作领导小组办公室"


def test_seed_002_documents_come_from_the_office_throughout(tmp_path: Path) -> None:
    plan = load_plan_file(SEED_002)
    head = letterhead(plan, ContactPerson("刘国强", "0394-5212345"))
    assert head["issuer"] == head["issuer_mark"] == head["printer"] == OFFICE
    assert head["copy_to"] == ["县委办公室", "县政府办公室"]
    doc = Document(str(render_notice(notice_context(3, **head), tmp_path / "n.docx")))
    (mark,) = paragraphs_with_style(doc, "GBMark")
    (sig,) = paragraphs_with_style(doc, "GBSignature")
    colophon = [para_text(p) for p in paragraphs_with_style(doc, "GBColophon")]
    assert para_text(mark) == para_text(sig) == OFFICE
    assert colophon[0] == "抄送：县委办公室，县政府办公室。"
    assert colophon[-1].startswith(OFFICE + "\t")
    notes = [para_text(p) for p in paragraphs_with_style(doc, "GBNote")]
    assert notes == ["（联系人：刘国强，联系电话：0394-5212345）"]


def test_requirement_comes_from_the_category_rule() -> None:
    plan = load_plan_file(SEED_002)
    housing = "对新发现C、D级危房立即改造，房屋鉴定符合规定要求"
    assert _requirement(plan, "housing", co_office=False) == housing
    assert _requirement(plan, "housing", co_office=True) == "配合牵头单位：" + housing
    assert _requirement(plan, "income", co_office=False) == GENERAL_REQUIREMENT
