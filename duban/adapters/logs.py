"""Logging for an unattended server: a level, plain or JSON lines on stderr.

`configure(level, fmt)` is called once by the entry point (`duban --log-level --log-format`).
Records of the `duban.events` logger are state changes (a problem moved, a notice issued, a
message sent or failed) with their fields in `record.fields`; the JSON format puts those
fields at the top level of the line, so a log shipper can filter on campaign_id or
problem_id.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EVENTS = "duban.events"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-12-03T08:00:00.123+00:00 INFO duban.events problem_moved campaign_id=1 …`."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one plain line (fields as key=value)."""
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        text = f"{when} {record.levelname} {record.name} {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            text += " " + " ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}"
                                   for k, v in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure(level: str = "WARNING", fmt: str = "text") -> None:
    """Send duban's log records (and the libraries') to stderr at `level` in `fmt`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "duban", False)]:
        root.removeHandler(old)
    handler.duban = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


def event(name: str, **fields: Any) -> None:
    """Log one state change at INFO on `duban.events` with its fields."""
    logging.getLogger(EVENTS).info(name, extra={"fields": {"event": name, **fields}})
