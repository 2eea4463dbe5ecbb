"""Request validation errors (FastAPI's pydantic messages) in Chinese.

Pydantic words its errors in English ("Input should be greater than or equal to 1"); a clerk
reads "参数 page 应不小于 1". Each error is rewritten from its `type` and `ctx`; an unknown type
falls back to a plain Chinese sentence, never to the English text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The query and form fields people meet, by their Chinese meaning.
FIELD_LABELS = {
    "page": "页码", "size": "每页条数", "limit": "条数", "campaign": "行动编号",
    "campaign_id": "行动编号", "month": "月份", "status": "状态", "town": "乡镇",
    "office": "办室", "q": "搜索词", "search": "搜索词", "file": "文件", "kind": "类型",
    "note": "说明", "username": "用户名", "password": "密码", "days": "天数",
}

_TEMPLATES: dict[str, str] = {
    "missing": "{field}缺少（必填）",
    "greater_than_equal": "{field}应不小于 {ge}",
    "greater_than": "{field}应大于 {gt}",
    "less_than_equal": "{field}应不大于 {le}",
    "less_than": "{field}应小于 {lt}",
    "int_parsing": "{field}应为整数",
    "int_type": "{field}应为整数",
    "int_from_float": "{field}应为整数",
    "float_parsing": "{field}应为数字",
    "float_type": "{field}应为数字",
    "bool_parsing": "{field}应为是或否",
    "bool_type": "{field}应为是或否",
    "string_too_long": "{field}过长（最多 {max_length} 个字）",
    "string_too_short": "{field}过短（至少 {min_length} 个字）",
    "string_type": "{field}应为文本",
    "date_parsing": "{field}应为日期，如 2022-05-06",
    "date_from_datetime_parsing": "{field}应为日期，如 2022-05-06",
    "date_type": "{field}应为日期，如 2022-05-06",
    "datetime_parsing": "{field}应为时间，如 2022-05-06T09:00",
    "enum": "{field}取值不对（可选：{expected}）",
    "literal_error": "{field}取值不对（可选：{expected}）",
    "too_long": "{field}项数过多（最多 {max_length} 项）",
    "too_short": "{field}项数过少（至少 {min_length} 项）",
    "json_invalid": "请求内容不是有效的 JSON",
    "model_attributes_type": "请求内容格式不对",
    "dict_type": "{field}应为对象",
    "list_type": "{field}应为列表",
    "string_pattern_mismatch": "{field}格式不对",
    "value_error": "{field}取值不对",
}


def field_label(loc: Iterable[Any]) -> str:
    """How an error's location reads: 参数“页码”, without the where (query, body)."""
    parts = [str(p) for p in list(loc)[1:]] or [str(p) for p in loc]
    name = ".".join(parts)
    label = FIELD_LABELS.get(parts[-1], name) if parts else ""
    return f"参数“{label}”" if label else "请求"


def chinese_message(error: Mapping[str, Any]) -> str:
    """One validation error in Chinese."""
    field = field_label(error.get("loc", ()))
    ctx = {str(k): v for k, v in (error.get("ctx") or {}).items()}
    template = _TEMPLATES.get(str(error.get("type", "")), "{field}取值不对")
    try:
        return template.format(field=field, **ctx)
    except (KeyError, IndexError):
        return f"{field}取值不对"


def chinese_messages(errors: Iterable[Mapping[str, Any]]) -> str:
    """Every error, joined as one Chinese line."""
    return "；".join(dict.fromkeys(chinese_message(e) for e in errors))
