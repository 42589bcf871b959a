"""ConsoleScreen: what every screen of the console shares.

The status line (where, which master, connected or not), the `/` filter of the screen's
tables, `?` help, `esc` back, `r` reload, and `console_changed(kinds)`, called by the app
when the model changed ("runs", "agents", "locks", "events", "connection", ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.screen import Screen
from textual.widgets import Footer, Input

from sloth_tui.screens.help import HelpScreen
from sloth_tui.widgets.filter_table import FilterTable
from sloth_tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from sloth_tui.app import SlothApp


SECTIONS = ("This screen", "Table/graph", "Screens", "Everywhere")
"""Where a key comes from, in the order the footer and `?` show them (see `key_section`)."""


class ConsoleScreen(Screen[None]):
    TITLE_TEXT = ""
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("r", "reload", "Reload", show=False),  # in `?`: the footer keeps room for q
    ]

    @property
    def console(self) -> SlothApp:
        return self.app  # type: ignore[return-value]

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's active bindings, reordered: the screen's own keys first, then those of the
        focused widget (sorting a table), the screen numbers, then the keys every screen has.
        The footer and `?` show them in this order."""
        found = super().active_bindings

        def rank(item: tuple[str, ActiveBinding]) -> tuple[int, bool]:
            action, node = item[1].binding.action, item[1].node
            return SECTIONS.index(self.key_section(*item)), action not in own_actions(type(node), True)

        return dict(sorted(found.items(), key=rank))

    def key_section(self, key: str, active: ActiveBinding) -> str:
        """Which of SECTIONS a key belongs to."""
        if active.node is self:
            return "This screen" if active.binding.action in own_actions(type(self)) else "Everywhere"
        if active.node is self.app:
            return "Screens" if active.binding.action.startswith("go(") else "Everywhere"
        # the focused widget's: ours (sorting, moving in the DAG) or Textual's (cursor keys)
        return "Table/graph" if active.binding.action in own_actions(type(active.node)) else "Everywhere"

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield from self.compose_body()
        yield Input(placeholder="filter: type to narrow the tables, Esc to clear", id="filter")
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.show_connection()
        self.reload()

    stale = False
    """The model changed while this screen was hidden."""

    def on_screen_resume(self) -> None:
        self.show_connection()
        self.stale = False
        self.refresh_view(set())

    # ---- what screens fill in -----------------------------------------------------------

    def reload(self) -> None:
        """Ask the master again for what this screen shows (on mount and `r`)."""

    def refresh_view(self, kinds: set[str]) -> None:
        """Redraw from the app's model after it changed (`kinds` says what changed)."""

    def tables(self) -> list[Any]:
        """What the `/` filter narrows."""
        return list(self.query(FilterTable))

    # ---- shared -------------------------------------------------------------------------

    def console_changed(self, kinds: set[str]) -> None:
        if "connection" in kinds:
            self.show_connection()
        self.refresh_view(kinds)

    def show_connection(self) -> None:
        bar = self.query_one(StatusBar)
        state = self.console.state
        bar.where = self.TITLE_TEXT
        bar.address = self.console.address
        bar.connected = state.connected
        bar.problem = state.problem

    def action_back(self) -> None:
        field = self.query_one("#filter", Input)
        if field.display:
            field.value = ""
            field.display = False
            self._apply_filter("")
            return
        self.console.back()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self, self.TITLE_TEXT))

    def action_reload(self) -> None:
        self.reload()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            tables = self.tables()
            if tables:
                tables[0].focus()

    def _apply_filter(self, text: str) -> None:
        for table in self.tables():
            table.set_filter(text)


def own_actions(cls: type, with_base: bool = False) -> set[str]:
    """The actions bound by the console's own classes in the hierarchy of `cls`: not those
    of Textual's classes, nor (unless `with_base`) those of ConsoleScreen, every screen's."""
    found: set[str] = set()
    for klass in cls.__mro__:
        if (klass is ConsoleScreen and not with_base) or not klass.__module__.startswith("sloth_tui"):
            continue
        for binding in klass.__dict__.get("BINDINGS", ()):
            if isinstance(binding, Binding):
                found.add(binding.action)
    return found
