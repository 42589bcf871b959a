"""`time`: clock, interruptible sleep, formatting and Go-style durations.

`time.sleep(seconds)` polls the sandbox guard every few milliseconds, so a task timeout or a
cancel stops it at once (a Lua error at the caller's line). `time.format(ts, layout)` takes a
strftime layout (`%Y-%m-%d`) or a Go reference layout (`2006-01-02 15:04:05`).
"""

from __future__ import annotations

import re
import time as _time
from datetime import datetime
from typing import Any

from sloth_engine.durations import format_duration, parse_duration
from sloth_engine.lua.sandbox import ModuleError, Sandbox
from sloth_engine.modules import ModuleEnv

SLEEP_SLICE = 0.02
DEFAULT_LAYOUT = "%Y-%m-%d %H:%M:%S"

# Go's reference time, longest tokens first so "2006" wins over "06" and "January" over "Jan".
_GO_TOKENS = [
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

    def parse(text: str, layout: Any = None) -> float:
        parsed = datetime.strptime(str(text), strftime_layout(layout or DEFAULT_LAYOUT))
        return parsed.timestamp()

    def since(ts: Any) -> float:
        return _time.time() - _timestamp(ts)

    sandbox.set_module(
        "time",
        {
            "now": _time.time,
            "unix": lambda: int(_time.time()),
            "unix_ms": lambda: _time.time_ns() // 1_000_000,
            "unix_nano": _time.time_ns,
            "sleep": sleep,
            "format": format_time,
            "parse": parse,
            "parse_duration": parse_duration,
            "format_duration": lambda seconds: format_duration(float(seconds)),
            "since": since,
        },
        blocking={"sleep"},
    )
