"""HooksScreen: the event hooks of the master, with their last outcome; add one from a file,
enable or disable, test, delete, read their runs."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding

from sloth_tui.display import ago, date_time
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.output import TextScreen
from sloth_tui.screens.overview import coloured
from sloth_tui.screens.steer import ask, confirm, read_file
from sloth_tui.widgets.filter_table import FilterTable

OUTCOME_STATES = {"success": "success", "failed": "failed", "timeout": "timed_out", "dropped": "cancelled"}


class HooksScreen(ConsoleScreen):
    TITLE_TEXT = "Hooks"
    BINDINGS = [
        Binding("a", "add", "Add"),
        Binding("e", "toggle_enabled", "Enable/disable"),
        Binding("t", "test", "Test"),
        Binding("d", "delete", "Delete"),
        Binding("l", "logs", "Runs"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.hooks: list[dict[str, Any]] = []

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
        self.hooks = hooks
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

    # ---- steering ---------------------------------------------------------------------------

    def _selected(self) -> dict[str, Any] | None:
        key = self.query_one(FilterTable).selected_key
        hook = next((h for h in self.hooks if h["name"] == key), None)
        if hook is None:
            self.notify("no hook selected", severity="warning")
        return hook

    def _done(self, text: str) -> Any:
        def then(_: Any) -> None:
            self.notify(text)
            self.reload()

        return then

    def action_add(self) -> None:
        """NAME PATH [EVENT ...]: the file is read here and sent to the master."""

        def add(text: str) -> None:
            name, _, rest = text.partition(" ")
            path, _, events = rest.strip().partition(" ")
            if not path:
                self.notify("give a name and a file: NAME PATH [EVENT ...]", severity="error")
                return
            try:
                source = read_file(path)
            except (OSError, UnicodeDecodeError) as exc:
                self.notify(f"cannot read {path}: {exc}", severity="error")
                return
            types = events.split()
            self.console.call(
                lambda c: c.hook_add(name, source, path, types),
                self._done(f"hook {name} added"),
                f"adding hook {name}",
            )

        ask(
            self.app,
            "New hook: NAME PATH [EVENT ...] (events default to the file's)",
            add,
            "notify ./notify.lua",
        )

    def action_toggle_enabled(self) -> None:
        hook = self._selected()
        if hook is None:
            return
        name, enable = hook["name"], not hook["enabled"]

        def apply() -> None:
            self.console.call(
                lambda c: c.hook_set_enabled(name, enable),
                self._done(f"hook {name} {'enabled' if enable else 'disabled'}"),
                f"changing hook {name}",
            )

        if enable:
            apply()
        else:
            confirm(self.app, f"Disable hook '{name}'? It stops running on events.", "Disable", apply)

    def action_test(self) -> None:
        hook = self._selected()
        if hook is None:
            return
        name = hook["name"]

        def tested(row: Any) -> None:
            lines = [f"{row.outcome} in {row.duration_s:.3f}s"] + (row.output or "").splitlines()
            if row.error:
                lines.append(f"error: {row.error}")

            self.app.push_screen(TextScreen(f"test of hook {name}", [escape(line) for line in lines]))
            self.reload()

        def run() -> None:
            self.console.call(lambda c: c.hook_test(name, {}), tested, f"testing hook {name}")

        confirm(self.app, f"Run hook '{name}' now for a made-up event?", "Run", run)

    def action_delete(self) -> None:
        hook = self._selected()
        if hook is None:
            return
        name = hook["name"]

        def delete() -> None:
            self.console.call(
                lambda c: c.hook_delete(name), self._done(f"hook {name} deleted"), f"deleting {name}"
            )

        confirm(self.app, f"Delete hook '{name}'?", "Delete", delete)

    def action_logs(self) -> None:
        hook = self._selected()
        if hook is None:
            return
        name = hook["name"]

        def show(rows: list[dict[str, Any]]) -> None:
            lines = []
            for row in sorted(rows, key=lambda r: r.get("started_at") or 0.0, reverse=True):
                head = f"{date_time(row['started_at'])}  {row['event_type']}  {row['outcome']}"
                lines.append(escape(head + f"  {row['duration_s']:.3f}s"))
                if row.get("error"):
                    lines.append(escape(f"    error: {row['error']}"))
                lines.extend(escape(f"    | {line}") for line in (row.get("output") or "").splitlines())
            self.app.push_screen(TextScreen(f"runs of hook {name}", lines or ["no runs yet"]))

        self.console.call(lambda c: c.hook_logs(name, False, 50), show, f"runs of hook {name}")
