"""The seam between the executor and whatever runs delegated tasks on agents.

The engine knows nothing of the network: a master passes a RemotePort to the run, and an
agent runs what it receives with `run_attempt_here`, through the same task runner as a local run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sloth_engine.errors import ConfigurationError
from sloth_engine.spec import Placement, WorkflowSpec

from .results import AttemptOutcome


@dataclass
class RemoteTask:
    """One attempt of a delegated task, as handed to whatever places it on an agent."""

    run_id: str
    workflow: str
    task: str
    path: str
    params: dict[str, Any]
    inputs: dict[str, Any]
    timeout: float | None
    attempt: int
    placement: Placement
    config: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    """What the run's config.secrets grants: travels with the attempt to its agent only."""
    cwd: str = ""
    """The task's working folder as the run computed it (a task on the master's host runs there)."""
    on_placed: Callable[[str], None] | None = None
    """Called with the agent's name once the attempt is handed to it (so a cancelled or
    timed-out attempt still names where it ran)."""
    trace: dict[str, str] = field(default_factory=dict)
    """The attempt's W3C trace context (sloth_engine/tracing.py): the agent's span is its child."""


class RemotePort(Protocol):
    async def execute(self, task: RemoteTask, sink: Callable[[str, str], None]) -> tuple[AttemptOutcome, str]:
        """Run the attempt on a matching agent: (outcome, agent name)."""
        ...


def refuse_without_master(workflows: list[WorkflowSpec]) -> None:
    """A run with no master cannot place delegated tasks: fail before any task runs (naming
    them) unless the workflow falls back to running them here (config.fallback_local)."""
    stranded = [
        f"{wf.name}.{task.name} ({task.placement.describe()})"
        for wf in workflows
        if not wf.config.get("fallback_local")
        for task in wf.tasks.values()
        if not task.placement.local
    ]
    if stranded:
        raise ConfigurationError(
            "delegated tasks need a master to find agents: "
            + ", ".join(stranded)
            + " (use --master HOST:PORT or $SLOTH_MASTER, or config.fallback_local = true)"
        )
