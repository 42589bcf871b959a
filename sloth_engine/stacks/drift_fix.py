"""`stack drift fix`: run again the tasks that own the drifted resources.

The tasks are run as a run of the stack (lock, snapshot and the other config keys apply) of
only the tasks needed: the owners of drifted resources, plus the tasks they depend on, which
do not run again but hand over the outputs of their last successful run. Extra resources
cannot be fixed by running a task (nothing declares them any more): they are reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from sloth_engine.errors import SlothError, StackError
from sloth_engine.executor.results import RunResult, TaskResult
from sloth_engine.run import Resume, RunRequest, WorkflowRun, load, new_run_id
from sloth_engine.run_transition import RunTransition
from sloth_engine.spec import RunStatus, TaskStatus, WorkflowSpec
from sloth_engine.stacks import Stacks
from sloth_engine.stacks.drift import DriftReport, Finding
from sloth_engine.stacks.lifecycle import StackLifecycle
from sloth_engine.store import Store

FIXABLE = ("configuration", "missing")


class FixGroup(NamedTuple):
    """The tasks of one workflow of one file to run again, and the findings they fix."""

    file: str
    workflow: str
    tasks: list[str]
    findings: list[Finding]


class FixPlan(NamedTuple):
    report: DriftReport
    groups: list[FixGroup]
    unfixable: list[tuple[Finding, str]]
    """Findings no task run can fix, with the reason."""


def plan_fix(stacks: Stacks, stack: str) -> FixPlan:
    """Detect drift now and group the fixable findings by the workflow that owns them."""
    report = stacks.drift.detect(stack)
    info = stacks.catalog.require(stack)
    groups: dict[tuple[str, str], FixGroup] = {}
    unfixable: list[tuple[Finding, str]] = []
    for item in report.findings:
        if item.kind not in FIXABLE:
            why = (
                "no longer declared by the workflow"
                if item.kind == "extra"
                else item.error or "cannot be read"
            )
            unfixable.append((item, why))
            continue
        file = item.file or info.workflow_file
        if not item.task or not item.workflow or not file:
            unfixable.append((item, "no task is known to produce it"))
            continue
        group = groups.setdefault((file, item.workflow), FixGroup(file, item.workflow, [], []))
        if item.task not in group.tasks:
            group.tasks.append(item.task)
        group.findings.append(item)
    ordered = [g._replace(tasks=sorted(g.tasks)) for g in groups.values()]
    return FixPlan(report, ordered, unfixable)


def needed_tasks(workflow: WorkflowSpec, owners: list[str]) -> tuple[list[str], list[str]]:
    """(tasks to run, tasks they depend on, transitively, that only hand over outputs)."""
    missing = [t for t in owners if t not in workflow.tasks]
    if missing:
        raise StackError(f"workflow '{workflow.name}' no longer has task(s) {', '.join(missing)}")
    ancestors: set[str] = set()
    pending = [d for t in owners for d in workflow.tasks[t].depends_on]
    while pending:
        name = pending.pop()
        if name not in ancestors:
            ancestors.add(name)
            pending.extend(workflow.tasks[name].depends_on)
    ancestors -= set(owners)
    ordered = [t for t in workflow.tasks if t in ancestors]
    return [t for t in workflow.tasks if t in owners], ordered


def last_outputs(store: Store, stack: str, workflow: str, tasks: list[str]) -> dict[str, dict[str, Any]]:
    """Outputs of each task's latest successful attempt in runs of the stack."""
    if not tasks:
        return {}
    found = store.runs.last_task_outputs(stack, workflow)
    return {task: outputs for task, outputs in found.items() if task in tasks}


async def run_fix(
    stacks: Stacks,
    stack: str,
    group: FixGroup,
    listeners: list[Any],
    on_start: Callable[[WorkflowSpec, str], None] | None = None,
    on_run: Callable[[WorkflowRun], None] | None = None,
) -> RunResult:
    """Run the group's tasks as one run of the stack; its result. `on_run` gets the run as it
    is made (a master watches and cancels it like the runs submitted to it)."""
    store = stacks.store
    request = RunRequest(path=group.file, stack=stack, store=store, listeners=listeners)
    request.lifecycle = StackLifecycle(store, full_runs=False)
    loaded = load(request)
    workflow = loaded.spec.get(group.workflow)
    if workflow is None:
        raise StackError(f"{group.file} no longer defines workflow '{group.workflow}'")
    owners, upstream = needed_tasks(workflow, group.tasks)
    outputs = last_outputs(store, stack, workflow.name, upstream)
    kept = {
        name: TaskResult(
            name, TaskStatus.SUCCESS, message="kept from an earlier run", outputs=outputs.get(name, {})
        )
        for name in upstream
    }
    part = replace(
        workflow, tasks={n: t for n, t in workflow.tasks.items() if n in set(owners) | set(upstream)}
    )
    run_id = new_run_id()
    RunTransition(run_id, workflow.name, store, stack).create(str(Path(group.file)), {})
    run = WorkflowRun(request, loaded, part, resume=Resume(run_id, kept))
    if on_run is not None:
        on_run(run)
    if on_start is not None:
        on_start(part, run_id)
    try:
        return await run.execute()
    except SlothError as exc:  # refused before it started (a held lock): close its record
        if not run.transition.ended:
            run.transition.finish(RunStatus.FAILED, 0.0, str(exc))
        raise


def fixed_after(stacks: Stacks, stack: str, plan: FixPlan) -> tuple[DriftReport, list[str], list[str]]:
    """Detect again: (report, resources fixed, resources still drifted) of those planned."""
    after = stacks.drift.detect(stack)
    still = {f.resource for f in after.findings}
    planned = [f.resource for g in plan.groups for f in g.findings]
    return after, [r for r in planned if r not in still], [r for r in planned if r in still]
