"""What a run produces: per-task results, the run result, and the events announced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sloth_engine.changes import recap
from sloth_engine.spec import RunStatus, TaskStatus


@dataclass
class AttemptOutcome:
    """How one attempt of a task ended."""

    status: TaskStatus
    message: str = ""
    error: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    final: bool = False
    """A configuration error: the task cannot work there, so it is not retried."""


@dataclass
class TaskResult:
    name: str
    status: TaskStatus = TaskStatus.PENDING
    attempts: int = 0
    started_at: float | None = None
    attempt_started_at: float | None = None
    duration_s: float = 0.0
    agent: str = "local"
    message: str = ""
    error: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    blocks_dependents: bool = False
    """True when this task's end keeps its dependents from running."""
    changes: int = 0
    """Changes it made (or in check mode would make): module calls that changed something, and
    its shell command (sloth_engine.changes)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "changes": self.changes,
            "status": self.status.value,
            "attempts": self.attempts,
            "duration_s": round(self.duration_s, 6),
            "agent": self.agent,
            "message": self.message,
            "error": self.error,
            "outputs": self.outputs,
        }


@dataclass
class RunResult:
    run_id: str
    workflow: str
    status: RunStatus
    duration_s: float
    tasks: list[TaskResult]
    error: str = ""
    started_at: float = 0.0
    unrecorded: str = ""
    """Why the store could not record this outcome (empty when it did): the client is told
    "outcome not recorded", and the outcome waits on disk (sloth_engine.unrecorded)."""

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status.value,
            "duration_s": round(self.duration_s, 6),
            "tasks": [t.to_dict() for t in self.tasks],
            "recap": self.recap(),
        }
        if self.error:
            doc["error"] = self.error
        if self.unrecorded:
            doc["unrecorded"] = self.unrecorded
        return doc

    def recap(self) -> dict[str, int]:
        return recap([(t.status, t.changes) for t in self.tasks])


@dataclass(frozen=True)
class RunEvent:
    """One announced transition. `kind` uses the DSL's event names (task.started, ...)."""

    kind: str
    run_id: str
    workflow: str
    ts: float
    task: str | None = None
    attempt: int = 0
    status: str = ""
    data: dict[str, Any] = field(default_factory=dict)
