"""`workflow validate|show|list`: look at workflow files without running them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sloth_engine.api_check import unknown_calls
from sloth_engine.dsl import LoadedFile, load_file
from sloth_engine.durations import format_duration
from sloth_engine.errors import DslError
from sloth_engine.graph import levels
from sloth_engine.spec import LUA_FUNCTION, WorkflowSpec

from .grammar import add_output, as_json
from .store_access import master_of


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    wf = sub.add_parser("workflow", help="validate, show and list workflow files")
    wsub = wf.add_subparsers(dest="workflow_command", metavar="COMMAND", required=True)
    validate = wsub.add_parser(
        "validate", help="check a workflow file without running it (--master: placement too)", parents=parents
    )
    validate.add_argument("file", help="workflow file (*.sloth)")
    add_output(validate)
    validate.set_defaults(func=cmd_validate)
    show = wsub.add_parser("show", help="tasks, dependencies and placement, as a tree", parents=parents)
    show.add_argument("file")
    show.add_argument("--workflow", "-w", help="only this workflow")
    add_output(show)
    show.set_defaults(func=cmd_show)
    lst = wsub.add_parser(
        "list",
        help="every workflow in every *.sloth file of a folder (--master: of its watched folder)",
        parents=parents,
    )
    lst.add_argument("dir", nargs="?", default=".")
    add_output(lst)
    lst.set_defaults(func=cmd_list)


def cmd_validate(args: argparse.Namespace) -> int:
    loaded = load_file(args.file)
    unknown = unknown_calls(Path(args.file).read_text(encoding="utf-8"))
    for call in unknown:
        print(f"{args.file}:{call.line}: {call.message()}", file=sys.stderr)
    if as_json(args):
        problems = [{"line": c.line, "message": c.message()} for c in unknown]
        workflows = [{"name": w.name, "tasks": len(w.tasks)} for w in loaded.spec.workflows]
        print(
            json.dumps(
                {"file": args.file, "valid": not unknown, "workflows": workflows, "unknown_calls": problems},
                indent=2,
            )
        )
    if unknown:
        return 2
    if not as_json(args):
        names = ", ".join(f"{w.name} ({len(w.tasks)} tasks)" for w in loaded.spec.workflows)
        print(f"{args.file}: valid: {names}")
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from .placement_check import warn_placement

    warn_placement(list(loaded.spec.workflows), master_of(args))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    loaded = load_file(args.file)
    workflows = select(loaded, args.workflow)
    if as_json(args):
        print(json.dumps([describe(w) for w in workflows], indent=2))
        return 0
    for workflow in workflows:
        print(plan_text(workflow))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if getattr(args, "master", None):
        return _list_master(args)
    folder = Path(args.dir)
    if not folder.is_dir():
        raise DslError("not a folder", str(folder))
    rows: list[dict[str, Any]] = []
    broken = 0
    for path in sorted(folder.rglob("*.sloth")):
        try:
            loaded = load_file(path)
        except DslError as exc:
            broken += 1
            rows.append({"file": str(path), "workflow": None, "error": str(exc)})
            continue
        for wf in loaded.spec.workflows:
            rows.append(
                {
                    "file": str(path),
                    "workflow": wf.name,
                    "tasks": len(wf.tasks),
                    "description": wf.description,
                }
            )
    if as_json(args):
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if row["workflow"] is None:
                print(f"{row['file']}: INVALID: {row['error']}")
            else:
                print(f"{row['file']}\t{row['workflow']}\t{row['tasks']} tasks\t{row['description']}")
        if not rows:
            print(f"no *.sloth files in {folder}", file=sys.stderr)
    return 1 if broken else 0


def _list_master(args: argparse.Namespace) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_daemon.client import MasterClient

    with MasterClient(args.master) as client:
        rows = client.list_workflows()
    if as_json(args):
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = f"  (last change rejected: line {row['error_line']}: {row['error']})" if row["error"] else ""
        if row["workflow"]:
            print(f"{row['file']}\t{row['workflow']}\t{row['tasks']} tasks\t{row['description']}{state}")
        else:
            print(f"{row['file']}: INVALID{state}")
    if not rows:
        print("the master's watched folder has no *.sloth files", file=sys.stderr)
    return 0


def select(loaded: LoadedFile, name: str | None) -> list[WorkflowSpec]:
    if name is None:
        return list(loaded.spec.workflows)
    chosen = loaded.spec.get(name)
    if chosen is None:
        known = ", ".join(w.name for w in loaded.spec.workflows)
        raise DslError(f"no workflow named '{name}' (this file defines: {known})", loaded.spec.path)
    return [chosen]


def describe(workflow: WorkflowSpec) -> dict[str, Any]:
    return {
        "name": workflow.name,
        "description": workflow.description,
        "version": workflow.version,
        "levels": levels(workflow),
        "tasks": [
            {
                "name": t.name,
                "depends_on": t.depends_on,
                "placement": t.placement.describe(),
                "command": "lua function" if t.command == LUA_FUNCTION else t.command,
                "timeout_s": t.timeout,
                "retries": t.retry.retries,
                "line": t.line,
            }
            for t in workflow.tasks.values()
        ],
    }


def plan_text(workflow: WorkflowSpec, max_parallel: int | None = None) -> str:
    """The workflow as a tree: each level of the DAG, each task with what it waits for."""
    head = f"workflow {workflow.name}"
    if workflow.description:
        head += f": {workflow.description}"
    parallel = max_parallel or workflow.max_parallel
    lines = [head + f"  ({len(workflow.tasks)} tasks" + (f", {parallel} at a time)" if parallel else ")")]
    groups = levels(workflow)
    for index, group in enumerate(groups):
        last_level = index == len(groups) - 1
        lines.append(("└── " if last_level else "├── ") + f"level {index}")
        pad = "    " if last_level else "│   "
        for position, name in enumerate(group):
            task = workflow.tasks[name]
            branch = "└── " if position == len(group) - 1 else "├── "
            lines.append(pad + branch + _task_line(task))
    return "\n".join(lines)


def _task_line(task: Any) -> str:
    parts = [task.name]
    if task.depends_on:
        parts.append("after " + ", ".join(task.depends_on))
    parts.append(task.placement.describe())
    if task.timeout:
        parts.append("timeout " + format_duration(task.timeout))
    if task.retry.retries:
        parts.append(f"retries {task.retry.retries} ({task.retry.strategy})")
    if task.run_if:
        parts.append("if run_if")
    return "  ·  ".join(parts)
