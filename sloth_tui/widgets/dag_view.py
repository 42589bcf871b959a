"""DagView: a run's tasks as columns of dependency levels, each task coloured by its state.

Drawn with the line API: only the visible lines are rendered, so a 1,000-task run redraws
as cheaply as a 10-task one. The selected task is reversed; the tasks it depends on and the
tasks that depend on it are marked (`▸` dependency, `◂` dependent); a filter dims the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from sloth_tui.dag import RunView, TaskView
from sloth_tui.display import STATE_MARKS, duration

HEADER_LINES = 2
GAP = 2
MAX_NAME = 28
STATES = (
    "pending",
    "running",
    "retrying",
    "success",
    "unchanged",
    "failed",
    "timed_out",
    "skipped",
    "cancelled",
)


class DagView(ScrollView, can_focus=True):
    """The live DAG of one run."""

    COMPONENT_CLASSES = {
        "dag--header",
        "dag--dependency",
        "dag--dependent",
        "dag--dimmed",
        "dag--selected",
        *(f"dag--{s}" for s in STATES),
    }
    BINDINGS = [
        Binding("up,k", "move(0, -1)", "Up", show=False),
        Binding("down,j", "move(0, 1)", "Down", show=False),
        Binding("left,h", "move(-1, 0)", "Previous level", show=False),
        Binding("right,l", "move(1, 0)", "Next level", show=False),
        Binding("pageup", "move(0, -20)", "Page up", show=False),
        Binding("pagedown", "move(0, 20)", "Page down", show=False),
        Binding("home", "move(0, -1000000)", "First task", show=False),
        Binding("end", "move(0, 1000000)", "Last task", show=False),
    ]

    class TaskSelected(Message):
        """The cursor moved to a task (or it was clicked)."""

        def __init__(self, task: str) -> None:
            super().__init__()
            self.task = task

    def __init__(self, run: RunView, clock: Callable[[], float] = time.time, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.run = run
        self.clock = clock
        self.column = 0
        self.row = 0
        self.filter_text = ""
        self.paints = 0
        """Frames drawn (counted at the first visible line): the refresh rate benchmark reads it."""
        self._widths: list[int] = []
        self._layout_version = -1
        self._marks: dict[str, str] = {}

    # ---- data ---------------------------------------------------------------------------

    @property
    def selected(self) -> str | None:
        columns = self.run.columns
        if not columns or self.column >= len(columns) or self.row >= len(columns[self.column]):
            return None
        return columns[self.column][self.row]

    def changed(self) -> None:
        """The run changed: lay out again if tasks came or went, then redraw."""
        if self._layout_version != len(self.run.tasks):
            self._layout_version = len(self.run.tasks)
            self._widths = [self._width(col) for col in self.run.columns]
            tallest = max((len(c) for c in self.run.columns), default=0)
            self.virtual_size = Size(sum(self._widths) + GAP * len(self._widths), tallest + HEADER_LINES)
            self._clamp()
        self._mark_neighbours()
        self.refresh()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self.refresh()

    def select(self, task: str) -> None:
        for c, names in enumerate(self.run.columns):
            if task in names:
                self.column, self.row = c, names.index(task)
                self._after_move()
                return

    def _width(self, names: list[str]) -> int:
        longest = min(MAX_NAME, max((len(n) for n in names), default=4))
        return longest + 2 + 8 + 4  # mark, name, duration, attempts

    # ---- moving -------------------------------------------------------------------------

    def action_move(self, dx: int, dy: int) -> None:
        if not self.run.columns:
            return
        self.column = max(0, min(len(self.run.columns) - 1, self.column + dx))
        self.row += dy
        self._clamp()
        self._after_move()

    def _clamp(self) -> None:
        columns = self.run.columns
        if not columns:
            self.column = self.row = 0
            return
        self.column = min(self.column, len(columns) - 1)
        self.row = max(0, min(self.row, len(columns[self.column]) - 1))

    def _after_move(self) -> None:
        x = sum(self._widths[: self.column]) + GAP * self.column
        width = self._widths[self.column] if self._widths else 0
        self.scroll_to_region_if_needed(x, self.row + HEADER_LINES, width)
        self._mark_neighbours()
        self.refresh()
        if self.selected is not None:
            self.post_message(self.TaskSelected(self.selected))

    def scroll_to_region_if_needed(self, x: int, y: int, width: int) -> None:
        from textual.geometry import Region

        self.scroll_to_region(Region(x, y, width, 1), animate=False, immediate=True, force=True)

    def on_click(self, event: Click) -> None:
        x, y = event.x + int(self.scroll_offset.x), event.y + int(self.scroll_offset.y)
        left = 0
        for c, width in enumerate(self._widths):
            if left <= x < left + width + GAP:
                row = y - HEADER_LINES
                if 0 <= row < len(self.run.columns[c]):
                    self.column, self.row = c, row
                    self._after_move()
                return
            left += width + GAP

    def _mark_neighbours(self) -> None:
        task = self.selected
        marks: dict[str, str] = {}
        if task is not None and task in self.run.tasks:
            for dep in self.run.tasks[task].depends_on:
                marks[dep] = "dependency"
            for dependent in self.run.dependents(task):
                marks[dependent] = "dependent"
        self._marks = marks

    # ---- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        if y == 0:
            self.paints += 1
        scroll_x, scroll_y = self.scroll_offset
        line = y + int(scroll_y)
        base = self.rich_style
        segments: list[Segment] = []
        now = self.clock()
        for c, names in enumerate(self.run.columns):
            width = self._widths[c] if c < len(self._widths) else 0
            if line == 0:
                segments.append(
                    Segment(f"level {c} ({len(names)})"[:width].ljust(width + GAP), self._style("header"))
                )
            elif line == 1:
                segments.append(Segment("─" * width + " " * GAP, self._style("header")))
            elif line - HEADER_LINES < len(names):
                name = names[line - HEADER_LINES]
                segments.extend(self._cell(self.run.tasks[name], width, c, line - HEADER_LINES, now))
                segments.append(Segment(" " * GAP, base))
            else:
                segments.append(Segment(" " * (width + GAP), base))
        strip = Strip(segments).crop(int(scroll_x), int(scroll_x) + self.size.width)
        return strip.extend_cell_length(self.size.width, base)

    def _cell(self, task: TaskView, width: int, column: int, row: int, now: float) -> list[Segment]:
        state = self._style(task.status if task.status in STATES else "pending")
        name_width = width - 2 - 8 - 4
        name = task.name if len(task.name) <= name_width else task.name[: name_width - 1] + "…"
        spent = task.elapsed(now)
        attempts = f"×{task.attempts}" if task.attempts > 1 else ""
        mark = {"dependency": "▸", "dependent": "◂"}.get(self._marks.get(task.name, ""), " ")
        text = f"{name:<{name_width}} {duration(spent) if spent is not None else '':>7} {attempts:<3}"
        style = self.rich_style
        if self.filter_text and self.filter_text not in task.name.lower():
            style += self._style("dimmed")
        elif self._marks.get(task.name):
            style += self._style(self._marks[task.name])
        if column == self.column and row == self.row:
            style += self._style("selected")
        return [
            Segment(STATE_MARKS.get(task.status, "?"), style + state),
            Segment(mark, style),
            Segment(text[: width - 2], style),
        ]

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"dag--{name}", partial=True)
