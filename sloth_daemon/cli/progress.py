"""How a run shows itself while it goes: plain lines for logs and CI, a live view on a terminal."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from sloth_engine.durations import format_duration
from sloth_engine.executor.results import RunEvent, RunResult
from sloth_engine.spec import RunStatus, TaskStatus, WorkflowSpec

SYMBOL = {
    "task.started": "START",
    "task.completed": "OK",
    "task.failed": "FAIL",
    "task.timeout": "TIMEOUT",
    "task.retrying": "RETRY",
    "task.cancelled": "CANCEL",
    "task.skipped": "SKIP",
    "task.reused": "REUSED",
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
        self._write(f"[{result.workflow}] {recap_line(result)}")

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class LiveProgress:
    """A rich live table of tasks on a terminal: every row's state as its events arrive, running
    times ticking, the agent of each task, and a summary line.

    rich redraws the table ten times a second from `__rich__`, so the view is never older than
    that whatever the events do (a burst of transitions, a task that runs for minutes).
    """

    STYLE = {
        TaskStatus.PENDING: "dim",
        TaskStatus.RUNNING: "yellow",
        TaskStatus.RETRYING: "magenta",
        TaskStatus.SUCCESS: "green",
        TaskStatus.UNCHANGED: "cyan",
        TaskStatus.FAILED: "bold red",
        TaskStatus.TIMED_OUT: "red",
        TaskStatus.SKIPPED: "dim",
        TaskStatus.CANCELLED: "red",
    }
    ACTIVE = (TaskStatus.RUNNING, TaskStatus.RETRYING)

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self._live: Any = None
        self._rows: dict[str, dict[str, Any]] = {}
        self._title = ""
        self._started = time.monotonic()
        self._lock = threading.Lock()

    def start(self, workflow: WorkflowSpec, run_id: str) -> None:
        from rich.live import Live

        self._title = f"{workflow.name} · run {run_id}"
        self._started = time.monotonic()
        self._rows = {
            n: {"status": "pending", "attempt": 0, "since": None, "detail": "", "agent": ""}
            for n in workflow.tasks
        }
        self._live = Live(self, console=self.console, refresh_per_second=10, transient=False)
        self._live.start()

    def __call__(self, event: RunEvent) -> None:
        if event.task is None or event.task not in self._rows or event.kind == "task.log":
            return
        with self._lock:
            row = self._rows[event.task]
            row["status"] = event.status or row["status"]
            row["attempt"] = event.attempt
            agent = event.data.get("agent")
            if agent:
                row["agent"] = str(agent)
            if event.kind == "task.started":
                row["since"] = row["since"] or time.monotonic()
                row.pop("took", None)
                return
            row["detail"] = event.data.get("error") or event.data.get("message") or ""
            if row["since"] is not None and row["status"] not in self.ACTIVE:
                row["took"] = time.monotonic() - row["since"]

    def finish(self, result: RunResult) -> None:
        with self._lock:
            for task in result.tasks:  # the report is the last word on each task
                row = self._rows.get(task.name)
                if row is not None:
                    row.update(status=task.status.value, attempt=task.attempts, took=task.duration_s)
                    row["agent"] = row["agent"] or (task.agent or "")
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
        if result.unrecorded:
            self.console.print(f"[bold yellow]{not_recorded(result)}[/]", markup=True, highlight=False)
            return
        style = "green" if result.status is RunStatus.SUCCESS else "bold red"
        self.console.print(
            f"[{style}]{result.status.value.upper()}[/] {result.workflow} in "
            f"{format_duration(result.duration_s)}" + (f": {result.error}" if result.error else "")
        )
        self.console.print(recap_line(result), highlight=False)

    def __rich__(self) -> Any:
        with self._lock:
            rows = {name: dict(row) for name, row in self._rows.items()}
        return self._render(rows)

    def _render(self, rows: dict[str, dict[str, Any]]) -> Any:
        from rich.table import Table

        now = time.monotonic()
        agents = any(r["agent"] and r["agent"] != "local" for r in rows.values())
        table = Table(title=self._title, caption=summary(rows, now - self._started), expand=False)
        for column in ("task", "status", "try", "time", *(["agent"] if agents else []), "detail"):
            table.add_column(column)
        for name, row in rows.items():
            took = row.get("took")
            if took is None and row["since"] is not None:
                took = now - row["since"]
            cells = [
                name,
                f"[{self.STYLE.get(row['status'], '')}]{row['status']}[/]",
                str(row["attempt"] or ""),
                format_duration(took) if took is not None else "",
                *([row["agent"]] if agents else []),
                str(row["detail"])[:80],
            ]
            table.add_row(*cells)
        return table


def summary(rows: dict[str, dict[str, Any]], elapsed: float) -> str:
    """`3 tasks: 1 running, 1 success, 1 pending · 2.4s`."""
    counts: dict[str, int] = {}
    for row in rows.values():
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    order = (
        "running",
        "retrying",
        "success",
        "unchanged",
        "failed",
        "timed_out",
        "cancelled",
        "skipped",
        "pending",
    )
    parts = [f"{counts[s]} {s}" for s in order if counts.get(s)]
    return f"{len(rows)} tasks: {', '.join(parts)} · {format_duration(elapsed)}"


def recap_line(result: RunResult) -> str:
    """`recap: ok=2 changed=1 failed=0 skipped=0`, as Ansible ends a play."""
    return "recap: " + " ".join(f"{k}={v}" for k, v in result.recap().items())


def not_recorded(result: RunResult) -> str:
    """What a client says of a run whose end the store refused: not FAILED, not what it was."""
    return (
        f"OUTCOME NOT RECORDED: the run ended {result.status.value} but the store could not record "
        f"it ({result.unrecorded}); it is kept on disk and recorded when the store takes it again, "
        "and nothing of it runs again"
    )
