"""The event bus: persist each event, then deliver it to the hooks that want it.

An event that some hooks want goes, with the list of those hooks, through a bounded queue to a
bounded pool of worker threads (started on the first delivery); a worker runs the event's
hooks one after the other, each under its own timeout. A producer that finds the queue full
waits up to `put_timeout` (back-pressure); past that the event is not delivered *and that is
recorded*: a `bus.overflow` event and a `dropped` execution per hook, so nothing is lost
silently. Events a hook
or the bus itself raise are persisted and shown to subscribers but not delivered to hooks,
so hooks cannot feed each other forever.

Subscribers (`subscribe`) see every event as it passes (the master's live stream); they are
called on the producer's thread and must not block.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sloth_engine.executor.journal import event_record
from sloth_engine.executor.results import RunEvent
from sloth_engine.store.hooks import ExecutionRow, HookDef, HookStore

if TYPE_CHECKING:
    from sloth_engine.store import Store

log = logging.getLogger(__name__)

Record = dict[str, Any]
"""An event as the events table holds it: id, ts, type, severity, source, stack, run_id, data."""
Subscriber = Callable[[Record], None]

NOT_FOR_HOOKS = ("hook:", "bus")
"""Sources whose events hooks do not receive."""
BATCH = 64
"""Hook executions a worker records in one transaction at most."""
LINGER = 0.002
"""How long a worker with executions to record waits for another event first, so a busy
stream records many events' executions in one transaction (drain waits for the record)."""


@dataclass
class BusStats:
    published: int = 0
    delivered: int = 0
    executed: int = 0
    failed: int = 0
    dropped: int = 0


class EventBus:
    def __init__(
        self,
        store: Store,
        *,
        workers: int = 4,
        queue_size: int = 1000,
        put_timeout: float = 1.0,
        refresh_every: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.hooks = HookStore(store, clock)
        self.workers = max(1, workers)
        self.put_timeout = put_timeout
        self.refresh_every = refresh_every
        self.clock = clock
        self.stats = BusStats()
        self._queue: queue.Queue[tuple[Record, list[HookDef]] | None] = queue.Queue(max(1, queue_size))
        self._threads: list[threading.Thread] = []
        self._subscribers: list[Subscriber] = []
        self._pending = 0
        self._idle = threading.Condition()
        self._lock = threading.Lock()
        self._hook_set: list[HookDef] = []
        self._generation: tuple[Any, ...] | None = None
        self._checked_at = float("-inf")
        self._closed = False

    # ---- producers ----------------------------------------------------------------------

    def publish(
        self,
        type: str,
        data: Mapping[str, Any] | None = None,
        *,
        severity: str = "info",
        source: str = "",
        stack: str | None = None,
        run_id: str | None = None,
    ) -> int:
        """Persist an event, then deliver it; its id."""
        record: Record = {
            "ts": self.clock(),
            "type": type,
            "severity": severity,
            "source": source,
            "stack": stack,
            "run_id": run_id,
            "data": dict(data or {}),
        }
        record["id"] = self.store.events.append(
            type, record["data"], severity=severity, source=source, stack=stack, run_id=run_id
        )
        self.stats.published += 1
        self.deliver(record)
        return record["id"]

    def deliver(self, record: Record) -> None:
        """Hand an event that is already persisted to subscribers and matching hooks."""
        for subscriber in list(self._subscribers):
            try:
                subscriber(record)
            except Exception:  # a broken watcher must not stop the bus
                log.exception("event subscriber failed")
        if str(record.get("source") or "").startswith(NOT_FOR_HOOKS):
            return
        hooks = self._matching(record)
        if hooks:
            self._enqueue(record, hooks)

    def journal_listener(self, stack: str | None) -> Callable[[RunEvent], None]:
        """A run journal listener: the run's events (persisted by the journal) reach the bus."""

        def listener(event: RunEvent) -> None:
            if event.kind != "task.log":
                self.deliver(event_record(event, stack))

        return listener

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every event from now on; returns the unsubscribe function."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None

    # ---- waiting and stopping -----------------------------------------------------------

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued delivery ran and was recorded; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._closed = True
        for _ in self._threads:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(timeout)

    # ---- inside ----------------------------------------------------------------------------

    def _matching(self, record: Record) -> list[HookDef]:
        now = time.monotonic()
        if now - self._checked_at >= self.refresh_every:
            with self._lock:
                if now - self._checked_at >= self.refresh_every:
                    generation = self.hooks.generation()
                    if generation != self._generation:
                        self._hook_set = self.hooks.enabled()
                        self._generation = generation
                    self._checked_at = now
        return [hook for hook in self._hook_set if hook.wants(record)]

    def _enqueue(self, record: Record, hooks: list[HookDef]) -> None:
        if self._closed:
            self._overflow(record, hooks, "the bus is closed")
            return
        self._start_workers()
        with self._idle:
            self._pending += len(hooks)
        self.stats.delivered += len(hooks)
        try:
            self._queue.put((record, hooks), timeout=self.put_timeout)
        except queue.Full:
            self._done(len(hooks))
            self._overflow(record, hooks, f"queue full for {self.put_timeout:g}s")

    def _overflow(self, record: Record, hooks: list[HookDef], why: str) -> None:
        self.stats.dropped += len(hooks)
        rows = [
            ExecutionRow(
                hook.name,
                record.get("id"),
                record["type"],
                record.get("run_id"),
                self.clock(),
                0.0,
                "dropped",
                "",
                f"not delivered: {why}",
            )  # fmt: skip
            for hook in hooks
        ]
        names = [hook.name for hook in hooks]
        try:
            self.hooks.record(rows)
            data = {"event_type": record["type"], "event_id": record.get("id"), "hooks": names, "reason": why}
            self.publish("bus.overflow", data, severity="warning", source="bus", stack=record.get("stack"))
        except Exception:  # the store is failing too: at least say so
            log.exception("event %s for hooks %s dropped and not recorded", record["type"], names)

    def _start_workers(self) -> None:
        if len(self._threads) >= self.workers:
            return
        with self._lock:
            while len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"sloth-hook-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _work(self) -> None:
        # lazy: the hook runner (~1 ms) loads on the worker thread, when a hook first runs
        from sloth_engine.events.hook_runner import HookRunner

        runner = HookRunner(self.store, self._emitter)
        batch: list[ExecutionRow] = []
        while True:
            try:
                item = self._queue.get(timeout=LINGER) if batch else self._queue.get()
            except queue.Empty:
                self._record(batch)
                batch = []
                continue
            if item is None:
                break
            record, hooks = item
            batch.extend(self._run_one(runner, hook, record) for hook in hooks)
            if len(batch) >= BATCH:
                self._record(batch)
                batch = []
        self._record(batch)
        runner.close()

    def _run_one(self, runner: Any, hook: HookDef, record: Record) -> ExecutionRow:
        try:
            return runner.run(hook, record)
        except Exception as exc:  # a bug in a hook's module must not kill the worker
            log.exception("hook %s failed on %s", hook.name, record["type"])
            return ExecutionRow(
                hook.name, record.get("id"), record["type"], record.get("run_id"), self.clock(), 0.0,
                "failed", "", f"internal error: {exc}",
            )  # fmt: skip

    def _record(self, rows: list[ExecutionRow]) -> None:
        if not rows:
            return
        self.stats.executed += len(rows)
        self.stats.failed += sum(1 for r in rows if r.outcome != "success")
        try:
            self.hooks.record(rows)
        except Exception:
            log.exception("cannot record %d hook executions", len(rows))
        finally:
            self._done(len(rows))

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            if self._pending <= 0:
                self._idle.notify_all()

    def _emitter(self, hook: HookDef) -> Callable[[str, dict[str, Any]], None]:
        def emit(kind: str, data: dict[str, Any]) -> None:
            self.publish(kind, data, source=f"hook:{hook.name}", stack=hook.stack)

        return emit
