"""The process groups this process started for tasks, announced to whoever must outlive it.

Every task process runs in a session (and process group) of its own, so that a cancel can
kill it with everything it started. When this process itself dies (SIGKILL, OOM), nothing of
it runs any more to do that: an agent therefore lets a small reaper process follow these
announcements (sloth_daemon.agent.reaper), and the reaper kills the groups still registered
when the agent is gone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Listener = Callable[[bool, int], None]
"""Called with (True, pgid) when a group starts, (False, pgid) when it has ended."""


class TaskGroups:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def follow(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def started(self, pgid: int) -> None:
        self._tell(True, pgid)

    def ended(self, pgid: int) -> None:
        self._tell(False, pgid)

    def _tell(self, started: bool, pgid: int) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(started, pgid)
            except Exception:  # a broken follower must not fail the task
                log.exception("a follower of task process groups failed")


TASK_GROUPS = TaskGroups()
"""The process-wide registry (no listener, and so no effect, until a daemon adds one)."""
