"""The workflow model: plain data produced by the DSL loader and consumed by the executor.

Lua functions are not stored here: a task field that holds a function records only that it
is a function (`LUA_FUNCTION`), and whoever runs the task looks it up by workflow and task
name in its own runtime. This keeps a spec picklable and free of interpreter objects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

LUA_FUNCTION = "<lua function>"
MASTER_PLACEMENT = "master"
"""Where a task of a master's run without `delegate_to` runs (and the name shown for it)."""
"""Marker for a field whose value is a Lua function in the runtime that loaded the file."""

Hook = str | None
"""A shell command, LUA_FUNCTION, or None."""


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCESS = "success"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.RETRYING)

    @property
    def ok(self) -> bool:
        """True when dependents may run after this state."""
        return self in (TaskStatus.SUCCESS, TaskStatus.UNCHANGED)


_ENDS = frozenset({"success", "unchanged", "failed", "timed_out", "cancelled"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"running", "skipped", "failed", "cancelled", "timed_out"}),
    "running": _ENDS | {"retrying"},
    "retrying": frozenset({"running", "failed", "cancelled", "timed_out"}),
}
"""Allowed task state changes; a finished state changes no more."""


def can_move(old: TaskStatus, new: TaskStatus) -> bool:
    return new.value in TRANSITIONS.get(old.value, frozenset())


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    """Its owning process died before it could record the end (sloth_engine.run_owner)."""

    @property
    def finished(self) -> bool:
        return self is not RunStatus.RUNNING


RUN_TRANSITIONS: dict[RunStatus | None, frozenset[RunStatus]] = {
    None: frozenset({RunStatus.RUNNING}),
    RunStatus.RUNNING: frozenset(
        {RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.ABANDONED}
    ),
}
"""Allowed run state changes (None: no run yet); an ended run changes no more, nor starts again.
sloth_engine.run_transition is the one place that applies them."""


def run_can_move(old: RunStatus | None, new: RunStatus) -> bool:
    return new in RUN_TRANSITIONS.get(old, frozenset())


BackoffKind = Literal["fixed", "linear", "exponential"]


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 0
    strategy: BackoffKind = "exponential"
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.1


@dataclass(frozen=True)
class Placement:
    """Where a task runs: locally, on a named agent, on agents with tags, on any agent, or (in
    a run submitted to a master) on the master's host, in a child process of the master."""

    agent: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    any_agent: bool = False
    on_master: bool = False

    @property
    def local(self) -> bool:
        return self.agent is None and not self.tags and not self.any_agent and not self.on_master

    def describe(self) -> str:
        if self.on_master:
            return MASTER_PLACEMENT
        if self.agent:
            return f"agent {self.agent}"
        if self.tags:
            return "agents with " + ",".join(f"{k}={v}" for k, v in self.tags)
        if self.any_agent:
            return "any agent"
        return "local"


@dataclass
class TaskSpec:
    name: str
    line: int | None = None
    depends_line: int | None = None
    """Line where the dependencies were given (for an unknown-dependency error)."""
    description: str = ""
    command: str | None = None
    """A shell command, LUA_FUNCTION, or None (a task with nothing to do succeeds)."""
    timeout: float | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    depends_on: list[str] = field(default_factory=list)
    placement: Placement = field(default_factory=Placement)
    workdir: str | None = None
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    run_if: Hook = None
    abort_if: Hook = None
    pre_hook: Hook = None
    post_hook: Hook = None
    on_success: Hook = None
    on_failure: Hook = None
    on_timeout: Hook = None
    on_rollback: Hook = None
    artifacts: list[str] = field(default_factory=list)
    consumes: list[str] = field(default_factory=list)
    legacy_signature: bool = False
    """TaskDefinitions form: command(params, deps) instead of command(this, params, input)."""


@dataclass
class WorkflowSpec:
    name: str
    path: str
    line: int | None = None
    description: str = ""
    version: str = ""
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    max_parallel: int | None = None
    retry_delay: float | None = None
    """config.retry_delay: base delay between attempts for every task."""
    placement: Placement = field(default_factory=Placement)
    workdir: str | None = None
    create_workdir: bool = False
    clean_workdir: Hook | bool = False
    on_start: Hook = None
    on_complete: Hook = None
    on_task_start: Hook = None
    on_task_complete: Hook = None

    @property
    def stack(self) -> str | None:
        stack = self.config.get("stack")
        return str(stack) if stack else None


@dataclass
class WorkflowFile:
    """Everything one file defines, in definition order."""

    path: str
    workflows: list[WorkflowSpec] = field(default_factory=list)

    def get(self, name: str) -> WorkflowSpec | None:
        for workflow in self.workflows:
            if workflow.name == name:
                return workflow
        return None
