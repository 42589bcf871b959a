"""SnapshotDiffScreen: two versions of a stack side by side, changed lines coloured."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from sloth_tui.display import theme_colour
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.stack_text import side_by_side, snapshot_lines

CHANGE_VARIABLES = {"removed": "error", "added": "success", "changed": "warning"}


class SnapshotDiffScreen(ConsoleScreen):
    TITLE_TEXT = "Snapshot diff"

    def __init__(self, stack: str, old: str, new: str) -> None:
        super().__init__()
        self.stack, self.old, self.new = stack, old, new
        self.TITLE_TEXT = f"Stack {stack}: {old} ↔ {new}"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="diff-scroll"):
            with Horizontal(id="diff"):
                yield Static("", id="diff-old", classes="diff-side")
                yield Static("", id="diff-new", classes="diff-side")

    def reload(self) -> None:
        stack, old, new = self.stack, self.old, self.new

        def fetch(c: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            return c.get_snapshot(stack, old), c.get_snapshot(stack, new)

        self.console.call(fetch, self._show, f"reading snapshots of {stack}")

    def tables(self) -> list[Any]:
        return []

    def _show(self, docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
        old_doc, new_doc = docs
        rows = side_by_side(snapshot_lines(old_doc), snapshot_lines(new_doc))
        variables = self.app.theme_variables
        left = Text(f"{_label(old_doc)}\n", style="bold")
        right = Text(f"{_label(new_doc)}\n", style="bold")
        changes = 0
        for a, b, change in rows:
            colour = theme_colour(variables, CHANGE_VARIABLES.get(change, "")) if change != "same" else ""
            changes += change != "same"
            left.append(("- " if change in ("removed", "changed") and a else "  ") + a + "\n", style=colour)
            right.append(("+ " if change in ("added", "changed") and b else "  ") + b + "\n", style=colour)
        self.query_one("#diff-old", Static).update(left)
        self.query_one("#diff-new", Static).update(right)
        self.query_one("#diff-scroll").border_title = f"{changes} changed lines"


def _label(doc: dict[str, Any]) -> str:
    info = doc.get("info") or {}
    count = len(doc.get("resources") or [])
    if info.get("label") == "current":
        return f"current state ({count} resources)"
    return f"{info.get('label')}  {info.get('description') or ''}  ({count} resources)"
