"""Stacks as text: a drift report, the dependency graph, and a snapshot's lines side by side
with another's (plain functions over the master's stack documents)."""

from __future__ import annotations

import difflib
import json
from typing import Any, Literal

from sloth_tui.dag import levels_of
from sloth_tui.display import date_time, short

Change = Literal["same", "changed", "removed", "added"]


def drift_text(report: dict[str, Any] | None) -> str:
    if not report:
        return "no drift detection yet (D detects now)"
    fixed = f", fixed at {date_time(report['fixed_at'])}" if report.get("fixed_at") else ""
    lines = [
        f"detected {date_time(report.get('detected_at'))}{fixed}: {report.get('drifted', 0)} drifted, "
        f"{report.get('errors', 0)} unreadable, {report.get('checked', 0)} checked",
        "",
    ]
    marks = {"configuration": "~", "missing": "-", "extra": "+", "error": "!"}
    for item in report.get("findings") or []:
        owner = f"  (task {item['task']} of {item['workflow']})" if item.get("task") else ""
        lines.append(f"{marks.get(item['kind'], '?')} {item['resource']}: {item['kind']}{owner}")
        if item.get("error"):
            lines.append(f"    error: {item['error']}")
        for f in item.get("fields") or []:
            expected, actual = short(f.get("expected"), 40), short(f.get("actual"), 40)
            lines.append(f"    {f['field']}: expected {expected}, actual {actual}")
    if not report.get("findings"):
        lines.append("no drift")
    return "\n".join(lines)


def deps_text(stack: str, deps: dict[str, Any], graph: dict[str, list[str]]) -> str:
    """The stack's own dependencies, then the whole graph level by level (arrows to deps)."""
    indirect = ", ".join(f"{d['stack']} (via {d['via']})" for d in deps.get("indirect") or []) or "-"
    lines = [
        f"{stack} depends on: {', '.join(deps.get('depends_on') or []) or '-'}",
        f"indirectly: {indirect}",
        f"depended on by: {', '.join(deps.get('dependents') or []) or '-'}",
    ]
    if deps.get("missing"):
        lines.append(f"missing stacks: {', '.join(deps['missing'])}")
    nodes = [{"name": n, "depends_on": d} for n, d in graph.items()]
    if not nodes:
        return "\n".join([*lines, "", "no dependencies between stacks"])
    levels = levels_of(nodes)
    lines += ["", "graph (level: stack → what it depends on):"]
    for level in range(max(levels.values(), default=-1) + 1):
        names = sorted(n for n, lv in levels.items() if lv == level)
        for name in names:
            marker = "▶" if name == stack else " "
            arrow = f" → {', '.join(graph.get(name) or [])}" if graph.get(name) else ""
            lines.append(f"  L{level} {marker} {name}{arrow}")
    return "\n".join(lines)


def snapshot_lines(doc: dict[str, Any]) -> list[str]:
    """A snapshot (or the current state) as lines: each resource with its properties, then
    the outputs; stable order so two versions line up."""
    lines: list[str] = []
    for r in sorted(doc.get("resources") or [], key=lambda r: (r["type"], r["name"])):
        lines.append(f"{r['type']}.{r['name']}  [{r.get('state') or '-'}]")
        for key, value in sorted((r.get("properties") or {}).items()):
            lines.append(f"    {key} = {json.dumps(value, ensure_ascii=False, default=str)}")
    lines.append("outputs:")
    for key, value in sorted((doc.get("outputs") or {}).items()):
        lines.append(f"    {key} = {json.dumps(value, ensure_ascii=False, default=str)}")
    return lines


def side_by_side(old: list[str], new: list[str]) -> list[tuple[str, str, Change]]:
    """Rows (left, right, change) aligning two versions' lines."""
    rows: list[tuple[str, str, Change]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend((old[a1 + i], new[b1 + i], "same") for i in range(a2 - a1))
        elif op == "delete":
            rows.extend((line, "", "removed") for line in old[a1:a2])
        elif op == "insert":
            rows.extend(("", line, "added") for line in new[b1:b2])
        else:
            left, right = old[a1:a2], new[b1:b2]
            for i in range(max(len(left), len(right))):
                a = left[i] if i < len(left) else ""
                b = right[i] if i < len(right) else ""
                rows.append((a, b, "changed" if a and b else ("removed" if a else "added")))
    return rows
