"""The original's other `metrics` functions: system readings, recorded values, alerts, health.

`system_cpu()` (percent, measured over a quarter of a second: the original measured a whole
second), `system_memory()` -> `{used_mb, total_mb, percent, available_mb}`,
`system_disk([path = "/"])` -> `{used_gb, total_gb, percent, free_gb}`, `runtime_info()` ->
this process's `{num_cpu, python_version, memory_rss_mb, threads, pid}` (the original's
reported the Go runtime), `get_custom(name)` -> the last recording of a metric of this run
`{type, value, tags, timestamp}` (a counter's value is its running total), `list_custom()`
-> the names recorded, `alert(name, {level, message, threshold, value})` -> true (logged on the
task's stderr as `[ALERT] level: message`, kept as `alert_<name>` and sent as a
`metric.alert` event), `health_status()` -> `{overall, cpu, memory, disk, timestamp}` with
each part `{usage, status}` and the original's thresholds (cpu 70/90, memory 80/90, disk
85/95 percent for warning/critical).
"""

from __future__ import annotations

import os
import platform
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sloth_engine.lua.sandbox import ModuleError

CPU_SAMPLE = 0.25
MB = 1024 * 1024
GB = MB * 1024
THRESHOLDS = {"cpu": (70.0, 90.0), "memory": (80.0, 90.0), "disk": (85.0, 95.0)}


class Recorded:
    """The last recording of each metric of a runtime, for get_custom/list_custom."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}

    def note(self, kind: str, name: str, value: float, tags: dict[str, str]) -> None:
        with self._lock:
            previous = self._items.get(name)
            if kind == "counter" and previous is not None:
                value += previous["value"]
            self._items[name] = {"type": kind, "value": value, "tags": tags, "timestamp": _now()}

    def put(self, name: str, item: dict[str, Any]) -> None:
        with self._lock:
            self._items[name] = item

    def get(self, name: Any) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(str(name))
            return dict(item) if item is not None else None

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._items)


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def cpu_percent() -> float:
    import psutil

    return float(psutil.cpu_percent(interval=CPU_SAMPLE))


def system_memory() -> dict[str, float]:
    import psutil

    mem = psutil.virtual_memory()
    return {
        "used_mb": mem.used / MB,
        "total_mb": mem.total / MB,
        "percent": float(mem.percent),
        "available_mb": mem.available / MB,
    }


def system_disk(path: Any = None) -> Any:
    import psutil

    try:
        usage = psutil.disk_usage(str(path or "/"))
    except OSError as exc:
        return None, f"metrics.system_disk: {exc.strerror or exc}"
    return {"used_gb": usage.used / GB, "total_gb": usage.total / GB, "percent": float(usage.percent)} | {
        "free_gb": usage.free / GB
    }


def runtime_info() -> dict[str, Any]:
    import psutil

    me = psutil.Process()
    return {
        "num_cpu": os.cpu_count() or 1,
        "python_version": platform.python_version(),
        "memory_rss_mb": me.memory_info().rss / MB,
        "threads": me.num_threads(),
        "pid": os.getpid(),
    }


def _status(part: str, usage: float) -> str:
    warning, critical = THRESHOLDS[part]
    return "critical" if usage > critical else "warning" if usage > warning else "healthy"


def health_status() -> dict[str, Any]:
    import psutil

    usages = {
        "cpu": cpu_percent(),
        "memory": float(psutil.virtual_memory().percent),
        "disk": float(psutil.disk_usage("/").percent),
    }
    parts = {name: {"usage": usage, "status": _status(name, usage)} for name, usage in usages.items()}
    statuses = {p["status"] for p in parts.values()}
    overall = "critical" if "critical" in statuses else "warning" if "warning" in statuses else "healthy"
    return {**parts, "overall": overall, "timestamp": _now()}


def functions(
    recorded: Recorded, log: Callable[[str], None], emit: Callable[[str, dict[str, Any]], None]
) -> dict[str, Callable[..., Any]]:
    def alert(name: Any, data: Any = None) -> bool:
        if not isinstance(name, str) or not name:
            raise ModuleError("metrics.alert(name, {level, message, ...}): name must be text")
        fields = dict(data) if isinstance(data, dict) else {}
        item = {str(k): v for k, v in fields.items()}
        item.update(type="alert", timestamp=_now(), level=str(item.get("level", "warning")))
        item["message"] = str(item.get("message", ""))
        recorded.put(f"alert_{name}", item)
        log(f"[ALERT] {item['level']}: {item['message']}")
        emit("metric.alert", {"name": name, **item})
        return True

    return {
        "system_cpu": cpu_percent,
        "system_memory": system_memory,
        "system_disk": system_disk,
        "runtime_info": runtime_info,
        "get_custom": recorded.get,
        "list_custom": recorded.names,
        "alert": alert,
        "health_status": health_status,
    }


BLOCKING = frozenset({"system_cpu", "health_status"})
"""These wait a moment to measure the CPU: off the event loop."""
