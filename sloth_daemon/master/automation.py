"""What the master does by itself: the event bus and hooks, the scheduler, the watched folder.

`Automation` owns the EventBus (every run of the master delivers its events to it, agent
events too through `PublishingRows`), the SchedulerLoop and, with `--watch`, the
WorkflowCatalog. The servicer's event, schedule and workflow calls land here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sloth_daemon.master.scheduler_loop import SchedulerLoop
from sloth_daemon.master.workflow_catalog import WorkflowCatalog
from sloth_engine.errors import UsageError
from sloth_engine.events import EventBus
from sloth_engine.store import Store
from sloth_engine.store.agents import AgentRow, AgentTable
from sloth_engine.store.events import EventRecord

log = logging.getLogger(__name__)

MASTER_PUT_TIMEOUT = 0.05
"""How long the master's event loop may wait for room in a full hook queue before it records
the event as not delivered (a local run waits longer: it has nothing else to serve)."""
STARTUP_SCAN_WAIT = 3.0
"""How long a master's start waits for its watched folder to load (it goes on loading after)."""
WATCH_BUFFER = 10_000
"""Events kept for one slow live watcher before it misses some (a warning is logged)."""


@dataclass
class AutomationConfig:
    watch: str | None = None
    """Folder of workflow files to keep loaded and reload on change."""
    hook_workers: int = 4
    event_queue: int = 1000
    watch_timeout: float = 30.0
    """Loading one file of the watched folder takes at most this many seconds."""


class PublishingRows:
    """The registry's agent rows: agent events, once written, reach the bus too."""

    def __init__(self, rows: AgentTable, bus: EventBus) -> None:
        self.rows = rows
        self.bus = bus

    def load(self) -> list[AgentRow]:
        return self.rows.load()

    def save(self, rows: Sequence[AgentRow], events: Sequence[Mapping[str, Any]]) -> None:
        self.rows.save(rows, events)
        for event in events:
            self.bus.deliver(dict(event))


def new_bus(store: Store, config: AutomationConfig) -> EventBus:
    return EventBus(
        store, workers=config.hook_workers, queue_size=config.event_queue, put_timeout=MASTER_PUT_TIMEOUT
    )


class Automation:
    def __init__(self, store: Store, runs: Any, bus: EventBus, config: AutomationConfig) -> None:
        self.store = store
        self.bus = bus
        runs.bus = bus
        self.catalog = None
        if config.watch:
            self.catalog = WorkflowCatalog(Path(config.watch), self.bus, config.watch_timeout)
        self.scheduler = SchedulerLoop(store, runs, self.bus, self.catalog)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the scheduler; with a watched folder, first load it in the background (the
        master serves meanwhile: no file of the folder can keep it from starting)."""
        if self.catalog is None:
            self._tasks.append(asyncio.create_task(self.scheduler.run()))
            return
        self.catalog.check_folder()
        scanned = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._watched_folder(scanned)))
        # A folder that loads at once is known when the master starts serving; a file that
        # takes long delays the start by this much at most.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(scanned.wait(), STARTUP_SCAN_WAIT)

    async def _watched_folder(self, scanned: asyncio.Event) -> None:
        assert self.catalog is not None
        self._tasks.append(asyncio.create_task(self.catalog.watch()))
        # Schedules may name files of the folder: they fire once it is loaded (each file is
        # bounded by the catalog's load timeout).
        await self.catalog.scan()
        scanned.set()
        self._tasks.append(asyncio.create_task(self.scheduler.run()))

    async def stop(self) -> None:
        if self.catalog is not None:
            self.catalog.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.to_thread(self.bus.close, 2.0)

    # ---- what clients ask -------------------------------------------------------------

    async def list_events(
        self, prefix: str | None, since: float | None, stack: str | None, limit: int
    ) -> list[EventRecord]:
        return await asyncio.to_thread(self.store.events.list, prefix, since, stack, limit)

    async def watch_events(self, prefix: str | None, stack: str | None) -> AsyncIterator[dict[str, Any]]:
        """Every event from now on that matches, until the watcher goes."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(WATCH_BUFFER)

        def put(record: dict[str, Any]) -> None:
            try:
                queue.put_nowait(record)
            except asyncio.QueueFull:
                log.warning("an event watcher is too slow: %s not sent to it", record["type"])

        def seen(record: dict[str, Any]) -> None:
            if prefix and not str(record["type"]).startswith(prefix):
                return
            if stack and record.get("stack") != stack:
                return
            loop.call_soon_threadsafe(put, record)

        unsubscribe = self.bus.subscribe(seen)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()

    async def fire_schedule(self, name: str) -> list[str]:
        return await self.scheduler.fire_now(name)

    def workflows(self) -> list[dict[str, Any]]:
        if self.catalog is None:
            raise UsageError("this master watches no workflow folder (start it with --watch DIR)")
        return self.catalog.rows()
