"""The attempts an agent is running, and the results it still has to deliver.

Results survive a broken stream: those not yet sent wait for the next connection, and the
recently sent ones are sent again after a reconnect (the master ignores a result it already
has), since a message written just before a stream broke may never have arrived.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from sloth_daemon.agent.attempts import Attempts
from sloth_daemon.gen.sloth.v1 import agent_pb2 as apb
from sloth_daemon.wire import outcome_to_proto
from sloth_engine import tracing
from sloth_engine.executor.results import AttemptOutcome
from sloth_engine.spec import TaskStatus

log = logging.getLogger(__name__)

RESEND_WINDOW = 60.0
"""Results delivered in the last this-many seconds are sent again after a reconnect."""
MAX_UNDELIVERED = 10_000

Key = tuple[str, str]


class TaskSlots:
    def __init__(self, attempts: Attempts, max_tasks: int) -> None:
        self.attempts = attempts
        self.running: dict[Key, tuple[apb.TaskRef, asyncio.Task[None]]] = {}
        self._gate = asyncio.Semaphore(max(1, max_tasks))
        self._undelivered: deque[apb.TaskResult] = deque(maxlen=MAX_UNDELIVERED)
        self._recent: deque[tuple[float, apb.TaskResult]] = deque(maxlen=MAX_UNDELIVERED)
        self.emit_output: Callable[[apb.TaskRef, str, str], None] = lambda ref, stream, line: None
        self.emit_result: Callable[[apb.TaskResult], bool] = lambda result: False
        """Sends a result on the live stream; False when there is none."""
        self.agent = ""
        """This agent's name (the `sloth.agent` of its spans)."""

    def start(self, assign: apb.AssignTask) -> None:
        if assign.HasField("bundle"):
            self.attempts.learn(assign.bundle)
        key = (assign.ref.run_id, assign.ref.task)
        if key in self.running:
            return  # already running it (a reconnect raced an assignment)
        task = asyncio.create_task(self._run(assign))
        self.running[key] = (assign.ref, task)

    def cancel(self, ref: apb.TaskRef, reason: str) -> None:
        found = self.running.get((ref.run_id, ref.task))
        if found is not None:
            found[1].cancel(reason)

    def cancel_all(self, reason: str) -> None:
        for _ref, task in self.running.values():
            task.cancel(reason)

    async def wait_idle(self, timeout: float) -> None:
        tasks = [t for _r, t in self.running.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def _run(self, assign: apb.AssignTask) -> None:
        ref = assign.ref
        attributes = {
            "sloth_workflow": assign.workflow,
            "sloth_run_id": ref.run_id,
            "sloth_task": ref.task,
            "sloth_attempt": ref.attempt,
            "sloth_agent": self.agent,
        }
        with tracing.span("sloth.agent.attempt", dict(assign.trace), **attributes) as span:
            outcome = await self._attempt(assign)
            span.ended(outcome.status.value, outcome.status.ok, self.agent)
        self.deliver(outcome_to_proto(ref, outcome))

    async def _attempt(self, assign: apb.AssignTask) -> AttemptOutcome:
        ref = assign.ref
        try:
            async with self._gate:
                outcome = await self.attempts.run(
                    assign, lambda stream, line: self.emit_output(ref, stream, line)
                )
        except asyncio.CancelledError as exc:
            reason = str(exc.args[0]) if exc.args else "cancelled"
            outcome = AttemptOutcome(TaskStatus.CANCELLED, reason, reason)
        except Exception as exc:  # a bug in a task must not take the agent down
            log.exception("task %s of run %s failed inside the agent", ref.task, ref.run_id)
            text = f"agent error: {exc.__class__.__name__}: {exc}"
            outcome = AttemptOutcome(TaskStatus.FAILED, text, text)
        finally:
            self.running.pop((ref.run_id, ref.task), None)
        return outcome

    def deliver(self, result: apb.TaskResult) -> None:
        if self.emit_result(result):
            self._recent.append((time.monotonic(), result))
        else:
            self._undelivered.append(result)

    def for_register(self) -> tuple[list[apb.TaskRef], list[apb.TaskResult]]:
        """(still running, to deliver) for the Register message of a new connection."""
        horizon = time.monotonic() - RESEND_WINDOW
        recent = [r for t, r in self._recent if t >= horizon]
        finished = recent + list(self._undelivered)
        self._recent.clear()
        self._undelivered.clear()
        for result in finished:
            self._recent.append((time.monotonic(), result))
        return [ref for ref, _t in self.running.values()], finished

    def abandon(self, refs: list[apb.TaskRef]) -> None:
        for ref in refs:
            self.cancel(ref, "abandoned by the master")
