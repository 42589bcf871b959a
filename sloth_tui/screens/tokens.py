"""TokensScreen: the master's API tokens (name, role, dates) and revoking one. The master
answers an admin token only; anyone else sees its refusal."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding

from sloth_tui.display import date_time
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.steer import confirm
from sloth_tui.widgets.filter_table import FilterTable


class TokensScreen(ConsoleScreen):
    TITLE_TEXT = "Tokens"
    BINDINGS = [Binding("x", "revoke", "Revoke")]

    def compose_body(self) -> ComposeResult:
        yield FilterTable("token", "role", "created", "expires", "revoked", id="token-table")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(FilterTable).focus()

    def reload(self) -> None:
        self.console.call(lambda c: c.token_rows(), self._listed, "listing tokens (admin only)")

    def _listed(self, tokens: list[dict[str, Any]]) -> None:
        rows = [
            (
                t["name"],
                (
                    t["name"],
                    t["role"],
                    date_time(t.get("created_at")),
                    date_time(t["expires_at"]) if t.get("expires_at") else "never",
                    date_time(t["revoked_at"]) if t.get("revoked_at") else "-",
                ),
            )
            for t in tokens
        ]
        table = self.query_one(FilterTable)
        table.border_title = f"{len(tokens)} tokens"
        table.show(rows)

    def action_revoke(self) -> None:
        name = self.query_one(FilterTable).selected_key
        if not name:
            self.notify("no token selected", severity="warning")
            return

        def revoked(_: Any) -> None:
            self.notify(f"token {name} revoked")
            self.reload()

        def revoke() -> None:
            self.console.call(lambda c: c.token_revoke(name), revoked, f"revoking {name}")

        confirm(self.app, f"Revoke token '{name}'? Calls with it are refused at once.", "Revoke", revoke)
