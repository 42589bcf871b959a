"""The DAG loop: start ready tasks up to the parallel limit, propagate results, end the run."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque

from sloth_engine.graph import dependents
from sloth_engine.spec import RunStatus, TaskStatus, WorkflowSpec

from .journal import Journal
from .results import RunResult, TaskResult
from .task_runner import TaskRunner

log = logging.getLogger(__name__)


class DagExecutor:
    """Runs one workflow's tasks in dependency order with at most `max_parallel` in flight."""

    def __init__(
        self,
        workflow: WorkflowSpec,
        runner: TaskRunner,
        journal: Journal,
        max_parallel: int | None = None,
        finished: dict[str, TaskResult] | None = None,
    ) -> None:
        self.workflow = workflow
        self.runner = runner
        self.journal = journal
        self.max_parallel = max(1, max_parallel or workflow.max_parallel or os.cpu_count() or 1)
        self.results = {name: TaskResult(name) for name in workflow.tasks}
        self._finished = {n for n, r in (finished or {}).items() if n in self.results and r.status.finished}
        """Tasks a previous process of a resumed run finished: kept, never run again."""
        for name in self._finished:
            self.results[name] = (finished or {})[name]
        self._dependents = dependents(workflow)
        self._remaining = {n: len(t.depends_on) for n, t in workflow.tasks.items()}
        self._blocked_by: dict[str, str] = {}
        self._cancel_reason: str | None = None
        self._running: dict[asyncio.Task[TaskStatus], str] = {}
        self.reused = False
        """The finished tasks come from another run (a retry): recorded in this one at the start."""

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the run: running tasks are cancelled (their processes killed), nothing new starts."""
        if self._cancel_reason is None:
            self._cancel_reason = reason
            self.runner.stopping(TaskStatus.CANCELLED, reason)
        for task in self._running:
            task.cancel()

    async def run(self) -> RunResult:
        started = time.time()
        clock = time.monotonic()
        self.journal.bind(asyncio.get_running_loop())
        if self.reused:
            self._record_reused()
        error = ""
        timed_out = False
        try:
            await self.runner.workflow_hook("on_start", ())
            async with asyncio.timeout(self.workflow.timeout):
                await self._loop()
        except TimeoutError:
            timed_out = True
            error = f"workflow timed out after {self.workflow.timeout:g}s"
            await self._stop_running("workflow timeout", TaskStatus.TIMED_OUT)
        except asyncio.CancelledError:
            self._cancel_reason = self._cancel_reason or "cancelled"
            await self._stop_running(self._cancel_reason, TaskStatus.CANCELLED)
        self._finish_unstarted("workflow timed out" if timed_out else self._cancel_reason)
        status = self._run_status(timed_out)
        if status is RunStatus.CANCELLED and not error:
            error = self._cancel_reason or "cancelled"
        ordered = [self.results[n] for n in self.workflow.tasks]
        result = RunResult(
            self.journal.run_id,
            self.workflow.name,
            status,
            time.monotonic() - clock,
            ordered,
            error,
            started,
        )
        if self._cancel_reason is None:
            await self.runner.workflow_hook(
                "on_complete", (status is RunStatus.SUCCESS, {t.name: t.to_dict() for t in ordered})
            )
        self.journal.flush()  # the run's end and its event: sloth_engine.run_transition
        return result

    async def _loop(self) -> None:
        ready = deque(n for n, c in self._remaining.items() if c == 0 and n not in self._finished)
        for name in self._finished:
            self._release(name, ready)
        while ready or self._running:
            while ready and len(self._running) < self.max_parallel and self._cancel_reason is None:
                name = ready.popleft()
                task = asyncio.create_task(self.runner.run(name, self.results[name], self.results))
                self._running[task] = name
            if not self._running:
                break
            done, _ = await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                name = self._running.pop(task)
                if task.cancelled():
                    continue
                task.result()  # re-raise a bug in the runner instead of hiding it
                self._release(name, ready)

    def _release(self, name: str, ready: deque[str]) -> None:
        """A task ended: dependents whose last dependency this was become ready or skipped."""
        stack = [name]
        while stack:
            current = stack.pop()
            blocking = self.results[current].blocks_dependents
            for child in self._dependents[current]:
                if blocking and child not in self._blocked_by:
                    self._blocked_by[child] = self._blocked_by.get(current, current)
                self._remaining[child] -= 1
                if self._remaining[child] > 0 or child in self._finished:
                    continue
                if child in self._blocked_by:
                    self.runner.skip(
                        self.results[child],
                        f"dependency '{self._blocked_by[child]}' did not succeed",
                    )
                    stack.append(child)
                else:
                    ready.append(child)

    async def _stop_running(self, reason: str, status: TaskStatus) -> None:
        self.runner.stopping(status, reason)
        for task in self._running:
            task.cancel()
        if self._running:
            await asyncio.wait(self._running)
        self._running.clear()

    def _record_reused(self) -> None:
        """A retry: the tasks kept from the run it retries, recorded in this one."""
        now = time.time()
        for name in self.workflow.tasks:
            if name in self._finished:
                result = self.results[name]
                self.journal.attempt(result, now)
                self.journal.event(
                    "task.reused", name, result.attempts, result.status.value,
                    message=result.message, agent=result.agent,
                )  # fmt: skip

    def _finish_unstarted(self, reason: str | None) -> None:
        for result in self.results.values():
            if result.status is TaskStatus.PENDING:
                self.runner.interrupted(result, TaskStatus.CANCELLED, reason or "not started")

    def _run_status(self, timed_out: bool) -> RunStatus:
        if self._cancel_reason is not None and not timed_out:
            return RunStatus.CANCELLED
        statuses = {r.status for r in self.results.values()}
        bad = {TaskStatus.FAILED, TaskStatus.TIMED_OUT, TaskStatus.CANCELLED}
        if timed_out or statuses & bad:
            return RunStatus.FAILED
        return RunStatus.SUCCESS
