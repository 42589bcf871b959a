"""Retrying a finished run: a new run of the same workflow that runs again only its failed and
skipped tasks (`--failed-only`) and reuses the recorded outputs of those that succeeded.

It goes through the engine's resume path: the kept tasks are a `Resume`'s finished results
(never run again, their outputs are their dependents' `input`), recorded in the new run as
`reused from run X` when it starts. A task is kept only if it succeeded and every task it
depends on is kept too: nothing downstream of a task that runs again keeps stale outputs.

A retry must run the workflow its kept outputs came from: each run records the sha256 of its
workflow file's text (`runs.source_digest`), and `check_source` refuses a file changed since.
"""

from __future__ import annotations

from typing import Any

from sloth_engine.errors import UsageError
from sloth_engine.executor.results import TaskResult
from sloth_engine.graph import levels
from sloth_engine.run import Resume, new_run_id, source_digest
from sloth_engine.spec import RunStatus, TaskStatus, WorkflowSpec


def check_source(run: dict[str, Any], text: str, where: str) -> str:
    """Refuse (UsageError) when `text`, the workflow file now, is not the text `run` ran; a
    warning to show when the run recorded no digest (recorded before digests were kept)."""
    recorded = run.get("source_digest")
    if not recorded:
        return (
            f"warning: run {run['run_id']} recorded no digest of its workflow file: cannot tell "
            f"whether {where} changed since"
        )
    if recorded != source_digest(text):
        raise UsageError(
            f"{where} changed since run {run['run_id']}: a retry would mix the outputs of the old "
            f"tasks with the new ones; run the workflow again in full instead"
        )
    return ""


def latest_attempts(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each task's last recorded attempt."""
    latest: dict[str, dict[str, Any]] = {}
    for row in run.get("tasks") or ():
        if row["attempt"] >= latest.get(row["task"], {}).get("attempt", 0):
            latest[row["task"]] = row
    return latest


def kept_tasks(run: dict[str, Any], workflow: WorkflowSpec) -> dict[str, TaskResult]:
    """The tasks of `run` a failed-only retry keeps: succeeded (or unchanged), with every task
    they depend on kept too, as finished results carrying their recorded outputs."""
    latest = latest_attempts(run)
    ok = {
        name
        for name, row in latest.items()
        if name in workflow.tasks and row["status"] in (TaskStatus.SUCCESS.value, TaskStatus.UNCHANGED.value)
    }
    kept: dict[str, TaskResult] = {}
    for name in (n for level in levels(workflow) for n in level):
        if name in ok and all(dep in kept for dep in workflow.tasks[name].depends_on):
            row = latest[name]
            kept[name] = TaskResult(
                name,
                TaskStatus(row["status"]),
                1,
                agent=row.get("agent") or "local",
                message=f"reused from run {run['run_id']}",
                outputs=row.get("outputs") or {},
            )
    return kept


def plan_retry(run: dict[str, Any], workflow: WorkflowSpec, failed_only: bool) -> Resume:
    """The Resume of the new run that retries `run` (its tasks and their outputs, with
    `get_run`'s "tasks"): every task again, or (`failed_only`) all but the kept ones."""
    status = RunStatus(run["status"]) if run["status"] in RunStatus._value2member_map_ else None
    if status is RunStatus.RUNNING or run.get("finished_at") is None:
        raise UsageError(f"run {run['run_id']} has not finished: retry it once it has")
    kept = kept_tasks(run, workflow) if failed_only else {}
    if failed_only and len(kept) == len(workflow.tasks):
        raise UsageError(f"run {run['run_id']}: every task succeeded, nothing to retry")
    return Resume(new_run_id(), finished=kept, reused_from=run["run_id"])
