"""How the console shows values: times, durations, sizes, states (text only, no widgets)."""

from __future__ import annotations

import time
from typing import Any

STATE_VARIABLES: dict[str, str] = {
    "pending": "foreground-muted",
    "running": "accent",
    "retrying": "warning",
    "success": "success",
    "unchanged": "success",
    "failed": "error",
    "timed_out": "error",
    "skipped": "foreground-muted",
    "cancelled": "secondary",
    "abandoned": "warning",
    "connected": "success",
    "unreachable": "warning",
    "lost": "error",
    "offline": "foreground-muted",
    "stopped": "foreground-muted",
    "info": "foreground",
    "warning": "warning",
    "error": "error",
}
"""The theme variable that colours each run, task, agent and event state."""

STATE_MARKS: dict[str, str] = {
    "pending": "○",
    "running": "◐",
    "retrying": "↻",
    "success": "●",
    "unchanged": "●",
    "failed": "✗",
    "timed_out": "⌛",
    "skipped": "⊘",
    "cancelled": "■",
    "abandoned": "⚠",
}


def state_variable(state: str) -> str:
    return STATE_VARIABLES.get(state, "foreground")


def theme_colour(variables: dict[str, str], name: str) -> str:
    """The theme variable `name` as a colour Rich can draw ("" when it is not a colour);
    a translucent one is blended over the theme's background."""
    from textual.color import Color

    try:
        colour = Color.parse(variables.get(name, ""))
        background = Color.parse(variables.get("background", "#000000"))
    except Exception:
        return ""
    return (background + colour).hex6 if colour.a < 1 else colour.hex6


def state_colour(variables: dict[str, str], state: str) -> str:
    return theme_colour(variables, state_variable(state))


def duration(seconds: float | None) -> str:
    """850ms, 4.2s, 3m04s, 2h05m; '-' for none."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def ago(ts: float | None, now: float) -> str:
    """'12s ago', 'in 3m' for a future time, '-' for none."""
    if not ts:
        return "-"
    delta = now - ts
    if delta < 0:
        return "in " + _short(-delta)
    return _short(delta) + " ago"


def _short(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d"


def clock_time(ts: float | None) -> str:
    """Local HH:MM:SS of an epoch time (the date too when not today's)."""
    if not ts:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def date_time(ts: float | None) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def size(n: float | None) -> str:
    if not n:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}PiB"


def short(value: Any, limit: int = 60) -> str:
    """A value on one line, cut to `limit` characters."""
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tags(values: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(values.items())) or "-"


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZES = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}


def sort_key(text: str) -> tuple[Any, ...]:
    """How a table cell sorts: durations ('3m04s', '850ms'), ages ('12s ago', 'in 3m'), sizes,
    percentages and plain numbers by their value, other text naturally ('run-9' before
    'run-10'); '-' and empty cells last."""
    import re

    text = text.strip()
    if text in ("", "-"):
        return (2,)
    sign, body = 1.0, text
    if body.endswith(" ago"):
        sign, body = -1.0, body[:-4]
    elif body.startswith("in "):
        body = body[3:]
    parts = re.fullmatch(r"((?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+)", body)
    if parts:
        total = sum(float(n) * _UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", body))
        return (0, sign * total)
    number = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(%|B|KiB|MiB|GiB|TiB|PiB)?", text)
    if number:
        return (0, float(number.group(1)) * _SIZES.get(number.group(2) or "", 1))
    chunks = re.split(r"(\d+)", text.lower())
    return (1, tuple((0, int(c), "") if c.isdigit() else (1, 0, c) for c in chunks if c))
