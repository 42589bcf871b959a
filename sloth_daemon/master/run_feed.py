"""A run's live feed: every update kept in order so a watcher that comes late replays it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sloth_daemon.gen.sloth.v1 import master_pb2 as mpb
from sloth_daemon.wire import event_to_proto, report_to_proto
from sloth_engine.executor.results import RunEvent, RunResult

MAX_LOG_UPDATES = 100_000
"""Output lines kept for watchers per run (all stay in the store: `runs logs`)."""


class RunFeed:
    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self.updates: list[mpb.RunUpdate] = []
        self.done = False
        self._logs = 0
        self._change = asyncio.Event()

    def __call__(self, event: RunEvent) -> None:
        """A journal listener."""
        if event.kind == "task.log":
            self._logs += 1
            if self._logs > MAX_LOG_UPDATES:
                return
        self._append(mpb.RunUpdate(event=event_to_proto(event)))

    def finish(self, result: RunResult) -> None:
        self._append(mpb.RunUpdate(finished=report_to_proto(result)))
        self.done = True

    def _append(self, update: mpb.RunUpdate) -> None:
        update.epoch = self.epoch
        update.seq = len(self.updates) + 1
        self.updates.append(update)
        change, self._change = self._change, asyncio.Event()
        change.set()

    async def follow(self, after_seq: int = 0) -> AsyncIterator[mpb.RunUpdate]:
        """The updates after `after_seq`, then live ones until the run's report."""
        index = max(0, after_seq)
        while True:
            change = self._change
            while index < len(self.updates):
                yield self.updates[index]
                index += 1
            if self.done:
                return
            await change.wait()
