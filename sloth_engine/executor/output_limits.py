"""Bounds on what a Lua task may leave behind: its log lines, its message and its outputs.

Shell commands are bounded where their pipes are read (shell.py); the same limits apply to
what Lua code prints or logs, so a `print` loop cannot fill the database or the event feed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from .shell import MAX_LINE_BYTES, MAX_OUTPUT_BYTES

MAX_MESSAGE_CHARS = MAX_OUTPUT_BYTES
"""A task's message or error text is cut here (with a marker)."""
MAX_OUTPUTS_BYTES = 4 * 1024 * 1024
"""A task's outputs table, as JSON, may not be larger than this."""
LINE_MARKER = " [line truncated]"
OUTPUT_MARKER = "[output truncated: over 1 MiB]"

LineSink = Callable[[str, str], None]


class BoundedSink:
    """A line sink that keeps at most MAX_OUTPUT_BYTES per stream, lines cut at MAX_LINE_BYTES."""

    def __init__(self, sink: LineSink) -> None:
        self._sink = sink
        self._kept: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, stream: str, line: str) -> None:
        if len(line) > MAX_LINE_BYTES:
            line = line[:MAX_LINE_BYTES] + LINE_MARKER
        with self._lock:
            kept = self._kept.get(stream, 0)
            if kept >= MAX_OUTPUT_BYTES:
                return
            kept += len(line) + 1
            self._kept[stream] = kept
        if kept >= MAX_OUTPUT_BYTES:
            line = OUTPUT_MARKER
        self._sink(stream, line)


def bounded_text(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[:MAX_MESSAGE_CHARS] + f" [truncated: {len(text)} characters]"


def outputs_error(outputs: dict[str, Any]) -> str | None:
    """Why the outputs cannot be kept (too large, not JSON), or None."""
    try:
        size = len(json.dumps(outputs, default=str))
    except (TypeError, ValueError, RecursionError) as exc:
        return f"outputs cannot be kept: {exc}"
    if size > MAX_OUTPUTS_BYTES:
        return f"outputs too large: {size} bytes as JSON, over the {MAX_OUTPUTS_BYTES} byte limit"
    return None
