"""`hook add|list|show|delete|enable|disable|test|logs`: Lua files run when events happen, kept in
the store or on a master (--master / $SLOTH_MASTER): sloth_daemon.gateway."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sloth_daemon.gateway import with_gateway
from sloth_engine.durations import format_duration, parse_duration
from sloth_engine.errors import UsageError

from .grammar import add_output, as_json
from .store_access import fail, print_json, print_table, when

DEFAULT_TIMEOUT = "30s"


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    hook = sub.add_parser("hook", help="Lua hooks run when events happen")
    hsub = hook.add_subparsers(dest="hook_command", metavar="COMMAND", required=True)

    def command(name: str, help: str, handler: Any, with_name: bool = True) -> argparse.ArgumentParser:
        parser = hsub.add_parser(name, help=help, parents=parents)
        parser.set_defaults(func=with_gateway(handler))
        if with_name:
            parser.add_argument("name")
        return parser

    add = command("add", "register a hook file for event types", cmd_add)
    add.add_argument("--file", "-f", required=True, help="the hook's Lua file")
    add.add_argument(
        "--event", "-e", action="append", default=[], help="event type: task.failed, task.*, * (repeatable)"
    )
    add.add_argument("--stack", help="only events of this stack")
    add.add_argument("--timeout", default=DEFAULT_TIMEOUT, help=f"limit per run (default {DEFAULT_TIMEOUT})")
    add.add_argument("--replace", action="store_true", help="replace a hook of that name")
    lst = command("list", "the hooks", cmd_list, with_name=False)
    add_output(lst)
    show = command("show", "a hook, its source and its last runs", cmd_show)
    add_output(show)
    command("delete", "remove a hook", cmd_delete)
    command("enable", "run the hook again", cmd_enable)
    command("disable", "stop running the hook (kept)", cmd_disable)
    test = command("test", "run the hook once now for a made-up event", cmd_test)
    test.add_argument("--data", default="{}", help="the event's data as JSON")
    test.add_argument("--type", help="the event's type (default: the hook's first)")
    add_output(test)
    logs = command("logs", "runs of hooks: outcome, duration, output", cmd_logs, with_name=False)
    logs.add_argument("name", nargs="?")
    logs.add_argument("--only-failed", action="store_true", help="failed, timed out and dropped runs")
    logs.add_argument("--limit", type=int, default=50)
    add_output(logs)


def cmd_add(args: argparse.Namespace, gateway: Any) -> int:
    path = Path(args.file)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read hook file {path}: {exc.strerror}") from None
    try:
        timeout = parse_duration(args.timeout)
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None
    hook = gateway.hooks.add(args.name, source, str(path), args.event, args.stack, timeout, args.replace)
    print(f"hook {hook.name}: runs on {', '.join(hook.event_types)}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, gateway: Any) -> int:
    hooks = gateway.hooks.list()
    if as_json(args):
        print_json([_doc(h) for h in hooks])
        return 0
    if not hooks:
        print("no hooks", file=sys.stderr)
        return 0
    rows = [
        (
            h.name,
            ",".join(h.event_types),
            h.stack or "-",
            "yes" if h.enabled else "no",
            format_duration(h.timeout_s),
            when(h.updated_at),
        )
        for h in hooks
    ]
    print_table(("NAME", "EVENTS", "STACK", "ENABLED", "TIMEOUT", "UPDATED"), rows)
    return 0


def cmd_show(args: argparse.Namespace, gateway: Any) -> int:
    shown = gateway.hooks.show(args.name, 5)
    hook, recent = shown.hook, shown.recent
    if as_json(args):
        print_json({**_doc(hook), "source": hook.source, "recent": recent})
        return 0
    print(f"hook {hook.name}  ({'enabled' if hook.enabled else 'disabled'})")
    print(f"  events:  {', '.join(hook.event_types)}")
    print(f"  stack:   {hook.stack or 'any'}")
    print(f"  timeout: {format_duration(hook.timeout_s)}")
    print(f"  file:    {hook.path or '-'}  (added {when(hook.created_at)}, changed {when(hook.updated_at)})")
    for run in recent:
        print(f"  {when(run['started_at'])}  {run['event_type']:<20} {run['outcome']}")
    print("--- source")
    print(hook.source.rstrip("\n"))
    return 0


def cmd_delete(args: argparse.Namespace, gateway: Any) -> int:
    gateway.hooks.delete(args.name)
    return 0


def cmd_enable(args: argparse.Namespace, gateway: Any) -> int:
    gateway.hooks.set_enabled(args.name, True)
    return 0


def cmd_disable(args: argparse.Namespace, gateway: Any) -> int:
    gateway.hooks.set_enabled(args.name, False)
    return 0


def cmd_test(args: argparse.Namespace, gateway: Any) -> int:
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        raise UsageError(f"--data is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError("--data must be a JSON object")
    row = gateway.hooks.test(args.name, data, args.type)
    if as_json(args):
        print_json(row._asdict())
        return 1 if row.error else 0
    if row.output:
        print(row.output)
    print(f"{row.hook}: {row.outcome} in {format_duration(row.duration_s)}", file=sys.stderr)
    if row.error:
        return fail(row.error)
    return 0


def cmd_logs(args: argparse.Namespace, gateway: Any) -> int:
    rows = gateway.hooks.executions(args.name, args.only_failed, args.limit)
    if as_json(args):
        print_json(rows)
        return 0
    if not rows:
        print("no hook runs", file=sys.stderr)
        return 0
    for row in rows:
        head = f"{when(row['started_at'])}  {row['hook']}  {row['event_type']}"
        detail = f"{row['outcome']}  {format_duration(row['duration_s'])}"
        if row["run_id"]:
            detail += f"  run {row['run_id']}"
        print(f"{head}  {detail}")
        if row["error"]:
            print(f"    error: {row['error']}")
        for line in (row["output"] or "").splitlines():
            print(f"    | {line}")
    return 0


def _doc(hook: Any) -> dict[str, Any]:
    return {
        "name": hook.name,
        "event_types": list(hook.event_types),
        "stack": hook.stack,
        "enabled": hook.enabled,
        "timeout_s": hook.timeout_s,
        "path": hook.path,
        "created_at": hook.created_at,
        "updated_at": hook.updated_at,
    }
