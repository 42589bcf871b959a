"""Messages waiting to go down one stream, merged when several are ready at once.

Both ends of the agent stream use it: the master queues assignments for an agent, an agent
queues output lines and results for the master. Whatever accumulates while the writer is busy
leaves as one message, so a burst costs one stream write instead of one per item.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

M = TypeVar("M")


class Outbox(Generic[M]):
    """A queue of messages; `merge(last, item)` folds an item into the last unsent message."""

    def __init__(self) -> None:
        self._queue: deque[M] = deque()
        self._wake = asyncio.Event()
        self.closed = False
        self.close_code: Any = None
        """A grpc.StatusCode when the stream must end with an error (a replaced connection)."""
        self.close_details = ""

    def put(self, message: M) -> None:
        if not self.closed:
            self._queue.append(message)
            self._wake.set()

    def put_merged(self, item: Any, make: Callable[[], M], merge: Callable[[M, Any], bool]) -> None:
        """Add `item` to the last queued message when `merge` accepts it, else to a new one."""
        if self.closed:
            return
        if not self._queue or not merge(self._queue[-1], item):
            message = make()
            merge(message, item)
            self._queue.append(message)
        self._wake.set()

    def close(self, code: Any = None, details: str = "") -> None:
        if not self.closed:
            self.closed = True
            self.close_code, self.close_details = code, details
            self._wake.set()

    def __len__(self) -> int:
        return len(self._queue)

    async def messages(self) -> AsyncIterator[M]:
        """Every queued message in order, until closed (what is queued before close still goes)."""
        while True:
            while self._queue:
                yield self._queue.popleft()
            if self.closed:
                return
            self._wake.clear()
            if not self._queue and not self.closed:
                await self._wake.wait()
