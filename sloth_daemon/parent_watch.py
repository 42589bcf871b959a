"""Children that die with their parent: `sloth-tui --embedded` starts a master and an agent
that must not outlive the console, however it ends.

Two mechanisms, as neither covers every case alone: the kernel's parent-death signal
(prctl PR_SET_PDEATHSIG, Linux: sloth_engine.process.start(die_with_parent=True)), and a watchdog thread
in the child that notices its parent pid is gone (it is told the pid through PARENT_ENV).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

log = logging.getLogger(__name__)

PARENT_ENV = "SLOTH_PARENT_PID"
POLL_S = 0.5
KILL_GRACE_S = 10.0


def child_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a child that must watch this process."""
    return {**env, PARENT_ENV: str(os.getpid())}


def watch_parent_from_env() -> threading.Thread | None:
    """In a child started with child_env: end this process when that parent is gone. The
    variable is removed at once, so this process's own children do not inherit it."""
    text = os.environ.pop(PARENT_ENV, "")
    if not text.isdigit():
        return None
    parent = int(text)
    thread = threading.Thread(target=_watch, args=(parent,), name="sloth-parent-watch", daemon=True)
    thread.start()
    return thread


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    log.warning("parent process %d is gone: stopping", parent)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(KILL_GRACE_S)  # SIGTERM lets it stop cleanly; past the grace, no more waiting
    os.kill(os.getpid(), signal.SIGKILL)
