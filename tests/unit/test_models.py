"""The mapped classes' annotations say what their Core tables hold (types are read from them)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Date, Integer, String

import models
from models.types import EmptyAsNull, UTCDateTime

# The annotation's Python type for each column type (by the type's class, most specific first).
PYTHON_TYPES = ((EmptyAsNull, "str"), (UTCDateTime, "dt.datetime"), (JSON, "dict|list"),
                (Boolean, "bool"), (Integer, "int"), (Date, "dt.date"), (String, "str"))


def _python_type(column_type: object) -> str:
    return next(name for kind, name in PYTHON_TYPES if isinstance(column_type, kind))


def test_every_column_is_annotated_with_its_type_and_nullability() -> None:
    mismatches = []
    for mapper in models.Base.registry.mappers:
        cls = mapper.class_
        annotations = {k: v for c in reversed(cls.__mro__) for k, v in
                       getattr(c, "__annotations__", {}).items()}
        assert set(annotations) >= {c.key for c in mapper.local_table.columns}, cls.__name__
        for column in mapper.local_table.columns:
            inner = annotations[column.key].removeprefix("Mapped[").removesuffix("]")
            optional = inner.endswith(" | None")
            base = inner.removesuffix(" | None").split("[")[0]
            # EmptyAsNull stores "" as NULL and reads NULL back as "": never None in Python.
            nullable = column.nullable and not isinstance(column.type, EmptyAsNull)
            if optional != nullable or base not in _python_type(column.type).split("|"):
                mismatches.append(f"{cls.__name__}.{column.key}: {inner} for {column.type!r}, "
                                  f"nullable={column.nullable}")
    assert mismatches == []
