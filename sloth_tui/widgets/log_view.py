"""LogView: a task's output, full screen: follows new lines, searches (`/`, then n/N).

Drawn with the line API (only the visible lines are rendered), fed from a TaskView's log by
`sync()`. Following keeps the newest line in view as lines arrive; moving up stops following,
`f` or `end` starts it again. Matches of the search are highlighted, the current one more.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import MouseScrollUp
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from sloth_tui.dag import TaskView

LINES_KEPT = 50_000
"""Most lines the view holds (the oldest go first)."""


class LogView(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"log--stderr", "log--match", "log--current", "log--note"}
    BINDINGS = [
        Binding("up,k", "scroll_by(-1)", "Up", show=False),
        Binding("down,j", "scroll_by(1)", "Down", show=False),
        Binding("pageup", "scroll_by(-20)", "Page up", show=False),
        Binding("pagedown,space", "scroll_by(20)", "Page down", show=False),
        Binding("home,g", "top", "Top", show=False),
        Binding("end,G", "follow(True)", "End (follow)", show=False),
    ]

    class Changed(Message):
        """Lines came, following or the search changed (the screen's title says so)."""

    def __init__(self, task: TaskView, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.task_view = task
        self.lines: list[tuple[str, str]] = []
        """(stream, line) shown; a `note` stream marks lines this view never received."""
        self.seen = 0
        """`task.log_total` at the last sync."""
        self.following = True
        self.pattern = ""
        self.matches: list[int] = []
        self.current = -1
        """Index in `matches` of the current match (-1: none)."""
        self._width = 0

    # ---- feeding ------------------------------------------------------------------------

    def sync(self) -> bool:
        """Take the lines the task got since the last sync; True when there were some."""
        task = self.task_view
        new = task.log_total - self.seen
        if new <= 0:
            return False
        kept = list(task.log)
        if new > len(kept):
            missed = new - len(kept)
            note = f"… {missed} earlier lines are not kept here (`sloth-daemon runs logs` has them)"
            self.lines.append(("note", note))
            new = len(kept)
        added = kept[len(kept) - new :]
        first = len(self.lines)
        self.lines.extend(added)
        self.seen = task.log_total
        if self.pattern:
            needle = self.pattern
            self.matches.extend(first + i for i, (_s, line) in enumerate(added) if needle in line.lower())
        if len(self.lines) > LINES_KEPT:
            self._drop(len(self.lines) - LINES_KEPT)
        self._width = max(self._width, max((len(line) for _s, line in added), default=0))
        self.virtual_size = Size(self._width + 1, len(self.lines))
        if self.following:  # once the new size is laid out (it bounds the scroll)
            self.call_after_refresh(self._to_end)
        self.refresh()
        self.post_message(self.Changed())
        return True

    def _drop(self, count: int) -> None:
        del self.lines[:count]
        self.matches = [m - count for m in self.matches if m >= count]
        self.current = min(self.current, len(self.matches) - 1)

    # ---- following and moving -----------------------------------------------------------

    def action_follow(self, on: bool | None = None) -> None:
        self.following = (not self.following) if on is None else on
        if self.following:
            self._to_end()
        self.post_message(self.Changed())

    def _to_end(self) -> None:
        if self.following:
            self.scroll_end(animate=False, immediate=True)

    def action_scroll_by(self, lines: int) -> None:
        if lines < 0 and self.following:
            self.following = False
            self.post_message(self.Changed())
        self.scroll_to(y=max(0, int(self.scroll_offset.y) + lines), animate=False, immediate=True)

    def action_top(self) -> None:
        self.following = False
        self.scroll_home(animate=False, immediate=True)
        self.post_message(self.Changed())

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        if self.following:
            self.following = False
            self.post_message(self.Changed())

    # ---- search -------------------------------------------------------------------------

    def search(self, text: str) -> None:
        """Highlight the lines holding `text` (any case) and go to the first one from the top
        of the view down (wrapping)."""
        self.pattern = text.strip().lower()
        needle = self.pattern
        self.matches = [i for i, (_s, line) in enumerate(self.lines) if needle and needle in line.lower()]
        self.current = -1
        if self.matches:
            top = int(self.scroll_offset.y)
            self.current = next((i for i, m in enumerate(self.matches) if m >= top), 0)
            self._show_current()
        self.refresh()
        self.post_message(self.Changed())

    def next_match(self, step: int) -> None:
        """The next (1) or previous (-1) match, wrapping around."""
        if not self.matches:
            return
        self.current = (self.current + step) % len(self.matches)
        self._show_current()
        self.refresh()
        self.post_message(self.Changed())

    def _show_current(self) -> None:
        self.following = False
        line = self.matches[self.current]
        self.scroll_to_region(Region(0, line, 1, 1), animate=False, immediate=True, center=True)

    # ---- drawing ------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + int(scroll_y)
        base = self.rich_style
        if index >= len(self.lines):
            return Strip.blank(self.size.width, base)
        stream, text = self.lines[index]
        style = base
        if stream == "stderr":
            style += self._style("stderr")
        elif stream == "note":
            style += self._style("note")
        segments = self._highlighted(text, style, index)
        strip = Strip(segments).crop(int(scroll_x), int(scroll_x) + self.size.width)
        return strip.extend_cell_length(self.size.width, base)

    def _highlighted(self, text: str, style: Style, index: int) -> list[Segment]:
        needle = self.pattern
        if not needle or needle not in text.lower():
            return [Segment(text, style)]
        current = self.current >= 0 and self.matches[self.current] == index
        hit = style + self._style("current" if current else "match")
        segments: list[Segment] = []
        lower, at = text.lower(), 0
        while True:
            found = lower.find(needle, at)
            if found < 0:
                segments.append(Segment(text[at:], style))
                return segments
            segments.append(Segment(text[at:found], style))
            segments.append(Segment(text[found : found + len(needle)], hit))
            at = found + len(needle)

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"log--{name}", partial=True)
