"""One task from start to end: conditions, hooks, attempts with retries, handlers, artifacts.

Every state change of a task goes through `_set`, which updates the result, records the
attempt and emits the event, in that order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sloth_engine import tracing
from sloth_engine.errors import LuaRuntimeError
from sloth_engine.spec import LUA_FUNCTION, TaskSpec, TaskStatus, WorkflowSpec, can_move

from . import artifacts
from .calls import TaskCalls
from .journal import Journal
from .lua_pool import LuaPool
from .remote import RemotePort, RemoteTask
from .results import AttemptOutcome, TaskResult
from .retry import backoff_delay

log = logging.getLogger(__name__)

EVENT_OF = {
    TaskStatus.RUNNING: "task.started",
    TaskStatus.SUCCESS: "task.completed",
    TaskStatus.UNCHANGED: "task.completed",
    TaskStatus.FAILED: "task.failed",
    TaskStatus.TIMED_OUT: "task.timeout",
    TaskStatus.RETRYING: "task.retrying",
    TaskStatus.CANCELLED: "task.cancelled",
    TaskStatus.SKIPPED: "task.skipped",
}


@dataclass
class RunContext:
    run_id: str
    workflow: WorkflowSpec
    cwd: Path
    run_dir: Path
    params: dict[str, Any] = field(default_factory=dict)
    retry_delay: float | None = None
    check_mode: bool = False
    """--check: shell commands and hooks are reported, not run; modules change nothing."""
    secrets: dict[str, str] = field(default_factory=dict)
    """The run's granted secrets (filled when it starts): sent with its delegated attempts."""
    in_flight: dict[str, int] = field(default_factory=dict)
    """A resumed run's tasks whose attempt N had started (sloth_engine.run.Resume.in_flight)."""


class TaskRunner:
    def __init__(
        self, ctx: RunContext, journal: Journal, lua: LuaPool | None, remote: RemotePort | None = None
    ) -> None:
        self.remote = remote
        """Runs delegated tasks on agents; None on a machine without a master."""
        self.ctx = ctx
        self.wf = ctx.workflow
        self.journal = journal
        self.lua = lua
        self.calls = TaskCalls(ctx.run_id, ctx.workflow, ctx.cwd, journal, lua, ctx.check_mode)
        self.process_groups = self.calls.process_groups
        """Process groups of the shell commands running now."""
        self._stop_status = TaskStatus.CANCELLED
        self._stop_reason = "cancelled"

    # ---- transitions ------------------------------------------------------------------

    def _set(
        self,
        result: TaskResult,
        status: TaskStatus,
        message: str = "",
        error: str = "",
        **data: Any,
    ) -> None:
        if not can_move(result.status, status):
            raise RuntimeError(f"task {result.name}: invalid transition {result.status} -> {status}")
        result.status = status
        if message or status is TaskStatus.RUNNING:
            result.message = message
        result.error = error
        finished = status.finished
        now = time.time()
        if status is TaskStatus.RUNNING:
            result.attempt_started_at = now
            if result.started_at is None:
                result.started_at = now
        if finished and result.started_at is not None:
            result.duration_s = now - result.started_at
            data.setdefault("duration_s", round(result.duration_s, 6))
        self.journal.attempt(result, now if finished else None)
        self.journal.event(
            EVENT_OF[status],
            result.name,
            result.attempts,
            status.value,
            message=result.message,
            error=error,
            agent=result.agent,
            **data,
        )

    def close(self) -> None:
        self.calls.close()

    def stopping(self, status: TaskStatus, reason: str) -> None:
        self._stop_status, self._stop_reason = status, reason

    def skip(self, result: TaskResult, reason: str, blocks: bool = True) -> None:
        result.blocks_dependents = blocks
        self._set(result, TaskStatus.SKIPPED, reason)

    def interrupted(self, result: TaskResult, status: TaskStatus, reason: str) -> None:
        result.blocks_dependents = True
        self._set(result, status, reason, reason)

    # ---- the task -----------------------------------------------------------------------

    async def run(self, name: str, result: TaskResult, results: dict[str, TaskResult]) -> TaskStatus:
        spec = self.wf.tasks[name]
        cwd = self._workdir(spec)
        params = self._params(spec, cwd)
        inputs = {dep: results[dep].outputs for dep in spec.depends_on}
        resumed = self.ctx.in_flight.pop(name, 0)
        try:
            if not resumed:  # a resumed attempt's conditions and on_task_start ran before
                refused = await self._conditions(spec, result, cwd, params, inputs)
                if refused is not None:
                    return refused
                await self.calls.workflow_hook("on_task_start", (name,))
            outcome = await self._attempts(spec, result, cwd, params, inputs, resumed)
            outcome = await self._after(spec, result, outcome, cwd, params)
            result.changes = self.journal.changes.get(name, 0)
            if outcome.status.ok and spec.command not in (None, LUA_FUNCTION):
                result.changes += 1  # a shell command changed (in check mode: would change) things
            self._end(result, outcome)
            await self.calls.workflow_hook("on_task_complete", (name, result.status.ok, result.outputs))
        except asyncio.CancelledError:
            result.blocks_dependents = True
            self._set(result, self._stop_status, self._stop_reason, self._stop_reason)
            raise
        except Exception as exc:  # a bug in the engine fails this task, not the whole process
            log.exception("task %s of run %s broke the runner", name, self.ctx.run_id)
            text = f"the task could not be run: {exc or type(exc).__name__}"
            return self._end(result, AttemptOutcome(TaskStatus.FAILED, text, text))
        return result.status

    async def _conditions(
        self, spec: TaskSpec, result: TaskResult, cwd: Path, params: dict[str, Any], inputs: dict[str, Any]
    ) -> TaskStatus | None:
        """run_if and abort_if: the task's end when they stop it, None when it may run."""
        try:
            if spec.run_if is not None and not await self.calls.condition(
                spec, "run_if", cwd, params, inputs
            ):
                self.skip(result, "run_if condition is false", blocks=False)
                return result.status
            if spec.abort_if is not None and await self.calls.condition(
                spec, "abort_if", cwd, params, inputs
            ):
                text = "abort_if condition is true"
                return self._end(result, AttemptOutcome(TaskStatus.FAILED, "aborted", text))
        except LuaRuntimeError as exc:
            text = f"condition failed: {exc.where}"
            return self._end(result, AttemptOutcome(TaskStatus.FAILED, text, text))
        return None

    def _end(self, result: TaskResult, outcome: AttemptOutcome) -> TaskStatus:
        result.outputs = outcome.outputs
        result.blocks_dependents = not outcome.status.ok
        self._set(result, outcome.status, outcome.message, outcome.error)
        return result.status

    async def _attempts(
        self,
        spec: TaskSpec,
        result: TaskResult,
        cwd: Path,
        params: dict[str, Any],
        inputs: dict[str, Any],
        first: int = 0,
    ) -> AttemptOutcome:
        """Attempts from 1 (or from `first`, a resumed attempt) until one succeeds or the
        retries are spent."""
        policy = spec.retry
        if self.ctx.retry_delay is not None:
            policy = replace(policy, base_delay=self.ctx.retry_delay)
        outcome = AttemptOutcome(TaskStatus.FAILED)
        for attempt in range(min(max(first, 1), policy.retries + 1), policy.retries + 2):
            result.attempts = attempt
            self._set(result, TaskStatus.RUNNING)
            if attempt == 1 and not first:
                prepared = await self._prepare(spec, result, cwd, params, inputs)
                if prepared is not None:
                    return prepared
            with tracing.span("sloth.attempt", None, **self._trace_attributes(spec, attempt)) as span:
                outcome = await self._execute(spec, result, cwd, params, inputs)
                span.ended(outcome.status.value, outcome.status.ok, result.agent or "")
            if outcome.status.ok or outcome.final or attempt > policy.retries:
                return outcome
            delay = backoff_delay(policy, attempt)
            result.outputs = outcome.outputs
            result.message, result.error = outcome.message, outcome.error
            self.journal.attempt(result, time.time(), outcome.status)
            self._set(
                result,
                TaskStatus.RETRYING,
                f"attempt {attempt} {outcome.status.value}: {outcome.error or outcome.message}; "
                f"retrying in {delay:.2f}s",
                outcome.error,
                delay_s=delay,
            )
            await asyncio.sleep(delay)
        return outcome

    async def _prepare(
        self,
        spec: TaskSpec,
        result: TaskResult,
        cwd: Path,
        params: dict[str, Any],
        inputs: dict[str, Any],
    ) -> AttemptOutcome | None:
        """pre_hook and consumed artifacts, before the first attempt; an outcome means failure."""
        if spec.consumes:
            problem = artifacts.consume(self.ctx.run_dir, spec.consumes, cwd)
            if problem:
                return AttemptOutcome(TaskStatus.FAILED, problem, problem)
        if spec.pre_hook is not None:
            ok, detail = await self.calls.hook(spec, "pre_hook", result, cwd, (params, inputs))
            if not ok:
                return AttemptOutcome(TaskStatus.FAILED, "pre_hook failed", f"pre_hook failed: {detail}")
        return None

    async def _after(
        self,
        spec: TaskSpec,
        result: TaskResult,
        outcome: AttemptOutcome,
        cwd: Path,
        params: dict[str, Any],
    ) -> AttemptOutcome:
        if outcome.status.ok and spec.artifacts:
            problem = artifacts.save(self.ctx.run_dir, spec.artifacts, cwd)
            if problem:
                outcome = AttemptOutcome(TaskStatus.FAILED, problem, problem, outcome.outputs)
        if outcome.status.ok:
            if spec.on_success is not None:
                await self.calls.hook(spec, "on_success", result, cwd, (params, outcome.outputs))
        else:
            info = {"error": outcome.error or outcome.message, "task_name": spec.name}
            handler = (
                "on_timeout" if outcome.status is TaskStatus.TIMED_OUT and spec.on_timeout else "on_failure"
            )
            if getattr(spec, handler) is not None:
                await self.calls.hook(spec, handler, result, cwd, (params, info))
        if spec.post_hook is not None:
            ok, detail = await self.calls.hook(spec, "post_hook", result, cwd, (params, outcome.outputs))
            if not ok and outcome.status.ok:
                outcome = AttemptOutcome(
                    TaskStatus.FAILED,
                    "post_hook failed",
                    f"post_hook failed: {detail}",
                    outcome.outputs,
                )
        return outcome

    async def _execute(
        self, spec: TaskSpec, result: TaskResult, cwd: Path, params: dict[str, Any], inputs: dict[str, Any]
    ) -> AttemptOutcome:
        if not spec.placement.local:
            if self.remote is not None:
                task = RemoteTask(
                    run_id=self.ctx.run_id,
                    workflow=self.wf.name,
                    task=spec.name,
                    path=self.wf.path,
                    params=params,
                    inputs=inputs,
                    timeout=spec.timeout,
                    attempt=result.attempts,
                    placement=spec.placement,
                    config=self.wf.config,
                    secrets=self.ctx.secrets,
                    cwd=str(cwd),
                    on_placed=lambda name: setattr(result, "agent", name),
                    trace=tracing.carrier(),
                )
                outcome, result.agent = await self.remote.execute(task, self.calls.sink(result))
                return outcome
            if not self.wf.config.get("fallback_local"):
                text = (
                    f"task '{spec.name}' is delegated to {spec.placement.describe()}, but this run has "
                    "no master to find agents (use --master, or config.fallback_local = true)"
                )
                return AttemptOutcome(TaskStatus.FAILED, text, text, final=True)
        return await self.calls.attempt(spec, result, cwd, params, inputs)

    def _trace_attributes(self, spec: TaskSpec, attempt: int) -> dict[str, Any]:
        return {
            "sloth_workflow": self.wf.name,
            "sloth_run_id": self.ctx.run_id,
            "sloth_task": spec.name,
            "sloth_attempt": attempt,
        }

    def _workdir(self, spec: TaskSpec) -> Path:
        chosen = spec.workdir or self.wf.workdir
        return Path(chosen).expanduser() if chosen else self.ctx.cwd

    def _params(self, spec: TaskSpec, cwd: Path) -> dict[str, Any]:
        return {
            **spec.params,
            **self.ctx.params,
            "task_name": spec.name,
            "group_name": self.wf.name,
            "workdir": str(cwd),
        }

    async def workflow_hook(self, name: str, args: tuple[Any, ...]) -> None:
        await self.calls.workflow_hook(name, args)
