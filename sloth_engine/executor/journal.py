"""Persist each transition of a run, then announce it: batched in short windows.

Transitions of a few milliseconds are written in one transaction by a writer thread (the
event loop never waits on the database), and listeners hear of them only after that
transaction committed, in order. A run without a store (tests, `--plan`) still announces.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sloth_engine.changes import CHANGE_STREAM
from sloth_engine.errors import StoreError
from sloth_engine.spec import TaskStatus
from sloth_engine.store.events import to_json
from sloth_engine.store.retry import Throttle

from .results import RunEvent, TaskResult

if TYPE_CHECKING:
    from sloth_engine.store import Store

log = logging.getLogger(__name__)
_history_failures = Throttle(10.0)
"""One 'writing run history failed' line per 10 s per process, not one per batch."""

Listener = Callable[[RunEvent], None]

FLUSH_WINDOW = 0.005
"""Seconds transitions wait to be written together; announced only after the write."""

EVENT_SEVERITY = {
    "task.failed": "error",
    "task.timeout": "error",
    "workflow.failed": "error",
    "workflow.abandoned": "error",
}
EVENT_STREAM = "event"
"""Output stream that carries `event.dispatch` calls of a task run elsewhere (an agent): each
line is JSON {type, data}; a journal with `events_from_output` turns it into the event."""


class Journal:
    def __init__(
        self, run_id: str, workflow: str, store: Store | None = None, stack: str | None = None
    ) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.store = store
        self.stack = stack
        self.listeners: list[Listener] = []
        self._attempts: dict[tuple[str, int], tuple[Any, ...]] = {}
        self._logs: list[tuple[Any, ...]] = []
        self._events: list[RunEvent] = []
        self._seq = 0
        self.changes: dict[str, int] = {}
        """Change lines (sloth_engine.changes) of each task."""
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.redactor: Any = None
        """Secret values to hide (sloth_engine.secrets.Redactor): applied to every log line,
        attempt row and event before it is written or announced."""
        self.events_from_output = True
        self._writer: ThreadPoolExecutor | None = None
        self._inflight: deque[tuple[Future[None], list[RunEvent]]] = deque()
        """Batches handed to the writer, oldest first, with the events they announce."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # ---- what the executor reports ----------------------------------------------------

    def attempt(
        self, result: TaskResult, finished_at: float | None = None, status: TaskStatus | None = None
    ) -> None:
        """Record the current state of a task's latest attempt (`status` for a failed try)."""
        attempt = max(result.attempts, 1)
        started, outputs = result.attempt_started_at, result.outputs
        # A row in ATTEMPT_FIELDS order; its outputs are encoded when the batch is taken.
        self._attempts[(result.name, attempt)] = (
            self.run_id,
            result.name,
            attempt,
            (status or result.status).value,
            started,
            finished_at,
            finished_at - started if finished_at and started else None,
            result.agent,
            result.message,
            result.error,
            outputs,
            outputs.get("exit_code") if outputs else None,
        )
        self._schedule()

    def event(
        self, kind: str, task: str | None = None, attempt: int = 0, status: str = "", **data: Any
    ) -> None:
        self._events.append(
            RunEvent(kind, self.run_id, self.workflow, time.time(), task, attempt, status, data)
        )
        self._schedule()

    def line(self, task: str, attempt: int, stream: str, text: str) -> None:
        """A line of task output; called from the loop or from a worker thread."""
        if self._loop is not None and not _on_loop(self._loop):
            self._loop.call_soon_threadsafe(self.line, task, attempt, stream, text)
            return
        if stream == EVENT_STREAM and self.events_from_output:
            self._output_event(task, attempt, text)
            return
        if stream == CHANGE_STREAM:
            self.changes[task] = self.changes.get(task, 0) + 1
        self._seq += 1
        now = time.time()
        self._logs.append((self.run_id, task, attempt, stream, self._seq, now, text))
        self._events.append(
            RunEvent("task.log", self.run_id, self.workflow, now, task, attempt, stream, {"line": text})
        )
        self._schedule()

    def dispatched(self, kind: str, data: dict[str, Any], task: str | None = None, attempt: int = 0) -> None:
        """An event the workflow raised (`event.dispatch`), its data kept as given."""
        self._events.append(RunEvent(kind, self.run_id, self.workflow, time.time(), task, attempt, "", data))
        self._schedule()

    def announce(self, event: RunEvent) -> None:
        """Tell the listeners of an event already written (a run's end, by
        sloth_engine.run_transition), after everything pending; from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed() and not _on_loop(loop):
            loop.call_soon_threadsafe(self.announce, event)
            return
        if self.redactor is not None:
            event = dataclasses.replace(event, data=self.redactor.value(event.data))
        self.flush()
        self._announce([event])

    def _output_event(self, task: str, attempt: int, text: str) -> None:
        try:
            sent = json.loads(text)
            kind, data = str(sent["type"]), dict(sent.get("data") or {})
        except (ValueError, KeyError, TypeError, AttributeError):
            kind, data = "custom", {"message": text}
        self.dispatched(kind, data, task, attempt)

    # ---- writing and announcing ---------------------------------------------------------

    def _schedule(self) -> None:
        if self._scheduled:
            return
        if self._loop is None:
            self.flush()
            return
        self._scheduled = True
        if self.store is None:
            self._loop.call_soon(self.flush)
        else:
            # A short window lets the transitions of many ticks share one transaction.
            self._loop.call_later(FLUSH_WINDOW, self._flush_soon)

    def _flush_soon(self) -> None:
        """Hand what is pending to the writer; it is announced once written (on the loop)."""
        self._scheduled = False
        batch = self._take()
        if batch is None:
            return
        attempts, logs, rows, events = batch
        if self.store is None or self._loop is None:
            if self.store is not None:
                self.store.runs.write_rows(attempts, logs, rows)
            self._announce(events)
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="sloth-journal")
        future = self._writer.submit(self.store.runs.write_rows, attempts, logs, rows)
        self._inflight.append((future, events))
        loop = self._loop
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._announce_written))

    def flush(self) -> None:
        """Write and announce everything pending now, in order (waits for the writer)."""
        self._scheduled = False
        while self._inflight:
            future, events = self._inflight.popleft()
            self._settle(future)
            self._announce(events)
        batch = self._take()
        if batch is None:
            return
        attempts, logs, rows, events = batch
        if self.store is not None:
            try:
                self.store.runs.write_rows(attempts, logs, rows)
            except StoreError as exc:  # the run goes on; its end says whether it was recorded
                if _history_failures.ready():
                    log.warning("run %s: writing run history failed: %s", self.run_id, exc)
        self._announce(events)

    def close(self) -> None:
        """flush(), then let the writer thread go."""
        self.flush()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def _take(self) -> tuple[list[Any], list[Any], list[Any], list[RunEvent]] | None:
        """What is pending, as rows ready for the store (RunLog.write_rows), and its events."""
        attempts = list(self._attempts.values())
        logs, events = self._logs, self._events
        self._attempts, self._logs, self._events = {}, [], []
        if not (attempts or logs or events):
            return None
        if self.redactor is not None:
            attempts, logs, events = self._redacted(attempts, logs, events)
        if self.store is None:
            return [], [], [], events  # announced only: no rows to make
        stack = self.stack
        rows = [row_of_event(e, stack) for e in events if e.kind != "task.log"]
        return [_encoded(a) for a in attempts], logs, rows, events

    def _announce_written(self) -> None:
        while self._inflight and self._inflight[0][0].done():
            future, events = self._inflight.popleft()
            self._settle(future)
            self._announce(events)

    def _settle(self, future: Future[None]) -> None:
        try:
            future.result()
        except StoreError as exc:  # the run goes on; its end says whether it was recorded
            if _history_failures.ready():
                log.warning("run %s: writing run history failed: %s", self.run_id, exc)
        except Exception:  # a bug: the operator sees why history is missing
            log.exception("run %s: writing run history failed", self.run_id)

    def _announce(self, events: list[RunEvent]) -> None:
        for event in events:
            for listener in self.listeners:
                try:
                    listener(event)
                except Exception:  # a broken listener must not stop the run
                    log.exception("run listener failed on %s", event.kind)

    def _redacted(
        self, attempts: list[tuple[Any, ...]], logs: list[tuple[Any, ...]], events: list[RunEvent]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[RunEvent]]:
        hide = self.redactor
        attempts = [hide.value(a) for a in attempts]
        logs = [(*row[:-1], hide.text(row[-1])) for row in logs]
        events = [dataclasses.replace(e, data=hide.value(e.data)) for e in events]
        return attempts, logs, events


def event_record(event: RunEvent, stack: str | None) -> dict[str, Any]:
    """The events-table record of a run event (EventLog's keys)."""
    return {
        "ts": event.ts,
        "type": event.kind,
        "severity": EVENT_SEVERITY.get(event.kind, "info"),
        "source": "engine",
        "stack": stack,
        "run_id": event.run_id,
        "data": _event_data(event),
    }


def row_of_event(event: RunEvent, stack: str | None) -> tuple[Any, ...]:
    """The events-table row of a run event (EVENT_HEAD's columns), its data as JSON text."""
    kind = event.kind
    data = _event_data(event)
    return (event.ts, kind, EVENT_SEVERITY.get(kind, "info"), "engine", stack, event.run_id, to_json(data))


def _event_data(event: RunEvent) -> dict[str, Any]:
    data = dict(event.data)
    if event.task:
        data["task"] = event.task
        data["attempt"] = event.attempt
    if event.status:
        data["status"] = event.status
    data["workflow"] = event.workflow
    return data


def _encoded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """An attempt row with its outputs (second to last) as JSON text."""
    outputs = row[10]
    if outputs is None:
        return row
    return (*row[:10], to_json(outputs) if outputs else "{}", row[11])


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
