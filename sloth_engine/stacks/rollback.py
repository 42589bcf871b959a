"""`on_failure = "rollback"`: compensate the tasks that completed, newest first, then put the
stack's state back to the snapshot taken before the run.

A task's compensating handler is `:on_rollback(fn)` on the builder or `rollback` in a task
table: a Lua function called as `fn(this, params, outputs)` (outputs: what the task returned),
or a shell command. Handlers run in the reverse order in which their tasks finished, so a task
is undone before the tasks it depended on.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

from sloth_engine.executor.results import RunResult, TaskResult
from sloth_engine.spec import TaskStatus
from sloth_engine.stacks import Stacks
from sloth_engine.store.stack_records import SnapshotInfo

_FAILED = (TaskStatus.FAILED, TaskStatus.TIMED_OUT)


class Compensation(NamedTuple):
    task: str
    ok: bool
    error: str = ""


def completion_order(result: RunResult) -> list[TaskResult]:
    """Tasks that completed (success or unchanged), the last to finish first."""
    done = [t for t in result.tasks if t.status.ok and t.started_at is not None]
    return sorted(done, key=lambda t: (t.started_at or 0.0) + t.duration_s, reverse=True)


async def compensate(run: Any, result: RunResult) -> list[Compensation]:
    """Run the compensating handlers of the run's completed tasks, newest first."""
    outcomes: list[Compensation] = []
    for task in completion_order(result):
        spec = run.workflow.tasks[task.name]
        if spec.on_rollback is None:
            continue
        cwd = _workdir(run, spec)
        params = {
            **spec.params,
            **run.ctx.params,
            "task_name": spec.name,
            "group_name": run.workflow.name,
            "workdir": str(cwd),
        }
        ok, detail = await run.runner.calls.hook(spec, "on_rollback", task, cwd, (params, task.outputs))
        outcomes.append(Compensation(task.name, ok, detail))
        if ok:
            run.journal.event("task.rolled_back", task.name, task.attempts, "rolled_back")
        else:
            run.journal.event(
                "workflow.hook_failed", hook=f"on_rollback of {task.name}", error=detail or "failed"
            )
    run.journal.flush()
    return outcomes


async def roll_back(
    run: Any, result: RunResult, stacks: Stacks, stack: str, snapshot: SnapshotInfo
) -> RunResult:
    """Compensate, restore the pre-run snapshot, and report the run failed and rolled back."""
    outcomes = await compensate(run, result)
    await asyncio.to_thread(
        stacks.snapshots.restore, stack, snapshot.version, f"run:{run.run_id}", run.run_id
    )
    failed = [c.task for c in outcomes if not c.ok]
    text = f"rolled back to {snapshot.label}"
    if outcomes:
        text += f" ({len(outcomes)} compensating handler{'s' if len(outcomes) != 1 else ''}: "
        text += ", ".join(c.task for c in outcomes) + ")"
    if failed:
        text += "; compensation failed for " + ", ".join(failed)
    cause = result.error or ", ".join(
        f"task {t.name} {t.status.value}" for t in result.tasks if t.status in _FAILED
    )
    error = f"{cause}; {text}" if cause else text
    return dataclasses.replace(result, error=error)


def _workdir(run: Any, spec: Any) -> Path:
    chosen = spec.workdir or run.workflow.workdir
    return Path(chosen).expanduser() if chosen else run.ctx.cwd
