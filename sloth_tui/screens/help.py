"""HelpScreen: the keys of the screen it was opened on, with what they do."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def bindings_of(screen: Screen[object]) -> list[tuple[str, str]]:
    """(key, description) of the bindings active on `screen`, the screen's own first."""
    seen: dict[str, tuple[str, str]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action.startswith("app.command_palette"):
            continue
        shown = binding.key_display or screen.app.get_key_display(binding)
        seen.setdefault(binding.description, (shown, binding.description))
        del key
    return sorted(seen.values(), key=lambda kv: kv[1].lower())


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, of: Screen[Any], title: str) -> None:
        super().__init__()
        self.of = of
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Keys of {self.title_text}   (: opens the command palette)", id="question")
            yield DataTable(cursor_type="none", id="keys")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "what it does")
        for key, description in bindings_of(self.of):
            table.add_row(key, description)

    def action_close(self) -> None:
        self.dismiss(None)
