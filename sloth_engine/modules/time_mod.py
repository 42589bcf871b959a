"""`time`: clock, interruptible sleep, formatting and Go-style durations.

`time.sleep(seconds)` polls the sandbox guard every few milliseconds, so a task timeout or a
cancel stops it at once (a Lua error at the caller's line). `time.format(ts, layout)` takes a
strftime layout (`%Y-%m-%d`) or a Go reference layout (`2006-01-02 15:04:05`).

`time.parse` takes both orders: this project's `parse(value[, layout])` (local time when the
text has no zone) and the original's `parse(layout, value)`, recognised by a Go reference
layout first (UTC when the text has no zone, as Go; nil and a message when it does not
parse). `time.unix()` is now in whole seconds; `time.unix(sec[, nsec])` is the original's.
The original's calendar functions are in time_calendar.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sloth_engine.durations import format_duration, parse_duration
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv, time_calendar

SLEEP_SLICE = 0.02
DEFAULT_LAYOUT = "%Y-%m-%d %H:%M:%S"

# Go's reference time, longest tokens first so "2006" wins over "06" and "January" over "Jan".
_GO_TOKENS = [
    ("Z07:00", "%z"),
    ("Z0700", "%z"),
    (".000000", ".%f"),
    (".000", ".%f"),
    ("January", "%B"),
    ("Monday", "%A"),
    ("2006", "%Y"),
    ("-0700", "%z"),
    ("-07:00", "%z"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    ("01", "%m"),
    ("02", "%d"),
    ("15", "%H"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("06", "%y"),
    ("PM", "%p"),
]
_GO_PATTERN = re.compile("|".join(re.escape(token) for token, _ in _GO_TOKENS))
_GO_MAP = dict(_GO_TOKENS)


def sleep_guarded(sandbox: Sandbox, seconds: float) -> str | None:
    """Sleep up to `seconds`, waking early when the guard trips; return the stop reason."""
    end = _time.monotonic() + max(0.0, seconds)
    while True:
        reason = sandbox.guard.check()
        if reason is not None:
            return reason
        left = end - _time.monotonic()
        if left <= 0:
            return None
        _time.sleep(min(SLEEP_SLICE, left))


def strftime_layout(layout: str) -> str:
    """A strftime layout as is; a Go reference layout translated to strftime."""
    if "%" in layout:
        return layout
    return _GO_PATTERN.sub(lambda match: _GO_MAP[match.group(0)], layout)


_GO_LAYOUT_MARKS = ("2006", "15:04", "01/02", "Jan", "Mon", "MST", "Z07")


def is_go_layout(text: str) -> bool:
    """Whether `text` reads as a Go reference layout rather than a date."""
    return "%" not in text and any(mark in text for mark in _GO_LAYOUT_MARKS)


def parse_go(layout: str, value: str) -> Any:
    """The original's time.parse(layout, value): Unix seconds, or nil and a message."""
    try:
        parsed = datetime.strptime(value, strftime_layout(layout))
    except ValueError as exc:
        return None, f'parsing time "{value}" as "{layout}": {exc}'
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _timestamp(value: Any) -> float:
    if value is None:
        return _time.time()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a unix timestamp in seconds, got {value!r}")
    return float(value)


def install(sandbox: Sandbox, env: ModuleEnv) -> None:
    def sleep(seconds: Any = 0) -> None:
        reason = sleep_guarded(sandbox, parse_duration(seconds))
        if reason is not None:
            raise ModuleError(reason)

    def format_time(ts: Any = None, layout: Any = None) -> str:
        if isinstance(ts, str) and layout is None:  # time.format("%H:%M")
            ts, layout = None, ts
        moment = datetime.fromtimestamp(_timestamp(ts)).astimezone()
        return moment.strftime(strftime_layout(layout or DEFAULT_LAYOUT))

    def parse(text: Any, layout: Any = None) -> Any:
        original_order = isinstance(layout, str) and isinstance(text, str)
        if original_order and is_go_layout(text) and not is_go_layout(layout):
            return parse_go(text, layout)
        parsed = datetime.strptime(str(text), strftime_layout(layout or DEFAULT_LAYOUT))
        return parsed.timestamp()

    def unix(sec: Any = None, nsec: Any = 0) -> int:
        if sec is None:
            return int(_time.time())
        return int(time_calendar.seconds(sec) + int(nsec or 0) // 1_000_000_000)

    def since(ts: Any) -> float:
        return _time.time() - _timestamp(ts)

    functions: dict[str, Callable[..., Any]] = {
        "now": _time.time,
        "unix": unix,
        "unix_ms": lambda: _time.time_ns() // 1_000_000,
        "unix_nano": _time.time_ns,
        "sleep": sleep,
        "format": format_time,
        "parse": parse,
        "parse_duration": parse_duration,
        "format_duration": lambda seconds: format_duration(float(seconds)),
        "since": since,
    }
    functions.update(time_calendar.functions())
    sandbox.set_module(
        "time",
        functions,
        blocking={"sleep"},
    )
