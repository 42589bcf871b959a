"""StatusBar: the top line of every screen: where you are, which master, and whether it answers."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from sloth_tui.display import theme_colour


class StatusBar(Static):
    """`Sloth Runner ▸ Overview          master 127.0.0.1:50053 ● connected`."""

    DEFAULT_CSS = """
    StatusBar { height: 1; dock: top; }
    """

    where: reactive[str] = reactive("")
    address: reactive[str] = reactive("")
    connected: reactive[bool] = reactive(False)
    problem: reactive[str] = reactive("")

    def render(self) -> Text:
        variables = self.app.theme_variables
        left = Text.assemble(("Sloth Runner", "bold"), " ▸ ", (self.where, "bold"))
        if self.connected:
            state = Text.assemble(("● ", theme_colour(variables, "success")), "connected")
        elif self.problem:
            state = Text.assemble(
                ("○ ", theme_colour(variables, "error")),
                ("connection lost, retrying", theme_colour(variables, "error")),
                f" ({self.problem[:60]})",
            )
        else:
            state = Text.assemble(("○ ", theme_colour(variables, "warning")), "connecting")
        right = Text.assemble(f"master {self.address}  ", state)
        gap = max(1, self.size.width - left.cell_len - right.cell_len)
        return Text.assemble(left, " " * gap, right)
