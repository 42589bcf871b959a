"""What stops Lua code (its guard) and what it works for (its task's scope).

A guard is checked by the count hook, by the prelude's checks of C functions and by every
module call; the watchdog (sloth_engine.lua.watchdog) asks it since when it is stopped.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TIME_LIMIT = "stopped: time limit exceeded"

_SERIALS = itertools.count(1)


@dataclass
class Guard:
    """Stops Lua code that runs past its deadline or is cancelled (checked by a count hook)."""

    deadline: float | None = None
    reason: str | None = None
    config_error: str | None = None
    """Set by a module that cannot work here (sloth_engine.modules.configuration_error): if
    the call ends with this error, the attempt is not retried."""
    cancelled_at: float | None = None

    def check(self) -> str | None:
        if self.reason is not None:
            return self.reason
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.reason = TIME_LIMIT
            return self.reason
        return None

    def cancel(self, reason: str) -> None:
        self.reason = reason
        if self.cancelled_at is None:
            self.cancelled_at = time.monotonic()

    def reset(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self.reason = None
        self.config_error = None
        self.cancelled_at = None

    def timed_out(self) -> bool:
        """Stopped by its deadline (rather than cancelled)."""
        return self.reason in (None, TIME_LIMIT) and self.deadline is not None

    def stopped_since(self) -> float | None:
        """When it was stopped (monotonic): its cancel or its deadline, whichever came first."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            if self.cancelled_at is None or self.deadline < self.cancelled_at:
                return self.deadline
        return self.cancelled_at


@dataclass
class TaskScope:
    """What the modules need to know about the task now running in this runtime."""

    task_name: str = ""
    run_id: str = ""
    workflow: str = ""
    workdir: str = ""
    log: Callable[[str, str], None] = lambda stream, line: None
    processes: set[Any] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    serial: int = field(default_factory=lambda: next(_SERIALS))
    """Tells calls apart (modules keep per-call state under it)."""
    attempt: int = 0
    """The task's attempt this call belongs to (0: not a task's command)."""
    started_at: float | None = None
    """When that attempt started (wall clock)."""
