"""Dependencies between stacks (`stack_dependencies`): show, graph, cycles, execution order.

A stack may depend on a stack that does not exist yet (it is reported as missing) and an edge
may close a cycle (it is reported, naming the cycle); execution order refuses a cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from graphlib import CycleError, TopologicalSorter
from typing import Any

from sloth_engine.errors import StackError
from sloth_engine.store.stack_deps import DependencyRows
from sloth_engine.store.stacks import StackCatalog, check_name

Graph = dict[str, set[str]]
"""Each stack -> the stacks it depends on."""


class StackDeps:
    def __init__(self, catalog: StackCatalog, clock: Callable[[], float] = time.time) -> None:
        self.catalog = catalog
        self.rows = DependencyRows(catalog.store, clock)

    # ---- edges ----------------------------------------------------------------------

    def add(self, stack: str, depends_on: Iterable[str]) -> list[str]:
        """Record that `stack` depends on each of `depends_on`; the edges that were new."""
        added = []
        for dep in depends_on:
            check_name(dep)
            if dep == stack:
                raise StackError(f"stack '{stack}' cannot depend on itself")
            if self.rows.add(stack, dep):
                added.append(dep)
        if added:
            self.catalog.emit("stack.updated", stack, {"depends_on_added": added})
        return added

    def remove(self, stack: str, depends_on: Iterable[str]) -> list[str]:
        removed = []
        for dep in depends_on:
            if self.rows.remove(stack, dep):
                removed.append(dep)
        if removed:
            self.catalog.emit("stack.updated", stack, {"depends_on_removed": removed})
        return removed

    def graph(self) -> Graph:
        graph: Graph = {name: set() for name in self.catalog.names()}
        for stack, dep in self.rows.edges():
            graph.setdefault(stack, set()).add(dep)
            graph.setdefault(dep, set())
        return graph

    # ---- questions --------------------------------------------------------------------

    def describe(self, stack: str) -> dict[str, Any]:
        """Direct and indirect dependencies (with the stack they come through) and dependents."""
        graph, known = self.graph(), self.catalog.names()
        direct = sorted(graph.get(stack, ()))
        indirect: dict[str, str] = {}
        frontier = list(direct)
        seen = set(direct) | {stack}
        while frontier:
            node = frontier.pop(0)
            for dep in sorted(graph.get(node, ())):
                if dep not in seen:
                    seen.add(dep)
                    indirect[dep] = node  # reached through the stack that depends on it
                    frontier.append(dep)
        dependents = sorted(s for s, deps in graph.items() if stack in deps)
        return {
            "stack": stack,
            "depends_on": direct,
            "indirect": [{"stack": k, "via": v} for k, v in sorted(indirect.items())],
            "dependents": dependents,
            "missing": sorted(d for d in set(direct) | set(indirect) if d not in known),
        }

    def closure(self, stack: str) -> Graph:
        """The part of the graph around `stack`: its dependencies (transitively) and dependents."""
        graph = self.graph()
        keep = _reachable(graph, [stack]) | _reachable(_reverse(graph), [stack])
        return {n: {d for d in graph.get(n, ()) if d in keep} for n in keep}

    def cycle(self, stack: str | None = None) -> list[str] | None:
        """A dependency cycle (reachable from `stack`, or anywhere), as a -> b -> a, or None."""
        graph = self.graph()
        part = graph if stack is None else {n: graph.get(n, set()) for n in _reachable(graph, [stack])}
        try:
            TopologicalSorter(part).prepare()
        except CycleError as exc:
            found = list(exc.args[1])
            return list(reversed(found))
        return None

    def order(self, stacks: list[str]) -> list[list[str]]:
        """Execution order of the given stacks as groups (each group may run in parallel); the
        dependencies between them count, also through stacks not listed. StackError on a cycle."""
        graph = self.graph()
        wanted = set(stacks)
        part = {n: graph.get(n, set()) for n in _reachable(graph, stacks)}
        sorter = TopologicalSorter(part)
        try:
            sorter.prepare()
        except CycleError as exc:
            raise StackError("dependency cycle: " + " -> ".join(reversed(exc.args[1]))) from None
        groups: list[list[str]] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            sorter.done(*ready)
            chosen = [n for n in ready if n in wanted]
            if chosen:
                groups.append(chosen)
        return groups


def _reachable(graph: Graph, starts: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return seen


def _reverse(graph: Graph) -> Graph:
    reverse: Graph = {n: set() for n in graph}
    for node, deps in graph.items():
        for dep in deps:
            reverse.setdefault(dep, set()).add(node)
    return reverse


def mermaid(graph: Graph, focus: str | None = None) -> str:
    """`graph TD` with an edge from each dependency to its dependent (dependencies first)."""
    ids = {name: f"s{i}" for i, name in enumerate(sorted(graph))}
    lines = ["graph TD"]
    for name in sorted(graph):
        label = name.replace('"', "'")
        lines.append(f'    {ids[name]}["{label}"]' + (":::focus" if name == focus else ""))
    for name in sorted(graph):
        lines.extend(f"    {ids[dep]} --> {ids[name]}" for dep in sorted(graph[name]))
    if focus is not None:
        lines.append("    classDef focus stroke-width:3px")
    return "\n".join(lines)


def dot(graph: Graph, focus: str | None = None) -> str:
    lines = ["digraph stacks {", "  rankdir=LR;"]
    for name in sorted(graph):
        style = " [style=bold]" if name == focus else ""
        lines.append(f'  "{_dot_escape(name)}"{style};')
    for name in sorted(graph):
        lines.extend(f'  "{_dot_escape(dep)}" -> "{_dot_escape(name)}";' for dep in sorted(graph[name]))
    lines.append("}")
    return "\n".join(lines)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
