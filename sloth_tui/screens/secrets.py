"""SecretsScreen: the names of the secrets per stack (the console never sees a value); set one
(typed hidden), delete one."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding

from sloth_tui.display import date_time
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.steer import ask, confirm
from sloth_tui.widgets.filter_table import FilterTable


class SecretsScreen(ConsoleScreen):
    TITLE_TEXT = "Secrets"
    BINDINGS = [
        Binding("s", "set", "Set"),
        Binding("d", "delete", "Delete"),
    ]

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

    def action_set(self) -> None:
        """STACK/NAME (or NAME in stack default), then the value, typed hidden."""

        def named(text: str) -> None:
            stack, _, name = text.rpartition("/")
            stack = stack or "default"
            ask(
                self.app,
                f"Value of secret '{name}' ({stack}):",
                lambda value: store(stack, name, value),
                password=True,
            )

        def store(stack: str, name: str, value: str) -> None:
            def stored(created: bool) -> None:
                self.notify(f"secret {name} ({stack}) {'created' if created else 'updated'}")
                self.reload()

            self.console.call(lambda c: c.secret_set(stack, name, value), stored, f"setting secret {name}")

        ask(self.app, "Secret to set: STACK/NAME (or NAME, stack default)", named, "default/db_password")

    def action_delete(self) -> None:
        key = self.query_one(FilterTable).selected_key
        if not key:
            self.notify("no secret selected", severity="warning")
            return
        stack, _, name = key.partition("\0")

        def deleted(_: Any) -> None:
            self.notify(f"secret {name} ({stack}) deleted")
            self.reload()

        def delete() -> None:
            self.console.call(lambda c: c.secret_delete(stack, name), deleted, f"deleting secret {name}")

        confirm(self.app, f"Delete secret '{name}' of stack '{stack}'?", "Delete", delete)
