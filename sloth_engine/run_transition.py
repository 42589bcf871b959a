"""The one checked way a run changes state: create, start, finish, cancel, abandon.

Each transition is checked against `spec.RUN_TRANSITIONS` (an ended run neither ends again nor
starts again), saved, then announced, as a task's transitions are (TaskRunner._move ->
Journal). The store checks the same thing in the statement that ends a run, so two processes
ending one run cannot both succeed, and the end and its event are written in one transaction.

create: (none) -> running. No event: the run is announced when it starts.
start: its executor starts a running run (announces `workflow.started`); a master claiming an
    unfinished run to resume it is a start too (refused once the run ended; no event).
finish: running -> success, failed, cancelled (`workflow.completed`, `.failed`, `.cancelled`).
cancel: running -> cancelled by hand, when nobody runs it any more (`workflow.cancelled`).
abandon: running -> abandoned, its owning process gone (`workflow.abandoned`).

A run with a journal announces through the journal (its listeners: progress, a master's feed,
the event bus); a run ended by someone else than its owner (cancel, abandon, a master giving
up on it) hands the event to `deliver` (an EventBus's deliver) when one is given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sloth_engine.errors import RunTransitionRefused
from sloth_engine.executor.journal import Journal, event_record
from sloth_engine.executor.results import RunEvent
from sloth_engine.spec import RunStatus, run_can_move
from sloth_engine.store.retry import retrying

if TYPE_CHECKING:
    from sloth_engine.run_owner import Owner
    from sloth_engine.store import Store

log = logging.getLogger(__name__)

STARTED = "workflow.started"
ENDED: dict[RunStatus, str] = {
    RunStatus.SUCCESS: "workflow.completed",
    RunStatus.FAILED: "workflow.failed",
    RunStatus.CANCELLED: "workflow.cancelled",
    RunStatus.ABANDONED: "workflow.abandoned",
}
"""The event each end announces."""

Deliver = Callable[[dict[str, Any]], None]
"""Hands an event already in the store to its watchers and hooks (EventBus.deliver)."""


class RunTransition:
    """The transitions of one run, in the process that runs it (or ends it)."""

    def __init__(
        self,
        run_id: str,
        workflow: str,
        store: Store | None,
        stack: str | None = None,
        journal: Journal | None = None,
        deliver: Deliver | None = None,
        exists: bool = False,
    ) -> None:
        self.run_id = run_id
        self.workflow = workflow
        self.store = store
        self.stack = stack
        self.journal = journal
        self.deliver = deliver
        self.status: RunStatus | None = RunStatus.RUNNING if exists else None
        """What this process knows of the run: None before `create` (unless `exists`)."""
        self.started = False
        self.concluded: RunStatus | None = None
        """The end its executor announced (`conclude`), before the run's last steps."""

    @property
    def ended(self) -> bool:
        return self.status is not None and self.status.finished

    def _check(self, new: RunStatus) -> None:
        if not run_can_move(self.status, new):
            raise RunTransitionRefused(self.run_id, self.status, new)

    def create(
        self,
        file: str,
        params: Mapping[str, Any] | None,
        owner: Owner | None = None,
        at: float | None = None,
        source_digest: str | None = None,
    ) -> None:
        """Record the run, `running` from now, owned by `owner` (with the digest of its file's
        text: sloth_engine.retry); refused when it exists."""
        self._check(RunStatus.RUNNING)
        if self.store is not None:
            at = time.time() if at is None else at
            runs = self.store.runs
            runs.create_run(self.run_id, self.workflow, file, self.stack, params, at, owner, source_digest)
        self.status = RunStatus.RUNNING

    def start(self, at: float) -> None:
        """Its executor starts: announced once (a run created elsewhere starts here too)."""
        if self.status is not RunStatus.RUNNING or self.started:
            raise RunTransitionRefused(self.run_id, self.status, RunStatus.RUNNING)
        self.started = True
        if self.journal is not None:  # the journal writes it with the run's first transitions
            self.journal.event(STARTED, status=RunStatus.RUNNING.value, started_at=at)

    def conclude(self, status: RunStatus, duration_s: float, error: str | None) -> None:
        """Its executor is done: the end is announced now, through the journal with the run's
        last transitions (before a stack's after-run steps, which may still change the
        message); `finish` records it without announcing it twice."""
        status = RunStatus(status)
        self._check(status)
        self.concluded = status
        if self.journal is not None:
            event = self._event(status, duration_s, error, time.time())
            self.journal.event(event.kind, status=event.status, **event.data)
            self.journal.flush()

    def finish(
        self,
        status: RunStatus,
        duration_s: float,
        error: str | None,
        at: float | None = None,
        close_attempts: bool = False,
    ) -> None:
        """End the run: check, save the end with its event (one transaction, through a blip of
        the store), then announce the event (unless `conclude` announced this end). A store
        that refuses the end raises StoreError after the event is announced (the watchers must
        learn the run ended)."""
        status = RunStatus(status)
        self._check(status)
        at = time.time() if at is None else at
        event = None if self.concluded is status else self._event(status, duration_s, error, at)
        self.status = status
        try:
            if self.store is not None:
                self._save_end(status, at, duration_s, error, event, close_attempts)
        finally:
            if event is not None:
                self._announce(event)

    def _event(self, status: RunStatus, duration_s: float, error: str | None, at: float) -> RunEvent:
        data = {"duration_s": duration_s, "error": error or ""}
        return RunEvent(ENDED[status], self.run_id, self.workflow, at, status=status.value, data=data)

    def _save_end(
        self,
        status: RunStatus,
        at: float,
        duration_s: float,
        error: str | None,
        event: RunEvent | None,
        close_attempts: bool,
    ) -> None:
        assert self.store is not None
        runs, tries = self.store.runs, []
        row = event_record(event, self.stack) if event is not None else None

        def once() -> None:
            tries.append(1)
            try:
                runs.end_run(self.run_id, status, at, duration_s, error, row, close_attempts)
            except RunTransitionRefused as exc:
                if len(tries) > 1 and exc.current is status:
                    return  # the first try committed; only its answer was lost
                raise

        retrying(once, self.store.url)

    def _announce(self, event: RunEvent) -> None:
        if self.journal is not None:
            self.journal.announce(event)
        elif self.deliver is not None:
            try:
                self.deliver(event_record(event, self.stack))
            except Exception:  # the end is recorded; a broken watcher must not undo that
                log.exception("delivering the end of run %s failed", self.run_id)


def end(store: Store, run_id: str, status: RunStatus, reason: str, deliver: Deliver | None = None) -> None:
    """End a recorded run that its owner will not end (a master giving up on it, a user
    cancelling it by hand, its process gone), with its unfinished attempts.
    RunTransitionRefused when it has ended already or does not exist."""
    run = store.runs.get_run(run_id, with_tasks=False)
    if run is None:
        raise RunTransitionRefused(run_id, None, RunStatus(status))
    transition = RunTransition(run_id, run["workflow"], store, run["stack"], deliver=deliver)
    transition.status = RunStatus(run["status"])
    now = store.runs.clock()
    started = run["started_at"] if run["started_at"] is not None else now
    transition.finish(status, now - started, reason, at=now, close_attempts=True)


def cancel(store: Store, run_id: str, reason: str, deliver: Deliver | None = None) -> None:
    """End, cancelled, a run nobody runs any more (`runs cancel --force`)."""
    end(store, run_id, RunStatus.CANCELLED, reason, deliver)


def claim(store: Store, run_id: str, owner: Owner) -> None:
    """A master resuming the run executes it from now on: refused when it has ended."""
    store.runs.claim_run(run_id, owner)


def abandon_gone(
    store: Store, gone: Callable[[dict[str, Any]], bool], deliver: Deliver | None = None
) -> list[str]:
    """End `abandoned` the unfinished local runs whose owner `gone` says is gone; their ids."""
    ended = []
    for row in store.runs.local_unfinished():
        if not gone(row):
            continue
        reason = f"abandoned: the process that ran it (pid {row['owner_pid']}) is gone"
        try:
            end(store, row["run_id"], RunStatus.ABANDONED, reason, deliver)
        except RunTransitionRefused:
            continue  # it ended meanwhile (its owner was not gone after all)
        ended.append(row["run_id"])
    return ended
