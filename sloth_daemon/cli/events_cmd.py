"""`events list|show|clear|watch`: the audit trail of everything that happened.

Every command works on the store, or through a master with `--master` (or $SLOTH_MASTER):
sloth_daemon.gateway. `watch` on the local store follows the events table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sloth_daemon.gateway import with_gateway
from sloth_engine.durations import parse_duration
from sloth_engine.errors import UsageError

from .grammar import add_output, as_json
from .store_access import print_json, print_table, when


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    events = sub.add_parser("events", help="the events: runs, tasks, agents, schedules, hooks, ...")
    esub = events.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    lst = esub.add_parser("list", help="recent events, oldest first", parents=parents)
    _filters(lst)
    lst.add_argument("--since", help="only after: 10m (ago), an ISO time or epoch seconds")
    lst.add_argument("--limit", type=int, default=50)
    add_output(lst)
    lst.set_defaults(func=with_gateway(cmd_list))
    show = esub.add_parser("show", help="one event with its data", parents=parents)
    show.add_argument("id", type=int)
    add_output(show, default="json")
    show.set_defaults(func=with_gateway(cmd_show))
    clear = esub.add_parser("clear", help="delete events", parents=parents)
    clear.add_argument("--older-than", metavar="DURATION", help="only events older than this: 7d, 12h")
    clear.set_defaults(func=with_gateway(cmd_clear))
    watch = esub.add_parser("watch", help="print events as they happen (Ctrl-C stops)", parents=parents)
    _filters(watch)
    add_output(watch)  # json: one object per line
    watch.set_defaults(func=with_gateway(cmd_watch))


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--type", "-t", help="type or prefix: task.failed, task., task.*")
    parser.add_argument("--stack", help="only events of this stack")


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """`10m` (that long ago), epoch seconds, or an ISO date/time; None for none."""
    if not text:
        return None
    now = time.time() if now is None else now
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise UsageError(f"--since: expected 10m, an ISO time or epoch seconds, got '{text}'") from None


def type_prefix(text: str | None) -> str | None:
    return text.rstrip("*") if text else None


def cmd_list(args: argparse.Namespace, gateway: Any) -> int:
    rows = gateway.events.list(type_prefix(args.type), parse_since(args.since), args.stack, args.limit)
    return _print_list(rows, as_json(args))


def _print_list(rows: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print_json(rows)
        return 0
    if not rows:
        print("no events", file=sys.stderr)
        return 0
    print_table(("ID", "TIME", "TYPE", "SEVERITY", "SOURCE", "STACK", "RUN", "DATA"), [_row(e) for e in rows])
    return 0


def _row(event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        event["id"],
        when(event["ts"]),
        event["type"],
        event["severity"],
        event["source"] or "-",
        event["stack"] or "-",
        event["run_id"] or "-",
        json.dumps(event["data"], ensure_ascii=False, default=str),
    )


def cmd_show(args: argparse.Namespace, gateway: Any) -> int:
    event = gateway.events.get(args.id)
    if as_json(args):
        print_json(event)
        return 0
    for label, value in zip(
        ("id", "time", "type", "severity", "source", "stack", "run"), _row(event)[:7], strict=True
    ):
        print(f"{label:<9} {value}")
    print(f"data      {json.dumps(event['data'], ensure_ascii=False, indent=2, default=str)}")
    return 0


def cmd_clear(args: argparse.Namespace, gateway: Any) -> int:
    cutoff = None
    if args.older_than:
        try:
            cutoff = time.time() - parse_duration(args.older_than)
        except ValueError as exc:
            raise UsageError(f"--older-than: {exc}") from None
    count = gateway.events.clear(cutoff)
    print(f"deleted {count} event(s)", file=sys.stderr)
    return 0


def cmd_watch(args: argparse.Namespace, gateway: Any) -> int:
    try:
        _print_stream(gateway.events.watch(type_prefix(args.type), args.stack), as_json(args))
    except KeyboardInterrupt:
        return 0
    return 0


def _print_stream(events: Iterator[dict[str, Any]], as_json: bool) -> int:
    for event in events:
        if as_json:
            print(json.dumps(event, ensure_ascii=False, default=str), flush=True)
        else:
            print("  ".join(str(c) for c in _row(event)), flush=True)
    return 0
