"""SecretsScreen: the names of the secrets per stack (the console never sees a value)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult

from sloth_tui.display import date_time
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.widgets.filter_table import FilterTable


class SecretsScreen(ConsoleScreen):
    TITLE_TEXT = "Secrets"

    def compose_body(self) -> ComposeResult:
        yield FilterTable("stack", "name", "value", "created", "updated", id="secret-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(FilterTable).focus()

    def reload(self) -> None:
        self.console.call(lambda c: c.list_secret_names(), self._listed, "listing secrets")

    def _listed(self, secrets: list[dict[str, Any]]) -> None:
        rows = [
            (
                f"{s['stack']}\0{s['name']}",
                (
                    s["stack"],
                    s["name"],
                    "••••••",
                    date_time(s.get("created_at")),
                    date_time(s.get("updated_at")),
                ),
            )
            for s in secrets
        ]
        table = self.query_one(FilterTable)
        table.border_title = f"{len(secrets)} secrets (names only)"
        table.show(rows)
