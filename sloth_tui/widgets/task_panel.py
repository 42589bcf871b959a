"""TaskPanel: the selected task of a run: state, attempts, timing, placement, outputs, live log."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Static

from sloth_tui.dag import TaskView
from sloth_tui.display import duration, state_colour, theme_colour


class TaskPanel(Vertical):
    DEFAULT_CSS = """
    TaskPanel > #task-info { height: auto; max-height: 50%; }
    TaskPanel > Log { height: 1fr; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task_name: str | None = None
        self.lines_shown = 0

    def compose(self) -> ComposeResult:
        yield Static("select a task (arrows, click)", id="task-info")
        yield Log(id="task-log", max_lines=5000, auto_scroll=True)

    def show_task(self, task: TaskView, now: float, dependents: list[str]) -> None:
        """Describe `task`; a different task than before starts its log over."""
        variables = self.app.theme_variables
        spent = task.elapsed(now)
        text = Text.assemble(
            (task.name, "bold"),
            "  ",
            (task.status, state_colour(variables, task.status)),
            f"  attempt {task.attempts or '-'}  {duration(spent) if spent is not None else ''}\n",
        )
        if task.description:
            text.append(f"{task.description}\n")
        text.append(f"placement: {task.placement}   agent: {task.agent or '-'}\n")
        text.append(f"depends on: {', '.join(task.depends_on) or '-'}\n")
        text.append(f"dependents: {', '.join(dependents) or '-'}\n")
        if task.message:
            text.append(f"message: {task.message}\n")
        if task.error:
            text.append(f"error: {task.error}\n", style=theme_colour(variables, "error"))
        if task.outputs:
            body = json.dumps(task.outputs, indent=1, ensure_ascii=False, default=str)
            text.append("outputs: " + (body if len(body) < 1200 else body[:1200] + "…"))
        self.query_one("#task-info", Static).update(text)
        if task.name != self.task_name:
            self.task_name = task.name
            self.query_one(Log).clear()
            self.lines_shown = 0
        self.append_log(task)

    def append_log(self, task: TaskView) -> None:
        """Write the log lines of `task` not shown yet."""
        if task.name != self.task_name:
            return
        missing = min(task.log_total - self.lines_shown, len(task.log))
        if missing > 0:
            new = list(task.log)[-missing:]
            self.query_one(Log).write_lines(f"[{s}] {line}" if s != "stdout" else line for s, line in new)
        self.lines_shown = task.log_total
