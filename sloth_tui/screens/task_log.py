"""TaskLogScreen: one task's output full screen, following as lines arrive, searchable.

The run-detail screen below keeps following the run's stream; this screen reads the task's
lines from the same RunView several times a second. `/` searches (Enter goes to the first
match), n/N go to the next and previous one, `f` follows or stops following.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from sloth_tui.dag import RunView
from sloth_tui.screens.base import ConsoleScreen
from sloth_tui.widgets.log_view import LogView

POLL = 0.1
"""Seconds between two looks at the task's lines (a line shows within this)."""


class TaskLogScreen(ConsoleScreen):
    BINDINGS = [
        Binding("slash", "filter", "Search", key_display="/"),
        Binding("f", "follow", "Follow on/off"),
        Binding("n", "next_match(1)", "Next match"),
        Binding("N", "next_match(-1)", "Previous match"),
    ]

    def __init__(self, run: RunView, task: str) -> None:
        super().__init__()
        self.run = run
        self.task_name = task
        self.TITLE_TEXT = f"Log of {task} (run {run.run_id})"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="log-title")
        yield LogView(self.run.tasks[self.task_name], id="log-view")

    def on_mount(self) -> None:
        super().on_mount()
        field = self.query_one("#filter", Input)
        field.placeholder = "search: type, Enter goes to the first match, Esc clears"
        view = self.query_one(LogView)
        view.focus()
        view.sync()
        self._title()
        self.set_interval(POLL, view.sync)

    def on_log_view_changed(self, message: LogView.Changed) -> None:
        self._title()

    def _title(self) -> None:
        view, task = self.query_one(LogView), self.run.tasks[self.task_name]
        parts = [f"{task.name}  {task.status}", f"{task.log_total} lines"]
        parts.append("following" if view.following else "not following (f follows)")
        if view.pattern:
            found = len(view.matches)
            at = f"{view.current + 1}/{found}" if found else "no match"
            parts.append(f"'{view.pattern}': {at}")
        self.query_one("#log-title", Static).update("   ".join(parts))

    # ---- search (the `/` field of every screen) -----------------------------------------------

    def tables(self) -> list[Any]:
        return []

    def _apply_filter(self, text: str) -> None:
        self.query_one(LogView).search(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.display = False
            self.query_one(LogView).focus()

    def action_next_match(self, step: int) -> None:
        self.query_one(LogView).next_match(step)

    def action_follow(self) -> None:
        self.query_one(LogView).action_follow()
