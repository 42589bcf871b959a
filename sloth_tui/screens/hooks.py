"""HooksScreen: the event hooks of the master, with their last outcome."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult

from sloth_tui.display import ago
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.overview import coloured
from sloth_tui.widgets.filter_table import FilterTable

OUTCOME_STATES = {"success": "success", "failed": "failed", "timeout": "timed_out", "dropped": "cancelled"}


class HooksScreen(ConsoleScreen):
    TITLE_TEXT = "Hooks"

    def compose_body(self) -> ComposeResult:
        yield FilterTable(
            "hook",
            "enabled",
            "events",
            "stack",
            "path",
            "timeout",
            "last outcome",
            "last run",
            id="hook-table",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(FilterTable).focus()

    def reload(self) -> None:
        self.console.call(lambda c: c.list_hooks(), self._listed, "listing hooks")

    def _listed(self, hooks: list[dict[str, Any]]) -> None:
        now = self.console.clock()
        rows = []
        for h in hooks:
            outcome = h.get("last_outcome") or "-"
            cells = (
                h["name"],
                coloured(self.app, "yes" if h["enabled"] else "no", "success" if h["enabled"] else "skipped"),
                ", ".join(h["event_types"]),
                h.get("stack") or "*",
                h.get("path") or "",
                f"{h['timeout_s']:g}s",
                coloured(self.app, outcome, OUTCOME_STATES.get(outcome, "pending")),
                ago(h.get("last_run_at"), now),
            )
            rows.append((h["name"], cells))
        table = self.query_one(FilterTable)
        table.border_title = f"{len(hooks)} hooks"
        table.show(rows)
