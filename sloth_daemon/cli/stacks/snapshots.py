"""`stack snapshot create|list|show|restore|compare|delete`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..grammar import add_output, add_yes
from ..state_cmd import default_holder
from ..store_access import fail, print_table, when
from .common import Command, add_json, as_json, confirm, emit_json, show


def register(command: Command) -> None:
    create = command("create", "snapshot a stack's resources and outputs (v1, v2, ...)", cmd_create)
    create.add_argument("name")
    create.add_argument("--description", "-d", default="")
    create.add_argument("--creator", default=None, help="who took it (default: USER@HOST)")
    lst = command("list", "a stack's snapshots", cmd_list)
    lst.add_argument("name")
    add_json(lst)
    shw = command("show", "one snapshot with its resources and outputs", cmd_show)
    shw.add_argument("name")
    shw.add_argument("version", help="v3 (or 3)")
    add_json(shw)
    restore = command("restore", "make a snapshot's resources and outputs the stack's state", cmd_restore)
    restore.add_argument("name")
    restore.add_argument("version")
    add_yes(restore, "do not ask on a terminal")
    compare = command(
        "compare", "added, removed and changed resources and outputs between two versions", cmd_compare
    )
    compare.add_argument("name")
    compare.add_argument("old", help="v1 (or `current` for the live state)")
    compare.add_argument("new", help="v2 (or `current`)")
    add_output(compare)
    delete = command("delete", "delete a snapshot", cmd_delete)
    delete.add_argument("name")
    delete.add_argument("version")


def cmd_create(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    info = stacks.snapshots.create(args.name, args.description, args.creator or default_holder())
    print(f"created snapshot {info.label} of stack '{args.name}' ({info.resource_count} resources)")
    return 0


def cmd_list(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    snaps = stacks.snapshots.list(args.name)
    if as_json(args):
        return emit_json([s.to_dict() for s in snaps])
    if not snaps:
        print(f"stack '{args.name}' has no snapshots", file=sys.stderr)
        return 0
    rows = [
        (s.label, when(s.created_at), s.creator or "-", s.resource_count, s.description or "-") for s in snaps
    ]
    print_table(("VERSION", "CREATED", "CREATOR", "RESOURCES", "DESCRIPTION"), rows)
    return 0


def cmd_show(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    snap = stacks.snapshots.get(args.name, args.version)
    info = snap.info
    if as_json(args):
        doc = {**info.to_dict(), "resources": [r.to_dict() for r in snap.resources], "outputs": snap.outputs}
        return emit_json(doc)
    lines = [
        f"Snapshot {info.label} of stack '{info.stack}'",
        f"  Created:      {when(info.created_at)} by {info.creator or '-'}",
        f"  Description:  {info.description or '-'}",
        f"  Run:          {info.run_id or '-'}",
        f"Outputs ({len(snap.outputs)}):",
    ]
    lines.extend(f"  {k} = {show(v)}" for k, v in sorted(snap.outputs.items()))
    lines.append(f"Resources ({len(snap.resources)}):")
    lines.extend(f"  {r.key}  [{r.state}]  {show(r.properties)}" for r in snap.resources)
    print("\n".join(lines))
    return 0


def cmd_restore(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    snap = stacks.snapshots.get(args.name, args.version)
    question = f"Restore stack '{args.name}' to {snap.info.label} ({snap.info.resource_count} resources)?"
    if sys.stdin.isatty() and not confirm(question, args.yes):
        return fail("not restored", 1)
    info = stacks.snapshots.restore(args.name, args.version, default_holder())
    print(f"restored stack '{args.name}' to {info.label} ({info.resource_count} resources)")
    return 0


def cmd_compare(args: argparse.Namespace, stacks: Any) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.stacks.compare import compare, render

    stacks.catalog.require(args.name)
    old = _side(stacks, args.name, args.old)
    new = _side(stacks, args.name, args.new)
    doc = compare(old, new)
    if args.output == "json":
        return emit_json(doc)
    print(render(doc))
    return 0


def _side(stacks: Any, name: str, version: str) -> Any:
    if version.lower() == "current":
        return stacks.snapshots.current(name)
    return stacks.snapshots.get(name, version)


def cmd_delete(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    stacks.snapshots.delete(args.name, args.version)
    print(f"deleted snapshot {args.version} of stack '{args.name}'")
    return 0
