"""EventsScreen: the master's events as they happen (newest first), with a filter."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from sloth_tui.display import clock_time, short
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.overview import coloured
from sloth_tui.widgets.filter_table import FilterTable

SHOWN = 500


class EventsScreen(ConsoleScreen):
    TITLE_TEXT = "Events"
    BINDINGS = [Binding("p", "pause", "Pause/resume tail")]

    def __init__(self) -> None:
        super().__init__()
        self.paused = False

    def compose_body(self) -> ComposeResult:
        yield FilterTable("time", "type", "severity", "source", "stack", "run", "data", id="event-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(FilterTable).focus()

    def reload(self) -> None:
        self.console.call(lambda c: c.list_events(limit=SHOWN), self._listed, "listing events")

    def _listed(self, rows: list[dict[str, Any]]) -> None:
        self.console.state.add_events(rows)
        self.refresh_view(set())

    def refresh_view(self, kinds: set[str]) -> None:
        if self.paused or (kinds and "events" not in kinds):
            return
        events = self.console.state.newest_events(SHOWN)
        rows = []
        for index, e in enumerate(events):
            severity = e.get("severity") or "info"
            cells = (
                clock_time(e.get("ts")),
                coloured(self.app, e["type"], severity),
                severity,
                e.get("source") or "",
                e.get("stack") or "",
                e.get("run_id") or "",
                short(e.get("data") or {}, 80),
            )
            rows.append((str(e.get("id") or f"live-{len(events) - index}-{e.get('ts')}"), cells))
        table = self.query_one(FilterTable)
        table.border_title = f"{len(events)} events{' (paused)' if self.paused else ''}"
        table.show(rows)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.notify("tail paused" if self.paused else "tail resumed")
        self.refresh_view(set())

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        row = event.data_table.get_row(event.row_key)
        if row and row[5]:
            self.console.open_run(str(row[5]))
