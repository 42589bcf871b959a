"""A run of a stack (`run STACK -f FILE`, or a workflow whose config.stack is set).

Given to the engine as `RunRequest.lifecycle`, StackLifecycle makes each such run a stack
execution. Before the run: the stack is created if new, `validate_before` runs the checks,
`require_lock` takes the stack's lock for the run's duration (a held lock refuses the run at
once, naming the holder and the reason), and `create_snapshot` (or `on_failure = "rollback"`,
which needs one) snapshots the stack. After it: a failed run with `on_failure = "rollback"` is
compensated and restored; the stack's status, execution count and last run are recorded, what
the run registered is settled, `detect_drift` checks the resources, and the lock is released.
Store work runs on threads, so a master's event loop is not held up.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sloth_engine.errors import SlothError, StackValidationFailed
from sloth_engine.executor.results import RunResult
from sloth_engine.spec import RunStatus
from sloth_engine.stacks import Stacks
from sloth_engine.stacks.rollback import roll_back
from sloth_engine.stacks.validation import failures, validate
from sloth_engine.store.locks import LeaseKeeper
from sloth_engine.store.stack_records import SnapshotInfo, StackStatus

if TYPE_CHECKING:
    from sloth_engine.store import Store

log = logging.getLogger(__name__)


def default_holder() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (containers): still a usable holder
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def enabled(config: dict[str, Any], key: str) -> bool:
    value = config.get(key)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def wants_rollback(config: dict[str, Any]) -> bool:
    return str(config.get("on_failure") or "").strip().lower() == "rollback"


@dataclass
class _StackRun:
    stack: str
    path: str
    started_at: float
    keeper: LeaseKeeper | None = None
    snapshot: SnapshotInfo | None = None


class StackLifecycle:
    """before_run / after_run for every run that belongs to a stack; others pass through."""

    def __init__(self, store: Store, user: str | None = None, full_runs: bool = True) -> None:
        self.store = store
        self.user = user or default_holder()
        self.full_runs = full_runs
        """False for runs of some of a workflow's tasks (drift fix): they declare only part of
        the stack, so what they do not register is not orphaned."""
        self.stacks = Stacks(store)
        self._runs: dict[str, _StackRun] = {}

    async def before_run(self, run: Any) -> None:
        stack = run.journal.stack
        if stack is None or self.store is None:
            return
        self._runs[run.run_id] = await asyncio.to_thread(self._before, run, stack)

    def _before(self, run: Any, stack: str) -> _StackRun:
        wf, config = run.workflow, run.workflow.config
        path = str(Path(run.request.path).resolve())
        catalog = self.stacks.catalog
        catalog.ensure(stack, path, wf.name)
        state = _StackRun(stack, path, time.time())
        try:
            if enabled(config, "validate_before"):
                self._validate(stack, path)
            if enabled(config, "require_lock"):
                reason = f"workflow '{wf.name}' run by {self.user}"
                state.keeper = self.stacks.locks.hold_for_run(stack, run.run_id, f"run:{run.run_id}", reason)
            if enabled(config, "create_snapshot") or wants_rollback(config):
                state.snapshot = self.stacks.snapshots.create(
                    stack, f"before run {run.run_id} of {wf.name}", f"run:{run.run_id}", run.run_id
                )
            catalog.run_started(stack, run.run_id, wf.name, path)
        except SlothError as exc:
            self._let_go(state, run.run_id)
            data = {"workflow": wf.name, "error": str(exc), "started": False}
            catalog.emit("stack.execution.failed", stack, data, run.run_id, "error")
            raise
        data = {
            "workflow": wf.name,
            "file": path,
            "snapshot": state.snapshot.label if state.snapshot else None,
        }
        catalog.emit("stack.execution.started", stack, data, run.run_id)
        return state

    def _validate(self, stack: str, path: str) -> None:
        problems = failures(validate(self.stacks, stack, workflow_file=path))
        if problems:
            raise StackValidationFailed(stack, problems)

    async def after_run(self, run: Any, result: RunResult | None) -> RunResult | None:
        state = self._runs.pop(run.run_id, None)
        if state is None:
            return result
        try:
            status = StackStatus.FAILED
            if result is not None:
                status = _status(result)
                if (
                    result.status is RunStatus.FAILED
                    and wants_rollback(run.workflow.config)
                    and state.snapshot
                ):
                    result = await roll_back(run, result, self.stacks, state.stack, state.snapshot)
                    status = StackStatus.ROLLED_BACK
            await asyncio.to_thread(self._record, run, result, state, status)
        finally:
            await asyncio.to_thread(self._let_go, state, run.run_id)
        return result

    def _record(self, run: Any, result: RunResult | None, state: _StackRun, status: StackStatus) -> None:
        stack, catalog = state.stack, self.stacks.catalog
        duration = result.duration_s if result is not None else time.time() - state.started_at
        succeeded = status is StackStatus.SUCCESS
        self.stacks.resources.settle_run(stack, run.run_id, state.path, self.full_runs and succeeded)
        catalog.run_finished(stack, run.run_id, status, state.started_at, duration)
        data = {"workflow": run.workflow.name, "status": status.value, "duration_s": round(duration, 6)}
        if result is not None and result.error:
            data["error"] = result.error
        kind = "stack.execution.completed" if succeeded else "stack.execution.failed"
        catalog.emit(kind, stack, data, run.run_id, "info" if succeeded else "error")
        if succeeded and enabled(run.workflow.config, "detect_drift"):
            try:
                report = self.stacks.drift.detect(stack, run.run_id)
            except SlothError as exc:  # the run itself succeeded: say so, and why drift was not checked
                log.warning("stack %s: drift detection after run %s failed: %s", stack, run.run_id, exc)
                return
            if report.findings:
                names = ", ".join(f.resource for f in report.findings[:10])
                log.warning("stack %s: drift after run %s: %s", stack, run.run_id, names)

    def _let_go(self, state: _StackRun, run_id: str) -> None:
        keeper, state.keeper = state.keeper, None
        if keeper is not None:
            with contextlib.suppress(SlothError):  # else the 60 s lease runs out by itself
                self.stacks.locks.release_run(state.stack, keeper, run_id)


def _status(result: RunResult) -> StackStatus:
    if result.status is RunStatus.SUCCESS:
        return StackStatus.SUCCESS
    if result.status is RunStatus.CANCELLED:
        return StackStatus.CANCELLED
    return StackStatus.FAILED
