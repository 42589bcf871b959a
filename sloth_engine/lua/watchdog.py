"""The last bound on Lua: a thread that notices a step its deadline or cancel cannot stop.

The count hook and the argument checks of the prelude stop what can be stopped. What is left
(a C function of the standard library that loops without returning to the hook, in a way not
foreseen) keeps the thread that runs Lua busy for good; nothing can interrupt it but the end
of its process. lupa releases the GIL while Lua runs, so this thread still gets to run: when
a step has gone on `grace` seconds past its stop, `on_stuck` is called (once) with what is
known, and the owner of the process records the attempt and ends or replaces the process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sloth_engine.lua.sandbox import Guard, TaskScope

log = logging.getLogger(__name__)

STUCK_GRACE = 3.0
"""Seconds a stopped step may take to return before its process is given up
(`SLOTH_LUA_STUCK_GRACE` in the environment changes it)."""


def default_grace() -> float:
    try:
        return max(0.1, float(os.environ.get("SLOTH_LUA_STUCK_GRACE", STUCK_GRACE)))
    except ValueError:
        return STUCK_GRACE


@dataclass(frozen=True)
class StuckLua:
    """A Lua step that did not return after it was stopped."""

    scope: TaskScope
    reason: str
    timed_out: bool

    @property
    def message(self) -> str:
        what = f"task '{self.scope.task_name}'" if self.scope.task_name else "Lua code"
        stop = "timed out" if self.timed_out else self.reason
        return (
            f"{what} {stop} but is stuck inside a C function of Lua (a standard function "
            "looping without end); the process running it is ended"
        )


class Watchdog:
    """Watches the Lua steps entered through it; calls `on_stuck` once for the first stuck one."""

    def __init__(
        self, on_stuck: Callable[[StuckLua], None], grace: float | None = None, every: float = 0.2
    ) -> None:
        self.on_stuck = on_stuck
        self.grace = default_grace() if grace is None else grace
        self.every = every
        self._steps: dict[int, tuple[Guard, TaskScope]] = {}
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.fired: StuckLua | None = None

    def enter(self, guard: Guard, scope: TaskScope) -> None:
        self._steps[id(guard)] = (guard, scope)
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="sloth-lua-watchdog", daemon=True)
            self._thread.start()

    def leave(self, guard: Guard) -> None:
        self._steps.pop(id(guard), None)

    def close(self) -> None:
        self._closed.set()

    def _watch(self) -> None:
        while not self._closed.wait(self.every):
            now = time.monotonic()
            for guard, scope in list(self._steps.values()):
                since = guard.stopped_since()
                if since is None or now - since < self.grace or self.fired is not None:
                    continue
                self.fired = StuckLua(scope, guard.reason or "stopped", guard.timed_out())
                log.critical("%s", self.fired.message)
                try:
                    self.on_stuck(self.fired)
                except Exception:  # the handler ends the process; a failure must not kill the watch
                    log.exception("handling stuck Lua code failed")
                return


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SignalTee:
    """Sees the stop signals of the process even while its main thread is held inside C.

    Python runs signal handlers on the main thread only, between bytecodes: a thread stuck in
    a C function of Lua never gets there. Python's own C-level handler still writes each
    signal's number to the wakeup fd, so that fd is pointed at a pipe read here (and what is
    read is passed on to the fd that was there before). `on_signal(signum)` is called on this
    thread for SIGINT, SIGTERM and SIGHUP when the process has a handler for them.
    """

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self.on_signal = on_signal
        self._old = -1
        self._pipe: tuple[int, int] | None = None

    def install(self) -> bool:
        """From the main thread; False where it cannot be (another thread, no pipes)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        read, write = os.pipe()
        os.set_blocking(write, False)
        try:
            self._old = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        except (ValueError, OSError):
            os.close(read)
            os.close(write)
            return False
        self._pipe = (read, write)
        threading.Thread(target=self._read, args=(read,), name="sloth-signal-tee", daemon=True).start()
        return True

    def uninstall(self) -> None:
        if self._pipe is None:
            return
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(self._old)
        os.close(self._pipe[1])  # the reader sees the end and closes its side
        self._pipe = None

    def _read(self, fd: int) -> None:
        try:
            while data := os.read(fd, 64):
                if self._old != -1:
                    with contextlib.suppress(OSError):
                        os.write(self._old, data)
                for signum in data:
                    if signum in STOP_SIGNALS:
                        self.on_signal(signum)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
