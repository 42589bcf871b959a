"""Helpers for tests that check processes are gone (PID 1 here does not reap zombies)."""

from __future__ import annotations

import time
from pathlib import Path


def alive(pid: int) -> bool:
    """True when the process exists and is not a zombie waiting for its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def gone(pid: int, within: float = 2.0) -> bool:
    """True once the process is dead; signals are delivered asynchronously, so allow a moment."""
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
