"""`stack list|show|new|delete|history|export|output`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sloth_engine.errors import StackError, UsageError

from ..grammar import add_output_or_file, add_yes, output_and_file
from ..store_access import duration, fail, print_table, when
from .common import Command, add_json, as_json, emit_json, lock_line, show

SHOWN_RESOURCES = 20


def register(command: Command) -> None:
    lst = command("list", "stacks with status, resources, executions and lock", cmd_list)
    add_json(lst)
    shw = command("show", "one stack: status, last run, outputs, resources, lock, snapshots", cmd_show)
    shw.add_argument("name")
    shw.add_argument("--all", action="store_true", help="list every resource")
    add_json(shw)
    new = command("new", "create a stack", cmd_new)
    new.add_argument("name")
    new.add_argument("--description", "-d", default="")
    new.add_argument("--workflow", "-f", metavar="FILE", help="the workflow file that deploys it")
    new.add_argument("--depends-on", action="append", default=[], metavar="STACK", help="repeatable")
    delete = command("delete", "delete a stack with its resources, snapshots and drift reports", cmd_delete)
    delete.add_argument("name")
    add_yes(delete, "delete it even if locked, holding resources or depended on", force_alias=True)
    history = command("history", "the stack's runs (and its events with --events)", cmd_history)
    history.add_argument("name")
    history.add_argument("--limit", type=int, default=20)
    history.add_argument("--events", action="store_true", help="the stack's event trail instead")
    add_json(history)
    export = command("export", "everything about a stack as JSON or YAML", cmd_export)
    export.add_argument("name")
    add_output_or_file(export, ("json", "yaml"), "json", ("--out",), "write to FILE instead of stdout")
    output = command("output", "the stack's outputs (one value with KEY)", cmd_output)
    output.add_argument("name")
    output.add_argument("key", nargs="?")
    add_json(output)


def cmd_list(args: argparse.Namespace, stacks: Any) -> int:
    infos = stacks.catalog.list()
    rows = []
    docs = []
    for info in infos:
        count = stacks.resources.count(info.name)
        lock = stacks.locks.status(info.name)
        docs.append({**info.to_dict(), "resources": count, "locked_by": lock.holder if lock else None})
        rows.append(
            (info.name, info.status, count, info.execution_count, when(info.last_run_at),
             duration(info.last_duration_s), lock.holder if lock else "-", info.description or "-")
        )  # fmt: skip
    if as_json(args):
        return emit_json(docs)
    if not infos:
        print("no stacks (create one with `stack new NAME` or run `run STACK -f FILE`)", file=sys.stderr)
        return 0
    print_table(
        ("NAME", "STATUS", "RESOURCES", "EXECUTIONS", "LAST RUN", "DURATION", "LOCKED BY", "DESCRIPTION"),
        rows,
    )
    return 0


def stack_document(stacks: Any, name: str) -> dict[str, Any]:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.stacks.locks import lock_dict

    info = stacks.catalog.require(name)
    drift = stacks.drift.latest(name)
    return {
        **info.to_dict(),
        "lock": lock_dict(stacks.locks.status(name)),
        "depends_on": stacks.deps.describe(name),
        "resources": [r.to_dict() for r in stacks.resources.list(name)],
        "snapshots": [s.to_dict() for s in stacks.snapshots.list(name)],
        "last_drift": drift.to_dict() if drift else None,
    }


def cmd_show(args: argparse.Namespace, stacks: Any) -> int:
    doc = stack_document(stacks, args.name)
    if as_json(args):
        return emit_json(doc)
    lines = [f"Stack: {doc['name']}"]
    if doc["description"]:
        lines.append(f"  Description:  {doc['description']}")
    lines += [
        f"  Status:       {doc['status']}",
        f"  Workflow:     {doc['workflow'] or '-'} ({doc['workflow_file'] or 'no file recorded'})",
        f"  Created:      {when(doc['created_at'])}",
        f"  Executions:   {doc['execution_count']}",
        f"  Last run:     {doc['last_run_id'] or '-'} at {when(doc['last_run_at'])}"
        f" ({duration(doc['last_duration_s'])})",
        f"  Lock:         {lock_line(stacks.locks.status(args.name))}",
    ]
    deps = doc["depends_on"]
    lines.append(f"  Depends on:   {', '.join(deps['depends_on']) or '-'}")
    lines.append(f"  Dependents:   {', '.join(deps['dependents']) or '-'}")
    snaps = doc["snapshots"]
    latest = f", latest {snaps[-1]['label']} at {when(snaps[-1]['created_at'])}" if snaps else ""
    lines.append(f"  Snapshots:    {len(snaps)}{latest}")
    drift = doc["last_drift"]
    if drift:
        counts = f"{drift['drifted']} drifted, {drift['errors']} unreadable"
        lines.append(f"  Last drift:   {counts} at {when(drift['detected_at'])}")
    lines.append("")
    lines.append(f"Outputs ({len(doc['outputs'])}):")
    lines.extend(f"  {k} = {show(v)}" for k, v in sorted(doc["outputs"].items()))
    resources = doc["resources"]
    lines.append(f"Resources ({len(resources)}):")
    shown = resources if args.all else resources[:SHOWN_RESOURCES]
    lines.extend(
        f"  {r['type']}.{r['name']}  [{r['state']}]  task {r['task'] or '-'}  {show(r['properties'])}"
        for r in shown
    )
    if len(shown) < len(resources):
        lines.append(f"  ... {len(resources) - len(shown)} more (--all)")
    print("\n".join(lines))
    return 0


def cmd_new(args: argparse.Namespace, stacks: Any) -> int:
    workflow = ""
    if args.workflow:
        path = Path(args.workflow).expanduser()
        if not path.is_file():
            raise UsageError(f"--workflow {args.workflow}: no such file")
        workflow = str(path.resolve())
    info = stacks.catalog.create(args.name, args.description, workflow)
    if args.depends_on:
        stacks.deps.add(args.name, args.depends_on)
        _warn_cycle(stacks, args.name)
    print(f"created stack '{info.name}'")
    return 0


def _warn_cycle(stacks: Any, name: str) -> None:
    cycle = stacks.deps.cycle(name)
    if cycle:
        print("warning: dependency cycle: " + " -> ".join(cycle), file=sys.stderr)


def cmd_delete(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    problems = []
    lock = stacks.locks.status(args.name)
    if lock is not None:
        problems.append(lock_line(lock))
    count = stacks.resources.count(args.name)
    if count:
        problems.append(f"it holds {count} resource{'s' if count != 1 else ''}")
    dependents = stacks.deps.describe(args.name)["dependents"]
    if dependents:
        problems.append("stacks depend on it: " + ", ".join(dependents))
    if problems and not args.yes:
        return fail(f"stack '{args.name}' not deleted: " + "; ".join(problems) + " (use --yes, or --force)")
    stacks.catalog.delete(args.name)
    print(f"deleted stack '{args.name}'")
    return 0


def cmd_history(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    if args.events:
        events = stacks.store.events.list(stack=args.name, limit=args.limit)
        if as_json(args):
            return emit_json([e.to_dict() for e in events])
        lines = [(when(e.ts), e.type, e.run_id or "-", show(_event_detail(e.data), 70)) for e in events]
        print_table(("TIME", "EVENT", "RUN", "DETAIL"), lines)
        return 0
    runs = stacks.store.runs.stack_runs(args.name, args.limit)
    if as_json(args):
        return emit_json(runs)
    if not runs:
        print(f"stack '{args.name}' has not run yet", file=sys.stderr)
        return 0
    rows = [
        (
            r["run_id"],
            r["workflow"],
            r["status"],
            when(r["started_at"]),
            duration(r["duration_s"]),
            show(r["error"], 50),
        )
        for r in runs
    ]
    print_table(("RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION", "ERROR"), rows)
    return 0


def _event_detail(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "stack"}


def cmd_export(args: argparse.Namespace, stacks: Any) -> int:
    doc = stack_document(stacks, args.name)
    doc["runs"] = stacks.store.runs.stack_runs(args.name, 100)
    form, out = output_and_file(args)
    if form == "yaml":
        import yaml

        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    else:
        import json

        text = json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
    if out:
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise StackError(f"cannot write {out}: {exc.strerror}") from None
        print(f"exported stack '{args.name}' to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_output(args: argparse.Namespace, stacks: Any) -> int:
    outputs = stacks.catalog.require(args.name).outputs
    if args.key is not None:
        if args.key not in outputs:
            return fail(f"stack '{args.name}' has no output '{args.key}'")
        value = outputs[args.key]
        if as_json(args) or not isinstance(value, str):
            return emit_json(value)
        print(value)
        return 0
    if as_json(args):
        return emit_json(outputs)
    for key, value in sorted(outputs.items()):
        print(f"{key} = {show(value, 200)}")
    return 0
