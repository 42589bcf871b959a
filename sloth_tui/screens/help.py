"""HelpScreen: the keys of the screen it was opened on, with what they do: the screen's own
keys first, then the focused table's or graph's, the screen numbers, and the keys every screen
has (ConsoleScreen.active_bindings gives that order)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def bindings_of(screen: Screen[object]) -> list[tuple[str, str, str]]:
    """(section, keys, description) of the bindings active on `screen`, in its order (one row
    per description: `up` and `k` bound to one move show as "↑, k")."""
    section_of = getattr(screen, "key_section", None)  # a ConsoleScreen's (base.py imports this)
    seen: dict[str, tuple[str, list[str]]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action.startswith("app.command_palette"):
            continue
        section = section_of(key, active) if section_of is not None else ""
        shown = binding.key_display or screen.app.get_key_display(binding)
        what = binding.tooltip or binding.description
        keys = seen.setdefault(what, (section, []))[1]
        if shown not in keys:
            keys.append(shown)
    return [(section, ", ".join(keys), text) for text, (section, keys) in seen.items()]


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
        table.add_columns("", "key", "what it does")
        last = None
        for section, key, description in bindings_of(self.of):
            heading = Text(section, style="bold") if section != last else ""
            last = section
            table.add_row(heading, key, description)

    def action_close(self) -> None:
        self.dismiss(None)
