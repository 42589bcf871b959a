"""`stack ...`: stacks, their locks, snapshots, drift, dependencies and validation (wiring only)."""

from __future__ import annotations

import argparse
from typing import Any

from .stacks import core, deps, drift, locks, snapshots
from .stacks.common import command_factory


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    stack = sub.add_parser("stack", help="stacks: runs, resources, locks, snapshots, drift, dependencies")
    ssub = stack.add_subparsers(dest="stack_command", metavar="COMMAND", required=True)
    command = command_factory(ssub, parents)
    core.register(command)
    deps.register_validate(command)
    for name, help, module in (
        ("lock", "a stack's lock: acquire, status, release, force-release", locks),
        ("snapshot", "versions of a stack's state: create, list, show, restore, compare, delete", snapshots),
        ("drift", "actual state against the stack's: detect, show, fix", drift),
        ("deps", "dependencies between stacks: show, graph, check, order, add, remove", deps),
    ):
        group = ssub.add_parser(name, help=help)
        gsub = group.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)
        module.register(command_factory(gsub, parents))
