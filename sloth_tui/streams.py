"""Following the master's server streams from worker threads, riding out lost connections.

A stream's items go into an `Inbox`; the worker posts one message when the inbox goes from
empty to non-empty, and the UI thread takes everything at once: a burst of thousands of
events costs one UI update, not thousands. `follow` restarts a broken stream with backoff,
reporting each loss and each recovery, until told to stop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from sloth_engine.errors import SlothError

log = logging.getLogger(__name__)

T = TypeVar("T")
BACKOFF = (0.5, 1.0, 2.0, 4.0, 5.0)
"""Seconds before each new try after a stream broke (the last one repeats)."""


class Inbox(Generic[T]):
    """Items from a worker thread to the UI thread, taken in batches."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._lock = threading.Lock()

    def put(self, item: T) -> bool:
        """Add an item; True when the inbox was empty (the UI must be told)."""
        with self._lock:
            self._items.append(item)
            return len(self._items) == 1

    def take(self) -> list[T]:
        with self._lock:
            items, self._items = self._items, []
        return items


class Follower:
    """Runs one stream again and again until `stop` is set.

    `open_stream()` starts the stream; each item goes to `on_item`; `on_state(True, "")`
    once items flow after a start, `on_state(False, why)` when it broke.
    """

    def __init__(
        self,
        open_stream: Callable[[], Iterable[Any]],
        on_item: Callable[[Any], None],
        on_state: Callable[[bool, str], None],
        stop: threading.Event,
        backoff: tuple[float, ...] = BACKOFF,
        last: Callable[[Any], bool] | None = None,
    ) -> None:
        self.last = last
        """True for the item after which the stream is done (a run's report)."""
        self.open_stream = open_stream
        self.on_item = on_item
        self.on_state = on_state
        self.stop = stop
        self.backoff = backoff
        self.failures = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for item in self._items():
                    self.on_item(item)
                    if self.stop.is_set() or (self.last is not None and self.last(item)):
                        return
                if self.stop.is_set():
                    return
                self._broke("the stream ended")
            except SlothError as exc:
                if self.stop.is_set():
                    return
                self._broke(str(exc))
            except Exception as exc:  # the boundary of a worker: never let it kill the console
                if self.stop.is_set():
                    return
                log.exception("stream failed")
                self._broke(f"{exc.__class__.__name__}: {exc}")
            self.stop.wait(self.backoff[min(self.failures - 1, len(self.backoff) - 1)])

    def _items(self) -> Iterator[Any]:
        started = False
        for item in self.open_stream():
            if not started:
                started = True
                self.failures = 0
                self.on_state(True, "")
            yield item

    def _broke(self, why: str) -> None:
        self.failures += 1
        self.on_state(False, why)
