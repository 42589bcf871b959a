"""Rules of the code's structure (docs/ARCHITECTURE.md), checked on the source with `ast`.

- No import cycle between modules through top-level imports, and none between packages
  through any import (an import inside a function only hides a cycle).
- SQL text lives in `sloth_engine/store/` only; nobody else reaches the store's backend.
- A project module imported inside a function says why, in a comment with the word "lazy"
  on the import's line or the line above (the start-up it saves, or the optional dependency).
- A run's state is written only through `sloth_engine/run_transition.py`; statuses are compared
  as enums, never as bare strings, outside the store and the wire.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from import_graph import ROOT, Import, cycles, imports, modules, path_between, unit

from sloth_engine.spec import RunStatus, TaskStatus
from sloth_engine.store.stack_records import StackStatus

STORE = "sloth_engine.store"
LAZY = re.compile(r"#.*\blazy\b", re.IGNORECASE)
SQL = re.compile(
    r"\b(SELECT\s[^\n]*\bFROM\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|"
    r"CREATE\s+(TABLE|INDEX|UNIQUE\s+INDEX)\b|ALTER\s+TABLE\b|DROP\s+(TABLE|INDEX)\b)"
)
STORE_INTERNALS = (
    "sloth_engine.store.backend",
    "sloth_engine.store.models",
    "sloth_engine.store.orm",
    "sloth_engine.store.sqlite_backend",
    "sloth_engine.store.postgres_backend",
    "sloth_engine.store.schema",
)


TOLERATED = {
    ("sloth_daemon.gateway", "sloth_daemon.cli"): "open_gateway and the local gateway reuse CLI helpers",
    ("sloth_daemon.gateway", "sloth_daemon.client"): "open_gateway builds the master client",
}
"""Package edges that close a cycle today, in code being reworked (issue 13, the gateway): the
wiring in `sloth_daemon/gateway/__init__.py` and CLI helpers belong above the gateway. Each is
named exactly; a new cycle fails, and so does an entry here once its edge is gone."""


def _named(cycle: list[str], edges: dict[str, set[str]]) -> str:
    loop = path_between(edges, cycle[0], cycle[0]) or cycle
    return " -> ".join(loop)


def test_no_import_cycle_between_modules() -> None:
    known = modules()
    edges: dict[str, set[str]] = {}
    for imp in imports(known):
        if imp.top_level:
            edges.setdefault(imp.source, set()).add(imp.target)
    found = [_named(c, edges) for c in cycles(edges)]
    assert not found, "import cycles through top-level imports:\n" + "\n".join(found)


def test_no_import_cycle_between_packages() -> None:
    """Packages (`sloth_engine.stacks`, ...; a top-level module counts as its own) form layers,
    counting imports inside functions too."""
    known = modules()
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    seen: set[tuple[str, str]] = set()
    for imp in imports(known):
        a, b = unit(imp.source), unit(imp.target)
        seen.add((a, b))
        if a != b and (a, b) not in TOLERATED:
            edges.setdefault(a, set()).add(b)
            where.setdefault((a, b), f"{imp.source}:{imp.line} imports {imp.target}")
    found = []
    for cycle in cycles(edges):
        loop = path_between(edges, cycle[0], cycle[0]) or cycle
        steps = [where.get((x, y), f"{x} -> {y}") for x, y in zip(loop, loop[1:], strict=False)]
        found.append(" -> ".join(loop) + "\n    " + "\n    ".join(steps))
    assert not found, "import cycles between packages:\n" + "\n".join(found)
    assert not set(TOLERATED) - seen, f"no longer imported, drop from TOLERATED: {set(TOLERATED) - seen}"


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string constant with its line (docstrings left out: they describe, they do not
    run); an f-string's literal parts joined with a space."""
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in docs:
            continue
        if isinstance(node, ast.JoinedStr):
            parts = [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            out.append((node.lineno, " x ".join(parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


def _outside_store() -> dict[str, Path]:
    return {name: path for name, path in modules().items() if not (name + ".").startswith(STORE + ".")}


def test_no_sql_outside_the_store() -> None:
    found = []
    for path in _outside_store().values():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, text in _strings(tree):
            match = SQL.search(text)
            if match:
                found.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)[:60]!r}")
    assert not found, "SQL outside sloth_engine/store/ (put it in a store repository):\n" + "\n".join(found)


def test_nobody_else_reaches_into_the_store() -> None:
    """Callers use the store's facades: not its backend, its peewee models or its schema."""
    known = modules()
    found = []
    for imp in imports(known):
        if imp.target in STORE_INTERNALS and not (imp.source + ".").startswith(STORE + "."):
            found.append(f"{imp.source}:{imp.line} imports {imp.target}")
    for path in _outside_store().values():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("backend", "peewee"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
    assert not found, "store internals used outside sloth_engine/store/:\n" + "\n".join(found)


def _unexplained(imports_seen: list[Import], known: dict[str, Path]) -> list[tuple[Path, int, str]]:
    """Imports inside functions with no `lazy` comment on their line or the line above: each
    as (file, line, the statement's first line)."""
    found: list[tuple[Path, int, str]] = []
    texts: dict[str, list[str]] = {}
    for imp in imports_seen:
        if imp.top_level:
            continue
        lines = texts.setdefault(imp.source, known[imp.source].read_text(encoding="utf-8").splitlines())
        here = lines[imp.line - 1]
        if LAZY.search(here) or LAZY.search(_comment_above(lines, imp.line - 1)):
            continue
        entry = (known[imp.source], imp.line, here.strip())
        if entry not in found:
            found.append(entry)
    return found


def _comment_above(lines: list[str], index: int) -> str:
    """The block of comment lines right above line `index` (0-based), joined."""
    block = []
    while index > 0 and lines[index - 1].strip().startswith("#"):
        index -= 1
        block.append(lines[index])
    return " ".join(block)


def test_imports_inside_functions_say_why() -> None:
    """Project imports sit at the top of the file; one inside a function is there to keep a
    start-up fast (or to reach an optional dependency) and says so: `# lazy: ...`."""
    known = modules()
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text}" for path, line, text in _unexplained(imports(known), known)
    ]
    assert not found, (
        "imports of project modules inside functions, with no `# lazy: <why>` comment (move them "
        "to the top of the file, or say what the lazy import saves):\n" + "\n".join(found)
    )


def test_the_rules_see_what_they_forbid(tmp_path: Path) -> None:
    """The checks above find a cycle, an SQL text and a hidden import when there is one."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]
    assert path_between(edges, "a", "a") == ["a", "b", "c", "a"]
    code = (
        'def f(t):\n    """SELECT a FROM b, in a docstring"""\n    return f"SELECT x FROM {t} WHERE id = ?"\n'
    )
    tree = ast.parse(code + 'q = "DELETE FROM runs"\n')
    assert {line for line, text in _strings(tree) if SQL.search(text)} == {3, 4}
    hidden = [i for i in imports(modules()) if not i.top_level]
    assert hidden, "imports inside functions are seen (and count for the package rule)"
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from sloth_engine import spec\n\n\ndef g():\n    # lazy: start-up\n"
        "    from sloth_engine import spec\n\n\ndef h():\n    from sloth_engine import spec  # lazy: x\n\n\n"
        "def i():\n    # lazy: a reason\n    # on two lines\n    from sloth_engine import spec\n",
        encoding="utf-8",
    )
    seen = {"sloth_engine.probe": probe, "sloth_engine.spec": ROOT / "sloth_engine" / "spec.py"}
    assert [line for _p, line, _t in _unexplained(imports(seen), seen)] == [2]
    assert not SQL.search("Select the task to run from the list; DELETE the file")


RUN_WRITES = ("create_run", "end_run", "claim_run")
"""RunLog's writes of a run's state: only sloth_engine.run_transition calls them."""


def _calls_of(tree: ast.AST, names: tuple[str, ...]) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.func.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names
    ]


def test_run_state_changes_go_through_the_run_transition() -> None:
    """Creating, ending or claiming a run is checked in one place (sloth_engine/run_transition.py)."""
    found = []
    for name, path in _outside_store().items():
        if name == "sloth_engine.run_transition":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found += [f"{path.relative_to(ROOT)}:{line}: .{attr}()" for line, attr in _calls_of(tree, RUN_WRITES)]
    assert not found, "run state written around sloth_engine.run_transition:\n" + "\n".join(found)
    sample = ast.parse("store.runs.end_run('r', s, 1.0, 1.0, None, None)\nx.create_run()\n")
    assert _calls_of(sample, RUN_WRITES) == [(1, "end_run"), (2, "create_run")]


STATUS_STRINGS = {s.value for s in (*RunStatus, *TaskStatus, *StackStatus)}
STRINGS_ALLOWED = {
    "sloth_engine.spec": "defines the statuses",
    "sloth_engine.store": "the store's columns hold them as text",
    "sloth_daemon.wire": "protobuf carries them as text",
    "sloth_daemon.gen": "generated protobuf code",
    "sloth_engine.modules": "Lua modules speak of services and containers ('running'), not of runs",
}
OTHER_MEANINGS = {
    ("sloth_engine.events.bus", "success"): "a hook execution's outcome (store.hooks.Outcome, a Literal)",
    ("sloth_engine.events.hook_runner", "success"): "the same outcome",
}


def _status_comparisons(tree: ast.AST) -> list[tuple[int, str]]:
    """Comparisons (==, !=, in, is) of anything with a bare status text, or a tuple of them."""

    def texts(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value] if node.value in STATUS_STRINGS else []
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [t for element in node.elts for t in texts(element)]
        return []

    return [
        (node.lineno, text)
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        for side in (node.left, *node.comparators)
        for text in texts(side)
    ]


def test_statuses_are_enums_outside_the_wire_and_the_store() -> None:
    """Run, task and stack states are compared as RunStatus/TaskStatus/StackStatus members;
    their text appears only where it is stored or sent."""
    found = []
    for name, path in modules().items():
        if any((name + ".").startswith(prefix + ".") for prefix in STRINGS_ALLOWED):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, text in _status_comparisons(tree):
            if (name, text) not in OTHER_MEANINGS:
                found.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert not found, "a status compared as a bare string (use the enum):\n" + "\n".join(found)
    sample = ast.parse('if s == "running" or t in ("failed", "x") or u is TaskStatus.FAILED: pass\n')
    assert _status_comparisons(sample) == [(1, "running"), (1, "failed")]
