"""The import graph of the project's own modules, read from their source with `ast`.

Used by test_architecture.py. An edge A -> B means module A imports module B (or a name
from it); `from pkg import name` counts as importing `pkg.name` when that is a module, else
`pkg`. Imports under `if TYPE_CHECKING:` are left out (they never run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sloth_engine", "sloth_daemon", "sloth_tui")
GENERATED = ("sloth_daemon/gen/",)


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    top_level: bool
    """False when the import statement sits inside a function (runs when the function does)."""


def modules() -> dict[str, Path]:
    """Every hand-written module of the three packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(GENERATED):
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(known: dict[str, Path]) -> list[Import]:
    """Every import of a project module by a project module."""
    out: list[Import] = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        for node, top in _walk(tree, True):
            for target in _targets(node, name, is_package, known):
                if target != name:
                    out.append(Import(name, target, node.lineno, top))
    return out


def _walk(node: ast.AST, top: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from _walk_list(child.orelse, top)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, top
        inner = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk(child, inner)


def _walk_list(nodes: list[ast.stmt], top: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for stmt in nodes:
        holder = ast.Module(body=[stmt], type_ignores=[])
        yield from _walk(holder, top)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: dict[str, Path]
) -> list[str]:
    if isinstance(node, ast.Import):
        return [_owner(a.name, known) for a in node.names if _owner(a.name, known)]
    base = node.module or ""
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        here = here[: len(here) - (node.level - 1)]
        base = ".".join([*here, base] if base else here)
    found = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        target = full if full in known else _owner(base, known)
        if target:
            found.append(target)
    return found


def _owner(dotted: str, known: dict[str, Path]) -> str:
    """The project module `dotted` names, or its nearest enclosing one; '' for other libraries."""
    parts = dotted.split(".")
    while parts:
        name = ".".join(parts)
        if name in known:
            return name
        parts.pop()
    return ""


def unit(module: str) -> str:
    """The package a module belongs to for the layering rules: `sloth_engine.stacks` for
    `sloth_engine.stacks.drift`, `sloth_engine.run` for the top-level module `run.py`."""
    return ".".join(module.split(".")[:2])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def path_between(edges: dict[str, set[str]], start: str, goal: str) -> list[str]:
    """One shortest path start -> ... -> goal (to name a cycle in a failure message)."""
    previous: dict[str, str] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt: list[str] = []
        for node in frontier:
            for succ in sorted(edges.get(node, ())):
                if succ == goal:
                    chain = [goal, node]
                    while chain[-1] != start:
                        chain.append(previous[chain[-1]])
                    return list(reversed(chain))
                if succ not in seen:
                    seen.add(succ)
                    previous[succ] = node
                    nxt.append(succ)
        frontier = nxt
    return []
