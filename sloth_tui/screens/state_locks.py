"""StateLocksScreen: locks held (release, force-release) and the durable state's keys (set,
delete)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical

from sloth_tui.display import ago, date_time, short
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.screens.confirm import ConfirmScreen
from sloth_tui.screens.steer import ask, confirm
from sloth_tui.widgets.filter_table import FilterTable


class StateLocksScreen(ConsoleScreen):
    TITLE_TEXT = "State & locks"
    BINDINGS = [
        Binding("x", "release(False)", "Release lock"),
        Binding("X", "release(True)", "Force-release lock"),
        Binding("s", "set_key", "Set key"),
        Binding("d", "delete_key", "Delete key"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict[str, Any]] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="locks-box", classes="box"):
            yield FilterTable(
                "lock", "kind", "holder", "token", "since", "expires", "reason", id="lock-table"
            )
        with Vertical(id="state-box", classes="box"):
            yield FilterTable(
                "namespace", "key", "value", "type", "version", "expires", "owner", id="state-table"
            )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#lock-table", FilterTable).focus()

    def reload(self) -> None:
        self.console.load_locks()
        self.console.call(lambda c: c.list_state(), self._state, "reading the state")

    def _state(self, found: dict[str, Any]) -> None:
        self.items = found["items"]
        self.refresh_view({"state"})

    def refresh_view(self, kinds: set[str]) -> None:
        now = self.console.clock()
        if not kinds or "locks" in kinds:
            locks = self.console.state.locks
            self.query_one("#locks-box").border_title = f"Locks held: {len(locks)}"
            rows = [
                (
                    f"{lk['kind']}:{lk['name']}",
                    (
                        lk["name"],
                        lk["kind"],
                        lk["holder"],
                        str(lk["token"]),
                        ago(lk["acquired_at"], now),
                        ago(lk["expires_at"], now) if lk.get("expires_at") else "until released",
                        lk.get("reason") or "",
                    ),
                )
                for lk in locks
            ]
            self.query_one("#lock-table", FilterTable).show(rows)
        if not kinds or "state" in kinds:
            self.query_one("#state-box").border_title = f"State: {len(self.items)} keys"
            rows = [
                (
                    f"{i['namespace']}\0{i['key']}",
                    (
                        i["namespace"],
                        i["key"],
                        short(i["value"], 50),
                        i["value_type"],
                        str(i["version"]),
                        date_time(i["expires_at"]) if i.get("expires_at") else "-",
                        i.get("owner") or "",
                    ),
                )
                for i in self.items
            ]
            self.query_one("#state-table", FilterTable).show(rows)

    def _selected_lock(self) -> dict[str, Any] | None:
        key = self.query_one("#lock-table", FilterTable).selected_key
        return next((lk for lk in self.console.state.locks if f"{lk['kind']}:{lk['name']}" == key), None)

    def action_release(self, force: bool) -> None:
        lock = self._selected_lock()
        if lock is None:
            self.notify("no lock selected", severity="warning")
            return
        if force:
            question = f"Force-release {lock['kind']} lock '{lock['name']}' held by {lock['holder']}?"
        else:
            question = (
                f"Release {lock['kind']} lock '{lock['name']}' (grant {lock['token']} of {lock['holder']})?"
            )

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            self.console.call(
                lambda c: c.release_lock(lock["kind"], lock["name"], int(lock["token"]), force, "console"),
                released,
                f"releasing {lock['name']}",
            )

        def released(_: Any) -> None:
            self.notify(f"released {lock['kind']} lock '{lock['name']}'")
            self.console.load_locks()

        self.app.push_screen(ConfirmScreen(question, "Force-release" if force else "Release"), confirmed)

    # ---- state keys -------------------------------------------------------------------------

    def action_set_key(self) -> None:
        """NAMESPACE/KEY (or KEY in namespace default), then the value (JSON, else text)."""

        def named(text: str) -> None:
            namespace, _, key = text.rpartition("/")
            namespace = namespace or "default"
            ask(
                self.app,
                f"Value of '{key}' in '{namespace}' (JSON, else text):",
                lambda v: store(namespace, key, v),
            )

        def store(namespace: str, key: str, text: str) -> None:
            import json

            try:
                value = json.loads(text)
            except ValueError:
                value = text

            def stored(_: Any) -> None:
                self.notify(f"state {namespace}/{key} set")
                self.reload()

            self.console.call(
                lambda c: c.state_set(namespace, key, value, None, "console"), stored, f"setting {key}"
            )

        ask(self.app, "State key to set: NAMESPACE/KEY (or KEY, namespace default)", named, "default/version")

    def action_delete_key(self) -> None:
        selected = self.query_one("#state-table", FilterTable).selected_key
        if not selected:
            self.notify("no state key selected", severity="warning")
            return
        namespace, _, key = selected.partition("\0")

        def deleted(_: Any) -> None:
            self.notify(f"state {namespace}/{key} deleted")
            self.reload()

        def delete() -> None:
            self.console.call(lambda c: c.state_delete(namespace, key), deleted, f"deleting {key}")

        confirm(self.app, f"Delete state key '{key}' of namespace '{namespace}'?", "Delete", delete)
