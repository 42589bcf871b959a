"""Task graph checks and ordering: unknown dependencies, cycles, dependency levels."""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence

from sloth_engine.errors import CycleError, DslError
from sloth_engine.spec import WorkflowSpec


def check_graph(workflow: WorkflowSpec) -> None:
    """Raise DslError for an unknown dependency and CycleError for a cycle."""
    for task in workflow.tasks.values():
        for dep in task.depends_on:
            if dep not in workflow.tasks:
                known = ", ".join(sorted(workflow.tasks)) or "none"
                raise DslError(
                    f"task '{task.name}' in workflow '{workflow.name}' depends on unknown task "
                    f"'{dep}' (tasks: {known})",
                    workflow.path,
                    task.depends_line or task.line or workflow.line,
                )
            if dep == task.name:
                raise CycleError([task.name, task.name], workflow.path, workflow.name, task.line)
    find_cycle({name: t.depends_on for name, t in workflow.tasks.items()}, workflow)


def find_cycle(deps: Mapping[str, Sequence[str]], workflow: WorkflowSpec) -> None:
    sorter = graphlib.TopologicalSorter(deps)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        # The line of the cycle's first task as written, else of the workflow.
        lines = [line for n in cycle if (line := workflow.tasks[n].line)]
        line = min(lines) if lines else workflow.line
        raise CycleError(cycle, workflow.path, workflow.name, line) from None


def levels(workflow: WorkflowSpec) -> list[list[str]]:
    """Tasks grouped by dependency depth, in definition order within a level."""
    depth: dict[str, int] = {}
    order = list(workflow.tasks)
    sorter = graphlib.TopologicalSorter({n: workflow.tasks[n].depends_on for n in order})
    for name in sorter.static_order():
        deps = workflow.tasks[name].depends_on
        depth[name] = 1 + max((depth[d] for d in deps), default=-1)
    result: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in order:
        result[depth[name]].append(name)
    return result


def dependents(workflow: WorkflowSpec) -> dict[str, list[str]]:
    """For each task, the tasks that depend on it directly."""
    result: dict[str, list[str]] = {name: [] for name in workflow.tasks}
    for task in workflow.tasks.values():
        for dep in task.depends_on:
            result[dep].append(task.name)
    return result
