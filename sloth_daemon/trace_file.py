"""SLOTH_TRACE_FILE: finished spans appended to a file as JSON lines (imported only when set).

Each line: name, trace_id and span_id (hex), parent_span_id (None at a root), service
(the resource's service.name), attributes, status (UNSET, OK, ERROR), start_ns and end_ns.
Several processes may append to one file: each export is one write of whole lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class JsonLinesExporter(SpanExporter):
    """A SpanExporter writing each span as one JSON line (name, ids, parent, service,
    attributes, status, start and end in ns) appended to a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        lines = "".join(json.dumps(_record(s)) + "\n" for s in spans).encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, lines)
            finally:
                os.close(fd)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _record(span: Any) -> dict[str, Any]:
    context = span.get_span_context()
    parent = span.parent
    return {
        "name": span.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_span_id": f"{parent.span_id:016x}" if parent is not None else None,
        "service": span.resource.attributes.get("service.name", ""),
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
    }
