"""What a process does when Lua code of its run cannot be stopped (see sloth_engine.lua.watchdog).

Its event loop is held by the stuck step (a local run runs Lua on the loop's thread), so
nothing else will ever finish the run: the watchdog's thread records the attempt and the
run as they ended, kills the run's processes and ends this process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from sloth_engine.lua.watchdog import SignalTee, StuckLua
from sloth_engine.spec import RunStatus, TaskStatus

if TYPE_CHECKING:
    from sloth_engine.store import Store

log = logging.getLogger(__name__)

EXIT_TIMED_OUT = 1
EXIT_CANCELLED = 130


class RunEnding(Protocol):
    """What ends the run (sloth_engine.run_transition.RunTransition)."""

    run_id: str

    def finish(
        self, status: RunStatus, duration_s: float, error: str | None, at: float | None = None
    ) -> None: ...


def end_stuck_run(
    run: RunEnding, store: Store | None, journal: Any, stuck: StuckLua, started: float, kill: Any
) -> NoReturn:
    """Record the stuck attempt (timed_out or cancelled) and the run (failed or cancelled),
    kill what the run started, say so on stderr, and exit the process."""
    task_status = TaskStatus.TIMED_OUT if stuck.timed_out else TaskStatus.CANCELLED
    run_status = RunStatus.FAILED if stuck.timed_out else RunStatus.CANCELLED
    now, run_id = time.time(), run.run_id
    with contextlib.suppress(Exception):
        kill()
    try:
        if store is not None:
            journal.flush()
            scope = stuck.scope
            if scope.task_name and scope.attempt:
                store.runs.save_attempts([_attempt_row(run_id, scope, task_status, stuck.message, now)])
        run.finish(run_status, now - started, stuck.message, at=now)
    except Exception:  # exiting anyway: the next listing of runs finds it abandoned
        log.exception("recording run %s after stuck Lua code failed", run_id)
    sys.stderr.write(f"error: {stuck.message}; run {run_id} ended {run_status.value}\n")
    sys.stderr.flush()
    os._exit(EXIT_TIMED_OUT if stuck.timed_out else EXIT_CANCELLED)


def _attempt_row(run_id: str, scope: Any, status: TaskStatus, message: str, now: float) -> dict[str, Any]:
    started = scope.started_at
    return {
        "run_id": run_id,
        "task": scope.task_name,
        "attempt": scope.attempt,
        "status": status.value,
        "started_at": started,
        "finished_at": now,
        "duration_s": now - started if started else None,
        "agent": None,
        "message": message,
        "error": message,
        "outputs": None,
        "exit_code": None,
    }


def signals_to_lua(lua: Any) -> SignalTee | None:
    """Make SIGINT, SIGTERM and SIGHUP trip the guards of `lua` (a LuaPool) from a thread of
    their own, so they reach Lua code even while it holds the loop inside C (the watchdog then
    ends the run as cancelled). None where the tee cannot be installed (not the main thread)."""

    def signalled(signum: int) -> None:
        name = signal.Signals(signum).name
        lua.cancel_all("interrupted" if signum == signal.SIGINT else f"interrupted ({name})")

    tee = SignalTee(signalled)
    return tee if tee.install() else None
