"""The original's calendar functions for the `time` module: arithmetic with Go durations,
parts of a timestamp, zones, comparisons, truncation and rounding.

Timestamps are Unix seconds, as in the original (whole seconds: a fraction is dropped, as
Go's `time.Unix(int64(ts), 0)` drops it). Parts (`year`, `hour`, ...) are in the machine's
local zone, as there. `utc`, `local` and `in_location` return the same instant (a Unix
timestamp has no zone), but `in_location` checks the zone name. Bad durations and zones
return nil and a message, the original's convention.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sloth_engine.durations import parse_duration
from sloth_engine.lua.sandbox import ModuleError
from sloth_engine.modules.options import lenient

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def seconds(ts: Any) -> int:
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
        raise ModuleError(f"time: expected a unix timestamp in seconds, got {ts!r}")
    return int(ts)


def go_duration(text: Any) -> float:
    """Seconds of a Go duration ("1h30m", "-5m", "300ms"); ModuleError for a bad one."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    raw = str(text).strip()
    sign = -1.0 if raw.startswith("-") else 1.0
    try:
        return sign * parse_duration(raw.lstrip("+-"))
    except ValueError as exc:
        raise ModuleError(f"time: {exc}") from None


def _local(ts: Any) -> datetime:
    return datetime.fromtimestamp(seconds(ts)).astimezone()


def rfc3339(ts: Any) -> str:
    text = _local(ts).isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def in_location(ts: Any, name: Any) -> int:
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ModuleError(f"unknown time zone {name}") from None
    return seconds(ts)


def truncate(ts: Any, duration: Any) -> int:
    step = go_duration(duration)
    value = seconds(ts)
    if step <= 0:
        return value
    return int(value - math.fmod(value, step)) if value >= 0 else int(math.floor(value / step) * step)


def round_to(ts: Any, duration: Any) -> int:
    step = go_duration(duration)
    value = seconds(ts)
    if step <= 0:
        return value
    return int(math.floor(value / step + 0.5) * step)  # halfway rounds up, as Go


def functions() -> dict[str, Any]:
    return {
        "rfc3339": rfc3339,
        "add": lenient(lambda ts, d: int(seconds(ts) + go_duration(d)), "time: "),
        "sub": lenient(lambda ts, d: int(seconds(ts) - go_duration(d)), "time: "),
        "duration": lenient(go_duration, "time: "),
        "until": lambda ts: seconds(ts) - datetime.now(UTC).timestamp(),
        "year": lambda ts: _local(ts).year,
        "month": lambda ts: _local(ts).month,
        "day": lambda ts: _local(ts).day,
        "hour": lambda ts: _local(ts).hour,
        "minute": lambda ts: _local(ts).minute,
        "second": lambda ts: _local(ts).second,
        "weekday": lambda ts: WEEKDAYS[_local(ts).weekday()],
        "utc": seconds,
        "local": seconds,
        "in_location": lenient(in_location, "time: "),
        "before": lambda a, b: seconds(a) < seconds(b),
        "after": lambda a, b: seconds(a) > seconds(b),
        "equal": lambda a, b: seconds(a) == seconds(b),
        "truncate": lenient(truncate, "time: "),
        "round": lenient(round_to, "time: "),
    }
