"""`stack deps show|graph|check|order|add|remove` and `stack validate NAME|all`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..grammar import add_output
from ..store_access import fail
from .common import Command, add_json, as_json, emit_json

MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def register(command: Command) -> None:
    shw = command("show", "a stack's dependencies (direct and indirect) and dependents", cmd_show)
    shw.add_argument("name")
    add_json(shw)
    graph = command("graph", "the dependency graph around a stack", cmd_graph)
    graph.add_argument("name")
    add_output(graph, ("text", "json", "mermaid", "dot"))
    check = command("check", "look for a dependency cycle or a missing stack", cmd_check)
    check.add_argument("name")
    order = command("order", "the order to run stacks in (groups may run in parallel)", cmd_order)
    order.add_argument("names", nargs="+", metavar="STACK")
    add_json(order)
    add = command("add", "STACK depends on DEP (runs after it)", cmd_add)
    add.add_argument("name")
    add.add_argument("deps", nargs="+", metavar="DEP")
    remove = command("remove", "remove dependencies", cmd_remove)
    remove.add_argument("name")
    remove.add_argument("deps", nargs="+", metavar="DEP")


def register_validate(command: Command) -> None:
    validate = command("validate", "pre-flight checks of a stack (or of all of them)", cmd_validate)
    validate.add_argument("name", help="a stack name, or `all`")
    add_json(validate)


def cmd_show(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    doc = stacks.deps.describe(args.name)
    if as_json(args):
        return emit_json(doc)
    lines = [f"Dependencies of stack '{args.name}':", "  direct:"]
    lines.extend(f"    {d}{' (missing)' if d in doc['missing'] else ''}" for d in doc["depends_on"])
    if not doc["depends_on"]:
        lines.append("    none")
    if doc["indirect"]:
        lines.append("  indirect:")
        lines.extend(f"    {d['stack']} (via {d['via']})" for d in doc["indirect"])
    lines.append("  dependents (stacks that depend on this one):")
    lines.extend(f"    {d}" for d in doc["dependents"])
    if not doc["dependents"]:
        lines.append("    none")
    print("\n".join(lines))
    return 0


def cmd_graph(args: argparse.Namespace, stacks: Any) -> int:
    # lazy: loaded when this command runs, not for --help (it loads every command module)
    from sloth_engine.stacks.deps import dot, mermaid

    stacks.catalog.require(args.name)
    graph = stacks.deps.closure(args.name)
    if args.output == "json":
        return emit_json({"stack": args.name, "depends_on": {n: sorted(graph[n]) for n in sorted(graph)}})
    if args.output == "mermaid":
        print(mermaid(graph, args.name))
    elif args.output == "dot":
        print(dot(graph, args.name))
    else:
        edges = [(n, d) for n in sorted(graph) for d in sorted(graph[n])]
        for name, dep in edges:
            print(f"{name} -> {dep}")
        if not edges:
            print(f"stack '{args.name}' has no dependencies and no dependents", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    cycle = stacks.deps.cycle(args.name)
    if cycle:
        return fail("dependency cycle: " + " -> ".join(cycle))
    missing = stacks.deps.describe(args.name)["missing"]
    if missing:
        return fail(f"stack '{args.name}' depends on stacks that do not exist: {', '.join(missing)}")
    print(f"stack '{args.name}': no dependency cycle, every dependency exists")
    return 0


def cmd_order(args: argparse.Namespace, stacks: Any) -> int:
    groups = stacks.deps.order(args.names)
    if as_json(args):
        return emit_json(groups)
    step = 0
    for group in groups:
        for name in group:
            step += 1
            deps = sorted(d for d in stacks.deps.describe(name)["depends_on"])
            after = f" (after {', '.join(deps)})" if deps else ""
            print(f"{step}. {name}{after}")
    if len(groups) > 1 and any(len(g) > 1 for g in groups):
        print("parallel groups: " + " | ".join(", ".join(g) for g in groups), file=sys.stderr)
    return 0


def cmd_add(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    added = stacks.deps.add(args.name, args.deps)
    print(f"stack '{args.name}' depends on {', '.join(args.deps)}" + ("" if added else " (already)"))
    cycle = stacks.deps.cycle(args.name)
    if cycle:
        print("warning: dependency cycle: " + " -> ".join(cycle), file=sys.stderr)
    unknown = [d for d in args.deps if stacks.catalog.get(d) is None]
    if unknown:
        print(f"warning: no stack {', '.join(unknown)} yet", file=sys.stderr)
    return 0


def cmd_remove(args: argparse.Namespace, stacks: Any) -> int:
    stacks.catalog.require(args.name)
    removed = stacks.deps.remove(args.name, args.deps)
    if not removed:
        return fail(f"stack '{args.name}' does not depend on {', '.join(args.deps)}")
    print(f"stack '{args.name}' no longer depends on {', '.join(removed)}")
    return 0


def cmd_validate(args: argparse.Namespace, stacks: Any) -> int:
    names = [s.name for s in stacks.catalog.list()] if args.name == "all" else [args.name]
    if args.name != "all":
        stacks.catalog.require(args.name)
    results = {name: stacks.validate(name) for name in names}
    failed = [name for name, checks in results.items() if any(c.status == "fail" for c in checks)]
    if as_json(args):
        emit_json({name: [c.to_dict() for c in checks] for name, checks in results.items()})
        return 1 if failed else 0
    for name, checks in results.items():
        print(f"Stack '{name}':")
        for check in checks:
            print(f"  {MARK[check.status]}  {check.name:<13} {check.detail}")
        verdict = "FAILED" if name in failed else "passed"
        print(f"  validation {verdict}")
    if len(results) > 1:
        print(f"{len(results) - len(failed)} of {len(results)} stacks passed")
    if not results:
        print("no stacks to validate", file=sys.stderr)
    return 1 if failed else 0
