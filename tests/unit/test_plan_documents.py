"""The plan's `documents` section and category 整改要求: one 发文机关 for every document."""

from __future__ import annotations

import json

import pytest

from duban.adapters.plan import wire
from duban.adapters.plan.codec import decode_plan, encode_plan
from duban.domain.plan import Contact
from duban.domain.plan_check import PlanInvalid
from tests.unit.test_plan_wire import base


def test_documents_default_to_the_issuer_short_then_the_issuer() -> None:
    plan = wire.parse_plan(base())
    assert plan.document_issuer == plan.document_mark == plan.document_printer == plan.issuer
    data = base()
    data["issuer_short"] = "测试乡巩固办"
    plan = wire.parse_plan(data)
    assert plan.document_issuer == plan.document_mark == plan.document_printer == "测试乡巩固办"
    assert plan.documents.copy_to == () and plan.documents.contact is None


def test_documents_section_names_each_part_and_survives_storage() -> None:
    data = base()
    data["documents"] = {
        "issuer": "测试乡人民政府办公室", "mark": "测试乡人民政府", "printer": "测试乡党政办",
        "copy_to": ["县委办公室", "县政府办公室", "县委办公室"],
        "contact": {"name": "王明", "phone": "0394-5212345"},
    }
    data["categories"][0]["requirement"] = "完成危房改造并补齐鉴定资料"
    plan = wire.parse_plan(data)
    assert plan.document_issuer == "测试乡人民政府办公室"
    assert plan.document_mark == "测试乡人民政府"
    assert plan.document_printer == "测试乡党政办"
    assert plan.documents.copy_to == ("县委办公室", "县政府办公室")
    assert plan.documents.contact == Contact("王明", "0394-5212345")
    code = plan.categories[0].code
    assert plan.category_requirement(code) == "完成危房改造并补齐鉴定资料"
    assert plan.category_requirement(plan.categories[1].code) == ""
    stored = json.loads(json.dumps(encode_plan(plan), ensure_ascii=False))
    assert decode_plan(stored) == plan


def test_documents_section_mistakes_name_the_field() -> None:
    data = base()
    data["documents"] = {"issuer": "x", "seal": "y", "copy_to": [3],
                         "contact": {"name": "王明", "phone": "电话"}}
    with pytest.raises(PlanInvalid) as info:
        wire.parse_plan(data)
    text = str(info.value)
    assert "documents.seal 未知字段" in text
    assert "documents.copy_to[0] 应为文本" in text
    assert "documents.contact.phone 电话号码格式不对：电话" in text
