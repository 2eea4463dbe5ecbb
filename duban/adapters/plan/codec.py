"""The stored form of a validated plan: JSON-serialisable data in, the typed Plan out.

`encode_plan` writes what a campaign's plan version keeps; `decode_plan` builds the Plan back
without re-running the wire-format parser, because the stored form is only ever written from a
plan that passed it. The stored form is also valid wire format, so `parse_plan` reads it too.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from functools import cache
from typing import Any

from duban.domain.plan import Plan

__all__ = ["decode_plan", "encode_plan"]

# Dataclass fields whose stored key is shorter than the field name (the YAML spelling).
_KEY_FOR_FIELD = {"offset_working_days": "offset", "recurrence": "every"}


def _plain(value: object) -> Any:
    """A plan value as JSON-serialisable data: enums by value, dates and times as text."""
    if is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if item is not None:
                out[_KEY_FOR_FIELD.get(f.name, f.name)] = _plain(item)
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def encode_plan(plan: Plan) -> dict[str, Any]:
    """The plan as JSON-serialisable data (dates as ISO strings); decode_plan reverses it."""
    data: dict[str, Any] = _plain(plan)
    return data


_Reader = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _reader(kind: Any) -> _Reader:
    """How to turn stored data back into a value of the annotated type `kind`."""
    origin = typing.get_origin(kind)
    if origin is types.UnionType or origin is typing.Union:
        # Only `X | None` occurs in the plan; None is never stored (encode_plan drops it).
        (inner,) = (a for a in typing.get_args(kind) if a is not type(None))
        return _reader(inner)
    if origin is tuple:
        item = _reader(typing.get_args(kind)[0])
        return lambda values: tuple(item(v) for v in values)
    if isinstance(kind, type) and is_dataclass(kind):
        return _dataclass_reader(kind)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind
    if kind is dt.date:
        return dt.date.fromisoformat
    if kind is dt.time:
        return dt.time.fromisoformat
    if kind is float:
        return float  # JSON may give 1 for 1.0
    return _same


@cache
def _dataclass_reader(cls: type) -> _Reader:
    """A reader for one dataclass, built once from its resolved annotations."""
    hints = typing.get_type_hints(cls)
    readers = [
        (_KEY_FOR_FIELD.get(f.name, f.name), f.name, _reader(hints[f.name])) for f in fields(cls)
    ]

    def read(data: Mapping[str, Any]) -> Any:
        # A field stored under its own name (duties' `recurrence`, stored so for a few minutes
        # of 2026-12-03 before it took its wire key `every`) is read too.
        return cls(
            **{name: read_one(data[key] if key in data else data[name])
               for key, name, read_one in readers if key in data or name in data}
        )

    return read


def decode_plan(data: Mapping[str, Any]) -> Plan:
    """The typed Plan from its stored form (what encode_plan wrote)."""
    plan: Plan = _dataclass_reader(Plan)(data)
    return plan
