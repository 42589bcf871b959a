"""How a run shows itself while it goes: plain lines for logs and CI, a live view on a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from sloth_engine.durations import format_duration
from sloth_engine.executor.results import RunEvent, RunResult
from sloth_engine.spec import WorkflowSpec

SYMBOL = {
    "task.started": "START",
    "task.completed": "OK",
    "task.failed": "FAIL",
    "task.timeout": "TIMEOUT",
    "task.retrying": "RETRY",
    "task.cancelled": "CANCEL",
    "task.skipped": "SKIP",
}


class PlainProgress:
    """One line per task transition on stderr (or the given stream); output lines when verbose."""

    def __init__(self, stream: TextIO | None = None, show_output: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.show_output = show_output

    def start(self, workflow: WorkflowSpec, run_id: str) -> None:
        self._write(f"[{workflow.name}] run {run_id}: {len(workflow.tasks)} tasks")

    def __call__(self, event: RunEvent) -> None:
        if event.kind == "task.log":
            if self.show_output:
                self._write(f"[{event.workflow}] {event.task} | {event.data.get('line', '')}")
            return
        label = SYMBOL.get(event.kind)
        if label is None:
            if event.kind == "workflow.hook_failed":
                self._write(
                    f"[{event.workflow}] hook {event.data.get('hook')} failed: {event.data.get('error')}"
                )
            return
        text = f"[{event.workflow}] {label:<7} {event.task}"
        if event.attempt > 1 and event.kind == "task.started":
            text += f" (attempt {event.attempt})"
        detail = event.data.get("error") or event.data.get("message") or ""
        if event.kind != "task.started" and detail:
            text += f": {detail}"
        self._write(text)

    def finish(self, result: RunResult) -> None:
        if result.unrecorded:
            self._write(f"[{result.workflow}] {not_recorded(result)}")
            return
        self._write(
            f"[{result.workflow}] {result.status.value.upper()} in {format_duration(result.duration_s)}"
            + (f": {result.error}" if result.error else "")
        )

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class LiveProgress:
    """A rich live table of tasks, redrawn as events arrive (terminal only)."""

    STYLE = {
        "pending": "dim",
        "running": "yellow",
        "retrying": "magenta",
        "success": "green",
        "unchanged": "cyan",
        "failed": "bold red",
        "timed_out": "red",
        "skipped": "dim",
        "cancelled": "red",
    }

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self._live: Any = None
        self._rows: dict[str, dict[str, Any]] = {}
        self._title = ""
        self._last = 0.0

    def start(self, workflow: WorkflowSpec, run_id: str) -> None:
        from rich.live import Live

        self._title = f"{workflow.name} · run {run_id}"
        self._rows = {
            n: {"status": "pending", "attempt": 0, "since": None, "detail": ""}
            for n in workflow.tasks
        }
        self._live = Live(
            self._render(), console=self.console, refresh_per_second=10, transient=False
        )
        self._live.start()

    def __call__(self, event: RunEvent) -> None:
        if event.task is None or event.task not in self._rows or event.kind == "task.log":
            return
        row = self._rows[event.task]
        row["status"] = event.status
        row["attempt"] = event.attempt
        if event.kind == "task.started" and row["since"] is None:
            row["since"] = time.monotonic()
        if event.kind != "task.started":
            row["detail"] = event.data.get("error") or event.data.get("message") or ""
            if row["since"] is not None and event.status not in ("running", "retrying"):
                row["took"] = time.monotonic() - row["since"]
        now = time.monotonic()
        if now - self._last > 0.05 and self._live is not None:
            self._last = now
            self._live.update(self._render())

    def finish(self, result: RunResult) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
        if result.unrecorded:
            self.console.print(f"[bold yellow]{not_recorded(result)}[/]", markup=True, highlight=False)
            return
        style = "green" if result.status.value == "success" else "bold red"
        self.console.print(
            f"[{style}]{result.status.value.upper()}[/] {result.workflow} in "
            f"{format_duration(result.duration_s)}" + (f": {result.error}" if result.error else "")
        )

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=self._title, expand=False, show_lines=False)
        for column in ("task", "status", "try", "time", "detail"):
            table.add_column(column)
        for name, row in self._rows.items():
            took = row.get("took")
            if took is None and row["since"] is not None:
                took = time.monotonic() - row["since"]
            table.add_row(
                name,
                f"[{self.STYLE.get(row['status'], '')}]{row['status']}[/]",
                str(row["attempt"] or ""),
                format_duration(took) if took is not None else "",
                str(row["detail"])[:80],
            )
        return table


def not_recorded(result: RunResult) -> str:
    """What a client says of a run whose end the store refused: not FAILED, not what it was."""
    return (
        f"OUTCOME NOT RECORDED: the run ended {result.status.value} but the store could not record "
        f"it ({result.unrecorded}); it is kept on disk and recorded when the store takes it again, "
        "and nothing of it runs again"
    )
