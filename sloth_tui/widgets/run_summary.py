"""RunSummary: the run's line above its DAG: workflow, id, state, time, tasks per state.

Drawn from the RunView at each refresh, so a change costs a repaint, not a layout pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.widget import Widget

from sloth_engine.spec import RunStatus
from sloth_tui.dag import RunView
from sloth_tui.display import STATE_MARKS, duration, state_colour, theme_colour

SUMMARY_ORDER = (
    "running", "retrying", "success", "unchanged", "failed", "timed_out", "cancelled", "skipped", "pending",
)  # fmt: skip


class RunSummary(Widget):
    DEFAULT_CSS = """
    RunSummary { height: 2; }
    """

    def __init__(self, run: RunView, clock: Callable[[], float] = time.time, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.run = run
        self.clock = clock

    def render(self) -> Text:
        run, variables = self.run, self.app.theme_variables
        elapsed = run.duration_s
        if elapsed is None and run.started_at and run.status == RunStatus.RUNNING:
            elapsed = self.clock() - run.started_at
        text = Text.assemble(
            (run.workflow or "?", "bold"),
            f"  {run.run_id}  ",
            (run.status, state_colour(variables, run.status)),
            f"  {duration(elapsed)}   ",
        )
        counts = run.counts()
        for state in SUMMARY_ORDER:
            if counts.get(state):
                mark = STATE_MARKS.get(state, "")
                text.append(f"{mark} {counts[state]} {state}  ", style=state_colour(variables, state))
        if run.error:
            text.append(f"\n{run.error}", style=theme_colour(variables, "error"))
        return text
