"""Transient store failures: retried with backoff on a fresh connection, logged once per interval.

A dropped connection, a failover, a lock timeout: the backends raise StoreUnavailable, and a
statement outside a transaction (all of them idempotent: upserts, keyed updates, reads) is
sent again on a new connection until RETRY_WINDOW has passed; a whole transaction is retried
by its caller with `retrying`. A store that stays down gives one warning per LOG_EVERY seconds
in each process, never a traceback per attempt.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sloth_engine.errors import StoreUnavailable

log = logging.getLogger("sloth_engine.store")

T = TypeVar("T")

RETRY_WINDOW = float(os.environ.get("SLOTH_STORE_RETRY_S") or 15.0)
"""How long one write keeps trying through a blip (a failover, a restarted server);
$SLOTH_STORE_RETRY_S changes it."""
LOG_EVERY = 10.0
"""At most one 'store unavailable' line per this many seconds per process."""


class Throttle:
    """Lets a message through at most once per `every` seconds (thread-safe)."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last = -1e18
        self._lock = threading.Lock()
        self.suppressed = 0

    def ready(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last >= self.every:
                self._last = now
                return True
            self.suppressed += 1
            return False


_unavailable = Throttle(LOG_EVERY)


def note_unavailable(display: str, exc: BaseException) -> None:
    """One warning per interval while a store fails (later lines of the same outage are counted)."""
    if _unavailable.ready():
        more = _unavailable.suppressed
        _unavailable.suppressed = 0
        extra = f" ({more} more failures since the last line)" if more else ""
        log.warning("store %s unavailable, retrying: %s%s", display, exc, extra)


def backoff(attempt: int) -> float:
    """0.05 s doubling to 2 s, with jitter."""
    return min(2.0, 0.05 * 2 ** min(attempt, 10)) * random.uniform(0.75, 1.25)


def retrying(fn: Callable[[], T], display: str = "", window: float = RETRY_WINDOW) -> T:
    """fn(), again after StoreUnavailable (with backoff) until `window` seconds have passed."""
    deadline = time.monotonic() + window
    attempt = 0
    while True:
        try:
            return fn()
        except StoreUnavailable as exc:
            if time.monotonic() >= deadline:
                raise
            note_unavailable(display, exc)
            time.sleep(backoff(attempt))
            attempt += 1


_troubles: dict[str, Throttle] = {}


def trouble(where: logging.Logger, what: str, exc: BaseException | str, every: float = LOG_EVERY) -> None:
    """One warning line per `every` seconds for a loop that fails on the store (no traceback:
    the store's message says what is wrong; the loop goes on and tries again)."""
    throttle = _troubles.setdefault(what, Throttle(every))
    if throttle.ready():
        more, throttle.suppressed = throttle.suppressed, 0
        extra = f" ({more} more since the last line)" if more else ""
        where.warning("%s: %s%s", what, exc, extra)
