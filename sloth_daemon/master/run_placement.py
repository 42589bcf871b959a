"""Where a master's run places the tasks that name no agent (`delegate_to`).

The run's default agent (`run --default-agent NAME`), else the workflow's
`config.default_delegate_to`, else the master's host: such a task runs in a child process of
the master (host_tasks.py) and is shown as placed on `master`. A master started with
`--no-local-tasks` refuses a submission with such tasks, naming them, before any run exists.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sloth_daemon.errors import Rejected
from sloth_engine.errors import DslError
from sloth_engine.spec import Placement, WorkflowSpec


def place_tasks(spec: WorkflowSpec, default_agent: str | None, refuse_master: bool) -> WorkflowSpec:
    """`spec` with every task without a placement placed; Rejected when none may be found."""
    default = default_agent or spec.config.get("default_delegate_to")
    placement = _placement_of(default, spec) if default else None
    unplaced = [name for name, task in spec.tasks.items() if task.placement.local]
    if not unplaced:
        return spec
    if placement is None:
        if refuse_master:
            raise Rejected(
                f"workflow '{spec.name}': this master runs no tasks itself (--no-local-tasks), and "
                f"task(s) {', '.join(unplaced)} have no delegate_to; give them one, or a default "
                "placement (run --default-agent NAME, or config.default_delegate_to)"
            )
        placement = Placement(on_master=True)
    tasks = {n: replace(t, placement=placement) if t.placement.local else t for n, t in spec.tasks.items()}
    return replace(spec, tasks=tasks)


def _placement_of(value: Any, spec: WorkflowSpec) -> Placement:
    """A default placement: an agent name, or a table { agent = }, { tags = {...} }, { any = true }."""
    if isinstance(value, str) and value.strip():
        return Placement(agent=value.strip())
    if isinstance(value, dict):
        tags = value.get("tags")
        if isinstance(tags, dict) and tags:
            return Placement(tags=tuple(sorted((str(k), str(v)) for k, v in tags.items())))
        if value.get("any"):
            return Placement(any_agent=True)
        agent = value.get("agent") or value.get("name")
        if isinstance(agent, str) and agent:
            return Placement(agent=agent)
    raise DslError(
        f"workflow '{spec.name}': config.default_delegate_to must be an agent name, "
        "{ tags = {...} } or { any = true }",
        spec.path,
    )
