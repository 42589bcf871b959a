"""The daemons' diagnostics (`--log-format text|json`): each line stamped with UTC time.

2026-12-04T17:59:14.123Z WARNING sloth_daemon.master.server: metrics on http://...
{"ts": "2026-12-04T17:59:14.123Z", "level": "warning", "logger": "...", "message": "..."}
"""

from __future__ import annotations

import json
import logging
import time
from typing import TextIO


def stamp(created: float) -> str:
    """ISO 8601 in UTC with milliseconds: 2026-12-04T17:59:14.123Z."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = f"{stamp(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def handler(form: str, stream: TextIO) -> logging.Handler:
    found = logging.StreamHandler(stream)
    found.setFormatter(JsonFormatter() if form == "json" else TextFormatter())
    return found
